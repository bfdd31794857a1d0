/* SPDX-License-Identifier: MIT */
#include "cpu/emu/chip_irq.h"
#include "cpu/emu/chip_ioapic.h"
#include "cpu/emu/chip_lapic.h"
#include "cpu/emu/chip_pic.h"

/* ISA IRQs go to the PIC and to the IOAPIC pin of the same number, as
 * KVM's default GSI routing does (GSI n -> PIC irq n and IOAPIC pin n). */
void emu_set_irq(void *ctx, unsigned gsi, bool level)
{
	struct emu_vm *vm = ctx;
	pthread_mutex_lock(&vm->chip_lock);
	if (gsi < 16)
		pic_set_irq(vm, gsi, level);
	if (gsi < 24)
		ioapic_set_irq(vm, gsi, level);
	pthread_mutex_unlock(&vm->chip_lock);
}

/*
 * A message-signalled interrupt (PCI MSI/MSI-X), any thread: the write a
 * device makes to [0xfee00000, 0xfef00000) as the LAPICs decode it.
 * Address: destination APIC id in bits 19:12, destination mode (logical)
 * in bit 2 (bit 3, redirection hint, only allows lowest priority).
 * Data: vector in bits 7:0, delivery mode in bits 10:8, trigger mode in
 * bit 15. MSIs are edge-triggered in practice; a level message is taken as
 * an edge, since no EOI can reach a PCI function here.
 */
void emu_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct emu_vm *vm = ctx;
	if ((addr >> 20) != 0xfee)
		return; /* not the interrupt range: dropped, as a bus would */
	uint32_t dest = (uint32_t)(addr >> 12) & 0xff;
	int dest_mode = (int)(addr >> 2) & 1;
	int dmode = (int)(data >> 8) & 7;
	int vec = (int)(data & 0xff);
	switch (dmode) {
	case 0: /* fixed */
	case 1: /* lowest priority */
	case 4: /* NMI */
	case 5: /* INIT */ break;
	default: return; /* SMI, ExtINT, reserved: nothing to deliver */
	}
	apic_deliver(vm, NULL, dest, dest_mode, dmode, vec, false, 0);
}
