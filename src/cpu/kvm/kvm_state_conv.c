/* SPDX-License-Identifier: MIT */
/*
 * KVM's state structs <-> the neutral snapshot form (kvm_state_conv.h).
 * Register layouts: the LAPIC page as KVM_GET_LAPIC gives it (xAPIC
 * offsets; in x2APIC mode too, KVM without KVM_X2APIC_API_USE_32BIT_IDS
 * keeps the ID in bits 31:24 and the ICR split), segments as KVM's
 * struct kvm_segment (byte-granular limit, one field per attribute bit).
 */
#include "cpu/kvm/kvm_state_conv.h"

#include <stddef.h>
#include <string.h>

uint64_t *kvm_conv_named_msr(struct cpu_state *s, uint32_t index)
{
	switch (index) {
	case KVM_MSR_STAR: return &s->star;
	case KVM_MSR_LSTAR: return &s->lstar;
	case KVM_MSR_CSTAR: return &s->cstar;
	case KVM_MSR_SFMASK: return &s->sfmask;
	case KVM_MSR_KERNEL_GS_BASE: return &s->kernel_gs_base;
	case KVM_MSR_SYSENTER_CS: return &s->sysenter_cs;
	case KVM_MSR_SYSENTER_ESP: return &s->sysenter_esp;
	case KVM_MSR_SYSENTER_EIP: return &s->sysenter_eip;
	case KVM_MSR_PAT: return &s->pat;
	case KVM_MSR_MISC_ENABLE: return &s->misc_enable;
	case KVM_MSR_TSC: return &s->tsc;
	case KVM_MSR_TSC_AUX: return &s->tsc_aux;
	case KVM_MSR_TSC_ADJUST: return &s->tsc_adjust;
	default: return NULL; /* APIC_BASE and EFER travel in the sregs */
	}
}

/* The extra list, in the order it is set. */
static const uint32_t extra_msrs[] = {
	0x2ff, /* MTRRdefType */
	0x250, /* MTRRfix64K_00000 */
	0x258,
	0x259, /* MTRRfix16K */
	0x268,
	0x269,
	0x26a,
	0x26b,
	0x26c,
	0x26d,
	0x26e,
	0x26f, /* MTRRfix4K */
	0x200,
	0x201,
	0x202,
	0x203,
	0x204,
	0x205,
	0x206,
	0x207, /* MTRRphysBase/Mask 0-3 */
	0x208,
	0x209,
	0x20a,
	0x20b,
	0x20c,
	0x20d,
	0x20e,
	0x20f, /* 4-7 */
	KVM_MSR_PV_WALL_CLOCK,
	KVM_MSR_PV_SYSTEM_TIME,
	KVM_MSR_PV_WALL_CLOCK_NEW,
	KVM_MSR_PV_SYSTEM_TIME_NEW,
	KVM_MSR_PV_ASYNC_PF_INT,
	KVM_MSR_PV_ASYNC_PF_EN,
	KVM_MSR_PV_STEAL_TIME,
	KVM_MSR_PV_EOI_EN,
	KVM_MSR_PV_POLL_CONTROL,
	KVM_MSR_TSC_DEADLINE, /* last: after the LAPIC (kvm_snapshot.c) */
};
_Static_assert(sizeof(extra_msrs) / sizeof(extra_msrs[0]) <= CPU_STATE_MAX_MSRS,
	       "the extra MSR list must fit the neutral form");

uint32_t kvm_conv_extra_msr_at(unsigned rank)
{
	return rank < sizeof(extra_msrs) / sizeof(extra_msrs[0]) ? extra_msrs[rank] : 0;
}

int kvm_conv_extra_msr_rank(uint32_t index)
{
	for (unsigned i = 0; i < sizeof(extra_msrs) / sizeof(extra_msrs[0]); i++)
		if (extra_msrs[i] == index)
			return (int)i;
	return -1;
}

int kvm_conv_find_extra(const struct cpu_state *s, uint32_t index)
{
	for (uint32_t i = 0; i < s->nmsrs && i < CPU_STATE_MAX_MSRS; i++)
		if (s->msrs[i].index == index)
			return (int)i;
	return -1;
}

