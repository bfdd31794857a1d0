/* SPDX-License-Identifier: MIT */
/*
 * Helpers on the software CPU's state alone (cpu.h): the clock, the event
 * word other threads use to reach a vCPU, the host TSC's frequency, the
 * FPU's reset values.
 */
#include <pthread.h>
#include <stdatomic.h>
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
 * per process against CLOCK_MONOTONIC over at least 10 ms (a few ppm).
 * The measurement starts when the backend is made (emu_tsc_hz_start) and
 * ends when the figure is first needed (CPUID 0x15/0x16): by then the
 * 10 ms have usually passed, and nobody waits. A TSC-deadline timer armed
 * sooner (a restored LAPIC, a guest's first deadline write) takes
 * emu_tsc_hz_early's provisional figure instead of waiting. Every vCPU
 * sees the same final figure. */
#define TSC_HZ_INTERVAL_NS 10000000ULL
#define TSC_HZ_EARLY_NS	   1000000ULL

static _Atomic uint64_t tsc_hz_value; /* 0 until measured */
static uint64_t tsc_hz_n0, tsc_hz_t0; /* the first pair, once taken */
static pthread_once_t tsc_hz_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t tsc_hz_lock = PTHREAD_MUTEX_INITIALIZER;

static void tsc_hz_first_pair(void)
{
	clock_pair(&tsc_hz_n0, &tsc_hz_t0);
}

void emu_tsc_hz_start(void)
{
	pthread_once(&tsc_hz_once, tsc_hz_first_pair);
}

/* Sleeps until at least min_ns have passed since the first pair (a
 * vCPU's kick signal may cut a sleep short). */
static void tsc_hz_wait(uint64_t min_ns)
{
	uint64_t until = tsc_hz_n0 + min_ns;
	for (uint64_t now = emu_now_ns(); now < until; now = emu_now_ns()) {
		struct timespec ts = {.tv_sec = (time_t)((until - now) / 1000000000ULL),
				      .tv_nsec = (long)((until - now) % 1000000000ULL)};
		nanosleep(&ts, NULL);
	}
}

/* The TSC rate over the time since the first pair, which must have been
 * taken. */
static uint64_t tsc_hz_since_start(void)
{
	uint64_t n1 = 0, t1 = 0;
	clock_pair(&n1, &t1);
	return n1 > tsc_hz_n0 && t1 > tsc_hz_t0 ? (uint64_t)((unsigned __int128)(t1 - tsc_hz_t0) *
							     1000000000ULL / (n1 - tsc_hz_n0))
						: 0;
}

uint64_t emu_tsc_hz(void)
{
	uint64_t v = atomic_load(&tsc_hz_value);
	if (v)
		return v;
	emu_tsc_hz_start();
	pthread_mutex_lock(&tsc_hz_lock);
	v = atomic_load(&tsc_hz_value);
	if (!v) {
		tsc_hz_wait(TSC_HZ_INTERVAL_NS);
		uint64_t hz = (tsc_hz_since_start() + 500) / 1000 * 1000; /* whole kHz */
		v = hz ? hz : 1000000000ULL;
		atomic_store(&tsc_hz_value, v);
	}
	pthread_mutex_unlock(&tsc_hz_lock);
	return v;
}

uint64_t emu_tsc_hz_early(void)
{
	uint64_t v = atomic_load(&tsc_hz_value);
	if (v)
		return v;
	emu_tsc_hz_start();
	if (emu_now_ns() >= tsc_hz_n0 + TSC_HZ_INTERVAL_NS)
		return emu_tsc_hz(); /* measured in full, without a wait */
	tsc_hz_wait(TSC_HZ_EARLY_NS);
	uint64_t hz = tsc_hz_since_start();
	/* Over 1 ms the clock pairs' jitter is well under 0.1%: a rate that
	 * much higher turns TSC ticks into fewer ns, never more. */
	return hz ? hz + hz / 1000 : 1000000000ULL;
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
