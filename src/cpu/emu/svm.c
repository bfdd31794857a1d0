/* SPDX-License-Identifier: MIT */
/*
 * AMD SVM world switches (svm.h): VMRUN's host save into the VM_HSAVE_PA
 * page (in the VMCB save-area layout, as QEMU does, so the host state
 * lives in guest RAM), its consistency checks and guest load, EVENTINJ;
 * #VMEXIT's guest save and host reload; the MSRs VM_CR and VM_HSAVE_PA;
 * exception, shutdown and interrupt intercepts, GIF and V_IRQ.
 * AMD64 APM vol. 2, 15.5 to 15.21.
 */
#include "cpu/emu/svm.h"

#include "cpu/emu/fault.h"
#include "cpu/emu/flags.h"
#include "cpu/emu/mmu.h"
#include "cpu/emu/sys.h"
#include "cpu/emu/sys_priv.h"

#define MSR_VM_CR	0xc0010114
#define MSR_VM_HSAVE_PA 0xc0010117
#define VM_CR_LOCK	0x8
#define VM_CR_SVMDIS	0x10
#define VM_CR_VALID	0x1f

static uint64_t rd(struct emu_cpu *c, uint64_t pa, unsigned size)
{
	return phys_read(c, pa, size);
}

static void wr(struct emu_cpu *c, uint64_t pa, unsigned size, uint64_t v)
{
	phys_write(c, pa, size, v);
}

/* vmon's segment attributes (VMX layout: bits 7:0 and 15:12) to the
 * VMCB's 12-bit form and back. */
static void seg_save(struct emu_cpu *c, uint64_t pa, const struct seg *s)
{
	wr(c, pa, 2, s->sel);
	wr(c, pa + 2, 2, (uint16_t)((s->attr & 0xff) | ((s->attr >> 4) & 0xf00)));
	wr(c, pa + 4, 4, s->limit);
	wr(c, pa + 8, 8, s->base);
}

static void seg_load(struct emu_cpu *c, uint64_t pa, struct seg *s)
{
	uint16_t a = (uint16_t)rd(c, pa + 2, 2);
	set_seg(s, (uint16_t)rd(c, pa, 2), rd(c, pa + 8, 8), (uint32_t)rd(c, pa + 4, 4),
		(uint16_t)((a & 0xff) | ((a & 0xf00) << 4)));
}

static void dtr_save(struct emu_cpu *c, uint64_t pa, const struct dtr *d)
{
	wr(c, pa + 4, 4, d->limit);
	wr(c, pa + 8, 8, d->base);
}

static void dtr_load(struct emu_cpu *c, uint64_t pa, struct dtr *d)
{
	d->limit = (uint32_t)rd(c, pa + 4, 4) & 0xffff;
	d->base = rd(c, pa + 8, 8);
}

static bool svm_offered(const struct emu_cpu *c)
{
	return cpu_has(&c->vm->features, CPUF_SVM);
}

bool svm_rdmsr(struct emu_cpu *c, uint32_t msr, uint64_t *v)
{
	if (!svm_offered(c))
		return false;
	if (msr == MSR_VM_CR)
		*v = c->svm.vm_cr;
	else if (msr == MSR_VM_HSAVE_PA)
		*v = c->svm.hsave_pa;
	else
		return false;
	return true;
}

int svm_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v)
{
	if (!svm_offered(c))
		return -1;
	if (msr == MSR_VM_CR) {
		if (v & ~(uint64_t)VM_CR_VALID)
			return 0;
		/* With LOCK set, LOCK and SVMDIS are read-only. */
		if (c->svm.vm_cr & VM_CR_LOCK)
			v = (v & ~(uint64_t)(VM_CR_LOCK | VM_CR_SVMDIS)) |
			    (c->svm.vm_cr & (VM_CR_LOCK | VM_CR_SVMDIS));
		/* SVMDIS with EFER.SVME set is refused. */
		if ((v & VM_CR_SVMDIS) && (c->efer & EFER_SVME))
			return 0;
		c->svm.vm_cr = v;
		return 1;
	}
	if (msr == MSR_VM_HSAVE_PA) {
		/* A 4 KiB-aligned address below the physical-address width. */
		if ((v & 0xfff) || (v >> EMU_MAXPHYADDR))
			return 0;
		c->svm.hsave_pa = v;
		return 1;
	}
	return -1;
}

