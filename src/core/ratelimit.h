/* SPDX-License-Identifier: MIT */
/*
 * Rate-limited messages for anything a guest can trigger.
 *
 * A guest that loops on a mistake (device resets, bad descriptors, NMI
 * storms...) must not be able to flood the host's logs. Every message on a
 * guest-reachable path goes through guest_log(), which keeps one budget per
 * call site: at most RL_BURST messages per RL_INTERVAL_MS window; what is
 * dropped is counted, and the next message that gets through says how many
 * similar ones were suppressed.
 *
 * Thread-safety: a struct ratelimit may be hit from any thread (vCPUs, I/O
 * threads); its state is updated under a small per-site lock, and the
 * message itself is written with one fprintf() (stdio locks the stream).
 */
#ifndef VMON_CORE_RATELIMIT_H
#define VMON_CORE_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define RL_BURST       10
#define RL_INTERVAL_MS 5000

struct ratelimit {
	pthread_mutex_t lock;
	uint64_t window_start_ms; /* CLOCK_MONOTONIC */
	unsigned printed;	  /* in this window */
	uint64_t suppressed;	  /* since the last message that got through */
};

#define RATELIMIT_INIT                                                                             \
	{                                                                                          \
		.lock = PTHREAD_MUTEX_INITIALIZER                                                  \
	}

/* Decides whether one more message may be printed now. Returns true if so,
 * and stores in *suppressed how many were dropped since the last one that
 * got through (0 if none). now_ms is the caller's CLOCK_MONOTONIC time in
 * milliseconds (a parameter so unit tests can drive the clock). */
bool ratelimit_allow(struct ratelimit *rl, uint64_t now_ms, uint64_t *suppressed);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t ratelimit_now_ms(void);

/* Prints "vmon: <msg>" (plus " (N similar messages suppressed)" when some
 * were dropped) to out, if rl allows it now. */
void ratelimit_print(struct ratelimit *rl, FILE *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* guest_log(fmt, ...): a rate-limited "vmon: ..." line on stderr with a
 * budget of its own for each call site. Use it for every message a guest
 * can cause. */
#define guest_log(...)                                                                             \
	do {                                                                                       \
		static struct ratelimit rl_site_ = RATELIMIT_INIT;                                 \
		ratelimit_print(&rl_site_, stderr, __VA_ARGS__);                                   \
	} while (0)

#endif
