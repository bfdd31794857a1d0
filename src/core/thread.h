/* SPDX-License-Identifier: MIT */
/*
 * vmon's threads: every thread vmon starts goes through vmon_thread_start,
 * which names it ("vmon-vcpu0", "vmon-io", "vmon-net0"... so top -H, ps -T
 * and /proc/PID/task/TID/comm show what it is), records its kind, and
 * starts it with the process's asynchronous signals blocked (they go to
 * the main thread's signalfd; a vCPU thread unblocks its own kick signal).
 *
 * The kind is what per-thread policy keys on: its seccomp filter
 * (core/seccomp.h) is installed at the top of the new thread, before its
 * function runs, so a thread never runs a line of its own code
 * unfiltered (a filter the kernel refuses ends vmon with one line).
 *
 * Threads: start/join from any thread (join once, from one thread);
 * vmon_thread_kind_self from any thread.
 */
#ifndef VMON_CORE_THREAD_H
#define VMON_CORE_THREAD_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

#include "core/error.h"

enum vmon_thread_kind {
	VMON_THREAD_MAIN,    /* the process's first thread: setup, signals, console input */
	VMON_THREAD_VCPU,    /* runs one vCPU (either backend) */
	VMON_THREAD_IO,	     /* the virtio I/O loop: blk and rng queues, disk completions */
	VMON_THREAD_BLK,     /* blocking disk I/O workers (no io_uring) */
	VMON_THREAD_NET,     /* one virtio-net device and its back end */
	VMON_THREAD_VSOCK,   /* virtio-vsock and its host sockets */
	VMON_THREAD_CONSOLE, /* virtio-console output (may block on its chardev) */
	VMON_THREAD_API,     /* the HTTP API server and metrics */
	VMON_THREAD_KINDS
};

/* "main", "vcpu", "io"... */
const char *vmon_thread_kind_name(enum vmon_thread_kind kind);

struct vmon_thread {
	pthread_t tid;
	enum vmon_thread_kind kind;
	char name[16]; /* as the kernel shows it: "vmon-" + the caller's name */
	bool started;
	void *(*fn)(void *);
	void *arg;
};

/* Starts fn(arg) on a new thread named "vmon-<name>" (truncated to 15
 * characters) of the given kind. t must stay valid until joined. Returns
 * 0, or -1 with err. */
__attribute__((warn_unused_result)) int vmon_thread_start(struct vmon_thread *t,
							  enum vmon_thread_kind kind,
							  const char *name, void *(*fn)(void *),
							  void *arg, struct vmon_error *err);

/* The same, with the thread bound to the host CPUs in cpus (NULL: no
 * binding) from its first instruction (pthread_attr_setaffinity_np). */
__attribute__((warn_unused_result)) int
vmon_thread_start_on(struct vmon_thread *t, enum vmon_thread_kind kind, const char *name,
		     const cpu_set_t *cpus, void *(*fn)(void *), void *arg, struct vmon_error *err);

/* Waits for the thread to return. A no-op if it was never started. */
void vmon_thread_join(struct vmon_thread *t);

/* The calling thread's kind (VMON_THREAD_MAIN for threads vmon did not
 * start). */
enum vmon_thread_kind vmon_thread_kind_self(void);

#endif
