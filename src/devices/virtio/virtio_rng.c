/* SPDX-License-Identifier: MIT */
#include "devices/virtio/virtio_rng.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/random.h>

#include "core/device.h"
#include "core/rate_limiter.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_state.h"

#define VIRTIO_ID_RNG	4
#define RNG_QUEUE_SIZE	64
#define RNG_MAX_PER_REQ (64u << 10)

struct virtio_rng {
	struct virtio_device vd; /* first */
	struct virtq_req req;
	bool held;		  /* req popped, waiting for the rate limiter */
	uint64_t requests, bytes; /* under vd.lock */
	struct rate_limiter rl;
};

/* Fills [p, p+len) from getrandom; returns the bytes written. */
static size_t fill(void *p, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t k = getrandom((char *)p + done, len - done, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		done += (size_t)k;
	}
	return done;
}

static void rng_queue_work(struct virtio_device *vd, unsigned q)
{
	struct virtio_rng *r = (struct virtio_rng *)vd;
	if (q != 0)
		return;
	pthread_mutex_lock(&vd->lock);
	while (virtio_queue_live(vd, 0)) {
		if (r->held)
			goto limit;
		enum virtq_pop_result res = virtq_pop(&vd->vq[0], &r->req);
		if (res == VIRTQ_EMPTY) {
			if (virtq_arm_notify(&vd->vq[0]))
				continue;
			break;
		}
		if (res == VIRTQ_BROKEN) {
			virtio_needs_reset(vd, "request queue: available ring corrupt");
			break;
		}
		if (res == VIRTQ_BAD_REQ) {
			virtio_fail_request(vd, 0, r->req.head, "malformed descriptor chain");
			continue;
		}
		r->held = true;
	limit:
		if (!rate_limiter_consume(&r->rl, r->req.in_bytes < RNG_MAX_PER_REQ
							  ? r->req.in_bytes
							  : RNG_MAX_PER_REQ))
			break; /* held; the limiter's timer kicks the queue */
		r->held = false;
		/* Only the device-writable buffers take entropy. */
		size_t total = 0;
		for (unsigned i = r->req.nout; i < r->req.nout + r->req.nin; i++) {
			size_t want = r->req.iov[i].iov_len;
			if (want > RNG_MAX_PER_REQ - total)
				want = RNG_MAX_PER_REQ - total;
			size_t got = fill(r->req.iov[i].iov_base, want);
			total += got;
			if (got < want || total == RNG_MAX_PER_REQ)
				break;
		}
		r->requests++;
		r->bytes += total;
		virtq_push(&vd->vq[0], r->req.head, (uint32_t)total);
		virtio_queue_interrupt(vd, 0);
	}
	pthread_mutex_unlock(&vd->lock);
}

static void rng_reset(struct virtio_device *vd)
{
	((struct virtio_rng *)vd)->held = false;
}

static const struct virtio_device_ops rng_ops = {.queue_work = rng_queue_work, .reset = rng_reset};

static void rl_wake(void *opaque)
{
	struct virtio_rng *r = opaque;
	virtio_kick(&r->vd, 0);
}

int virtio_rng_set_limits(struct virtio_rng *r, const struct rl_config *c, struct event_loop *loop,
			  struct vmon_error *err)
{
	rate_limiter_fini(&r->rl);
	return rate_limiter_init(&r->rl, c, loop, rl_wake, r, err);
}

int virtio_rng_create(struct virtio_rng **out, struct guest_mem *gm, struct vm_control *ctl,
		      struct event_loop *loop, struct pci_host *host, struct vmon_error *err)
{
	*out = NULL;
	struct virtio_rng *r = calloc(1, sizeof(*r));
	if (!r)
		return err_setf(err, "out of memory");
	r->vd.notify_fd = -1;
	r->rl.timer_fd = -1;
	*out = r;
	const struct virtio_params p = {
		.name = "virtio-rng",
		.device_type = VIRTIO_ID_RNG,
		.class_code = 0xff0000, /* unassigned class */
		.nqueues = 1,
		.queue_max_size = RNG_QUEUE_SIZE,
		.ops = &rng_ops,
		.opaque = r,
	};
	return virtio_pci_init(&r->vd, &p, gm, ctl, loop, host, err);
}

struct virtio_device *virtio_rng_transport(struct virtio_rng *r)
{
	return &r->vd;
}

void virtio_rng_reset(struct virtio_rng *r)
{
	virtio_reset(&r->vd);
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	if (!r)
		return;
	rate_limiter_fini(&r->rl);
	if (r->vd.name)
		virtio_pci_fini(&r->vd);
	free(r);
}

/* ---- Device object (core/device.h) ---- */

static int rng_dev_create(void **out, const struct device_env *env, const void *params,
			  struct vmon_error *err)
{
	const struct virtio_rng_params *p = params;
	*out = NULL;
	if (!env->pci)
		return err_setf(err, "virtio-rng needs the PCI host");
	if (virtio_rng_create((struct virtio_rng **)out, env->mem, env->ctl, p->loop, env->pci,
			      err) < 0)
		return -1;
	return virtio_rng_set_limits(*out, &p->rl, p->loop, err);
}

static void rng_dev_reset(void *dev)
{
	virtio_rng_reset(dev);
}

static void rng_dev_destroy(void *dev)
{
	virtio_rng_destroy(dev);
}

static void rng_dev_stats(void *dev, const struct stats_sink *out)
{
	struct virtio_rng *r = dev;
	pthread_mutex_lock(&r->vd.lock);
	uint64_t req = r->requests, bytes = r->bytes;
	pthread_mutex_unlock(&r->vd.lock);
	stats_put(out, "requests", req);
	stats_put(out, "bytes", bytes);
	stats_put(out, "throttled", rate_limiter_throttled(&r->rl));
	virtio_device_stats(&r->vd, out);
}

const struct device_ops virtio_rng_device = {
	.kind = "virtio-rng",
	.state_version = VIRTIO_STATE_VERSION,
	.save = virtio_dev_save,
	.restore = virtio_dev_restore,
	.restored = virtio_dev_restored,
	.create = rng_dev_create,
	.reset = rng_dev_reset,
	.destroy = rng_dev_destroy,
	.stats = rng_dev_stats,
};
