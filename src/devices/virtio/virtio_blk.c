/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk: request parsing, bounds checks and completion on top of the
 * virtio-pci transport and an asynchronous I/O engine. See virtio_blk.h.
 */
#include "devices/virtio/virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/device.h"
#include "core/event_loop.h"
#include "core/image_lock.h"
#include "core/rate_limiter.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtio_state.h"

#define BLK_QUEUE_SIZE	 128
#define BLK_SEG_MAX	 (VIRTQ_MAX_SEGS - 2) /* header and status take two */
#define SECTOR		 512ULL
#define MAX_DISCARD_SECT 0x400000u /* 2 GiB per discard request */

#define VIRTIO_ID_BLOCK		 2
#define VIRTIO_BLK_F_SEG_MAX	 2
#define VIRTIO_BLK_F_RO		 5
#define VIRTIO_BLK_F_FLUSH	 9
#define VIRTIO_BLK_F_DISCARD	 13
#define VIRTIO_BLK_T_IN		 0
#define VIRTIO_BLK_T_OUT	 1
#define VIRTIO_BLK_T_FLUSH	 4
#define VIRTIO_BLK_T_GET_ID	 8
#define VIRTIO_BLK_T_DISCARD	 11
#define VIRTIO_BLK_S_OK		 0
#define VIRTIO_BLK_S_IOERR	 1
#define VIRTIO_BLK_S_UNSUPP	 2
#define VIRTIO_BLK_DISCARD_UNMAP 1

/* struct virtio_blk_config, up to the discard fields (offsets in bytes). */
#define CFG_CAPACITY	  0
#define CFG_SEG_MAX	  12
#define CFG_NUM_QUEUES	  34
#define CFG_MAX_DISCARD	  36
#define CFG_DISCARD_SEG	  40
#define CFG_DISCARD_ALIGN 44
#define CFG_LEN		  60

struct blk_req {
	struct virtq_req vq;
	struct blk_aio_req aio;
	struct iovec data[VIRTQ_MAX_SEGS];
	uint8_t *status; /* the chain's last writable byte, in guest RAM */
	uint32_t used_len;
	struct blk_req *next_free;
};

struct virtio_blk {
	struct virtio_device vd; /* first */
	int fd;
	struct stat st; /* the image, as opened */
	bool ro;
	uint64_t capacity; /* sectors */
	char id[VIRTIO_BLK_ID_BYTES];
	char name[96];
	uint8_t config[CFG_LEN];
	struct blk_aio *aio;
	char path[4096]; /* the image, for messages and GET */
	/* Under vd.lock: */
	uint64_t reads, writes, flushes, discards, read_bytes, write_bytes, io_errors;
	struct blk_req *slots;
	struct blk_req *free;
	bool stalled;	      /* every slot in flight; resume on completion */
	struct blk_req *held; /* popped but throttled: started first when tokens come */
	struct rate_limiter rl;
};

