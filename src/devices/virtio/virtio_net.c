/* SPDX-License-Identifier: MIT */
/*
 * virtio-net: queues, the virtio_net_hdr and the net thread. See
 * virtio_net.h.
 */
#include "devices/virtio/virtio_net.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/device.h"
#include "core/event_loop.h"
#include "core/rate_limiter.h"

#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtio_state.h"

#define VIRTIO_ID_NET		    1
#define NET_QUEUE_SIZE		    256
#define RXQ			    0
#define TXQ			    1
#define CTRLQ			    2 /* the control queue (no multiqueue: index 2) */
#define VIRTIO_NET_F_MAC	    5
#define VIRTIO_NET_F_STATUS	    16
#define VIRTIO_NET_F_CTRL_VQ	    17
#define VIRTIO_NET_F_GUEST_ANNOUNCE 21
#define VIRTIO_NET_S_LINK_UP	    1
#define VIRTIO_NET_S_ANNOUNCE	    2
/* Control commands (virtio 1.x, 5.1.6.5): class, command, ack values. */
#define VIRTIO_NET_CTRL_ANNOUNCE     3
#define VIRTIO_NET_CTRL_ANNOUNCE_ACK 0
#define VIRTIO_NET_OK		     0
#define VIRTIO_NET_ERR		     1
#define ETH_P_RARP		     0x8035
#define RARP_FRAME_LEN		     60 /* the Ethernet minimum, padded */
#define NET_HDR_LEN		     12 /* virtio 1.x: with num_buffers */
#define ETH_HLEN_MIN		     14
#define TX_BURST		     256 /* frames per queue_work before yielding */
#define CFG_LEN			     10	 /* mac[6], le16 status, le16 max_virtqueue_pairs */

struct virtio_net {
	struct virtio_device vd; /* first */
	struct net_backend *be;
	uint8_t config[CFG_LEN];
	char name[48];
	/* Under vd.lock: */
	struct virtq_req rx_req; /* a receive chain taken from the ring, not filled yet */
	bool rx_held;
	_Atomic unsigned long rx_dropped;
	uint64_t tx_frames, tx_bytes, rx_frames, rx_bytes;
	struct virtq_req tx_req; /* a valid frame held back by the transmit limiter */
	bool tx_held;
	struct rate_limiter rx_rl, tx_rl;
	struct virtq_req ctrl_req;
	bool rarp_pending; /* the loop sends a RARP for the guest's MAC */
	/* The announce after a restore or a migration: asked of the guest,
	 * acknowledged by it, sent by vmon itself (RARP); control commands
	 * refused (unknown). */
	uint64_t announces, announce_acks, rarps_sent, ctrl_refused;
	/* On the loop only: */
	uint8_t tx_frame[NET_MAX_FRAME];
	struct event_loop *loop; /* the VM's, or own_loop */
	struct event_loop *own_loop;
};

/* ---- Receive (net thread) ---- */

/* Takes the next receive chain if none is held. vd.lock held. */
static bool rx_take(struct virtio_net *n)
{
	if (!n->rx_held && virtio_pop_writable(&n->vd, RXQ, &n->rx_req, NET_HDR_LEN))
		n->rx_held = true;
	return n->rx_held;
}

static bool peer_rx_ready(void *dev)
{
	struct virtio_net *n = dev;
	pthread_mutex_lock(&n->vd.lock);
	/* An empty receive limiter holds the back end off (its timer wakes
	 * the loop); a frame that comes anyway is delivered and charged. */
	bool ok = rx_take(n) && rate_limiter_ready(&n->rx_rl);
	pthread_mutex_unlock(&n->vd.lock);
	return ok;
}

