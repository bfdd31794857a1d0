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
#include <sys/timerfd.h>
#include <unistd.h>

#define EV_MAX_SOURCES 8
#define EV_BATCH       16

/* Watches are allocated one by one and never freed before the loop: an
 * epoll event already fetched may still point at one that a handler just
 * removed (it then reads fd -1 and is skipped). Free slots are reused. */
struct ev_watch {
	int fd; /* -1: free */
	ev_handler fn;
	void *opaque;
	/* timers */
	ev_timer_fn tfn;
	void *topaque;
};

struct ev_source {
	const struct ev_source_ops *ops;
	void *opaque;
	int first;
};

struct event_loop {
	int epfd;
	int stopfd; /* eventfd: written by ev_stop */
	atomic_bool stopped;
	pthread_mutex_t lock; /* guards watches[] */
	struct ev_watch **watches;
	int nwatches, capwatches;
	struct ev_source sources[EV_MAX_SOURCES];
	int nsources;
	struct pollvec pv; /* loop thread only */
	struct vmon_thread thread;
};

int pollvec_add(struct pollvec *pv, int fd, short events)
{
	if (pv->n == pv->cap) {
		int cap = pv->cap ? 2 * pv->cap : 16;
		struct pollfd *p = realloc(pv->fds, (size_t)cap * sizeof(*p));
		if (!p)
			return -1;
		pv->fds = p;
		pv->cap = cap;
	}
	pv->fds[pv->n] = (struct pollfd){.fd = fd, .events = events};
	return pv->n++;
}

