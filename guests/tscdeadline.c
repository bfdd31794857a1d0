/* SPDX-License-Identifier: MIT */
/*
 * tscdeadline: the LAPIC timer's TSC-deadline mode (SDM vol. 3A 10.5.4.1).
 *  - Without CPUID.1:ECX[24]: prints whether writing IA32_TSC_DEADLINE
 *    (0x6e0) is #GP and passes.
 *  - Outside TSC-deadline mode the MSR reads 0 and ignores writes.
 *  - Armed at TSC+delta: one interrupt, taken when the TSC has passed the
 *    deadline; the MSR then reads 0 (disarmed).
 *  - Writing 0 disarms: deadline A armed and disarmed, then a later B on
 *    another vector: only B's interrupt comes (A's would come first).
 *  - A deadline already past fires; the initial-count register ignores
 *    writes in this mode; leaving the mode disarms.
 * No timing assertions: waits are bounded by the TSC (RT_WAIT_TSC).
 * cmdline: delta=TSC ticks (default 2000000), n=repeats (default 5).
 */
#include "rt.h"

#define MSR_TSC_DEADLINE 0x6e0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_INIT_COUNT 0x380
#define MODE_DEADLINE (2u << 17)
#define VEC_A 0x50
#define VEC_B 0x51

static volatile u64 hits[256];
static volatile u64 fired_tsc, armed_deadline;
static volatile u32 gp_seen;

static bool on_exception(struct rt_frame *f, u64 cr2)
{
	(void)cr2;
	if (f->vector != 13)
		return false;
	gp_seen++;
	f->rip += 2;
	return true;
}

static void on_timer(struct rt_frame *f)
{
	fired_tsc = rdtsc();
	hits[f->vector]++;
	lapic_eoi();
}

static bool wait_hit(u32 vec, u64 want)
{
	u64 t0 = rdtsc();
	while (hits[vec] < want) {
		sti_hlt_cli(); /* the timer wakes the hlt */
		if (rt_waited_too_long(t0))
			return false;
	}
	return true;
}

void kmain(void)
{
	u64 delta = cmdline_get_u64("delta", 2000000), n = cmdline_get_u64("n", 5);
	kprintf("tscdeadline: delta=%lu n=%lu\n", delta, n);
	rt_set_exception_hook(on_exception);
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 24))) {
		kprintf("TSC-deadline not offered\n");
		/* No MSR then: vmon's software CPU raises #GP; KVM and QEMU's
		 * TCG ignore the write (the timer is not in that mode). */
		u32 before = gp_seen;
		wrmsr(MSR_TSC_DEADLINE, 0);
		kprintf("IA32_TSC_DEADLINE: %s\n", gp_seen != before ? "#GP" : "ignored");
		rt_pass();
	}
	lapic_enable();
	rt_set_irq_handler(VEC_A, on_timer);
	rt_set_irq_handler(VEC_B, on_timer);

	/* One-shot mode: the MSR reads 0 and ignores writes. */
	lapic_write(LAPIC_LVT_TIMER, VEC_A);
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + delta);
	if (rdmsr(MSR_TSC_DEADLINE) != 0)
		rt_fail("IA32_TSC_DEADLINE reads non-zero in one-shot mode");

	lapic_write(LAPIC_LVT_TIMER, MODE_DEADLINE | VEC_A);
	if ((lapic_read(LAPIC_LVT_TIMER) & (3u << 17)) != MODE_DEADLINE)
		rt_fail("LVT timer mode 2 did not stick");
	lapic_write(LAPIC_INIT_COUNT, 12345);
	if (lapic_read(LAPIC_INIT_COUNT) != 0)
		rt_fail("initial count 0x%x written in TSC-deadline mode",
			lapic_read(LAPIC_INIT_COUNT));
	for (u64 i = 0; i < n; i++) {
		u64 dl = rdtsc() + delta;
		armed_deadline = dl;
		wrmsr(MSR_TSC_DEADLINE, dl);
		if (!wait_hit(VEC_A, i + 1))
			rt_fail("deadline %lu: no interrupt", i);
		if (fired_tsc < dl)
			rt_fail("deadline %lu: fired at TSC 0x%lx before 0x%lx", i, fired_tsc, dl);
		if (rdmsr(MSR_TSC_DEADLINE) != 0)
			rt_fail("deadline %lu: the MSR reads 0x%lx after firing", i,
				rdmsr(MSR_TSC_DEADLINE));
	}
	kprintf("%lu deadlines fired after their TSC\n", n);

	/* Disarm A, then arm B later on another vector: only B fires. */
	u64 now = rdtsc();
	wrmsr(MSR_TSC_DEADLINE, now + delta);
	wrmsr(MSR_TSC_DEADLINE, 0);
	if (rdmsr(MSR_TSC_DEADLINE) != 0)
		rt_fail("the MSR reads non-zero after writing 0");
	lapic_write(LAPIC_LVT_TIMER, MODE_DEADLINE | VEC_B);
	wrmsr(MSR_TSC_DEADLINE, now + 3 * delta);
	if (!wait_hit(VEC_B, 1))
		rt_fail("no interrupt from the second deadline");
	if (hits[VEC_A] != n)
		rt_fail("the disarmed deadline fired (%lu interrupts on A)", hits[VEC_A]);
	kprintf("disarm ok\n");

	/* A deadline in the past fires. */
	wrmsr(MSR_TSC_DEADLINE, 1);
	if (!wait_hit(VEC_B, 2))
		rt_fail("a past deadline did not fire");

	/* Leaving the mode disarms. */
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + 1000 * delta);
	lapic_write(LAPIC_LVT_TIMER, VEC_B | 0x10000); /* one-shot, masked */
	lapic_write(LAPIC_LVT_TIMER, MODE_DEADLINE | VEC_B);
	if (rdmsr(MSR_TSC_DEADLINE) != 0)
		rt_fail("the deadline survived a mode change");
	kprintf("past deadline and mode change ok\n");
	rt_pass();
}
