/* SPDX-License-Identifier: MIT */
/*
 * Local APIC (xAPIC, MMIO at 0xfee00000), one per vCPU: IRR/ISR/TMR,
 * TPR/PPR, EOI (a level-triggered vector's reaches the IOAPIC through
 * emu_vm.eoi_broadcast), spurious vector register, LVTs, the timer
 * (one-shot/periodic, counting real host time at a 1 GHz bus clock like
 * KVM's; TSC-deadline against the guest's TSC), and IPIs including INIT,
 * STARTUP and NMI. The x2APIC MSR interface is chip_x2apic.c's.
 *
 * IRR and TMR are set from any thread (IOAPIC, other vCPUs' IPIs) with
 * atomics; everything else is touched only by the owning vCPU.
 */
#include <stdio.h>
#include <string.h>

#include "core/ratelimit.h"
#include "cpu/emu/chip_lapic.h"

#define LVT_MASKED	0x10000u
#define LVT_TIMER	0
#define LVT_LINT0	3
#define LVT_LINT1	4
#define TIMER_ONESHOT	0
#define TIMER_PERIODIC	1
#define TIMER_DEADLINE	2
#define LAPIC_BUS_NS	1      /* one bus cycle per nanosecond */
#define MIN_PERIODIC_NS 200000 /* as KVM's min_timer_period_us */

void lapic_reset(struct emu_cpu *c, bool bsp)
{
	struct lapic *a = &c->apic;
	for (int i = 0; i < 8; i++) {
		atomic_store(&a->irr[i], 0);
		atomic_store(&a->tmr[i], 0);
		a->isr[i] = 0;
	}
	a->tpr = 0;
	a->ldr = 0;
	a->dfr = 0xffffffff;
	a->svr = 0xff;
	a->esr = 0;
	a->icr_lo = a->icr_hi = 0;
	for (int i = 0; i < 6; i++)
		a->lvt[i] = LVT_MASKED;
	/* As KVM: the BSP's LINT0 starts as ExtINT, so the 8259 reaches it. */
	if (bsp)
		a->lvt[LVT_LINT0] = 7 << 8;
	a->timer_init = 0;
	a->timer_div = 0;
	a->timer_deadline_ns = 0;
	a->tsc_deadline = 0;
	a->apic_base = 0xfee00000ULL | APIC_BASE_EN | (bsp ? APIC_BASE_BSP : 0);
}

void lapic_derive_ldr(struct emu_cpu *c)
{
	/* x2APIC logical ID: cluster (ID[31:4]) in 31:16, one bit of 16 for
	 * ID[3:0] in 15:0 (SDM 10.12.10.2). */
	if (c->apic.apic_base & APIC_BASE_EXTD)
		c->apic.ldr = ((c->apic.id >> 4) << 16) | (1u << (c->apic.id & 0xf));
}

bool lapic_enabled(const struct emu_cpu *c)
{
	return (c->apic.apic_base & APIC_BASE_EN) && (c->apic.svr & 0x100);
}

static int highest_bit(const uint32_t *v)
{
	for (int i = 7; i >= 0; i--)
		if (v[i])
			return i * 32 + 31 - __builtin_clz(v[i]);
	return -1;
}

static int highest_irr(struct lapic *a)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = atomic_load_explicit(&a->irr[i], memory_order_relaxed);
		if (w)
			return i * 32 + 31 - __builtin_clz(w);
	}
	return -1;
}

static uint32_t ppr(struct lapic *a)
{
	int isr = highest_bit(a->isr);
	uint32_t isrv = isr < 0 ? 0 : (uint32_t)isr & 0xf0;
	return (a->tpr & 0xf0) >= isrv ? a->tpr : isrv;
}

int lapic_pending(struct emu_cpu *c)
{
	struct lapic *a = &c->apic;
	if (!(a->apic_base & APIC_BASE_EN))
		return -1;
	int v = highest_irr(a);
	if (v < 0)
		return -1;
	if (((uint32_t)v & 0xf0) <= (ppr(a) & 0xf0))
		return -2;
	return v;
}

void lapic_ack(struct emu_cpu *c, int vec)
{
	struct lapic *a = &c->apic;
	atomic_fetch_and(&a->irr[vec >> 5], ~(1u << (vec & 31)));
	a->isr[vec >> 5] |= 1u << (vec & 31);
}

void lapic_accept(struct emu_cpu *c, int vec, bool level)
{
	struct lapic *a = &c->apic;
	if (vec < 16) {
		a->esr |= 0x40; /* received illegal vector (racy but harmless) */
		return;
	}
	if (level)
		atomic_fetch_or(&a->tmr[vec >> 5], 1u << (vec & 31));
	else
		atomic_fetch_and(&a->tmr[vec >> 5], ~(1u << (vec & 31)));
	atomic_fetch_or(&a->irr[vec >> 5], 1u << (vec & 31));
	emu_wake(c, EV_IRQ);
}

