/* SPDX-License-Identifier: MIT */
/* virtio-console, one port on a chardev. See virtio_console.h. */
#include "devices/virtio/virtio_console.h"

#include <stdlib.h>

#include "core/chardev.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtio_state.h"

#define VIRTIO_ID_CONSOLE 3
#define CON_QUEUE_SIZE	  64
#define RXQ		  0
#define TXQ		  1
#define CFG_LEN		  12 /* cols, rows, max_nr_ports, emerg_wr: unused */
#define OUT_CHUNK	  4096

struct virtio_console {
	struct virtio_device vd; /* first */
	struct chardev *chr;
	uint8_t config[CFG_LEN];
	/* Under vd.lock: */
	struct virtq_req rx_req, tx_req;
	bool rx_held;
	uint64_t rx_off; /* bytes already written into rx_req */
	bool want_space; /* the chardev waits for chardev_notify_space */
	uint64_t tx_bytes, rx_bytes;
	uint8_t out[OUT_CHUNK];
};

/* ---- Output: transmitq, on the device's loop ---- */

static void tx_work(struct virtio_console *c)
{
	struct virtio_device *vd = &c->vd;
	pthread_mutex_lock(&vd->lock);
	while (virtio_queue_live(vd, TXQ)) {
		struct virtq_req *req = &c->tx_req;
		enum virtq_pop_result r = virtq_pop(&vd->vq[TXQ], req);
		if (r == VIRTQ_EMPTY) {
			if (virtq_arm_notify(&vd->vq[TXQ]))
				continue;
			break;
		}
		if (r == VIRTQ_BROKEN) {
			virtio_needs_reset(vd, "transmit queue: available ring corrupt");
			break;
		}
		if (r == VIRTQ_BAD_REQ || req->nin) {
			virtio_fail_request(vd, TXQ, req->head,
					    "malformed or writable transmit chain");
			continue;
		}
		/* Copied out in chunks, then written without the lock: a slow
		 * host side must not hold up the guest's register accesses. */
		uint16_t head = req->head;
		for (uint64_t off = 0; off < req->out_bytes;) {
			uint64_t n = iov_to_buf(req->iov, req->nout, off, c->out, OUT_CHUNK);
			pthread_mutex_unlock(&vd->lock);
			(void)chardev_write(c->chr, c->out, n);
			pthread_mutex_lock(&vd->lock);
			c->tx_bytes += n;
			off += n;
			if (!virtio_queue_live(vd, TXQ))
				break; /* reset meanwhile: the chain is gone */
		}
		if (virtio_queue_live(vd, TXQ)) {
			virtq_push(&vd->vq[TXQ], head, 0);
			virtio_queue_interrupt(vd, TXQ);
		}
	}
	pthread_mutex_unlock(&vd->lock);
}

/* ---- Input: receiveq, from the event-loop thread ---- */

static bool rx_take(struct virtio_console *c)
{
	if (!c->rx_held && virtio_pop_writable(&c->vd, RXQ, &c->rx_req, 0)) {
		c->rx_held = true;
		c->rx_off = 0;
	}
	return c->rx_held;
}

static size_t sink_space(void *opaque)
{
	struct virtio_console *c = opaque;
	pthread_mutex_lock(&c->vd.lock);
	size_t n = rx_take(c) ? (size_t)(c->rx_req.in_bytes - c->rx_off) : 0;
	if (n == 0)
		c->want_space = true;
	pthread_mutex_unlock(&c->vd.lock);
	return n;
}

static size_t sink_receive(void *opaque, const uint8_t *buf, size_t n)
{
	struct virtio_console *c = opaque;
	struct virtio_device *vd = &c->vd;
	size_t done = 0;
	pthread_mutex_lock(&vd->lock);
	/* One buffer per call: the guest sees input as soon as it is here. */
	if (rx_take(c)) {
		done = iov_from_buf(c->rx_req.iov, c->rx_req.nin, c->rx_off, buf, n);
		c->rx_off += done;
		c->rx_bytes += done;
		virtq_push(&vd->vq[RXQ], c->rx_req.head, (uint32_t)c->rx_off);
		virtio_queue_interrupt(vd, RXQ);
		c->rx_held = false;
	}
	if (done < n)
		c->want_space = true;
	pthread_mutex_unlock(&vd->lock);
	return done;
}

static const struct chardev_sink_ops sink_ops = {.receive = sink_receive, .space = sink_space};