static bool peer_rx(void *dev, const uint8_t *frame, size_t len)
{
	struct virtio_net *n = dev;
	struct virtio_device *vd = &n->vd;
	pthread_mutex_lock(&vd->lock);
	if (!rx_take(n)) {
		pthread_mutex_unlock(&vd->lock);
		atomic_fetch_add(&n->rx_dropped, 1);
		return false;
	}
	struct virtq_req *q = &n->rx_req;
	if (len > q->in_bytes - NET_HDR_LEN) {
		/* Too big for this buffer: the frame is lost, the buffer kept. */
		pthread_mutex_unlock(&vd->lock);
		atomic_fetch_add(&n->rx_dropped, 1);
		return false;
	}
	uint8_t hdr[NET_HDR_LEN] = {0};
	hdr[10] = 1; /* num_buffers */
	iov_from_buf(q->iov, q->nin, 0, hdr, NET_HDR_LEN);
	iov_from_buf(q->iov, q->nin, NET_HDR_LEN, frame, len);
	n->rx_held = false;
	n->rx_frames++;
	n->rx_bytes += len;
	rate_limiter_charge(&n->rx_rl, len);
	virtq_push(&vd->vq[RXQ], q->head, (uint32_t)(NET_HDR_LEN + len));
	virtio_queue_interrupt(vd, RXQ);
	pthread_mutex_unlock(&vd->lock);
	return true;
}

/* ---- Transmit ---- */

/* Takes the next valid transmit frame into n->tx_req (tx_held), failing
 * malformed ones. Returns false when there is none now. vd.lock held. */
static bool tx_take(struct virtio_net *n, bool *again)
{
	struct virtio_device *vd = &n->vd;
	*again = false;
	if (n->tx_held)
		return true;
	struct virtq_req *req = &n->tx_req;
	enum virtq_pop_result r = virtq_pop(&vd->vq[TXQ], req);
	if (r == VIRTQ_EMPTY) {
		*again = virtq_arm_notify(&vd->vq[TXQ]);
		return false;
	}
	if (r == VIRTQ_BROKEN) {
		virtio_needs_reset(vd, "transmit queue: available ring corrupt");
		return false;
	}
	if (r == VIRTQ_BAD_REQ) {
		virtio_fail_request(vd, TXQ, req->head, "malformed transmit chain");
		*again = true;
		return false;
	}
	if (req->nin || req->out_bytes < NET_HDR_LEN + ETH_HLEN_MIN ||
	    req->out_bytes - NET_HDR_LEN > NET_MAX_FRAME) {
		virtio_fail_request(vd, TXQ, req->head,
				    "transmit chain writable, too short or too long");
		*again = true;
		return false;
	}
	n->tx_held = true;
	return true;
}

static void tx_work(struct virtio_net *n)
{
	struct virtio_device *vd = &n->vd;
	for (int i = 0; i < TX_BURST; i++) {
		size_t len = 0;
		bool again;
		pthread_mutex_lock(&vd->lock);
		if (!virtio_queue_live(vd, TXQ)) {
			pthread_mutex_unlock(&vd->lock);
			return;
		}
		if (!tx_take(n, &again)) {
			pthread_mutex_unlock(&vd->lock);
			if (again)
				continue;
			return;
		}
		struct virtq_req *req = &n->tx_req;
		if (!rate_limiter_consume(&n->tx_rl, req->out_bytes - NET_HDR_LEN)) {
			/* Kept in tx_held; the limiter's timer kicks the queue. */
			pthread_mutex_unlock(&vd->lock);
			return;
		}
		n->tx_held = false;
		/* One copy out of guest RAM: the back end sees a frame the
		 * guest can no longer change. */
		len = iov_to_buf(req->iov, req->nout, NET_HDR_LEN, n->tx_frame,
				 req->out_bytes - NET_HDR_LEN);
		n->tx_frames++;
		n->tx_bytes += len;
		virtq_push(&vd->vq[TXQ], req->head, 0);
		virtio_queue_interrupt(vd, TXQ);
		pthread_mutex_unlock(&vd->lock);
		if (len)
			n->be->ops->send(n->be, n->tx_frame, len);
	}
	virtio_kick(vd, TXQ); /* more may be waiting: come back after the rest */
}

/* ---- The control queue: only what the announce needs ---- */

/* One command: class and command bytes in the readable part, the ack the
 * first writable byte. The only one known is ANNOUNCE_ACK (the guest
 * announced itself: the status bit clears); any other is answered ERR
 * (the features that would bring them are not offered). vd.lock held. */
