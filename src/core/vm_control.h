/* SPDX-License-Identifier: MIT */
/*
 * How anything inside the machine (a device, a vCPU, the console) asks for
 * the VM to end. The first request wins; later ones are ignored. The VM
 * layer installs on_stop to kick the vCPUs and the event loop.
 */
#ifndef VMON_CORE_VM_CONTROL_H
#define VMON_CORE_VM_CONTROL_H

#include <stdatomic.h>
#include <stdbool.h>

enum vm_stop_reason {
	VM_STOP_NONE = 0,
	VM_STOP_DEBUG_EXIT,   /* guest wrote the debug-exit port */
	VM_STOP_POWEROFF,     /* guest powered off */
	VM_STOP_RESET,	      /* guest asked for a reset (i8042, triple fault with reboot) */
	VM_STOP_TRIPLE_FAULT, /* guest triple-faulted */
	VM_STOP_GUEST_ERROR,  /* guest did something the CPU cannot run */
	VM_STOP_USER_QUIT,    /* escape sequence on the console or a signal */
	VM_STOP_HOST_ERROR,   /* vmon or the host failed */
};

struct vm_control {
	_Atomic int reason; /* enum vm_stop_reason */
	int status;	    /* exit status for vmon, written before reason */
	void (*on_stop)(void *opaque);
	void *opaque;
};

/* Records the first stop request and calls on_stop. Thread-safe. */
void vmctl_request_stop(struct vm_control *ctl, enum vm_stop_reason reason, int status);

static inline bool vmctl_stopping(struct vm_control *ctl)
{
	return atomic_load_explicit(&ctl->reason, memory_order_acquire) != VM_STOP_NONE;
}

const char *vm_stop_reason_name(enum vm_stop_reason reason);

#endif
