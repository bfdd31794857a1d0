/* SPDX-License-Identifier: MIT */
/*
 * System architecture: reset and boot state, operating modes, segment
 * loads, control registers, MSRs, CPUID, exception/interrupt delivery
 * through the IVT/IDT (real, protected and long mode), IRET, far
 * transfers and SYSCALL/SYSRET.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cpu/emu/fault.h"
#include "cpu/emu/flags.h"
#include "cpu/emu/mmu.h"
#include "cpu/emu/sys.h"

void emu_update_mode(struct emu_cpu *c)
{
	if (!(c->cr0 & CR0_PE)) {
		c->cmode = 2;
		c->cpl = 0;
	} else if ((c->efer & EFER_LMA) && (c->seg[SEG_CS].attr & SA_L)) {
		c->cmode = 8;
	} else {
		c->cmode = (c->seg[SEG_CS].attr & SA_DB) ? 4 : 2;
	}
	c->paging = (c->cr0 & CR0_PG) && (c->cr0 & CR0_PE);
	c->fetch_vpn = 0;
}

static void set_seg(struct seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint16_t attr)
{
	s->sel = sel;
	s->base = base;
	s->limit = limit;
	s->attr = attr;
}

void emu_reset(struct emu_cpu *c)
{
	memset(c->r, 0, sizeof(c->r));
	c->r[R_DX] = 0x600; /* family 6 */
	c->rip = 0xfff0;
	c->flags = 2;
	c->lf_op = LF_NONE;
	for (int i = 0; i < 6; i++)
		set_seg(&c->seg[i], 0, 0, 0xffff, 0x93);
	set_seg(&c->seg[SEG_CS], 0xf000, 0xffff0000, 0xffff, 0x9b);
	set_seg(&c->ldtr, 0, 0, 0xffff, 0x82);
	set_seg(&c->tr, 0, 0, 0xffff, 0x8b);
	c->gdtr.base = 0;
	c->gdtr.limit = 0xffff;
	c->idtr.base = 0;
	c->idtr.limit = 0x3ff;
	c->cr0 = 0x60000010;
	c->cr2 = c->cr3 = c->cr4 = 0;
	c->efer = 0;
	memset(c->dr, 0, sizeof(c->dr));
	c->dr[6] = 0xffff0ff0;
	c->dr[7] = 0x400;
	c->star = c->lstar = c->cstar = c->sfmask = c->kernel_gs_base = 0;
	c->pat = 0x0007040600070406ULL;
	c->misc_enable = 1; /* fast strings */
	c->halted = false;
	c->irq_shadow = 0;
	emu_fpu_reset(c);
	tlb_flush(c);
	emu_update_mode(c);
}

void emu_load_boot_state(struct emu_cpu *c, const struct boot_cpu_state *b)
{
	switch (b->mode) {
	case BOOT_MODE_REAL16:
		for (int i = 0; i < 6; i++)
			set_seg(&c->seg[i], 0, 0, 0xffff, 0x93);
		set_seg(&c->seg[SEG_CS], b->real_cs, (uint64_t)b->real_cs << 4, 0xffff, 0x9b);
		break;
	case BOOT_MODE_PROT32:
		c->cr0 = CR0_PE | CR0_ET;
		for (int i = 0; i < 6; i++)
			set_seg(&c->seg[i], BOOT_SEL_DATA, 0, 0xffffffff, 0xc093);
		set_seg(&c->seg[SEG_CS], BOOT_SEL_CODE32, 0, 0xffffffff, 0xc09b);
		c->gdtr.base = b->gdt_base;
		c->gdtr.limit = b->gdt_limit;
		break;
	case BOOT_MODE_LONG64:
		c->cr0 = CR0_PE | CR0_ET | CR0_PG;
		c->cr4 = CR4_PAE;
		c->efer = EFER_LME | EFER_LMA;
		c->cr3 = b->cr3;
		for (int i = 0; i < 6; i++)
			set_seg(&c->seg[i], BOOT_SEL_DATA, 0, 0xffffffff, 0xc093);
		set_seg(&c->seg[SEG_CS], BOOT_SEL_CODE64, 0, 0xffffffff, 0xa09b);
		c->gdtr.base = b->gdt_base;
		c->gdtr.limit = b->gdt_limit;
		break;
	}
	c->rip = b->rip;
	c->r[R_SP] = b->rsp;
	c->r[R_AX] = b->rax;
	c->r[R_BX] = b->rbx;
	c->r[R_SI] = b->rsi;
	c->r[R_DX] = 0;
	tlb_flush(c);
	emu_update_mode(c);
}

/* ---- Segments --------------------------------------------------------------- */

struct desc {
	uint64_t raw;
	uint64_t base;
	uint32_t limit;
	uint16_t attr;
	uint64_t lin; /* where it lives */
};

