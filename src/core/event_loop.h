/* SPDX-License-Identifier: MIT */
/*
 * The event-loop thread: host-side I/O (console input, sockets, later
 * device back ends) runs here, never on a vCPU thread's fast path.
 * epoll-based; handlers run on the loop thread. ev_add/ev_modify/ev_remove
 * may be called from any thread.
 */
#ifndef VMON_CORE_EVENT_LOOP_H
#define VMON_CORE_EVENT_LOOP_H

#include <stdint.h>

#include "core/error.h"

struct event_loop;

/* events is a mask of EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP as delivered. */
typedef void (*ev_handler)(void *opaque, int fd, uint32_t events);

struct event_loop *ev_create(struct vmon_error *err);
void ev_destroy(struct event_loop *ev);

/* Watches fd for events (EPOLLIN, EPOLLOUT; 0 to keep it registered but
 * idle). One handler per fd. */
__attribute__((warn_unused_result)) int ev_add(struct event_loop *ev, int fd, uint32_t events,
					       ev_handler fn, void *opaque);
int ev_modify(struct event_loop *ev, int fd, uint32_t events);
void ev_remove(struct event_loop *ev, int fd);

/* Runs handlers until ev_stop(). */
void ev_run(struct event_loop *ev);
/* Makes ev_run return soon. Async-signal-safe and thread-safe. */
void ev_stop(struct event_loop *ev);
/* Clears a previous ev_stop() so ev_run can run again (VM reboot). Call
 * only while no thread is in ev_run. */
void ev_rearm(struct event_loop *ev);

#endif