struct event_loop *ev_create(struct vmon_error *err)
{
	struct event_loop *ev = calloc(1, sizeof(*ev));
	if (!ev) {
		err_setf(err, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&ev->lock, NULL);
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	ev->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
	if (ev->epfd < 0 || ev->stopfd < 0 ||
	    epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->stopfd, &e) < 0) {
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
	ev_thread_stop(ev);
	for (int i = 0; i < ev->nwatches; i++) {
		if (ev->watches[i]->tfn && ev->watches[i]->fd >= 0)
			close(ev->watches[i]->fd);
		free(ev->watches[i]);
	}
	free(ev->watches);
	free(ev->pv.fds);
	if (ev->epfd >= 0)
		close(ev->epfd);
	if (ev->stopfd >= 0)
		close(ev->stopfd);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

/* A free watch slot, or a new one. ev->lock held. */
static struct ev_watch *new_watch(struct event_loop *ev)
{
	for (int i = 0; i < ev->nwatches; i++)
		if (ev->watches[i]->fd < 0)
			return ev->watches[i];
	if (ev->nwatches == ev->capwatches) {
		int cap = ev->capwatches ? 2 * ev->capwatches : 16;
		struct ev_watch **w = realloc(ev->watches, (size_t)cap * sizeof(*w));
		if (!w)
			return NULL;
		ev->watches = w;
		ev->capwatches = cap;
	}
	struct ev_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->fd = -1;
	ev->watches[ev->nwatches++] = w;
	return w;
}

static struct ev_watch *find_watch(struct event_loop *ev, int fd)
{
	for (int i = 0; i < ev->nwatches; i++)
		if (ev->watches[i]->fd == fd)
			return ev->watches[i];
	return NULL;
}

static int add_watch(struct event_loop *ev, int fd, uint32_t events, ev_handler fn, void *opaque,
		     ev_timer_fn tfn, void *topaque)
{
	pthread_mutex_lock(&ev->lock);
	struct ev_watch *w = new_watch(ev);
	if (!w) {
		pthread_mutex_unlock(&ev->lock);
		errno = ENOMEM;
		return -1;
	}
	*w = (struct ev_watch){
		.fd = fd, .fn = fn, .opaque = opaque, .tfn = tfn, .topaque = topaque};
	struct epoll_event e = {.events = events, .data.ptr = w};
	int r = epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e);
	if (r < 0)
		w->fd = -1;
	pthread_mutex_unlock(&ev->lock);
	return r;
}

int ev_add(struct event_loop *ev, int fd, uint32_t events, ev_handler fn, void *opaque)
{
	return add_watch(ev, fd, events, fn, opaque, NULL, NULL);
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

int ev_add_timer(struct event_loop *ev, uint64_t period_ms, ev_timer_fn fn, void *opaque,
		 struct vmon_error *err)
{
	if (period_ms == 0)
		return err_setf(err, "event loop: a timer needs a period");
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return err_setf(err, "timerfd: %s", strerror(errno));
	struct timespec ts = {.tv_sec = (time_t)(period_ms / 1000),
			      .tv_nsec = (long)(period_ms % 1000) * 1000000L};
	struct itimerspec its = {.it_interval = ts, .it_value = ts};
	if (timerfd_settime(fd, 0, &its, NULL) < 0 ||
	    add_watch(ev, fd, EPOLLIN, NULL, NULL, fn, opaque) < 0) {
		int e = errno;
		close(fd);
		return err_setf(err, "event loop timer: %s", strerror(e));
	}
	return fd;
}

void ev_remove_timer(struct event_loop *ev, int id)
{
	if (id < 0)
		return;
	pthread_mutex_lock(&ev->lock);
	struct ev_watch *w = find_watch(ev, id);
	if (w && w->tfn) {
		epoll_ctl(ev->epfd, EPOLL_CTL_DEL, id, NULL);
		close(id);
		w->fd = -1;
		w->tfn = NULL;
	}
	pthread_mutex_unlock(&ev->lock);
}

int ev_add_source(struct event_loop *ev, const struct ev_source_ops *ops, void *opaque,
		  struct vmon_error *err)
{
	if (ev->nsources == EV_MAX_SOURCES)
		return err_setf(err, "event loop: too many sources");
	ev->sources[ev->nsources++] = (struct ev_source){.ops = ops, .opaque = opaque};
	return 0;
}

/* Runs the handlers of up to EV_BATCH ready watches, waiting timeout_ms. */
static void dispatch_watches(struct event_loop *ev, int timeout_ms)
{
	struct epoll_event evs[EV_BATCH];
	int n = epoll_wait(ev->epfd, evs, EV_BATCH, timeout_ms);
	for (int i = 0; i < n && !atomic_load(&ev->stopped); i++) {
		struct ev_watch *w = evs[i].data.ptr;
		if (!w)
			continue; /* stopfd */
		/* Copy out under the lock: a handler may remove itself or
		 * another watch. */
		pthread_mutex_lock(&ev->lock);
		struct ev_watch copy = *w;
		pthread_mutex_unlock(&ev->lock);
		if (copy.fd < 0)
			continue;
		if (copy.tfn) {
			uint64_t expirations;
			if (read(copy.fd, &expirations, sizeof(expirations)) > 0)
				copy.tfn(copy.topaque);
		} else {
			copy.fn(copy.opaque, copy.fd, evs[i].events);
		}
	}
}

void ev_run_once(struct event_loop *ev, int timeout_ms)
{
	if (!ev->nsources) {
		dispatch_watches(ev, timeout_ms);
		return;
	}
	struct pollvec *pv = &ev->pv;
	pv->n = 0;
	(void)pollvec_add(pv, ev->epfd, POLLIN);
	int timeout = timeout_ms;
	for (int i = 0; i < ev->nsources; i++) {
		struct ev_source *s = &ev->sources[i];
		int t = -1;
		s->first = pv->n;
		s->ops->prepare(s->opaque, pv, &t);
		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
	}
	if (poll(pv->fds, (nfds_t)pv->n, timeout) < 0)
		for (int i = 0; i < pv->n; i++)
			pv->fds[i].revents = 0;
	if (pv->n > 0 && (pv->fds[0].revents & POLLIN))
		dispatch_watches(ev, 0);
	for (int i = 0; i < ev->nsources && !atomic_load(&ev->stopped); i++) {
		struct ev_source *s = &ev->sources[i];
		s->ops->dispatch(s->opaque, pv, s->first);
	}
}

void ev_run(struct event_loop *ev)
{
	while (!atomic_load(&ev->stopped))
		ev_run_once(ev, -1);
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

static void *loop_thread(void *p)
{
	ev_run(p);
	return NULL;
}

int ev_thread_start(struct event_loop *ev, enum vmon_thread_kind kind, const char *name,
		    struct vmon_error *err)
{
	if (ev->thread.started)
		return 0;
	return vmon_thread_start(&ev->thread, kind, name, loop_thread, ev, err);
}

void ev_thread_stop(struct event_loop *ev)
{
	if (!ev || !ev->thread.started)
		return;
	ev_stop(ev);
	vmon_thread_join(&ev->thread);
	ev_rearm(ev);
}
