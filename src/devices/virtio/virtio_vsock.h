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
 * Threads: each device has its own thread ("virtio-vsock") polling the
 * notify eventfd, the listening socket and the connections; all device
 * and connection state is under vd.lock.
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_VSOCK_H
#define VMON_DEVICES_VIRTIO_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/guest_mem.h"
#include "core/vm_control.h"

struct virtio_bus;
struct virtio_vsock;
struct virtio_device;

#define VSOCK_PATH_MAX 96 /* leaves room in sun_path for "_4294967295" */

struct vsock_spec {
	uint32_t cid;
	char path[VSOCK_PATH_MAX + 1];
};

/* Parses "CID,unix:PATH" (CID 3 .. 0xfffffffe; PATH at most
 * VSOCK_PATH_MAX bytes). Returns 0, or -1 with one line in err. */
__attribute__((warn_unused_result)) int vsock_spec_parse(const char *arg, struct vsock_spec *out,
							 struct vmon_error *err);

/* Listens on spec->path (a stale socket there is replaced; anything else,
 * or a socket someone listens on, is an error) and plugs the device in at
 * at (virtio_dev.h; NULL: tests). thread false: nothing runs by
 * itself, the caller drives it with virtio_vsock_poll. Returns 0, or -1
 * with err (then destroy). */
__attribute__((warn_unused_result)) int
virtio_vsock_create(struct virtio_vsock **out, const struct vsock_spec *spec, struct guest_mem *gm,
		    struct vm_control *ctl, const struct virtio_bus *at, bool thread,
		    struct vmon_error *err);

struct virtio_device *virtio_vsock_transport(struct virtio_vsock *v);

/* One round of the thread's work without blocking (thread false). */
void virtio_vsock_poll(struct virtio_vsock *v);

/* Device reset: every connection is closed. */
void virtio_vsock_reset(struct virtio_vsock *v);

/* Stops the thread, closes every socket, unlinks PATH, frees. NULL is a
 * no-op. */
void virtio_vsock_destroy(struct virtio_vsock *v);

#endif
