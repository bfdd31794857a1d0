/* SPDX-License-Identifier: MIT */
#include "cli/registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int registry_dir(const char *flag, char *out, size_t cap, struct vmon_error *err)
{
	const char *env = getenv("VMON_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (flag && *flag)
		n = snprintf(out, cap, "%s", flag);
	else if (env && *env)
		n = snprintf(out, cap, "%s", env);
	else if (xdg && *xdg)
		n = snprintf(out, cap, "%s/vmon", xdg);
	else if (geteuid() == 0)
		n = snprintf(out, cap, "/run/vmon");
	else
		n = snprintf(out, cap, "/tmp/vmon-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= cap)
		return err_setf(err, "runtime directory: path too long");
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return err_setf(err, "runtime directory %s: %s", out, strerror(errno));
	struct stat st;
	if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_setf(err, "runtime directory %s: not a directory", out);
	return 0;
}

void registry_new_id(char *out, size_t cap)
{
	snprintf(out, cap, "vm-%d", (int)getpid());
}

uint64_t registry_pid_start(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: fields count
	 * from after its last ')'. starttime is field 22 (state is 3). */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

bool registry_alive(const struct reg_entry *e)
{
	if (e->pid <= 0)
		return false;
	if (kill(e->pid, 0) < 0 && errno == ESRCH)
		return false;
	uint64_t start = registry_pid_start(e->pid);
	return start != 0 && start == e->pid_start;
}

static int entry_path(char *out, size_t cap, const char *dir, const char *id, const char *suffix)
{
	int n = snprintf(out, cap, "%s/%s%s", dir, id, suffix);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static char *entry_json(const struct reg_entry *e)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:I, s:I, s:s, s:I}", "id", e->id, "pid",
			      (json_int_t)e->pid, "pid_start", (json_int_t)e->pid_start, "api_sock",
			      e->api_sock, "backend", e->backend, "vcpus", (json_int_t)e->vcpus,
			      "mem_mib", (json_int_t)e->mem_mib, "state", e->state,
			      "started_unix_ms", (json_int_t)e->started_unix_ms);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static void copy_str(json_t *o, const char *key, char *out, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, key));
	snprintf(out, cap, "%s", s ? s : "");
}

static uint64_t get_uint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
	return n > 0 ? (uint64_t)n : 0;
}

/* Reads dir/ID.json. Returns 0, or -1 (missing, unreadable, malformed). */
static int entry_read(const char *path, struct reg_entry *e)
{
	json_t *o = json_load_file(path, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	memset(e, 0, sizeof(*e));
	copy_str(o, "id", e->id, sizeof(e->id));
	copy_str(o, "api_sock", e->api_sock, sizeof(e->api_sock));
	copy_str(o, "backend", e->backend, sizeof(e->backend));
	copy_str(o, "state", e->state, sizeof(e->state));
	e->pid = (pid_t)get_uint(o, "pid");
	e->pid_start = get_uint(o, "pid_start");
	e->vcpus = (unsigned)get_uint(o, "vcpus");
	e->mem_mib = get_uint(o, "mem_mib");
	e->started_unix_ms = get_uint(o, "started_unix_ms");
	json_decref(o);
	return e->id[0] && e->pid > 0 ? 0 : -1;
}

static void remove_stale(const char *dir, const struct reg_entry *e, const char *path)
{
	/* The socket of a dead VM is gone with it: remove what it left. */
	char sock[REG_PATH_MAX + 16];
	if (entry_path(sock, sizeof(sock), dir, e->id, ".sock") == 0 &&
	    strcmp(sock, e->api_sock) == 0)
		unlink(sock);
	unlink(path);
}

int registry_claim(const char *dir, struct reg_entry *e, struct vmon_error *err)
{
	char path[REG_PATH_MAX + 80];
	if (entry_path(path, sizeof(path), dir, e->id, ".json") < 0)
		return err_setf(err, "runtime directory: path too long");
	e->pid = getpid();
	e->pid_start = registry_pid_start(e->pid);
	char *s = entry_json(e);
	if (!s)
		return err_setf(err, "out of memory");
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			size_t len = strlen(s);
			bool ok = write(fd, s, len) == (ssize_t)len;
			close(fd);
			free(s);
			if (!ok) {
				unlink(path);
				return err_setf(err, "runtime directory %s: cannot write", dir);
			}
			return 0;
		}
		if (errno != EEXIST)
			break;
		struct reg_entry old;
		if (entry_read(path, &old) == 0 && registry_alive(&old)) {
			free(s);
			return err_setf(err, "--id: a VM with the id '%s' is running (pid %d)",
					e->id, (int)old.pid);
		}
		if (entry_read(path, &old) == 0)
			remove_stale(dir, &old, path);
		else
			unlink(path); /* unreadable: a writer died mid-way */
	}
	int e2 = errno;
	free(s);
	return err_setf(err, "runtime directory %s: %s", dir, strerror(e2));
}

int registry_update(const char *dir, const struct reg_entry *e, struct vmon_error *err)
{
	char path[REG_PATH_MAX + 80], tmp[REG_PATH_MAX + 100];
	if (entry_path(path, sizeof(path), dir, e->id, ".json") < 0 ||
	    entry_path(tmp, sizeof(tmp), dir, e->id, ".json.tmp") < 0)
		return err_setf(err, "runtime directory: path too long");
	char *s = entry_json(e);
	if (!s)
		return err_setf(err, "out of memory");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(s);
	bool ok = fd >= 0 && write(fd, s, len) == (ssize_t)len;
	if (fd >= 0)
		close(fd);
	free(s);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return err_setf(err, "runtime directory %s: cannot update %s", dir, e->id);
	}
	return 0;
}

void registry_remove(const char *dir, const char *id)
{
	char path[REG_PATH_MAX + 80];
	if (entry_path(path, sizeof(path), dir, id, ".json") == 0)
		unlink(path);
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct reg_entry *)a)->id, ((const struct reg_entry *)b)->id);
}

int registry_list(const char *dir, struct reg_entry **out, struct vmon_error *err)
{
	*out = NULL;
	DIR *d = opendir(dir);
	if (!d)
		return err_setf(err, "runtime directory %s: %s", dir, strerror(errno));
	int n = 0, cap = 0;
	struct reg_entry *v = NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0 || de->d_name[0] == '.')
			continue;
		char path[REG_PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		struct reg_entry e;
		if (entry_read(path, &e) < 0)
			continue; /* being written, or not ours */
		if (!registry_alive(&e)) {
			remove_stale(dir, &e, path);
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			struct reg_entry *nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return err_setf(err, "out of memory");
			}
			v = nv;
		}
		v[n++] = e;
	}
	closedir(d);
	if (n)
		qsort(v, (size_t)n, sizeof(*v), by_id);
	*out = v;
	return n;
}

int registry_find(const char *dir, const char *id, struct reg_entry *out, struct vmon_error *err)
{
	if (!vm_id_valid(id))
		return err_setf(err, "'%.64s' is not a VM id", id);
	char path[REG_PATH_MAX + 80];
	if (entry_path(path, sizeof(path), dir, id, ".json") < 0 || entry_read(path, out) < 0)
		return err_setf(err, "no VM with the id '%s' (see vmon ps)", id);
	if (!registry_alive(out)) {
		remove_stale(dir, out, path);
		return err_setf(err, "no VM with the id '%s' (its process is gone)", id);
	}
	return 0;
}
