/* SPDX-License-Identifier: MIT */
#include "jail/privileges.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int jail_priv_rlimits(const struct jail_args *a, struct vmon_error *err)
{
	struct rlimit rl;
	if (a->has_fsize) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)a->fsize;
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			return err_setf(err, "--resource-limit: cannot set fsize=%llu: %s",
					(unsigned long long)a->fsize, strerror(errno));
	}
	rlim_t nofile = a->has_nofile ? (rlim_t)a->nofile : JAIL_DEFAULT_NOFILE;
	if (!a->has_nofile && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < nofile)
		nofile = rl.rlim_max; /* unprivileged: cannot raise it */
	rl.rlim_cur = rl.rlim_max = nofile;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return err_setf(err, "--resource-limit: cannot set no-file=%llu: %s",
				(unsigned long long)nofile, strerror(errno));
	return 0;
}

static int check_dropped(uid_t uid, gid_t gid, struct vmon_error *err)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (getresuid(&r, &e, &s) < 0 || r != uid || e != uid || s != uid ||
	    getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid)
		return err_setf(err, "the uid/gid change did not take");
	if (capng_get_caps_process() < 0)
		return err_setf(err, "cannot read back the capabilities");
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		return err_setf(err, "capabilities remain after dropping them");
	/* The bounding and ambient sets, read directly from the kernel. */
	for (int cap = 0; cap < 64; cap++) {
		int b = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (b < 0)
			break; /* past the last capability this kernel has */
		if (b > 0)
			return err_setf(err, "capability %d remains in the bounding set", cap);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0)
			return err_setf(err, "capability %d remains in the ambient set", cap);
	}
	if (setuid(0) == 0 || setgid(0) == 0)
		return err_setf(err, "uid or gid 0 can be regained");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return err_setf(err, "no_new_privs is not set");
	return 0;
}

int jail_priv_drop(uid_t uid, gid_t gid, bool userns, struct vmon_error *err)
{
	/* An empty state: after the id change libcap-ng applies it, and
	 * CAPNG_CLEAR_BOUNDING empties the bounding set while it still may
	 * (it needs CAP_SETPCAP). */
	capng_clear(CAPNG_SELECT_ALL);
	int flags = CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT;
	if (!userns)
		flags |= CAPNG_DROP_SUPP_GRP;
	int rc = capng_change_id((int)uid, (int)gid, (capng_flags_t)flags);
	if (rc < 0)
		return err_setf(err,
				"cannot become uid %u gid %u without capabilities "
				"(libcap-ng step %d): %s",
				(unsigned)uid, (unsigned)gid, -rc, strerror(errno));
	/* capng_change_id leaves the inheritable set as it found it. */
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_CAPS) < 0)
		return err_setf(err, "cannot clear the capability sets: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_setf(err, "cannot set no_new_privs: %s", strerror(errno));
	return check_dropped(uid, gid, err);
}

int jail_priv_cloexec_fds(struct vmon_error *err)
{
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		return err_setf(err, "cannot mark descriptors close-on-exec: %s", strerror(errno));
	return 0;
}

void jail_priv_close_inherited(void)
{
	syscall(SYS_close_range, 3U, ~0U, 0U);
	/* A closed 0, 1 or 2 would be taken by the next open() and reach
	 * vmon as its stdio: hold each with /dev/null instead. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) < 0)
			break;
}
