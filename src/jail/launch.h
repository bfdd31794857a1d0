/* SPDX-License-Identifier: MIT */
/*
 * Starting the jailed vmon and staying with it.
 *
 * jail_launch clones the child into its namespaces and holds it on a pipe
 * until the parent has done its share (user namespace id maps, cgroup
 * placement, the pid file); then the child joins --netns, builds its
 * mounts and /dev, pivot_roots, sets rlimits, marks every inherited
 * descriptor close-on-exec, drops its ids and capabilities, sets
 * no_new_privs and execs /vmon with a clean environment (VMON_* variables
 * and LD_LIBRARY_PATH only). A step that fails in the child sends its one
 * line back on a close-on-exec pipe, so the parent learns "exec happened"
 * (end of file, nothing read) or "failed, because..." (a message), and can
 * undo everything before the VM ever ran.
 *
 * jail_supervise waits for the child, forwarding SIGTERM, SIGINT and
 * SIGHUP to it (vmon ends the VM on each), and returns the jailer's exit status: vmon's own, or
 * 128 + the signal that killed it (one line says which).
 */
#ifndef VMON_JAIL_LAUNCH_H
#define VMON_JAIL_LAUNCH_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"
#include "jail/args.h"
#include "jail/cgroup.h"
#include "jail/devices.h"
#include "jail/layout.h"
#include "jail/libs.h"
#include "jail/run_args.h"

struct jail_plan {
	const struct jail_args *args;
	const struct jail_run *run;
	const struct jail_layout *layout;
	const struct jail_cgroup *cg;
	const struct jail_devices *devices;
	const struct jail_libs *libs;
	int netns_fd; /* -1: none */
	bool userns;  /* the jailer is unprivileged: new user namespace */
};

/* Returns the jailed vmon's pid (as the host sees it; vmon has exec'd), or
 * -1 with err (the child is gone; the caller undoes the jail). */
pid_t jail_launch(const struct jail_plan *p, struct vmon_error *err);

/* Waits for pid to end; returns the jailer's exit status. */
int jail_supervise(pid_t pid);

#endif
