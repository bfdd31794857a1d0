/* SPDX-License-Identifier: MIT */
/*
 * virtio-console (virtio 1.x, 5.3): a single port (hvc0 in Linux), no
 * MULTIPORT, no size or emergency-write features. Queue 0 (receiveq)
 * carries input from a vmon chardev (stdio, file or unix socket: the
 * same back ends as --serial) to the guest, queue 1 (transmitq) the
 * guest's output to it.
 *
 * Output runs on the event loop given at creation and blocks there while
 * the chardev applies backpressure (a unix client not reading); give the
 * console a loop of its own (the VM's "vmon-con" thread) so the disks do
 * not wait on it. Input arrives on the chardev's loop (the main thread)
 * through the chardev's sink interface:
 * vmon reads its input only as far as the guest has posted receive
 * buffers, so nothing is lost.
 *
 * Hostile guest: chains through virtqueue.c; a transmit chain with a
 * writable buffer, a receive chain with a readable one: failed (length
 * 0); a corrupt available ring: DEVICE_NEEDS_RESET.
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_CONSOLE_H
#define VMON_DEVICES_VIRTIO_VIRTIO_CONSOLE_H

#include "core/chardev.h"
#include "core/device.h"
#include "core/error.h"
#include "devices/virtio/virtio_dev.h"
#include "core/guest_mem.h"
#include "core/vm_control.h"

struct chardev;
struct event_loop;
struct virtio_bus;
struct virtio_console;
struct virtio_device;

/* As a device object (core/device.h): on a chardev it creates from chr,
 * owns, and starts on env->main_loop; output on loop. Stats: tx_bytes,
 * rx_bytes and the virtio ones. */
struct virtio_console_params {
	struct chardev_spec chr;
	struct virtio_place place;
	struct event_loop *loop;
};
extern const struct device_ops virtio_console_device;

/* Attaches to chr as its input sink (before chardev_start) and plugs the
 * device in at at (virtio_dev.h). chr, loop and the bus must outlive the
 * device; loop and at may be NULL (tests). */
__attribute__((warn_unused_result)) int
virtio_console_create(struct virtio_console **out, struct chardev *chr, struct guest_mem *gm,
		      struct vm_control *ctl, struct event_loop *loop, const struct virtio_bus *at,
		      struct vmon_error *err);
struct virtio_device *virtio_console_transport(struct virtio_console *c);
void virtio_console_reset(struct virtio_console *c);
/* After the threads of its loops have stopped. NULL is a no-op. */
void virtio_console_destroy(struct virtio_console *c);

#endif
