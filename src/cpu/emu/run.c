/* SPDX-License-Identifier: MIT */
/*
 * The vCPU run loop: decoded blocks dispatched through their instructions'
 * run-loop handlers (insns.def's OP rows, inline from the insn_*.h
 * families; f_exec reaches every other row's handler through insn.h),
 * native runs entered in between, and everything between blocks:
 * interrupt acceptance, halt and sleep, timers, INIT/SIPI, delivery of
 * exceptions with #DF and triple-fault nesting.
 *
 * Faults: emu_raise() longjmps back here (emu_cpu_run) with the exception
 * recorded; instructions finish every access that can fault before they
 * commit register state, so RIP and registers still describe the
 * faulting instruction.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/guest_mem.h"
#include "core/ratelimit.h"
#include "cpu/emu/cache.h"
#include "cpu/emu/chip_lapic.h"
#include "cpu/emu/chip_pic.h"
#include "cpu/emu/chip_pit.h"
#include "cpu/emu/insn.h"
#include "cpu/emu/insn_alu.h"
#include "cpu/emu/insn_branch.h"
#include "cpu/emu/insn_mov.h"
#include "cpu/emu/insn_muldiv.h"
#include "cpu/emu/insn_shift.h"
#include "cpu/emu/insn_stack.h"
#include "cpu/emu/native.h"
#include "cpu/emu/run.h"
#include "cpu/emu/sys.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- The run loop --------------------------------------------------------------------- */

/* Everything without a form of its own: the row's handler (insn.h). */
static inline __attribute__((always_inline)) void f_exec(struct emu_cpu *c, const struct dinsn *d)
{
	emu_exec_insn(c, d);
}

/* A native run (struct native_hdr): guest flags in only when it reads
 * them; the returned flags are the guest's when the exit says so. */
static inline __attribute__((always_inline)) uint64_t f_native(struct emu_cpu *c,
							       const struct native_hdr *h)
{
	uint64_t in = 0x2; /* reserved bit 1; TF, DF, AC and the rest stay clear */
	if (h->flags_in)
		in |= get_flags(c) & F_ARITH;
	struct native_ret r = h->fn(c->r, in, c->rip);
	if (r.exit & NATIVE_EXIT_FLAGS)
		set_arith(c, r.rflags);
	return r.exit;
}

static bool pic_intr_allowed(struct emu_cpu *c)
{
	if (c->index != 0)
		return false;
	if (!(c->apic.apic_base & 0x800))
		return true;
	uint32_t l0 = c->apic.lvt[3];
	return !(l0 & 0x10000) && ((l0 >> 8) & 7) == 7;
}

/*
 * A new code epoch now, whatever the counters say: code another vCPU (or
 * a device) wrote before it raised what this vCPU is taking is compared
 * before any block runs again. Cross-modifying code on x86 is safe once
 * the executing CPU has taken the writer's interrupt (Linux's
 * text_poke_bp: write, then an IPI to every CPU and wait for its handler):
 * so every event taken and every interrupt delivered starts one, also when
 * it comes after a sleep (HLT, wait-for-SIPI), which the check at the
 * slow path's entry (next_code_epoch) does not see, and when the
 * interrupt is found in the IRR before its event bit is (lapic_accept
 * sets the IRR first).
 */
/*
 * Other vCPUs' stores into pages holding this vCPU's code (mmu.c:
 * emu_code_written) since the last epoch: none (false), or some, whose
 * pages' marks lose this vCPU's bit now -- the caller advances the epoch,
 * so no block of this vCPU there is current any more, and the first that
 * matches again marks its page again. Only the last EMU_XWRITE_HINTS pages
 * are known; the others keep the bit (a store there tells this vCPU again,
 * which costs an epoch, never a missed write).
 */