static void read_desc(struct emu_cpu *c, uint16_t sel, struct desc *d, int exc)
{
	const struct seg *ldt = &c->ldtr;
	uint64_t tbase = (sel & 4) ? ldt->base : c->gdtr.base;
	uint32_t tlimit = (sel & 4) ? ldt->limit : c->gdtr.limit;
	uint32_t idx = sel & ~7u;
	if (idx + 7 > tlimit)
		emu_raise(c, exc, sel & ~3u, true);
	d->lin = tbase + idx;
	uint64_t raw = lin_read_sys(c, d->lin, 8);
	d->raw = raw;
	d->limit = (raw & 0xffff) | ((raw >> 32) & 0xf0000);
	d->base = ((raw >> 16) & 0xffffff) | (((raw >> 56) & 0xff) << 24);
	d->attr = (raw >> 40) & 0xf0ff;
	if (d->attr & SA_G)
		d->limit = (d->limit << 12) | 0xfff;
}

bool emu_peek_desc(struct emu_cpu *c, uint16_t sel, uint64_t *raw)
{
	if (!(c->cr0 & CR0_PE) || !(sel & ~3u))
		return false;
	const struct seg *ldt = &c->ldtr;
	uint64_t tbase = (sel & 4) ? ldt->base : c->gdtr.base;
	uint32_t tlimit = (sel & 4) ? ldt->limit : c->gdtr.limit;
	if ((sel & ~7u) + 7 > tlimit)
		return false;
	*raw = lin_read_sys(c, tbase + (sel & ~7u), 8);
	return true;
}

static void mark_accessed(struct emu_cpu *c, struct desc *d)
{
	if (!(d->raw & (1ULL << 40)))
		lin_write_sys(c, d->lin, 8, d->raw | (1ULL << 40));
	d->attr |= 1;
}

void emu_load_seg(struct emu_cpu *c, int s, uint16_t sel)
{
	struct seg *sg = &c->seg[s];
	if (!(c->cr0 & CR0_PE)) {
		sg->sel = sel;
		sg->base = (uint64_t)sel << 4;
		if (s == SEG_CS)
			emu_update_mode(c);
		return;
	}
	if (!(sel & ~3u)) {
		if (s == SEG_CS || (s == SEG_SS && (c->cmode != 8 || c->cpl == 3)))
			emu_raise_gp(c, 0);
		sg->sel = sel;
		sg->base = 0;
		sg->limit = 0;
		sg->attr = s == SEG_SS ? (sg->attr & ~0x60u) | (uint16_t)((sel & 3) << 5) : 0;
		return;
	}
	struct desc d;
	read_desc(c, sel, &d, EXC_GP);
	unsigned type = d.attr & 0xf;
	if (!(d.attr & 0x10))
		emu_raise_gp(c, sel & ~3u);
	if (s == SEG_SS) {
		/* writable data segment */
		if ((type & 0xa) != 0x2)
			emu_raise_gp(c, sel & ~3u);
	} else if (s != SEG_CS) {
		/* data, or readable code */
		if ((type & 0xa) == 0x8)
			emu_raise_gp(c, sel & ~3u);
	}
	if (!(d.attr & SA_P))
		emu_raise(c, s == SEG_SS ? EXC_SS : EXC_NP, sel & ~3u, true);
	mark_accessed(c, &d);
	set_seg(sg, sel, d.base, d.limit, d.attr);
	if (s == SEG_CS)
		emu_update_mode(c);
}

/* Loads CS for a control transfer at privilege cpl (already checked). */
static void load_cs(struct emu_cpu *c, uint16_t sel, const struct desc *d, int cpl)
{
	set_seg(&c->seg[SEG_CS], (sel & ~3u) | (uint16_t)cpl, d->base, d->limit, d->attr);
	c->cpl = cpl;
	emu_update_mode(c);
}

static void code_desc(struct emu_cpu *c, uint16_t sel, struct desc *d, uint32_t err)
{
	if (!(sel & ~3u))
		emu_raise_gp(c, err);
	read_desc(c, sel, d, EXC_GP);
	if ((d->attr & 0x18) != 0x18) /* S=1 and code */
		emu_raise_gp(c, sel & ~3u);
	if (!(d->attr & SA_P))
		emu_raise(c, EXC_NP, sel & ~3u, true);
}

/* ---- Control registers, MSRs ------------------------------------------------- */

