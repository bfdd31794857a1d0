/* SPDX-License-Identifier: MIT */
/*
 * --cpu-affinity: which host CPUs each vCPU thread may run on.
 *
 *   LIST            every vCPU on any CPU of LIST ("0-3,6")
 *   V:LIST[,V:LIST] vCPU V on LIST; an element without "V:" continues the
 *                   list before it ("0:0-1,4,1:2-3": vCPU 0 on 0, 1 and 4,
 *                   vCPU 1 on 2 and 3); vCPUs not named stay unbound
 *
 * LIST is CPU numbers and ranges A-B, as /proc's Cpus_allowed_list.
 * Parsing is pure; cpu_affinity_check compares with the vCPU count and
 * with the CPUs this process may run on (sched_getaffinity).
 *
 * Threads: plain data.
 */
#ifndef VMON_CORE_CPU_AFFINITY_H
#define VMON_CORE_CPU_AFFINITY_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/machine.h"

#define CPU_AFFINITY_TEXT_MAX 256

struct cpu_affinity {
	bool set;			  /* a --cpu-affinity was given */
	char text[CPU_AFFINITY_TEXT_MAX]; /* as given (GET /machine-config) */
	bool per_vcpu;			  /* the V:LIST form */
	uint64_t named;			  /* per_vcpu: bit V set for each vCPU named */
	cpu_set_t all;			  /* !per_vcpu: every vCPU's */
	cpu_set_t vcpu[VMON_MAX_CPUS];	  /* per_vcpu: vCPU V's */
};

/* Parses s (either form) into *out. Returns 0, or -1 with err
 * ("--cpu-affinity: ..."). */
__attribute__((warn_unused_result)) int cpu_affinity_parse(const char *s, struct cpu_affinity *out,
							   struct vmon_error *err);

/* The CPUs vCPU v is bound to, or NULL (unbound). */
const cpu_set_t *cpu_affinity_of(const struct cpu_affinity *a, unsigned v);

/* Every vCPU named is below vcpus, and every CPU is one this process may
 * run on. Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int cpu_affinity_check(const struct cpu_affinity *a,
							   unsigned vcpus, struct vmon_error *err);

#endif