static bool take_xwrites(struct emu_cpu *c)
{
	uint64_t w = atomic_load_explicit(&c->xwrites, memory_order_acquire);
	if (w == c->xwrites_seen)
		return false;
	if (c->vm->ncpus <= 8 && w - c->xwrites_seen <= EMU_XWRITE_HINTS) {
		uint8_t own = emu_code_bit(c);
		for (unsigned i = 0; i < EMU_XWRITE_HINTS; i++) {
			uint64_t pfn =
				atomic_load_explicit(&c->xwrite_pfn[i], memory_order_relaxed);
			if (pfn && pfn - 1 < c->vm->code_pages_len)
				__atomic_fetch_and(&c->vm->code_pages[pfn - 1], (uint8_t)~own,
						   __ATOMIC_RELAXED);
		}
	}
	c->xwrites_seen = w;
	return true;
}

static void code_epoch_sync(struct emu_cpu *c)
{
	take_xwrites(c);
	c->code_epoch++;
	c->stat_epoch_why[EPOCH_SYNC]++;
}

/* Delivers one external interrupt if one is pending and allowed. Returns
 * true if something was delivered (or woke the vCPU). */
static bool try_interrupt(struct emu_cpu *c)
{
	int vec = lapic_pending(c);
	if (vec >= 0) {
		lapic_ack(c, vec);
		c->halted = false;
		code_epoch_sync(c);
		emu_deliver(c, vec, 0, false, false, c->rip);
		return true;
	}
	if (pic_intr_allowed(c) && c->vm->pic_out) {
		int pv = pic_ack(c->vm);
		if (pv >= 0) {
			c->halted = false;
			code_epoch_sync(c);
			emu_deliver(c, pv, 0, false, false, c->rip);
			return true;
		}
	}
	return false;
}

static bool nmi_ready(const struct emu_cpu *c)
{
	return c->nmi_pending && !c->nmi_blocked && !c->svm.gif_clear; /* GIF = 0 holds NMIs */
}

/* An NMI: vector 2 whatever IF says, before any maskable interrupt;
 * further NMIs wait until the handler's IRET (emu_iret). */
static void deliver_nmi(struct emu_cpu *c)
{
	c->nmi_pending = false;
	c->nmi_blocked = true;
	c->halted = false;
	code_epoch_sync(c);
	emu_deliver(c, EXC_NMI, 0, false, false, c->rip);
	emu_poke(c); /* the next boundary may take an interrupt, if IF allows */
}

static bool irq_possible(struct emu_cpu *c)
{
	if (lapic_pending(c) >= 0)
		return true;
	return pic_intr_allowed(c) && c->vm->pic_out;
}

/* May an external interrupt be taken: RFLAGS.IF, or with SVM in use
 * GIF and, in a guest with V_INTR_MASKING, the host's IF (svm.c). */
static inline bool intr_enabled(const struct emu_cpu *c)
{
	if (unlikely(c->svm.guest || c->svm.gif_clear))
		return svm_intr_allowed(c);
	return (c->flags & F_IF) != 0;
}

static uint64_t next_deadline(struct emu_cpu *c)
{
	uint64_t dl = c->apic.timer_deadline_ns;
	if (c->index == 0) {
		uint64_t p = atomic_load(&c->vm->pit_deadline_ns);
		if (p && (!dl || p < dl))
			dl = p;
	}
	return dl;
}

/*
 * The slow path checks the timers whenever the budget is spent, but only
 * the clock can tell that a deadline passed, and CLOCK_MONOTONIC costs
 * 25-100 ns on the build machines (kvm-clock), the host TSC a third of
 * that: after each check, the TSC value before which the next deadline
 * cannot have passed is kept, and the clock is read only once the TSC is
 * past it, a deadline changed, or TIMER_SKIPS_MAX budgets went by without
 * a reading (which bounds what a wrong estimate can cost). The TSC's rate
 * is learnt from two clock readings at least TSC_CAL_NS apart, each taken
 * between two TSC reads close together (TSC_PAIR_MAX cycles: a preemption
 * in between would skew it), and taken 0.2% fast, so the estimate errs
 * early. Until 2026-12-07 every budget refill read the clock: 13% of a
 * translated loop's time (issue 16).
 */
#define TSC_CAL_NS	200000000ULL
#define TSC_PAIR_MAX	100000ULL
#define TIMER_SKIPS_MAX 16

