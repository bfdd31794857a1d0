/* SPDX-License-Identifier: MIT */
/*
 * `vmon jail`: runs `vmon run` in a jail, after Firecracker's jailer (see
 * docs/jailer.md). The jailer is the vmon binary itself. It validates all
 * its input first; builds DIR/vmon/ID/root (layout.h) with vmon, its
 * libraries (libs.h) and the guest's images, rewriting the run arguments
 * to the in-jail paths (run_args.h); makes the jail's cgroup (cgroup.h);
 * starts the jailed process in new namespaces, with its own /dev
 * (devices.h, namespaces.h), rlimits, no ids, capabilities or inherited
 * descriptors (privileges.h) and execs the jail's vmon (launch.h); then
 * stays as its parent (in the background with --daemonize) and removes
 * the cgroup when it ends.
 *
 * Every failure before vmon runs is one line "vmon: jail: ..." on stderr
 * and exit status 2, with everything made so far taken away again.
 *
 * Layer: floor 4, beside src/cli (which dispatches `vmon jail` here); uses
 * src/core, src/cpu/host_virt.h and the option parsers of src/devices.
 * Threads: one; processes: the jailer, its daemon (--daemonize) and the
 * jailed child.
 */
#ifndef VMON_JAIL_JAIL_H
#define VMON_JAIL_JAIL_H

#include <stdio.h>

/* argv[0] is "jail". Returns the exit status. */
int cmd_jail(int argc, char **argv);

/* `vmon jail --help`. */
void jail_print_usage(FILE *f);

#endif
