/* SPDX-License-Identifier: MIT */
#include "jail/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jail/cgroup_priv.h"

int cg_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

int cg_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int e = errno;
	close(fd);
	if (n != (ssize_t)len) {
		errno = n < 0 ? e : EIO;
		return -1;
	}
	return 0;
}

/* Mount points escape space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p;) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 4;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
}

int jail_cg_parse_mountinfo(const char *text, struct jail_cg_mount *out, int max)
{
	int n = 0;
	const char *line = text;
	while (*line && n < max) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[2 * PATH_MAX];
		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			/* id parent major:minor root mountpoint options
			 * [optional fields...] - fstype source superoptions */
			char *tok[64];
			int nt = 0, sep = -1;
			char *save = NULL;
			for (char *t = strtok_r(buf, " ", &save); t && nt < 64;
			     t = strtok_r(NULL, " ", &save)) {
				if (sep < 0 && nt >= 6 && strcmp(t, "-") == 0)
					sep = nt;
				tok[nt++] = t;
			}
			if (sep > 0 && sep + 3 < nt) {
				const char *fstype = tok[sep + 1];
				bool v1 = strcmp(fstype, "cgroup") == 0;
				bool v2 = strcmp(fstype, "cgroup2") == 0;
				if ((v1 || v2) && strlen(tok[4]) < sizeof(out[n].path)) {
					struct jail_cg_mount *m = &out[n++];
					memset(m, 0, sizeof(*m));
					snprintf(m->path, sizeof(m->path), "%s", tok[4]);
					unescape(m->path);
					snprintf(m->opts, sizeof(m->opts), "%s", tok[sep + 3]);
					m->v2 = v2;
				}
			}
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return n;
}

bool jail_cg_opts_have(const char *opts, const char *c)
{
	size_t clen = strlen(c);
	for (const char *p = opts; *p;) {
		size_t len = strcspn(p, ",");
		if (len == clen && strncmp(p, c, len) == 0)
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* The v1 controllers of Linux 6.x. */
static const char *const v1_controllers[] = {
	"cpu",	 "cpuacct",    "cpuset",   "memory",  "devices", "freezer", "net_cls",
	"blkio", "perf_event", "net_prio", "hugetlb", "pids",	 "rdma",    "misc",
};

int jail_cg_auto_version(const struct jail_cg_mount *m, int n)
{
	bool v2 = false;
	for (int i = 0; i < n; i++) {
		if (m[i].v2) {
			v2 = true;
			continue;
		}
		for (size_t c = 0; c < sizeof(v1_controllers) / sizeof(v1_controllers[0]); c++)
			if (jail_cg_opts_have(m[i].opts, v1_controllers[c]))
				return 1;
	}
	return v2 ? 2 : 0;
}

const char *jail_cg_key_hint(int version, const char *key)
{
	static const struct {
		const char *v2, *v1;
	} pairs[] = {
		{"memory.max", "memory.limit_in_bytes"},
		{"memory.swap.max", "memory.memsw.limit_in_bytes (memory plus swap)"},
		{"memory.high", "memory.soft_limit_in_bytes"},
		{"cpu.max", "cpu.cfs_quota_us with cpu.cfs_period_us"},
		{"cpu.weight", "cpu.shares"},
		{"io.max", "blkio.throttle.*"},
	};
	static char hint[160];
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const char *v1 = pairs[i].v1;
		size_t v1len = strcspn(v1, " ");
		if (version == 1 && strcmp(key, pairs[i].v2) == 0) {
			snprintf(hint, sizeof(hint), "; %s is cgroup v2's, on v1 use %s", key, v1);
			return hint;
		}
		if (version == 2 && strlen(key) == v1len && strncmp(key, v1, v1len) == 0) {
			snprintf(hint, sizeof(hint), "; %s is cgroup v1's, on v2 use %s", key,
				 pairs[i].v2);
			return hint;
		}
	}
	return "";
}

static int read_mounts(struct jail_cg_mount *m, int max, struct vmon_error *err)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_setf(err, "cannot read /proc/self/mountinfo: %s", strerror(errno));
	size_t cap = 1 << 16, len = 0;
	char *text = malloc(cap);
	for (;;) {
		if (!text) {
			close(fd);
			return err_setf(err, "out of memory");
		}
		ssize_t n = read(fd, text + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len + 1 == cap) {
			cap *= 2;
			char *t = realloc(text, cap);
			if (!t)
				free(text);
			text = t;
		}
	}
	close(fd);
	text[len] = '\0';
	int n = jail_cg_parse_mountinfo(text, m, max);
	free(text);
	return n;
}

int jail_cgroup_plan(struct jail_cgroup *cg, const struct jail_args *a, bool unprivileged,
		     struct vmon_error *err)
{
	memset(cg, 0, sizeof(*cg));
	snprintf(cg->parent, sizeof(cg->parent), "%s", a->parent_cgroup);
	snprintf(cg->id, sizeof(cg->id), "%s", a->id);
	if (unprivileged && a->ncgroups == 0)
		return 0;
	static struct jail_cg_mount mounts[64];
	int n = read_mounts(mounts, 64, err);
	if (n < 0)
		return -1;
	int version = a->cgroup_version;
	if (version == JAIL_CGROUP_AUTO)
		version = jail_cg_auto_version(mounts, n);
	if (version == 0)
		return err_setf(err, "no cgroup file system is mounted (see /proc/self/mountinfo)");
	cg->version = version;
	return version == 1 ? cg_v1_plan(cg, a, mounts, n, err) : cg_v2_plan(cg, a, mounts, n, err);
}