static void timers_quiet_until(struct emu_cpu *c, uint64_t tsc, uint64_t now, bool good)
{
	if (good && !c->tsc_cal_ns) {
		c->tsc_cal_ns = now;
		c->tsc_cal_tsc = tsc;
	} else if (good && c->tsc_per_ns == 0 && now - c->tsc_cal_ns >= TSC_CAL_NS &&
		   tsc > c->tsc_cal_tsc) {
		c->tsc_per_ns =
			(double)(tsc - c->tsc_cal_tsc) / (double)(now - c->tsc_cal_ns) * 1.002;
	}
	uint64_t dl = next_deadline(c);
	c->timer_seen_dl = dl;
	c->timer_seen_tsc = tsc;
	c->timer_skips = 0;
	c->timer_quiet_tsc = 0;
	if (!dl)
		c->timer_quiet_tsc = UINT64_MAX;
	else if (dl > now && c->tsc_per_ns > 0 && dl - now < 1000000000ULL)
		c->timer_quiet_tsc = tsc + (uint64_t)((double)(dl - now) / c->tsc_per_ns);
}

/* May a timer be due? False only when no deadline changed since the last
 * check and the TSC says the next one has not come (timers_quiet_until). */
static bool timers_maybe_due(struct emu_cpu *c)
{
	if (next_deadline(c) != c->timer_seen_dl || (c->index == 0 && c->vm->pit_pending) ||
	    ++c->timer_skips >= TIMER_SKIPS_MAX)
		return true;
	uint64_t tsc = __builtin_ia32_rdtsc();
	return tsc >= c->timer_quiet_tsc || tsc < c->timer_seen_tsc;
}

static void check_timers(struct emu_cpu *c)
{
	uint64_t tsc = __builtin_ia32_rdtsc(); /* first: errs early */
	uint64_t now = emu_now_ns();
	uint64_t tsc2 = __builtin_ia32_rdtsc();
	lapic_timer_check(c, now);
	if (c->index == 0)
		pit_check(c->vm, now);
	timers_quiet_until(c, tsc, now, tsc2 - tsc < TSC_PAIR_MAX);
}

static void handle_init(struct emu_cpu *c)
{
	if (c->index == 0)
		return; /* INIT to the BSP is not modelled */
	uint64_t apic_base = c->apic.apic_base;
	uint32_t id = c->apic.id;
	emu_reset(c);
	lapic_reset(c, false);
	c->apic.apic_base = apic_base;
	c->apic.id = id;
	lapic_derive_ldr(c); /* INIT keeps x2APIC mode */
	c->nmi_pending = c->nmi_blocked = false;
	c->wait_sipi = true;
}

static void handle_sipi(struct emu_cpu *c)
{
	if (!c->wait_sipi)
		return;
	uint32_t vec = atomic_load(&c->sipi_vector) & 0xff;
	c->wait_sipi = false;
	c->halted = false;
	emu_load_seg(c, SEG_CS, (uint16_t)(vec << 8));
	c->rip = 0;
	emu_update_mode(c);
}

/* Sleeps until an event arrives or the timer deadline passes. */
static void sleep_until_event(struct emu_cpu *c)
{
	uint64_t dl = c->wait_sipi ? 0 : next_deadline(c);
	uint64_t t0 = emu_now_ns();
	c->stat_sleeps++;
	pthread_mutex_lock(&c->sleep_lock);
	while (!atomic_load(&c->events) && !vmctl_stopping(&c->m->ctl)) {
		if (dl) {
			uint64_t now = emu_now_ns();
			if (now >= dl)
				break;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t wait = dl - now;
			ts.tv_sec += wait / 1000000000ULL;
			ts.tv_nsec += wait % 1000000000ULL;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&c->sleep_cond, &c->sleep_lock, &ts);
		} else {
			pthread_cond_wait(&c->sleep_cond, &c->sleep_lock);
		}
	}
	pthread_mutex_unlock(&c->sleep_lock);
	c->stat_sleep_ns += emu_now_ns() - t0;
}

