/* SPDX-License-Identifier: MIT */
/*
 * The SVM instructions (VMRUN, VMLOAD, VMSAVE, VMMCALL, STGI, CLGI,
 * INVLPGA, SKINIT; MONITOR/MWAIT rows only so that they can be
 * intercepted) and the instruction intercepts of guest mode: before a
 * row's handler runs in an SVM guest (insn.h: emu_exec_insn), the VMCB's
 * intercept vectors, I/O and MSR permission maps decide whether it
 * becomes a #VMEXIT. The simple exceptions (#UD, #GP for CPL, the I/O
 * permission checks) come first, as the APM orders them (15.7.1);
 * faults from memory operands come after. See svm.h.
 */
#include "core/guest_mem.h"
#include "cpu/emu/insn.h"
#include "cpu/emu/mmu.h"
#include "cpu/emu/svm.h"
#include "cpu/emu/sys.h"

/* #UD without EFER.SVME or outside protected mode, #GP above CPL 0. */
static void svm_insn_check(struct emu_cpu *c)
{
	if (!(c->efer & EFER_SVME) || !(c->cr0 & CR0_PE))
		emu_raise(c, EXC_UD, 0, false);
	need_cpl0(c);
}

/* rAX (by the address size): a page-aligned VMCB in RAM, else #GP(0). */
static uint64_t vmcb_operand(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t pa = c->r[R_AX] & szmask(d->asize);
	if ((pa & 0xfff) || (pa >> EMU_MAXPHYADDR) || !gm_is_ram(&c->m->mem, pa, 4096))
		emu_raise_gp(c, 0);
	return pa;
}

void h_vmrun(struct emu_cpu *c, const struct dinsn *d)
{
	svm_insn_check(c);
	uint64_t v = vmcb_operand(c, d);
	if (!gm_is_ram(&c->m->mem, c->svm.hsave_pa, 4096))
		emu_raise_gp(c, 0);
	svm_vmrun(c, v);
	c->slow = true;
}

/* VMLOAD and VMSAVE: the state SYSCALL, SWAPGS and the like use, which
 * VMRUN does not switch (APM 15.5.2). */
static void seg_xfer(struct emu_cpu *c, uint64_t pa, struct seg *s, bool load)
{
	if (load) {
		uint16_t a = (uint16_t)phys_read(c, pa + 2, 2);
		s->sel = (uint16_t)phys_read(c, pa, 2);
		s->attr = (uint16_t)((a & 0xff) | ((a & 0xf00) << 4));
		s->limit = (uint32_t)phys_read(c, pa + 4, 4);
		s->base = phys_read(c, pa + 8, 8);
	} else {
		phys_write(c, pa, 2, s->sel);
		phys_write(c, pa + 2, 2, (uint16_t)((s->attr & 0xff) | ((s->attr >> 4) & 0xf00)));
		phys_write(c, pa + 4, 4, s->limit);
		phys_write(c, pa + 8, 8, s->base);
	}
}

static void reg_xfer(struct emu_cpu *c, uint64_t pa, uint64_t *r, bool load)
{
	if (load)
		*r = phys_read(c, pa, 8);
	else
		phys_write(c, pa, 8, *r);
}

static void vmload_save(struct emu_cpu *c, const struct dinsn *d, bool load)
{
	svm_insn_check(c);
	uint64_t v = vmcb_operand(c, d);
	seg_xfer(c, v + VMCB_FS, &c->seg[SEG_FS], load);
	seg_xfer(c, v + VMCB_GS, &c->seg[SEG_GS], load);
	seg_xfer(c, v + VMCB_TR, &c->tr, load);
	seg_xfer(c, v + VMCB_LDTR, &c->ldtr, load);
	reg_xfer(c, v + VMCB_KGSBASE, &c->kernel_gs_base, load);
	reg_xfer(c, v + VMCB_STAR, &c->star, load);
	reg_xfer(c, v + VMCB_LSTAR, &c->lstar, load);
	reg_xfer(c, v + VMCB_CSTAR, &c->cstar, load);
	reg_xfer(c, v + VMCB_SFMASK, &c->sfmask, load);
	reg_xfer(c, v + VMCB_SYSENTER_CS, &c->sysenter_cs, load);
	reg_xfer(c, v + VMCB_SYSENTER_ESP, &c->sysenter_esp, load);
	reg_xfer(c, v + VMCB_SYSENTER_EIP, &c->sysenter_eip, load);
	if (load) {
		c->sfmask = (uint32_t)c->sfmask;
		c->slow = true; /* FS/GS bases: decoded blocks do not cache them */
	}
}

