/* SPDX-License-Identifier: MIT */
/*
 * nmi: NMIs through the local APIC (ICR delivery mode NMI, self).
 *  - An NMI self-IPI with IF=0 is taken (vector 2) at once.
 *  - In the handler a second NMI and a fixed self-IPI are sent: neither
 *    is taken before the handler's IRET (NMI blocking; IF=0); after the
 *    IRET, with both pending and IF=1, the NMI comes first, then the
 *    fixed interrupt (NMI over maskable interrupts).
 *  - The order of events is printed and checked.
 * cmdline: rounds=N (default 3).
 */
#include "rt.h"

#define VEC_FIXED 0x60
#define ICR_SELF (1u << 18)
#define ICR_NMI (4u << 8)
#define MAX_EV 64

static volatile char events[MAX_EV];
static volatile u32 nev, nmis, in_nmi;
static volatile u32 round_no;

static void note(char e)
{
	if (nev < MAX_EV)
		events[nev] = e;
	nev++;
}

static bool on_exception(struct rt_frame *f, u64 cr2)
{
	(void)cr2;
	if (f->vector != 2)
		return false;
	if (in_nmi)
		note('!'); /* nested: blocking failed */
	in_nmi = 1;
	nmis++;
	note('N');
	if (nmis % 2 == 1) {
		/* First NMI of a round: a second NMI and a fixed interrupt,
		 * both to be held until the IRET. */
		lapic_write(LAPIC_ICR_LO, ICR_SELF | VEC_FIXED);
		lapic_write(LAPIC_ICR_LO, ICR_SELF | ICR_NMI);
		for (int i = 0; i < 10000; i++)
			cpu_relax();
		note('.');
	}
	in_nmi = 0;
	return true;
}

/* events[start..start+n) as a string (at most MAX_EV characters). */
static const char *seq(u32 start, u32 n)
{
	static char buf[MAX_EV + 1];
	u32 k = 0;
	for (u32 i = start; i < start + n && i < MAX_EV; i++)
		buf[k++] = events[i];
	buf[k] = 0;
	return buf;
}

static void on_fixed(struct rt_frame *f)
{
	(void)f;
	note('F');
	lapic_eoi();
}

void kmain(void)
{
	u64 rounds = cmdline_get_u64("rounds", 3);
	kprintf("nmi: rounds=%lu\n", rounds);
	if (rounds < 1 || rounds > 10)
		rt_fail("rounds=%lu: 1..10", rounds);
	rt_set_exception_hook(on_exception);
	rt_set_irq_handler(VEC_FIXED, on_fixed);
	lapic_enable();
	for (u64 r = 0; r < rounds; r++) {
		u32 start = nev;
		cli();
		lapic_write(LAPIC_ICR_LO, ICR_SELF | ICR_NMI);
		/* IF=0: the NMI comes anyway, with its nested pair held back
		 * until its IRET; then the second NMI (IF is 1 after the IRET
		 * only if it was 1 before, so here the fixed one waits). */
		u64 t0 = rdtsc();
		while (nmis < 2 * (r + 1) && !rt_waited_too_long(t0))
			cpu_relax();
		if (nmis < 2 * (r + 1))
			rt_fail("round %lu: %u NMIs", r, nmis);
		note('|');
		sti();
		for (int i = 0; i < 1000; i++)
			cpu_relax();
		cli();
		u32 want_len = 5;
		const char want[] = "N.N|F";
		if (nev - start != want_len || memcmp((const void *)&events[start], want, 5) != 0)
			rt_fail("round %lu: events '%s', expected '%s'", r, seq(start, nev - start),
				want);
	}
	/* With IF=1 throughout: NMI, then at its IRET both pending, NMI first. */
	u32 start = nev;
	sti();
	lapic_write(LAPIC_ICR_LO, ICR_SELF | ICR_NMI);
	u64 t0 = rdtsc();
	while (nev - start < 4 && !rt_waited_too_long(t0))
		cpu_relax();
	cli();
	const char want[] = "N.NF";
	if (nev - start != 4 || memcmp((const void *)&events[start], want, 4) != 0)
		rt_fail("IF=1: events '%s', expected '%s'", seq(start, nev - start), want);
	kprintf("events: %s\n", seq(0, nev));
	rt_pass();
}