static bool df_class(int prev, int vec)
{
	bool contrib_prev = prev == 0 || (prev >= 10 && prev <= 13);
	bool contrib_vec = vec == 0 || (vec >= 10 && vec <= 13);
	if (prev == EXC_PF)
		return vec == EXC_PF || contrib_vec;
	return contrib_prev && contrib_vec;
}

static void handle_fault(struct emu_cpu *c)
{
	int vec = c->pending_exc;
	uint32_t err = c->pending_err;
	bool has_err = c->pending_has_err;
	c->pending_exc = -1;
	if (vec < 0)
		return;
	c->lf_op = c->lf_op; /* flags stay lazy; delivery materialises them */
	/* In an SVM guest, an intercepted exception is a #VMEXIT (svm.c). */
	if (unlikely(c->svm.guest))
		svm_exception(c, vec, err, has_err, c->delivering);
	if (c->delivering >= 0) {
		int prev = c->delivering;
		if (prev == EXC_DF) {
			if (unlikely(c->svm.guest))
				svm_shutdown(c); /* #VMEXIT(SHUTDOWN) if intercepted */
			char text[128];
			emu_format_insn(c, c->rip, text, sizeof(text));
			guest_log("emu: cpu%d: triple fault (exception %d while delivering #DF) at "
				  "rip=%#llx: %s",
				  c->index, vec, (unsigned long long)c->rip, text);
			c->delivering = -1;
			vmctl_request_stop(&c->m->ctl, VM_STOP_TRIPLE_FAULT, 1);
			return;
		}
		if (df_class(prev, vec)) {
			vec = EXC_DF;
			err = 0;
			has_err = true;
			if (unlikely(c->svm.guest))
				svm_exception(c, vec, err, has_err, -1);
		}
	}
	c->delivering = vec;
	emu_deliver(c, vec, err, has_err, false, c->rip);
	c->delivering = -1;
}

/*
 * The budget: the run loop's slow path (timers, the code epoch, migration's
 * TLB flush) comes at the latest when it is spent. An interpreted
 * instruction costs INTERP_COST, one run as translated code 1, so the
 * slow path comes every 1024 interpreted instructions (as before
 * 2026-12-07, when every instruction cost 1) or every 16384 compiled ones
 * (each 4-16 times faster: a few µs either way): a translated loop left
 * for the run loop every 1024 instructions, which with the timer check
 * was a third of its time (issue 16). Events (interrupts, kicks, stop and pause requests) do not
 * wait for it: translated code checks them at every exit and loop
 * iteration.
 */
#define BUDGET_QUANTUM 16384
#define INTERP_COST    16
/* One slow-path visit in this many advances the code epoch anyway. */
#define QUIET_EPOCH_VISITS 64

/*
 * Code written by another vCPU or by a device becomes visible at the
 * slow path: the code epoch advances and blocks are compared with guest
 * memory again before they run (a chained entry leaves for the run loop
 * until its block is). A new epoch also unlinks every chain in effect, so
 * it advances only where code may have changed: an event taken or an
 * interrupt delivered (code_epoch_sync: a device's completion, an IPI, a
 * kick, INIT/SIPI), an exception (emu_cpu_run), another vCPU's store into
 * a page holding this vCPU's code since the last visit (take_xwrites),
 * and every QUIET_EPOCH_VISITS-th other visit (timer checks, port and MMIO
 * accesses, STI...): device DMA into code with no interrupt to this vCPU
 * is seen within 64 such visits. Own stores into code advance it at once
 * (mmu.h: emu_note_write).
 */
static void next_code_epoch(struct emu_cpu *c)
{
	bool x = take_xwrites(c);
	if (!x && ++c->quiet_visits % QUIET_EPOCH_VISITS)
		return;
	c->stat_epoch_why[x ? EPOCH_XWRITE : EPOCH_QUIET]++;
	c->code_epoch++;
}

