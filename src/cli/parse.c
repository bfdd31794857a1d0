/* SPDX-License-Identifier: MIT */
#include "cli/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_u64(const char *opt, const char *s, uint64_t *out, struct vmon_error *err)
{
	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return err_setf(err, "%s: '%s' is not a number", opt, s ? s : "");
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return err_setf(err, "%s: '%s' is too large", opt, s);
	if (end == s || *end)
		return err_setf(err, "%s: '%s' is not a number", opt, s);
	*out = v;
	return 0;
}

int parse_int_range(const char *opt, const char *s, long min, long max, long *out,
		    struct vmon_error *err)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return err_setf(err, "%s: '%s' is not a number", opt, s ? s : "");
	errno = 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end)
		return err_setf(err, "%s: '%s' is not a number", opt, s);
	if (errno == ERANGE || v < min || v > max)
		return err_setf(err, "%s: %s is out of range (%ld to %ld)", opt, s, min, max);
	*out = v;
	return 0;
}

int parse_mem_size(const char *opt, const char *s, uint64_t *out, struct vmon_error *err)
{
	if (!s || !*s || !isdigit((unsigned char)*s))
		return err_setf(err, "%s: '%s' is not a size (examples: 256M, 1G, 512)", opt,
				s ? s : "");
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return err_setf(err, "%s: '%s' is too large", opt, s);
	unsigned shift;
	switch (toupper((unsigned char)*end)) {
	case '\0': shift = 20; break; /* plain number: MiB */
	case 'K':
		shift = 10;
		end++;
		break;
	case 'M':
		shift = 20;
		end++;
		break;
	case 'G':
		shift = 30;
		end++;
		break;
	case 'T':
		shift = 40;
		end++;
		break;
	case 'B': shift = 0; break;
	default: return err_setf(err, "%s: '%s' has an unknown unit (use K, M, G or T)", opt, s);
	}
	if (shift && (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0))
		end += strlen(end);
	else if (!shift && strcasecmp(end, "B") == 0)
		end++;
	if (*end)
		return err_setf(err, "%s: '%s' is not a size (examples: 256M, 1G, 512)", opt, s);
	if (v > (UINT64_MAX >> shift))
		return err_setf(err, "%s: '%s' is too large", opt, s);
	uint64_t bytes = (uint64_t)v << shift;
	if (bytes == 0)
		return err_setf(err, "%s: the size must be more than 0", opt);
	if (bytes % 4096)
		return err_setf(err, "%s: '%s' is not a multiple of 4 KiB", opt, s);
	*out = bytes;
	return 0;
}
