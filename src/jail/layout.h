/* SPDX-License-Identifier: MIT */
/*
 * The jail on disk:
 *
 *   DIR/vmon/                 shared by all jails (made if missing)
 *   DIR/vmon/ID/              this jail (must not exist yet)
 *   DIR/vmon/ID/vmon.pid      the jailed vmon's host pid, while it runs
 *   DIR/vmon/ID/root/         the jail root, owned by the jailed uid/gid
 *       vmon                  vmon itself (or --test-exec's file)
 *       lib64/..., lib/...    its loader and libraries, at their host paths
 *       dev/                  mount point: the jail's /dev is a tmpfs
 *       NAME...               kernel, initrd, disk images; later vmon's
 *                             sockets and output files
 *
 * Files are hard-linked (the jail shares the host's inode: a writable disk
 * is the host's file) or, where that fails (another file system), copied;
 * copied images are given to the jailed uid/gid. Directories the jailer
 * makes, the binary and the libraries stay root's. Every step works from
 * directory fds opened with O_NOFOLLOW, so a symlink planted under DIR
 * cannot redirect it, and DIR/vmon must be root's and not writable by
 * others.
 *
 * Ownership: struct jail_layout holds the directory fds (closed by
 * jail_layout_close) and remembers what it made, so jail_layout_remove
 * takes away exactly that. One thread.
 */
#ifndef VMON_JAIL_LAYOUT_H
#define VMON_JAIL_LAYOUT_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"
#include "jail/libs.h"
#include "jail/run_args.h"

#define JAIL_DIR_NAME  "vmon" /* DIR/vmon, as Firecracker's DIR/firecracker */
#define JAIL_EXEC_NAME "vmon"

struct jail_layout {
	char base[PATH_MAX]; /* DIR/vmon (DIR made absolute) */
	char dir[PATH_MAX];  /* DIR/vmon/ID */
	char root[PATH_MAX]; /* DIR/vmon/ID/root */
	char id[NAME_MAX + 1];
	int chroot_fd, base_fd, dir_fd, root_fd; /* -1 when not open */
	bool made_base, made_dir;
	uid_t uid; /* owner of the root and of copied images: the jailed */
	gid_t gid; /* process's ids as the host sees them */
};

/* Checks DIR and that DIR/vmon/ID does not exist; fills the paths. Makes
 * nothing. */
int jail_layout_check(struct jail_layout *l, const char *chroot_base, const char *id,
		      struct vmon_error *err);

/* Makes DIR/vmon (if missing), DIR/vmon/ID, root/ and root/dev. */
int jail_layout_create(struct jail_layout *l, uid_t uid, gid_t gid, struct vmon_error *err);

/* Places the executable (exe_fd: open on vmon or the --test-exec file) as
 * root/vmon and every library at its own path. */
int jail_layout_add_program(struct jail_layout *l, int exe_fd, const struct jail_libs *libs,
			    struct vmon_error *err);

/* Places the images the run arguments name (IMAGE and DISK files) under
 * their jail names, and checks that the jailed uid/gid may read them (and
 * write writable disks). */
int jail_layout_add_images(struct jail_layout *l, const struct jail_run *run,
			   struct vmon_error *err);

/* Gives root/ to the jailed uid/gid (last: vmon creates its sockets and
 * output files there). */
int jail_layout_finish(struct jail_layout *l, struct vmon_error *err);

/* DIR/vmon/ID/vmon.pid. */
int jail_layout_write_pid(const struct jail_layout *l, pid_t pid, struct vmon_error *err);
void jail_layout_remove_pid(struct jail_layout *l);

/* Removes DIR/vmon/ID and everything in it, and DIR/vmon if this jailer
 * made it and it is empty. Never follows symlinks. */
void jail_layout_remove(struct jail_layout *l);

void jail_layout_close(struct jail_layout *l);

#endif
