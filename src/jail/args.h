/* SPDX-License-Identifier: MIT */
/*
 * `vmon jail` options: parsing and validation of everything before the
 * `--` (the vmon run arguments after it are jail/run_args.h's job).
 *
 * jail_args_parse() checks the syntax of every value (the id, uid and gid,
 * cgroup keys and values, the parent cgroup path, rlimits) without looking
 * at the host; jail.c checks what needs the host (paths, the network
 * namespace, cgroup mounts) before it creates anything. On failure it
 * returns -1 with one line in err (without the "vmon: jail: " prefix).
 *
 * Ownership: the strings point into argv (which lives as long as vmon);
 * cgroup settings are copied into the struct. One thread.
 */
#ifndef VMON_JAIL_ARGS_H
#define VMON_JAIL_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

#define JAIL_ID_MAX	       64  /* as Firecracker: alphanumerics and '-' */
#define JAIL_MAX_CGROUP_KV     32  /* --cgroup settings */
#define JAIL_CGROUP_KEY_MAX    64  /* a controller file name, e.g. memory.max */
#define JAIL_CGROUP_VALUE_MAX  256 /* what is written to it */
#define JAIL_PARENT_CGROUP_MAX 128 /* --parent-cgroup, a relative path */
#define JAIL_DEFAULT_PARENT    "vmon"
#define JAIL_DEFAULT_NOFILE    2048 /* Firecracker's default no-file bound */
#define JAIL_NOFILE_MIN	       16   /* vmon itself needs a handful */
#define JAIL_NOFILE_MAX	       1048576

enum jail_cgroup_version {
	JAIL_CGROUP_AUTO = 0, /* v2 on a pure cgroup v2 host, v1 otherwise */
	JAIL_CGROUP_V1 = 1,
	JAIL_CGROUP_V2 = 2,
};

struct jail_cgroup_kv {
	char key[JAIL_CGROUP_KEY_MAX];	      /* controller file: "memory.limit_in_bytes" */
	char value[JAIL_CGROUP_VALUE_MAX];    /* written as is (one line) */
	char controller[JAIL_CGROUP_KEY_MAX]; /* the part before the first '.' */
};

struct jail_args {
	const char *id;
	uid_t uid;
	gid_t gid;
	const char *chroot_base; /* as given; must be an existing directory */
	const char *netns;	 /* NULL: stay in the caller's network namespace */
	struct jail_cgroup_kv cgroups[JAIL_MAX_CGROUP_KV];
	int ncgroups;
	enum jail_cgroup_version cgroup_version;
	const char *parent_cgroup; /* JAIL_DEFAULT_PARENT unless given */
	bool parent_cgroup_given;
	bool has_fsize, has_nofile;
	uint64_t fsize, nofile;
	bool daemonize;
	bool new_pid_ns;
	const char *test_exec; /* --test-exec FILE: run FILE instead of vmon (tests) */
	bool help;
	/* The vmon run arguments after `--` (a leading "run" is dropped). */
	int run_argc;
	char **run_argv;
};

/* Parses argv (argv[0] is "jail"). */
int jail_args_parse(int argc, char **argv, struct jail_args *a, struct vmon_error *err);

/* True if id is 1..JAIL_ID_MAX characters of [A-Za-z0-9-]. */
bool jail_id_valid(const char *id);

/* Checks one --cgroup KEY=VALUE and fills kv. */
int jail_cgroup_kv_parse(const char *arg, struct jail_cgroup_kv *kv, struct vmon_error *err);

/* Checks a --parent-cgroup path: relative, components of [A-Za-z0-9_.-]
 * other than "." and "..", at most JAIL_PARENT_CGROUP_MAX bytes. */
bool jail_parent_cgroup_valid(const char *p);

/* Parses one --resource-limit value (comma-separated fsize=N / no-file=N)
 * into a. */
int jail_rlimit_parse(const char *arg, struct jail_args *a, struct vmon_error *err);

#endif
