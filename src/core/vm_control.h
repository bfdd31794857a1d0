/* SPDX-License-Identifier: MIT */
/*
 * How anything inside the machine (a device, a vCPU, the console) asks for
 * the VM to end. The first request wins; later ones are ignored. The VM
 * layer installs on_stop to kick the vCPUs and the event loop.
 *
 * Also how the VM layer pauses the vCPUs: vmctl_set_pause(true), then a
 * kick of every vCPU; each backend's run loop checks
 * vmctl_pause_requested() where its vCPU's state is whole (between
 * instructions or KVM_RUN calls, holding no lock) and calls vmctl_park(),
 * which blocks until the pause is lifted or the VM stops.
 * vmctl_wait_parked() lets the pauser wait until they all stand still.
 */
#ifndef VMON_CORE_VM_CONTROL_H
#define VMON_CORE_VM_CONTROL_H

#include <pthread.h>
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
	/* Pause (vmctl_init before use): pause_req mirrors pause for the
	 * lock-free check on the vCPUs' fast paths. */
	atomic_bool pause_req;
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	bool park_cond_ok; /* vmctl_init ran */
	bool pause;	   /* under park_lock */
	unsigned parked;   /* vCPU threads in vmctl_park, under park_lock */
};

/* Sets up the pause machinery. Before any vCPU runs. */
void vmctl_init(struct vm_control *ctl);
void vmctl_fini(struct vm_control *ctl);

/* Records the first stop request and calls on_stop. Thread-safe. */
void vmctl_request_stop(struct vm_control *ctl, enum vm_stop_reason reason, int status);

static inline bool vmctl_stopping(struct vm_control *ctl)
{
	return atomic_load_explicit(&ctl->reason, memory_order_acquire) != VM_STOP_NONE;
}

const char *vm_stop_reason_name(enum vm_stop_reason reason);

static inline bool vmctl_pause_requested(struct vm_control *ctl)
{
	return atomic_load_explicit(&ctl->pause_req, memory_order_acquire);
}

/* Asks the vCPUs to park (true) or lets them go (false); the caller kicks
 * them after asking. Any thread. */
void vmctl_set_pause(struct vm_control *ctl, bool pause);

/* On a vCPU thread, holding no lock: blocks while a pause is asked for
 * and the VM is not stopping. */
void vmctl_park(struct vm_control *ctl);

/* Waits until n vCPU threads are parked, the pause is lifted, the VM
 * stops or timeout_ms pass; returns whether n are parked. */
bool vmctl_wait_parked(struct vm_control *ctl, unsigned n, unsigned timeout_ms);

#endif
