/* SPDX-License-Identifier: MIT */
#include "core/chardev.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/chardev_priv.h"
#include "core/event_loop.h"

/* ---- Common part ---- */

void chardev_init(struct chardev *c, const struct chardev_ops *ops, struct vm_control *ctl)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->ctl = ctl;
	pthread_mutex_init(&c->out_lock, NULL);
}

void chardev_fini(struct chardev *c)
{
	pthread_mutex_destroy(&c->out_lock);
}

int chardev_write(struct chardev *c, const void *buf, size_t len)
{
	if (!c || len == 0)
		return 0;
	pthread_mutex_lock(&c->out_lock);
	int r = c->ops->write(c, buf, len);
	pthread_mutex_unlock(&c->out_lock);
	return r;
}

void chardev_set_sink(struct chardev *c, const struct chardev_sink_ops *ops, void *opaque)
{
	if (!c)
		return;
	c->sink = ops;
	c->sink_opaque = ops ? opaque : NULL;
}

void chardev_notify_space(struct chardev *c)
{
	if (c && c->ops->notify_space)
		c->ops->notify_space(c);
}

int chardev_start(struct chardev *c, struct event_loop *ev, struct vmon_error *err)
{
	if (!c || !c->ops->start)
		return 0;
	return c->ops->start(c, ev, err);
}

void chardev_destroy(struct chardev *c)
{
	if (c)
		c->ops->destroy(c);
}

/* ---- Parsing ---- */