void emu_write_cr(struct emu_cpu *c, int n, uint64_t v)
{
	switch (n) {
	case 0:
		if (c->cmode == 8 || (v >> 32))
			v &= 0xffffffffULL;
		if ((v & CR0_PG) && !(v & CR0_PE))
			emu_raise_gp(c, 0);
		if ((v & CR0_PG) && !(c->cr0 & CR0_PG) && (c->efer & EFER_LME)) {
			if (!(c->cr4 & CR4_PAE))
				emu_raise_gp(c, 0);
			c->efer |= EFER_LMA;
		}
		if (!(v & CR0_PG) && (c->cr0 & CR0_PG)) {
			if (c->cmode == 8)
				emu_raise_gp(c, 0);
			c->efer &= ~(uint64_t)EFER_LMA;
		}
		c->cr0 = v | CR0_ET;
		tlb_flush(c);
		emu_update_mode(c);
		return;
	case 2: c->cr2 = v; return;
	case 3:
		c->cr3 = v;
		tlb_flush(c);
		return;
	case 4:
		if ((c->efer & EFER_LMA) && !(v & CR4_PAE))
			emu_raise_gp(c, 0);
		/* Only the bits we model: VME/PVI/TSD/DE/PSE/PAE/MCE/PGE/PCE/OSFXSR/OSXMMEXCPT */
		if (v & ~0x7ffULL)
			emu_raise_gp(c, 0);
		c->cr4 = v;
		tlb_flush(c);
		return;
	case 8:
		if (v & ~0xfULL)
			emu_raise_gp(c, 0);
		c->apic.tpr = (uint32_t)(v << 4);
		emu_poke(c);
		return;
	default: emu_raise(c, EXC_UD, 0, false);
	}
}

#define MSR_TSC		    0x10
#define MSR_APIC_BASE	    0x1b
#define MSR_FEATURE_CONTROL 0x3a
#define MSR_TSC_ADJUST	    0x3b
#define MSR_TSC_AUX	    0xc0000103
#define MSR_UCODE_REV	    0x8b
#define MSR_SYSENTER_CS	    0x174
#define MSR_SYSENTER_ESP    0x175
#define MSR_SYSENTER_EIP    0x176
#define MSR_MISC_ENABLE	    0x1a0
#define MSR_PAT		    0x277
#define MSR_EFER	    0xc0000080
#define MSR_STAR	    0xc0000081
#define MSR_LSTAR	    0xc0000082
#define MSR_CSTAR	    0xc0000083
#define MSR_SFMASK	    0xc0000084
#define MSR_FS_BASE	    0xc0000100
#define MSR_GS_BASE	    0xc0000101
#define MSR_KERNEL_GS_BASE  0xc0000102

static bool canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v;
}

uint64_t emu_rdmsr(struct emu_cpu *c, uint32_t msr, bool *ok)
{
	*ok = true;
	switch (msr) {
	case MSR_TSC: return __builtin_ia32_rdtsc() + c->tsc_offset;
	case MSR_APIC_BASE: return c->apic.apic_base;
	case MSR_FEATURE_CONTROL: return 1; /* locked, nothing enabled */
	case MSR_TSC_ADJUST: return c->tsc_adjust;
	case MSR_TSC_AUX: return c->tsc_aux;
	case MSR_UCODE_REV: return 0;
	case MSR_SYSENTER_CS: return c->sysenter_cs;
	case MSR_SYSENTER_ESP: return c->sysenter_esp;
	case MSR_SYSENTER_EIP: return c->sysenter_eip;
	case MSR_MISC_ENABLE: return c->misc_enable;
	case MSR_PAT: return c->pat;
	case MSR_EFER: return c->efer;
	case MSR_STAR: return c->star;
	case MSR_LSTAR: return c->lstar;
	case MSR_CSTAR: return c->cstar;
	case MSR_SFMASK: return c->sfmask;
	case MSR_FS_BASE: return c->seg[SEG_FS].base;
	case MSR_GS_BASE: return c->seg[SEG_GS].base;
	case MSR_KERNEL_GS_BASE: return c->kernel_gs_base;
	}
	*ok = false;
	return 0;
}

