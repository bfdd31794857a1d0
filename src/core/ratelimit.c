/* SPDX-License-Identifier: MIT */
#include "core/ratelimit.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

/* Call sites that dropped something: reported by ratelimit_flush_all. */
static pthread_mutex_t sites_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ratelimit *sites;

void ratelimit_init(struct ratelimit *rl)
{
	memset(rl, 0, sizeof(*rl));
	pthread_mutex_init(&rl->lock, NULL);
}

uint64_t ratelimit_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* rl->lock held. */
static bool allow_locked(struct ratelimit *rl, uint64_t now_ms, uint64_t *suppressed)
{
	if (!rl->once && (rl->printed == 0 || now_ms - rl->window_start_ms >= RL_INTERVAL_MS)) {
		rl->window_start_ms = now_ms;
		rl->printed = 0;
	}
	bool ok = rl->printed < (rl->once ? 1u : RL_BURST);
	if (ok) {
		rl->printed++;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
	}
	return ok;
}

static void list_site(struct ratelimit *rl)
{
	pthread_mutex_lock(&sites_lock);
	rl->next = sites;
	sites = rl;
	pthread_mutex_unlock(&sites_lock);
}

bool ratelimit_allow(struct ratelimit *rl, uint64_t now_ms, uint64_t *suppressed)
{
	pthread_mutex_lock(&rl->lock);
	bool ok = allow_locked(rl, now_ms, suppressed);
	bool add = !ok && rl->site && !rl->listed;
	if (add)
		rl->listed = true;
	pthread_mutex_unlock(&rl->lock);
	if (add)
		list_site(rl); /* not under rl->lock: flush_all takes them the other way */
	return ok;
}

void ratelimit_print(struct ratelimit *rl, FILE *out, const char *fmt, ...)
{
	uint64_t dropped;
	if (!ratelimit_allow(rl, ratelimit_now_ms(), &dropped))
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&rl->lock);
	/* Truncated to the summary's size on purpose. */
	size_t n = strnlen(msg, sizeof(rl->last) - 1);
	memcpy(rl->last, msg, n);
	rl->last[n] = '\0';
	pthread_mutex_unlock(&rl->lock);
	if (dropped)
		fprintf(out, "vmon: %s (%llu similar messages suppressed)\n", msg,
			(unsigned long long)dropped);
	else
		fprintf(out, "vmon: %s\n", msg);
}

void ratelimit_flush(struct ratelimit *rl, FILE *out)
{
	pthread_mutex_lock(&rl->lock);
	uint64_t n = rl->suppressed;
	rl->suppressed = 0;
	char last[RL_LAST_MAX];
	memcpy(last, rl->last, sizeof(last));
	pthread_mutex_unlock(&rl->lock);
	if (n)
		fprintf(out, "vmon: %s (%llu more like it suppressed)\n", last,
			(unsigned long long)n);
}

void ratelimit_flush_all(FILE *out)
{
	pthread_mutex_lock(&sites_lock);
	for (struct ratelimit *rl = sites; rl; rl = rl->next)
		ratelimit_flush(rl, out);
	pthread_mutex_unlock(&sites_lock);
}
