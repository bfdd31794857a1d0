/* SPDX-License-Identifier: MIT */
/* Rate-limiter suboptions; see rate_spec.h. */
#include "cli/rate_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "N[K|M|G]" (binary units) into *out; -1 if it is not that. */
static int number(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	unsigned shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10, end++;
	else if (*end == 'M' || *end == 'm')
		shift = 20, end++;
	else if (*end == 'G' || *end == 'g')
		shift = 30, end++;
	if (*end || (shift && v > (TB_MAX_TOKENS >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* "SIZE[/MS]" into a bucket. */
static int bucket(const char *v, struct tb_config *b)
{
	char buf[64];
	if (strlen(v) >= sizeof(buf))
		return -1;
	strcpy(buf, v);
	char *slash = strchr(buf, '/');
	uint64_t ms = 1000;
	if (slash) {
		*slash = 0;
		if (number(slash + 1, &ms) < 0 || ms == 0 || strpbrk(slash + 1, "KkMmGg"))
			return -1;
	}
	if (number(buf, &b->size) < 0)
		return -1;
	b->refill_ms = ms;
	return 0;
}

/* 1: elem was a rate option for this target, 0: not one, -1: bad value. */
static int apply(const char *elem, const struct rate_target *t)
{
	size_t pl = strlen(t->prefix);
	if (strncmp(elem, t->prefix, pl) != 0)
		return 0;
	const char *e = elem + pl;
	struct rl_config *c = t->cfg;
	uint64_t n;
	if (strncmp(e, "bw=", 3) == 0)
		return bucket(e + 3, &c->bw) < 0 ? -1 : 1;
	if (strncmp(e, "ops=", 4) == 0)
		return bucket(e + 4, &c->ops) < 0 ? -1 : 1;
	if (strncmp(e, "bw_burst=", 9) == 0) {
		if (number(e + 9, &n) < 0)
			return -1;
		c->bw.one_time_burst = n;
		return 1;
	}
	if (strncmp(e, "ops_burst=", 10) == 0) {
		if (number(e + 10, &n) < 0)
			return -1;
		c->ops.one_time_burst = n;
		return 1;
	}
	return 0;
}

int rate_opts_take(const char *optname, const char *arg, bool skip_first,
		   const struct rate_target *t, unsigned nt, char *rest, size_t cap,
		   struct vmon_error *err)
{
	char elem[128];
	size_t n = 0;
	bool out_any = false;
	rest[0] = 0;
	const char *p = arg;
	for (bool first = true;; first = false) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int used = 0;
		if (!(first && skip_first) && len < sizeof(elem)) {
			memcpy(elem, p, len);
			elem[len] = 0;
			for (unsigned i = 0; i < nt; i++) {
				int r = apply(elem, &t[i]);
				if (r < 0)
					return err_setf(
						err,
						"%s: bad rate limit '%s' (want bw=SIZE[/MS], "
						"ops=N[/MS], bw_burst=SIZE or ops_burst=N)",
						optname, elem);
				used |= r;
			}
		}
		if (!used) {
			if (n + len + 2 > cap)
				return err_setf(err, "%s: '%.40s...' is too long", optname, arg);
			if (out_any)
				rest[n++] = ',';
			out_any = true;
			memcpy(rest + n, p, len);
			n += len;
			rest[n] = 0;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	for (unsigned i = 0; i < nt; i++) {
		char what[64];
		snprintf(what, sizeof(what), "%s %sbw", optname, t[i].prefix);
		if (tb_config_check(&t[i].cfg->bw, what, err) < 0)
			return -1;
		snprintf(what, sizeof(what), "%s %sops", optname, t[i].prefix);
		if (tb_config_check(&t[i].cfg->ops, what, err) < 0)
			return -1;
	}
	return 0;
}
