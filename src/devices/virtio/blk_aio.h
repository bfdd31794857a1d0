/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous file I/O for block devices: a small vtable-free engine
 * with three implementations chosen at creation.
 *   io_uring (liburing): readv/writev/fsync(DATASYNC)/fallocate; a flush
 *     is submitted with IOSQE_IO_DRAIN, so it starts after every request
 *     submitted before it has completed. The ring is restricted to those
 *     operations (and nop) before it is enabled.
 *   pool: worker threads doing preadv/pwritev/fdatasync/fallocate, for
 *     hosts where io_uring is unavailable (old kernel, seccomp, sysctl
 *     kernel.io_uring_disabled).
 *   sync: runs each request inside blk_aio_submit (tests, fuzzing).
 * BLK_AIO_AUTO tries io_uring and falls back to the pool; the environment
 * variable VMON_NO_IO_URING=1 forces the pool (for tests).
 *
 * Write-through: a WRITE with dsync set is durable when it completes
 * (RWF_DSYNC; where the kernel lacks it, the write is followed by
 * fdatasync) — for a virtio-blk driver that did not negotiate FLUSH.
 *
 * Completion: the engine's event fd becomes readable; the owner drains it
 * with blk_aio_ack() and takes finished requests with blk_aio_reap().
 * A request's result is the byte count (all of it, or the request counts
 * as failed with -EIO) or -errno. Requests must stay valid until reaped;
 * one blk_aio_submit() refused (< 0) is not the engine's any more: it is
 * never touched again, even if the ring could not take it.
 *
 * Teardown: blk_aio_destroy() waits for every request in flight (their
 * buffers are guest RAM, which must outlive them), then frees.
 *
 * Threads: submit, ack and reap from one thread (the device's I/O
 * thread); the pool's workers are internal.
 */
#ifndef VMON_DEVICES_VIRTIO_BLK_AIO_H
#define VMON_DEVICES_VIRTIO_BLK_AIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/error.h"

enum blk_aio_kind { BLK_AIO_AUTO, BLK_AIO_URING, BLK_AIO_POOL, BLK_AIO_SYNC };
enum blk_aio_op { BLK_AIO_READ, BLK_AIO_WRITE, BLK_AIO_FLUSH, BLK_AIO_DISCARD };

struct blk_aio_req {
	enum blk_aio_op op;
	const struct iovec *iov; /* READ/WRITE */
	int iovcnt;
	uint64_t offset;
	uint64_t len; /* bytes: the iovecs' total, or the discard length */
	bool dsync;   /* WRITE: durable on completion (write-through) */
	int64_t result;
	void *cookie;
	struct blk_aio_req *next; /* engine-internal */
};

struct blk_aio;

/* Creates an engine for fd with room for depth requests in flight.
 * Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int blk_aio_create(struct blk_aio **out, int fd,
						       enum blk_aio_kind kind, unsigned depth,
						       struct vmon_error *err);
/* "io_uring", "thread pool" or "synchronous". */
const char *blk_aio_name(const struct blk_aio *a);
/* Readable when completions may be waiting. */
int blk_aio_event_fd(const struct blk_aio *a);
/* Queues r. Returns 0, or -errno (the request was not taken). */
int blk_aio_submit(struct blk_aio *a, struct blk_aio_req *r);
/* Clears the event fd's readiness; call before reaping. */
void blk_aio_ack(struct blk_aio *a);
/* One finished request, or NULL. */
struct blk_aio_req *blk_aio_reap(struct blk_aio *a);
/* Makes later requests use fd (the owner swaps the image). Only with
 * nothing in flight. */
void blk_aio_set_fd(struct blk_aio *a, int fd);
/* Waits for requests in flight, then frees. NULL is a no-op. */
void blk_aio_destroy(struct blk_aio *a);

/* Counts of what was submitted (the submitting thread's view). */
struct blk_aio_stats {
	uint64_t writes;       /* WRITE requests */
	uint64_t dsync_writes; /* ... of which write-through */
	uint64_t flushes;
};
void blk_aio_get_stats(const struct blk_aio *a, struct blk_aio_stats *out);

/* Tests: the next n io_uring submissions fail as a kernel short of
 * resources makes them fail (-EAGAIN, nothing consumed). */
void blk_aio_test_fail_submits(struct blk_aio *a, unsigned n);
/* Tests: submits one io_uring entry of the given opcode on fd -1 with
 * nothing else in flight and returns its completion's result (-EACCES
 * for an opcode the ring's restrictions refuse); -ENOSYS without a ring. */
int blk_aio_test_ring_op(struct blk_aio *a, uint8_t opcode);

#endif
