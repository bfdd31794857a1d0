/* SPDX-License-Identifier: MIT */
#include "core/ratelimit.h"

#include <stdarg.h>
#include <time.h>

#include "core/log.h"

uint64_t ratelimit_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool ratelimit_allow(struct ratelimit *rl, uint64_t now_ms, uint64_t *suppressed)
{
	bool ok;
	pthread_mutex_lock(&rl->lock);
	if (rl->printed == 0 || now_ms - rl->window_start_ms >= RL_INTERVAL_MS) {
		rl->window_start_ms = now_ms;
		rl->printed = 0;
	}
	ok = rl->printed < RL_BURST;
	if (ok) {
		rl->printed++;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&rl->lock);
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
	if (dropped) {
		fprintf(out, "vmon: %s (%llu similar messages suppressed)\n", msg,
			(unsigned long long)dropped);
		vlog(VLOG_WARNING, "%s (%llu similar messages suppressed)", msg,
		     (unsigned long long)dropped);
	} else {
		fprintf(out, "vmon: %s\n", msg);
		vlog(VLOG_WARNING, "%s", msg);
	}
}