bool svm_efer_allowed(const struct emu_cpu *c)
{
	return svm_offered(c) && !(c->svm.vm_cr & VM_CR_SVMDIS);
}

/* APM 15.5.1: the checks VMRUN makes on the state it is about to load;
 * any failure is #VMEXIT(VMEXIT_INVALID) with the host's state intact. */
static bool vmcb_valid(struct emu_cpu *c, uint64_t v)
{
	uint64_t efer = rd(c, v + VMCB_EFER, 8), cr0 = rd(c, v + VMCB_CR0, 8);
	uint64_t cr3 = rd(c, v + VMCB_CR3, 8), cr4 = rd(c, v + VMCB_CR4, 8);
	uint16_t cs_attr = (uint16_t)rd(c, v + VMCB_CS + 2, 2);
	bool lm = (efer & EFER_LME) && (cr0 & CR0_PG);
	if (!(efer & EFER_SVME))
		return false;
	if (efer & ~(uint64_t)(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME))
		return false;
	if (!(cr0 & CR0_CD) && (cr0 & CR0_NW))
		return false;
	if (cr0 >> 32)
		return false;
	if (cr4 & ~emu_cr4_valid(c))
		return false;
	if (rd(c, v + VMCB_DR6, 8) >> 32 || rd(c, v + VMCB_DR7, 8) >> 32)
		return false;
	if (lm && (!(cr4 & CR4_PAE) || !(cr0 & CR0_PE)))
		return false;
	if (lm && (cr3 >> EMU_MAXPHYADDR))
		return false;
	if (lm && (cs_attr & 0x200) && (cs_attr & 0x400)) /* CS.L and CS.D */
		return false;
	if (!(rd(c, v + VMCB_ICPT_INSN4, 4) & (1u << SVM_I4_VMRUN)))
		return false;
	if (rd(c, v + VMCB_ASID, 4) == 0)
		return false;
	if ((rd(c, v + VMCB_NP_CTL, 8) & 1) && (rd(c, v + VMCB_N_CR3, 8) >> EMU_MAXPHYADDR))
		return false;
	if ((rd(c, v + VMCB_IOPM, 8) >> EMU_MAXPHYADDR) ||
	    (rd(c, v + VMCB_MSRPM, 8) >> EMU_MAXPHYADDR))
		return false;
	uint64_t ev = rd(c, v + VMCB_EVENTINJ, 8);
	if (ev & SVM_EV_VALID) {
		unsigned type = (ev >> 8) & 7, vec = ev & 0xff;
		if (type != SVM_EV_TYPE_INTR && type != SVM_EV_TYPE_NMI &&
		    type != SVM_EV_TYPE_EXC && type != SVM_EV_TYPE_SOFT)
			return false;
		if (type == SVM_EV_TYPE_EXC && (vec == EXC_NMI || vec >= 32))
			return false;
	}
	return true;
}

static void invalid_exit(struct emu_cpu *c, uint64_t v)
{
	wr(c, v + VMCB_EXITCODE, 8, SVM_EXIT_INVALID);
	wr(c, v + VMCB_EXITINFO1, 8, 0);
	wr(c, v + VMCB_EXITINFO2, 8, 0);
	wr(c, v + VMCB_EXITINTINFO, 8, 0);
	c->svm.gif_clear = true;
}