static bool slow_path(struct emu_cpu *c)
{
	struct machine *m = c->m;
	next_code_epoch(c);
	if (unlikely(c->stats))
		c->stat_slow++;
	for (;;) {
		c->slow = false;
		if (vmctl_stopping(&m->ctl))
			return false;
		/* Migration's dirty log: drop every TLB entry, so the next
		 * store to each page fills (and marks) again (mmu.c). */
		uint32_t gen = atomic_load(&c->vm->tlb_gen);
		if (gen != atomic_load_explicit(&c->tlb_ack, memory_order_relaxed)) {
			tlb_flush(c);
			atomic_store(&c->tlb_ack, gen);
		}
		if (vmctl_pause_requested(&m->ctl)) {
			/* Between blocks the vCPU's state is whole: park. */
			atomic_store(&c->parked, true);
			vmctl_park(&m->ctl);
			atomic_store(&c->parked, false);
			continue;
		}
		uint32_t ev = atomic_load_explicit(&c->events, memory_order_relaxed)
				      ? atomic_exchange(&c->events, 0)
				      : 0;
		if (ev) {
			code_epoch_sync(c); /* maybe after a sleep below */
			if (ev & EV_INIT)
				handle_init(c);
			if (ev & EV_SIPI)
				handle_sipi(c);
			if (ev & EV_NMI)
				c->nmi_pending = true;
			c->irq_maybe = true;
		}
		if (c->budget <= 0) {
			c->budget = BUDGET_QUANTUM;
			if (timers_maybe_due(c))
				check_timers(c);
		}
		if (c->wait_sipi) {
			sleep_until_event(c);
			continue;
		}
		if (c->halted) {
			check_timers(c);
			if (nmi_ready(c) || (intr_enabled(c) && irq_possible(c)) ||
			    (unlikely(c->svm.guest) && svm_virq_pending(c))) {
				c->halted = false;
				c->irq_maybe = true;
			} else {
				sleep_until_event(c);
				continue;
			}
		}
		if (c->irq_shadow) {
			/* STI / MOV SS: one more instruction first, then look again. */
			c->irq_shadow = 0;
			c->slow = true;
			return true;
		}
		if (nmi_ready(c)) {
			/* An SVM guest's intercepted NMI exits and stays pending
			 * for the host, which GIF = 0 then holds (APM 15.21.2). */
			if (unlikely(c->svm.guest) && (c->svm.icpt_insn3 & (1u << SVM_I3_NMI)))
				svm_vmexit_jump(c, SVM_EXIT_NMI, 0, 0);
			deliver_nmi(c);
			return true;
		}
		if (unlikely(c->svm.guest) &&
		    svm_guest_events(c, c->irq_maybe && intr_enabled(c) && irq_possible(c)))
			return true; /* a virtual interrupt delivered (or a #VMEXIT) */
		if (c->irq_maybe && intr_enabled(c)) {
			if (!try_interrupt(c))
				c->irq_maybe = false;
		}
		return true;
	}
}

/* After chained blocks (a jump-cache exit may change pages), the page of
 * the block the run loop goes on with, for emu_note_write's check that a
 * store ends a block that rewrote itself: from the TLB, where its fetch
 * left it; should it be gone, the block ends after its next FULL
 * instruction. Translated blocks are 64-bit code (CS base 0). */
static void exec_page_of(struct emu_cpu *c)
{
	const struct tlb_entry *e = &c->tlb[(c->rip >> 12) & (TLB_SIZE - 1)];
	if (e->key == tlb_key(c, c->rip) && e->host) {
		c->exec_page = e->host;
	} else {
		c->exec_page = NULL;
		c->slow = true;
	}
}

/* A FULL handler (insns.def) may branch, write memory (a write into the
 * running block's page sets c->slow) or want the slow path: the block
 * ends when RIP left the straight line or c->slow is set. */
#define FULL_CODE(name)                                                                            \
	L_##name : name(c, d);                                                                     \
	c->rip = c->next_rip;                                                                      \
	d++;                                                                                       \
	if (unlikely(c->slow || c->rip != seq) || d == end)                                        \
		goto block_done;                                                                   \
	seq = (c->rip + d->len) & mask;                                                            \
	c->next_rip = seq;                                                                         \
	goto *(void *)d->label;
