/* SPDX-License-Identifier: MIT */
/*
 * Token buckets for device rate limiters: the arithmetic only, driven by
 * a clock the caller passes in (nanoseconds), so unit tests step time by
 * hand. core/rate_limiter.h puts a real clock and a timer around it.
 *
 * The model is Firecracker's RateLimiter: a limiter has two buckets, one
 * counting bytes ("bandwidth") and one counting requests ("ops"). A
 * bucket holds at most `size` tokens and refills from empty to full in
 * `refill_time` milliseconds, continuously (size / refill_time tokens per
 * ms); `one_time_burst` tokens more are there at the start and are spent
 * first, never refilled. A bucket with size 0 or refill_time 0 does not
 * limit.
 *
 * A request costing n tokens may go when the bucket holds min(n, size)
 * (plus what is left of the burst): a request bigger than the whole
 * bucket waits for a full bucket and then leaves it in debt, so the
 * average rate stays size / refill_time whatever the request sizes.
 *
 * Threads: plain data; the caller serialises.
 */
#ifndef VMON_CORE_TOKEN_BUCKET_H
#define VMON_CORE_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

/* Largest size, burst and refill_time accepted (keeps the arithmetic
 * inside 64 bits with room). */
#define TB_MAX_TOKENS	 (1ULL << 50)
#define TB_MAX_REFILL_MS (1ULL << 32)

struct tb_config {
	uint64_t size;		 /* tokens; 0: no limit */
	uint64_t one_time_burst; /* extra tokens at the start */
	uint64_t refill_ms;	 /* empty to full; 0: no limit */
};

/* Firecracker's RateLimiter object. */
struct rl_config {
	struct tb_config bw;  /* bytes */
	struct tb_config ops; /* requests */
};

/* A change to a running limiter (Firecracker's PATCH: a bucket that is
 * given replaces the old one, a missing one stays as it is). */
struct rl_update {
	bool has_bw, has_ops;
	struct rl_config cfg;
};

struct token_bucket {
	struct tb_config cfg;
	int64_t budget;	    /* tokens now; negative: debt of an oversize request */
	uint64_t burst;	    /* one-time burst left */
	uint64_t last_ns;   /* time up to which refill has been counted */
	uint64_t throttled; /* requests that had to wait (stats) */
};

struct rl_buckets {
	struct token_bucket bw, ops;
};

/* A bucket that limits (size and refill_time both non-zero). */
bool tb_config_limits(const struct tb_config *c);
/* Checks c's numbers; what names it in the message ("rate_limiter.bandwidth").
 * Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int tb_config_check(const struct tb_config *c, const char *what,
							struct vmon_error *err);

/* A full bucket (plus its burst) at time now. */
void tb_init(struct token_bucket *tb, const struct tb_config *c, uint64_t now_ns);
/* Whether a request of n tokens may go at now (refills first). */
bool tb_ready(struct token_bucket *tb, uint64_t n, uint64_t now_ns);
/* Takes n tokens (burst first; the budget may go into debt). */
void tb_take(struct token_bucket *tb, uint64_t n);
/* Nanoseconds from now until a request of n tokens may go (0: now). */
uint64_t tb_wait_ns(struct token_bucket *tb, uint64_t n, uint64_t now_ns);

void rl_buckets_init(struct rl_buckets *b, const struct rl_config *c, uint64_t now_ns);
/* Applies u: the buckets it gives start full again. */
void rl_buckets_update(struct rl_buckets *b, const struct rl_update *u, uint64_t now_ns);
/* If one request of bytes may go now, takes its tokens (1 op, bytes) and
 * returns 0; otherwise takes nothing and returns the nanoseconds to wait
 * (> 0). */
uint64_t rl_buckets_consume(struct rl_buckets *b, uint64_t bytes, uint64_t now_ns);
/* Takes tokens for something already done (received frames: their size
 * is known only after). */
void rl_buckets_charge(struct rl_buckets *b, uint64_t bytes);
/* A request of at least 1 op and 1 byte could go now: 0, else the wait. */
uint64_t rl_buckets_wait(struct rl_buckets *b, uint64_t now_ns);

#endif
