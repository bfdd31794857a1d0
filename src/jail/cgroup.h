/* SPDX-License-Identifier: MIT */
/*
 * The jail's cgroup: one per jail, named ID, under the parent cgroup
 * (--parent-cgroup, default "vmon"), holding only the jailed vmon.
 *
 *   v2: MOUNT/PARENT/ID in the cgroup2 hierarchy; the controllers the
 *       --cgroup keys name are enabled in cgroup.subtree_control from the
 *       hierarchy's root down to PARENT. Keys: cpu.max, memory.max,
 *       memory.swap.max, pids.max, cpuset.cpus, ...
 *   v1: MOUNT_c/PARENT/ID in the hierarchy of each controller c the keys
 *       name, and always in memory, cpu and pids where mounted (so the
 *       jail is accounted even without limits). cpuset directories get
 *       their parent's cpuset.cpus and cpuset.mems first (a v1 cpuset is
 *       empty, and refuses tasks, until both are set). Keys:
 *       memory.limit_in_bytes, memory.memsw.limit_in_bytes,
 *       cpu.cfs_quota_us, cpu.cfs_period_us, cpu.shares, pids.max,
 *       cpuset.cpus, cpuset.mems, ...
 *
 * A key names the controller file, as Firecracker's --cgroup does; its
 * value is written as given, after the directories are made and before
 * the jailed process joins. Version: --cgroup-version, else v2 on a host
 * where no v1 hierarchy has a controller (pure v2), v1 otherwise (legacy
 * and hybrid hosts, where the controllers are v1). Hierarchies are found
 * in /proc/self/mountinfo.
 *
 * Ownership: struct jail_cgroup records every directory it made, so
 * jail_cgroup_remove takes away exactly those (the ID directories always;
 * parents made by this jailer only when undoing a failed start, since
 * other jails may be using them by then). One thread.
 */
#ifndef VMON_JAIL_CGROUP_H
#define VMON_JAIL_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"
#include "jail/args.h"

#define JAIL_CG_MAX_HIER  16 /* v1 hierarchies the jail may use */
#define JAIL_CG_MAX_DEPTH 16 /* components of --parent-cgroup */

struct jail_cg_dir {
	char mount[PATH_MAX]; /* the hierarchy's mount point */
	char opts[256];	      /* v1: the mount's super options (controllers) */
	char path[PATH_MAX];  /* mount/parent/ID */
	int made_parents;     /* how many of the deepest parent levels we made */
	bool made;	      /* path itself */
};

struct jail_cgroup {
	int version; /* 1 or 2; 0: no cgroup (unprivileged, no --cgroup) */
	struct jail_cg_dir dirs[JAIL_CG_MAX_HIER];
	int ndirs;
	char parent[JAIL_PARENT_CGROUP_MAX + 1];
	char id[JAIL_ID_MAX + 1];
};

/* Finds the hierarchies and checks that every key's controller is there;
 * makes nothing. unprivileged: without --cgroup keys the jail gets no
 * cgroup (the caller may not make one). */
int jail_cgroup_plan(struct jail_cgroup *cg, const struct jail_args *a, bool unprivileged,
		     struct vmon_error *err);

/* Makes the directories and writes the settings. */
int jail_cgroup_create(struct jail_cgroup *cg, const struct jail_args *a, struct vmon_error *err);

/* Moves pid into the jail's cgroup(s). */
int jail_cgroup_attach(const struct jail_cgroup *cg, pid_t pid, struct vmon_error *err);

/* Removes the ID directories (waiting briefly while the kernel still
 * counts an exited task), and with parents=true the parents this jailer
 * made, if empty. */
void jail_cgroup_remove(struct jail_cgroup *cg, bool parents);

/* Internals shared with the unit tests. */

/* One cgroup mount of /proc/self/mountinfo. */
struct jail_cg_mount {
	char path[PATH_MAX];
	char opts[256];
	bool v2;
};

/* Parses mountinfo text; returns how many cgroup mounts it found (at most
 * max), unescaping octal escapes in mount points. */
int jail_cg_parse_mountinfo(const char *text, struct jail_cg_mount *out, int max);

/* Does the v1 option list (comma-separated) name controller c? */
bool jail_cg_opts_have(const char *opts, const char *c);

/* The cgroup version auto-detection picks for these mounts (1 or 2), or 0
 * when no hierarchy is mounted. */
int jail_cg_auto_version(const struct jail_cg_mount *m, int n);

/* A hint naming the other version's equivalent of a key, or "". */
const char *jail_cg_key_hint(int version, const char *key);

#endif
