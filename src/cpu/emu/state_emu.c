/* SPDX-License-Identifier: MIT */
/*
 * The software CPU's state to and from the backend-neutral form of a
 * snapshot (cpu/cpu_state.h): each vCPU with its LAPIC, and the PIC pair,
 * IOAPIC and PIT of struct emu_vm. Called with every vCPU parked (or
 * before it first ran). Setting takes a state the VM layer has already
 * range-checked (src/vm/vmstate_cpu.c), and still masks every field to
 * what the register can hold.
 */
#include <string.h>

#include "cpu/emu/chip_lapic.h"
#include "cpu/emu/chip_pic.h"
#include "cpu/emu/chip_pit.h"
#include "cpu/emu/flags.h"
#include "cpu/emu/insn_x87.h"
#include "cpu/emu/mmu.h"
#include "cpu/emu/state_emu.h"
#include "cpu/emu/sys.h"

static void seg_get(struct cpu_seg_state *o, const struct seg *s)
{
	*o = (struct cpu_seg_state){
		.base = s->base, .limit = s->limit, .sel = s->sel, .attr = s->attr};
}

static void seg_set(struct seg *s, const struct cpu_seg_state *o)
{
	*s = (struct seg){.base = o->base,
			  .limit = o->limit,
			  .sel = o->sel,
			  .attr = (uint16_t)(o->attr & CPU_SEG_UNUSABLE ? 0 : o->attr & 0xf0ff)};
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* The x87, SSE and AVX registers as a standard-format XSAVE image. */
static void fpu_get(const struct emu_cpu *c, uint8_t *x)
{
	memset(x, 0, CPU_XSAVE_BYTES);
	put16(x + 0, c->fcw);
	put16(x + 2, c->fsw);
	x[4] = c->ftw;
	put16(x + 6, c->fop);
	memcpy(x + 8, &c->fip, 8);
	memcpy(x + 16, &c->fdp, 8);
	memcpy(x + 24, &c->mxcsr, 4);
	uint32_t mask = MXCSR_MASK;
	memcpy(x + 28, &mask, 4);
	int top = x87_top(c);
	for (int i = 0; i < 8; i++)
		memcpy(x + 32 + i * 16, c->fpr[(top + i) & 7], 10);
	for (int i = 0; i < 16; i++) {
		memcpy(x + 160 + i * 16, &c->xmm[i], 16);
		memcpy(x + CPU_XSAVE_AVX + i * 16, &c->ymmh[i], 16);
	}
	uint64_t bv = 7; /* x87, SSE, AVX all given explicitly */
	memcpy(x + CPU_XSAVE_XSTATE_BV, &bv, 8);
}

static void fpu_set(struct emu_cpu *c, const uint8_t *x)
{
	uint16_t cw, sw;
	memcpy(&cw, x, 2);
	memcpy(&sw, x + 2, 2);
	c->fcw = x87_fcw_load(cw);
	c->fsw = x87_fsw_load(sw, c->fcw);
	c->ftw = x[4];
	memcpy(&c->fop, x + 6, 2);
	c->fop &= 0x7ff;
	memcpy(&c->fip, x + 8, 8);
	memcpy(&c->fdp, x + 16, 8);
	memcpy(&c->mxcsr, x + 24, 4);
	c->mxcsr &= MXCSR_MASK;
	uint64_t bv;
	memcpy(&bv, x + CPU_XSAVE_XSTATE_BV, 8);
	int top = x87_top(c);
	for (int i = 0; i < 8; i++) {
		uint8_t *r = c->fpr[(top + i) & 7];
		memset(r, 0, 16);
		memcpy(r, x + 32 + i * 16, 10);
	}
	for (int i = 0; i < 16; i++) {
		/* A component outside XSTATE_BV is in its initial (zero) state. */
		if (bv & 2)
			memcpy(&c->xmm[i], x + 160 + i * 16, 16);
		else
			memset(&c->xmm[i], 0, 16);
		if (bv & 4)
			memcpy(&c->ymmh[i], x + CPU_XSAVE_AVX + i * 16, 16);
		else
			memset(&c->ymmh[i], 0, 16);
	}
}

static void lapic_get(const struct emu_cpu *c, struct cpu_lapic_state *o, uint64_t now)
{
	const struct lapic *a = &c->apic;
	*o = (struct cpu_lapic_state){
		.id = a->id,
		.tpr = a->tpr,
		.ldr = a->ldr,
		.dfr = a->dfr,
		.svr = a->svr,
		.esr = a->esr,
		.icr_lo = a->icr_lo,
		.icr_hi = a->icr_hi,
		.timer_init = a->timer_init,
		.timer_div = a->timer_div,
		.timer_remaining_ns = lapic_timer_remaining(c, now),
	};
	for (int i = 0; i < 8; i++) {
		o->isr[i] = a->isr[i];
		o->irr[i] = atomic_load(&a->irr[i]);
		o->tmr[i] = atomic_load(&a->tmr[i]);
	}
	memcpy(o->lvt, a->lvt, sizeof(o->lvt));
}

static void lapic_set(struct emu_cpu *c, const struct cpu_lapic_state *o, uint64_t tsc_deadline,
		      uint64_t now)
{
	struct lapic *a = &c->apic;
	a->id = o->id;
	a->tpr = o->tpr & 0xff;
	a->ldr = o->ldr;
	a->dfr = o->dfr;
	a->svr = o->svr;
	a->esr = o->esr;
	a->icr_lo = o->icr_lo;
	a->icr_hi = o->icr_hi;
	for (int i = 0; i < 8; i++) {
		a->isr[i] = o->isr[i];
		atomic_store(&a->irr[i], o->irr[i]);
		atomic_store(&a->tmr[i], o->tmr[i]);
	}
	memcpy(a->lvt, o->lvt, sizeof(a->lvt));
	a->timer_init = o->timer_init;
	a->timer_div = o->timer_div & 0xb;
	a->tsc_deadline = ((a->lvt[0] >> 17) & 3) == 2 ? tsc_deadline : 0;
	lapic_timer_resume(c, now, o->timer_remaining_ns);
}

/* IA32_TSC_DEADLINE among the extra MSRs (either backend saves it
 * there); 0 (disarmed) without it. */
static uint64_t tsc_deadline_of(const struct cpu_state *s)
{
	for (uint32_t i = 0; i < s->nmsrs && i < CPU_STATE_MAX_MSRS; i++)
		if (s->msrs[i].index == CPU_MSR_TSC_DEADLINE)
			return s->msrs[i].value;
	return 0;
}

/* The first CR4 mode in bits, by name. */
static const char *cr4_name(uint64_t bits)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{11, "UMIP"},     {12, "LA57"},  {13, "VMXE"},    {14, "SMXE"},
		     {16, "FSGSBASE"}, {17, "PCIDE"}, {18, "OSXSAVE"}, {20, "SMEP"},
		     {21, "SMAP"},     {22, "PKE"},   {23, "CET"},     {24, "PKS"}};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((bits >> names[i].bit) & 1)
			return names[i].name;
	return "a mode";
}

