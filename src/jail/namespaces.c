/* SPDX-License-Identifier: MIT */
#include "jail/namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

int jail_netns_open(const char *path, struct vmon_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_setf(err, "--netns: cannot open '%.200s': %s", path, strerror(errno));
	int type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET) {
		close(fd);
		return err_setf(err, "--netns: '%.200s' is not a network namespace", path);
	}
	return fd;
}

int jail_ns_clone_flags(bool new_pid_ns, bool userns)
{
	int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
	if (new_pid_ns)
		flags |= CLONE_NEWPID;
	if (userns)
		flags |= CLONE_NEWUSER;
	return flags;
}

pid_t jail_ns_clone(int flags)
{
	return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, 0UL);
}

static int write_proc(pid_t pid, const char *file, const char *text, struct vmon_error *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_setf(err, "cannot open %s: %s", path, strerror(errno));
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int e = errno;
	close(fd);
	if (n != (ssize_t)len)
		return err_setf(err, "cannot write '%s' to %s: %s", text, path,
				n < 0 ? strerror(e) : "short write");
	return 0;
}

int jail_ns_write_idmaps(pid_t child, uid_t in_uid, gid_t in_gid, uid_t out_uid, gid_t out_gid,
			 struct vmon_error *err)
{
	char map[64];
	if (write_proc(child, "setgroups", "deny", err) < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)in_gid, (unsigned)out_gid);
	if (write_proc(child, "gid_map", map, err) < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)in_uid, (unsigned)out_uid);
	return write_proc(child, "uid_map", map, err);
}

int jail_ns_enter_netns(int fd, struct vmon_error *err)
{
	if (setns(fd, CLONE_NEWNET) < 0)
		return err_setf(err, "--netns: cannot join the network namespace: %s",
				strerror(errno));
	return 0;
}

int jail_ns_bind_root(const char *root, struct vmon_error *err)
{
	/* Nothing mounted from here on may reach the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_setf(err, "cannot make the mounts private: %s", strerror(errno));
	/* pivot_root needs the new root to be a mount point. Not recursive:
	 * nothing mounted below root on the host comes along. */
	if (mount(root, root, NULL, MS_BIND, NULL) < 0)
		return err_setf(err, "cannot bind-mount %s: %s", root, strerror(errno));
	/* nosuid, keeping the flags the host's mount has (in a user
	 * namespace they are locked: dropping one would be refused). */
	struct statvfs sv;
	if (statvfs(root, &sv) < 0)
		return err_setf(err, "cannot statvfs %s: %s", root, strerror(errno));
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID;
	static const struct {
		unsigned long st, ms;
	} keep[] = {
		{ST_RDONLY, MS_RDONLY},		{ST_NODEV, MS_NODEV},
		{ST_NOEXEC, MS_NOEXEC},		{ST_NOATIME, MS_NOATIME},
		{ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
	};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (sv.f_flag & keep[i].st)
			flags |= keep[i].ms;
	if (mount(NULL, root, NULL, flags, NULL) < 0)
		return err_setf(err, "cannot remount %s nosuid: %s", root, strerror(errno));
	return 0;
}

int jail_ns_pivot_root(const char *root, struct vmon_error *err)
{
	if (chdir(root) < 0)
		return err_setf(err, "cannot enter %s: %s", root, strerror(errno));
	/* pivot_root(".", "."): the old root ends up mounted on top of the
	 * new one, where a lazy unmount takes it away; no directory for it is
	 * needed in the jail. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return err_setf(err, "pivot_root into %s failed: %s", root, strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		return err_setf(err, "cannot detach the old root: %s", strerror(errno));
	if (chdir("/") < 0 || chroot(".") < 0)
		return err_setf(err, "cannot settle in the jail root: %s", strerror(errno));
	return 0;
}
