/* SPDX-License-Identifier: MIT */
/*
 * The vmon run arguments given to `vmon jail` after `--`: which host files
 * they name, and the same arguments rewritten to the paths those files
 * have inside the jail.
 *
 * Understood (all others pass through unchanged, their paths then meaning
 * paths inside the jail):
 *   --kernel FILE, --initrd FILE       a regular file, linked into the jail
 *   --disk PATH[,...]                  a regular file (linked), or a block
 *                                      device (a node in the jail's /dev)
 *   --serial/--console file:PATH       vmon creates /NAME in the jail
 *   --serial/--console unix:PATH,
 *   --vsock CID,unix:PATH              vmon listens on /NAME in the jail
 *   --net tap:IFNAME                   the jail needs /dev/net/tun
 *   --backend kvm|emu|auto             resolved here (auto needs /proc and
 *                                      /sys, which the jail does not have;
 *                                      it is kvm only where the caller may
 *                                      open /dev/kvm): kvm puts /dev/kvm in
 *                                      the jail
 * NAME is the file's base name, made unique within the jail root. Without
 * --kernel the default guest (`make guest`, found as `vmon run` finds it)
 * is linked in and named explicitly. Both `--opt VALUE` and `--opt=VALUE`
 * are understood; abbreviations of vmon run's options are refused (the
 * jailer could not tell which option they mean for certain).
 *
 * Ownership: struct jail_run owns argv and its strings (jail_run_free).
 */
#ifndef VMON_JAIL_RUN_ARGS_H
#define VMON_JAIL_RUN_ARGS_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"

#define JAIL_MAX_FILES 48

enum jail_file_kind {
	JAIL_FILE_IMAGE,    /* --kernel, --initrd: read by vmon */
	JAIL_FILE_DISK,	    /* --disk on a regular file: read, and written unless ro */
	JAIL_FILE_BLOCKDEV, /* --disk on a block device: a node /dev/NAME in the jail */
	JAIL_FILE_OUTPUT,   /* file:PATH: vmon creates /NAME */
	JAIL_FILE_SOCKET,   /* unix:PATH: vmon listens on /NAME */
};

struct jail_file {
	enum jail_file_kind kind;
	const char *option;	  /* "--kernel", "--serial"...: for messages */
	char host_path[PATH_MAX]; /* as named on the command line */
	char name[NAME_MAX + 1];  /* in the jail root, or in its /dev for BLOCKDEV */
	bool writable;		  /* DISK without ,ro */
	dev_t rdev;		  /* BLOCKDEV */
};

struct jail_run {
	struct jail_file files[JAIL_MAX_FILES];
	int nfiles;
	/* "vmon", "run", the rewritten arguments..., NULL. */
	char **argv;
	int argc;
	bool kvm;	     /* the backend is KVM: the jail needs /dev/kvm */
	bool tun;	     /* a --net tap: the jail needs /dev/net/tun */
	const char *backend; /* "kvm" or "emu" */
};

/* Scans the run arguments, checks the files they name (they must exist:
 * regular files, or block devices for --disk), assigns jail names (none
 * equal to one of the reserved top-level names, e.g. "vmon", "dev" and the
 * library directories) and builds the rewritten argv. Returns 0, or -1 with
 * one line in err. */
int jail_run_prepare(int argc, char **argv, const char *const *reserved, int nreserved,
		     struct jail_run *r, struct vmon_error *err);

void jail_run_free(struct jail_run *r);

#endif
