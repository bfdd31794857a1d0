/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2: one directory in the unified hierarchy (see cgroup.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jail/cgroup_priv.h"

/* Is c a word of the space-separated list? */
static bool have_word(const char *list, const char *c)
{
	size_t clen = strlen(c);
	for (const char *p = list; *p;) {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, " ");
		if (len == clen && strncmp(p, c, len) == 0)
			return true;
		p += len;
	}
	return false;
}

int cg_v2_plan(struct jail_cgroup *cg, const struct jail_args *a, const struct jail_cg_mount *m,
	       int n, struct vmon_error *err)
{
	const struct jail_cg_mount *h = NULL;
	for (int i = 0; i < n && !h; i++)
		if (m[i].v2)
			h = &m[i];
	if (!h)
		return err_setf(err, "--cgroup-version 2: no cgroup2 file system is mounted");
	char path[PATH_MAX + 32], ctrl[1024];
	snprintf(path, sizeof(path), "%s/cgroup.controllers", h->path);
	if (cg_read(path, ctrl, sizeof(ctrl)) < 0)
		return err_setf(err, "cannot read %s: %s", path, strerror(errno));
	for (int k = 0; k < a->ncgroups; k++) {
		const struct jail_cgroup_kv *kv = &a->cgroups[k];
		if (!have_word(ctrl, kv->controller))
			return err_setf(err,
					"--cgroup %s: the cgroup v2 hierarchy at %s does not "
					"offer the %s controller (it has: %s)%s",
					kv->key, h->path, kv->controller, ctrl[0] ? ctrl : "none",
					jail_cg_key_hint(2, kv->key));
	}
	struct jail_cg_dir *d = &cg->dirs[cg->ndirs++];
	memset(d, 0, sizeof(*d));
	snprintf(d->mount, sizeof(d->mount), "%s", h->path);
	return 0;
}

int cg_v2_before_child(const char *dir, const struct jail_args *a, struct vmon_error *err)
{
	/* A controller's files exist in a child only if the parent enables
	 * it for its subtree, all the way from the root. */
	char path[PATH_MAX + 32], have[1024];
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if (a->ncgroups == 0)
		return 0;
	if (cg_read(path, have, sizeof(have)) < 0)
		return err_setf(err, "cannot read %s: %s", path, strerror(errno));
	for (int k = 0; k < a->ncgroups; k++) {
		const char *c = a->cgroups[k].controller;
		if (have_word(have, c))
			continue;
		char req[JAIL_CGROUP_KEY_MAX + 2];
		snprintf(req, sizeof(req), "+%s", c);
		if (cg_write(path, req) < 0)
			return err_setf(err, "cannot enable the %s controller in %s: %s", c, path,
					strerror(errno));
		size_t used = strlen(have);
		snprintf(have + used, sizeof(have) - used, " %s", c);
	}
	return 0;
}
