/* SPDX-License-Identifier: MIT */
#include "core/thread.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/seccomp.h"

static _Thread_local enum vmon_thread_kind self_kind = VMON_THREAD_MAIN;

static const char *const kind_names[VMON_THREAD_KINDS] = {
	[VMON_THREAD_MAIN] = "main",	   [VMON_THREAD_VCPU] = "vcpu",
	[VMON_THREAD_IO] = "io",	   [VMON_THREAD_BLK] = "blk",
	[VMON_THREAD_NET] = "net",	   [VMON_THREAD_VSOCK] = "vsock",
	[VMON_THREAD_CONSOLE] = "console", [VMON_THREAD_API] = "api",
};

const char *vmon_thread_kind_name(enum vmon_thread_kind kind)
{
	return (unsigned)kind < VMON_THREAD_KINDS ? kind_names[kind] : "?";
}

enum vmon_thread_kind vmon_thread_kind_self(void)
{
	return self_kind;
}

static void *trampoline(void *p)
{
	struct vmon_thread *t = p;
	self_kind = t->kind;
	pthread_setname_np(pthread_self(), t->name);
	/* The kind's seccomp filter, before any of fn's code. A filter the
	 * kernel refused leaves nothing safe to go on with. */
	struct vmon_error err;
	if (vmon_seccomp_enter(t->kind, t->name, &err) < 0) {
		fprintf(stderr, "vmon: %s (--seccomp off runs without filters: unsafe)\n", err.msg);
		exit(1);
	}
	return t->fn(t->arg);
}

int vmon_thread_start(struct vmon_thread *t, enum vmon_thread_kind kind, const char *name,
		      void *(*fn)(void *), void *arg, struct vmon_error *err)
{
	return vmon_thread_start_on(t, kind, name, NULL, fn, arg, err);
}

int vmon_thread_start_on(struct vmon_thread *t, enum vmon_thread_kind kind, const char *name,
			 const cpu_set_t *cpus, void *(*fn)(void *), void *arg,
			 struct vmon_error *err)
{
	t->kind = kind;
	t->fn = fn;
	t->arg = arg;
	t->started = false;
	snprintf(t->name, sizeof(t->name), "vmon-%s", name);
	/* Asynchronous signals stay with the main thread's signalfd (and the
	 * vCPU kick signal with the vCPU that unblocks it); faults are still
	 * delivered to the thread that caused them, so a crash restores the
	 * terminal through the fatal-signal handler. */
	sigset_t block, old;
	sigfillset(&block);
	static const int sync_signals[] = {SIGSEGV, SIGBUS,  SIGILL, SIGFPE,
					   SIGABRT, SIGTRAP, SIGSYS};
	for (size_t i = 0; i < sizeof(sync_signals) / sizeof(sync_signals[0]); i++)
		sigdelset(&block, sync_signals[i]);
	/* Pinned from birth (the thread never runs elsewhere). */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	int r = cpus ? pthread_attr_setaffinity_np(&attr, sizeof(*cpus), cpus) : 0;
	if (r != 0) {
		pthread_attr_destroy(&attr);
		return err_setf(err, "cannot pin thread %s: %s", t->name, strerror(r));
	}
	pthread_sigmask(SIG_BLOCK, &block, &old);
	r = pthread_create(&t->tid, &attr, trampoline, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0)
		return err_setf(err, "cannot start thread %s: %s", t->name, strerror(r));
	t->started = true;
	return 0;
}

void vmon_thread_join(struct vmon_thread *t)
{
	if (!t->started)
		return;
	pthread_join(t->tid, NULL);
	t->started = false;
}