void emu_state_get_cpu(const struct emu_cpu *c, struct cpu_state *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->gpr, c->r, sizeof(s->gpr));
	s->rip = c->rip;
	s->rflags = get_flags((struct emu_cpu *)c);
	for (int i = 0; i < CPU_NSEGS; i++)
		seg_get(&s->seg[i], &c->seg[i]);
	seg_get(&s->ldtr, &c->ldtr);
	seg_get(&s->tr, &c->tr);
	s->gdtr = (struct cpu_dtable_state){.base = c->gdtr.base, .limit = (uint16_t)c->gdtr.limit};
	s->idtr = (struct cpu_dtable_state){.base = c->idtr.base, .limit = (uint16_t)c->idtr.limit};
	s->cr0 = c->cr0;
	s->cr2 = c->cr2;
	s->cr3 = c->cr3;
	s->cr4 = c->cr4;
	s->cr8 = c->apic.tpr >> 4;
	s->efer = c->efer;
	s->xcr0 = c->xcr0;
	memcpy(s->dr, c->dr, sizeof(s->dr));
	s->star = c->star;
	s->lstar = c->lstar;
	s->cstar = c->cstar;
	s->sfmask = c->sfmask;
	s->kernel_gs_base = c->kernel_gs_base;
	s->sysenter_cs = c->sysenter_cs;
	s->sysenter_esp = c->sysenter_esp;
	s->sysenter_eip = c->sysenter_eip;
	s->pat = c->pat;
	s->apic_base = c->apic.apic_base;
	s->misc_enable = c->misc_enable;
	s->tsc = __builtin_ia32_rdtsc() + c->tsc_offset;
	s->tsc_aux = c->tsc_aux;
	s->tsc_adjust = c->tsc_adjust;
	fpu_get(c, s->xsave);
	/* PKRU: XSAVE component 9 of the standard-format image, at the
	 * offset this CPU's CPUID gives (Intel's, 2688); left out in its
	 * initial configuration (0), as the format drops trailing zero bytes. */
	if (c->pkru) {
		uint64_t bv;
		memcpy(&bv, s->xsave + CPU_XSAVE_XSTATE_BV, 8);
		bv |= XSAVE_PKRU;
		memcpy(s->xsave + CPU_XSAVE_XSTATE_BV, &bv, 8);
		memcpy(s->xsave_ext + XSAVE_PKRU_OFFSET - CPU_XSAVE_BYTES, &c->pkru, 4);
		s->xsave_ext_len = XSAVE_PKRU_OFFSET + 4 - CPU_XSAVE_BYTES; /* no zero tail */
	}
	/* A parked vCPU has delivered what it raised: no exception pends. */
	s->exc_vector = CPU_STATE_NO_EXC;
	s->irq_shadow = c->irq_shadow ? 1 : 0;
	s->nmi_pending = c->nmi_pending || (atomic_load(&c->events) & EV_NMI);
	s->nmi_masked = c->nmi_blocked;
	/* The LAPIC timer's deadline, as KVM keeps it too (an extra MSR). */
	if (cpu_has(&c->vm->features, CPUF_TSC_DEADLINE))
		s->msrs[s->nmsrs++] = (struct cpu_msr_state){.index = CPU_MSR_TSC_DEADLINE,
							     .value = c->apic.tsc_deadline};
	s->halted = c->halted;
	s->wait_sipi = c->wait_sipi;
	lapic_get(c, &s->lapic, emu_now_ns());
}