static void ctrl_command(struct virtio_net *n, struct virtq_req *req)
{
	struct virtio_device *vd = &n->vd;
	if (req->out_bytes < 2 || req->in_bytes < 1) {
		virtio_fail_request(vd, CTRLQ, req->head,
				    "control command without its class, command or ack byte");
		return;
	}
	uint8_t cmd[2];
	(void)iov_to_buf(req->iov, req->nout, 0, cmd, sizeof(cmd));
	uint8_t ack = VIRTIO_NET_ERR;
	if (cmd[0] == VIRTIO_NET_CTRL_ANNOUNCE && cmd[1] == VIRTIO_NET_CTRL_ANNOUNCE_ACK) {
		n->config[6] &= (uint8_t)~VIRTIO_NET_S_ANNOUNCE;
		n->announce_acks++;
		ack = VIRTIO_NET_OK;
	} else {
		n->ctrl_refused++;
	}
	(void)iov_from_buf(req->iov + req->nout, req->nin, 0, &ack, 1);
	virtq_push(&vd->vq[CTRLQ], req->head, 1);
	virtio_queue_interrupt(vd, CTRLQ);
}

static void ctrl_work(struct virtio_net *n)
{
	struct virtio_device *vd = &n->vd;
	pthread_mutex_lock(&vd->lock);
	for (int i = 0; i < TX_BURST && virtio_queue_live(vd, CTRLQ); i++) {
		struct virtq_req *req = &n->ctrl_req;
		enum virtq_pop_result r = virtq_pop(&vd->vq[CTRLQ], req);
		if (r == VIRTQ_EMPTY) {
			if (virtq_arm_notify(&vd->vq[CTRLQ]))
				continue;
			break;
		}
		if (r == VIRTQ_BROKEN) {
			virtio_needs_reset(vd, "control queue: available ring corrupt");
			break;
		}
		if (r == VIRTQ_BAD_REQ)
			virtio_fail_request(vd, CTRLQ, req->head, "malformed control chain");
		else
			ctrl_command(n, req);
	}
	pthread_mutex_unlock(&vd->lock);
}

/* A RARP for the guest's MAC (what QEMU's announce sends): switches and
 * bridges on the new host's side learn where the MAC is now. vmon does
 * not know the guest's IP address (that is the guest's configuration;
 * the device sees frames, not leases), so a gratuitous ARP is the
 * guest's to send: it does when it negotiated GUEST_ANNOUNCE. */
static void send_rarp(struct virtio_net *n)
{
	uint8_t f[RARP_FRAME_LEN] = {0};
	memset(f, 0xff, 6);
	memcpy(f + 6, n->config, 6);
	f[12] = ETH_P_RARP >> 8;
	f[13] = ETH_P_RARP & 0xff;
	f[15] = 1;    /* hardware: Ethernet */
	f[16] = 0x08; /* protocol: IPv4 */
	f[18] = 6;    /* hardware address length */
	f[19] = 4;    /* protocol address length */
	f[21] = 3;    /* reverse request */
	memcpy(f + 22, n->config, 6);
	memcpy(f + 32, n->config, 6);
	n->be->ops->send(n->be, f, sizeof(f));
}

static void net_queue_work(struct virtio_device *vd, unsigned q)
{
	struct virtio_net *n = (struct virtio_net *)vd;
	if (q == TXQ) {
		tx_work(n);
	} else if (q == CTRLQ) {
		ctrl_work(n);
	} else {
		/* Receive buffers are taken when a frame is there (rx_take),
		 * so a receive notify only makes the thread poll the back
		 * end again; a restore's RARP goes out from here (the back
		 * end is the loop's). */
		pthread_mutex_lock(&vd->lock);
		bool rarp = n->rarp_pending;
		n->rarp_pending = false;
		if (rarp)
			n->rarps_sent++;
		pthread_mutex_unlock(&vd->lock);
		if (rarp)
			send_rarp(n);
	}
}

static void net_reset(struct virtio_device *vd)
{
	struct virtio_net *n = (struct virtio_net *)vd;
	n->rx_held = false;
	n->tx_held = false;
	n->config[6] = VIRTIO_NET_S_LINK_UP;
}

static void tx_wake(void *opaque)
{
	struct virtio_net *n = opaque;
	virtio_kick(&n->vd, TXQ);
}

/* The receive side needs only a new round of the loop (its prepare asks
 * the limiter again): the timer firing is that round. */