void kvm_conv_regs_get(const struct kvm_regs *r, struct cpu_state *s)
{
	const uint64_t g[16] = {r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
				r->r8,	r->r9,	r->r10, r->r11, r->r12, r->r13, r->r14, r->r15};
	memcpy(s->gpr, g, sizeof(g));
	s->rip = r->rip;
	s->rflags = r->rflags;
}

void kvm_conv_regs_set(const struct cpu_state *s, struct kvm_regs *r)
{
	*r = (struct kvm_regs){
		.rax = s->gpr[0],
		.rcx = s->gpr[1],
		.rdx = s->gpr[2],
		.rbx = s->gpr[3],
		.rsp = s->gpr[4],
		.rbp = s->gpr[5],
		.rsi = s->gpr[6],
		.rdi = s->gpr[7],
		.r8 = s->gpr[8],
		.r9 = s->gpr[9],
		.r10 = s->gpr[10],
		.r11 = s->gpr[11],
		.r12 = s->gpr[12],
		.r13 = s->gpr[13],
		.r14 = s->gpr[14],
		.r15 = s->gpr[15],
		.rip = s->rip,
		.rflags = s->rflags | 2, /* bit 1 always reads 1 */
	};
}

static void seg_get(const struct kvm_segment *k, struct cpu_seg_state *o)
{
	*o = (struct cpu_seg_state){
		.base = k->base,
		.limit = k->limit,
		.sel = k->selector,
		.attr = (uint32_t)(k->type & 0xf) | (uint32_t)(k->s & 1) << 4 |
			(uint32_t)(k->dpl & 3) << 5 | (uint32_t)(k->present & 1) << 7 |
			(uint32_t)(k->avl & 1) << 12 | (uint32_t)(k->l & 1) << 13 |
			(uint32_t)(k->db & 1) << 14 | (uint32_t)(k->g & 1) << 15 |
			(k->unusable ? CPU_SEG_UNUSABLE : 0),
	};
}

static void seg_set(const struct cpu_seg_state *o, struct kvm_segment *k)
{
	uint32_t a = o->attr;
	*k = (struct kvm_segment){
		.base = o->base,
		.limit = o->limit,
		.selector = o->sel,
		.type = (uint8_t)(a & 0xf),
		.s = (uint8_t)((a >> 4) & 1),
		.dpl = (uint8_t)((a >> 5) & 3),
		.present = (uint8_t)((a >> 7) & 1),
		.avl = (uint8_t)((a >> 12) & 1),
		.l = (uint8_t)((a >> 13) & 1),
		.db = (uint8_t)((a >> 14) & 1),
		.g = (uint8_t)((a >> 15) & 1),
		.unusable = (a & CPU_SEG_UNUSABLE) ? 1 : 0,
	};
}

void kvm_conv_sregs_get(const struct kvm_sregs *r, struct cpu_state *s)
{
	const struct kvm_segment *seg[CPU_NSEGS] = {&r->es, &r->cs, &r->ss, &r->ds, &r->fs, &r->gs};
	for (int i = 0; i < CPU_NSEGS; i++)
		seg_get(seg[i], &s->seg[i]);
	seg_get(&r->ldt, &s->ldtr);
	seg_get(&r->tr, &s->tr);
	s->gdtr = (struct cpu_dtable_state){.base = r->gdt.base, .limit = r->gdt.limit};
	s->idtr = (struct cpu_dtable_state){.base = r->idt.base, .limit = r->idt.limit};
	s->cr0 = r->cr0;
	s->cr2 = r->cr2;
	s->cr3 = r->cr3;
	s->cr4 = r->cr4;
	s->cr8 = r->cr8;
	s->efer = r->efer;
	s->apic_base = r->apic_base;
}

