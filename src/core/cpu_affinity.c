/* SPDX-License-Identifier: MIT */
#include "core/cpu_affinity.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number of at most 4 digits at *p (CPU or vCPU index). */
static bool take_num(const char **p, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0, n = 0;
	while (*s >= '0' && *s <= '9' && n < 5) {
		v = v * 10 + (unsigned)(*s++ - '0');
		n++;
	}
	if (n == 0 || n > 4)
		return false;
	*p = s;
	*out = v;
	return true;
}

/* One element "A" or "A-B" into set. */
static int take_range(const char **p, cpu_set_t *set, const char *whole, struct vmon_error *err)
{
	unsigned a, b;
	if (!take_num(p, &a))
		return err_setf(err,
				"--cpu-affinity: '%s' is not a CPU list (e.g. 0-3,6 or 0:2,1:3)",
				whole);
	b = a;
	if (**p == '-') {
		(*p)++;
		if (!take_num(p, &b) || b < a)
			return err_setf(err, "--cpu-affinity: bad CPU range in '%s'", whole);
	}
	if (b >= CPU_SETSIZE)
		return err_setf(err, "--cpu-affinity: CPU %u is beyond %d", b, CPU_SETSIZE - 1);
	for (unsigned c = a; c <= b; c++)
		CPU_SET(c, set);
	return 0;
}

int cpu_affinity_parse(const char *s, struct cpu_affinity *out, struct vmon_error *err)
{
	memset(out, 0, sizeof(*out));
	if (strlen(s) >= sizeof(out->text))
		return err_setf(err, "--cpu-affinity: '%.40s...' is too long", s);
	if (!*s)
		return err_setf(err, "--cpu-affinity: empty CPU list");
	out->per_vcpu = strchr(s, ':') != NULL;
	cpu_set_t *cur = out->per_vcpu ? NULL : &out->all;
	const char *p = s;
	for (;;) {
		const char *colon = strchr(p, ':'), *comma = strchr(p, ',');
		if (out->per_vcpu && colon && (!comma || colon < comma)) {
			unsigned v;
			if (!take_num(&p, &v) || p != colon || v >= VMON_MAX_CPUS)
				return err_setf(err,
						"--cpu-affinity: bad vCPU number before ':' in '%s'"
						" (0 to %d)",
						s, VMON_MAX_CPUS - 1);
			if (out->named & (1ULL << v))
				return err_setf(err,
						"--cpu-affinity: vCPU %u is named twice in '%s'", v,
						s);
			out->named |= 1ULL << v;
			cur = &out->vcpu[v];
			p++;
		}
		if (!cur)
			return err_setf(err,
					"--cpu-affinity: '%s' must start with a vCPU number "
					"(V:LIST)",
					s);
		if (take_range(&p, cur, s, err) < 0)
			return -1;
		if (*p == 0)
			break;
		if (*p != ',')
			return err_setf(err, "--cpu-affinity: unexpected '%c' in '%s'", *p, s);
		p++;
	}
	memcpy(out->text, s, strlen(s) + 1);
	out->set = true;
	return 0;
}

const cpu_set_t *cpu_affinity_of(const struct cpu_affinity *a, unsigned v)
{
	if (!a->set || v >= VMON_MAX_CPUS)
		return NULL;
	if (!a->per_vcpu)
		return &a->all;
	return a->named & (1ULL << v) ? &a->vcpu[v] : NULL;
}

static int check_set(const cpu_set_t *set, const cpu_set_t *host, struct vmon_error *err)
{
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set) && !CPU_ISSET(c, host))
			return err_setf(err,
					"--cpu-affinity: host CPU %d is not one vmon may run on "
					"(see Cpus_allowed_list in /proc/self/status)",
					c);
	return 0;
}

int cpu_affinity_check(const struct cpu_affinity *a, unsigned vcpus, struct vmon_error *err)
{
	if (!a->set)
		return 0;
	for (unsigned v = vcpus; v < VMON_MAX_CPUS; v++)
		if (a->per_vcpu && (a->named & (1ULL << v)))
			return err_setf(err,
					"--cpu-affinity: vCPU %u does not exist (the VM has %u)", v,
					vcpus);
	cpu_set_t host;
	CPU_ZERO(&host);
	if (sched_getaffinity(0, sizeof(host), &host) < 0)
		return err_setf(err, "--cpu-affinity: sched_getaffinity: %s", strerror(errno));
	if (!a->per_vcpu)
		return check_set(&a->all, &host, err);
	for (unsigned v = 0; v < vcpus; v++)
		if ((a->named & (1ULL << v)) && check_set(&a->vcpu[v], &host, err) < 0)
			return -1;
	return 0;
}
