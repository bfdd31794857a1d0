/* SPDX-License-Identifier: MIT */
/* QEMU-compatible image locks; see image_lock.h. */
#include "core/image_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#define PERM_BASE   100
#define SHARED_BASE 200
#define NPERMS	    4 /* consistent read, write, write-unchanged, resize */
/* The range image_lock_held() probes: every byte QEMU has ever used
 * (older versions had a fifth permission) and some room. */
#define PROBE_START PERM_BASE
#define PROBE_LEN   (SHARED_BASE + 100 - PERM_BASE)

enum { P_READ = 1u << 0, P_WRITE = 1u << 1, P_WRITE_UNCHANGED = 1u << 2, P_RESIZE = 1u << 3 };

static int lock_byte(int fd, off_t off, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = off, .l_len = 1};
	return fcntl(fd, F_OFD_SETLK, &fl);
}

/* 1 if another open file holds a lock on [off, off+len), 0 if not. */
static int locked_by_other(int fd, off_t off, off_t len)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = len};
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -1;
	return fl.l_type != F_UNLCK;
}

int image_lock(int fd, bool writable)
{
	const unsigned perm = writable ? P_READ | P_WRITE | P_WRITE_UNCHANGED : P_READ;
	const unsigned shared = P_READ | P_WRITE_UNCHANGED;
	for (unsigned i = 0; i < NPERMS; i++) {
		if (((perm >> i) & 1) && lock_byte(fd, PERM_BASE + i, F_RDLCK) < 0)
			goto fail;
		if (!((shared >> i) & 1) && lock_byte(fd, SHARED_BASE + i, F_RDLCK) < 0)
			goto fail;
	}
	for (unsigned i = 0; i < NPERMS; i++) {
		int r = 0;
		if ((perm >> i) & 1)
			r = locked_by_other(fd, SHARED_BASE + i, 1);
		if (r == 0 && !((shared >> i) & 1))
			r = locked_by_other(fd, PERM_BASE + i, 1);
		if (r < 0)
			goto fail;
		if (r > 0) {
			errno = EAGAIN;
			goto fail;
		}
	}
	return 0;
fail : {
	int e = errno;
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	fcntl(fd, F_OFD_SETLK, &fl);
	errno = e == EACCES ? EAGAIN : e; /* "held by another" either way */
	return -1;
}
}

void image_unlock(int fd)
{
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	(void)fcntl(fd, F_OFD_SETLK, &fl);
}

int image_lock_held(int fd)
{
	return locked_by_other(fd, PROBE_START, PROBE_LEN);
}

bool image_same_file(const struct stat *a, const struct stat *b)
{
	if (S_ISBLK(a->st_mode) && S_ISBLK(b->st_mode))
		return a->st_rdev == b->st_rdev;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}
