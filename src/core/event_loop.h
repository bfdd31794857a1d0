/* SPDX-License-Identifier: MIT */
/*
 * The one event loop of vmon: every service thread — the main thread
 * (console input, signals), the virtio I/O thread, each NIC's thread, the
 * vsock thread, the console's output thread, the API server — is an
 * event_loop run by ev_run, and its work arrives as handlers on it.
 * Nothing else in vmon writes a poll loop.
 *
 * What a loop waits on:
 *   - fd watches (ev_add): an fd and the events wanted, one handler each;
 *     level-triggered, so a handler must drain what made its fd ready (or
 *     use EPOLLONESHOT and re-arm with ev_modify);
 *   - timers (ev_add_timer): a periodic callback (a timerfd underneath);
 *   - sources (ev_add_source): for back ends whose set of fds changes on
 *     every round (libslirp's sockets, vsock connections): prepare()
 *     appends this round's pollfds and may shorten the wait, dispatch()
 *     reads the results. A loop with sources waits in poll() over its
 *     epoll fd plus the sources' fds; one without waits in epoll_wait.
 *
 * Threads: a loop runs on one thread at a time — the caller's (ev_run,
 * ev_run_once: the main thread, tests) or its own (ev_thread_start, which
 * names the thread and gives it a kind, core/thread.h). All handlers run
 * on that thread, one at a time. ev_add/ev_modify/ev_remove and the timer
 * calls may be made from any thread; sources are added during setup,
 * before the loop first runs. ev_stop is async-signal-safe.
 *
 * Ownership: the loop never closes a watched fd (timers' own fds
 * excepted). Whoever registered an fd either removes it before closing it
 * or makes sure the loop no longer runs (ev_thread_stop), as the VM layer
 * does before it destroys the devices subscribed to its loops.
 */
#ifndef VMON_CORE_EVENT_LOOP_H
#define VMON_CORE_EVENT_LOOP_H

#include <poll.h>
#include <stdint.h>

#include "core/error.h"
#include "core/thread.h"

struct event_loop;

/* events is a mask of EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP as delivered. */
typedef void (*ev_handler)(void *opaque, int fd, uint32_t events);
typedef void (*ev_timer_fn)(void *opaque);

struct event_loop *ev_create(struct vmon_error *err);
/* Stops the loop's thread if it has one, then frees the loop. NULL is a
 * no-op. */
void ev_destroy(struct event_loop *ev);

/* Watches fd for events (EPOLLIN, EPOLLOUT, EPOLLONESHOT; 0 to keep it
 * registered but idle). One handler per fd. */
__attribute__((warn_unused_result)) int ev_add(struct event_loop *ev, int fd, uint32_t events,
					       ev_handler fn, void *opaque);
int ev_modify(struct event_loop *ev, int fd, uint32_t events);
void ev_remove(struct event_loop *ev, int fd);

/* Calls fn(opaque) on the loop every period_ms (> 0), the first time
 * period_ms from now. Returns a timer id (>= 0), or -1 with err. */
__attribute__((warn_unused_result)) int ev_add_timer(struct event_loop *ev, uint64_t period_ms,
						     ev_timer_fn fn, void *opaque,
						     struct vmon_error *err);
/* Stops and frees a timer. id < 0 is a no-op. */
void ev_remove_timer(struct event_loop *ev, int id);

/* A growable pollfd array, filled by sources each round. */
struct pollvec {
	struct pollfd *fds;
	int n, cap;
};
/* Appends (fd, events); returns its index, or -1 (out of memory). */
int pollvec_add(struct pollvec *pv, int fd, short events);

struct ev_source_ops {
	/* Before the wait: append this round's fds to pv, and lower
	 * *timeout_ms (-1: no limit) if something is due sooner. */
	void (*prepare)(void *opaque, struct pollvec *pv, int *timeout_ms);
	/* After the wait (also after a timeout or EINTR, revents then 0):
	 * the fds it added are pv->fds[first..]. */
	void (*dispatch)(void *opaque, const struct pollvec *pv, int first);
};

/* Adds a per-round source (at most 8 per loop). Setup only: before the
 * loop first runs. */
__attribute__((warn_unused_result)) int ev_add_source(struct event_loop *ev,
						      const struct ev_source_ops *ops, void *opaque,
						      struct vmon_error *err);

/* Runs handlers on the calling thread until ev_stop(). */
void ev_run(struct event_loop *ev);
/* One round on the calling thread: waits at most timeout_ms (0: not at
 * all, -1: until something happens), runs what is ready. Tests and
 * fuzzing drive device loops with it. */
void ev_run_once(struct event_loop *ev, int timeout_ms);
/* Makes ev_run return soon. Async-signal-safe and thread-safe. */
void ev_stop(struct event_loop *ev);
/* Clears a previous ev_stop() so ev_run can run again (VM reboot). Call
 * only while no thread is in ev_run. */
void ev_rearm(struct event_loop *ev);

/* Runs the loop on a thread of its own, named "vmon-<name>", of the given
 * kind (core/thread.h). Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int ev_thread_start(struct event_loop *ev,
							enum vmon_thread_kind kind,
							const char *name, struct vmon_error *err);
/* Stops the loop's thread and waits for it; after it no handler of this
 * loop runs until it is started again. A no-op without a thread (or with
 * ev NULL). */
void ev_thread_stop(struct event_loop *ev);

#endif