static void put_le(uint8_t *b, unsigned off, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* ---- Requests (vd.lock held) ---- */

static void release(struct virtio_blk *b, struct blk_req *r)
{
	r->next_free = b->free;
	b->free = r;
}

static void complete(struct virtio_blk *b, struct blk_req *r, uint8_t status)
{
	if (status == VIRTIO_BLK_S_IOERR)
		b->io_errors++;
	*r->status = status;
	virtq_push(&b->vd.vq[0], r->vq.head, r->used_len);
	virtio_queue_interrupt(&b->vd, 0);
	release(b, r);
}

static bool in_disk(const struct virtio_blk *b, uint64_t sector, uint64_t nsect)
{
	return sector <= b->capacity && nsect <= b->capacity - sector;
}

static void submit(struct virtio_blk *b, struct blk_req *r, enum blk_aio_op op,
		   const struct iovec *iov, int iovcnt, uint64_t offset, uint64_t len)
{
	/* A driver that did not negotiate FLUSH never sends one: the spec
	 * (5.2.6.2) then wants every write durable when it completes. */
	bool flush_ok = b->vd.driver_features & (1ULL << VIRTIO_BLK_F_FLUSH);
	r->aio = (struct blk_aio_req){.op = op,
				      .iov = iov,
				      .iovcnt = iovcnt,
				      .offset = offset,
				      .len = len,
				      .dsync = op == BLK_AIO_WRITE && !flush_ok,
				      .cookie = r};
	if (blk_aio_submit(b->aio, &r->aio) < 0) {
		complete(b, r, VIRTIO_BLK_S_IOERR);
		return;
	}
	b->vd.inflight++;
}

/* Starts request r (popped from the queue). It either completes at once
 * or is handed to the I/O engine. */
static void start(struct virtio_blk *b, struct blk_req *r)
{
	struct virtq_req *q = &r->vq;
	uint8_t hdr[16];
	if (q->nin == 0 || iov_to_buf(q->iov, q->nout, 0, hdr, sizeof(hdr)) != sizeof(hdr)) {
		virtio_fail_request(&b->vd, 0, q->head, "request without header or status byte");
		release(b, r);
		return;
	}
	const uint32_t type = (uint32_t)get_le(hdr, 4);
	const uint64_t sector = get_le(hdr + 8, 8);
	const struct iovec *last = &q->iov[q->nout + q->nin - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->used_len = 1;
	const uint64_t in_len = q->in_bytes - 1;    /* writable data before the status */
	const uint64_t out_len = q->out_bytes - 16; /* readable data after the header */
	const struct iovec *in_iov = q->iov + q->nout;

	switch (type) {
	case VIRTIO_BLK_T_IN: {
		if (in_len % SECTOR || !in_disk(b, sector, in_len / SECTOR))
			break;
		if (in_len == 0) {
			complete(b, r, VIRTIO_BLK_S_OK);
			return;
		}
		int n = iov_slice(in_iov, q->nin, 0, in_len, r->data, VIRTQ_MAX_SEGS);
		if (n < 0)
			break;
		r->used_len = (uint32_t)(in_len + 1);
		b->reads++;
		b->read_bytes += in_len;
		submit(b, r, BLK_AIO_READ, r->data, n, sector * SECTOR, in_len);
		return;
	}
	case VIRTIO_BLK_T_OUT: {
		if (b->ro || out_len % SECTOR || !in_disk(b, sector, out_len / SECTOR))
			break;
		if (out_len == 0) {
			complete(b, r, VIRTIO_BLK_S_OK);
			return;
		}
		int n = iov_slice(q->iov, q->nout, 16, out_len, r->data, VIRTQ_MAX_SEGS);
		if (n < 0)
			break;
		b->writes++;
		b->write_bytes += out_len;
		submit(b, r, BLK_AIO_WRITE, r->data, n, sector * SECTOR, out_len);
		return;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (b->ro) {
			complete(b, r, VIRTIO_BLK_S_OK);
			return;
		}
		b->flushes++;
		submit(b, r, BLK_AIO_FLUSH, NULL, 0, 0, 0);
		return;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t n = in_len < VIRTIO_BLK_ID_BYTES ? in_len : VIRTIO_BLK_ID_BYTES;
		r->used_len = (uint32_t)(iov_from_buf(in_iov, q->nin, 0, b->id, n) + 1);
		complete(b, r, VIRTIO_BLK_S_OK);
		return;
	}
	case VIRTIO_BLK_T_DISCARD: {
		uint8_t seg[16];
		if (b->ro || out_len != sizeof(seg) ||
		    iov_to_buf(q->iov, q->nout, 16, seg, sizeof(seg)) != sizeof(seg))
			break;
		const uint64_t s = get_le(seg, 8);
		const uint32_t num = (uint32_t)get_le(seg + 8, 4);
		const uint32_t flags = (uint32_t)get_le(seg + 12, 4);
		if (flags & ~(uint32_t)VIRTIO_BLK_DISCARD_UNMAP) {
			complete(b, r, VIRTIO_BLK_S_UNSUPP);
			return;
		}
		if (num > MAX_DISCARD_SECT || !in_disk(b, s, num))
			break;
		if (num == 0) {
			complete(b, r, VIRTIO_BLK_S_OK);
			return;
		}
		b->discards++;
		submit(b, r, BLK_AIO_DISCARD, NULL, 0, s * SECTOR, num * SECTOR);
		return;
	}
	default: complete(b, r, VIRTIO_BLK_S_UNSUPP); return;
	}
	complete(b, r, VIRTIO_BLK_S_IOERR);
}

/* The tokens a request costs: its data bytes (header and status byte
 * excluded) and one operation. */
static uint64_t req_bytes(const struct virtq_req *q)
{
	return (q->out_bytes > 16 ? q->out_bytes - 16 : 0) + (q->in_bytes ? q->in_bytes - 1 : 0);
}

/* Starts r if the rate limiter lets it go now; otherwise keeps it in
 * b->held (the limiter's timer kicks the queue later). */
static bool start_or_hold(struct virtio_blk *b, struct blk_req *r)
{
	if (!rate_limiter_consume(&b->rl, req_bytes(&r->vq))) {
		b->held = r;
		return false;
	}
	b->held = NULL;
	start(b, r);
	return true;
}

static void process_queue_locked(struct virtio_blk *b)
{
	struct virtio_device *vd = &b->vd;
	if (b->held && (!virtio_queue_live(vd, 0) || !start_or_hold(b, b->held)))
		return;
	while (virtio_queue_live(vd, 0)) {
		struct blk_req *r = b->free;
		if (!r) {
			b->stalled = true; /* resumed when a request completes */
			return;
		}
		switch (virtq_pop(&vd->vq[0], &r->vq)) {
		case VIRTQ_EMPTY:
			if (virtq_arm_notify(&vd->vq[0]))
				continue;
			return;
		case VIRTQ_BROKEN:
			virtio_needs_reset(vd, "request queue: available ring corrupt");
			return;
		case VIRTQ_BAD_REQ:
			virtio_fail_request(vd, 0, r->vq.head, "malformed descriptor chain");
			continue;
		case VIRTQ_REQ:
			b->free = r->next_free;
			if (!start_or_hold(b, r))
				return;
			continue;
		}
	}
}

static void blk_queue_work(struct virtio_device *vd, unsigned q)
{
	struct virtio_blk *b = (struct virtio_blk *)vd;
	if (q != 0)
		return;
	pthread_mutex_lock(&vd->lock);
	process_queue_locked(b);
	pthread_mutex_unlock(&vd->lock);
}

void virtio_blk_poll(struct virtio_blk *b)
{
	blk_aio_ack(b->aio);
	pthread_mutex_lock(&b->vd.lock);
	struct blk_aio_req *a;
	while ((a = blk_aio_reap(b->aio))) {
		struct blk_req *r = a->cookie;
		complete(b, r, a->result < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
		if (--b->vd.inflight == 0)
			pthread_cond_broadcast(&b->vd.drained);
	}
	if (b->stalled && b->free) {
		b->stalled = false;
		process_queue_locked(b);
	}
	pthread_mutex_unlock(&b->vd.lock);
}

static void on_aio(void *opaque, int fd, uint32_t events)
{
	virtio_blk_poll(opaque);
}

static void blk_reset(struct virtio_device *vd)
{
	struct virtio_blk *b = (struct virtio_blk *)vd;
	/* Nothing is in flight now: every slot is free again. */
	b->free = NULL;
	for (unsigned i = BLK_QUEUE_SIZE; i-- > 0;)
		release(b, &b->slots[i]);
	b->stalled = false;
	b->held = NULL;
}

static const struct virtio_device_ops blk_ops = {
	.queue_work = blk_queue_work,
	.reset = blk_reset,
};

/* ---- Setup ---- */

static void rl_wake(void *opaque)
{
	struct virtio_blk *b = opaque;
	virtio_kick(&b->vd, 0);
}

void virtio_blk_set_rate_limiter(struct virtio_blk *b, const struct rl_update *u)
{
	rate_limiter_update(&b->rl, u);
}

static int open_image(struct virtio_blk *b, const struct virtio_blk_spec *s, struct vmon_error *err)
{
	/* O_NONBLOCK: a FIFO must not make open() wait for its other end
	 * (it is refused below); cleared again for the image's I/O. */
	b->fd = open(s->path, (s->ro ? O_RDONLY : O_RDWR) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (b->fd < 0) {
		if (errno == EROFS || (errno == EACCES && !s->ro && access(s->path, R_OK) == 0))
			return err_setf(err, "--disk %s: %s (add ,ro to use it read-only)", s->path,
					strerror(errno));
		return err_setf(err, "--disk %s: %s", s->path, strerror(errno));
	}
	struct stat st;
	if (fstat(b->fd, &st) < 0)
		return err_setf(err, "--disk %s: %s", s->path, strerror(errno));
	uint64_t size;
	if (S_ISDIR(st.st_mode)) {
		return err_setf(err, "--disk %s: is a directory", s->path);
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &size) < 0)
			return err_setf(err, "--disk %s: %s", s->path, strerror(errno));
	} else {
		return err_setf(err, "--disk %s: %s, not a regular file or block device", s->path,
				S_ISFIFO(st.st_mode)   ? "a FIFO"
				: S_ISCHR(st.st_mode)  ? "a character device"
				: S_ISSOCK(st.st_mode) ? "a socket"
						       : "a special file");
	}
	if (fcntl(b->fd, F_SETFL, 0) < 0)
		return err_setf(err, "--disk %s: %s", s->path, strerror(errno));
	if (size < SECTOR)
		return err_setf(err, "--disk %s: the image is empty (less than 512 bytes)",
				s->path);
	/* Held as long as the fd is open: the device's whole life (an
	 * incoming migration's from when the source let them go). */
	if (!s->unlocked && image_lock(b->fd, !s->ro) < 0)
		return err_setf(err, "--disk %s: %s", s->path,
				errno == EAGAIN ? "in use by another process (a VM holds its lock)"
						: strerror(errno));
	b->st = st;
	b->capacity = size / SECTOR;
	return 0;
}

static int check_id(const struct virtio_blk_spec *spec, struct vmon_error *err)
{
	if (spec->id && strlen(spec->id) > VIRTIO_BLK_ID_BYTES)
		return err_setf(err, "--disk %s: id '%s' is longer than %d bytes", spec->path,
				spec->id, VIRTIO_BLK_ID_BYTES);
	return 0;
}

int virtio_blk_check(const struct virtio_blk_spec *spec, struct vmon_error *err)
{
	struct virtio_blk tmp = {.fd = -1};
	int r = check_id(spec, err) < 0 ? -1 : open_image(&tmp, spec, err);
	if (tmp.fd >= 0)
		close(tmp.fd);
	return r;
}

int virtio_blk_create(struct virtio_blk **out, const struct virtio_blk_spec *spec,
		      struct guest_mem *gm, struct vm_control *ctl, struct event_loop *loop,
		      const struct virtio_bus *at, struct vmon_error *err)
{
	*out = NULL;
	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b)
		return err_setf(err, "out of memory");
	b->fd = -1;
	b->vd.notify_fd = -1;
	b->rl.timer_fd = -1;
	*out = b;
	b->ro = spec->ro;
	if (check_id(spec, err) < 0 || open_image(b, spec, err) < 0)
		return -1;
	const char *id = spec->id;
	if (!id) {
		const char *slash = strrchr(spec->path, '/');
		id = slash ? slash + 1 : spec->path;
	}
	/* NUL-padded; no NUL when exactly 20 bytes long (5.2.6). */
	size_t idlen = strlen(id);
	memcpy(b->id, id, idlen < sizeof(b->id) ? idlen : sizeof(b->id));
	snprintf(b->name, sizeof(b->name), "virtio-blk %s", spec->path);
	snprintf(b->path, sizeof(b->path), "%s", spec->path);
	b->slots = calloc(BLK_QUEUE_SIZE, sizeof(*b->slots));
	if (!b->slots)
		return err_setf(err, "out of memory");
	if (blk_aio_create(&b->aio, b->fd, spec->aio, BLK_QUEUE_SIZE, err) < 0)
		return -1;

	put_le(b->config, CFG_CAPACITY, b->capacity, 8);
	put_le(b->config, CFG_SEG_MAX, BLK_SEG_MAX, 4);
	put_le(b->config, CFG_NUM_QUEUES, 1, 2);
	uint64_t features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_FLUSH);
	if (b->ro) {
		features |= 1ULL << VIRTIO_BLK_F_RO;
	} else {
		features |= 1ULL << VIRTIO_BLK_F_DISCARD;
		put_le(b->config, CFG_MAX_DISCARD, MAX_DISCARD_SECT, 4);
		put_le(b->config, CFG_DISCARD_SEG, 1, 4);
		put_le(b->config, CFG_DISCARD_ALIGN, 8, 4); /* 4 KiB holes */
	}
	const struct virtio_params p = {
		.name = b->name,
		.device_type = VIRTIO_ID_BLOCK,
		.class_code = 0x018000, /* mass storage, other */
		.features = features,
		.nqueues = 1,
		.queue_max_size = BLK_QUEUE_SIZE,
		.config = b->config,
		.config_len = CFG_LEN,
		.ops = &blk_ops,
		.opaque = b,
	};
	if (virtio_device_init(&b->vd, &p, gm, ctl, loop, at, err) < 0 ||
	    rate_limiter_init(&b->rl, &spec->rl, loop, rl_wake, b, err) < 0)
		return -1;
	if (loop && ev_add(loop, blk_aio_event_fd(b->aio), EPOLLIN, on_aio, b) < 0)
		return err_setf(err, "%s: event loop: %s", b->name, strerror(errno));
	return 0;
}

