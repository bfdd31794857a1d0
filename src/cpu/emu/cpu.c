/* SPDX-License-Identifier: MIT */
/*
 * Helpers on the software CPU's state alone (cpu.h): the clock, the event
 * word other threads use to reach a vCPU, the FPU's reset values.
 */
#include <time.h>

#include "cpu/emu/cpu.h"

uint64_t emu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void emu_wake(struct emu_cpu *c, uint32_t ev)
{
	atomic_fetch_or(&c->events, ev);
	pthread_mutex_lock(&c->sleep_lock);
	pthread_cond_signal(&c->sleep_cond);
	pthread_mutex_unlock(&c->sleep_lock);
}

void emu_fpu_reset_x87(struct emu_cpu *c)
{
	c->fcw = 0x37f;
	c->fsw = 0;
	c->ftw = 0;
	c->fop = 0;
	c->fip = c->fdp = 0;
	memset(c->fpr, 0, sizeof(c->fpr));
}

void emu_fpu_reset(struct emu_cpu *c)
{
	emu_fpu_reset_x87(c);
	c->mxcsr = 0x1f80;
	memset(c->xmm, 0, sizeof(c->xmm));
	memset(c->ymmh, 0, sizeof(c->ymmh));
}
