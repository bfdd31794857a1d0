/* SPDX-License-Identifier: MIT */
/* --balloon values; see balloon_spec.h. */
#include "cli/balloon_spec.h"

#include <stdio.h>
#include <string.h>

#include "cli/parse.h"

int balloon_size_parse(const char *opt, const char *s, uint32_t *mib, struct vmon_error *err)
{
	uint64_t bytes;
	if (strcmp(s, "0") == 0) {
		*mib = 0;
		return 0;
	}
	if (parse_mem_size(opt, s, &bytes, err) < 0)
		return -1;
	if (bytes % (1 << 20) || (bytes >> 20) > UINT32_MAX / 256)
		return err_setf(err, "%s: '%s' is not a whole number of MiB (at most %u)", opt, s,
				UINT32_MAX / 256);
	*mib = (uint32_t)(bytes >> 20);
	return 0;
}

static int on_off(const char *name, const char *v, bool *out, struct vmon_error *err)
{
	if (strcmp(v, "on") == 0)
		*out = true;
	else if (strcmp(v, "off") == 0)
		*out = false;
	else
		return err_setf(err, "--balloon: %s='%s' is not on or off", name, v);
	return 0;
}

int balloon_spec_parse(const char *arg, struct vm_balloon_config *out, struct vmon_error *err)
{
	char buf[256];
	if (strlen(arg) >= sizeof(buf))
		return err_setf(err, "--balloon: value too long");
	strcpy(buf, arg);
	struct vm_balloon_config b = {0};
	char *opt = strchr(buf, ',');
	if (opt)
		*opt++ = 0;
	if (balloon_size_parse("--balloon", buf, &b.amount_mib, err) < 0)
		return -1;
	while (opt) {
		char *next = strchr(opt, ',');
		if (next)
			*next++ = 0;
		if (strncmp(opt, "deflate_on_oom=", 15) == 0) {
			if (on_off("deflate_on_oom", opt + 15, &b.deflate_on_oom, err) < 0)
				return -1;
		} else if (strncmp(opt, "free_page_reporting=", 20) == 0) {
			if (on_off("free_page_reporting", opt + 20, &b.free_page_reporting, err) <
			    0)
				return -1;
		} else if (strncmp(opt, "stats=", 6) == 0) {
			long s;
			if (parse_int_range("--balloon stats", opt + 6, 0, 86400, &s, err) < 0)
				return -1;
			b.stats_interval_s = (unsigned)s;
		} else {
			return err_setf(
				err,
				"--balloon: unknown suboption '%s' (use deflate_on_oom=on|off, "
				"stats=SECONDS, free_page_reporting=on|off)",
				opt);
		}
		opt = next;
	}
	*out = b;
	return 0;
}