/* x2: the message carries a 32-bit x2APIC destination (an x2APIC ICR),
 * else an 8-bit xAPIC one (xAPIC ICR, IOAPIC, MSI). */
static bool dest_match(struct emu_cpu *t, uint32_t dest, int dest_mode, bool x2)
{
	uint32_t bcast = x2 ? 0xffffffffu : 0xffu;
	if (dest == bcast)
		return true;
	if (dest_mode == 0)
		return t->apic.id == dest;
	if (t->apic.apic_base & APIC_BASE_EXTD) /* cluster ID and a 16-bit mask */
		return (t->apic.ldr >> 16) == (dest >> 16) && (t->apic.ldr & dest & 0xffff);
	uint32_t ldr = t->apic.ldr >> 24;
	if ((t->apic.dfr >> 28) == 0xf) /* flat */
		return (ldr & dest) != 0;
	/* cluster */
	return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xf);
}

static void deliver(struct emu_vm *vm, struct emu_cpu *from, uint32_t dest, int dest_mode,
		    int dmode, int vec, bool level, int shorthand, bool x2)
{
	for (int i = 0; i < vm->ncpus; i++) {
		struct emu_cpu *t = vm->cpus[i];
		if (!t)
			continue;
		bool match;
		switch (shorthand) {
		case 1: match = t == from; break;
		case 2: match = true; break;
		case 3: match = t != from; break;
		default: match = dest_match(t, dest, dest_mode, x2);
		}
		if (!match)
			continue;
		switch (dmode) {
		case 0: /* fixed */
		case 1: /* lowest priority: the first match */ lapic_accept(t, vec, level); break;
		case 2: /* SMI: no system-management mode */
			guest_log("emu: SMI IPI not supported (ignored)");
			break;
		case 4: /* NMI: not through the IRR; the vCPU takes it (run.c) */
			emu_wake(t, EV_NMI);
			break;
		case 5: emu_wake(t, EV_INIT); break;
		case 6:
			atomic_store(&t->sipi_vector, (uint32_t)vec);
			emu_wake(t, EV_SIPI);
			break;
		default: break;
		}
		if (dmode == 1 && shorthand == 0)
			break;
	}
}

void apic_deliver(struct emu_vm *vm, struct emu_cpu *from, uint32_t dest, int dest_mode, int dmode,
		  int vec, bool level, int shorthand)
{
	deliver(vm, from, dest, dest_mode, dmode, vec, level, shorthand, false);
}

void lapic_send_icr(struct emu_cpu *c, uint32_t lo, uint32_t dest)
{
	bool x2 = (c->apic.apic_base & APIC_BASE_EXTD) != 0;
	int dmode = (lo >> 8) & 7;
	bool assert = (lo >> 14) & 1, level_trig = (lo >> 15) & 1;
	if (dmode == 5 && !assert && level_trig)
		return; /* INIT level de-assert */
	c->stat_ipis++;
	deliver(c->vm, c, dest, (lo >> 11) & 1, dmode, lo & 0xff, false, (lo >> 18) & 3, x2);
}

void lapic_lint1(struct emu_cpu *c)
{
	uint32_t l = c->apic.lvt[LVT_LINT1];
	if (!(c->apic.apic_base & APIC_BASE_EN) || (l & LVT_MASKED))
		return;
	switch ((l >> 8) & 7) {
	case 0: lapic_accept(c, l & 0xff, false); break;
	case 4: emu_wake(c, EV_NMI); break;
	default: break; /* SMI, INIT, ExtINT on LINT1: not modelled */
	}
}

static uint32_t timer_divisor(uint32_t div)
{
	uint32_t v = ((div & 8) >> 1) | (div & 3);
	return v == 7 ? 1 : 2u << v;
}

static unsigned timer_mode(const struct lapic *a)
{
	return (a->lvt[LVT_TIMER] >> 17) & 3;
}

static bool timer_periodic(struct lapic *a)
{
	return timer_mode(a) == TIMER_PERIODIC;
}

/* The TSC the LAPIC's owner reads. While an SVM guest runs, c->tsc_offset
 * includes its VMCB TSC_OFFSET (svm.c), but the LAPIC is the host's: its
 * TSC-deadline is in the host's TSC (else a host deadline compared with
 * an L2 TSC that Linux's KVM starts near 0 would not come for ages). */
static uint64_t guest_tsc(const struct emu_cpu *c)
{
	uint64_t off = c->tsc_offset;
	if (c->svm.guest)
		off -= c->svm.tsc_offset;
	return __builtin_ia32_rdtsc() + off;
}

/* TSC-deadline mode: when to look at the TSC again (host ns), from the
 * TSC ticks still to go. Never 0 while armed (0 means off). */
