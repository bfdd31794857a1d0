/* SPDX-License-Identifier: MIT */
/*
 * The devices of one machine, as a list of device objects
 * (core/device.h) built from a vm_config: vm_devices_plan turns the config
 * into the list — each entry a kind, an id and its params, with ports and
 * GSIs from core/layout.h and virtio-mmio windows from the layout's
 * allocator — and the service loops the devices will subscribe to; every
 * whole-machine operation after that (create, reset, destroy, stats) is a
 * loop over the list. Planning creates no device, so the firmware tables
 * can describe the layout before anything exists.
 *
 * Order: the PCI host, the drives in order (PCI slots 1.. or MMIO
 * windows: their images are open and locked before any output file is
 * created, and a serial or console file that is one of them is refused),
 * the legacy devices (COM1, i8042, RTC, debug-exit, ACPI PM), then the
 * other virtio devices: the rng, NICs, the vsock, the console. Created in
 * that order; reset and destroyed in the reverse one (the virtio devices
 * before the PCI host, whose reset drops the routes they may still use).
 *
 * Service threads (core/event_loop.h): "vmon-io" (blk, rng), "vmon-netN"
 * (one per NIC), "vmon-vsock", "vmon-con" (virtio-console output, which may
 * block). The loops are made by the plan, started after the last device
 * subscribed, stopped before the first is destroyed.
 *
 * Ownership: the VM layer owns this struct and the devices; they outlive
 * reboots (a PC's devices keep their state across a reset of the CPUs,
 * the CMOS NVRAM among them). Threads: all calls from the VM's setup
 * thread, but vm_devices_stats (any thread).
 */
#ifndef VMON_VM_VM_DEVICES_H
#define VMON_VM_VM_DEVICES_H

#include <stdio.h>

#include "core/device.h"
#include "core/error.h"
#include "core/layout.h"
#include "core/machine.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/rtc_cmos.h"
#include "devices/uart_16550.h"
#include "devices/virtio/virtio_balloon.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_console.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_rng.h"
#include "devices/virtio/virtio_vsock.h"
#include "vm/vm_config.h"

struct event_loop;

#define VM_MAX_DEVICES (8 + VM_MAX_DISKS + VM_MAX_NICS + 3)
#define VM_MAX_LOOPS   (3 + VM_MAX_NICS)

struct vm_device {
	char id[VM_ID_MAX]; /* "com1", "drive0", "net0"... */
	const struct device_ops *ops;
	void *dev; /* NULL until created */
	union {
		struct uart_16550_params uart;
		struct i8042_params i8042;
		struct rtc_cmos_params rtc;
		struct debug_exit_params debug_exit;
		struct virtio_blk_params blk;
		struct virtio_rng_params rng;
		struct virtio_net_params net;
		struct virtio_vsock_params vsock;
		struct virtio_console_params con;
		struct virtio_balloon_params balloon;
	} params;
};

struct vm_service_loop {
	struct event_loop *loop;
	enum vmon_thread_kind kind;
	char name[16]; /* the thread is "vmon-<name>" */
};

struct vm_devices {
	struct vm_device list[VM_MAX_DEVICES];
	unsigned n, ncreated;
	struct vm_service_loop loops[VM_MAX_LOOPS];
	unsigned nloops;
	struct machine_layout layout; /* what the devices are given */
	struct device_env env;
};

/* Clears d and plans cfg's devices on machine m (see top); main_loop
 * takes console input. cfg must outlive d (params point into it).
 * Returns 0, or -1 with err (then vm_devices_destroy). */
__attribute__((warn_unused_result)) int vm_devices_plan(struct vm_devices *d, struct machine *m,
							struct event_loop *main_loop,
							const struct vm_config *cfg,
							struct vmon_error *err);

/* Creates the planned devices in order, then starts the service threads.
 * On failure what was created is left for vm_devices_destroy. */
__attribute__((warn_unused_result)) int vm_devices_create(struct vm_devices *d,
							  struct vmon_error *err);

/* Power-on state for a guest reset (NVRAM and the RTC's clock survive;
 * virtio devices finish their in-flight I/O first). Call while no vCPU
 * runs, and before the CPU backend is destroyed: until the virtio devices
 * are reset, completing I/O may still raise interrupts. */
void vm_devices_reset(struct vm_devices *d);

/* Stops the service threads, destroys the devices (reverse order) and
 * the loops. After the vCPU threads and the main loop have stopped. */
void vm_devices_destroy(struct vm_devices *d);

/* The created device with this id, or NULL. */
struct vm_device *vm_devices_find(struct vm_devices *d, const char *id);

/* Calls fn for every counter of every created device. Any thread. */
typedef void (*vm_devices_stat_fn)(void *opaque, const struct vm_device *dev, const char *name,
				   uint64_t value);
void vm_devices_stats(struct vm_devices *d, vm_devices_stat_fn fn, void *opaque);

/* VMON_STATS=1: one line per device with counters, "vmon: stats: ID KIND:
 * name value, ...". */
void vm_devices_print_stats(struct vm_devices *d, FILE *out);

#endif
