/* SPDX-License-Identifier: MIT */
/* Local APIC, IOAPIC and 8259 PIC helpers. */
#include "rt.h"

void rt_delay(u64 n)
{
	for (volatile u64 i = 0; i < n; i++)
		cpu_relax();
}

void lapic_enable(void)
{
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, 0x100 | LAPIC_SPURIOUS_VECTOR);
}

bool lapic_send_ipi(u32 dest_apic_id, u32 icr_lo)
{
	lapic_write(LAPIC_ICR_HI, dest_apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	for (u32 i = 0; i < 100000; i++) {
		if (!(lapic_read(LAPIC_ICR_LO) & (1u << 12)))
			return true;
		cpu_relax();
	}
	return false;
}

void rt_start_aps(u64 tramp)
{
	memcpy((void *)(uintptr_t)tramp, rt_tramp_start, (size_t)(rt_tramp_end - rt_tramp_start));
	/* INIT (assert, level), all excluding self; then two SIPIs. */
	if (!lapic_send_ipi(0, 0x000c4500))
		rt_fail("INIT IPI not delivered (ICR busy)");
	rt_delay(20000); /* "10 ms" */
	for (int i = 0; i < 2; i++) {
		if (!lapic_send_ipi(0, 0x000c4600 | (u32)(tramp >> 12)))
			rt_fail("SIPI %d not delivered (ICR busy)", i + 1);
		rt_delay(1000); /* "200 us" */
	}
}

u32 ioapic_read(u32 reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(u32 reg, u32 v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

unsigned ioapic_pins(void) { return ((ioapic_read(1) >> 16) & 0xff) + 1; }

void ioapic_set_redir(unsigned pin, u32 lo, u32 hi)
{
	/* Mask first so a half-written entry never fires. */
	ioapic_write(0x10 + 2 * pin, IOAPIC_MASKED);
	ioapic_write(0x11 + 2 * pin, hi);
	ioapic_write(0x10 + 2 * pin, lo);
}

void ioapic_mask(unsigned pin) { ioapic_write(0x10 + 2 * pin, IOAPIC_MASKED); }

void pic_mask_all(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

void pic_remap(u8 master_base, u8 slave_base)
{
	outb(0x20, 0x11); /* ICW1: edge, cascade, ICW4 needed */
	outb(0xa0, 0x11);
	outb(0x21, master_base); /* ICW2: vector base */
	outb(0xa1, slave_base);
	outb(0x21, 0x04); /* ICW3: slave on IRQ2 */
	outb(0xa1, 0x02);
	outb(0x21, 0x01); /* ICW4: 8086 mode, normal EOI */
	outb(0xa1, 0x01);
	pic_mask_all();
}

void pic_eoi(unsigned irq)
{
	if (irq >= 8)
		outb(0xa0, 0x20);
	outb(0x20, 0x20);
}
