/* SPDX-License-Identifier: MIT */
/*
 * Helpers on the software CPU's state alone (cpu.h): the clock, the event
 * word other threads use to reach a vCPU, the host TSC's frequency, the
 * FPU's reset values.
 */
#include <pthread.h>
#include <time.h>

#include "cpu/emu/cpu.h"

uint64_t emu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One (CLOCK_MONOTONIC, TSC) pair: the TSC read halfway through the
 * tightest of a few clock reads, so a preemption does not skew it. */
static void clock_pair(uint64_t *ns, uint64_t *tsc)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 8; i++) {
		uint64_t t0 = __builtin_ia32_rdtsc();
		uint64_t n = emu_now_ns();
		uint64_t t1 = __builtin_ia32_rdtsc();
		if (t1 - t0 < best) {
			best = t1 - t0;
			*ns = n;
			*tsc = t0 + (t1 - t0) / 2;
		}
	}
}

/* The host TSC frequency (the guest reads the host TSC), measured once
 * per process against CLOCK_MONOTONIC over 10 ms (a few ppm), when first
 * needed (CPUID 0x15/0x16, a TSC-deadline write): a restored guest that
 * does neither does not wait for it. pthread_once: every vCPU sees the
 * same figure. */
static uint64_t tsc_hz_value;
static pthread_once_t tsc_hz_once = PTHREAD_ONCE_INIT;

static void tsc_hz_measure(void)
{
	uint64_t n0 = 0, t0 = 0, n1 = 0, t1 = 0;
	clock_pair(&n0, &t0);
	struct timespec ts = {0, 10000000};
	nanosleep(&ts, NULL);
	clock_pair(&n1, &t1);
	uint64_t hz =
		n1 > n0 ? (uint64_t)((unsigned __int128)(t1 - t0) * 1000000000ULL / (n1 - n0)) : 0;
	hz = (hz + 500) / 1000 * 1000; /* whole kHz */
	tsc_hz_value = hz ? hz : 1000000000ULL;
}

uint64_t emu_tsc_hz(void)
{
	pthread_once(&tsc_hz_once, tsc_hz_measure);
	return tsc_hz_value;
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
