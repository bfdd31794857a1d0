/* SPDX-License-Identifier: MIT */
/*
 * The device I/O thread: one per VM, shared by the virtio devices. It
 * waits (epoll) on file descriptors devices register — queue-notify
 * eventfds that vCPU threads signal, I/O completion eventfds — and runs
 * their handlers, so device work never runs on a vCPU thread.
 *
 * Handlers run on the I/O thread, one at a time, level-triggered on
 * EPOLLIN; they must drain what made their fd readable.
 */
#ifndef VMON_DEVICES_VIRTIO_IOTHREAD_H
#define VMON_DEVICES_VIRTIO_IOTHREAD_H

#include "core/error.h"

struct iothread;

typedef void (*iothread_fn)(void *opaque);

/* Creates the thread (named name, at most 15 characters). Returns 0, or
 * -1 with err. */
__attribute__((warn_unused_result)) int iothread_create(struct iothread **out, const char *name,
							struct vmon_error *err);

/* Calls fn(opaque) on the I/O thread whenever fd is readable. Any thread;
 * the registration lives until iothread_destroy. Returns 0, or -1 with
 * err. */
__attribute__((warn_unused_result)) int iothread_add(struct iothread *t, int fd, iothread_fn fn,
						     void *opaque, struct vmon_error *err);

/* Stops and joins the thread, then frees it (the fds stay the caller's).
 * NULL is a no-op. */
void iothread_destroy(struct iothread *t);

#endif
