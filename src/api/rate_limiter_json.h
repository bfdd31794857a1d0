/* SPDX-License-Identifier: MIT */
/*
 * Firecracker's RateLimiter object in JSON, both ways:
 *   {"bandwidth": {"size": N, "one_time_burst": N, "refill_time": MS},
 *    "ops":       {"size": N, "one_time_burst": N, "refill_time": MS}}
 * Each bucket is optional; in a bucket size and refill_time are required,
 * one_time_burst is not. A bucket with size 0 or refill_time 0 does not
 * limit (as in Firecracker). Used by drives (rate_limiter), network
 * interfaces (rx_rate_limiter, tx_rate_limiter) and entropy (rate_limiter),
 * in PUT and PATCH bodies and config files.
 */
#ifndef VMON_API_RATE_LIMITER_JSON_H
#define VMON_API_RATE_LIMITER_JSON_H

#include <jansson.h>

#include "core/error.h"
#include "core/token_bucket.h"

/* The field key of o (absent or null: *out all clear, returns 0) into
 * out: has_bw/has_ops say which buckets were given. what names the
 * object in messages ("drive d1"). Returns 0, or -1 with err. */
int api_json_rate_limiter(const json_t *o, const char *key, const char *what, struct rl_update *out,
			  struct vmon_error *err);

/* c as a RateLimiter object (buckets that do not limit left out), or
 * NULL when nothing limits. */
json_t *api_json_rate_limiter_out(const struct rl_config *c);

#endif
