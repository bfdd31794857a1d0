/* SPDX-License-Identifier: MIT */
/* Rate limiters on the monotonic clock with a timerfd; see rate_limiter.h. */
#include "core/rate_limiter.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/event_loop.h"

uint64_t rate_limiter_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool any_limit(const struct rl_buckets *b)
{
	return tb_config_limits(&b->bw.cfg) || tb_config_limits(&b->ops.cfg);
}

static void on_timer(void *opaque, int fd, uint32_t events)
{
	struct rate_limiter *rl = opaque;
	uint64_t n;
	while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&rl->lock);
	rl->armed = false;
	pthread_mutex_unlock(&rl->lock);
	rl->wake(rl->opaque);
}

int rate_limiter_init(struct rate_limiter *rl, const struct rl_config *c, struct event_loop *loop,
		      void (*wake)(void *), void *opaque, struct vmon_error *err)
{
	memset(rl, 0, sizeof(*rl));
	pthread_mutex_init(&rl->lock, NULL);
	rl->timer_fd = -1;
	rl->wake = wake;
	rl->opaque = opaque;
	rl_buckets_init(&rl->b, c, rate_limiter_now_ns());
	rl->limits = any_limit(&rl->b);
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (rl->timer_fd < 0)
		return err_setf(err, "rate limiter: timerfd: %s", strerror(errno));
	if (loop && ev_add(loop, rl->timer_fd, EPOLLIN, on_timer, rl) < 0)
		return err_setf(err, "rate limiter: event loop: %s", strerror(errno));
	rl->loop = loop;
	return 0;
}

void rate_limiter_fini(struct rate_limiter *rl)
{
	if (rl->timer_fd < 0)
		return;
	if (rl->loop)
		ev_remove(rl->loop, rl->timer_fd);
	close(rl->timer_fd);
	rl->timer_fd = -1;
	pthread_mutex_destroy(&rl->lock);
}

/* lock held */
static void arm(struct rate_limiter *rl, uint64_t wait_ns)
{
	if (rl->armed || rl->timer_fd < 0)
		return;
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(wait_ns / 1000000000ULL),
			     .tv_nsec = (long)(wait_ns % 1000000000ULL)},
	};
	if (timerfd_settime(rl->timer_fd, 0, &its, NULL) == 0)
		rl->armed = true;
}

bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes)
{
	if (!rl->limits)
		return true;
	pthread_mutex_lock(&rl->lock);
	uint64_t wait = rl_buckets_consume(&rl->b, bytes, rate_limiter_now_ns());
	if (wait)
		arm(rl, wait);
	pthread_mutex_unlock(&rl->lock);
	return wait == 0;
}

bool rate_limiter_ready(struct rate_limiter *rl)
{
	if (!rl->limits)
		return true;
	pthread_mutex_lock(&rl->lock);
	uint64_t wait = rl_buckets_wait(&rl->b, rate_limiter_now_ns());
	if (wait)
		arm(rl, wait);
	pthread_mutex_unlock(&rl->lock);
	return wait == 0;
}

void rate_limiter_charge(struct rate_limiter *rl, uint64_t bytes)
{
	if (!rl->limits)
		return;
	pthread_mutex_lock(&rl->lock);
	rl_buckets_charge(&rl->b, bytes);
	pthread_mutex_unlock(&rl->lock);
}

void rate_limiter_update(struct rate_limiter *rl, const struct rl_update *u)
{
	pthread_mutex_lock(&rl->lock);
	rl_buckets_update(&rl->b, u, rate_limiter_now_ns());
	rl->limits = any_limit(&rl->b);
	/* A wait computed under the old limits no longer holds. */
	if (rl->armed && rl->timer_fd >= 0) {
		struct itimerspec off = {{0, 0}, {0, 0}};
		timerfd_settime(rl->timer_fd, 0, &off, NULL);
		rl->armed = false;
	}
	pthread_mutex_unlock(&rl->lock);
	if (rl->wake)
		rl->wake(rl->opaque);
}

uint64_t rate_limiter_throttled(struct rate_limiter *rl)
{
	pthread_mutex_lock(&rl->lock);
	uint64_t n = rl->b.bw.throttled + rl->b.ops.throttled;
	pthread_mutex_unlock(&rl->lock);
	return n;
}