int chardev_parse(const char *spec, struct chardev_spec *out, struct vmon_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!spec)
		return err_setf(err, "console: missing back end (stdio, file:PATH or unix:PATH)");
	if (strcmp(spec, "stdio") == 0) {
		out->kind = CHARDEV_STDIO;
		return 0;
	}
	const char *path;
	if (strncmp(spec, "file:", 5) == 0) {
		out->kind = CHARDEV_FILE;
		path = spec + 5;
	} else if (strncmp(spec, "unix:", 5) == 0) {
		out->kind = CHARDEV_UNIX;
		path = spec + 5;
	} else {
		return err_setf(
			err,
			"console: unknown back end '%.64s' (use stdio, file:PATH or unix:PATH)",
			spec);
	}
	size_t n = strlen(path);
	if (n == 0)
		return err_setf(err, "console: '%.64s' needs a path", spec);
	if (n >= sizeof(out->path))
		return err_setf(err, "console: path too long");
	if (out->kind == CHARDEV_UNIX && n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return err_setf(err, "console: unix socket path longer than %zu bytes",
				sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	memcpy(out->path, path, n + 1);
	return 0;
}

int chardev_create(const struct chardev_spec *spec, struct vm_control *ctl, struct chardev **out,
		   struct vmon_error *err)
{
	switch (spec->kind) {
	case CHARDEV_STDIO: return chardev_stdio_create(ctl, out, err);
	case CHARDEV_FILE: return chardev_file_create(spec->path, ctl, out, err);
	case CHARDEV_UNIX: return chardev_unix_create(spec->path, ctl, out, err);
	}
	return err_setf(err, "console: bad back end");
}

/* ---- Output helpers ---- */

void chardev_output_failed(struct chardev *c, int e)
{
	if (c->out_failed || (c->ctl && vmctl_stopping(c->ctl)))
		return;
	c->out_failed = true;
	const char *what = strcmp(c->ops->kind, "stdio") == 0 ? "stdout" : c->ops->kind;
	if (e == EPIPE) {
		fprintf(stderr, "vmon: console output (%s) closed: broken pipe; stopping the VM\n",
			what);
		if (c->ctl)
			vmctl_request_stop(c->ctl, VM_STOP_USER_QUIT, 128 + SIGPIPE);
	} else {
		fprintf(stderr,
			"vmon: console output (%s) failed: %s; the guest's output is dropped from "
			"now on\n",
			what, strerror(e));
	}
}

int chardev_fd_write_all(int fd, const uint8_t *buf, size_t len, struct vm_control *ctl,
			 bool is_socket)
{
	bool pollerr = false;
	while (len > 0) {
		ssize_t n = is_socket ? send(fd, buf, len, MSG_NOSIGNAL) : write(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int r = poll(&p, 1, 100);
			if (r == 0 && ctl && vmctl_stopping(ctl))
				return -1; /* nobody reads and the VM is ending */
			if (r > 0 && (p.revents & POLLNVAL)) {
				errno = EBADF;
				return -1;
			}
			if (r > 0 && (p.revents & POLLERR)) {
				/* The next write says what (EPIPE...); if it
				 * still says "try again", give up. */
				if (pollerr) {
					errno = EIO;
					return -1;
				}
				pollerr = true;
			}
			continue;
		}
		return -1; /* EPIPE, EIO, ...: the reader is gone */
	}
	return 0;
}

/* ---- Input pump ---- */

static void input_fd_ready(void *opaque, int fd, uint32_t events);
static void input_efd_ready(void *opaque, int fd, uint32_t events);

void chardev_input_init(struct chardev_input *in, struct chardev *c,
			const struct chardev_input_hooks *hooks, void *opaque)
{
	memset(in, 0, sizeof(*in));
	in->c = c;
	in->hooks = hooks;
	in->opaque = opaque;
	in->efd = -1;
	in->fd = -1;
}

int chardev_input_start(struct chardev_input *in, struct event_loop *ev, struct vmon_error *err)
{
	in->ev = ev;
	in->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (in->efd < 0)
		return err_setf(err, "console: eventfd: %s", strerror(errno));
	if (ev_add(ev, in->efd, EPOLLIN, input_efd_ready, in) < 0) {
		int e = errno;
		close(in->efd);
		in->efd = -1;
		return err_setf(err, "console: event loop: %s", strerror(e));
	}
	return 0;
}

void chardev_input_kick(struct chardev_input *in)
{
	if (in->efd < 0)
		return;
	uint64_t one = 1;
	ssize_t r = write(in->efd, &one, sizeof(one));
	(void)r; /* EAGAIN: the counter is already non-zero, a wake-up is pending */
}

static void arm(struct chardev_input *in)
{
	if (in->fd < 0 || !in->pollable || in->armed || in->quit)
		return;
	if (ev_modify(in->ev, in->fd, EPOLLIN | EPOLLONESHOT) == 0)
		in->armed = true;
}

void chardev_input_attach(struct chardev_input *in, int fd)
{
	in->fd = fd;
	in->armed = false;
	in->pollable = false;
	if (fd < 0 || !in->ev)
		return;
	/* Registered idle first; the kick below decides whether to arm. */
	if (ev_add(in->ev, fd, EPOLLONESHOT, input_fd_ready, in) == 0)
		in->pollable = true; /* else EPERM: a regular file or /dev/null */
	chardev_input_kick(in);
}

void chardev_input_detach(struct chardev_input *in)
{
	if (in->fd >= 0 && in->pollable)
		ev_remove(in->ev, in->fd);
	in->fd = -1;
	in->pollable = false;
	in->armed = false;
}

void chardev_input_quit(struct chardev_input *in)
{
	in->quit = true;
	in->pend_len = in->pend_off = 0;
}

void chardev_input_fini(struct chardev_input *in)
{
	chardev_input_detach(in);
	if (in->efd >= 0) {
		if (in->ev)
			ev_remove(in->ev, in->efd);
		close(in->efd);
		in->efd = -1;
	}
}

/* Offers the kept bytes; true if none remain. */
static bool flush_pending(struct chardev_input *in)
{
	const struct chardev_sink_ops *sink = in->c->sink;
	while (in->pend_len > 0) {
		if (!sink)
			return false;
		size_t took =
			sink->receive(in->c->sink_opaque, in->pend + in->pend_off, in->pend_len);
		if (took > in->pend_len)
			took = in->pend_len; /* defensive */
		if (took == 0)
			return false;
		in->pend_off += took;
		in->pend_len -= took;
	}
	in->pend_off = 0;
	return true;
}

static void hit_eof(struct chardev_input *in)
{
	int fd = in->fd;
	chardev_input_detach(in);
	if (in->hooks && in->hooks->on_eof)
		in->hooks->on_eof(in, fd);
}

/* readable: called for an EPOLLIN event on in->fd. A pollable fd is read
 * only then (stdin may be in blocking mode: never block the loop thread). */
static void pump(struct chardev_input *in, bool readable)
{
	/* Bound the work per wake-up so one source cannot starve the loop. */
	for (int round = 0; round < 64; round++) {
		if (!flush_pending(in) || in->quit)
			return; /* the sink will notify, or input ended */
		if (in->fd < 0)
			return;
		const struct chardev_sink_ops *sink = in->c->sink;
		size_t space = sink ? sink->space(in->c->sink_opaque) : 0;
		if (space == 0)
			return; /* the sink will notify */
		if (in->pollable && !readable) {
			arm(in);
			return;
		}
		if (space > CHARDEV_IN_CHUNK)
			space = CHARDEV_IN_CHUNK;
		uint8_t buf[CHARDEV_IN_CHUNK];
		ssize_t n = read(in->fd, buf, space);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			arm(in);
			return;
		}
		if (n <= 0) {
			hit_eof(in);
			return;
		}
		size_t len = (size_t)n;
		if (in->hooks && in->hooks->filter) {
			len = in->hooks->filter(in, buf, len, in->pend);
			if (len > (size_t)n)
				len = (size_t)n; /* defensive */
		} else {
			memcpy(in->pend, buf, len);
		}
		in->pend_off = 0;
		in->pend_len = len;
		/* One read per readiness event: go round once more to offer
		 * the bytes, then re-arm instead of reading again. */
		readable = false;
	}
	/* Unpollable input and still room: continue on the next loop turn. */
	chardev_input_kick(in);
}

static void input_fd_ready(void *opaque, int fd, uint32_t events)
{
	struct chardev_input *in = opaque;
	if (fd != in->fd)
		return;	   /* stale event for a detached fd */
	in->armed = false; /* one-shot: disarmed by delivery */
	pump(in, true);
}

static void input_efd_ready(void *opaque, int fd, uint32_t events)
{
	struct chardev_input *in = opaque;
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
	if (in->hooks && in->hooks->on_wake)
		in->hooks->on_wake(in);
	if (in->armed)
		return; /* already waiting for input; nothing is kept then */
	pump(in, false);
}