void h_vmload(struct emu_cpu *c, const struct dinsn *d)
{
	vmload_save(c, d, true);
}

void h_vmsave(struct emu_cpu *c, const struct dinsn *d)
{
	vmload_save(c, d, false);
}

/* VMMCALL not intercepted; SKINIT (not offered); MONITOR, MWAIT (not
 * offered by CPUID, rows so that a guest's use can be intercepted). */
void h_svm_ud(struct emu_cpu *c, const struct dinsn *d)
{
	emu_raise(c, EXC_UD, 0, false);
}

void h_stgi(struct emu_cpu *c, const struct dinsn *d)
{
	svm_insn_check(c);
	c->svm.gif_clear = false;
	c->irq_maybe = true;
	c->slow = true;
}

void h_clgi(struct emu_cpu *c, const struct dinsn *d)
{
	svm_insn_check(c);
	c->svm.gif_clear = true;
}

/* INVLPGA: the page at rAX in the ASID in ECX; the TLB is not tagged
 * (it holds the current ASID's translations only), so the page goes
 * whatever the ASID. */
void h_invlpga(struct emu_cpu *c, const struct dinsn *d)
{
	svm_insn_check(c);
	tlb_flush_page(c, c->r[R_AX] & szmask(d->asize));
}

/* ---- Intercepts ---- */

static bool i3(const struct emu_cpu *c, unsigned bit)
{
	return (c->svm.icpt_insn3 >> bit) & 1;
}

static bool i4(const struct emu_cpu *c, unsigned bit)
{
	return (c->svm.icpt_insn4 >> bit) & 1;
}

/* Bits of a permission map at pa (IOPM, MSRPM): RAM only; a map the
 * guest placed elsewhere reads as all ones (everything intercepted)
 * rather than as device registers. */
