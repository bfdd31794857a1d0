/* SPDX-License-Identifier: MIT */
/*
 * Rate-limiter suboptions on the command line (--disk, --net, --rng):
 *   bw=SIZE[/MS]      bandwidth: a bucket of SIZE bytes refilled every MS
 *                     milliseconds (default 1000, so bw=SIZE is SIZE
 *                     bytes per second); SIZE takes K, M, G (binary)
 *   ops=N[/MS]        operations: N requests per MS ms (default 1000)
 *   bw_burst=SIZE     one-time burst on top of the bandwidth bucket
 *   ops_burst=N       one-time burst on top of the operations bucket
 * With a prefix (--net: rx_ and tx_) an option sets that limiter only;
 * without, every limiter of the device. These are Firecracker's
 * RateLimiter buckets (size, refill_time, one_time_burst).
 */
#ifndef VMON_CLI_RATE_SPEC_H
#define VMON_CLI_RATE_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/token_bucket.h"

struct rate_target {
	const char *prefix; /* "" or "rx_"... */
	struct rl_config *cfg;
};

/* Takes the rate-limiter elements out of a comma-separated option value
 * arg (after its first element when skip_first) into the targets whose
 * prefix they carry; the other elements go to rest (cap bytes, joined by
 * commas). optname names the option in messages. Returns 0, or -1 with
 * err. */
__attribute__((warn_unused_result)) int rate_opts_take(const char *optname, const char *arg,
						       bool skip_first, const struct rate_target *t,
						       unsigned nt, char *rest, size_t cap,
						       struct vmon_error *err);

#endif
