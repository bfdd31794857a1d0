/* SPDX-License-Identifier: MIT */
#include "jail/args.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_ID = 256,
	OPT_UID,
	OPT_GID,
	OPT_CHROOT_BASE,
	OPT_NETNS,
	OPT_CGROUP,
	OPT_CGROUP_VERSION,
	OPT_PARENT_CGROUP,
	OPT_RESOURCE_LIMIT,
	OPT_DAEMONIZE,
	OPT_NEW_PID_NS,
	OPT_TEST_EXEC,
	OPT_HELP,
};

static const struct option jail_options[] = {
	{"id", required_argument, NULL, OPT_ID},
	{"uid", required_argument, NULL, OPT_UID},
	{"gid", required_argument, NULL, OPT_GID},
	{"chroot-base", required_argument, NULL, OPT_CHROOT_BASE},
	{"netns", required_argument, NULL, OPT_NETNS},
	{"cgroup", required_argument, NULL, OPT_CGROUP},
	{"cgroup-version", required_argument, NULL, OPT_CGROUP_VERSION},
	{"parent-cgroup", required_argument, NULL, OPT_PARENT_CGROUP},
	{"resource-limit", required_argument, NULL, OPT_RESOURCE_LIMIT},
	{"daemonize", no_argument, NULL, OPT_DAEMONIZE},
	{"new-pid-ns", no_argument, NULL, OPT_NEW_PID_NS},
	{"test-exec", required_argument, NULL, OPT_TEST_EXEC},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

bool jail_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > JAIL_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isascii((unsigned char)id[i]) ||
		    !(isalnum((unsigned char)id[i]) || id[i] == '-'))
			return false;
	return true;
}

/* A decimal id in [1, 2^32 - 2]: 0 is root, (uid_t)-1 means "unchanged" to
 * the kernel. */
static int parse_id(const char *opt, const char *s, unsigned long *out, struct vmon_error *err)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || !isdigit((unsigned char)s[0]) || v > 0xfffffffeULL)
		return err_setf(err, "%s: '%.64s' is not a number from 1 to 4294967294", opt, s);
	if (v == 0)
		return err_setf(err, "%s: 0 is root; the jailed vmon must run unprivileged", opt);
	*out = (unsigned long)v;
	return 0;
}

/* Controller file names: lowercase controller, then lowercase words with
 * an occasional size in capitals (hugetlb.2MB.max). */
static bool key_char(char c, bool in_controller)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       (!in_controller && c >= 'A' && c <= 'Z');
}

int jail_cgroup_kv_parse(const char *arg, struct jail_cgroup_kv *kv, struct vmon_error *err)
{
	memset(kv, 0, sizeof(*kv));
	const char *eq = strchr(arg, '=');
	if (!eq)
		return err_setf(err, "--cgroup: '%.64s' is not KEY=VALUE (e.g. memory.max=256M)",
				arg);
	size_t klen = (size_t)(eq - arg);
	const char *val = eq + 1;
	if (klen == 0 || klen >= sizeof(kv->key))
		return err_setf(err, "--cgroup: '%.64s' has no controller file name", arg);
	memcpy(kv->key, arg, klen);
	const char *dot = strchr(kv->key, '.');
	for (size_t i = 0; i < klen; i++)
		if (!key_char(kv->key[i], !dot || kv->key + i < dot))
			return err_setf(err,
					"--cgroup: '%.64s' is not a controller file name "
					"(controller.file, e.g. memory.max)",
					kv->key);
	if (!dot || dot == kv->key || !dot[1] || strstr(kv->key, ".."))
		return err_setf(err,
				"--cgroup: '%.64s' is not a controller file name (controller.file, "
				"e.g. memory.max)",
				kv->key);
	memcpy(kv->controller, kv->key, (size_t)(dot - kv->key));
	if (strcmp(kv->controller, "cgroup") == 0)
		return err_setf(err,
				"--cgroup: '%.64s' is the cgroup's own interface file, not a "
				"controller setting",
				kv->key);
	size_t vlen = strlen(val);
	if (vlen == 0)
		return err_setf(err, "--cgroup: %s has no value", kv->key);
	if (vlen >= sizeof(kv->value))
		return err_setf(err, "--cgroup: the value of %s is longer than %zu bytes", kv->key,
				sizeof(kv->value) - 1);
	for (size_t i = 0; i < vlen; i++)
		if (!isprint((unsigned char)val[i]))
			return err_setf(err, "--cgroup: the value of %s has a control character",
					kv->key);
	memcpy(kv->value, val, vlen + 1);
	return 0;
}