/* A PURE handler and a flagless twin only read memory and write
 * registers: nothing to check but the block's end. */
#define PURE_CODE(name)                                                                            \
	L_##name : name(c, d);                                                                     \
	c->rip = seq;                                                                              \
	if (++d == end)                                                                            \
		goto block_done;                                                                   \
	seq = (seq + d->len) & mask;                                                               \
	c->next_rip = seq;                                                                         \
	goto *(void *)d->label;

/* One instruction on its own while TF or a breakpoint is on
 * (sys_debug.c): an instruction breakpoint's #DB fault before it (unless
 * RF), RF cleared after it (but by an IRET, which loads it), and one #DB
 * trap after it for TF (DR6.BS) and the data and I/O breakpoints it hit
 * (DR6.B0-3), unless it delivered an event itself (INT n, INT3, INT1:
 * their handler runs first) or was a MOV SS / POP SS. */
static void step_one(struct emu_cpu *c)
{
	uint64_t fl = c->flags; /* TF and RF are never lazy */
	c->link_site = 0;
	c->exec_page = NULL;
	if (c->dbg_on && !(fl & F_RF))
		emu_dbg_check_insn(c);
	const struct dinsn *d = emu_fetch_decode(c);
	c->next_rip = c->rip + d->len;
	if (c->cmode != 8)
		c->next_rip &= c->cmode == 4 ? 0xffffffffULL : 0xffffULL;
	uint32_t delivered = c->deliveries;
	c->dbg_hits = 0;
	emu_exec_insn(c, d);
	c->rip = c->next_rip;
	c->icount++;
	c->budget -= INTERP_COST;
	if (unlikely(c->budget <= 0))
		c->slow = true;
	if (d->row != I_IRET && d->row != I_IRETD && d->row != I_IRETQ)
		c->flags &= ~(uint64_t)F_RF;
	if (c->deliveries != delivered || c->halted)
		return; /* its handler runs first; after HLT the trap would wait: not modelled */
	/* MOV SS / POP SS hold debug traps off for one instruction (as
	 * QEMU: the trap after the next one reports both). STI does not. */
	if (c->irq_shadow && d->row != I_STI)
		return;
	bool trap = false;
	uint8_t enabled = 0;
	for (int i = 0; i < 4; i++)
		if ((c->dr[7] >> (2 * i)) & 3)
			enabled |= (uint8_t)(1u << i);
	if (c->dbg_hits & enabled) { /* data and I/O breakpoints: traps */
		c->dr[6] = (c->dr[6] & ~0xfULL) | c->dbg_hits;
		trap = true;
	}
	if (fl & F_TF) {
		c->dr[6] |= DR6_BS;
		trap = true;
	}
	if (trap) {
		emu_deliver(c, EXC_DB, 0, false, false, c->rip);
		emu_poke(c);
	}
}

/* Runs blocks until the slow path is wanted (returns true) or the VM
 * stops (false). A fault longjmps out of here to emu_cpu_run. */
