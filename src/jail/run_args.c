/* SPDX-License-Identifier: MIT */
#include "jail/run_args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/specs.h"
#include "core/chardev.h"
#include "cpu/host_virt.h"
#include "devices/virtio/virtio_vsock.h"

/* Where `vmon run` finds its default guest; keep in step with
 * src/cli/main.c (use_default_guest). */
#define GUEST_DIR_NAME	      "guest"
#define GUEST_KERNEL	      "bzImage"
#define GUEST_INITRD	      "initramfs.cpio.gz"
#define GUEST_DEFAULT_CMDLINE "console=ttyS0 quiet"

/* vmon run's options (keep in step with src/cli/main.c): those the jailer
 * rewrites or reads, and the rest, so that a value is never taken for an
 * option. */
enum run_opt {
	R_OTHER_VALUE, /* takes a value the jailer passes on unchanged */
	R_FLAG,	       /* takes no value */
	R_KERNEL,
	R_INITRD,
	R_CMDLINE,
	R_BACKEND,
	R_SERIAL,
	R_CONSOLE,
	R_DISK,
	R_NET,
	R_VSOCK,
	R_API_SOCK,   /* the API socket: placed in the jail like --vsock's */
	R_API_CHOSEN, /* --no-api, --runtime-dir: the user chose the API's place */
	R_REFUSED,    /* an option a jail cannot give (its file names more files) */
};

static const struct {
	const char *name;
	enum run_opt kind;
} run_opts[] = {
	{"kernel", R_KERNEL},
	{"initrd", R_INITRD},
	{"cmdline", R_CMDLINE},
	{"mem", R_OTHER_VALUE},
	{"cpus", R_OTHER_VALUE},
	{"backend", R_BACKEND},
	{"cpu-features", R_OTHER_VALUE},
	{"nested", R_FLAG},
	{"serial", R_SERIAL},
	{"load-addr", R_OTHER_VALUE},
	{"debug-exit", R_OTHER_VALUE},
	{"no-reboot", R_FLAG},
	{"overcommit", R_FLAG},
	{"trace-io", R_FLAG},
	{"disk", R_DISK},
	{"net", R_NET},
	{"vsock", R_VSOCK},
	{"console", R_CONSOLE},
	{"rng", R_OTHER_VALUE},
	{"balloon", R_OTHER_VALUE},
	{"help", R_FLAG},
	{"id", R_OTHER_VALUE},
	{"api-sock", R_API_SOCK},
	{"runtime-dir", R_API_CHOSEN},
	{"no-api", R_API_CHOSEN},
	{"config-file", R_REFUSED},
	{"seccomp", R_OTHER_VALUE},
	{"cpu-affinity", R_OTHER_VALUE},
};
#define NRUN_OPTS ((int)(sizeof(run_opts) / sizeof(run_opts[0])))

/* Two passes over the same arguments: COLLECT records the files, EMIT
 * (after the names are assigned) writes the new argv, taking the files in
 * the same order. */
enum pass { COLLECT, EMIT };

struct scan {
	struct jail_run *r;
	enum pass pass;
	int next_file; /* EMIT: the file the next rewritten value uses */
	int cap;       /* argv capacity */
	bool have_kernel, have_initrd, have_cmdline;
	bool api_chosen;	 /* --api-sock, --runtime-dir or --no-api given */
	const char *backend_arg; /* the last --backend value */
	struct vmon_error *err;
};