bool emu_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v)
{
	switch (msr) {
	case MSR_TSC: {
		/* As on hardware, TSC_ADJUST moves by what the write moved the
		 * TSC, so the guest can tell its TSC was written. */
		uint64_t off = v - __builtin_ia32_rdtsc();
		c->tsc_adjust += off - c->tsc_offset;
		c->tsc_offset = off;
		return true;
	}
	case MSR_TSC_AUX:
		if (v >> 32)
			return false; /* reserved bits: #GP */
		c->tsc_aux = (uint32_t)v;
		return true;
	case MSR_TSC_ADJUST:
		c->tsc_offset += v - c->tsc_adjust;
		c->tsc_adjust = v;
		return true;
	case MSR_APIC_BASE:
		/* Relocation is not modelled: the base stays at 0xfee00000. */
		c->apic.apic_base = (c->apic.apic_base & ~0x800ULL) | (v & 0x800);
		emu_poke(c);
		return true;
	case MSR_UCODE_REV: return true;
	case MSR_SYSENTER_CS: c->sysenter_cs = v; return true;
	case MSR_SYSENTER_ESP: c->sysenter_esp = v; return true;
	case MSR_SYSENTER_EIP: c->sysenter_eip = v; return true;
	case MSR_MISC_ENABLE: c->misc_enable = v; return true;
	case MSR_PAT: c->pat = v; return true;
	case MSR_EFER: {
		if (v & ~(uint64_t)(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
			return false;
		if (((v ^ c->efer) & EFER_LME) && (c->cr0 & CR0_PG))
			return false;
		uint64_t nv = (v & ~(uint64_t)EFER_LMA) | (c->efer & EFER_LMA);
		if ((nv ^ c->efer) & EFER_NXE)
			tlb_flush(c);
		c->efer = nv;
		return true;
	}
	case MSR_STAR: c->star = v; return true;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
		if (!canonical(v))
			return false;
		if (msr == MSR_LSTAR)
			c->lstar = v;
		else if (msr == MSR_CSTAR)
			c->cstar = v;
		else if (msr == MSR_FS_BASE)
			c->seg[SEG_FS].base = v;
		else if (msr == MSR_GS_BASE)
			c->seg[SEG_GS].base = v;
		else
			c->kernel_gs_base = v;
		return true;
	case MSR_SFMASK: c->sfmask = (uint32_t)v; return true;
	}
	return false;
}

/* One (CLOCK_MONOTONIC, TSC) pair: the TSC read halfway through the
 * tightest of a few clock reads, so a preemption does not skew it. */
static void clock_pair(uint64_t *ns, uint64_t *tsc)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 8; i++) {
		uint64_t t0 = __builtin_ia32_rdtsc();
		uint64_t n = emu_now_ns();
		uint64_t t1 = __builtin_ia32_rdtsc();
		if (t1 - t0 < best) {
			best = t1 - t0;
			*ns = n;
			*tsc = t0 + (t1 - t0) / 2;
		}
	}
}

/* The host TSC frequency (the guest reads the host TSC), measured once
 * against CLOCK_MONOTONIC over 10 ms (a few ppm). */
static uint64_t tsc_hz(void)
{
	static _Atomic uint64_t cached;
	uint64_t hz = atomic_load(&cached);
	if (hz)
		return hz;
	uint64_t n0 = 0, t0 = 0, n1 = 0, t1 = 0;
	clock_pair(&n0, &t0);
	struct timespec ts = {0, 10000000};
	nanosleep(&ts, NULL);
	clock_pair(&n1, &t1);
	hz = n1 > n0 ? (uint64_t)((unsigned __int128)(t1 - t0) * 1000000000ULL / (n1 - n0)) : 0;
	hz = (hz + 500) / 1000 * 1000; /* whole kHz */
	if (!hz)
		hz = 1000000000ULL;
	atomic_store(&cached, hz);
	return hz;
}

void emu_cpuid_init(void)
{
	(void)tsc_hz();
}

static void cpuid_str(uint32_t *out, const char *s)
{
	memcpy(out, s, 16);
}