bool virtio_blk_is_image(const struct virtio_blk *b, const struct stat *st)
{
	return b && b->fd >= 0 && image_same_file(&b->st, st);
}

struct virtio_device *virtio_blk_transport(struct virtio_blk *b)
{
	return &b->vd;
}

void virtio_blk_aio_stats(const struct virtio_blk *b, struct blk_aio_stats *out)
{
	blk_aio_get_stats(b->aio, out);
}

const char *virtio_blk_engine(const struct virtio_blk *b)
{
	return blk_aio_name(b->aio);
}

void virtio_blk_reset(struct virtio_blk *b)
{
	virtio_reset(&b->vd);
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	blk_aio_destroy(b->aio);
	rate_limiter_fini(&b->rl);
	if (b->vd.name)
		virtio_device_fini(&b->vd);
	if (b->fd >= 0)
		close(b->fd);
	free(b->slots);
	free(b);
}

int virtio_blk_set_path(struct virtio_blk *b, const char *path, struct vmon_error *err)
{
	struct virtio_blk_spec spec = {.path = path, .ro = b->ro};
	struct virtio_blk tmp = {.fd = -1};
	if (open_image(&tmp, &spec, err) < 0) {
		if (tmp.fd >= 0)
			close(tmp.fd);
		return -1;
	}
	struct virtio_device *vd = &b->vd;
	pthread_mutex_lock(&vd->lock);
	/* Requests already submitted finish on the old image; new ones wait
	 * for the lock and then see the new one. */
	while (vd->inflight)
		pthread_cond_wait(&vd->drained, &vd->lock);
	int old = b->fd;
	b->fd = tmp.fd;
	blk_aio_set_fd(b->aio, b->fd);
	b->capacity = tmp.capacity;
	put_le(b->config, CFG_CAPACITY, b->capacity, 8);
	snprintf(b->path, sizeof(b->path), "%s", path);
	virtio_config_changed(vd);
	pthread_mutex_unlock(&vd->lock);
	close(old); /* drops its lock */
	return 0;
}