static void rx_wake(void *opaque)
{
	struct virtio_net *n = opaque;
	virtio_kick(&n->vd, RXQ);
}

int virtio_net_set_limits(struct virtio_net *n, const struct rl_config *rx,
			  const struct rl_config *tx, struct vmon_error *err)
{
	rate_limiter_fini(&n->rx_rl);
	rate_limiter_fini(&n->tx_rl);
	if (rate_limiter_init(&n->rx_rl, rx, n->loop, rx_wake, n, err) < 0)
		return -1;
	return rate_limiter_init(&n->tx_rl, tx, n->loop, tx_wake, n, err);
}

void virtio_net_update_limits(struct virtio_net *n, const struct rl_update *rx,
			      const struct rl_update *tx)
{
	if (rx)
		rate_limiter_update(&n->rx_rl, rx);
	if (tx)
		rate_limiter_update(&n->tx_rl, tx);
}

static const struct virtio_device_ops net_ops = {.queue_work = net_queue_work, .reset = net_reset};

/* ---- The back end as a source of the device's loop ---- */

static void be_prepare(void *opaque, struct pollvec *pv, int *timeout_ms)
{
	struct virtio_net *n = opaque;
	n->be->ops->poll_fill(n->be, pv, peer_rx_ready(n), timeout_ms);
}

static void be_dispatch(void *opaque, const struct pollvec *pv, int first)
{
	struct virtio_net *n = opaque;
	n->be->ops->poll_done(n->be, pv, first);
}

static const struct ev_source_ops be_source = {.prepare = be_prepare, .dispatch = be_dispatch};

void virtio_net_poll(struct virtio_net *n)
{
	ev_run_once(n->loop, 0);
}

/* ---- Life cycle ---- */

int virtio_net_check(const struct net_spec *spec, struct vmon_error *err)
{
	if (spec->kind == NET_TAP)
		return net_tap_check(spec->ifname, err);
	return 0;
}

int virtio_net_create(struct virtio_net **out, const struct net_spec *spec, const uint8_t mac[6],
		      struct guest_mem *gm, struct vm_control *ctl, const struct virtio_bus *at,
		      struct event_loop *loop, struct vmon_error *err)
{
	*out = NULL;
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n)
		return err_setf(err, "out of memory");
	n->vd.notify_fd = -1;
	n->rx_rl.timer_fd = -1;
	n->tx_rl.timer_fd = -1;
	*out = n;
	if (!loop) {
		n->own_loop = ev_create(err);
		if (!n->own_loop)
			return -1;
		loop = n->own_loop;
	}
	n->loop = loop;
	int r = spec->kind == NET_TAP	 ? net_tap_create(&n->be, spec->ifname, err)
		: spec->kind == NET_USER ? net_slirp_create(&n->be, spec, err)
					 : net_loop_create(&n->be, err);
	if (r < 0)
		return -1;
	n->be->peer = (struct net_backend_peer){.rx_ready = peer_rx_ready, .rx = peer_rx, .dev = n};
	memcpy(n->config, spec->has_mac ? spec->mac : mac, 6);
	n->config[6] = VIRTIO_NET_S_LINK_UP;
	n->config[8] = 1; /* max_virtqueue_pairs */
	snprintf(n->name, sizeof(n->name), "virtio-net (%s%s%s)", n->be->ops->kind,
		 spec->kind == NET_TAP ? ":" : "", spec->kind == NET_TAP ? spec->ifname : "");
	const struct virtio_params p = {
		.name = n->name,
		.device_type = VIRTIO_ID_NET,
		.class_code = 0x020000, /* Ethernet controller */
		.features = (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) |
			    (1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_GUEST_ANNOUNCE),
		.nqueues = 3,
		.queue_max_size = NET_QUEUE_SIZE,
		/* Before the control queue: rx and tx only, neither CTRL_VQ
		 * nor GUEST_ANNOUNCE offered. Such a snapshot or stream
		 * restores; its driver never negotiated the control queue,
		 * so the announce after it is a RARP. */
		.legacy_nqueues = 2,
		.legacy_missing =
			(1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_GUEST_ANNOUNCE),
		.config = n->config,
		.config_len = CFG_LEN,
		.ops = &net_ops,
		.opaque = n,
	};
	if (virtio_device_init(&n->vd, &p, gm, ctl, loop, at, err) < 0)
		return -1;
	return ev_add_source(loop, &be_source, n, err);
}