static uint32_t map_bits(struct emu_cpu *c, uint64_t pa, unsigned size)
{
	const uint8_t *p = gm_ptr_nolog(&c->m->mem, pa, size);
	if (!p)
		return ~0u;
	return size == 1 ? p[0] : (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

/* I/O: the permission checks first, then the IOPM (one bit per port,
 * every port the access covers); EXITINFO1 as APM 15.10.2 gives it. */
static void io_intercept(struct emu_cpu *c, const struct dinsn *d, uint16_t port, unsigned size,
			 bool in, bool str)
{
	if (str)
		io_check(c);
	io_port_check(c, port, size);
	if (!i3(c, SVM_I3_IOIO))
		return;
	uint64_t pa = c->svm.iopm + port / 8u;
	uint32_t bits = map_bits(c, pa, 2);
	if (!(bits & (((1u << size) - 1) << (port & 7))))
		return;
	uint64_t info = (uint64_t)port << 16 | (in ? 1 : 0) | (str ? 4 : 0) |
			((d->flags & DI_REP) ? 8 : 0) |
			(size == 1   ? 0x10
			 : size == 2 ? 0x20
				     : 0x40) |
			(d->asize == 2	 ? 0x80
			 : d->asize == 4 ? 0x100
					 : 0x200);
	if (str && !in)
		info |= (uint64_t)(d->seg < 6 ? d->seg : SEG_DS) << 10;
	svm_insn_exit(c, SVM_EXIT_IOIO, info, c->next_rip);
}

/* MSRs: two bits each (read, write) in three 2 KiB ranges of the MSRPM;
 * any other MSR exits. */
static void msr_intercept(struct emu_cpu *c, bool write)
{
	if (c->cpl)
		return; /* #GP first */
	if (!i3(c, SVM_I3_MSR))
		return;
	uint32_t msr = (uint32_t)c->r[R_CX];
	uint64_t off;
	if (msr <= 0x1fff)
		off = 0;
	else if (msr - 0xc0000000u <= 0x1fff)
		off = 0x800;
	else if (msr - 0xc0010000u <= 0x1fff)
		off = 0x1000;
	else
		svm_insn_exit(c, SVM_EXIT_MSR, write, 0);
	uint32_t bit = (msr & 0x1fff) * 2 + (write ? 1 : 0);
	if ((map_bits(c, c->svm.msrpm + off + bit / 8, 1) >> (bit % 8)) & 1)
		svm_insn_exit(c, SVM_EXIT_MSR, write, 0);
}

/* MOV to/from CRn (and LMSW/CLTS, SMSW as CR0 accesses). With
 * V_INTR_MASKING, CR8 not intercepted is the guest's V_TPR. */
static bool cr_intercept(struct emu_cpu *c, const struct dinsn *d, int n, bool write)
{
	if (c->cpl)
		return false; /* #GP first */
	if ((c->svm.icpt_cr >> (n + (write ? 16 : 0))) & 1)
		svm_insn_exit(c, (write ? SVM_EXIT_CR0_WRITE : SVM_EXIT_CR0_READ) + (uint64_t)n, 0,
			      0);
	if (n != 8 || !(c->svm.int_ctl & SVM_V_INTR_MASKING))
		return false;
	if (write) {
		uint64_t v = get_reg(c, d->op[1].reg, 8);
		if (v & ~0xfULL)
			emu_raise_gp(c, 0);
		c->svm.int_ctl = (c->svm.int_ctl & ~SVM_V_TPR_MASK) | (uint32_t)v;
		c->slow = true;
	} else {
		set_reg(c, d->op[0].reg, c->cmode == 8 ? 8 : 4, c->svm.int_ctl & SVM_V_TPR_MASK);
	}
	return true;
}

/* The selective CR0 write intercept (APM 15.9.2): a write to CR0 (MOV,
 * LMSW) that changes a bit other than TS and MP exits with
 * SVM_EXIT_CR0_SEL, after the plain CR0 write intercept (checked
 * first). Linux's KVM relies on it with nested paging to see the guest
 * turn paging on (EFER.LMA) and off. */
static void cr0_selective(struct emu_cpu *c, uint64_t v)
{
	if (c->cpl == 0 && (c->svm.icpt_insn3 & (1u << SVM_I3_CR0_SEL)) &&
	    (((v | CR0_ET) ^ c->cr0) & ~(uint64_t)(CR0_TS | CR0_MP)))
		svm_insn_exit(c, SVM_EXIT_CR0_SEL, 0, 0);
}

_Noreturn static void insn_exit(struct emu_cpu *c, uint64_t code)
{
	svm_insn_exit(c, code, 0, 0);
}

bool svm_insn_intercept(struct emu_cpu *c, const struct dinsn *d)
{
	switch (d->row) {
	case I_MOV:
		if (d->op[0].kind == DOP_CR) {
			if (cr_intercept(c, d, d->op[0].reg, true))
				return true;
			if (d->op[0].reg == 0) {
				uint64_t v = get_reg(c, d->op[1].reg, 8);
				cr0_selective(c, c->cmode == 8 ? v : (uint32_t)v);
			}
			return false;
		}
		if (d->op[1].kind == DOP_CR)
			return cr_intercept(c, d, d->op[1].reg, false);
		return false;
	case I_LMSW:
		if (cr_intercept(c, d, 0, true))
			return true;
		/* LMSW sets PE, MP, EM, TS (it cannot clear PE). */
		cr0_selective(c, (c->cr0 & ~0xeULL) | (opr(c, d, 0) & 0xf) | (c->cr0 & 1));
		return false;
	case I_CLTS: return cr_intercept(c, d, 0, true); /* TS only: never selective */
	case I_SMSW:
		if (c->cpl == 0 && (c->svm.icpt_cr & 1))
			insn_exit(c, SVM_EXIT_CR0_READ);
		return false;
	case I_IN:
		io_intercept(c, d,
			     d->op[1].kind == DOP_IMM ? (uint16_t)(d->imm & 0xff)
						      : (uint16_t)c->r[R_DX],
			     d->op[0].size, true, false);
		return false;
	case I_OUT:
		io_intercept(c, d,
			     d->op[0].kind == DOP_IMM ? (uint16_t)(d->imm & 0xff)
						      : (uint16_t)c->r[R_DX],
			     d->op[1].size, false, false);
		return false;
	case I_S_INSB: io_intercept(c, d, (uint16_t)c->r[R_DX], 1, true, true); return false;
	case I_S_INSW: io_intercept(c, d, (uint16_t)c->r[R_DX], 2, true, true); return false;
	case I_S_INSD: io_intercept(c, d, (uint16_t)c->r[R_DX], 4, true, true); return false;
	case I_S_OUTSB: io_intercept(c, d, (uint16_t)c->r[R_DX], 1, false, true); return false;
	case I_S_OUTSW: io_intercept(c, d, (uint16_t)c->r[R_DX], 2, false, true); return false;
	case I_S_OUTSD: io_intercept(c, d, (uint16_t)c->r[R_DX], 4, false, true); return false;
	case I_RDMSR: msr_intercept(c, false); return false;
	case I_WRMSR: msr_intercept(c, true); return false;
	default: break;
	}
	/* The rest: one intercept bit each; CPL 0 instructions #GP first. */
	int code = -1;
	bool cpl0 = true;
	switch (d->row) {
	case I_CPUID: code = i3(c, SVM_I3_CPUID) ? 0x72 : -1, cpl0 = false; break;
	case I_RDTSC: code = i3(c, SVM_I3_RDTSC) ? 0x6e : -1, cpl0 = false; break;
	case I_RDTSCP: code = i4(c, SVM_I4_RDTSCP) ? 0x87 : -1, cpl0 = false; break;
	case I_IRET:
	case I_IRETD:
	case I_IRETQ: code = i3(c, SVM_I3_IRET) ? 0x74 : -1, cpl0 = false; break;
	case I_INT: code = i3(c, SVM_I3_INTN) ? 0x75 : -1, cpl0 = false; break;
	case I_INT3: /* a soft exception, delivered by its handler: #BP's intercept here */
		code = (c->svm.icpt_exc >> EXC_BP) & 1 ? SVM_EXIT_EXCP0 + EXC_BP : -1, cpl0 = false;
		break;
	case I_PAUSE: code = i3(c, SVM_I3_PAUSE) ? 0x77 : -1, cpl0 = false; break;
	case I_VMMCALL: code = i4(c, SVM_I4_VMMCALL) ? 0x81 : -1, cpl0 = false; break;
	case I_INVD: code = i3(c, SVM_I3_INVD) ? 0x76 : -1; break;
	case I_WBINVD: code = i4(c, SVM_I4_WBINVD) ? 0x89 : -1; break;
	case I_HLT: code = i3(c, SVM_I3_HLT) ? 0x78 : -1; break;
	case I_INVLPG: code = i3(c, SVM_I3_INVLPG) ? 0x79 : -1; break;
	case I_XSETBV: code = i4(c, SVM_I4_XSETBV) ? 0x8d : -1; break;
	case I_MONITOR: code = i4(c, SVM_I4_MONITOR) ? 0x8a : -1; break;
	case I_MWAIT: code = i4(c, SVM_I4_MWAIT) ? 0x8b : -1; break;
	case I_VMRUN:
	case I_VMLOAD:
	case I_VMSAVE:
	case I_STGI:
	case I_CLGI:
	case I_INVLPGA:
	case I_SKINIT: {
		static const uint8_t bit[] = {SVM_I4_VMRUN, SVM_I4_VMLOAD, SVM_I4_VMSAVE,
					      SVM_I4_STGI,  SVM_I4_CLGI,   0xff,
					      SVM_I4_SKINIT};
		if (!(c->efer & EFER_SVME) || !(c->cr0 & CR0_PE))
			return false; /* #UD first */
		if (d->row == I_INVLPGA)
			code = i3(c, SVM_I3_INVLPGA) ? 0x7a : -1;
		else if (i4(c, bit[d->row - I_VMRUN]))
			code = 0x80 + bit[d->row - I_VMRUN];
		break;
	}
	default: return false;
	}
	if (code < 0 || (cpl0 && c->cpl))
		return false;
	insn_exit(c, (uint64_t)code);
}