void kvm_conv_sregs_set(const struct cpu_state *s, struct kvm_sregs *r)
{
	struct kvm_segment *seg[CPU_NSEGS] = {&r->es, &r->cs, &r->ss, &r->ds, &r->fs, &r->gs};
	for (int i = 0; i < CPU_NSEGS; i++)
		seg_set(&s->seg[i], seg[i]);
	seg_set(&s->ldtr, &r->ldt);
	seg_set(&s->tr, &r->tr);
	r->gdt = (struct kvm_dtable){.base = s->gdtr.base, .limit = s->gdtr.limit};
	r->idt = (struct kvm_dtable){.base = s->idtr.base, .limit = s->idtr.limit};
	r->cr0 = s->cr0;
	r->cr2 = s->cr2;
	r->cr3 = s->cr3;
	r->cr4 = s->cr4;
	r->cr8 = s->cr8;
	r->efer = s->efer;
	r->apic_base = s->apic_base;
	/* An interrupt in delivery goes back through KVM_SET_VCPU_EVENTS. */
	memset(r->interrupt_bitmap, 0, sizeof(r->interrupt_bitmap));
}

void kvm_conv_debugregs_get(const struct kvm_debugregs *d, struct cpu_state *s)
{
	for (int i = 0; i < 4; i++)
		s->dr[i] = d->db[i];
	s->dr[4] = s->dr[5] = 0;
	s->dr[6] = d->dr6;
	s->dr[7] = d->dr7;
}

void kvm_conv_debugregs_set(const struct cpu_state *s, struct kvm_debugregs *d)
{
	*d = (struct kvm_debugregs){.dr6 = s->dr[6], .dr7 = s->dr[7]};
	for (int i = 0; i < 4; i++)
		d->db[i] = s->dr[i];
}

void kvm_conv_xsave_get(const struct kvm_xsave *x, struct cpu_state *s)
{
	const uint8_t *p = (const uint8_t *)x->region;
	memcpy(s->xsave, p, CPU_XSAVE_BYTES);
	memcpy(s->xsave_ext, p + CPU_XSAVE_BYTES, CPU_XSAVE_EXT_BYTES);
	/* Trailing zeroes need not be saved. */
	uint32_t n = CPU_XSAVE_EXT_BYTES;
	while (n && !s->xsave_ext[n - 1])
		n--;
	s->xsave_ext_len = n;
}

void kvm_conv_xsave_set(const struct cpu_state *s, uint64_t supported, struct kvm_xsave *x)
{
	uint8_t *p = (uint8_t *)x->region;
	memset(x->region, 0, sizeof(x->region));
	memcpy(p, s->xsave, CPU_XSAVE_BYTES);
	uint32_t n =
		s->xsave_ext_len < CPU_XSAVE_EXT_BYTES ? s->xsave_ext_len : CPU_XSAVE_EXT_BYTES;
	memcpy(p + CPU_XSAVE_BYTES, s->xsave_ext, n);
	/* XCOMP_BV (header byte 8): the standard format has it zero. */
	memset(p + CPU_XSAVE_XSTATE_BV + 8, 0, 8);
	/* XSTATE_BV: only components the guest enabled and KVM supports
	 * (KVM refuses others); x87 and SSE always, as FXSAVE has them.
	 * The software CPU marks AVX present even while XCR0 leaves it off,
	 * when its registers are unreachable anyway. */
	uint64_t bv;
	memcpy(&bv, p + CPU_XSAVE_XSTATE_BV, 8);
	bv &= (s->xcr0 | 3) & (supported | 3);
	memcpy(p + CPU_XSAVE_XSTATE_BV, &bv, 8);
}

/* LAPIC register offsets */
#define APIC_ID	   0x20
#define APIC_TPR   0x80
#define APIC_LDR   0xd0
#define APIC_DFR   0xe0
#define APIC_SVR   0xf0
#define APIC_ISR   0x100
#define APIC_TMR   0x180
#define APIC_IRR   0x200
#define APIC_ESR   0x280
#define APIC_ICR   0x300
#define APIC_ICR2  0x310
#define APIC_LVTT  0x320
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR  0x3e0

static uint32_t reg(const struct kvm_lapic_state *l, unsigned off)
{
	uint32_t v;
	memcpy(&v, &l->regs[off], 4);
	return v;
}

static void set_reg(struct kvm_lapic_state *l, unsigned off, uint32_t v)
{
	memcpy(&l->regs[off], &v, 4);
}

/* The timer's divide configuration as a divisor (1..128). */
static uint64_t apic_divisor(uint32_t tdcr)
{
	unsigned v = (tdcr & 3) | ((tdcr >> 1) & 4);
	return v == 7 ? 1 : 2ull << v;
}

