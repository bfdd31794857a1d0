/* SPDX-License-Identifier: MIT */
/*
 * Saving and restoring the transport-neutral state of a virtio device
 * (virtio_state.c says what and how it is checked). Each virtio device
 * kind's save()/restore() (core/device.h) starts its blob with this and
 * appends its own.
 *
 * Threads: with the vCPUs parked; takes vd->lock. Save first waits for
 * the device's in-flight requests.
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_STATE_H
#define VMON_DEVICES_VIRTIO_VIRTIO_STATE_H

#include "core/error.h"
#include "core/state.h"
#include "devices/virtio/virtio_dev.h"

void virtio_state_save(struct virtio_device *vd, struct state_writer *w);
/* Returns 0, or -1 with err (the device is left reset). */
__attribute__((warn_unused_result)) int
virtio_state_restore(struct virtio_device *vd, struct state_reader *r, struct vmon_error *err);

/* The version of the blobs below (a device's state_version). */
#define VIRTIO_STATE_VERSION 1

/* save()/restore() of core/device.h for a virtio device kind whose struct
 * begins with its struct virtio_device and that keeps nothing else worth
 * saving (the rng, the NICs, the console; the disk and vsock add theirs). */
int virtio_dev_save(void *dev, struct state_writer *w, struct vmon_error *err);
int virtio_dev_restore(void *dev, struct state_reader *r, uint32_t version, struct vmon_error *err);
/* device_ops.restored for virtio devices (dev: the struct virtio_device):
 * raises the saved ISR again and kicks the queues the driver had
 * enabled, so what it queued before the snapshot is taken up. Not in
 * restore: the vCPUs' and interrupt controllers' state is restored after
 * the devices', and would overwrite an interrupt raised before. */
void virtio_dev_restored(void *dev);

#endif
