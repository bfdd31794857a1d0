/* SPDX-License-Identifier: MIT */
/*
 * Between the seccomp installer (seccomp.c) and the allowlists
 * (seccomp_policy.c).
 */
#ifndef VMON_CORE_SECCOMP_PRIV_H
#define VMON_CORE_SECCOMP_PRIV_H

#include <seccomp.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/thread.h"

struct seccomp_policy_params {
	bool kvm_vcpu; /* the vCPUs run on KVM (else the software CPU) */
	pid_t pid;     /* vmon's: signals may go to its own threads only */
};

/* Adds kind's allow rules to f. Returns 0, or a negative errno from
 * libseccomp. */
int seccomp_policy_add(scmp_filter_ctx f, enum vmon_thread_kind kind,
		       const struct seccomp_policy_params *p);

#endif
