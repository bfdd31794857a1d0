/* SPDX-License-Identifier: MIT */
#include "core/vm_control.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;

void vmctl_request_stop(struct vm_control *ctl, enum vm_stop_reason reason, int status)
{
	pthread_mutex_lock(&stop_lock);
	if (atomic_load(&ctl->reason) != VM_STOP_NONE) {
		pthread_mutex_unlock(&stop_lock);
		return;
	}
	ctl->status = status;
	atomic_store_explicit(&ctl->reason, (int)reason, memory_order_release);
	pthread_mutex_unlock(&stop_lock);
	if (ctl->on_stop)
		ctl->on_stop(ctl->opaque);
	/* Parked vCPUs and pausers waiting for them must see the stop. */
	if (ctl->park_cond_ok) {
		pthread_mutex_lock(&ctl->park_lock);
		pthread_cond_broadcast(&ctl->park_cond);
		pthread_mutex_unlock(&ctl->park_lock);
	}
}

void vmctl_init(struct vm_control *ctl)
{
	pthread_mutex_init(&ctl->park_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ctl->park_cond, &ca);
	pthread_condattr_destroy(&ca);
	ctl->pause = false;
	ctl->parked = 0;
	atomic_store(&ctl->pause_req, false);
	ctl->park_cond_ok = true;
}

void vmctl_fini(struct vm_control *ctl)
{
	if (!ctl->park_cond_ok)
		return;
	ctl->park_cond_ok = false;
	pthread_mutex_destroy(&ctl->park_lock);
	pthread_cond_destroy(&ctl->park_cond);
}

void vmctl_set_pause(struct vm_control *ctl, bool pause)
{
	pthread_mutex_lock(&ctl->park_lock);
	ctl->pause = pause;
	atomic_store_explicit(&ctl->pause_req, pause, memory_order_release);
	pthread_cond_broadcast(&ctl->park_cond);
	pthread_mutex_unlock(&ctl->park_lock);
}

void vmctl_park(struct vm_control *ctl)
{
	pthread_mutex_lock(&ctl->park_lock);
	ctl->parked++;
	pthread_cond_broadcast(&ctl->park_cond); /* a pauser counts us */
	while (ctl->pause && !vmctl_stopping(ctl))
		pthread_cond_wait(&ctl->park_cond, &ctl->park_lock);
	ctl->parked--;
	pthread_mutex_unlock(&ctl->park_lock);
}

bool vmctl_wait_parked(struct vm_control *ctl, unsigned n, unsigned timeout_ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ctl->park_lock);
	while (ctl->pause && ctl->parked < n && !vmctl_stopping(ctl))
		if (pthread_cond_timedwait(&ctl->park_cond, &ctl->park_lock, &dl) != 0)
			break;
	bool ok = ctl->pause && ctl->parked >= n;
	pthread_mutex_unlock(&ctl->park_lock);
	return ok;
}

const char *vm_stop_reason_name(enum vm_stop_reason reason)
{
	switch (reason) {
	case VM_STOP_NONE: return "running";
	case VM_STOP_DEBUG_EXIT: return "debug-exit";
	case VM_STOP_POWEROFF: return "power-off";
	case VM_STOP_RESET: return "reset";
	case VM_STOP_TRIPLE_FAULT: return "triple fault";
	case VM_STOP_GUEST_ERROR: return "guest error";
	case VM_STOP_USER_QUIT: return "quit";
	case VM_STOP_HOST_ERROR: return "host error";
	}
	return "unknown";
}