void emu_cpuid(struct emu_cpu *c)
{
	uint32_t leaf = (uint32_t)c->r[R_AX];
	uint32_t a = 0, b = 0, cc = 0, d = 0;
	switch (leaf) {
	case 0:
		a = 0x16;
		b = 0x756e6547; /* "GenuineIntel" */
		d = 0x49656e69;
		cc = 0x6c65746e;
		break;
	case 1:
		a = 0x00000663; /* family 6, model 6, stepping 3 */
		b = (c->apic.id << 24) | ((uint32_t)c->vm->ncpus << 16) | (8 << 8);
		cc = 1u << 13; /* CX16: CMPXCHG16B */
		/* FPU, PSE, TSC, MSR, PAE, CX8, APIC, PGE, CMOV, CLFSH, MMX, FXSR, SSE, SSE2 */
		d = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) |
		    (1u << 13) | (1u << 15) | (1u << 19) | (1u << 23) | (1u << 24) | (1u << 25) |
		    (1u << 26);
		if (c->apic.apic_base & 0x800)
			d |= 1u << 9;
		if (c->vm->ncpus > 1)
			d |= 1u << 28; /* HTT: EBX[23:16] is meaningful */
		break;
	case 0x15: {
		/* TSC = crystal * EBX / EAX. The crystal is the LAPIC timer's
		 * 1 GHz clock, so Linux derives both from here instead of
		 * calibrating against the PIT (timing-sensitive on an
		 * interpreter). Linux multiplies crystal kHz by EBX in 32 bits,
		 * so EBX stays below 4295: pick the closest such ratio. */
		uint64_t khz = tsc_hz() / 1000;
		double r = (double)khz / 1e6, best = 1e9;
		for (uint32_t den = 1; den < 4295; den++) {
			double num = r * den + 0.5;
			if (num >= 4295 || num < 1)
				break;
			double err = (double)(uint32_t)num / den - r;
			err = err < 0 ? -err : err;
			if (err < best) {
				best = err;
				a = den;
				b = (uint32_t)num;
			}
		}
		cc = 1000000000u;
		break;
	}
	case 7:
		/* Subleaf 0: TSC_ADJUST. With the invariant TSC below, Linux
		 * trusts the TSC without a clocksource watchdog (it has no
		 * HPET or PM timer here to watch it with, only jiffies). */
		if ((uint32_t)c->r[R_CX] == 0)
			b = 1u << 1;
		break;
	case 0xb: {
		/* Extended topology, as the KVM backend reports it: one thread
		 * per core, ncpus cores in one package (not SMT siblings). */
		uint32_t sub = (uint32_t)c->r[R_CX] & 0xff, n = (uint32_t)c->vm->ncpus, shift = 0;
		while ((1u << shift) < n)
			shift++;
		if (sub == 0) {
			b = 1;
			cc = 1u << 8;
		} else if (sub == 1) {
			a = shift;
			b = n;
			cc = (2u << 8) | 1;
		} else {
			cc = sub;
		}
		d = c->apic.id;
		break;
	}
	case 0x16:
		/* Base and maximum frequency (MHz), and the bus (LAPIC timer)
		 * clock: Linux takes cpu_khz from here instead of racing the
		 * PIT in quick_pit_calibrate. */
		a = b = (uint32_t)((tsc_hz() + 500000) / 1000000);
		cc = 1000;
		break;
	case 0x80000000: a = 0x80000008; break;
	case 0x80000007: d = 1u << 8; break; /* invariant TSC */
	case 0x80000001:
		cc = 1; /* LAHF/SAHF in 64-bit mode */
		/* SYSCALL NX 1G-pages RDTSCP LM */
		d = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29);
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004: {
		static const char brand[48] = "vmon software x86-64 CPU";
		uint32_t w[4];
		cpuid_str(w, brand + 16 * (leaf - 0x80000002));
		a = w[0];
		b = w[1];
		cc = w[2];
		d = w[3];
		break;
	}
	case 0x80000008:
		a = 0x3028; /* 40 physical, 48 linear address bits */
		break;
	default: break;
	}
	c->r[R_AX] = a;
	c->r[R_BX] = b;
	c->r[R_CX] = cc;
	c->r[R_DX] = d;
}

static void set_flags_priv(struct emu_cpu *c, uint64_t v, int osize, int old_cpl)
{
	uint64_t mask = F_ARITH | F_TF | F_DF | F_NT | F_RF | F_AC | F_ID;
	if (old_cpl == 0)
		mask |= F_IOPL;
	if (old_cpl <= (int)((c->flags & F_IOPL) >> 12))
		mask |= F_IF;
	if (osize == 2)
		mask &= 0xffff;
	uint64_t f = emu_flags(c);
	c->flags = (f & ~mask) | (v & mask) | 2;
	emu_poke(c);
}

/* ---- Exception and interrupt delivery ----------------------------------------- */

static void push_sys(struct emu_cpu *c, uint64_t *sp, unsigned size, uint64_t v, uint64_t ss_base,
		     uint64_t spmask)
{
	*sp = (*sp - size) & spmask;
	lin_write_sys(c, ss_base + *sp, size, v);
}