int emu_state_set_cpu(struct emu_cpu *c, const struct cpu_state *s, struct vmon_error *err)
{
	/* What this VM's CPU does not have: refused, not half-restored (the
	 * snapshot's features are the VM's, so this takes a state written
	 * against another feature set). */
	if ((s->apic_base & APIC_BASE_EXTD) && !cpu_has(&c->vm->features, CPUF_X2APIC))
		return err_setf(err, "vCPU %d uses x2APIC mode, which this VM's CPU lacks",
				c->index);
	if (((s->lapic.lvt[0] >> 17) & 3) == 2 && !cpu_has(&c->vm->features, CPUF_TSC_DEADLINE))
		return err_setf(err,
				"vCPU %d's APIC timer is in TSC-deadline mode, which this VM's CPU "
				"lacks",
				c->index);
	if (s->rflags & F_VM)
		return err_setf(err, "vCPU %d is in virtual-8086 mode", c->index);
	/* What a KVM snapshot may hold that this CPU cannot take over
	 * (docs/snapshot.md, "Across backends"): CR4 modes it lacks (a
	 * guest booted on KVM turns on SMAP, PKE, LA57... where the host
	 * has them), KVM's paravirtual interface, an event in delivery. */
	uint64_t cr4_ok = emu_cr4_valid(c);
	if (s->cr4 & ~cr4_ok)
		return err_setf(err,
				"vCPU %d's CR4 0x%llx turns on %s, which the software CPU lacks "
				"(or the VM's CPU model leaves out)",
				c->index, (unsigned long long)s->cr4, cr4_name(s->cr4 & ~cr4_ok));
	const char *pv = cpu_state_kvm_pv_in_use(s);
	if (pv)
		return err_setf(
			err,
			"vCPU %d's guest uses KVM's %s, which the software CPU lacks (boot it "
			"with nopv to move it)",
			c->index, pv);
	if (s->exc_vector != CPU_STATE_NO_EXC)
		return err_setf(
			err,
			"vCPU %d was delivering an exception, which the software CPU cannot "
			"take over (snapshot it again)",
			c->index);
	unsigned irq = s->irq_injected;
	if (irq && !((s->lapic.isr[irq / 32] >> (irq % 32)) & 1))
		return err_setf(err,
				"vCPU %d was taking interrupt %u from the PIC, which the software "
				"CPU cannot take over (snapshot it again)",
				c->index, irq);
	uint32_t pkru = 0;
	uint64_t bv;
	memcpy(&bv, s->xsave + CPU_XSAVE_XSTATE_BV, 8);
	if ((bv & XSAVE_PKRU) && s->xsave_ext_len >= XSAVE_PKRU_OFFSET + 4 - CPU_XSAVE_BYTES)
		memcpy(&pkru, s->xsave_ext + XSAVE_PKRU_OFFSET - CPU_XSAVE_BYTES, 4);
	if (pkru && !(c->vm->xcr0_mask & XSAVE_PKRU))
		return err_setf(err,
				"vCPU %d uses protection keys (PKRU), which this VM's CPU lacks",
				c->index);
	memcpy(c->r, s->gpr, sizeof(c->r));
	c->rip = s->rip;
	c->lf_op = LF_NONE;
	c->flags = (s->rflags & 0x3f7fd5) | 2;
	for (int i = 0; i < CPU_NSEGS; i++)
		seg_set(&c->seg[i], &s->seg[i]);
	seg_set(&c->ldtr, &s->ldtr);
	seg_set(&c->tr, &s->tr);
	/* The privilege level the vCPU was at: CS's RPL in protected mode, as
	 * every CS load here keeps it (load_cs); emu_update_mode below makes
	 * it 0 in real mode. Left as it was, a vCPU saved in user mode went
	 * on at CPL 0 and faulted on its first user-page fetch (SMEP). */
	c->cpl = s->seg[CPU_SEG_CS].sel & 3;
	c->gdtr = (struct dtr){.base = s->gdtr.base, .limit = s->gdtr.limit};
	c->idtr = (struct dtr){.base = s->idtr.base, .limit = s->idtr.limit};
	c->cr0 = s->cr0;
	c->cr2 = s->cr2;
	c->cr3 = s->cr3;
	c->cr4 = s->cr4;
	c->efer = s->efer & (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE);
	c->xcr0 = (s->xcr0 & c->vm->xcr0_mask) | 1;
	memcpy(c->dr, s->dr, sizeof(c->dr));
	emu_dbg_update(c);
	c->star = s->star;
	c->lstar = s->lstar;
	c->cstar = s->cstar;
	c->sfmask = s->sfmask;
	c->kernel_gs_base = s->kernel_gs_base;
	c->sysenter_cs = s->sysenter_cs;
	c->sysenter_esp = s->sysenter_esp;
	c->sysenter_eip = s->sysenter_eip;
	c->pat = s->pat;
	c->misc_enable = s->misc_enable;
	c->tsc_offset = s->tsc - __builtin_ia32_rdtsc();
	c->tsc_aux = (uint32_t)s->tsc_aux;
	c->tsc_adjust = s->tsc_adjust;
	fpu_set(c, s->xsave);
	c->pkru = pkru;
	c->irq_shadow = s->irq_shadow ? 1 : 0;
	c->nmi_pending = s->nmi_pending;
	c->nmi_blocked = s->nmi_masked;
	c->halted = s->halted;
	c->wait_sipi = s->wait_sipi;
	lapic_set(c, &s->lapic, tsc_deadline_of(s), emu_now_ns());
	if (irq) {
		/* KVM had accepted it (IRR to ISR) but not delivered it yet:
		 * back to the IRR, for this CPU to deliver. */
		c->apic.isr[irq / 32] &= ~(1u << (irq % 32));
		atomic_fetch_or(&c->apic.irr[irq / 32], 1u << (irq % 32));
	}
	/* As a WRMSR would: EN and EXTD only (the base is not relocatable
	 * and the BSP bit is the vCPU's own); the state was checked above. */
	c->apic.apic_base = (c->apic.apic_base & ~(APIC_BASE_EN | APIC_BASE_EXTD)) |
			    (s->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD));
	c->apic.tpr = (uint32_t)(s->cr8 & 0xf) << 4;
	tlb_flush(c);
	emu_update_mode(c);
	c->code_epoch++;
	emu_poke(c);
	return 0;
}