int virtio_blk_hold_lock(struct virtio_blk *b, bool hold, struct vmon_error *err)
{
	if (!hold) {
		image_unlock(b->fd);
		return 0;
	}
	if (image_lock(b->fd, !b->ro) < 0)
		return err_setf(err, "%s: %s", b->path,
				errno == EAGAIN ? "in use by another process (a VM holds its lock)"
						: strerror(errno));
	return 0;
}

int virtio_blk_take_over(struct virtio_blk *b, struct vmon_error *err)
{
	struct virtio_blk_spec spec = {.path = b->path, .ro = b->ro};
	struct virtio_blk tmp = {.fd = -1};
	if (open_image(&tmp, &spec, err) < 0) { /* opened and locked */
		if (tmp.fd >= 0)
			close(tmp.fd);
		return -1;
	}
	if (!image_same_file(&tmp.st, &b->st) || tmp.capacity != b->capacity) {
		close(tmp.fd);
		return err_setf(
			err,
			"%s: not the image opened before the migration's pages (replaced or "
			"resized meanwhile)",
			b->path);
	}
	struct virtio_device *vd = &b->vd;
	pthread_mutex_lock(&vd->lock);
	while (vd->inflight)
		pthread_cond_wait(&vd->drained, &vd->lock);
	int old = b->fd;
	b->fd = tmp.fd;
	b->st = tmp.st;
	blk_aio_set_fd(b->aio, b->fd);
	pthread_mutex_unlock(&vd->lock);
	close(old);
	return 0;
}