void emu_deliver(struct emu_cpu *c, int vec, uint32_t err, bool has_err, bool soft,
		 uint64_t ret_rip)
{
	uint64_t fl = emu_flags(c);
	uint32_t ext = soft ? 0 : 1;
	if (!(c->cr0 & CR0_PE)) {
		if ((uint32_t)vec * 4 + 3 > c->idtr.limit)
			emu_raise_gp(c, 0);
		uint32_t ent = (uint32_t)lin_read_sys(c, c->idtr.base + (uint32_t)vec * 4, 4);
		uint64_t sp = c->r[R_SP] & 0xffff;
		uint64_t ssb = c->seg[SEG_SS].base;
		push_sys(c, &sp, 2, fl, ssb, 0xffff);
		push_sys(c, &sp, 2, c->seg[SEG_CS].sel, ssb, 0xffff);
		push_sys(c, &sp, 2, ret_rip, ssb, 0xffff);
		c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		c->flags &= ~(uint64_t)(F_IF | F_TF | F_AC);
		emu_load_seg(c, SEG_CS, (uint16_t)(ent >> 16));
		c->rip = ent & 0xffff;
		return;
	}
	bool lm = c->efer & EFER_LMA;
	unsigned gsz = lm ? 16 : 8;
	if ((uint32_t)vec * gsz + gsz - 1 > c->idtr.limit)
		emu_raise_gp(c, (uint32_t)vec * 8 + 2 + ext);
	uint64_t lo = lin_read_sys(c, c->idtr.base + (uint64_t)vec * gsz, 8);
	uint64_t hi = lm ? lin_read_sys(c, c->idtr.base + (uint64_t)vec * gsz + 8, 8) : 0;
	unsigned type = (lo >> 40) & 0xf;
	unsigned gdpl = (lo >> 45) & 3;
	bool gate32 = type == 0xe || type == 0xf;
	bool gate16 = !lm && (type == 0x6 || type == 0x7);
	if (!gate32 && !gate16)
		emu_raise_gp(c, (uint32_t)vec * 8 + 2 + ext);
	if (soft && (int)gdpl < c->cpl)
		emu_raise_gp(c, (uint32_t)vec * 8 + 2);
	if (!((lo >> 47) & 1))
		emu_raise(c, EXC_NP, (uint32_t)vec * 8 + 2 + ext, true);
	uint16_t sel = (lo >> 16) & 0xffff;
	uint64_t off = (lo & 0xffff) | (((lo >> 48) & 0xffff) << 16);
	if (lm)
		off |= (hi & 0xffffffffULL) << 32;
	bool trap = (type & 1);
	struct desc cd;
	code_desc(c, sel, &cd, ext);
	int dpl = (cd.attr >> 5) & 3;
	if (cd.attr & 0x4) /* conforming */
		dpl = c->cpl;
	if (dpl > c->cpl)
		emu_raise_gp(c, (sel & ~3u) + ext);
	uint16_t old_cs = c->seg[SEG_CS].sel, old_ss = c->seg[SEG_SS].sel;
	uint64_t old_sp = c->r[R_SP];

	if (lm) {
		if (!(cd.attr & SA_L))
			emu_raise_gp(c, (sel & ~3u) + ext);
		unsigned ist = (lo >> 32) & 7;
		uint64_t sp;
		if (ist)
			sp = lin_read_sys(c, c->tr.base + 0x24 + (ist - 1) * 8, 8);
		else if (dpl < c->cpl)
			sp = lin_read_sys(c, c->tr.base + 4 + (uint64_t)dpl * 8, 8);
		else
			sp = old_sp;
		sp &= ~0xfULL;
		push_sys(c, &sp, 8, old_ss, 0, ~0ULL);
		push_sys(c, &sp, 8, old_sp, 0, ~0ULL);
		push_sys(c, &sp, 8, fl, 0, ~0ULL);
		push_sys(c, &sp, 8, old_cs, 0, ~0ULL);
		push_sys(c, &sp, 8, ret_rip, 0, ~0ULL);
		if (has_err)
			push_sys(c, &sp, 8, err, 0, ~0ULL);
		if (dpl < c->cpl) {
			c->seg[SEG_SS].sel = (uint16_t)dpl;
			c->seg[SEG_SS].base = 0;
			c->seg[SEG_SS].attr = (uint16_t)(0x93 | (dpl << 5) | SA_DB | SA_G);
			c->seg[SEG_SS].limit = 0xffffffff;
		}
		c->r[R_SP] = sp;
	} else {
		unsigned psz = gate32 ? 4 : 2;
		uint64_t sp, ssb, spmask;
		bool outer = dpl < c->cpl;
		struct seg newss = c->seg[SEG_SS];
		if (outer) {
			uint64_t esp0 = lin_read_sys(c, c->tr.base + 4 + (uint64_t)dpl * 8, 4);
			uint16_t ss0 =
				(uint16_t)lin_read_sys(c, c->tr.base + 8 + (uint64_t)dpl * 8, 2);
			struct desc sd;
			if (!(ss0 & ~3u))
				emu_raise(c, EXC_TS, ss0 & ~3u, true);
			read_desc(c, ss0, &sd, EXC_TS);
			set_seg(&newss, ss0, sd.base, sd.limit, sd.attr);
			sp = esp0;
		} else {
			sp = old_sp;
		}
		spmask = (newss.attr & SA_DB) ? 0xffffffffULL : 0xffffULL;
		ssb = newss.base;
		sp &= spmask;
		if (outer) {
			push_sys(c, &sp, psz, old_ss, ssb, spmask);
			push_sys(c, &sp, psz, old_sp, ssb, spmask);
		}
		push_sys(c, &sp, psz, fl, ssb, spmask);
		push_sys(c, &sp, psz, old_cs, ssb, spmask);
		push_sys(c, &sp, psz, ret_rip, ssb, spmask);
		if (has_err)
			push_sys(c, &sp, psz, err, ssb, spmask);
		c->seg[SEG_SS] = newss;
		if (spmask == 0xffff)
			c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		else
			c->r[R_SP] = sp;
		if (!gate32)
			off &= 0xffff;
	}
	load_cs(c, sel, &cd, dpl);
	c->flags &= ~(uint64_t)(F_TF | F_NT | F_RF | F_VM);
	if (!trap)
		c->flags &= ~(uint64_t)F_IF;
	c->rip = off;
	c->halted = false;
}