static int push(struct scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int push(struct scan *s, const char *fmt, ...)
{
	struct jail_run *r = s->r;
	if (r->argc + 2 > s->cap) {
		int cap = s->cap ? s->cap * 2 : 32;
		char **n = realloc(r->argv, (size_t)cap * sizeof(*n));
		if (!n)
			return err_setf(s->err, "out of memory");
		r->argv = n;
		s->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	char *str;
	int rc = vasprintf(&str, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return err_setf(s->err, "out of memory");
	r->argv[r->argc++] = str;
	r->argv[r->argc] = NULL;
	return 0;
}

/* COLLECT: records a file and checks it; EMIT: returns the next one. */
static struct jail_file *file_at(struct scan *s, enum jail_file_kind kind, const char *option,
				 const char *path, size_t pathlen, bool writable)
{
	struct jail_run *r = s->r;
	if (s->pass == EMIT)
		return &r->files[s->next_file++];
	if (r->nfiles == JAIL_MAX_FILES) {
		err_setf(s->err, "%s: the jailer handles at most %d files", option, JAIL_MAX_FILES);
		return NULL;
	}
	if (pathlen == 0 || pathlen >= sizeof(r->files[0].host_path)) {
		err_setf(s->err, "%s: '%.*s' is not a usable path", option, (int)(pathlen % 200),
			 path);
		return NULL;
	}
	struct jail_file *f = &r->files[r->nfiles];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->option = option;
	f->writable = writable;
	memcpy(f->host_path, path, pathlen);
	f->host_path[pathlen] = '\0';
	if (path[pathlen - 1] == '/') {
		err_setf(s->err, "%s: '%s' names a directory", option, f->host_path);
		return NULL;
	}
	if (kind == JAIL_FILE_IMAGE || kind == JAIL_FILE_DISK) {
		struct stat st;
		if (stat(f->host_path, &st) < 0) {
			err_setf(s->err, "%s: cannot use '%s': %s", option, f->host_path,
				 strerror(errno));
			return NULL;
		}
		if (kind == JAIL_FILE_DISK && S_ISBLK(st.st_mode)) {
			f->kind = JAIL_FILE_BLOCKDEV;
			f->rdev = st.st_rdev;
		} else if (!S_ISREG(st.st_mode)) {
			err_setf(s->err, "%s: '%s' is not a regular file%s", option, f->host_path,
				 kind == JAIL_FILE_DISK ? " or a block device" : "");
			return NULL;
		}
	}
	r->nfiles++;
	return f;
}

static const char *value_of(struct scan *s, int argc, char **argv, int *i, const char *name,
			    const char *eq)
{
	if (eq)
		return eq + 1;
	if (*i + 1 >= argc) {
		err_setf(s->err, "vmon run option '--%s' needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

/* file:PATH / unix:PATH / stdio (spec is the chardev part only, len bytes). */
static int chardev_value(struct scan *s, const char *option, const char *spec, size_t len,
			 const char *rest)
{
	char buf[PATH_MAX + 16];
	if (len >= sizeof(buf))
		return err_setf(s->err, "%s: value too long", option);
	memcpy(buf, spec, len);
	buf[len] = '\0';
	struct chardev_spec cs;
	struct vmon_error e;
	if (chardev_parse(buf, &cs, &e) < 0)
		return err_setf(s->err, "%s: %s", option, e.msg);
	if (cs.kind == CHARDEV_STDIO)
		return s->pass == EMIT ? push(s, "%s%s", buf, rest) : 0;
	enum jail_file_kind kind = cs.kind == CHARDEV_FILE ? JAIL_FILE_OUTPUT : JAIL_FILE_SOCKET;
	struct jail_file *f = file_at(s, kind, option, buf + 5, len - 5, false);
	if (!f)
		return -1;
	if (s->pass == COLLECT)
		return 0;
	return push(s, "%s:/%s%s", kind == JAIL_FILE_OUTPUT ? "file" : "unix", f->name, rest);
}

static int handle(struct scan *s, enum run_opt kind, const char *val)
{
	struct jail_file *f;
	switch (kind) {
	case R_KERNEL:
	case R_INITRD:
		if (kind == R_KERNEL)
			s->have_kernel = true;
		else
			s->have_initrd = true;
		f = file_at(s, JAIL_FILE_IMAGE, kind == R_KERNEL ? "--kernel" : "--initrd", val,
			    strlen(val), false);
		if (!f)
			return -1;
		return s->pass == EMIT ? push(s, "/%s", f->name) : 0;
	case R_DISK: {
		const char *comma = strchr(val, ',');
		size_t len = comma ? (size_t)(comma - val) : strlen(val);
		bool ro = false;
		for (const char *o = comma; o; o = strchr(o + 1, ','))
			if (strncmp(o, ",ro", 3) == 0 && (o[3] == ',' || o[3] == '\0'))
				ro = true;
		f = file_at(s, JAIL_FILE_DISK, "--disk", val, len, !ro);
		if (!f)
			return -1;
		if (s->pass == COLLECT)
			return 0;
		return push(s, "%s/%s%s", f->kind == JAIL_FILE_BLOCKDEV ? "/dev" : "", f->name,
			    comma ? comma : "");
	}
	case R_SERIAL: return chardev_value(s, "--serial", val, strlen(val), "");
	case R_CONSOLE: {
		/* SPEC[,transport=...]: a chardev path has no comma. */
		const char *comma = strchr(val, ',');
		size_t len = comma ? (size_t)(comma - val) : strlen(val);
		return chardev_value(s, "--console", val, len, comma ? comma : "");
	}
	case R_VSOCK: {
		/* CID,unix:PATH[,transport=...] */
		const char *c1 = strchr(val, ',');
		const char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
		size_t len = c2 ? (size_t)(c2 - val) : strlen(val);
		char buf[VSOCK_PATH_MAX + 32];
		struct vsock_spec vs;
		struct vmon_error e;
		if (len >= sizeof(buf))
			return err_setf(s->err, "--vsock: socket path longer than %d bytes",
					VSOCK_PATH_MAX);
		memcpy(buf, val, len);
		buf[len] = '\0';
		if (vsock_spec_parse(buf, &vs, &e) < 0)
			return err_setf(s->err, "%s", e.msg);
		f = file_at(s, JAIL_FILE_SOCKET, "--vsock", vs.path, strlen(vs.path), false);
		if (!f)
			return -1;
		if (s->pass == COLLECT)
			return 0;
		return push(s, "%u,unix:/%s%s", vs.cid, f->name, c2 ? c2 : "");
	}
	case R_NET:
		if (strncmp(val, "tap:", 4) == 0)
			s->r->tun = true;
		return s->pass == EMIT ? push(s, "%s", val) : 0;
	case R_BACKEND:
		if (strcmp(val, "kvm") != 0 && strcmp(val, "emu") != 0 && strcmp(val, "auto") != 0)
			return err_setf(s->err, "--backend: '%.32s' is not kvm, emu or auto", val);
		s->backend_arg = val;
		/* EMIT: every --backend says what the jailer decided. */
		return s->pass == EMIT ? push(s, "%s", s->r->backend) : 0;
	case R_CMDLINE: s->have_cmdline = true; return s->pass == EMIT ? push(s, "%s", val) : 0;
	case R_API_SOCK:
		s->api_chosen = true;
		f = file_at(s, JAIL_FILE_SOCKET, "--api-sock", val, strlen(val), false);
		if (!f)
			return -1;
		return s->pass == EMIT ? push(s, "/%s", f->name) : 0;
	case R_API_CHOSEN: s->api_chosen = true; return s->pass == EMIT ? push(s, "%s", val) : 0;
	case R_REFUSED:
		return err_setf(s->err, "vmon run's --config-file cannot be used in a jail (give "
					"the options instead)");
	case R_OTHER_VALUE:
	case R_FLAG: break;
	}
	return s->pass == EMIT ? push(s, "%s", val) : 0;
}

static int scan_args(struct scan *s, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			/* Not an option (vmon run takes no other arguments: it
			 * will say so), or "--": passed on. */
			if (s->pass == EMIT && push(s, "%s", a) < 0)
				return -1;
			continue;
		}
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		int k = -1;
		for (int j = 0; j < NRUN_OPTS; j++)
			if (strlen(run_opts[j].name) == nlen &&
			    strncmp(run_opts[j].name, name, nlen) == 0)
				k = j;
		if (k < 0) {
			for (int j = 0; j < NRUN_OPTS; j++)
				if (strncmp(run_opts[j].name, name, nlen) == 0)
					return err_setf(s->err,
							"vmon run option '%.*s' is abbreviated: "
							"write it in full (--%s)",
							(int)(nlen + 2), a, run_opts[j].name);
			/* An option the jailer does not know: passed on, with
			 * the next argument if that looks like its value. */
			if (s->pass == EMIT && push(s, "%s", a) < 0)
				return -1;
			if (!eq && i + 1 < argc && argv[i + 1][0] != '-') {
				i++;
				if (s->pass == EMIT && push(s, "%s", argv[i]) < 0)
					return -1;
			}
			continue;
		}
		if (run_opts[k].kind == R_FLAG ||
		    (run_opts[k].kind == R_API_CHOSEN && strcmp(run_opts[k].name, "no-api") == 0)) {
			if (run_opts[k].kind == R_API_CHOSEN)
				s->api_chosen = true;
			if (eq)
				return err_setf(s->err, "vmon run option '--%s' takes no value",
						run_opts[k].name);
			if (s->pass == EMIT && push(s, "%s", a) < 0)
				return -1;
			continue;
		}
		const char *val = value_of(s, argc, argv, &i, run_opts[k].name, eq);
		if (!val)
			return -1;
		if (s->pass == EMIT && push(s, "--%s", run_opts[k].name) < 0)
			return -1;
		if (handle(s, run_opts[k].kind, val) < 0)
			return -1;
	}
	return 0;
}

/* The default guest's directory, as `vmon run` finds it. */
static int default_guest_dir(char *dir, size_t len, struct vmon_error *err)
{
	const char *env = getenv("VMON_GUEST_DIR");
	if (env && *env) {
		snprintf(dir, len, "%s", env);
		return 0;
	}
	ssize_t n = readlink("/proc/self/exe", dir, len - 1);
	if (n <= 0)
		return err_setf(err, "no --kernel given, and cannot find vmon's own directory to "
				     "look for the default guest");
	dir[n] = '\0';
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	size_t used = strlen(dir);
	snprintf(dir + used, len - used, "/%s", GUEST_DIR_NAME);
	return 0;
}

static int add_default_guest(struct scan *s)
{
	char dir[PATH_MAX], kernel[PATH_MAX + 32], initrd[PATH_MAX + 32];
	if (default_guest_dir(dir, sizeof(dir), s->err) < 0)
		return -1;
	snprintf(kernel, sizeof(kernel), "%s/%s", dir, GUEST_KERNEL);
	snprintf(initrd, sizeof(initrd), "%s/%s", dir, GUEST_INITRD);
	struct stat st;
	if (stat(kernel, &st) < 0 || (!s->have_initrd && stat(initrd, &st) < 0))
		return err_setf(s->err,
				"no --kernel given and no default guest in %s: run `make guest` "
				"to build it",
				dir);
	if (!file_at(s, JAIL_FILE_IMAGE, "--kernel", kernel, strlen(kernel), false))
		return -1;
	if (!s->have_initrd &&
	    !file_at(s, JAIL_FILE_IMAGE, "--initrd", initrd, strlen(initrd), false))
		return -1;
	return 0;
}

static int emit_default_guest(struct scan *s, bool initrd)
{
	struct jail_file *k = &s->r->files[s->next_file++];
	if (push(s, "--kernel") < 0 || push(s, "/%s", k->name) < 0)
		return -1;
	if (initrd) {
		struct jail_file *i = &s->r->files[s->next_file++];
		if (push(s, "--initrd") < 0 || push(s, "/%s", i->name) < 0)
			return -1;
	}
	if (!s->have_cmdline && (push(s, "--cmdline") < 0 || push(s, GUEST_DEFAULT_CMDLINE) < 0))
		return -1;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static bool name_taken(const struct jail_run *r, int upto, bool in_dev, const char *name,
		       const char *const *reserved, int nreserved)
{
	static const char *const dev_names[] = {"null", "zero", "urandom", "kvm", "net"};
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return true;
	if (in_dev) {
		for (size_t i = 0; i < sizeof(dev_names) / sizeof(dev_names[0]); i++)
			if (strcmp(name, dev_names[i]) == 0)
				return true;
	} else {
		for (int i = 0; i < nreserved; i++)
			if (strcmp(name, reserved[i]) == 0)
				return true;
	}
	for (int i = 0; i < upto; i++)
		if ((r->files[i].kind == JAIL_FILE_BLOCKDEV) == in_dev &&
		    strcmp(r->files[i].name, name) == 0)
			return true;
	return false;
}

static int assign_names(struct jail_run *r, const char *const *reserved, int nreserved,
			struct vmon_error *err)
{
	for (int i = 0; i < r->nfiles; i++) {
		struct jail_file *f = &r->files[i];
		bool in_dev = f->kind == JAIL_FILE_BLOCKDEV;
		const char *base = base_name(f->host_path);
		if (strlen(base) + 8 > NAME_MAX)
			return err_setf(err, "%s: the file name '%.64s...' is too long", f->option,
					base);
		snprintf(f->name, sizeof(f->name), "%s", base);
		for (int n = 2; name_taken(r, i, in_dev, f->name, reserved, nreserved); n++)
			snprintf(f->name, sizeof(f->name), "%d-%s", n, base);
	}
	return 0;
}

/* auto's KVM: only where the jailed vmon will be able to open /dev/kvm.
 * A root jailer makes the jail's node for the jailed uid (devices.c);
 * an unprivileged one binds the host's node, which the jailed process
 * opens with the caller's own rights (on most hosts /dev/kvm is root's
 * and group kvm's, 0660): access() asks with the caller's real ids. */
static bool kvm_usable(void)
{
	const char *dev = getenv("VMON_KVM_DEVICE");
	return access(dev && *dev ? dev : "/dev/kvm", R_OK | W_OK) == 0;
}

int jail_run_prepare(int argc, char **argv, const char *const *reserved, int nreserved,
		     struct jail_run *r, struct vmon_error *err)
{
	memset(r, 0, sizeof(*r));
	struct scan s = {.r = r, .pass = COLLECT, .err = err};
	if (scan_args(&s, argc, argv) < 0)
		return -1;
	bool default_guest = !s.have_kernel;
	bool default_initrd = default_guest && !s.have_initrd;
	if (default_guest && add_default_guest(&s) < 0)
		return -1;

	const char *b = s.backend_arg ? s.backend_arg : "auto";
	if (strcmp(b, "auto") == 0)
		b = host_has_hw_virt(NULL, 0) && kvm_usable() ? "kvm" : "emu";
	r->backend = b;
	r->kvm = strcmp(b, "kvm") == 0;

	if (assign_names(r, reserved, nreserved, err) < 0)
		return -1;

	struct scan e = {.r = r, .pass = EMIT, .err = err};
	if (push(&e, "vmon") < 0 || push(&e, "run") < 0 || scan_args(&e, argc, argv) < 0)
		return -1;
	if (default_guest && emit_default_guest(&e, default_initrd) < 0)
		return -1;
	if (!s.backend_arg && (push(&e, "--backend") < 0 || push(&e, "%s", r->backend) < 0))
		return -1;
	/* A jailed VM serves the API only where the user placed it: the
	 * default runtime directory is outside the jail. */
	if (!s.api_chosen && push(&e, "--no-api") < 0)
		return -1;
	return 0;
}

void jail_run_free(struct jail_run *r)
{
	if (r->argv)
		for (int i = 0; i < r->argc; i++)
			free(r->argv[i]);
	free(r->argv);
	r->argv = NULL;
	r->argc = 0;
}
