/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.x, 5.2) on a raw image file or block device.
 *
 * One request queue of up to 128 entries. Features: SEG_MAX (126), FLUSH,
 * and RO for a read-only disk or DISCARD (one segment per request, hole
 * punching) for a writable one. Requests: IN, OUT, FLUSH (fdatasync
 * before the status is written, so a write the guest saw complete before
 * a flush survives vmon being killed), DISCARD, GET_ID (the id= name, or
 * the image's file name, at most 20 bytes). Status: OK; IOERR for a
 * request past the end of the disk, a length that is not a multiple of
 * 512, a write or discard to a read-only disk, or a host I/O error;
 * UNSUPP for other types and unknown discard flags. A request without a
 * 16-byte header or a writable status byte, or with a malformed chain, is
 * completed with length 0 (see virtqueue.h); a broken available ring sets
 * DEVICE_NEEDS_RESET. A driver that did not negotiate FLUSH gets
 * write-through instead, as the spec asks (5.2.6.2): each OUT is durable
 * (RWF_DSYNC) before it completes.
 *
 * I/O is asynchronous (blk_aio.h: io_uring, else a thread pool) and runs
 * off the vCPU threads: requests are parsed and submitted on the VM's I/O
 * thread, and completions come back there. The image is locked for the
 * device's whole life with QEMU-compatible OFD locks (core/image_lock.h:
 * shared for ,ro, exclusive otherwise), so two VMs — vmon or QEMU —
 * cannot write the same image.
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_BLK_H
#define VMON_DEVICES_VIRTIO_VIRTIO_BLK_H

#include <stdbool.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/guest_mem.h"
#include "core/token_bucket.h"
#include "core/vm_control.h"
#include "devices/virtio/blk_aio.h"
#include "devices/virtio/virtio_dev.h"

struct event_loop;
struct virtio_blk;
struct virtio_bus;
struct virtio_device;

#define VIRTIO_BLK_ID_BYTES 20

struct virtio_blk_spec {
	const char *path;
	bool ro;
	const char *id;	       /* NULL: the image's file name */
	enum blk_aio_kind aio; /* BLK_AIO_AUTO normally */
	struct rl_config rl;   /* rate limiter (zeroes: none) */
	/* Open without taking the image's locks (an incoming migration's
	 * disk, while the source still holds them: virtio_blk_hold_lock
	 * takes them once it let them go). */
	bool unlocked;
};

/* As a device object (core/device.h): spec's strings must outlive the
 * device; the device subscribes to loop. Stats: reads, writes, flushes,
 * discards, read_bytes, write_bytes, io_errors and the virtio ones. */
struct virtio_blk_params {
	struct virtio_blk_spec spec;
	struct virtio_place place;
	struct event_loop *loop;
};
extern const struct device_ops virtio_blk_device;

/* Opens the image and plugs the device in at at (virtio_dev.h: a PCI
 * host's bus or an MMIO window; at and loop may be NULL for tests: no bus,
 * no event loop). Bad images are reported as
 * one line naming the path. Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int
virtio_blk_create(struct virtio_blk **out, const struct virtio_blk_spec *spec, struct guest_mem *gm,
		  struct vm_control *ctl, struct event_loop *loop, const struct virtio_bus *at,
		  struct vmon_error *err);

/* Opens, checks and locks the image as virtio_blk_create would, then
 * closes it: lets the CLI report a bad --disk before anything else.
 * Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int virtio_blk_check(const struct virtio_blk_spec *spec,
							 struct vmon_error *err);

/* Whether st (from stat or fstat) is b's image file or device. */
bool virtio_blk_is_image(const struct virtio_blk *b, const struct stat *st);

/* The virtio device underneath (tests drive it through its transport). */
struct virtio_device *virtio_blk_transport(struct virtio_blk *b);

/* Handles finished I/O now (what the device's loop does; tests, fuzzing). */
void virtio_blk_poll(struct virtio_blk *b);

/* What the device handed its I/O engine (tests: write-through). */
void virtio_blk_aio_stats(const struct virtio_blk *b, struct blk_aio_stats *out);

/* "io_uring", "thread pool"... */
const char *virtio_blk_engine(const struct virtio_blk *b);

/* Live migration: drops (hold false) or takes again the image's locks
 * (core/image_lock.h), the device otherwise unchanged: the source lets
 * the target take the image once its last writes are flushed. Returns 0,
 * or -1 with err (another process took the lock meanwhile). */
__attribute__((warn_unused_result)) int virtio_blk_hold_lock(struct virtio_blk *b, bool hold,
							     struct vmon_error *err);
/* Live migration, the target after the end record (the source flushed
 * the image and dropped its locks before it): opens the image again by
 * its path and locks the new open file, which replaces the one opened,
 * unlocked, when the machine was built before round 0. A file system
 * that caches by open (NFS's close-to-open) shows this open what the
 * source wrote and flushed; the image must be the same file with the
 * same size. Before the device does any I/O (its state not loaded yet).
 * Returns 0, or -1 with err and nothing changed. */
__attribute__((warn_unused_result)) int virtio_blk_take_over(struct virtio_blk *b,
							     struct vmon_error *err);
/* Replaces the image under the running device (Firecracker's PATCH of a
 * drive's path_on_host): opens, checks and locks path as create would
 * (same read-only mode), waits for requests in flight, switches, updates
 * the capacity and tells the driver (configuration change interrupt).
 * The old image is closed. Any thread but the device's loop; returns 0,
 * or -1 with err and nothing changed. */
__attribute__((warn_unused_result)) int virtio_blk_set_path(struct virtio_blk *b, const char *path,
							    struct vmon_error *err);

/* Changes the rate limiter of a running device (PATCH /drives/{id}).
 * Any thread. */
void virtio_blk_set_rate_limiter(struct virtio_blk *b, const struct rl_update *u);

/* Device reset for a VM reset (waits for in-flight I/O). */
void virtio_blk_reset(struct virtio_blk *b);

/* After its loop's thread has stopped. NULL is a no-op. */
void virtio_blk_destroy(struct virtio_blk *b);

#endif
