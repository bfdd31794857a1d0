/* SPDX-License-Identifier: MIT */
/*
 * file:PATH back end: output only.
 *   - a regular file is created 0644 and truncated — unless it is a disk
 *     image some VM holds (image locks, core/image_lock.h: this VM's own
 *     disks included), which is refused before anything is written;
 *   - a FIFO must have a reader already (opened non-blocking: no reader is
 *     an error, never a hang); output then waits for the reader
 *     (backpressure, as a slow terminal would), and a reader that goes
 *     away is "console gone" (chardev.h);
 *   - a character device (/dev/null, a terminal) is written as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/chardev.h"
#include "core/chardev_priv.h"
#include "core/image_lock.h"

struct chardev_file {
	struct chardev c; /* first */
	int fd;
};

static int file_write(struct chardev *c, const uint8_t *buf, size_t len)
{
	struct chardev_file *f = (struct chardev_file *)c;
	if (chardev_fd_write_all(f->fd, buf, len, c->ctl, false) < 0) {
		chardev_output_failed(c, errno);
		return -1;
	}
	return 0;
}

static void file_destroy(struct chardev *c)
{
	struct chardev_file *f = (struct chardev_file *)c;
	if (f->fd >= 0)
		close(f->fd);
	chardev_fini(c);
	free(f);
}

static const struct chardev_ops file_ops = {
	.kind = "file",
	.write = file_write,
	.destroy = file_destroy,
};

/* Opens path for output as described at the top; returns the fd or -1. */
static int open_output(const char *path, struct vmon_error *err)
{
	/* Not O_TRUNC: the checks below come first. O_NONBLOCK: a FIFO
	 * without a reader fails with ENXIO instead of blocking. */
	int fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0) {
		int e = errno;
		struct stat st;
		if (e == ENXIO && stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
			return err_setf(
				err,
				"console: %s is a FIFO with no reader (start the reader first)",
				path);
		if (e == ENXIO && stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			return err_setf(err,
					"console: %s is a socket (use unix:PATH to listen on one)",
					path);
		return err_setf(err, "console: cannot open %s: %s", path, strerror(e));
	}
	struct stat st;
	const char *problem = NULL;
	int held = 0;
	if (fstat(fd, &st) < 0)
		problem = strerror(errno);
	else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		held = image_lock_held(fd);
	/* held < 0: a file system without locks; then no VM can hold it as
	 * an image either (vmon refuses such disks), so write on. */
	if (!problem && held > 0)
		problem = "a disk image in use by a VM (this one or another): not overwriting it";
	if (!problem && S_ISREG(st.st_mode) && ftruncate(fd, 0) < 0)
		problem = strerror(errno);
	/* Regular files never block; keep O_NONBLOCK elsewhere so a stuck
	 * reader cannot hold a stopping VM (chardev_fd_write_all polls). */
	if (!problem && S_ISREG(st.st_mode) && fcntl(fd, F_SETFL, O_WRONLY) < 0)
		problem = strerror(errno);
	if (problem) {
		close(fd);
		return err_setf(err, "console: %s: %s", path, problem);
	}
	return fd;
}

int chardev_file_create(const char *path, struct vm_control *ctl, struct chardev **out,
			struct vmon_error *err)
{
	int fd = open_output(path, err);
	if (fd < 0)
		return -1;
	struct chardev_file *f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return err_setf(err, "out of memory");
	}
	chardev_init(&f->c, &file_ops, ctl);
	f->fd = fd;
	*out = &f->c;
	return 0;
}
