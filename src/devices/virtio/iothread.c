/* SPDX-License-Identifier: MIT */
#include "devices/virtio/iothread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct io_watch {
	iothread_fn fn;
	void *opaque;
	struct io_watch *next;
};

struct iothread {
	int epfd;
	int stopfd;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards watches */
	struct io_watch *watches;
	char name[16];
};

static void *iothread_main(void *p)
{
	struct iothread *t = p;
	pthread_setname_np(pthread_self(), t->name);
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(t->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct io_watch *w = evs[i].data.ptr;
			if (!w)
				return NULL; /* the stop eventfd */
			w->fn(w->opaque);
		}
	}
}

int iothread_create(struct iothread **out, const char *name, struct vmon_error *err)
{
	*out = NULL;
	struct iothread *t = calloc(1, sizeof(*t));
	if (!t)
		return err_setf(err, "out of memory");
	pthread_mutex_init(&t->lock, NULL);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (t->epfd < 0 || t->stopfd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stopfd, &ev) < 0) {
		err_setf(err, "I/O thread: %s", strerror(errno));
		iothread_destroy(t);
		return -1;
	}
	/* The thread takes no signals: the VM's signals go to the signalfd
	 * and the vCPU kick signal to vCPU threads only. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&t->thread, NULL, iothread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		err_setf(err, "cannot start the I/O thread: %s", strerror(r));
		iothread_destroy(t);
		return -1;
	}
	t->started = true;
	*out = t;
	return 0;
}

int iothread_add(struct iothread *t, int fd, iothread_fn fn, void *opaque, struct vmon_error *err)
{
	struct io_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return err_setf(err, "out of memory");
	w->fn = fn;
	w->opaque = opaque;
	pthread_mutex_lock(&t->lock);
	w->next = t->watches;
	t->watches = w;
	pthread_mutex_unlock(&t->lock);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return err_setf(err, "I/O thread: epoll_ctl: %s", strerror(errno));
	return 0;
}

void iothread_destroy(struct iothread *t)
{
	if (!t)
		return;
	if (t->started) {
		uint64_t one = 1;
		if (write(t->stopfd, &one, sizeof(one)) < 0) {
			/* cannot fail for an eventfd below its maximum */
		}
		pthread_join(t->thread, NULL);
	}
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->stopfd >= 0)
		close(t->stopfd);
	while (t->watches) {
		struct io_watch *w = t->watches;
		t->watches = w->next;
		free(w);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}
