/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue, device side. See virtqueue.h for what is checked and
 * what a bad queue gets. Ring layout (virtio 1.x, 2.7):
 *   desc:  size x {le64 addr, le32 len, le16 flags, le16 next}
 *   avail: le16 flags, le16 idx, le16 ring[size], le16 used_event
 *   used:  le16 flags, le16 idx, {le32 id, le32 len}[size], le16 avail_event
 * vmon runs on little-endian x86-64 only, so fields are read natively.
 */
#include "devices/virtio/virtqueue.h"

#include <string.h>

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint16_t load16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);
}

static uint16_t load16_acquire(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static void store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, v, __ATOMIC_RELAXED);
}

static void store16_release(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, v, __ATOMIC_RELEASE);
}

static void store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

int virtq_enable(struct virtq *q, struct guest_mem *gm, uint16_t size, uint64_t desc,
		 uint64_t avail, uint64_t used, bool event_idx, bool indirect)
{
	virtq_reset(q);
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -1;
	if ((desc & 15) || (avail & 1) || (used & 3))
		return -1;
	uint64_t n = size;
	q->desc = gm_ptr(gm, desc, 16 * n);
	q->avail = gm_ptr(gm, avail, 6 + 2 * n);
	q->used = gm_ptr(gm, used, 6 + 8 * n);
	if (!q->desc || !q->avail || !q->used) {
		virtq_reset(q);
		return -1;
	}
	q->gm = gm;
	q->size = size;
	q->desc_gpa = desc;
	q->avail_gpa = avail;
	q->used_gpa = used;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->enabled = true;
	return 0;
}

/* Walks the chain at req->head into req->iov. Returns 0 or -1 (bad). */
static int walk_chain(struct virtq *q, struct virtq_req *req)
{
	const uint8_t *table = q->desc;
	uint32_t count = q->size; /* entries in the current table */
	uint32_t budget = count;  /* descriptors we may still visit in it */
	uint16_t idx = req->head;
	bool in_indirect = false;

	for (;;) {
		if (budget == 0)
			return -1; /* a loop, or a chain longer than its table */
		budget--;
		struct desc d;
		memcpy(&d, table + 16 * (size_t)idx, sizeof(d)); /* read once */
		const uint64_t addr = d.addr;
		const uint32_t len = d.len;
		const uint16_t flags = d.flags;
		const uint16_t next = d.next;

		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (!q->indirect || in_indirect || (flags & VIRTQ_DESC_F_NEXT))
				return -1;
			if (len == 0 || len % 16 || len / 16 > VIRTQ_MAX_SIZE)
				return -1;
			table = gm_ptr(q->gm, addr, len);
			if (!table)
				return -1;
			count = budget = len / 16;
			idx = 0;
			in_indirect = true;
			continue;
		}
		if (len == 0)
			return -1;
		void *host = gm_ptr(q->gm, addr, len);
		if (!host)
			return -1;
		if (req->nout + req->nin >= VIRTQ_MAX_SEGS)
			return -1;
		struct iovec *v = &req->iov[req->nout + req->nin];
		v->iov_base = host;
		v->iov_len = len;
		if (flags & VIRTQ_DESC_F_WRITE) {
			req->nin++;
			req->in_bytes += len;
		} else {
			if (req->nin)
				return -1; /* readable after writable */
			req->nout++;
			req->out_bytes += len;
		}
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (next >= count)
			return -1;
		idx = next;
	}
}

enum virtq_pop_result virtq_pop(struct virtq *q, struct virtq_req *req)
{
	if (!q->enabled)
		return VIRTQ_EMPTY;
	uint16_t avail_idx = load16_acquire(q->avail + 2);
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending == 0)
		return VIRTQ_EMPTY;
	if (pending > q->size)
		return VIRTQ_BROKEN;
	uint16_t head = load16(q->avail + 4 + 2 * (size_t)(q->last_avail & (q->size - 1)));
	if (head >= q->size)
		return VIRTQ_BROKEN;
	q->last_avail++;
	req->head = head;
	req->nout = req->nin = 0;
	req->out_bytes = req->in_bytes = 0;
	return walk_chain(q, req) == 0 ? VIRTQ_REQ : VIRTQ_BAD_REQ;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	if (!q->enabled)
		return;
	uint8_t *e = q->used + 4 + 8 * (size_t)(q->used_idx & (q->size - 1));
	store32(e, head);
	store32(e + 4, len);
	q->used_idx++;
	/* The element must be visible before the index that publishes it. */
	store16_release(q->used + 2, q->used_idx);
}

bool virtq_need_interrupt(struct virtq *q)
{
	if (!q->enabled)
		return false;
	/* Our used-index store must be ordered before reading what the
	 * driver asked for (it may be updating it right now). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load16(q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!valid)
		return true;
	uint16_t used_event = load16(q->avail + 4 + 2 * (size_t)q->size);
	/* Interrupt if used_event lies in [old, now). */
	return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

bool virtq_arm_notify(struct virtq *q)
{
	if (!q->enabled)
		return false;
	if (q->event_idx)
		store16(q->used + 4 + 8 * (size_t)q->size, q->last_avail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16_acquire(q->avail + 2) != q->last_avail;
}

uint64_t iov_to_buf(const struct iovec *iov, unsigned n, uint64_t off, void *buf, uint64_t len)
{
	uint64_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

uint64_t iov_from_buf(const struct iovec *iov, unsigned n, uint64_t off, const void *buf,
		      uint64_t len)
{
	uint64_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, k);
		done += k;
		off = 0;
	}
	return done;
}

int iov_slice(const struct iovec *iov, unsigned n, uint64_t off, uint64_t len, struct iovec *out,
	      unsigned max)
{
	unsigned k = 0;
	uint64_t left = len;
	for (unsigned i = 0; i < n && left; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		if (k == max)
			return -1;
		uint64_t take = iov[i].iov_len - off;
		if (take > left)
			take = left;
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k].iov_len = take;
		k++;
		left -= take;
		off = 0;
	}
	return left ? -1 : (int)k;
}