void kvm_conv_lapic_get(const struct kvm_lapic_state *l, struct cpu_state *s)
{
	struct cpu_lapic_state *a = &s->lapic;
	*a = (struct cpu_lapic_state){
		.id = reg(l, APIC_ID) >> 24,
		.tpr = reg(l, APIC_TPR) & 0xff,
		.ldr = reg(l, APIC_LDR),
		.dfr = reg(l, APIC_DFR),
		.svr = reg(l, APIC_SVR),
		.esr = reg(l, APIC_ESR),
		.icr_lo = reg(l, APIC_ICR),
		.icr_hi = reg(l, APIC_ICR2),
		.timer_init = reg(l, APIC_TMICT),
		.timer_div = reg(l, APIC_TDCR) & 0xb,
	};
	for (unsigned i = 0; i < 8; i++) {
		a->isr[i] = reg(l, APIC_ISR + 0x10 * i);
		a->tmr[i] = reg(l, APIC_TMR + 0x10 * i);
		a->irr[i] = reg(l, APIC_IRR + 0x10 * i);
	}
	for (unsigned i = 0; i < CPU_LAPIC_LVTS; i++)
		a->lvt[i] = reg(l, APIC_LVTT + 0x10 * i);
	/* The current count KVM computed when it was read (0 once a
	 * one-shot expired, and in TSC-deadline mode, whose deadline is an
	 * MSR in the extra list). */
	uint64_t cur = reg(l, APIC_TMCCT);
	a->timer_remaining_ns = cur * apic_divisor(a->timer_div) * KVM_APIC_BUS_NS;
}

void kvm_conv_lapic_set(const struct cpu_state *s, struct kvm_lapic_state *l)
{
	const struct cpu_lapic_state *a = &s->lapic;
	set_reg(l, APIC_ID, a->id << 24);
	set_reg(l, APIC_TPR, a->tpr & 0xff);
	set_reg(l, APIC_LDR, a->ldr);
	set_reg(l, APIC_DFR, a->dfr);
	set_reg(l, APIC_SVR, a->svr);
	set_reg(l, APIC_ESR, a->esr);
	set_reg(l, APIC_ICR, a->icr_lo);
	set_reg(l, APIC_ICR2, a->icr_hi);
	for (unsigned i = 0; i < 8; i++) {
		set_reg(l, APIC_ISR + 0x10 * i, a->isr[i]);
		set_reg(l, APIC_TMR + 0x10 * i, a->tmr[i]);
		set_reg(l, APIC_IRR + 0x10 * i, a->irr[i]);
	}
	for (unsigned i = 0; i < CPU_LAPIC_LVTS; i++)
		set_reg(l, APIC_LVTT + 0x10 * i, a->lvt[i]);
	set_reg(l, APIC_TDCR, a->timer_div & 0xb);
	set_reg(l, APIC_TMICT, a->timer_init);
	/* KVM (since Linux 5.13) starts the timer from TMCCT when it is set;
	 * older ones from the initial count. */
	uint64_t cur = a->timer_remaining_ns / (apic_divisor(a->timer_div) * KVM_APIC_BUS_NS);
	if (a->timer_remaining_ns && !cur)
		cur = 1;
	if (cur > a->timer_init)
		cur = a->timer_init;
	set_reg(l, APIC_TMCCT, (uint32_t)cur);
}

int kvm_conv_events_get(const struct kvm_vcpu_events *e, struct cpu_state *s, const char **why)
{
	*why = NULL;
	if ((e->flags & KVM_VCPUEVENT_VALID_SMM) && (e->smi.smm || e->smi.pending))
		*why = "is in (or entering) system management mode";
	else if ((e->flags & KVM_VCPUEVENT_VALID_SMM) && e->smi.latched_init)
		*why = "has an INIT latched";
	else if ((e->flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT) && e->triple_fault.pending)
		*why = "has a triple fault pending";
	else if (e->interrupt.injected && e->interrupt.soft)
		*why = "is delivering a software interrupt"; /* not at an instruction boundary */
	if (*why)
		return -1;
	s->exc_vector = CPU_STATE_NO_EXC;
	if (e->exception.injected || e->exception.pending) {
		s->exc_vector = e->exception.nr & 31;
		s->exc_has_err = e->exception.has_error_code != 0;
		s->exc_err = e->exception.error_code;
	}
	s->irq_injected = e->interrupt.injected ? e->interrupt.nr : 0;
	if (s->irq_injected < 16)
		s->irq_injected = 0;
	s->irq_shadow = e->interrupt.shadow ? 1 : 0;
	s->nmi_pending = e->nmi.pending || e->nmi.injected;
	s->nmi_masked = e->nmi.masked != 0;
	return 0;
}

