/* SPDX-License-Identifier: MIT */
/*
 * What the jailed process keeps: resource limits, ids, capabilities,
 * descriptors. Each runs in the jail's child, after pivot_root and before
 * exec; the order matters (rlimits and the bounding set need privileges
 * that the id change takes away).
 */
#ifndef VMON_JAIL_PRIVILEGES_H
#define VMON_JAIL_PRIVILEGES_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"
#include "jail/args.h"

/* RLIMIT_FSIZE (if given) and RLIMIT_NOFILE (given, else
 * JAIL_DEFAULT_NOFILE, or the current hard limit if lower and we may not
 * raise it), soft = hard. */
int jail_priv_rlimits(const struct jail_args *a, struct vmon_error *err);

/* Becomes uid/gid with no supplementary groups (setgroups is denied in a
 * user namespace: the caller's own groups then stay), empties every
 * capability set — effective, permitted, inheritable, ambient and the
 * bounding set — with libcap-ng, sets no_new_privs, and checks the result
 * (ids, each set, that uid 0 cannot be regained). */
int jail_priv_drop(uid_t uid, gid_t gid, bool userns, struct vmon_error *err);

/* Marks every descriptor from 3 up close-on-exec (exec closes them; the
 * jail's error pipe stays usable until then). */
int jail_priv_cloexec_fds(struct vmon_error *err);

/* Closes every descriptor from 3 up: the jailer's first act, so nothing
 * the caller left open reaches the jail; puts /dev/null on any of 0, 1, 2
 * that is closed. */
void jail_priv_close_inherited(void);

#endif
