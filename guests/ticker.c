/* SPDX-License-Identifier: MIT */
/*
 * ticker: a clock-driven counter for the pause/resume tests. The LAPIC
 * timer runs periodic (vector 0x40, divide by 16, initial count `count`,
 * default 200000); every `every` interrupts (default 30) the guest prints
 * "tick N" (N = 1, 2, ...) and halts again in between, so it costs the
 * host almost nothing while it waits. After `ticks` lines (default 0:
 * never) it passes. While its vCPU is parked no interrupt is taken and no
 * line appears; after a resume the count goes on from where it was.
 */
#include "rt.h"

#define VEC_LAPIC 0x40

static volatile u64 lapic_ticks;

static void on_lapic(struct rt_frame *f)
{
	(void)f;
	lapic_ticks++;
	lapic_eoi();
}

void kmain(void)
{
	u32 count = (u32)cmdline_get_u64("count", 200000);
	u64 every = cmdline_get_u64("every", 30);
	u64 ticks = cmdline_get_u64("ticks", 0);
	kprintf("ticker: count=%u every=%lu ticks=%lu\n", count, every, ticks);
	if (!count || !every)
		rt_fail("count and every must be non-zero");
	cli();
	pic_mask_all();
	lapic_enable();
	rt_set_irq_handler(VEC_LAPIC, on_lapic);
	lapic_write(LAPIC_TIMER_DIV, 0x3); /* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, VEC_LAPIC | (1u << 17)); /* periodic */
	lapic_write(LAPIC_TIMER_INIT, count);
	u64 printed = 0, next = every;
	for (;;) {
		sti_hlt_cli();
		if (lapic_ticks < next)
			continue;
		/* One line per `every` interrupts taken, however late: a tick
		 * is a step of the guest's own clock, never a catch-up burst. */
		next = lapic_ticks + every;
		kprintf("tick %lu\n", ++printed);
		if (ticks && printed >= ticks)
			rt_pass();
	}
}
