/* SPDX-License-Identifier: MIT */
/* file:PATH back end: output only, to a file created 0644 and truncated. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/chardev.h"
#include "core/chardev_priv.h"

struct chardev_file {
	struct chardev c; /* first */
	int fd;
};

static int file_write(struct chardev *c, const uint8_t *buf, size_t len)
{
	struct chardev_file *f = (struct chardev_file *)c;
	return chardev_fd_write_all(f->fd, buf, len, c->ctl, false);
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

int chardev_file_create(const char *path, struct vm_control *ctl, struct chardev **out,
			struct vmon_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return err_setf(err, "console: cannot open %s: %s", path, strerror(errno));
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