static uint64_t pop_sys(struct emu_cpu *c, uint64_t *sp, unsigned size, uint64_t ss_base,
			uint64_t spmask)
{
	uint64_t v = lin_read(c, ss_base + (*sp & spmask), size);
	*sp = (*sp + size) & spmask;
	return v;
}

void emu_iret(struct emu_cpu *c, int osize)
{
	int old_cpl = c->cpl;
	if (!(c->cr0 & CR0_PE)) {
		uint64_t sp = c->r[R_SP] & 0xffff;
		uint64_t ssb = c->seg[SEG_SS].base;
		unsigned sz = osize == 4 ? 4 : 2;
		uint64_t ip = pop_sys(c, &sp, sz, ssb, 0xffff);
		uint16_t cs = (uint16_t)pop_sys(c, &sp, sz, ssb, 0xffff);
		uint64_t fl = pop_sys(c, &sp, sz, ssb, 0xffff);
		c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		emu_load_seg(c, SEG_CS, cs);
		c->next_rip = ip;
		set_flags_priv(c, fl, sz, 0);
		return;
	}
	if (!(c->efer & EFER_LMA) && (c->flags & F_NT))
		emu_raise_gp(c, 0); /* task return: not modelled */
	unsigned ssz = c->cmode == 8 ? 8 : (c->seg[SEG_SS].attr & SA_DB) ? 4 : 2;
	uint64_t spmask = ssz == 8 ? ~0ULL : ssz == 4 ? 0xffffffffULL : 0xffffULL;
	uint64_t ssb = c->cmode == 8 ? 0 : c->seg[SEG_SS].base;
	uint64_t sp = c->r[R_SP] & spmask;
	unsigned sz = (unsigned)osize;
	uint64_t ip = pop_sys(c, &sp, sz, ssb, spmask);
	uint16_t cs = (uint16_t)pop_sys(c, &sp, sz, ssb, spmask);
	uint64_t fl = pop_sys(c, &sp, sz, ssb, spmask);
	int new_cpl = cs & 3;
	if (new_cpl < c->cpl)
		emu_raise_gp(c, cs & ~3u);
	struct desc cd;
	code_desc(c, cs, &cd, cs & ~3u);
	bool pop_stack = c->cmode == 8 || new_cpl > c->cpl;
	uint64_t nsp = 0;
	uint16_t ss = 0;
	if (pop_stack) {
		nsp = pop_sys(c, &sp, sz, ssb, spmask);
		ss = (uint16_t)pop_sys(c, &sp, sz, ssb, spmask);
	}
	load_cs(c, cs, &cd, new_cpl);
	set_flags_priv(c, fl, sz, old_cpl);
	if (pop_stack) {
		if (!(ss & ~3u) && (c->cmode == 8) && new_cpl < 3) {
			c->seg[SEG_SS].sel = ss;
			c->seg[SEG_SS].base = 0;
		} else {
			emu_load_seg(c, SEG_SS, ss);
		}
		c->r[R_SP] = sz == 8   ? nsp
			     : sz == 4 ? (uint32_t)nsp
				       : (c->r[R_SP] & ~0xffffULL) | (nsp & 0xffff);
	} else {
		if (spmask == 0xffff)
			c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		else
			c->r[R_SP] = sp;
	}
	c->next_rip = c->cmode == 8 ? ip : (uint32_t)ip;
	if (c->cmode == 2)
		c->next_rip &= 0xffff;
}

void emu_far_jump(struct emu_cpu *c, uint16_t sel, uint64_t off, bool call, int osize)
{
	unsigned sz = (unsigned)osize;
	if (!(c->cr0 & CR0_PE)) {
		if (call) {
			uint64_t sp = c->r[R_SP] & 0xffff;
			uint64_t ssb = c->seg[SEG_SS].base;
			push_sys(c, &sp, sz, c->seg[SEG_CS].sel, ssb, 0xffff);
			push_sys(c, &sp, sz, c->next_rip, ssb, 0xffff);
			c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		}
		emu_load_seg(c, SEG_CS, sel);
		c->next_rip = sz == 2 ? (off & 0xffff) : (uint32_t)off;
		return;
	}
	struct desc cd;
	code_desc(c, sel, &cd, sel & ~3u);
	int dpl = (cd.attr >> 5) & 3;
	bool conforming = cd.attr & 0x4;
	if (conforming ? dpl > c->cpl : ((sel & 3) > c->cpl || dpl != c->cpl))
		emu_raise_gp(c, sel & ~3u);
	if (call) {
		unsigned ssz = c->cmode == 8 ? 8 : (c->seg[SEG_SS].attr & SA_DB) ? 4 : 2;
		uint64_t spmask = ssz == 8 ? ~0ULL : ssz == 4 ? 0xffffffffULL : 0xffffULL;
		uint64_t ssb = c->cmode == 8 ? 0 : c->seg[SEG_SS].base;
		uint64_t sp = c->r[R_SP] & spmask;
		push_sys(c, &sp, sz, c->seg[SEG_CS].sel, ssb, spmask);
		push_sys(c, &sp, sz, c->next_rip, ssb, spmask);
		c->r[R_SP] = spmask == 0xffff ? (c->r[R_SP] & ~0xffffULL) | sp : sp;
	}
	mark_accessed(c, &cd);
	load_cs(c, sel, &cd, c->cpl);
	if (c->cmode == 8)
		c->next_rip = off;
	else
		c->next_rip = sz == 2 ? (off & 0xffff) : (uint32_t)off;
}