static void con_queue_work(struct virtio_device *vd, unsigned q)
{
	struct virtio_console *c = (struct virtio_console *)vd;
	if (q == TXQ) {
		tx_work(c);
		return;
	}
	pthread_mutex_lock(&vd->lock);
	bool wake = c->want_space;
	c->want_space = false;
	pthread_mutex_unlock(&vd->lock);
	if (wake)
		chardev_notify_space(c->chr); /* new receive buffers */
}

static void con_reset(struct virtio_device *vd)
{
	((struct virtio_console *)vd)->rx_held = false;
}

static const struct virtio_device_ops con_ops = {.queue_work = con_queue_work, .reset = con_reset};

int virtio_console_create(struct virtio_console **out, struct chardev *chr, struct guest_mem *gm,
			  struct vm_control *ctl, struct event_loop *loop,
			  const struct virtio_bus *at, struct vmon_error *err)
{
	*out = NULL;
	struct virtio_console *c = calloc(1, sizeof(*c));
	if (!c)
		return err_setf(err, "out of memory");
	c->vd.notify_fd = -1;
	c->chr = chr;
	*out = c;
	const struct virtio_params p = {
		.name = "virtio-console",
		.device_type = VIRTIO_ID_CONSOLE,
		.class_code = 0x078000, /* other communication controller */
		.nqueues = 2,
		.queue_max_size = CON_QUEUE_SIZE,
		.config = c->config,
		.config_len = CFG_LEN,
		.ops = &con_ops,
		.opaque = c,
	};
	if (virtio_device_init(&c->vd, &p, gm, ctl, loop, at, err) < 0)
		return -1;
	chardev_set_sink(chr, &sink_ops, c);
	return 0;
}

struct virtio_device *virtio_console_transport(struct virtio_console *c)
{
	return &c->vd;
}

void virtio_console_reset(struct virtio_console *c)
{
	virtio_reset(&c->vd);
}

void virtio_console_destroy(struct virtio_console *c)
{
	if (!c)
		return;
	if (c->vd.name) {
		chardev_set_sink(c->chr, NULL, NULL);
		virtio_device_fini(&c->vd);
	}
	free(c);
}

/* ---- Device object (core/device.h): the device and the chardev it owns ---- */

struct con_dev {
	struct virtio_console *con;
	struct chardev *chr;
};

static void con_dev_destroy(void *dev)
{
	struct con_dev *d = dev;
	virtio_console_destroy(d->con);
	chardev_destroy(d->chr);
	free(d);
}

static int con_dev_create(void **out, const struct device_env *env, const void *params,
			  struct vmon_error *err)
{
	const struct virtio_console_params *p = params;
	struct con_dev *d = calloc(1, sizeof(*d));
	*out = d;
	if (!d)
		return err_setf(err, "out of memory");
	struct virtio_bus at;
	if (virtio_bus_at(&at, env, &p->place, err) < 0 ||
	    chardev_create(&p->chr, env->ctl, &d->chr, err) < 0 ||
	    virtio_console_create(&d->con, d->chr, env->mem, env->ctl, p->loop, &at, err) < 0)
		return -1;
	return chardev_start(d->chr, env->main_loop, err);
}

static void con_dev_reset(void *dev)
{
	virtio_console_reset(((struct con_dev *)dev)->con);
}

static void con_dev_stats(void *dev, const struct stats_sink *out)
{
	struct virtio_console *c = ((struct con_dev *)dev)->con;
	pthread_mutex_lock(&c->vd.lock);
	uint64_t tx = c->tx_bytes, rx = c->rx_bytes;
	pthread_mutex_unlock(&c->vd.lock);
	stats_put(out, "tx_bytes", tx);
	stats_put(out, "rx_bytes", rx);
	virtio_device_stats(&c->vd, out);
}

/* Snapshots: the virtio state (the device object wraps the device with
 * its chardev, which is the restoring process's own). */
static int con_dev_save(void *dev, struct state_writer *w, struct vmon_error *err)
{
	return virtio_dev_save(((struct con_dev *)dev)->con, w, err);
}

static int con_dev_restore(void *dev, struct state_reader *r, uint32_t version,
			   struct vmon_error *err)
{
	return virtio_dev_restore(((struct con_dev *)dev)->con, r, version, err);
}

static void con_dev_restored(void *dev)
{
	virtio_dev_restored(((struct con_dev *)dev)->con);
}

const struct device_ops virtio_console_device = {
	.kind = "virtio-console",
	.state_version = VIRTIO_STATE_VERSION,
	.save = con_dev_save,
	.restore = con_dev_restore,
	.restored = con_dev_restored,
	.create = con_dev_create,
	.reset = con_dev_reset,
	.destroy = con_dev_destroy,
	.stats = con_dev_stats,
};
