/* SPDX-License-Identifier: MIT */
#include "core/event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EV_MAX_WATCHES 64

struct ev_watch {
	int fd; /* -1: free slot */
	ev_handler fn;
	void *opaque;
};

struct event_loop {
	int epfd;
	int stopfd; /* eventfd: written by ev_stop */
	atomic_bool stopped;
	pthread_mutex_t lock; /* guards watches[] against concurrent add/remove */
	struct ev_watch watches[EV_MAX_WATCHES];
};

struct event_loop *ev_create(struct vmon_error *err)
{
	struct event_loop *ev = calloc(1, sizeof(*ev));
	if (!ev) {
		err_setf(err, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&ev->lock, NULL);
	for (int i = 0; i < EV_MAX_WATCHES; i++)
		ev->watches[i].fd = -1;
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	ev->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ev->epfd < 0 || ev->stopfd < 0) {
		err_setf(err, "event loop: %s", strerror(errno));
		ev_destroy(ev);
		return NULL;
	}
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->stopfd, &e) < 0) {
		err_setf(err, "event loop: %s", strerror(errno));
		ev_destroy(ev);
		return NULL;
	}
	return ev;
}

void ev_destroy(struct event_loop *ev)
{
	if (!ev)
		return;
	if (ev->epfd >= 0)
		close(ev->epfd);
	if (ev->stopfd >= 0)
		close(ev->stopfd);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

int ev_add(struct event_loop *ev, int fd, uint32_t events, ev_handler fn, void *opaque)
{
	pthread_mutex_lock(&ev->lock);
	struct ev_watch *w = NULL;
	for (int i = 0; i < EV_MAX_WATCHES; i++) {
		if (ev->watches[i].fd < 0) {
			w = &ev->watches[i];
			break;
		}
	}
	if (!w) {
		pthread_mutex_unlock(&ev->lock);
		errno = ENOSPC;
		return -1;
	}
	*w = (struct ev_watch){.fd = fd, .fn = fn, .opaque = opaque};
	struct epoll_event e = {.events = events, .data.ptr = w};
	int r = epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e);
	if (r < 0)
		w->fd = -1;
	pthread_mutex_unlock(&ev->lock);
	return r;
}

static struct ev_watch *find_watch(struct event_loop *ev, int fd)
{
	for (int i = 0; i < EV_MAX_WATCHES; i++)
		if (ev->watches[i].fd == fd)
			return &ev->watches[i];
	return NULL;
}

int ev_modify(struct event_loop *ev, int fd, uint32_t events)
{
	pthread_mutex_lock(&ev->lock);
	struct ev_watch *w = find_watch(ev, fd);
	int r = -1;
	if (w) {
		struct epoll_event e = {.events = events, .data.ptr = w};
		r = epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &e);
	}
	pthread_mutex_unlock(&ev->lock);
	return r;
}

void ev_remove(struct event_loop *ev, int fd)
{
	pthread_mutex_lock(&ev->lock);
	struct ev_watch *w = find_watch(ev, fd);
	if (w) {
		epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
		w->fd = -1;
	}
	pthread_mutex_unlock(&ev->lock);
}

void ev_run(struct event_loop *ev)
{
	struct epoll_event evs[16];
	while (!atomic_load(&ev->stopped)) {
		int n = epoll_wait(ev->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n && !atomic_load(&ev->stopped); i++) {
			struct ev_watch *w = evs[i].data.ptr;
			if (!w)
				continue; /* stopfd */
			/* Copy out under the lock: a handler may remove itself. */
			pthread_mutex_lock(&ev->lock);
			struct ev_watch copy = *w;
			pthread_mutex_unlock(&ev->lock);
			if (copy.fd >= 0)
				copy.fn(copy.opaque, copy.fd, evs[i].events);
		}
	}
}

void ev_stop(struct event_loop *ev)
{
	atomic_store(&ev->stopped, true);
	uint64_t one = 1;
	ssize_t r = write(ev->stopfd, &one, sizeof(one));
	(void)r;
}

void ev_rearm(struct event_loop *ev)
{
	uint64_t v;
	while (read(ev->stopfd, &v, sizeof(v)) > 0)
		;
	atomic_store(&ev->stopped, false);
}
