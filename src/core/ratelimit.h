/* SPDX-License-Identifier: MIT */
/*
 * Rate-limited messages for anything a guest can trigger.
 *
 * A guest that loops on a mistake (device resets, bad descriptors, NMI
 * storms...) must not be able to flood the host's logs. Every message on a
 * guest-reachable path goes through guest_log() (or guest_log_once()),
 * which keeps one budget per call site: at most RL_BURST messages per
 * RL_INTERVAL_MS window (once: the first message only); what is dropped is
 * counted, and the next message that gets through says how many similar
 * ones were suppressed. What is still unreported when the VM ends is
 * summed up by ratelimit_flush_all() (call sites) or ratelimit_flush()
 * (limiters embedded in a device), so a count is never lost.
 *
 * Thread-safety: a struct ratelimit may be hit from any thread (vCPUs, I/O
 * threads); its state is updated under a small per-site lock, and the
 * message itself is written with one fprintf() (stdio locks the stream).
 * Call-site limiters put themselves on a process-wide list (under its own
 * lock, never taken while a site's lock is held) the first time they drop
 * a message.
 */
#ifndef VMON_CORE_RATELIMIT_H
#define VMON_CORE_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define RL_BURST       10
#define RL_INTERVAL_MS 5000
#define RL_LAST_MAX    160

struct ratelimit {
	pthread_mutex_t lock;
	uint64_t window_start_ms; /* CLOCK_MONOTONIC */
	unsigned printed;	  /* in this window (once: ever) */
	uint64_t suppressed;	  /* since the last message that got through */
	bool once;		  /* only the first message ever gets through */
	bool site;		  /* a static call site: reported by ratelimit_flush_all */
	bool listed;		  /* on that list already */
	struct ratelimit *next;	  /* the list */
	char last[RL_LAST_MAX];	  /* the last message printed, for the summary */
};

/* A limiter in an object (a device): ratelimit_flush() it before freeing. */
#define RATELIMIT_INIT                                                                             \
	{                                                                                          \
		.lock = PTHREAD_MUTEX_INITIALIZER                                                  \
	}
/* Static call sites (guest_log, guest_log_once). */
#define RATELIMIT_SITE_INIT(once_)                                                                 \
	{                                                                                          \
		.lock = PTHREAD_MUTEX_INITIALIZER, .once = (once_), .site = true                   \
	}

/* Same as RATELIMIT_INIT, at run time. */
void ratelimit_init(struct ratelimit *rl);

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

/* If rl dropped messages since the last one it printed, prints
 * "vmon: <last message> (N more like it suppressed)" and clears the
 * count. Any thread. */
void ratelimit_flush(struct ratelimit *rl, FILE *out);

/* ratelimit_flush for every call site that ever dropped a message (at the
 * end of a VM, after its threads have stopped). */
void ratelimit_flush_all(FILE *out);

/* guest_log(fmt, ...): a rate-limited "vmon: ..." line on stderr with a
 * budget of its own for each call site. Use it for every message a guest
 * can cause. */
#define guest_log(...)                                                                             \
	do {                                                                                       \
		static struct ratelimit rl_site_ = RATELIMIT_SITE_INIT(false);                     \
		ratelimit_print(&rl_site_, stderr, __VA_ARGS__);                                   \
	} while (0)

/* guest_log_once(fmt, ...): the first occurrence only; the rest are
 * counted and summed up at the end (ratelimit_flush_all). For conditions
 * that say the same thing every time (a fallback taken, a host limit). */
#define guest_log_once(...)                                                                        \
	do {                                                                                       \
		static struct ratelimit rl_site_ = RATELIMIT_SITE_INIT(true);                      \
		ratelimit_print(&rl_site_, stderr, __VA_ARGS__);                                   \
	} while (0)

#endif