/* Makes d's chain MOUNT/PARENT.../ID; -1 with errno ENOENT when a parent
 * vanished under us (another jailer removed it), to be tried again. */
static int make_chain(struct jail_cgroup *cg, struct jail_cg_dir *d, const struct jail_args *a,
		      struct vmon_error *err)
{
	char cur[PATH_MAX], next[PATH_MAX];
	snprintf(cur, sizeof(cur), "%s", d->mount);
	int level = 0, first_made = -1;
	const char *p = cg->parent;
	for (;;) {
		size_t len = strcspn(p, "/");
		bool last = len == 0;
		if (cg->version == 2 && cg_v2_before_child(cur, a, err) < 0)
			return -1;
		const char *name = last ? cg->id : p;
		size_t nlen = last ? strlen(cg->id) : len;
		if ((size_t)snprintf(next, sizeof(next), "%s/%.*s", cur, (int)nlen, name) >=
		    sizeof(next))
			return err_setf(err, "cgroup path under %s too long", d->mount);
		if (mkdir(next, 0755) == 0) {
			if (last) {
				d->made = true;
				snprintf(d->path, sizeof(d->path), "%s", next);
			} else {
				if (first_made < 0)
					first_made = level;
				d->made_parents = level + 1 - first_made;
			}
		} else if (errno == ENOENT) {
			return -1; /* errno stays ENOENT: try again */
		} else if (errno == EEXIST && last) {
			return err_setf(err,
					"cgroup %s already exists (a jail with id %s runs?): "
					"remove it or choose another --id",
					next, cg->id);
		} else if (errno != EEXIST) {
			return err_setf(err, "cannot make cgroup %s: %s", next, strerror(errno));
		}
		if (cg->version == 1 && cg_v1_after_mkdir(d, next, cur, err) < 0)
			return -1;
		if (last)
			return 0;
		snprintf(cur, sizeof(cur), "%s", next);
		level++;
		p += len;
		if (*p == '/')
			p++;
	}
}

int jail_cgroup_create(struct jail_cgroup *cg, const struct jail_args *a, struct vmon_error *err)
{
	for (int i = 0; i < cg->ndirs; i++) {
		struct jail_cg_dir *d = &cg->dirs[i];
		for (int attempt = 0;; attempt++) {
			errno = 0;
			if (make_chain(cg, d, a, err) == 0)
				break;
			if (errno != ENOENT || attempt == 10) {
				if (errno == ENOENT)
					err_setf(err, "cannot make the cgroup under %s/%s: %s",
						 d->mount, cg->parent, strerror(errno));
				return -1;
			}
		}
	}
	for (int k = 0; k < a->ncgroups; k++) {
		const struct jail_cgroup_kv *kv = &a->cgroups[k];
		const struct jail_cg_dir *d = NULL;
		for (int i = 0; i < cg->ndirs && !d; i++)
			if (cg->version == 2 || jail_cg_opts_have(cg->dirs[i].opts, kv->controller))
				d = &cg->dirs[i];
		if (!d)
			return err_setf(err, "--cgroup %s: no hierarchy has the %s controller",
					kv->key, kv->controller);
		char path[PATH_MAX + JAIL_CGROUP_KEY_MAX + 2];
		snprintf(path, sizeof(path), "%s/%s", d->path, kv->key);
		if (cg_write(path, kv->value) == 0)
			continue;
		if (errno == ENOENT)
			return err_setf(err, "--cgroup %s: cgroup v%d has no such file (%s)%s",
					kv->key, cg->version, path,
					jail_cg_key_hint(cg->version, kv->key));
		return err_setf(err, "--cgroup %s=%s: the kernel refused it: %s", kv->key,
				kv->value, strerror(errno));
	}
	return 0;
}

int jail_cgroup_attach(const struct jail_cgroup *cg, pid_t pid, struct vmon_error *err)
{
	char value[32];
	snprintf(value, sizeof(value), "%d", (int)pid);
	for (int i = 0; i < cg->ndirs; i++) {
		char path[PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dirs[i].path);
		if (cg_write(path, value) < 0)
			return err_setf(err, "cannot move the jail into cgroup %s: %s",
					cg->dirs[i].path, strerror(errno));
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void jail_cgroup_remove(struct jail_cgroup *cg, bool parents)
{
	char p[3 * PATH_MAX];
	for (int i = 0; i < cg->ndirs; i++) {
		struct jail_cg_dir *d = &cg->dirs[i];
		snprintf(p, sizeof(p), "%s/%s/%s", d->mount, cg->parent, cg->id);
		if (d->made) {
			/* An exited task can stay counted for a moment. */
			for (int t = 0; rmdir(d->path) < 0 && errno == EBUSY && t < 200; t++)
				sleep_ms(10);
			d->made = false;
		}
		if (!parents)
			continue;
		for (int k = 0; k < d->made_parents; k++) {
			char *slash = strrchr(p, '/');
			if (!slash)
				break;
			*slash = '\0';
			if (rmdir(p) < 0)
				break; /* in use by another jail: fine */
		}
		d->made_parents = 0;
	}
}