/* ---- Device object (core/device.h) ---- */

static int blk_dev_create(void **out, const struct device_env *env, const void *params,
			  struct vmon_error *err)
{
	const struct virtio_blk_params *p = params;
	struct virtio_bus at;
	*out = NULL;
	if (virtio_bus_at(&at, env, &p->place, err) < 0)
		return -1;
	return virtio_blk_create((struct virtio_blk **)out, &p->spec, env->mem, env->ctl, p->loop,
				 &at, err);
}

static void blk_dev_reset(void *dev)
{
	virtio_blk_reset(dev);
}

static void blk_dev_destroy(void *dev)
{
	virtio_blk_destroy(dev);
}

static void blk_dev_stats(void *dev, const struct stats_sink *out)
{
	struct virtio_blk *b = dev;
	pthread_mutex_lock(&b->vd.lock);
	uint64_t v[] = {
		b->reads,      b->writes,      b->flushes,   b->discards,
		b->read_bytes, b->write_bytes, b->io_errors, rate_limiter_throttled(&b->rl)};
	pthread_mutex_unlock(&b->vd.lock);
	static const char *const names[] = {"reads",	  "writes",	 "flushes",   "discards",
					    "read_bytes", "write_bytes", "io_errors", "throttled"};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		stats_put(out, names[i], v[i]);
	virtio_device_stats(&b->vd, out);
}

/* Snapshots: the queues once every request in flight has completed, and
 * the image flushed, so the disk holds what the guest was told is done. */
static int blk_dev_save(void *dev, struct state_writer *w, struct vmon_error *err)
{
	struct virtio_blk *b = dev;
	virtio_state_save(&b->vd, w);
	if (!b->ro && fdatasync(b->fd) < 0 && errno != EINVAL)
		return err_setf(err, "%s: flush before the snapshot failed: %s", b->path,
				strerror(errno));
	return 0;
}

const struct device_ops virtio_blk_device = {
	.kind = "virtio-blk",
	.state_version = VIRTIO_STATE_VERSION,
	.save = blk_dev_save,
	.restore = virtio_dev_restore,
	.restored = virtio_dev_restored,
	.create = blk_dev_create,
	.reset = blk_dev_reset,
	.destroy = blk_dev_destroy,
	.stats = blk_dev_stats,
};
