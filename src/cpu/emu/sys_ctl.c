/* SPDX-License-Identifier: MIT */
/*
 * Control state: reset and boot state, the operating mode (cmode,
 * paging), control registers and MSRs.
 */
#include <string.h>

#include "cpu/emu/chip_lapic.h"
#include "cpu/emu/fault.h"
#include "cpu/emu/flags.h"
#include "cpu/emu/mmu.h"
#include "cpu/emu/sys.h"
#include "cpu/emu/sys_priv.h"

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
	c->dbg_on = c->dbg_data = false;
	c->star = c->lstar = c->cstar = c->sfmask = c->kernel_gs_base = 0;
	c->pat = 0x0007040600070406ULL;
	c->misc_enable = 1; /* fast strings */
	c->halted = false;
	c->irq_shadow = 0;
	c->nmi_pending = c->nmi_blocked = false;
	c->xcr0 = 1; /* x87 only, its reset value */
	c->pkru = 0;
	memset(&c->svm, 0, sizeof(c->svm)); /* GIF = 1, no guest, VM_CR and HSAVE 0 */
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

/* The CR4 bits this CPU models: VME/PVI/TSD/DE/PSE/PAE/MCE/PGE/PCE/OSFXSR/
 * OSXMMEXCPT, and UMIP, PCIDE, SMEP, SMAP, FSGSBASE, OSXSAVE and PKE where
 * the CPU model has them (as hardware without the feature, and KVM by the
 * guest's CPUID). A MOV to CR4 setting another is #GP; a snapshot
 * holding another is refused (state_emu.c). */
uint64_t emu_cr4_valid(const struct emu_cpu *c)
{
	const struct cpu_featureset *f = &c->vm->features;
	return 0x7ffULL | (cpu_has(f, CPUF_UMIP) ? CR4_UMIP : 0) |
	       (cpu_has(f, CPUF_PCID) ? CR4_PCIDE : 0) | (cpu_has(f, CPUF_SMEP) ? CR4_SMEP : 0) |
	       (cpu_has(f, CPUF_SMAP) ? CR4_SMAP : 0) |
	       (cpu_has(&c->vm->features, CPUF_FSGSBASE) ? CR4_FSGSBASE : 0) |
	       (cpu_has(&c->vm->features, CPUF_XSAVE) ? CR4_OSXSAVE : 0) |
	       (cpu_has(&c->vm->features, CPUF_PKU) ? CR4_PKE : 0);
}

void emu_set_pkru(struct emu_cpu *c, uint32_t v)
{
	if (v == c->pkru)
		return;
	c->pkru = v;
	tlb_flush(c); /* restricted pages are never cached; freed ones may be now */
}

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
			if (c->cmode == 8 || (c->cr4 & CR4_PCIDE))
				emu_raise_gp(c, 0);
			c->efer &= ~(uint64_t)EFER_LMA;
		}
		c->cr0 = v | CR0_ET;
		tlb_flush(c);
		emu_update_mode(c);
		return;
	case 2: c->cr2 = v; return;
	case 3:
		/* With CR4.PCIDE, bits 11:0 are the PCID and bit 63 asks to keep
		 * that PCID's translations; it is not stored. The TLB is tagged
		 * with PCIDs (tlb.c): without bit 63 the new PCID's non-global
		 * translations go, with it they stay. */
		c->cr3 = (c->cr4 & CR4_PCIDE) ? v & ~(1ULL << 63) : v;
		tlb_cr3_written(c, (c->cr4 & CR4_PCIDE) && (v >> 63));
		return;
	case 4:
		if ((c->efer & EFER_LMA) && !(v & CR4_PAE))
			emu_raise_gp(c, 0);
		/* PCIDs exist only in IA-32e mode, and turning them on needs
		 * PCID 0 current. */
		if ((v & CR4_PCIDE) && !(c->cr4 & CR4_PCIDE) &&
		    (!(c->efer & EFER_LMA) || (c->cr3 & 0xfff)))
			emu_raise_gp(c, 0);
		if (v & ~emu_cr4_valid(c))
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
#define MSR_DEBUGCTL	    0x1d9 /* LBR and BTF are not modelled: reads 0, only 0 written */
#define MSR_PAT		    0x277
#define MSR_EFER	    0xc0000080
#define MSR_STAR	    0xc0000081
#define MSR_LSTAR	    0xc0000082
#define MSR_CSTAR	    0xc0000083
#define MSR_SFMASK	    0xc0000084
#define MSR_FS_BASE	    0xc0000100
#define MSR_GS_BASE	    0xc0000101
#define MSR_KERNEL_GS_BASE  0xc0000102
#define MSR_TSC_DEADLINE    0x6e0
#define MSR_X2APIC_FIRST    0x800
#define MSR_X2APIC_LAST	    0x8ff

uint64_t emu_rdmsr(struct emu_cpu *c, uint32_t msr, bool *ok)
{
	*ok = true;
	uint64_t amd = 0;
	if (emu_amd_rdmsr(c, msr, &amd))
		return amd;
	if (emu_amd_msr_absent(c, msr)) {
		*ok = false;
		return 0;
	}
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
	case MSR_DEBUGCTL: return 0;
	case MSR_PAT: return c->pat;
	case MSR_EFER: return c->efer;
	case MSR_STAR: return c->star;
	case MSR_LSTAR: return c->lstar;
	case MSR_CSTAR: return c->cstar;
	case MSR_SFMASK: return c->sfmask;
	case MSR_FS_BASE: return c->seg[SEG_FS].base;
	case MSR_GS_BASE: return c->seg[SEG_GS].base;
	case MSR_KERNEL_GS_BASE: return c->kernel_gs_base;
	case MSR_TSC_DEADLINE:
		if (!cpu_has(&c->vm->features, CPUF_TSC_DEADLINE))
			break;
		return lapic_tsc_deadline_read(c);
	}
	if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST) {
		uint64_t v = 0;
		*ok = x2apic_rdmsr(c, msr, &v);
		return v;
	}
	uint64_t v = 0;
	*ok = svm_rdmsr(c, msr, &v); /* VM_CR, VM_HSAVE_PA */
	return v;
}

bool emu_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v)
{
	bool amd_ok;
	if (emu_amd_wrmsr(c, msr, v, &amd_ok))
		return amd_ok;
	if (emu_amd_msr_absent(c, msr))
		return false;
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
	case MSR_APIC_BASE: return lapic_set_base(c, v);
	case MSR_TSC_DEADLINE:
		if (!cpu_has(&c->vm->features, CPUF_TSC_DEADLINE))
			return false;
		lapic_tsc_deadline_write(c, v);
		return true;
	case MSR_UCODE_REV: return true;
	case MSR_SYSENTER_CS: c->sysenter_cs = v; return true;
	case MSR_SYSENTER_ESP: c->sysenter_esp = v; return true;
	case MSR_SYSENTER_EIP: c->sysenter_eip = v; return true;
	case MSR_MISC_ENABLE: c->misc_enable = v; return true;
	case MSR_DEBUGCTL: return v == 0;
	case MSR_PAT: c->pat = v; return true;
	case MSR_EFER: {
		uint64_t svme = svm_efer_allowed(c) ? EFER_SVME : 0;
		if (v & ~(uint64_t)(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | svme))
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
	if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST)
		return x2apic_wrmsr(c, msr, v);
	return svm_wrmsr(c, msr, v) > 0; /* VM_CR, VM_HSAVE_PA */
}