void svm_vmrun(struct emu_cpu *c, uint64_t v)
{
	uint64_t h = c->svm.hsave_pa;
	if (!vmcb_valid(c, v)) {
		invalid_exit(c, v); /* the host goes on after VMRUN, GIF = 0 */
		return;
	}
	/* The host's state, in the save-area layout of the HSAVE page. */
	seg_save(c, h + VMCB_ES, &c->seg[SEG_ES]);
	seg_save(c, h + VMCB_CS, &c->seg[SEG_CS]);
	seg_save(c, h + VMCB_SS, &c->seg[SEG_SS]);
	seg_save(c, h + VMCB_DS, &c->seg[SEG_DS]);
	dtr_save(c, h + VMCB_GDTR, &c->gdtr);
	dtr_save(c, h + VMCB_IDTR, &c->idtr);
	wr(c, h + VMCB_EFER, 8, c->efer);
	wr(c, h + VMCB_CR0, 8, c->cr0);
	wr(c, h + VMCB_CR3, 8, c->cr3);
	wr(c, h + VMCB_CR4, 8, c->cr4);
	wr(c, h + VMCB_RFLAGS, 8, emu_flags(c));
	wr(c, h + VMCB_RIP, 8, c->next_rip);
	wr(c, h + VMCB_RSP, 8, c->r[R_SP]);
	wr(c, h + VMCB_RAX, 8, c->r[R_AX]);

	/* The controls. */
	struct emu_svm *s = &c->svm;
	s->vmcb = v;
	s->icpt_cr = (uint32_t)rd(c, v + VMCB_ICPT_CR, 4);
	s->icpt_exc = (uint32_t)rd(c, v + VMCB_ICPT_EXC, 4);
	s->icpt_insn3 = (uint32_t)rd(c, v + VMCB_ICPT_INSN3, 4);
	s->icpt_insn4 = (uint32_t)rd(c, v + VMCB_ICPT_INSN4, 4);
	s->iopm = rd(c, v + VMCB_IOPM, 8) & ~0xfffULL;
	s->msrpm = rd(c, v + VMCB_MSRPM, 8) & ~0xfffULL;
	s->tsc_offset = rd(c, v + VMCB_TSC_OFFSET, 8);
	s->int_ctl = (uint32_t)rd(c, v + VMCB_INT_CTL, 4);
	s->int_vector = (uint8_t)rd(c, v + VMCB_INT_VECTOR, 1);
	s->host_if = c->flags & F_IF;
	s->npt = rd(c, v + VMCB_NP_CTL, 8) & 1;
	s->n_cr3 = rd(c, v + VMCB_N_CR3, 8);
	s->host_nxe = c->efer & EFER_NXE;

	/* The guest's state. */
	seg_load(c, v + VMCB_ES, &c->seg[SEG_ES]);
	seg_load(c, v + VMCB_CS, &c->seg[SEG_CS]);
	seg_load(c, v + VMCB_SS, &c->seg[SEG_SS]);
	seg_load(c, v + VMCB_DS, &c->seg[SEG_DS]);
	dtr_load(c, v + VMCB_GDTR, &c->gdtr);
	dtr_load(c, v + VMCB_IDTR, &c->idtr);
	uint64_t efer = rd(c, v + VMCB_EFER, 8);
	c->cr0 = rd(c, v + VMCB_CR0, 8) | CR0_ET;
	c->cr2 = rd(c, v + VMCB_CR2, 8);
	c->cr3 = rd(c, v + VMCB_CR3, 8);
	c->cr4 = rd(c, v + VMCB_CR4, 8);
	efer &= ~(uint64_t)EFER_LMA;
	if ((efer & EFER_LME) && (c->cr0 & CR0_PG))
		efer |= EFER_LMA;
	c->efer = efer;
	c->dr[6] = rd(c, v + VMCB_DR6, 8);
	c->dr[7] = rd(c, v + VMCB_DR7, 8);
	c->lf_op = LF_NONE;
	c->flags = (rd(c, v + VMCB_RFLAGS, 8) & 0x3f7fd7ULL) | 2;
	c->rip = rd(c, v + VMCB_RIP, 8);
	c->r[R_SP] = rd(c, v + VMCB_RSP, 8);
	c->r[R_AX] = rd(c, v + VMCB_RAX, 8);
	emu_update_mode(c);
	c->cpl = (c->cr0 & CR0_PE) ? (int)(rd(c, v + VMCB_CPL, 1) & 3) : 0;
	c->tsc_offset += s->tsc_offset;
	c->irq_shadow = (int)(rd(c, v + VMCB_INT_STATE, 8) & 1);
	s->guest = true;
	s->gif_clear = false;
	/* No ASIDs: the TLB holds one address space at a time. */
	tlb_flush(c);
	c->code_epoch++;
	c->halted = false;
	c->irq_maybe = true;
	c->slow = true;
	c->next_rip = c->rip;

	/* EVENTINJ: delivered through the guest's IDT as the guest's first
	 * act; a fault while delivering it nests as usual (and may exit). */
	uint64_t ev = rd(c, v + VMCB_EVENTINJ, 8);
	if (ev & SVM_EV_VALID) {
		unsigned type = (ev >> 8) & 7;
		int vec = (int)(ev & 0xff);
		wr(c, v + VMCB_EVENTINJ, 8, 0);
		c->delivering = type == SVM_EV_TYPE_EXC ? vec : -1;
		s->cur_event = ev;
		emu_deliver(c, vec, (uint32_t)(ev >> 32), (ev & SVM_EV_ERR_VALID) != 0,
			    type == SVM_EV_TYPE_SOFT, c->rip);
		s->cur_event = 0;
		c->delivering = -1;
		c->next_rip = c->rip;
	}
}