void kvm_conv_events_set(const struct cpu_state *s, struct kvm_vcpu_events *e)
{
	*e = (struct kvm_vcpu_events){0};
	if (s->exc_vector != CPU_STATE_NO_EXC) {
		/* Delivered again from the start, as KVM does with a
		 * reinjected exception. */
		e->exception.injected = 1;
		e->exception.nr = s->exc_vector & 31;
		e->exception.has_error_code = s->exc_has_err;
		e->exception.error_code = s->exc_err;
	}
	if (s->irq_injected >= 16) {
		e->interrupt.injected = 1;
		e->interrupt.nr = s->irq_injected;
	}
	e->interrupt.shadow = s->irq_shadow ? KVM_X86_SHADOW_INT_STI : 0;
	e->nmi.pending = s->nmi_pending;
	e->nmi.masked = s->nmi_masked;
	e->flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
}

int kvm_conv_mp_get(uint32_t mp_state, struct cpu_state *s, const char **why)
{
	*why = NULL;
	s->halted = s->wait_sipi = false;
	switch (mp_state) {
	case KVM_MP_STATE_RUNNABLE: return 0;
	case KVM_MP_STATE_HALTED: s->halted = true; return 0;
	case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_INIT_RECEIVED: s->wait_sipi = true; return 0;
	default: *why = "is in a run state vmon cannot save (a SIPI in flight?)"; return -1;
	}
}

uint32_t kvm_conv_mp_set(const struct cpu_state *s, bool bsp)
{
	if (s->wait_sipi && !bsp)
		return KVM_MP_STATE_INIT_RECEIVED;
	return s->halted ? KVM_MP_STATE_HALTED : KVM_MP_STATE_RUNNABLE;
}

void kvm_conv_pic_get(const struct kvm_pic_state *k, struct chip_pic_state *p)
{
	*p = (struct chip_pic_state){
		.irr = k->irr,
		.imr = k->imr,
		.isr = k->isr,
		.elcr = k->elcr,
		.last_level = k->last_irr,
		.vbase = k->irq_base,
		/* KVM: 1..3 wait for ICW2..ICW4 */
		.init_state =
			k->init_state && k->init_state <= 3 ? (uint8_t)(k->init_state + 1) : 0,
		.icw4_needed = k->init4 != 0,
		.auto_eoi = k->auto_eoi != 0,
		.read_isr = k->read_reg_select != 0,
		.special_mask = k->special_mask != 0,
		/* KVM's priority_add is the highest-priority line. */
		.lowest_prio = (uint8_t)((k->priority_add + 7) & 7),
	};
}

void kvm_conv_pic_set(const struct chip_pic_state *p, struct kvm_pic_state *k)
{
	k->irr = p->irr;
	k->imr = p->imr;
	k->isr = p->isr;
	k->elcr = p->elcr & k->elcr_mask;
	k->last_irr = p->last_level;
	k->irq_base = p->vbase & 0xf8;
	k->init_state = p->init_state >= 2 && p->init_state <= 4 ? (uint8_t)(p->init_state - 1) : 0;
	k->init4 = p->icw4_needed;
	k->auto_eoi = p->auto_eoi;
	k->read_reg_select = p->read_isr;
	k->special_mask = p->special_mask;
	k->priority_add = (uint8_t)((p->lowest_prio + 1) & 7);
	k->poll = 0;
}

void kvm_conv_ioapic_get(const struct kvm_ioapic_state *k, struct chip_state *s)
{
	s->ioapic.id = k->id & 0xf;
	s->ioapic.sel = k->ioregsel & 0xff;
	s->ioapic.irr = k->irr & 0xffffff;
	for (unsigned i = 0; i < CHIP_IOAPIC_PINS && i < KVM_IOAPIC_NUM_PINS; i++)
		s->ioapic.redir[i] = k->redirtbl[i].bits;
}