bool jail_parent_cgroup_valid(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > JAIL_PARENT_CGROUP_MAX || p[0] == '/' || p[n - 1] == '/')
		return false;
	const char *c = p;
	while (*c) {
		const char *slash = strchr(c, '/');
		size_t len = slash ? (size_t)(slash - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		for (size_t i = 0; i < len; i++)
			if (!(isascii((unsigned char)c[i]) && isalnum((unsigned char)c[i])) &&
			    c[i] != '_' && c[i] != '.' && c[i] != '-')
				return false;
		c += len;
		if (*c == '/')
			c++;
	}
	return true;
}

static int parse_u64_dec(const char *s, size_t len, uint64_t *out)
{
	if (len == 0 || len > 20)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int jail_rlimit_parse(const char *arg, struct jail_args *a, struct vmon_error *err)
{
	const char *p = arg;
	if (!*p)
		return err_setf(err, "--resource-limit: empty (use fsize=N,no-file=N)");
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (!eq)
			return err_setf(err, "--resource-limit: '%.*s' is not RESOURCE=N", (int)len,
					p);
		size_t nlen = (size_t)(eq - p);
		size_t vlen = len - nlen - 1;
		uint64_t v;
		if (nlen == 5 && strncmp(p, "fsize", 5) == 0) {
			/* RLIM_INFINITY is all ones: keep below it. */
			if (parse_u64_dec(eq + 1, vlen, &v) < 0 || v == UINT64_MAX)
				return err_setf(err,
						"--resource-limit: fsize '%.*s' is not a number of "
						"bytes",
						(int)vlen, eq + 1);
			a->fsize = v;
			a->has_fsize = true;
		} else if (nlen == 7 && strncmp(p, "no-file", 7) == 0) {
			if (parse_u64_dec(eq + 1, vlen, &v) < 0 || v < JAIL_NOFILE_MIN ||
			    v > JAIL_NOFILE_MAX)
				return err_setf(err,
						"--resource-limit: no-file '%.*s' is not a number "
						"from %d to %d",
						(int)vlen, eq + 1, JAIL_NOFILE_MIN,
						JAIL_NOFILE_MAX);
			a->nofile = v;
			a->has_nofile = true;
		} else {
			return err_setf(err,
					"--resource-limit: unknown resource '%.*s' (use fsize or "
					"no-file)",
					(int)nlen, p);
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

static int set_once(const char **slot, const char *name, const char *val, struct vmon_error *err)
{
	if (*slot)
		return err_setf(err, "%s given twice", name);
	*slot = val;
	return 0;
}

int jail_args_parse(int argc, char **argv, struct jail_args *a, struct vmon_error *err)
{
	memset(a, 0, sizeof(*a));
	a->parent_cgroup = JAIL_DEFAULT_PARENT;
	const char *uid = NULL, *gid = NULL, *version = NULL, *parent = NULL;
	bool separator = false;

	opterr = 0; /* our own one-line messages */
	optind = 1;
	for (;;) {
		int before = optind;
		int c = getopt_long(argc, argv, "+:", jail_options, NULL);
		if (c == -1) {
			separator = optind == before + 1 && before < argc &&
				    strcmp(argv[before], "--") == 0;
			break;
		}
		switch (c) {
		case OPT_ID:
			if (set_once(&a->id, "--id", optarg, err) < 0)
				return -1;
			break;
		case OPT_UID:
			if (set_once(&uid, "--uid", optarg, err) < 0)
				return -1;
			break;
		case OPT_GID:
			if (set_once(&gid, "--gid", optarg, err) < 0)
				return -1;
			break;
		case OPT_CHROOT_BASE:
			if (set_once(&a->chroot_base, "--chroot-base", optarg, err) < 0)
				return -1;
			break;
		case OPT_NETNS:
			if (set_once(&a->netns, "--netns", optarg, err) < 0)
				return -1;
			break;
		case OPT_CGROUP: {
			if (a->ncgroups == JAIL_MAX_CGROUP_KV)
				return err_setf(err, "--cgroup: at most %d settings",
						JAIL_MAX_CGROUP_KV);
			struct jail_cgroup_kv *kv = &a->cgroups[a->ncgroups];
			if (jail_cgroup_kv_parse(optarg, kv, err) < 0)
				return -1;
			for (int i = 0; i < a->ncgroups; i++)
				if (strcmp(a->cgroups[i].key, kv->key) == 0)
					return err_setf(err, "--cgroup: %s given twice", kv->key);
			a->ncgroups++;
			break;
		}
		case OPT_CGROUP_VERSION:
			if (set_once(&version, "--cgroup-version", optarg, err) < 0)
				return -1;
			break;
		case OPT_PARENT_CGROUP:
			if (set_once(&parent, "--parent-cgroup", optarg, err) < 0)
				return -1;
			break;
		case OPT_RESOURCE_LIMIT:
			if (jail_rlimit_parse(optarg, a, err) < 0)
				return -1;
			break;
		case OPT_DAEMONIZE: a->daemonize = true; break;
		case OPT_NEW_PID_NS: a->new_pid_ns = true; break;
		case OPT_TEST_EXEC:
			if (set_once(&a->test_exec, "--test-exec", optarg, err) < 0)
				return -1;
			break;
		case OPT_HELP: a->help = true; return 0;
		case ':': return err_setf(err, "option '%s' needs a value", argv[optind - 1]);
		default:
			return err_setf(err,
					"unknown option '%s' (see vmon jail --help; vmon run's "
					"options go after --)",
					argv[optind - 1]);
		}
	}
	if (optind < argc && !separator)
		return err_setf(err,
				"unexpected argument '%.64s' (vmon run's arguments go after --)",
				argv[optind]);

	if (!a->id)
		return err_setf(err, "--id is required");
	if (!jail_id_valid(a->id))
		return err_setf(err, "--id: '%.80s' is not 1 to %d letters, digits and '-'", a->id,
				JAIL_ID_MAX);
	unsigned long v;
	if (!uid)
		return err_setf(err, "--uid is required");
	if (parse_id("--uid", uid, &v, err) < 0)
		return -1;
	a->uid = (uid_t)v;
	if (!gid)
		return err_setf(err, "--gid is required");
	if (parse_id("--gid", gid, &v, err) < 0)
		return -1;
	a->gid = (gid_t)v;
	if (!a->chroot_base)
		return err_setf(err, "--chroot-base is required");
	if (!a->chroot_base[0])
		return err_setf(err, "--chroot-base: empty path");
	if (version) {
		if (strcmp(version, "1") == 0)
			a->cgroup_version = JAIL_CGROUP_V1;
		else if (strcmp(version, "2") == 0)
			a->cgroup_version = JAIL_CGROUP_V2;
		else
			return err_setf(err, "--cgroup-version: '%.32s' is not 1 or 2", version);
	}
	if (parent) {
		if (!jail_parent_cgroup_valid(parent))
			return err_setf(err,
					"--parent-cgroup: '%.80s' is not a relative path of names "
					"made of letters, digits, '_', '.' and '-'",
					parent);
		a->parent_cgroup = parent;
		a->parent_cgroup_given = true;
	}
	if (a->netns && !a->netns[0])
		return err_setf(err, "--netns: empty path");
	if (a->test_exec && !a->test_exec[0])
		return err_setf(err, "--test-exec: empty path");

	a->run_argc = argc - optind;
	a->run_argv = argv + optind;
	if (a->run_argc > 0 && strcmp(a->run_argv[0], "run") == 0) {
		a->run_argc--;
		a->run_argv++;
	}
	return 0;
}