static void deadline_hint(struct emu_cpu *c, uint64_t now)
{
	struct lapic *a = &c->apic;
	if (!a->tsc_deadline) {
		a->timer_deadline_ns = 0;
		return;
	}
	uint64_t tsc = guest_tsc(c), hz = emu_tsc_hz_early();
	uint64_t ns = 0;
	if (a->tsc_deadline > tsc) {
		unsigned __int128 d = (unsigned __int128)(a->tsc_deadline - tsc) * 1000000000u;
		d = d / hz + 1;
		ns = d > (unsigned __int128)(UINT64_MAX / 2) ? UINT64_MAX / 2 : (uint64_t)d;
	}
	a->timer_deadline_ns = now + ns ? now + ns : 1;
}

uint64_t lapic_tsc_deadline_read(const struct emu_cpu *c)
{
	return timer_mode(&c->apic) == TIMER_DEADLINE ? c->apic.tsc_deadline : 0;
}

void lapic_tsc_deadline_write(struct emu_cpu *c, uint64_t v)
{
	struct lapic *a = &c->apic;
	if (timer_mode(a) != TIMER_DEADLINE)
		return; /* ignored in the other modes (SDM 10.5.4.1) */
	a->tsc_deadline = v;
	uint64_t now = emu_now_ns();
	deadline_hint(c, now);
	lapic_timer_check(c, now); /* a deadline already past fires at once */
}

static void timer_start(struct emu_cpu *c, uint64_t now)
{
	struct lapic *a = &c->apic;
	if (timer_mode(a) == TIMER_DEADLINE) {
		deadline_hint(c, now);
		return;
	}
	if (!a->timer_init) {
		a->timer_deadline_ns = 0;
		return;
	}
	uint64_t period = (uint64_t)a->timer_init * timer_divisor(a->timer_div) * LAPIC_BUS_NS;
	if (timer_periodic(a) && period < MIN_PERIODIC_NS)
		period = MIN_PERIODIC_NS;
	a->timer_period_ns = period;
	a->timer_start_ns = now;
	a->timer_deadline_ns = now + period;
}

/* Snapshots: the timer's time to its next expiry, and the timer armed
 * again with that much left (the period follows from the registers). */
uint64_t lapic_timer_remaining(const struct emu_cpu *c, uint64_t now)
{
	const struct lapic *a = &c->apic;
	if (!a->timer_deadline_ns || timer_mode(a) == TIMER_DEADLINE)
		return 0; /* TSC-deadline: the deadline itself is saved */
	return a->timer_deadline_ns > now ? a->timer_deadline_ns - now : 1;
}

void lapic_timer_resume(struct emu_cpu *c, uint64_t now, uint64_t remaining_ns)
{
	struct lapic *a = &c->apic;
	timer_start(c, now);
	if (timer_mode(a) == TIMER_DEADLINE)
		return;
	if (!a->timer_deadline_ns || !remaining_ns) {
		a->timer_deadline_ns = 0;
		return;
	}
	if (remaining_ns > a->timer_period_ns)
		remaining_ns = a->timer_period_ns;
	a->timer_deadline_ns = now + remaining_ns;
	a->timer_start_ns = a->timer_deadline_ns - a->timer_period_ns;
}

void lapic_timer_check(struct emu_cpu *c, uint64_t now)
{
	struct lapic *a = &c->apic;
	if (!a->timer_deadline_ns || now < a->timer_deadline_ns)
		return;
	if (timer_mode(a) == TIMER_DEADLINE && guest_tsc(c) < a->tsc_deadline) {
		deadline_hint(c, now); /* early by the clocks' rounding: later */
		return;
	}
	if (!(a->lvt[LVT_TIMER] & LVT_MASKED))
		lapic_accept(c, a->lvt[LVT_TIMER] & 0xff, false);
	if (timer_mode(a) == TIMER_DEADLINE) {
		a->tsc_deadline = 0; /* fired: disarmed, the MSR reads 0 */
		a->timer_deadline_ns = 0;
	} else if (timer_periodic(a)) {
		a->timer_deadline_ns += a->timer_period_ns;
		if (a->timer_deadline_ns <= now) /* fell behind: do not storm */
			a->timer_deadline_ns = now + a->timer_period_ns;
		a->timer_start_ns = a->timer_deadline_ns - a->timer_period_ns;
	} else {
		a->timer_deadline_ns = 0;
	}
}

