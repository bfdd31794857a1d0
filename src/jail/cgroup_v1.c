/* SPDX-License-Identifier: MIT */
/*
 * cgroup v1: one directory per hierarchy the jail uses (see cgroup.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jail/cgroup_priv.h"

/* Hierarchies the jail joins even without a setting for them. */
static const char *const v1_default[] = {"memory", "cpu", "pids"};

static int add_hierarchy(struct jail_cgroup *cg, const struct jail_cg_mount *m,
			 struct vmon_error *err)
{
	for (int i = 0; i < cg->ndirs; i++)
		if (strcmp(cg->dirs[i].mount, m->path) == 0 ||
		    strcmp(cg->dirs[i].opts, m->opts) == 0)
			return 0; /* the same hierarchy */
	if (cg->ndirs == JAIL_CG_MAX_HIER)
		return err_setf(err, "too many cgroup v1 hierarchies");
	struct jail_cg_dir *d = &cg->dirs[cg->ndirs++];
	memset(d, 0, sizeof(*d));
	snprintf(d->mount, sizeof(d->mount), "%s", m->path);
	snprintf(d->opts, sizeof(d->opts), "%s", m->opts);
	return 0;
}

static const struct jail_cg_mount *find(const struct jail_cg_mount *m, int n, const char *c)
{
	for (int i = 0; i < n; i++)
		if (!m[i].v2 && jail_cg_opts_have(m[i].opts, c))
			return &m[i];
	return NULL;
}

int cg_v1_plan(struct jail_cgroup *cg, const struct jail_args *a, const struct jail_cg_mount *m,
	       int n, struct vmon_error *err)
{
	for (int k = 0; k < a->ncgroups; k++) {
		const struct jail_cgroup_kv *kv = &a->cgroups[k];
		const struct jail_cg_mount *h = find(m, n, kv->controller);
		if (!h)
			return err_setf(err,
					"--cgroup %s: no cgroup v1 hierarchy has the %s "
					"controller here%s",
					kv->key, kv->controller, jail_cg_key_hint(1, kv->key));
		if (add_hierarchy(cg, h, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(v1_default) / sizeof(v1_default[0]); i++) {
		const struct jail_cg_mount *h = find(m, n, v1_default[i]);
		if (h && add_hierarchy(cg, h, err) < 0)
			return -1;
	}
	if (cg->ndirs == 0)
		return err_setf(err, "no cgroup v1 hierarchy with a controller is mounted");
	return 0;
}

int cg_v1_after_mkdir(const struct jail_cg_dir *d, const char *dir, const char *parent,
		      struct vmon_error *err)
{
	if (!jail_cg_opts_have(d->opts, "cpuset"))
		return 0;
	/* A new v1 cpuset has no CPUs and no memory nodes, and takes no task
	 * until it has both: start from the parent's (a --cgroup setting
	 * narrows them afterwards). */
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX + 32], ppath[PATH_MAX + 32], val[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		snprintf(ppath, sizeof(ppath), "%s/%s", parent, files[i]);
		if (cg_read(path, val, sizeof(val)) < 0)
			return err_setf(err, "cannot read %s: %s", path, strerror(errno));
		if (val[0])
			continue;
		if (cg_read(ppath, val, sizeof(val)) < 0 || cg_write(path, val) < 0)
			return err_setf(err, "cannot copy %s to %s: %s", ppath, path,
					strerror(errno));
	}
	return 0;
}
