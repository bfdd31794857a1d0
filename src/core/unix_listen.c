/* SPDX-License-Identifier: MIT */
#include "core/unix_listen.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int unix_listen(const char *path, const char *what, int backlog, struct vmon_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(sa.sun_path))
		return err_setf(err, "%s: socket path '%.64s' is empty or longer than %zu bytes",
				what, path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, n + 1);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return err_setf(err, "%s: %s exists and is not a socket", what, path);
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (probe >= 0)
			close(probe);
		if (live)
			return err_setf(err, "%s: %s is in use by another process", what, path);
		unlink(path); /* stale */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return err_setf(err, "%s: cannot listen on %s: %s", what, path, strerror(e));
	}
	return fd;
}
