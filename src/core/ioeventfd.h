/* SPDX-License-Identifier: MIT */
/*
 * MMIO writes that signal an eventfd without leaving the guest (KVM's
 * ioeventfd).
 *
 * A device that wants to know only *that* the guest wrote an address —
 * a virtio queue notify — can have the backend turn such a write into an
 * eventfd signal: on KVM the write completes inside the kernel and never
 * becomes an MMIO exit, and the device's I/O thread wakes on the eventfd.
 * The backend installs the hooks in machine->ioev; a backend that has no
 * such path leaves them NULL (the software CPU: there an MMIO write is
 * already a function call on the vCPU thread, and the device's handler
 * signals the same eventfd itself), and so does KVM with
 * VMON_NO_IOEVENTFD=1.
 *
 * A registration is a hint, never the only path: the device's MMIO
 * handler must still treat a write to the address as a notify, because
 * writes of another length, a failed registration (KVM's limit on I/O
 * bus devices) and the time between a BAR move and the new registration
 * all reach it through the bus.
 */
#ifndef VMON_CORE_IOEVENTFD_H
#define VMON_CORE_IOEVENTFD_H

#include <stdbool.h>
#include <stdint.h>

struct ioeventfd_router {
	/* A write of exactly len bytes (1, 2, 4 or 8) at gpa — of value data
	 * only, if match — signals fd instead of reaching the bus. Returns
	 * 0, or -1 if the backend could not (the write keeps reaching the
	 * bus). del takes the same arguments and fd must still be open. Any
	 * thread. NULL: not supported. */
	int (*add)(void *ctx, uint64_t gpa, unsigned len, bool match, uint64_t data, int fd);
	void (*del)(void *ctx, uint64_t gpa, unsigned len, bool match, uint64_t data, int fd);
	void *ctx;
};

#endif
