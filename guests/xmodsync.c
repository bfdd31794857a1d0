/* SPDX-License-Identifier: MIT */
/*
 * xmodsync: cross-modifying code synchronized by an IPI, as Linux's
 * text_poke_bp does it: the writer rewrites code another CPU has run,
 * then interrupts that CPU and waits for its handler; from the handler on,
 * the other CPU must run the new code. Here AP 1 calls f (`mov $r, %eax;
 * ret` in a RAM page; on the software CPU a hot, compiled block) many
 * times, then halts with interrupts on; the BSP rewrites f's immediate to
 * r + 1 and sends AP 1 a fixed IPI, whose handler serializes (CPUID) and
 * calls f before its EOI. Each round the handler must see r + 1. The
 * halt matters: the software CPU once took an interrupt that woke a halted
 * vCPU without starting a new code epoch, so the handler ran the block
 * compiled from the old bytes (the EOI's slow-path visit, later, would
 * have caught up). Rounds where AP 1 was not halted yet when the IPI came
 * test the ordinary path. Other APs (cpus=N) just check in.
 * cmdline: cpus=N (default 2, 2..RT_MAX_CPUS), rounds=R (default 50,
 * 1..200).
 */
#include "rt.h"

#define MAX_WAIT 200000000ull /* polls; bounded waits, no timing asserts */
#define HOT_CALLS 64	      /* calls of f per round: hot enough to compile */
#define SYNC_VECTOR 0x40

/* 0: mov $imm, %eax   b8 01 00 00 00   (the BSP rewrites byte 1)
 * 5: ret              c3 */
static const u8 f_code[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3};

static u8 code_page[4096] __attribute__((aligned(4096)));
static volatile u32 checkins, ap1_apic_id, ready, acked, failed_round, ap_done;
static volatile u32 seen_in_handler;
static u64 ncpus, rounds;

static u32 call_f(void)
{
	u32 eax;
	__asm__ volatile("call *%[f]" : "=a"(eax) : [f] "r"(code_page) : "memory", "cc");
	return eax;
}

static void serialize(void)
{
	u32 a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
}

static void sync_handler(struct rt_frame *f)
{
	(void)f;
	serialize();
	seen_in_handler = call_f(); /* before the EOI (an MMIO write) */
	lapic_eoi();
	acked = ready;
}

static void ap1_rounds(void)
{
	lapic_enable();
	ap1_apic_id = lapic_id();
	for (u32 r = 1; r <= rounds; r++) {
		for (u32 k = 0; k < HOT_CALLS; k++) {
			u32 v = call_f();
			if (v != r) {
				failed_round = r;
				kprintf("FAIL: round %u: f returned %u before the IPI, expected %u\n",
					r, v, r);
				ap_done = 1;
				return;
			}
		}
		cli();
		ready = r;
		/* Wait for the IPI: sti; hlt takes it (in the HLT, or before
		 * it when it came first), cli after. */
		for (u64 w = 0; w < MAX_WAIT && acked != r; w++)
			sti_hlt_cli();
		if (acked != r) {
			failed_round = r;
			kprintf("FAIL: round %u: the sync IPI never came\n", r);
			ap_done = 1;
			return;
		}
		if (seen_in_handler != r + 1) {
			failed_round = r;
			kprintf("FAIL: round %u: the IPI handler's f returned %u, expected the "
				"rewritten %u\n",
				r, seen_in_handler, r + 1);
			ap_done = 1;
			return;
		}
	}
	ap_done = 1;
}

void ap_main(unsigned idx)
{
	if (idx >= ncpus)
		return;
	__atomic_fetch_add(&checkins, 1, __ATOMIC_SEQ_CST);
	if (idx == 1)
		ap1_rounds();
}

void kmain(void)
{
	ncpus = cmdline_get_u64("cpus", 2);
	rounds = cmdline_get_u64("rounds", 50);
	kprintf("xmodsync: cpus=%lu rounds=%lu\n", ncpus, rounds);
	if (ncpus < 2 || ncpus > RT_MAX_CPUS)
		rt_fail("cpus=%lu out of range 2..%d", ncpus, RT_MAX_CPUS);
	if (rounds < 1 || rounds > 200)
		rt_fail("rounds=%lu out of range 1..200", rounds);
	memcpy(code_page, f_code, sizeof(f_code));
	rt_set_irq_handler(SYNC_VECTOR, sync_handler);
	lapic_enable();
	rt_start_aps(0x70000);
	for (u64 w = 0; w < MAX_WAIT && checkins < ncpus - 1; w++)
		cpu_relax();
	if (checkins != ncpus - 1)
		rt_fail("only %u of %lu APs checked in", checkins, ncpus - 1);

	for (u32 r = 1; r <= rounds; r++) {
		u64 w;
		for (w = 0; w < MAX_WAIT && ready != r && !ap_done; w++)
			cpu_relax();
		if (ap_done)
			break;
		if (ready != r)
			rt_fail("round %u: AP 1 never got ready", r);
		/* Give AP 1 time to reach its HLT (how long it takes only
		 * changes which path the round tests). */
		rt_delay(20000);
		__atomic_store_n(&code_page[1], (u8)(r + 1), __ATOMIC_SEQ_CST);
		if (!lapic_send_ipi(ap1_apic_id, 0x00004000 | SYNC_VECTOR))
			rt_fail("round %u: the sync IPI was not delivered (ICR busy)", r);
		for (w = 0; w < MAX_WAIT && acked != r && !ap_done; w++)
			cpu_relax();
		if (acked != r && !ap_done)
			rt_fail("round %u: AP 1's handler never acknowledged", r);
	}
	for (u64 w = 0; w < MAX_WAIT && !ap_done; w++)
		cpu_relax();
	if (failed_round)
		rt_fail("AP 1 ran f's old code in round %u (see above)", failed_round);
	if (!ap_done)
		rt_fail("AP 1 never finished its rounds");
	kprintf("xmodsync: %lu rounds, every IPI handler ran the rewritten code\n", rounds);
	rt_pass();
}
