/* SPDX-License-Identifier: MIT */
/*
 * x2APIC: the local APIC's modes in IA32_APIC_BASE (EN, EXTD) with the
 * transitions the SDM allows (vol. 3A 10.12.5), and its MSR interface
 * (MSRs 0x800-0x8ff, register offset >> 4): 32-bit APIC ID, LDR derived
 * from it, the ICR as one 64-bit MSR, SELF IPI; read-only registers
 * written, write-only ones read and reserved ones #GP. The registers
 * themselves are chip_lapic.c's; in x2APIC mode the xAPIC page at
 * 0xfee00000 is not decoded (mmu.c).
 */
#include "cpu/emu/chip_lapic.h"

#define BASE_RESERVED (0xffULL | 0x200ULL | ~0xffffffffffULL) /* 40 physical bits */

bool lapic_set_base(struct emu_cpu *c, uint64_t v)
{
	struct lapic *a = &c->apic;
	uint64_t reserved = BASE_RESERVED;
	if (!cpu_has(&c->vm->features, CPUF_X2APIC))
		reserved |= APIC_BASE_EXTD;
	if (v & reserved)
		return false;
	uint64_t old = a->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD);
	uint64_t nw = v & (APIC_BASE_EN | APIC_BASE_EXTD);
	if (nw == APIC_BASE_EXTD) /* EXTD without EN: the invalid state */
		return false;
	if (old == (APIC_BASE_EN | APIC_BASE_EXTD) && nw == APIC_BASE_EN)
		return false; /* x2APIC -> xAPIC: only through disabled */
	if (old == 0 && nw == (APIC_BASE_EN | APIC_BASE_EXTD))
		return false; /* disabled -> x2APIC: only through xAPIC */
	/* Relocation is not modelled: the base stays at 0xfee00000; BSP is
	 * the vCPU's own. */
	a->apic_base = (a->apic_base & ~(APIC_BASE_EN | APIC_BASE_EXTD)) | nw;
	if (nw != old) {
		if (nw & APIC_BASE_EXTD) {
			lapic_derive_ldr(c);
			a->icr_hi = 0;
		} else if (old & APIC_BASE_EXTD) {
			/* Leaving x2APIC mode: the xAPIC's logical registers
			 * start from their reset values. */
			a->ldr = 0;
			a->dfr = 0xffffffff;
			a->icr_hi = 0;
		}
	}
	emu_poke(c);
	return true;
}

/* Register offsets (xAPIC page) by MSR. */
enum {
	X_ID = 0x802,
	X_VER = 0x803,
	X_TPR = 0x808,
	X_PPR = 0x80a,
	X_EOI = 0x80b,
	X_LDR = 0x80d,
	X_SVR = 0x80f,
	X_ISR0 = 0x810,
	X_TMR0 = 0x818,
	X_IRR0 = 0x820,
	X_ESR = 0x828,
	X_ICR = 0x830,
	X_LVT_TIMER = 0x832,
	X_LVT_ERROR = 0x837,
	X_INIT_COUNT = 0x838,
	X_CUR_COUNT = 0x839,
	X_DIV = 0x83e,
	X_SELF_IPI = 0x83f,
};

static bool in_x2apic_mode(const struct emu_cpu *c)
{
	return (c->apic.apic_base & (APIC_BASE_EN | APIC_BASE_EXTD)) ==
	       (APIC_BASE_EN | APIC_BASE_EXTD);
}

/* Registers that exist in x2APIC mode and may be read (the ICR is
 * handled apart). */
static bool readable(uint32_t msr)
{
	switch (msr) {
	case X_ID:
	case X_VER:
	case X_TPR:
	case X_PPR:
	case X_LDR:
	case X_SVR:
	case X_ESR:
	case X_INIT_COUNT:
	case X_CUR_COUNT:
	case X_DIV: return true;
	}
	return (msr >= X_ISR0 && msr < X_IRR0 + 8) || (msr >= X_LVT_TIMER && msr <= X_LVT_ERROR);
}

bool x2apic_rdmsr(struct emu_cpu *c, uint32_t msr, uint64_t *v)
{
	if (!in_x2apic_mode(c))
		return false;
	if (msr == X_ICR) {
		*v = ((uint64_t)c->apic.icr_hi << 32) | c->apic.icr_lo;
		return true;
	}
	if (!readable(msr))
		return false; /* reserved, EOI, SELF IPI: #GP */
	if (msr == X_ID)
		*v = c->apic.id;
	else
		*v = lapic_read(c, (msr - 0x800) << 4);
	return true;
}

bool x2apic_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v)
{
	if (!in_x2apic_mode(c))
		return false;
	if (msr == X_ICR) {
		/* One write sends: destination in 63:32, no delivery status. */
		c->apic.icr_lo = (uint32_t)v & 0x000ccfffu;
		c->apic.icr_hi = (uint32_t)(v >> 32);
		lapic_send_icr(c, c->apic.icr_lo, c->apic.icr_hi);
		return true;
	}
	if (v >> 32)
		return false; /* bits 63:32 are reserved in every other register */
	uint32_t lo = (uint32_t)v;
	switch (msr) {
	case X_TPR:
	case X_SVR:
	case X_INIT_COUNT:
	case X_DIV: break;
	case X_EOI:
	case X_ESR:
		if (lo)
			return false; /* only 0 may be written */
		break;
	case X_SELF_IPI:
		if (lo & ~0xffu)
			return false;
		lapic_accept(c, (int)lo, false);
		return true;
	default:
		if (msr >= X_LVT_TIMER && msr <= X_LVT_ERROR)
			break;
		return false; /* read-only (ID, VER, PPR, LDR, ISR/TMR/IRR, count) or reserved */
	}
	lapic_write(c, (msr - 0x800) << 4, lo);
	return true;
}