static void vmexit(struct emu_cpu *c, uint64_t code, uint64_t info1, uint64_t info2,
		   uint64_t intinfo, uint64_t nrip)
{
	struct emu_svm *s = &c->svm;
	uint64_t v = s->vmcb, h = s->hsave_pa;
	/* An event whose delivery this exit interrupted: EVENTINJ or V_IRQ
	 * (cur_event), or an exception the CPU was delivering (its error
	 * code is still in pending_err; #DF's is 0). */
	if (!intinfo && s->cur_event) {
		intinfo = s->cur_event;
	} else if (!intinfo && c->delivering >= 0) {
		bool df = c->delivering == EXC_DF, ev = df || c->pending_has_err;
		intinfo = SVM_EV_VALID | ((uint64_t)SVM_EV_TYPE_EXC << 8) |
			  (uint64_t)c->delivering |
			  (ev ? SVM_EV_ERR_VALID | (uint64_t)(df ? 0 : c->pending_err) << 32 : 0);
	}
	s->cur_event = 0;
	/* The guest's state. */
	seg_save(c, v + VMCB_ES, &c->seg[SEG_ES]);
	seg_save(c, v + VMCB_CS, &c->seg[SEG_CS]);
	seg_save(c, v + VMCB_SS, &c->seg[SEG_SS]);
	seg_save(c, v + VMCB_DS, &c->seg[SEG_DS]);
	dtr_save(c, v + VMCB_GDTR, &c->gdtr);
	dtr_save(c, v + VMCB_IDTR, &c->idtr);
	wr(c, v + VMCB_EFER, 8, c->efer);
	wr(c, v + VMCB_CR0, 8, c->cr0);
	wr(c, v + VMCB_CR2, 8, c->cr2);
	wr(c, v + VMCB_CR3, 8, c->cr3);
	wr(c, v + VMCB_CR4, 8, c->cr4);
	wr(c, v + VMCB_DR6, 8, c->dr[6]);
	wr(c, v + VMCB_DR7, 8, c->dr[7]);
	wr(c, v + VMCB_RFLAGS, 8, emu_flags(c));
	wr(c, v + VMCB_RIP, 8, c->rip);
	wr(c, v + VMCB_RSP, 8, c->r[R_SP]);
	wr(c, v + VMCB_RAX, 8, c->r[R_AX]);
	wr(c, v + VMCB_CPL, 1, (uint64_t)c->cpl);
	wr(c, v + VMCB_INT_CTL, 4, s->int_ctl);
	wr(c, v + VMCB_INT_STATE, 8, c->irq_shadow ? 1 : 0);
	wr(c, v + VMCB_EXITCODE, 8, code);
	wr(c, v + VMCB_EXITINFO1, 8, info1);
	wr(c, v + VMCB_EXITINFO2, 8, info2);
	wr(c, v + VMCB_EXITINTINFO, 8, intinfo);
	wr(c, v + VMCB_NRIP, 8, nrip);
	wr(c, v + VMCB_EVENTINJ, 8, 0);
	c->tsc_offset -= s->tsc_offset;

	/* The host's, from the HSAVE page. */
	seg_load(c, h + VMCB_ES, &c->seg[SEG_ES]);
	seg_load(c, h + VMCB_CS, &c->seg[SEG_CS]);
	seg_load(c, h + VMCB_SS, &c->seg[SEG_SS]);
	seg_load(c, h + VMCB_DS, &c->seg[SEG_DS]);
	dtr_load(c, h + VMCB_GDTR, &c->gdtr);
	dtr_load(c, h + VMCB_IDTR, &c->idtr);
	c->efer = rd(c, h + VMCB_EFER, 8);
	c->cr0 = rd(c, h + VMCB_CR0, 8) | CR0_PE;
	c->cr3 = rd(c, h + VMCB_CR3, 8);
	c->cr4 = rd(c, h + VMCB_CR4, 8);
	c->lf_op = LF_NONE;
	c->flags = (rd(c, h + VMCB_RFLAGS, 8) & 0x3f7fd7ULL) | 2;
	c->rip = c->next_rip = rd(c, h + VMCB_RIP, 8);
	c->r[R_SP] = rd(c, h + VMCB_RSP, 8);
	c->r[R_AX] = rd(c, h + VMCB_RAX, 8);
	c->dr[7] = 0x400;
	emu_update_mode(c);
	c->cpl = 0;
	s->guest = false;
	s->npt = false;
	s->gif_clear = true;
	c->irq_shadow = 0;
	c->halted = false;
	c->delivering = -1;
	tlb_flush(c);
	c->code_epoch++;
	c->slow = true;
}