static uint32_t timer_current(struct emu_cpu *c)
{
	struct lapic *a = &c->apic;
	if (!a->timer_deadline_ns || !a->timer_init || timer_mode(a) == TIMER_DEADLINE)
		return 0;
	uint64_t now = emu_now_ns();
	uint64_t per_tick = (uint64_t)timer_divisor(a->timer_div) * LAPIC_BUS_NS;
	uint64_t ticks = (now - a->timer_start_ns) / per_tick;
	uint64_t total = a->timer_period_ns / per_tick;
	/* A periodic count is at least MIN_PERIODIC_NS, more than any divisor,
	 * so total >= 1; checked anyway, as a division by zero here would end
	 * vmon rather than the guest (the divisor changes without a restart). */
	if (ticks >= total)
		return timer_periodic(a) && total ? (uint32_t)(total - ticks % total) : 0;
	return (uint32_t)(total - ticks);
}

uint32_t lapic_read(struct emu_cpu *c, uint32_t off)
{
	struct lapic *a = &c->apic;
	switch (off) {
	case 0x20: return a->id << 24;
	case 0x30: return 0x50014; /* version 0x14, 6 LVT entries */
	case 0x80: return a->tpr;
	case 0x90: return 0;
	case 0xa0: return ppr(a);
	case 0xd0: return a->ldr;
	case 0xe0: return a->dfr;
	case 0xf0: return a->svr;
	case 0x280: return a->esr;
	case 0x300: return a->icr_lo & ~(1u << 12);
	case 0x310: return a->icr_hi;
	case 0x320:
	case 0x330:
	case 0x340:
	case 0x350:
	case 0x360:
	case 0x370: return a->lvt[(off - 0x320) >> 4];
	case 0x380: return a->timer_init;
	case 0x390: return timer_current(c);
	case 0x3e0: return a->timer_div;
	}
	if (off >= 0x100 && off < 0x180)
		return a->isr[(off - 0x100) >> 4];
	if (off >= 0x180 && off < 0x200)
		return atomic_load(&a->tmr[(off - 0x180) >> 4]);
	if (off >= 0x200 && off < 0x280)
		return atomic_load(&a->irr[(off - 0x200) >> 4]);
	return 0;
}

static void lapic_eoi(struct emu_cpu *c)
{
	struct lapic *a = &c->apic;
	int v = highest_bit(a->isr);
	if (v < 0)
		return;
	a->isr[v >> 5] &= ~(1u << (v & 31));
	emu_poke(c);
	if ((atomic_load(&a->tmr[v >> 5]) & (1u << (v & 31))) && c->vm->eoi_broadcast)
		c->vm->eoi_broadcast(c->vm, v);
}

void lapic_write(struct emu_cpu *c, uint32_t off, uint32_t v)
{
	struct lapic *a = &c->apic;
	switch (off) {
	case 0x20: a->id = v >> 24; return;
	case 0x80:
		a->tpr = v & 0xff;
		emu_poke(c);
		return;
	case 0xb0: lapic_eoi(c); return;
	case 0xd0: a->ldr = v & 0xff000000u; return;
	case 0xe0: a->dfr = v | 0x0fffffffu; return;
	case 0xf0:
		a->svr = v & 0x3ff;
		if (!(v & 0x100))
			for (int i = 0; i < 6; i++)
				a->lvt[i] |= LVT_MASKED;
		emu_poke(c);
		return;
	case 0x280: a->esr = 0; return;
	case 0x300:
		a->icr_lo = v & ~(1u << 12);
		lapic_send_icr(c, v, a->icr_hi >> 24);
		return;
	case 0x310: a->icr_hi = v & 0xff000000u; return;
	case 0x320:
	case 0x330:
	case 0x340:
	case 0x350:
	case 0x360:
	case 0x370: {
		int i = (off - 0x320) >> 4;
		static const uint32_t masks[6] = {0x700ff, 0x107ff, 0x107ff,
						  0x1f7ff, 0x1f7ff, 0x100ff};
		uint32_t nv = v & masks[i];
		/* Mode 2 (TSC-deadline) is reserved without the feature. */
		if (i == LVT_TIMER && !cpu_has(&c->vm->features, CPUF_TSC_DEADLINE))
			nv &= ~0x40000u;
		if (!(a->svr & 0x100))
			nv |= LVT_MASKED;
		unsigned was = timer_mode(a);
		a->lvt[i] = nv;
		if (i == LVT_TIMER && was != timer_mode(a)) {
			/* A change to or from TSC-deadline mode disarms. */
			if (was == TIMER_DEADLINE || timer_mode(a) == TIMER_DEADLINE) {
				a->tsc_deadline = 0;
				a->timer_deadline_ns = 0;
			} else {
				timer_start(c, emu_now_ns());
			}
		}
		if (i == LVT_LINT0)
			emu_poke(c);
		return;
	}
	case 0x380:
		if (timer_mode(a) == TIMER_DEADLINE)
			return; /* ignored in TSC-deadline mode */
		a->timer_init = v;
		timer_start(c, emu_now_ns());
		return;
	case 0x3e0: a->timer_div = v & 0xb; return;
	default: return;
	}
}
