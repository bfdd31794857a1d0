/* SPDX-License-Identifier: MIT */
/*
 * The jail's /dev: a small tmpfs (nosuid, noexec, read-only once filled)
 * mounted on root/dev inside the jail's own mount namespace, so no device
 * node is ever left on the host's disk. It holds null, zero and urandom;
 * kvm when the backend is KVM; net/tun for a --net tap; a node for each
 * --disk on a block device. Each belongs to the jailed uid/gid, mode 0600.
 *
 * As root the nodes are made with mknod. In a user namespace (jailer
 * started unprivileged) mknod is not allowed, so each is an empty file
 * with the host's node bind-mounted on it.
 *
 * jail_devices_check runs in the jailer before anything is made (the host
 * nodes must exist); jail_devices_make runs in the jail's child process,
 * in its new mount namespace, before pivot_root.
 */
#ifndef VMON_JAIL_DEVICES_H
#define VMON_JAIL_DEVICES_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"
#include "jail/run_args.h"

#define JAIL_MAX_DEVICES 24

struct jail_device {
	char name[NAME_MAX + 8]; /* under /dev: "null", "net/tun"... */
	char host[PATH_MAX];	 /* the host node (bind source in a user namespace) */
	mode_t type;		 /* S_IFCHR or S_IFBLK */
	dev_t rdev;
};

struct jail_devices {
	struct jail_device dev[JAIL_MAX_DEVICES];
	int n;
	bool tun; /* a net/ directory is needed */
};

/* Lists the nodes the jail needs and checks that the host has them. The
 * KVM node is $VMON_KVM_DEVICE if set (as vmon run reads it), else
 * /dev/kvm. */
int jail_devices_check(struct jail_devices *d, const struct jail_run *run, struct vmon_error *err);

/* Mounts the tmpfs on root/dev and makes the nodes, owned by uid/gid (ids
 * as seen from the jail's user namespace, if any). */
int jail_devices_make(const char *root, const struct jail_devices *d, uid_t uid, gid_t gid,
		      bool userns, struct vmon_error *err);

#endif
