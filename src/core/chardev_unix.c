/* SPDX-License-Identifier: MIT */
/*
 * unix:PATH back end: a listening Unix stream socket, one client at a time.
 * While a client is connected the listening socket is not watched, so the
 * next client waits in the backlog until the current one leaves. Output
 * with no client (or to a client that has gone) is dropped.
 *
 * client_fd is written only on the loop thread, under c->out_lock (the
 * output path reads it under the same lock), so a vCPU never writes to a
 * closed or reused fd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/chardev.h"
#include "core/chardev_priv.h"
#include "core/event_loop.h"

struct chardev_unix {
	struct chardev c; /* first */
	struct chardev_input in;
	struct event_loop *ev;
	int listen_fd;
	int client_fd;	    /* -1: none; see above */
	bool client_broken; /* under out_lock: drop output until it is closed */
	bool listening_on_loop;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static int unix_write(struct chardev *c, const uint8_t *buf, size_t len)
{
	struct chardev_unix *u = (struct chardev_unix *)c;
	if (u->client_fd < 0 || u->client_broken)
		return 0; /* no client: dropped by design */
	if (chardev_fd_write_all(u->client_fd, buf, len, c->ctl, true) < 0) {
		u->client_broken = true; /* the loop closes it (unix_on_wake) */
		chardev_input_kick(&u->in);
	}
	return 0;
}

static void close_client(struct chardev_unix *u)
{
	pthread_mutex_lock(&u->c.out_lock);
	if (u->client_fd >= 0)
		close(u->client_fd);
	u->client_fd = -1;
	u->client_broken = false;
	pthread_mutex_unlock(&u->c.out_lock);
	if (u->listening_on_loop)
		(void)ev_modify(u->ev, u->listen_fd, EPOLLIN);
}

static void unix_on_eof(struct chardev_input *in, int fd)
{
	close_client(in->opaque);
}

/* Output found the client gone: close it now, even if input is throttled
 * (then no hang-up event would arrive), so the next client can connect. */
static void unix_on_wake(struct chardev_input *in)
{
	struct chardev_unix *u = in->opaque;
	pthread_mutex_lock(&u->c.out_lock);
	bool broken = u->client_fd >= 0 && u->client_broken;
	pthread_mutex_unlock(&u->c.out_lock);
	if (broken) {
		chardev_input_detach(in);
		close_client(u);
	}
}

static const struct chardev_input_hooks unix_hooks = {.on_eof = unix_on_eof,
						      .on_wake = unix_on_wake};

static void unix_accept(void *opaque, int fd, uint32_t events)
{
	struct chardev_unix *u = opaque;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return; /* EAGAIN, ECONNABORTED, EMFILE...: try on the next event */
	if (u->client_fd >= 0) {
		close(cfd); /* not expected: the listener is idle while connected */
		return;
	}
	pthread_mutex_lock(&u->c.out_lock);
	u->client_fd = cfd;
	u->client_broken = false;
	pthread_mutex_unlock(&u->c.out_lock);
	(void)ev_modify(u->ev, u->listen_fd, 0);
	chardev_input_attach(&u->in, cfd);
}

static int unix_start(struct chardev *c, struct event_loop *ev, struct vmon_error *err)
{
	struct chardev_unix *u = (struct chardev_unix *)c;
	u->ev = ev;
	if (chardev_input_start(&u->in, ev, err) < 0)
		return -1;
	if (ev_add(ev, u->listen_fd, EPOLLIN, unix_accept, u) < 0)
		return err_setf(err, "console: event loop: %s", strerror(errno));
	u->listening_on_loop = true;
	return 0;
}

static void unix_notify_space(struct chardev *c)
{
	struct chardev_unix *u = (struct chardev_unix *)c;
	chardev_input_kick(&u->in);
}

static void unix_destroy(struct chardev *c)
{
	struct chardev_unix *u = (struct chardev_unix *)c;
	chardev_input_fini(&u->in);
	if (u->listening_on_loop)
		ev_remove(u->ev, u->listen_fd);
	if (u->client_fd >= 0)
		close(u->client_fd);
	if (u->listen_fd >= 0) {
		close(u->listen_fd);
		unlink(u->path);
	}
	chardev_fini(c);
	free(u);
}

static const struct chardev_ops unix_ops = {
	.kind = "unix",
	.write = unix_write,
	.start = unix_start,
	.notify_space = unix_notify_space,
	.destroy = unix_destroy,
};

/* 0: path is free (absent or a stale socket, now unlinked); -1 with err. */
static int clear_path(const char *path, const struct sockaddr_un *sa, struct vmon_error *err)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_setf(err, "console: %s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return err_setf(err, "console: %s exists and is not a socket", path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_setf(err, "console: socket: %s", strerror(errno));
	int r = connect(s, (const struct sockaddr *)sa, sizeof(*sa));
	int e = errno;
	close(s);
	if (r == 0)
		return err_setf(err, "console: %s is in use by another process", path);
	if (e != ECONNREFUSED)
		return err_setf(err, "console: %s: %s", path, strerror(e));
	if (unlink(path) < 0)
		return err_setf(err, "console: cannot remove stale socket %s: %s", path,
				strerror(errno));
	return 0;
}

int chardev_unix_create(const char *path, struct vm_control *ctl, struct chardev **out,
			struct vmon_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(sa.sun_path))
		return err_setf(err, "console: bad unix socket path");
	memcpy(sa.sun_path, path, n + 1);
	if (clear_path(path, &sa, err) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_setf(err, "console: socket: %s", strerror(errno));
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return err_setf(err, "console: cannot bind %s: %s", path, strerror(e));
	}
	if (listen(fd, 4) < 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return err_setf(err, "console: listen on %s: %s", path, strerror(e));
	}
	struct chardev_unix *u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		unlink(path);
		return err_setf(err, "out of memory");
	}
	chardev_init(&u->c, &unix_ops, ctl);
	chardev_input_init(&u->in, &u->c, &unix_hooks, u);
	u->listen_fd = fd;
	u->client_fd = -1;
	memcpy(u->path, path, n + 1);
	*out = &u->c;
	return 0;
}
