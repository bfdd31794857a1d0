/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (virtio 1.x, 5.1): one receive queue (0), one transmit
 * queue (1) and a control queue (2), 256 entries each, on a host back end
 * (net_backend.h: tap, libslirp, or a loopback for tests).
 *
 * Features: MAC and STATUS (link always up); CTRL_VQ and GUEST_ANNOUNCE,
 * for the announce after a restore or a migration (device_ops.restored:
 * the guest is asked with VIRTIO_NET_S_ANNOUNCE and a configuration
 * interrupt, and acks with VIRTIO_NET_CTRL_ANNOUNCE_ACK, the only control
 * command answered OK; a guest without the feature gets a RARP for its
 * MAC sent by vmon). No offloads, no mergeable receive buffers, so every
 * frame is whole and checksummed and a receive chain must hold the
 * 12-byte virtio_net_hdr plus the frame. The device writes an all-zero header (num_buffers 1) on
 * receive and ignores the guest's on transmit.
 *
 * Hostile guest: every chain goes through virtqueue.c. A transmit chain
 * with a device-writable buffer, shorter than the header plus a 14-byte
 * Ethernet header or longer than NET_MAX_FRAME, and a receive chain with
 * a device-readable buffer or shorter than the header, are failed
 * (completed with length 0); a frame longer than the receive buffer is
 * dropped and the buffer kept; a corrupt available ring sets
 * DEVICE_NEEDS_RESET. Frames are copied once out of guest RAM before the
 * back end sees them.
 *
 * Threads: the device subscribes to one event loop (core/event_loop.h),
 * whose thread (the VM gives each NIC its own: "vmon-net0"...) watches the
 * notify eventfd and, through a source, the back end's fds and timers,
 * and does all the device's queue work and all the back end's work; vCPU
 * threads only touch the transport registers. vd.lock guards the queues;
 * it is never held while calling the back end (libslirp may answer
 * synchronously).
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_NET_H
#define VMON_DEVICES_VIRTIO_VIRTIO_NET_H

#include <stdbool.h>

#include "core/device.h"
#include "core/error.h"
#include "core/guest_mem.h"
#include "core/token_bucket.h"
#include "core/vm_control.h"
#include "devices/virtio/net_backend.h"
#include "devices/virtio/virtio_dev.h"

struct event_loop;
struct virtio_bus;
struct virtio_net;
struct virtio_device;

/* As a device object (core/device.h): mac unless spec has one. Stats:
 * tx_frames, tx_bytes, rx_frames, rx_bytes, rx_dropped, announces (asked
 * of the guest), announce_acks, rarps_sent, ctrl_refused (unknown control
 * commands) and the virtio ones. */
struct virtio_net_params {
	struct net_spec spec;
	uint8_t mac[6];
	struct virtio_place place;
	struct event_loop *loop;
	struct rl_config rx_rl, tx_rl; /* rate limiters (zeroes: none) */
};
extern const struct device_ops virtio_net_device;

/* What virtio_net_create would refuse about the host side (a tap that
 * cannot be opened), checked without creating anything. */
__attribute__((warn_unused_result)) int virtio_net_check(const struct net_spec *spec,
							 struct vmon_error *err);

/* Creates the device and its back end and plugs it in at at (virtio_dev.h;
 * NULL: tests). mac is used unless spec has one. The device subscribes to
 * loop, which must outlive the device's use of it; all of the device's
 * and its back end's work runs there. With loop NULL it makes a loop of
 * its own that nothing runs by itself: the caller drives it with
 * virtio_net_poll (tests, fuzzing). Returns 0, or -1 with err (then destroy). */
__attribute__((warn_unused_result)) int
virtio_net_create(struct virtio_net **out, const struct net_spec *spec, const uint8_t mac[6],
		  struct guest_mem *gm, struct vm_control *ctl, const struct virtio_bus *at,
		  struct event_loop *loop, struct vmon_error *err);

struct virtio_device *virtio_net_transport(struct virtio_net *n);

/* One round of the device's loop without blocking (loop NULL at create). */
void virtio_net_poll(struct virtio_net *n);

/* Frames dropped because the guest had no (big enough) receive buffer. */
unsigned long virtio_net_rx_dropped(struct virtio_net *n);

/* Sets the receive and transmit rate limiters (at create, before the
 * guest runs). Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int virtio_net_set_limits(struct virtio_net *n,
							      const struct rl_config *rx,
							      const struct rl_config *tx,
							      struct vmon_error *err);
/* Changes them on a running device (PATCH /network-interfaces/{id}); NULL
 * leaves one as it is. Any thread. */
void virtio_net_update_limits(struct virtio_net *n, const struct rl_update *rx,
			      const struct rl_update *tx);

void virtio_net_reset(struct virtio_net *n);

/* Closes the back end and frees, after the loop's thread has stopped.
 * NULL is a no-op. */
void virtio_net_destroy(struct virtio_net *n);

#endif
