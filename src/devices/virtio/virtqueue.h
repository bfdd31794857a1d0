/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.x, section 2.7) as a device sees them, with
 * indirect descriptors and EVENT_IDX.
 *
 * The rings are guest memory and the guest is hostile. virtq_enable()
 * checks that the three rings lie in RAM (whole ranges, through gm_ptr)
 * and are aligned; guest RAM never moves, so the host pointers it keeps
 * stay valid for the VM's life. Each descriptor is copied once into a
 * local and only the copy is used; every buffer (addr, len) goes through
 * gm_ptr, so a request's iovecs point into guest RAM and nowhere else.
 *
 * What a bad queue gets:
 *   - VIRTQ_BROKEN: the available ring itself is inconsistent (its index
 *     moved by more than the queue size, or a head index is out of range).
 *     Nothing sensible can be returned; the device must set
 *     DEVICE_NEEDS_RESET and stop using the queue.
 *   - VIRTQ_BAD_REQ: the chain starting at a valid head is malformed: a
 *     loop or a chain longer than its table, a next index out of range,
 *     an indirect table inside an indirect table (or with NEXT, or empty,
 *     or not a multiple of 16 bytes, or not negotiated), a zero-length
 *     buffer, a buffer not wholly in RAM (past the end, in the MMIO hole,
 *     wrapping around), a device-readable buffer after a device-writable
 *     one, more than VIRTQ_MAX_SEGS buffers. The head is returned in
 *     req->head; the device completes it with length 0 (the request
 *     fails) and goes on.
 *
 * Not thread-safe: the owner (one virtio device) serialises calls.
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTQUEUE_H
#define VMON_DEVICES_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/guest_mem.h"

#define VIRTQ_MAX_SIZE		   32768 /* the split-ring maximum */
#define VIRTQ_MAX_SEGS		   128	 /* buffers per request, indirect included */
#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

struct virtq {
	struct guest_mem *gm;
	uint16_t size;
	bool enabled;
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint8_t *desc, *avail, *used; /* checked host pointers */
	uint16_t last_avail;	      /* next available-ring slot to take */
	uint16_t used_idx;	      /* next used-ring slot to fill */
	uint16_t signalled_used;      /* used_idx at the last interrupt decision */
	bool signalled_valid;
};

struct virtq_req {
	uint16_t head;
	unsigned nout, nin; /* iov[0..nout) device-readable, then nin writable */
	uint64_t out_bytes, in_bytes;
	struct iovec iov[VIRTQ_MAX_SEGS];
};

enum virtq_pop_result {
	VIRTQ_BROKEN = -1,
	VIRTQ_EMPTY = 0,
	VIRTQ_REQ = 1,
	VIRTQ_BAD_REQ = 2,
};

/* Sets the queue up from what the driver programmed. size must be a power
 * of two in 1..VIRTQ_MAX_SIZE; desc 16-byte, avail 2-byte and used 4-byte
 * aligned; each ring wholly in RAM. Returns 0, or -1 (queue left
 * disabled). */
int virtq_enable(struct virtq *q, struct guest_mem *gm, uint16_t size, uint64_t desc,
		 uint64_t avail, uint64_t used, bool event_idx, bool indirect);

/* Back to the reset state (disabled, indexes 0). */
void virtq_reset(struct virtq *q);

/* Takes the next available chain; see the header comment. */
enum virtq_pop_result virtq_pop(struct virtq *q, struct virtq_req *req);

/* Returns head to the driver with len bytes written to its writable
 * buffers (the caller passes what it really wrote). */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* After one or more pushes: whether the driver wants an interrupt now
 * (EVENT_IDX's used_event, or the NO_INTERRUPT flag). */
bool virtq_need_interrupt(struct virtq *q);

/* Before the device waits for the next notification: publishes
 * avail_event (EVENT_IDX) and returns true if buffers arrived meanwhile
 * (the caller must pop again instead of waiting). */
bool virtq_arm_notify(struct virtq *q);

/* iovec helpers for requests. Copy up to len bytes starting at byte off of
 * iov[0..n) into / out of buf; return the bytes copied. */
uint64_t iov_to_buf(const struct iovec *iov, unsigned n, uint64_t off, void *buf, uint64_t len);
uint64_t iov_from_buf(const struct iovec *iov, unsigned n, uint64_t off, const void *buf,
		      uint64_t len);
/* Fills out[] with the part [off, off+len) of iov[0..n); returns the
 * number of entries used, or -1 if the range is not all there or needs
 * more than max entries. */
int iov_slice(const struct iovec *iov, unsigned n, uint64_t off, uint64_t len, struct iovec *out,
	      unsigned max);

#endif
