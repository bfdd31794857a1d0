/* SPDX-License-Identifier: MIT */
#include "core/vm_control.h"

#include <pthread.h>

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