void emu_state_get_chips(struct emu_vm *vm, struct chip_state *s)
{
	memset(s, 0, sizeof(*s));
	uint64_t now = emu_now_ns();
	pthread_mutex_lock(&vm->chip_lock);
	for (int i = 0; i < 2; i++) {
		const struct pic_chip *p = &vm->pic[i];
		s->pic[i] = (struct chip_pic_state){
			.irr = p->irr,
			.imr = p->imr,
			.isr = p->isr,
			.elcr = p->elcr,
			.last_level = p->last_level,
			.vbase = p->vbase,
			.init_state = p->init_state,
			.icw4_needed = p->icw4_needed,
			.single = p->single,
			.auto_eoi = p->auto_eoi,
			.read_isr = p->read_isr,
			.special_mask = p->special_mask,
			.lowest_prio = p->lowest_prio,
		};
	}
	s->ioapic.id = vm->ioapic.id;
	s->ioapic.sel = vm->ioapic.sel;
	s->ioapic.irr = vm->ioapic.irr;
	memcpy(s->ioapic.redir, vm->ioapic.redir, sizeof(s->ioapic.redir));
	for (unsigned i = 0; i < 3; i++) {
		const struct pit_chan *c = &vm->pit[i];
		s->pit[i] = (struct chip_pit_channel_state){
			.reload = c->reload,
			.mode = c->mode,
			.access = c->access,
			.bcd = c->bcd,
			.rw_state = c->rw_state,
			.wr_state = c->wr_state,
			.write_lo = c->write_lo,
			.latched = c->latched,
			.latch_hi_next = c->latch_hi_next,
			.gate = c->gate,
			.counting = c->counting,
			.latch = c->latch,
			.elapsed_ns = pit_elapsed_ns(vm, i, now),
		};
	}
	s->port61 = vm->port61;
	s->pit_pending = vm->pit_pending;
	pthread_mutex_unlock(&vm->chip_lock);
}

