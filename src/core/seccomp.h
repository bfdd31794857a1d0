/* SPDX-License-Identifier: MIT */
/*
 * seccomp-bpf filters, one per thread kind (core/thread.h), built with
 * libseccomp. Every thread vmon starts installs its kind's filter at its
 * top, before its own code runs (core/thread.c); the main thread installs
 * its own just before the first vCPU runs (vm_run). Filters are per thread
 * and inherited, and stacking only narrows: a thread the main thread
 * starts later (a vCPU after a reboot) runs under both, which is why the
 * main thread's list holds the vCPU threads' (docs/architecture.md,
 * "Threat model"). The lists themselves: seccomp_policy.c.
 *
 * Modes (--seccomp): on (the default) kills the whole process
 * (SECCOMP_RET_KILL_PROCESS; the kernel's audit log names the thread's
 * comm and the system call); log traps instead (SECCOMP_RET_TRAP) and a
 * SIGSYS handler prints one line naming the thread and the system call,
 * then ends the process with status 159 (128 + SIGSYS, as a kill would);
 * off installs nothing (unsafe: for debugging only).
 *
 * Test hook: VMON_SECCOMP_TEST_VIOLATE=KIND (main, vcpu, io, blk, net,
 * vsock, console, api) makes the first thread of that kind call uname(2),
 * which no list allows, right after its filter is in: vmon then dies as
 * the filter says. Harmless in production: it can only end vmon itself.
 *
 * VMON_SECCOMP_EXPORT=DIR writes each kind's filter, as libseccomp's
 * pseudo-code, to DIR/KIND.pfc (tests/integration/seccomp.sh).
 *
 * Threads: vmon_seccomp_configure and vmon_seccomp_set_vcpu_backend on
 * the main thread before the threads they concern start;
 * vmon_seccomp_enter on the thread being filtered.
 */
#ifndef VMON_CORE_SECCOMP_H
#define VMON_CORE_SECCOMP_H

#include <stdbool.h>

#include "core/error.h"
#include "core/thread.h"

/* DEFAULT: no --seccomp given; on, but off in a sanitizer build (make
 * SANITIZE=1), whose runtime makes calls of its own no list allows
 * (LeakSanitizer's exit-time check forks a tracer and ptraces vmon). */
enum vmon_seccomp_mode {
	VMON_SECCOMP_DEFAULT,
	VMON_SECCOMP_ON,
	VMON_SECCOMP_LOG,
	VMON_SECCOMP_OFF
};

/* "on", "log" or "off". Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int
vmon_seccomp_parse(const char *s, enum vmon_seccomp_mode *out, struct vmon_error *err);
const char *vmon_seccomp_mode_name(enum vmon_seccomp_mode mode);

/* Chooses the mode for every filter installed from now on, checks that
 * the kernel can filter, and (mode log) installs the SIGSYS handler.
 * Call once, before any thread starts. Returns 0, or -1 with err. */
/* (DEFAULT is resolved here.) */
__attribute__((warn_unused_result)) int vmon_seccomp_configure(enum vmon_seccomp_mode mode,
							       struct vmon_error *err);
enum vmon_seccomp_mode vmon_seccomp_mode(void);

/* Which CPU backend the vCPU threads run (their lists differ: only KVM's
 * need KVM's vCPU ioctls), and whether its code arena needs executable
 * mappings made on the main thread (the software CPU's, on a reboot). */
void vmon_seccomp_set_vcpu_backend(bool kvm);

/* Installs the calling thread's filter for kind (name: for messages).
 * Returns 0 (also in mode off), or -1 with err. */
__attribute__((warn_unused_result)) int
vmon_seccomp_enter(enum vmon_thread_kind kind, const char *name, struct vmon_error *err);

#endif
