/* SPDX-License-Identifier: MIT */
/*
 * A device's rate limiter: the token buckets of core/token_bucket.h on
 * CLOCK_MONOTONIC, with a one-shot timerfd on the device's event loop that
 * wakes the device when the tokens it waits for are there.
 *
 * Throttling delays, never fails: a device asks rate_limiter_consume()
 * before it starts a request; on false it keeps the request (or leaves
 * it in its queue) and stops taking more, and the limiter calls wake()
 * on the loop's thread once the wait is over; the device then tries
 * again. A limiter without a limiting bucket costs one branch.
 *
 * Threads: consume/charge/wait on the device's loop thread (or any thread
 * holding the device's lock: the limiter has its own lock too);
 * rate_limiter_update from any thread (the API's): it calls wake() so
 * the device re-checks under the new limits. wake must be safe from any
 * thread (virtio_kick is).
 */
#ifndef VMON_CORE_RATE_LIMITER_H
#define VMON_CORE_RATE_LIMITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/token_bucket.h"

struct event_loop;

struct rate_limiter {
	pthread_mutex_t lock;
	struct rl_buckets b;
	_Atomic bool limits; /* some bucket limits */
	bool armed;	     /* the timer is set */
	int timer_fd;
	struct event_loop *loop;
	void (*wake)(void *opaque);
	void *opaque;
};

/* Sets rl up with c (zeroes: no limit). loop may be NULL (tests: the
 * timer is never watched, callers poll). Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int
rate_limiter_init(struct rate_limiter *rl, const struct rl_config *c, struct event_loop *loop,
		  void (*wake)(void *), void *opaque, struct vmon_error *err);
/* Stops watching the timer and closes it (the loop must not be running
 * the handler; safe on a zeroed or failed-init limiter with timer_fd -1). */
void rate_limiter_fini(struct rate_limiter *rl);

/* One request of bytes: true if it may go now (its tokens are taken);
 * false if it must wait (the timer is armed to wake the device). */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes);
/* True if a request could go now; else arms the timer and returns false.
 * For receive paths, whose size is known after the fact (then charge). */
bool rate_limiter_ready(struct rate_limiter *rl);
void rate_limiter_charge(struct rate_limiter *rl, uint64_t bytes);

/* Applies a run-time change and wakes the device. */
void rate_limiter_update(struct rate_limiter *rl, const struct rl_update *u);

/* Requests delayed so far (bandwidth or ops bucket empty). */
uint64_t rate_limiter_throttled(struct rate_limiter *rl);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t rate_limiter_now_ns(void);

#endif