static bool run_blocks(struct emu_cpu *c)
{
	static const void *const op_labels[FOP_COUNT] = {
#define OP(name, kind, twin, attr) [FOP_##name] = &&L_##name,
#include "cpu/emu/insns.def"
	};
	const struct dblock *prev = NULL;
	bool classify = false; /* stats: the last chain exit came back with nothing pending */
	emu_op_labels = op_labels;
	for (;;) {
		if (unlikely(c->slow || atomic_load_explicit(&c->events, memory_order_relaxed))) {
			/* An interrupt, INIT/SIPI or a restored state moves RIP:
			 * the exit that left is not where the next block is. */
			c->link_site = 0;
			if (!slow_path(c))
				return false;
		}
		if (unlikely((c->flags & F_TF) || c->dbg_on)) {
			step_one(c);
			prev = NULL;
			continue;
		}
		const struct dblock *b = emu_block(c, prev);
		if (unlikely(c->stats))
			c->stat_lookups++;
		if (b && unlikely(b->runs < c->native_hot)) {
			struct dblock *w = (struct dblock *)b;
			if (++w->runs == c->native_hot)
				emu_native_block(c, w);
		}
		if (unlikely(c->link_site)) { /* a translated block left: chain it to b */
			enum emu_exit_why why = emu_native_link(c, b);
			if (unlikely(classify))
				c->stat_exit_why[why]++;
		}
		classify = false;
		prev = b;
		c->exec_page = b ? c->fetch_host : NULL;
		if (unlikely(!b)) {
			/* One instruction on its own (straddles a page), or #UD. */
			const struct dinsn *d = emu_fetch_decode(c);
			c->next_rip = c->rip + d->len;
			if (c->cmode != 8)
				c->next_rip &= c->cmode == 4 ? 0xffffffffULL : 0xffffULL;
			emu_exec_insn(c, d);
			c->rip = c->next_rip;
			c->icount++;
			c->budget -= INTERP_COST;
			if (unlikely(c->budget <= 0))
				c->slow = true;
			continue;
		}
		/* The block runs until its end, a jump away from the straight
		 * line, or something that wants the slow path (an instruction
		 * that changes the interrupt state sets c->slow; a fault
		 * longjmps out). Interrupts are taken between blocks. */
		const struct dinsn *d = b->insn, *end = d + b->n;
		uint64_t mask = c->cmode == 8 ? ~0ULL : c->cmode == 4 ? 0xffffffffULL : 0xffffULL;
		uint64_t seq = (c->rip + d->len) & mask;
		c->budget -= b->n * INTERP_COST;
		c->next_rip = seq;
		/* Threaded dispatch: each handler ends with its own jump to the
		 * next one, which the host's branch predictor learns per site. */
		goto *(void *)d->label;
		/* One label per run-loop handler (insns.def's OP rows), each
		 * followed by its own dispatch of the next instruction; the
		 * order of the kinds is the code layout. */
#define OP(name, kind, twin, attr) RUN_##kind(name)
#define RUN_FULL(name)		   FULL_CODE(name)
#define RUN_PURE(name)		   /* below */
#define RUN_NF(name)		   /* below */
#define RUN_NATIVE(name)	   /* after them */
#include "cpu/emu/insns.def"
#undef RUN_FULL
#undef RUN_PURE
#define RUN_FULL(name)		   /* above */
#define RUN_PURE(name)		   PURE_CODE(name)
#define OP(name, kind, twin, attr) RUN_##kind(name)
#include "cpu/emu/insns.def"
#undef RUN_PURE
#undef RUN_NF
#define RUN_PURE(name)		   /* above */
#define RUN_NF(name)		   PURE_CODE(name)
#define OP(name, kind, twin, attr) RUN_##kind(name)
#include "cpu/emu/insns.def"
#undef RUN_FULL
#undef RUN_PURE
#undef RUN_NF
#undef RUN_NATIVE
	L_f_native : {
		/* A native run from d (native.c): its instructions run as host
		 * code up to the end, or up to one the interpreter must do
		 * (a TLB miss, MMIO, ...), where it takes over. */
		const struct native_hdr *h = (const void *)(c->native_rx + ((size_t)d->imm2 << 8));
		if (h->chain_off && h->cpl == c->cpl)
			goto native_block;
		uint64_t ex = 0;
		if (__builtin_expect(h->cpl == c->cpl, 1))
			ex = f_native(c, h);
		unsigned k = (unsigned)(ex & 0xff);
		c->native_insns += k;
		if (k == h->n) {
			d += k;
			c->rip = (c->rip + h->bytes) & mask;
			if (ex & NATIVE_EXIT_TAKEN) /* a final JMP/Jcc: d[-1] */
				c->rip = (c->rip + (uint64_t)d[-1].imm) & mask;
			if (d == end)
				goto block_done;
		} else {
			c->native_bails++;
			for (unsigned i = 0; i < k; i++)
				c->rip += d[i].len;
			c->rip &= mask;
			d += k;
		}
		seq = (c->rip + d->len) & mask;
		c->next_rip = seq;
		goto *(k == 0 ? emu_op_labels[d->fop] : d->label);
	}
	native_block : {
		/* A translated block (native_chain.c), maybe followed by
		 * others it chained to: each counts itself and moves c->rip;
		 * a bail-out names its block (c->native_at). */
		c->budget += b->n * INTERP_COST;
		/* c->slow is never set here (the loop's head took it), but
		 * should it be, no exit links on: each leaves when the budget
		 * is spent. */
		if (unlikely(c->slow))
			c->budget = 0;
		if (unlikely(c->stats))
			c->stat_tb_enter++;
		int before = c->budget;
		uint64_t ex = f_native(c, (const void *)(c->native_rx + ((size_t)d->imm2 << 8)));
		/* Compiled code counts only the budget: every block it
		 * finished (a chain's exits, a self-loop's iterations) took
		 * its instructions from it, so the budget used is the number
		 * of guest instructions run as host code (a bail-out's block
		 * is counted below, by the interpreter). */
		uint64_t done = (uint64_t)(int64_t)(before - c->budget);
		c->icount += done;
		c->native_insns += done;
		const struct native_hdr *x = c->native_at;
		if (x->block != b) /* it chained, maybe into another page */
			exec_page_of(c);
		b = x->block;
		prev = b;
		if (ex & NATIVE_EXIT_CHAIN) {
			if (unlikely(c->stats)) {
				c->stat_tb_chain++;
				if (c->budget > 0 && !c->slow &&
				    !atomic_load_explicit(&c->events, memory_order_relaxed)) {
					c->stat_tb_unlinked++;
					/* The chained entry of x refused (its epoch
					 * check), or an exit of x found no link. */
					if (x->block->checked != c->code_epoch)
						c->stat_exit_why[EXIT_EPOCH]++;
					else if (!c->link_site)
						c->stat_exit_why[EXIT_LINK_NONE]++;
					else
						classify = true;
				}
			}
			if (unlikely(c->budget <= 0))
				c->slow = true;
			continue;
		}
		unsigned k = (unsigned)(ex & 0xff);
		c->link_site = 0; /* an exit it chained through is not where b ends */
		c->native_insns += k;
		c->native_bails++;
		c->budget -= b->n * INTERP_COST;
		d = b->insn;
		end = d + b->n;
		for (unsigned i = 0; i < k; i++)
			c->rip += d[i].len;
		d += k;
		seq = c->rip + d->len;
		c->next_rip = seq;
		goto *emu_op_labels[d->fop];
	}
	block_done:
		c->icount += (uint64_t)(d - b->insn);
		if (unlikely(c->stats)) {
			c->stat_interp++;
			c->stat_end_row[d[-1].row]++;
			emu_stats_hot_interp(c, b, d);
		}
		if (unlikely(c->budget <= 0))
			c->slow = true;
	}
}

/* c->native_recheck (cpu.h): a chained entry's block, not confirmed in
 * this code epoch, compared with guest memory as a lookup would
 * (dblock_current, which marks it current and its page as code). */
static uint64_t native_recheck(struct emu_cpu *c, const void *block)
{
	const struct dblock *b = block;
	const uint8_t *g = gm_ptr_nolog(&c->m->mem, b->tag >> 4, b->nbytes);
	bool ok = g && dblock_current(c, b, g);
	c->stat_rechecks[ok]++;
	return ok;
}

void emu_cpu_run(struct emu_cpu *c)
{
	c->native_recheck = native_recheck;
	c->delivering = -1;
	c->pending_exc = -1;
	c->irq_maybe = true;
	c->slow = true;
	c->budget = BUDGET_QUANTUM;
	c->link_site = 0;
	if (setjmp(c->fault_jmp)) {
		c->link_site = 0; /* delivery moved RIP (a fault while fetching the next block) */
		c->code_epoch++;  /* an exception: code may have changed (next_code_epoch) */
		c->stat_epoch_why[EPOCH_EXC]++;
		handle_fault(c);
		emu_poke(c);
	}
	run_blocks(c);
}