void emu_state_set_chips(struct emu_vm *vm, const struct chip_state *s)
{
	uint64_t now = emu_now_ns();
	pthread_mutex_lock(&vm->chip_lock);
	for (int i = 0; i < 2; i++) {
		const struct chip_pic_state *o = &s->pic[i];
		vm->pic[i] = (struct pic_chip){
			.irr = o->irr,
			.imr = o->imr,
			.isr = o->isr,
			.elcr = o->elcr,
			.last_level = o->last_level,
			.vbase = o->vbase & 0xf8,
			.init_state = o->init_state,
			.icw4_needed = o->icw4_needed,
			.single = o->single,
			.auto_eoi = o->auto_eoi,
			.read_isr = o->read_isr,
			.special_mask = o->special_mask,
			.lowest_prio = o->lowest_prio & 7,
		};
	}
	vm->ioapic.id = s->ioapic.id;
	vm->ioapic.sel = s->ioapic.sel & 0xff;
	vm->ioapic.irr = s->ioapic.irr & 0xffffff;
	memcpy(vm->ioapic.redir, s->ioapic.redir, sizeof(vm->ioapic.redir));
	for (unsigned i = 0; i < 3; i++) {
		const struct chip_pit_channel_state *o = &s->pit[i];
		vm->pit[i] = (struct pit_chan){
			.reload = o->reload,
			.mode = o->mode,
			.access = o->access,
			.bcd = o->bcd,
			.rw_state = o->rw_state,
			.wr_state = o->wr_state,
			.write_lo = o->write_lo,
			.latched = o->latched,
			.latch_hi_next = o->latch_hi_next,
			.gate = o->gate,
			.counting = o->counting,
			.latch = o->latch,
			.load_ns = now - (o->elapsed_ns < now ? o->elapsed_ns : 0),
		};
	}
	vm->port61 = s->port61;
	pit_restored(vm, now, s->pit_pending);
	pic_restored(vm);
	pthread_mutex_unlock(&vm->chip_lock);
}
