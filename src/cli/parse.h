/* SPDX-License-Identifier: MIT */
/*
 * Parsers for command-line values. Each returns 0, or -1 with a one-line
 * message in err that names the option and the value.
 */
#ifndef VMON_CLI_PARSE_H
#define VMON_CLI_PARSE_H

#include <stdint.h>

#include "core/error.h"

/* Memory sizes: a number with an optional K, M, G or T suffix (binary
 * units, optional "iB"/"B"); a plain number means MiB, as QEMU's -m. The
 * result must be a non-zero multiple of 4 KiB. */
int parse_mem_size(const char *opt, const char *s, uint64_t *out, struct vmon_error *err);

/* A decimal integer in [min, max]. */
int parse_int_range(const char *opt, const char *s, long min, long max, long *out,
		    struct vmon_error *err);

/* An address: decimal or 0x-hex, fits in 64 bits. */
int parse_u64(const char *opt, const char *s, uint64_t *out, struct vmon_error *err);

#endif
