/* SPDX-License-Identifier: MIT */
/*
 * The jail's namespaces and root.
 *
 * The jailed process is a child the jailer makes with clone(): always new
 * mount, IPC and UTS namespaces; a new PID namespace with --new-pid-ns
 * (vmon is then its pid 1); a new user namespace when the jailer is not
 * root (the jail's uid/gid then map to the caller's own, one id each:
 * nothing else is reachable). --netns joins an existing network namespace
 * with setns().
 *
 * In the child: mounts are made private (nothing propagates back to the
 * host), root is bind-mounted on itself (nosuid) so it can become the root
 * with pivot_root, /dev is made (devices.h), then pivot_root and a detach
 * of the old root leave only the jail reachable: no path, no mount, no
 * /proc leads out.
 */
#ifndef VMON_JAIL_NAMESPACES_H
#define VMON_JAIL_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"

/* Opens --netns PATH and checks that it is a network namespace. Returns
 * the fd (O_CLOEXEC), or -1 with err. */
int jail_netns_open(const char *path, struct vmon_error *err);

/* clone() flags for the jail's child. */
int jail_ns_clone_flags(bool new_pid_ns, bool userns);

/* fork()-like clone with those flags: returns the child's pid (host view)
 * in the parent, 0 in the child, -1 with errno. The jailer is single-
 * threaded, so the raw system call is safe. */
pid_t jail_ns_clone(int flags);

/* Parent side, user namespace: maps in_uid/in_gid in child's namespace to
 * the caller's out_uid/out_gid (setgroups denied first, as the kernel
 * requires of an unprivileged writer). */
int jail_ns_write_idmaps(pid_t child, uid_t in_uid, gid_t in_gid, uid_t out_uid, gid_t out_gid,
			 struct vmon_error *err);

/* Child side. */
int jail_ns_enter_netns(int fd, struct vmon_error *err);
int jail_ns_bind_root(const char *root, struct vmon_error *err);
int jail_ns_pivot_root(const char *root, struct vmon_error *err);

#endif