void kvm_conv_ioapic_set(const struct chip_state *s, struct kvm_ioapic_state *k)
{
	k->id = s->ioapic.id & 0xf;
	k->ioregsel = s->ioapic.sel & 0xff;
	k->irr = s->ioapic.irr & 0xffffff;
	for (unsigned i = 0; i < CHIP_IOAPIC_PINS && i < KVM_IOAPIC_NUM_PINS; i++)
		k->redirtbl[i].bits = s->ioapic.redir[i];
}

/* KVM's read/write states (i8254.c): low byte, high byte, word low
 * next, word high next. */
enum { RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };
#define KVM_PIT_HZ 1193182ull

void kvm_conv_pit_get(const struct kvm_pit_state2 *k, uint64_t now_ns, struct chip_state *s)
{
	for (unsigned i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *c = &k->channels[i];
		/* A channel the guest never programmed has mode 0xff and no
		 * access mode: the software CPU's reset state. */
		bool programmed = c->mode <= 5;
		uint8_t access = c->rw_mode >= 1 && c->rw_mode <= 3 ? c->rw_mode : 3;
		bool latched = c->count_latched != 0;
		uint64_t load = c->count_load_time > 0 ? (uint64_t)c->count_load_time : 0;
		uint64_t elapsed = programmed && now_ns > load ? now_ns - load : 0;
		/* KVM keeps the load time of a periodic count; the neutral form
		 * wants the time into the current period. */
		uint64_t period = (uint64_t)c->count * 1000000000ull / KVM_PIT_HZ;
		if ((c->mode == 2 || c->mode == 3) && period)
			elapsed %= period;
		s->pit[i] = (struct chip_pit_channel_state){
			.reload = (uint16_t)c->count, /* 0x10000 -> 0 */
			.mode = programmed ? c->mode : 0,
			.access = access,
			.bcd = c->bcd & 1,
			.rw_state = (latched ? c->count_latched : c->read_state) == RW_WORD1,
			.wr_state = c->write_state == RW_WORD1,
			.write_lo = c->write_latch,
			.latched = latched,
			.latch_hi_next = latched && (c->count_latched == RW_MSB ||
						     c->count_latched == RW_WORD1),
			.gate = c->gate != 0,
			.counting = programmed,
			.latch = c->latched_count,
			.elapsed_ns = elapsed,
		};
	}
	s->port61 = (uint8_t)((k->channels[2].gate ? 1 : 0) |
			      ((k->flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON) ? 2 : 0));
	s->pit_pending = 0; /* KVM keeps its own count of ticks due */
}

void kvm_conv_pit_set(const struct chip_state *s, uint64_t now_ns, struct kvm_pit_state2 *k)
{
	for (unsigned i = 0; i < 3; i++) {
		const struct chip_pit_channel_state *o = &s->pit[i];
		struct kvm_pit_channel_state *c = &k->channels[i];
		uint8_t access = o->access >= 1 && o->access <= 3 ? o->access : 3;
		uint8_t word = o->rw_state ? RW_WORD1 : RW_WORD0;
		*c = (struct kvm_pit_channel_state){
			.count = o->reload ? o->reload : 0x10000,
			.latched_count = o->latch,
			.count_latched = o->latched ? (access == 3 ? word : access) : 0,
			.read_state = access == 3 ? (o->latched ? RW_WORD0 : word) : access,
			.write_state = access == 3 ? (o->wr_state ? RW_WORD1 : RW_WORD0) : access,
			.write_latch = o->write_lo,
			.rw_mode = access,
			.mode = o->counting || i == 2 ? (uint8_t)(o->mode & 7) : 0xff,
			.bcd = o->bcd & 1,
			.gate = o->gate,
			.count_load_time =
				(int64_t)(now_ns - (o->elapsed_ns < now_ns ? o->elapsed_ns : 0)),
		};
	}
	k->channels[2].gate = s->port61 & 1;
	k->flags = (k->flags & ~(uint32_t)KVM_PIT_FLAGS_SPEAKER_DATA_ON) |
		   ((s->port61 & 2) ? KVM_PIT_FLAGS_SPEAKER_DATA_ON : 0);
}