void emu_far_ret(struct emu_cpu *c, int osize, uint16_t pop_extra)
{
	unsigned sz = (unsigned)osize;
	unsigned ssz = c->cmode == 8 ? 8 : (c->seg[SEG_SS].attr & SA_DB) ? 4 : 2;
	if (!(c->cr0 & CR0_PE))
		ssz = 2;
	uint64_t spmask = ssz == 8 ? ~0ULL : ssz == 4 ? 0xffffffffULL : 0xffffULL;
	uint64_t ssb = c->cmode == 8 ? 0 : c->seg[SEG_SS].base;
	uint64_t sp = c->r[R_SP] & spmask;
	uint64_t ip = pop_sys(c, &sp, sz, ssb, spmask);
	uint16_t cs = (uint16_t)pop_sys(c, &sp, sz, ssb, spmask);
	sp = (sp + pop_extra) & spmask;
	if (!(c->cr0 & CR0_PE)) {
		emu_load_seg(c, SEG_CS, cs);
		c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		c->next_rip = ip & (sz == 2 ? 0xffff : 0xffffffff);
		return;
	}
	int new_cpl = cs & 3;
	if (new_cpl < c->cpl)
		emu_raise_gp(c, cs & ~3u);
	struct desc cd;
	code_desc(c, cs, &cd, cs & ~3u);
	uint64_t nsp = 0;
	uint16_t ss = 0;
	bool outer = new_cpl > c->cpl;
	if (outer) {
		nsp = pop_sys(c, &sp, sz, ssb, spmask);
		ss = (uint16_t)pop_sys(c, &sp, sz, ssb, spmask);
	}
	load_cs(c, cs, &cd, new_cpl);
	if (outer) {
		emu_load_seg(c, SEG_SS, ss);
		c->r[R_SP] = nsp + pop_extra;
	} else {
		c->r[R_SP] = spmask == 0xffff ? (c->r[R_SP] & ~0xffffULL) | sp : sp;
	}
	c->next_rip = c->cmode == 8 ? ip : (uint32_t)ip;
}

void emu_syscall(struct emu_cpu *c)
{
	if (!(c->efer & EFER_SCE) || !(c->efer & EFER_LMA))
		emu_raise(c, EXC_UD, 0, false);
	uint64_t fl = emu_flags(c);
	uint16_t sel = (uint16_t)(c->star >> 32) & 0xfffc;
	c->r[R_CX] = c->next_rip;
	c->r[11] = fl & ~(uint64_t)F_RF;
	set_seg(&c->seg[SEG_CS], sel, 0, 0xffffffff, 0xa09b);
	set_seg(&c->seg[SEG_SS], sel + 8, 0, 0xffffffff, 0xc093);
	c->cpl = 0;
	c->flags = (fl & ~c->sfmask & ~(uint64_t)F_RF) | 2;
	emu_update_mode(c);
	c->next_rip = c->cmode == 8 ? c->lstar : (uint32_t)c->cstar;
}

void emu_sysret(struct emu_cpu *c, int osize)
{
	if (!(c->efer & EFER_SCE) || c->cmode != 8)
		emu_raise(c, EXC_UD, 0, false);
	if (c->cpl != 0)
		emu_raise_gp(c, 0);
	uint16_t base = (uint16_t)(c->star >> 48);
	if (osize == 8) {
		if (!canonical(c->r[R_CX]))
			emu_raise_gp(c, 0);
		set_seg(&c->seg[SEG_CS], (uint16_t)((base + 16) | 3), 0, 0xffffffff, 0xa0fb);
		c->next_rip = c->r[R_CX];
	} else {
		set_seg(&c->seg[SEG_CS], (uint16_t)(base | 3), 0, 0xffffffff, 0xc0fb);
		c->next_rip = (uint32_t)c->r[R_CX];
	}
	set_seg(&c->seg[SEG_SS], (uint16_t)((base + 8) | 3), 0, 0xffffffff, 0xc0f3);
	emu_flags(c);
	c->flags = (c->r[11] & 0x3c7fd7ULL) | 2;
	c->cpl = 3;
	emu_poke(c);
	emu_update_mode(c);
}