void svm_vmexit(struct emu_cpu *c, uint64_t code, uint64_t info1, uint64_t info2)
{
	vmexit(c, code, info1, info2, 0, 0);
}

_Noreturn void svm_vmexit_jump(struct emu_cpu *c, uint64_t code, uint64_t info1, uint64_t info2)
{
	vmexit(c, code, info1, info2, 0, 0);
	c->pending_exc = -1;
	longjmp(c->fault_jmp, 1);
}

_Noreturn void svm_insn_exit(struct emu_cpu *c, uint64_t code, uint64_t info1, uint64_t info2)
{
	vmexit(c, code, info1, info2, 0, c->next_rip);
	c->pending_exc = -1;
	longjmp(c->fault_jmp, 1);
}

void svm_exception(struct emu_cpu *c, int vec, uint32_t err, bool has_err, int prev)
{
	if (vec < 0 || vec >= 32 || !(c->svm.icpt_exc & (1u << vec)))
		return;
	uint64_t intinfo = 0;
	if (prev >= 0)
		intinfo = SVM_EV_VALID | ((uint64_t)SVM_EV_TYPE_EXC << 8) | (uint64_t)prev;
	/* #PF: the address in EXITINFO2; the guest's CR2 was not written
	 * (mmu.c), as QEMU and the hardware leave it. */
	vmexit(c, SVM_EXIT_EXCP0 + (uint64_t)vec, has_err ? err : 0,
	       vec == EXC_PF ? c->svm.pf_addr : 0, intinfo, 0);
	c->pending_exc = -1;
	longjmp(c->fault_jmp, 1);
}

void svm_shutdown(struct emu_cpu *c)
{
	if (c->svm.icpt_insn3 & (1u << SVM_I3_SHUTDOWN))
		svm_vmexit_jump(c, SVM_EXIT_SHUTDOWN, 0, 0);
}

bool svm_intr_allowed(const struct emu_cpu *c)
{
	if (c->svm.gif_clear)
		return false;
	if (c->svm.guest && (c->svm.int_ctl & SVM_V_INTR_MASKING))
		return c->svm.host_if;
	return (c->flags & F_IF) != 0;
}

bool svm_virq_pending(const struct emu_cpu *c)
{
	const struct emu_svm *s = &c->svm;
	if (!s->guest || s->gif_clear || !(s->int_ctl & SVM_V_IRQ) || !(c->flags & F_IF))
		return false;
	unsigned prio = (s->int_ctl >> SVM_V_INTR_PRIO_SHIFT) & 0xf;
	return (s->int_ctl & SVM_V_IGN_TPR) || prio > (s->int_ctl & SVM_V_TPR_MASK);
}

bool svm_guest_events(struct emu_cpu *c, bool phys_pending)
{
	struct emu_svm *s = &c->svm;
	if (s->gif_clear)
		return false;
	/* A physical interrupt the guest would take: the host's, if it
	 * intercepts INTR (it stays pending in the interrupt controller). */
	if (phys_pending && svm_intr_allowed(c) && (s->icpt_insn3 & (1u << SVM_I3_INTR)))
		svm_vmexit_jump(c, SVM_EXIT_INTR, 0, 0);
	if (!svm_virq_pending(c))
		return false;
	if (s->icpt_insn3 & (1u << SVM_I3_VINTR))
		svm_vmexit_jump(c, SVM_EXIT_VINTR, 0, 0);
	s->int_ctl &= ~SVM_V_IRQ;
	c->halted = false;
	s->cur_event = SVM_EV_VALID | s->int_vector;
	emu_deliver(c, s->int_vector, 0, false, false, c->rip);
	s->cur_event = 0;
	return true;
}
