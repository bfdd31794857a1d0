/* SPDX-License-Identifier: MIT */
/*
 * Internals of the jail's cgroup code: what cgroup.c (shared steps) needs
 * from cgroup_v1.c and cgroup_v2.c (what differs between the versions).
 */
#ifndef VMON_JAIL_CGROUP_PRIV_H
#define VMON_JAIL_CGROUP_PRIV_H

#include "jail/cgroup.h"

/* Reads a small cgroup file (trailing newline removed). */
int cg_read(const char *path, char *buf, size_t len);
/* Writes value to a cgroup file; -1 with errno. */
int cg_write(const char *path, const char *value);

/* Planning: fills cg->dirs (mount, opts) for the version. */
int cg_v1_plan(struct jail_cgroup *cg, const struct jail_args *a, const struct jail_cg_mount *m,
	       int n, struct vmon_error *err);
int cg_v2_plan(struct jail_cgroup *cg, const struct jail_args *a, const struct jail_cg_mount *m,
	       int n, struct vmon_error *err);

/* Creation hooks. Before a directory gets a child (v2: enable the key's
 * controllers in its cgroup.subtree_control): */
int cg_v2_before_child(const char *dir, const struct jail_args *a, struct vmon_error *err);
/* After a directory is made or found (v1: fill an empty cpuset): */
int cg_v1_after_mkdir(const struct jail_cg_dir *d, const char *dir, const char *parent,
		      struct vmon_error *err);

#endif
