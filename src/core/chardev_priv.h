/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the chardev back ends (not for devices): blocking output
 * to an fd and the flow-controlled input pump.
 *
 * The input pump lives on the event-loop thread. Its input fd is watched
 * with EPOLLIN|EPOLLONESHOT, so it is re-armed only while the sink has
 * room (a hung-up pipe that still holds data cannot make the loop spin).
 * chardev_notify_space() writes an eventfd; its handler offers the kept
 * bytes, then reads more or re-arms. Fds epoll cannot watch (regular files,
 * /dev/null) are read directly whenever the sink has room.
 */
#ifndef VMON_CORE_CHARDEV_PRIV_H
#define VMON_CORE_CHARDEV_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/chardev.h"

#define CHARDEV_IN_CHUNK 256

struct chardev_input;

struct chardev_input_hooks {
	/* Transforms n read bytes into dst (at most n bytes); returns how
	 * many. NULL: copy. May stop the input with chardev_input_quit(). */
	size_t (*filter)(struct chardev_input *in, const uint8_t *src, size_t n, uint8_t *dst);
	/* The input fd reached EOF or failed and has been detached (not
	 * closed). NULL: nothing. */
	void (*on_eof)(struct chardev_input *in, int fd);
	/* Called on the loop thread at each chardev_input_kick() wake-up,
	 * before pumping. NULL: nothing. */
	void (*on_wake)(struct chardev_input *in);
};

struct chardev_input {
	struct chardev *c;
	const struct chardev_input_hooks *hooks;
	void *opaque; /* for the hooks */
	struct event_loop *ev;
	int efd;			/* eventfd written by notify_space; -1 until started */
	int fd;				/* input fd, -1: none */
	bool pollable;			/* fd is on the loop */
	bool armed;			/* EPOLLIN|EPOLLONESHOT pending */
	bool quit;			/* input stopped for good */
	uint8_t pend[CHARDEV_IN_CHUNK]; /* read but not yet accepted */
	size_t pend_off, pend_len;
};

void chardev_input_init(struct chardev_input *in, struct chardev *c,
			const struct chardev_input_hooks *hooks, void *opaque);
/* Creates the eventfd and registers it on ev. */
int chardev_input_start(struct chardev_input *in, struct event_loop *ev, struct vmon_error *err);
/* Starts pumping from fd (on the loop thread, or before the loop runs). */
void chardev_input_attach(struct chardev_input *in, int fd);
/* Stops watching the current fd (does not close it). */
void chardev_input_detach(struct chardev_input *in);
/* Stops input for good (quit escape). */
void chardev_input_quit(struct chardev_input *in);
/* Wakes the pump from any thread (async-signal-safe). */
void chardev_input_kick(struct chardev_input *in);
/* Unregisters and closes the eventfd (not the input fd). */
void chardev_input_fini(struct chardev_input *in);

/* An output write of c failed for good with errno e (call with
 * c->out_lock held, from ops->write): the first time, says so on stderr
 * and, for EPIPE, stops the VM (status 141; see "Console gone" in
 * chardev.h). Silent while the VM is stopping anyway. */
void chardev_output_failed(struct chardev *c, int e);

/* Writes all bytes to fd; EINTR/EAGAIN retried (poll, re-checking
 * ctl every 100 ms so a stopping VM is not held by a stuck reader).
 * is_socket uses send(MSG_NOSIGNAL). Returns 0 or -1. */
int chardev_fd_write_all(int fd, const uint8_t *buf, size_t len, struct vm_control *ctl,
			 bool is_socket);

#endif
