/* SPDX-License-Identifier: MIT */
/*
 * Debug-exit port (like QEMU's isa-debug-exit): a guest write of value v,
 * of any size at any offset of the region, ends the VM with
 * vmctl_request_stop(ctl, VM_STOP_DEBUG_EXIT, status), where status is
 *   DEBUG_EXIT_PLAIN: v & 0xff
 *   DEBUG_EXIT_QEMU:  ((v << 1) | 1) & 0xff   (QEMU's convention)
 * Only the bytes actually written count (v is masked to the access size).
 * Reads return 0. The device is stateless after creation, so it has no
 * lock; vmctl_request_stop() is thread-safe and the first stop wins.
 */
#ifndef VMON_DEVICES_DEBUG_EXIT_H
#define VMON_DEVICES_DEBUG_EXIT_H

#include <stdint.h>

#include "core/bus.h"
#include "core/device.h"
#include "core/error.h"
#include "core/layout.h"
#include "core/vm_control.h"

#define DEBUG_EXIT_PORT LAYOUT_PORT_DEBUG_EXIT
#define DEBUG_EXIT_LEN	4

enum debug_exit_mode {
	DEBUG_EXIT_PLAIN,
	DEBUG_EXIT_QEMU,
};

struct debug_exit;

/* As a device object (core/device.h). */
struct debug_exit_params {
	uint16_t port, len;
	enum debug_exit_mode mode;
};
extern const struct device_ops debug_exit_device;

/* Registers [base, base+len) on pio (len 1..8; vmon uses 0xf4, 4). ctl
 * must outlive the device. Call during machine setup. Returns 0, or -1
 * with err. */
__attribute__((warn_unused_result)) int
debug_exit_create(struct debug_exit **out, struct bus *pio, uint16_t base, uint16_t len,
		  enum debug_exit_mode mode, struct vm_control *ctl, struct vmon_error *err);

/* The exit status a write of value (size bytes) produces in mode. */
int debug_exit_status(enum debug_exit_mode mode, uint64_t value, unsigned size);

/* Frees. Call after the vCPU threads have stopped. NULL is a no-op. */
void debug_exit_destroy(struct debug_exit *dev);

#endif
