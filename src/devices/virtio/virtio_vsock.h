/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock (virtio 1.x, 5.10), stream sockets only, with its host side
 * on Unix sockets in Firecracker's "hybrid" convention:
 *
 *   - vmon listens on PATH. A host client connects, writes
 *     "CONNECT <port>\n" and, once the guest accepts (a listener on that
 *     vsock port), reads "OK <hostport>\n"; from then on the Unix stream
 *     carries the connection. If the guest refuses, vmon closes the
 *     client's socket without an answer. hostport is the host side's
 *     vsock port (from 1 << 30 up).
 *   - A guest connecting to the host (CID 2) port P reaches a Unix socket
 *     listening at "PATH_P"; nothing listening there: the guest gets RST.
 *
 * Queues: rx (0), tx (1), event (2; its buffers are kept, no event is ever
 * sent). Configuration: le64 guest_cid. Flow control is the spec's credit
 * scheme: vmon gives each connection a 256 KiB buffer (buf_alloc) and
 * reports what it has written to the host socket (fwd_cnt), and sends the
 * guest no more than the guest's buf_alloc - (sent - its fwd_cnt). A guest
 * sending beyond its credit, or a packet for no connection, an unknown
 * operation, a non-stream type, a payload longer than its buffer: RST. A
 * packet whose source CID is not the guest's is dropped. Host socket
 * errors: RST. The host closing its end: SHUTDOWN (both directions).
 *
 * Hostile guest: every chain goes through virtqueue.c; tx chains must be
 * device-readable with a whole 44-byte header, rx chains writable and at
 * least a header long, else the chain is failed (length 0). At most 64
 * connections exist at a time (further requests get RST), so a guest
 * cannot make vmon open unbounded host sockets.
 *
 * Threads: the device subscribes to one event loop (the VM runs it on
 * its own thread, "vmon-vsock"), which watches the notify eventfd, the
 * listening socket and, as a source, the connections; all device and
 * connection state is under vd.lock.
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_VSOCK_H
#define VMON_DEVICES_VIRTIO_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/device.h"
#include "core/error.h"
#include "core/guest_mem.h"
#include "core/vm_control.h"
#include "devices/virtio/virtio_dev.h"

struct event_loop;
struct virtio_bus;
struct virtio_vsock;
struct virtio_device;

#define VSOCK_PATH_MAX 96 /* leaves room in sun_path for "_4294967295" */

struct vsock_spec {
	uint32_t cid;
	char path[VSOCK_PATH_MAX + 1];
};

/* As a device object (core/device.h). Stats: tx_packets, tx_bytes,
 * rx_packets, rx_bytes, connections and the virtio ones. */
struct virtio_vsock_params {
	struct vsock_spec spec;
	struct virtio_place place;
	struct event_loop *loop;
};
extern const struct device_ops virtio_vsock_device;

/* Listens on spec->path (a stale socket there is replaced; anything else,
 * or a socket someone listens on, is an error) and plugs the device in at
 * at (virtio_dev.h; NULL: tests), subscribed to loop (which must outlive
 * the device's use of it). loop NULL: a loop of its own that nothing runs
 * by itself; the caller drives it with virtio_vsock_poll. Returns 0, or
 * -1 with err (then destroy). */
__attribute__((warn_unused_result)) int
virtio_vsock_create(struct virtio_vsock **out, const struct vsock_spec *spec, struct guest_mem *gm,
		    struct vm_control *ctl, const struct virtio_bus *at, struct event_loop *loop,
		    struct vmon_error *err);

struct virtio_device *virtio_vsock_transport(struct virtio_vsock *v);

/* One round of the device's loop without blocking (loop NULL at create). */
void virtio_vsock_poll(struct virtio_vsock *v);

/* Device reset: every connection is closed. */
void virtio_vsock_reset(struct virtio_vsock *v);

/* Closes every socket, unlinks PATH, frees; after the loop's thread has
 * stopped. NULL is a no-op. */
void virtio_vsock_destroy(struct virtio_vsock *v);

#endif
