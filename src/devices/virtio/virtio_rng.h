/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng (virtio 1.x, 5.4): one queue; each request's writable buffers
 * are filled from the host's getrandom(), up to 64 KiB per request. Runs
 * on the event loop it is given (the VM's I/O thread).
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_RNG_H
#define VMON_DEVICES_VIRTIO_VIRTIO_RNG_H

#include "core/device.h"
#include "core/error.h"
#include "core/guest_mem.h"
#include "core/token_bucket.h"
#include "core/vm_control.h"

struct event_loop;
struct pci_host;
struct virtio_rng;
struct virtio_device;

/* As a device object (core/device.h): always on env->pci. Stats:
 * requests, bytes and the virtio ones. */
struct virtio_rng_params {
	struct event_loop *loop;
	struct rl_config rl; /* rate limiter (zeroes: none) */
};
extern const struct device_ops virtio_rng_device;

/* Sets the rate limiter (at create, before the guest runs); returns 0,
 * or -1 with err. */
__attribute__((warn_unused_result)) int virtio_rng_set_limits(struct virtio_rng *r,
							      const struct rl_config *c,
							      struct event_loop *loop,
							      struct vmon_error *err);

/* host and loop may be NULL (tests). Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int
virtio_rng_create(struct virtio_rng **out, struct guest_mem *gm, struct vm_control *ctl,
		  struct event_loop *loop, struct pci_host *host, struct vmon_error *err);
struct virtio_device *virtio_rng_transport(struct virtio_rng *r);
void virtio_rng_reset(struct virtio_rng *r);
/* After its loop's thread has stopped. NULL is a no-op. */
void virtio_rng_destroy(struct virtio_rng *r);

#endif