struct virtio_device *virtio_net_transport(struct virtio_net *n)
{
	return &n->vd;
}

unsigned long virtio_net_rx_dropped(struct virtio_net *n)
{
	return atomic_load(&n->rx_dropped);
}

void virtio_net_reset(struct virtio_net *n)
{
	virtio_reset(&n->vd);
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	rate_limiter_fini(&n->rx_rl);
	rate_limiter_fini(&n->tx_rl);
	ev_destroy(n->own_loop);
	if (n->be)
		n->be->ops->destroy(n->be);
	if (n->vd.name)
		virtio_device_fini(&n->vd);
	free(n);
}

/* ---- Device object (core/device.h) ---- */

static int net_dev_create(void **out, const struct device_env *env, const void *params,
			  struct vmon_error *err)
{
	const struct virtio_net_params *p = params;
	struct virtio_bus at;
	*out = NULL;
	if (virtio_bus_at(&at, env, &p->place, err) < 0)
		return -1;
	if (virtio_net_create((struct virtio_net **)out, &p->spec, p->mac, env->mem, env->ctl, &at,
			      p->loop, err) < 0)
		return -1;
	return virtio_net_set_limits(*out, &p->rx_rl, &p->tx_rl, err);
}

static void net_dev_reset(void *dev)
{
	virtio_net_reset(dev);
}

static void net_dev_destroy(void *dev)
{
	virtio_net_destroy(dev);
}

/* The machine was restored (a snapshot, an incoming migration): tell the
 * network the guest is here now. A guest that negotiated GUEST_ANNOUNCE
 * (with the control queue) is asked to announce itself — the status bit
 * and a configuration interrupt; it sends its gratuitous ARPs and acks
 * on the control queue, which clears the bit. Any other gets a RARP for
 * its MAC from vmon, sent by the loop when it starts. */
static void net_dev_restored(void *dev)
{
	struct virtio_net *n = dev;
	struct virtio_device *vd = &n->vd;
	const uint64_t need =
		(1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_GUEST_ANNOUNCE);
	pthread_mutex_lock(&vd->lock);
	bool guest = (vd->driver_features & need) == need &&
		     (vd->status & VIRTIO_STATUS_DRIVER_OK) &&
		     !(vd->status & VIRTIO_STATUS_NEEDS_RESET);
	if (guest) {
		n->config[6] |= VIRTIO_NET_S_ANNOUNCE;
		n->announces++;
		virtio_config_changed(vd);
	} else {
		n->rarp_pending = true;
	}
	pthread_mutex_unlock(&vd->lock);
	virtio_dev_restored(vd);
	if (!guest)
		virtio_kick(vd, RXQ);
}

static void net_dev_stats(void *dev, const struct stats_sink *out)
{
	struct virtio_net *n = dev;
	pthread_mutex_lock(&n->vd.lock);
	uint64_t v[] = {n->tx_frames,
			n->tx_bytes,
			n->rx_frames,
			n->rx_bytes,
			rate_limiter_throttled(&n->rx_rl),
			rate_limiter_throttled(&n->tx_rl),
			n->announces,
			n->announce_acks,
			n->rarps_sent,
			n->ctrl_refused};
	pthread_mutex_unlock(&n->vd.lock);
	static const char *const names[] = {
		"tx_frames",	"tx_bytes",  "rx_frames",     "rx_bytes",   "rx_throttled",
		"tx_throttled", "announces", "announce_acks", "rarps_sent", "ctrl_refused"};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		stats_put(out, names[i], v[i]);
	stats_put(out, "rx_dropped", atomic_load(&n->rx_dropped));
	virtio_device_stats(&n->vd, out);
}

const struct device_ops virtio_net_device = {
	.kind = "virtio-net",
	.state_version = VIRTIO_STATE_VERSION,
	.save = virtio_dev_save,
	.restore = virtio_dev_restore,
	.create = net_dev_create,
	.reset = net_dev_reset,
	.destroy = net_dev_destroy,
	.stats = net_dev_stats,
	.restored = net_dev_restored,
};
