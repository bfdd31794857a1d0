/* SPDX-License-Identifier: MIT */
#include "jail/devices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int add(struct jail_devices *d, const char *name, const char *host, mode_t type,
	       struct vmon_error *err)
{
	if (d->n == JAIL_MAX_DEVICES)
		return err_setf(err, "too many devices for the jail's /dev");
	struct stat st;
	if (stat(host, &st) < 0)
		return err_setf(err, "the jail needs %s: %s", host, strerror(errno));
	if ((st.st_mode & S_IFMT) != type)
		return err_setf(err, "%s is not a %s device", host,
				type == S_IFCHR ? "character" : "block");
	struct jail_device *dv = &d->dev[d->n++];
	snprintf(dv->name, sizeof(dv->name), "%s", name);
	snprintf(dv->host, sizeof(dv->host), "%s", host);
	dv->type = type;
	dv->rdev = st.st_rdev;
	return 0;
}

int jail_devices_check(struct jail_devices *d, const struct jail_run *run, struct vmon_error *err)
{
	memset(d, 0, sizeof(*d));
	if (add(d, "null", "/dev/null", S_IFCHR, err) < 0 ||
	    add(d, "zero", "/dev/zero", S_IFCHR, err) < 0 ||
	    add(d, "urandom", "/dev/urandom", S_IFCHR, err) < 0)
		return -1;
	if (run->kvm) {
		const char *kvm = getenv("VMON_KVM_DEVICE");
		if (add(d, "kvm", kvm && *kvm ? kvm : "/dev/kvm", S_IFCHR, err) < 0)
			return -1;
	}
	if (run->tun) {
		if (add(d, "net/tun", "/dev/net/tun", S_IFCHR, err) < 0)
			return -1;
		d->tun = true;
	}
	for (int i = 0; i < run->nfiles; i++)
		if (run->files[i].kind == JAIL_FILE_BLOCKDEV &&
		    add(d, run->files[i].name, run->files[i].host_path, S_IFBLK, err) < 0)
			return -1;
	return 0;
}

int jail_devices_make(const char *root, const struct jail_devices *d, uid_t uid, gid_t gid,
		      bool userns, struct vmon_error *err)
{
	char dev[PATH_MAX + 8];
	snprintf(dev, sizeof(dev), "%s/dev", root);
	/* Room for a few dozen inodes, no data beyond directories. */
	if (mount("vmon-jail-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC,
		  "mode=0755,size=16k,nr_inodes=64") < 0)
		return err_setf(err, "cannot mount a tmpfs on %s: %s", dev, strerror(errno));
	int dfd = open(dev, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return err_setf(err, "cannot open %s: %s", dev, strerror(errno));
	if (d->tun && mkdirat(dfd, "net", 0755) < 0) {
		close(dfd);
		return err_setf(err, "cannot make %s/net: %s", dev, strerror(errno));
	}
	for (int i = 0; i < d->n; i++) {
		const struct jail_device *dv = &d->dev[i];
		int rc;
		if (!userns) {
			rc = mknodat(dfd, dv->name, dv->type | 0600, dv->rdev);
			if (rc == 0)
				rc = fchownat(dfd, dv->name, uid, gid, AT_SYMLINK_NOFOLLOW);
		} else {
			/* No mknod in a user namespace: bind the host's node
			 * onto an empty file. */
			char target[PATH_MAX + 64];
			snprintf(target, sizeof(target), "%s/%s", dev, dv->name);
			rc = openat(dfd, dv->name,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (rc >= 0) {
				close(rc);
				rc = mount(dv->host, target, NULL, MS_BIND, NULL);
			}
		}
		if (rc < 0) {
			int e = errno;
			close(dfd);
			return err_setf(err, "cannot make the jail's /dev/%s (%u:%u): %s", dv->name,
					major(dv->rdev), minor(dv->rdev), strerror(e));
		}
	}
	close(dfd);
	/* Nothing more is made there: the jailed vmon cannot add files. */
	if (mount(NULL, dev, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) <
	    0)
		return err_setf(err, "cannot make %s read-only: %s", dev, strerror(errno));
	return 0;
}
