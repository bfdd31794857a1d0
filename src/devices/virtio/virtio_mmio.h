/* SPDX-License-Identifier: MIT */
/*
 * virtio 1.x over MMIO (virtio spec 4.2, register layout version 2): the
 * second transport of the device core in virtio_dev.h, for guests that
 * find devices through firmware (ACPI _HID "LNRO0005") rather than PCI.
 *
 * One 4 KiB window per device at a fixed address (the machine's choice,
 * vm_devices.h): the registers below, all 32-bit (accesses of any other
 * size read 0 and are ignored), then the device configuration at 0x100
 * (any access size, read-only as on PCI). Unused offsets read 0.
 *   0x000 MagicValue "virt"  0x004 Version 2     0x008 DeviceID
 *   0x00c VendorID           0x010 DeviceFeatures (word DeviceFeaturesSel 0x014)
 *   0x020 DriverFeatures (word DriverFeaturesSel 0x024)
 *   0x030 QueueSel  0x034 QueueNumMax (0: no such queue)  0x038 QueueNum
 *   0x044 QueueReady (1 enables the rings, 0 disables the queue)
 *   0x050 QueueNotify (value: the queue index)
 *   0x060 InterruptStatus (bit 0 used buffer, bit 1 configuration change)
 *   0x064 InterruptACK  0x070 Status
 *   0x080/0x084 QueueDescLow/High, 0x090/0x094 QueueDriverLow/High,
 *   0x0a0/0x0a4 QueueDeviceLow/High  0x0fc ConfigGeneration
 * A queue's size and ring addresses are fixed while it is ready; a bad
 * setup at QueueReady (size 0, not a power of two, above QueueNumMax,
 * rings outside RAM or misaligned) sets DEVICE_NEEDS_RESET.
 *
 * The interrupt is one level-triggered line: high while InterruptStatus
 * is not 0, lowered when InterruptACK clears the last bit (or a reset).
 * Notifications: on KVM, when queue q becomes ready, a 32-bit write of q
 * to QueueNotify is registered with KVM_IOEVENTFD (data match q) to
 * signal the queue's eventfd in the kernel; registrations go at reset.
 * Every other notify reaches the handler, which signals the same eventfd.
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_MMIO_H
#define VMON_DEVICES_VIRTIO_VIRTIO_MMIO_H

#include <stdio.h>

#include "devices/virtio/virtio_dev.h"

#define VIRTIO_MMIO_SIZE   0x1000
#define VIRTIO_MMIO_MAGIC  0x74726976 /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x4e4f4d56 /* "VMON" */

#define VIRTIO_MMIO_MAGIC_VALUE	     0x000
#define VIRTIO_MMIO_VERSION	     0x004
#define VIRTIO_MMIO_DEVICE_ID	     0x008
#define VIRTIO_MMIO_VENDOR_ID	     0x00c
#define VIRTIO_MMIO_DEV_FEATURES     0x010
#define VIRTIO_MMIO_DEV_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRV_FEATURES     0x020
#define VIRTIO_MMIO_DRV_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL	     0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX    0x034
#define VIRTIO_MMIO_QUEUE_NUM	     0x038
#define VIRTIO_MMIO_QUEUE_READY	     0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY     0x050
#define VIRTIO_MMIO_INT_STATUS	     0x060
#define VIRTIO_MMIO_INT_ACK	     0x064
#define VIRTIO_MMIO_STATUS	     0x070
#define VIRTIO_MMIO_QUEUE_DESC	     0x080
#define VIRTIO_MMIO_QUEUE_DRIVER     0x090
#define VIRTIO_MMIO_QUEUE_DEVICE     0x0a0
#define VIRTIO_MMIO_CONFIG_GEN	     0x0fc
#define VIRTIO_MMIO_CONFIG	     0x100

/* Initialises vd on the MMIO window at at->mmio_base of at->mmio (NULL:
 * not registered, tests reach it with virtio_mmio_read/write), with
 * interrupt line at->irq and ioeventfd hooks at->ioev (may be NULL).
 * Returns 0, or -1 with err (then virtio_device_fini). */
__attribute__((warn_unused_result)) int
virtio_mmio_init(struct virtio_device *vd, const struct virtio_params *p, struct guest_mem *gm,
		 struct vm_control *ctl, struct event_loop *loop, const struct virtio_bus *at,
		 struct vmon_error *err);

/* Register access at offset off of the window, as the bus does it (tests
 * and fuzzing); vd must be on the MMIO transport. */
uint64_t virtio_mmio_read(struct virtio_device *vd, uint64_t off, unsigned size);
void virtio_mmio_write(struct virtio_device *vd, uint64_t off, unsigned size, uint64_t val);

#endif
