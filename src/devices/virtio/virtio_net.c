/* SPDX-License-Identifier: MIT */
/*
 * virtio-net: queues, the virtio_net_hdr and the net thread. See
 * virtio_net.h.
 */
#include "devices/virtio/virtio_net.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio/virtio_dev.h"

#define VIRTIO_ID_NET	     1
#define NET_QUEUE_SIZE	     256
#define RXQ		     0
#define TXQ		     1
#define VIRTIO_NET_F_MAC     5
#define VIRTIO_NET_F_STATUS  16
#define VIRTIO_NET_S_LINK_UP 1
#define NET_HDR_LEN	     12 /* virtio 1.x: with num_buffers */
#define ETH_HLEN_MIN	     14
#define TX_BURST	     256 /* frames per queue_work before yielding */
#define CFG_LEN		     10	 /* mac[6], le16 status, le16 max_virtqueue_pairs */

struct virtio_net {
	struct virtio_device vd; /* first */
	struct net_backend *be;
	uint8_t config[CFG_LEN];
	char name[48];
	/* Under vd.lock: */
	struct virtq_req rx_req; /* a receive chain taken from the ring, not filled yet */
	bool rx_held;
	_Atomic unsigned long rx_dropped;
	/* Net thread only: */
	uint8_t tx_frame[NET_MAX_FRAME];
	struct pollvec pv;
	int stop_fd;
	pthread_t thread;
	bool started;
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
	bool ok = rx_take(n);
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
	virtq_push(&vd->vq[RXQ], q->head, (uint32_t)(NET_HDR_LEN + len));
	virtio_queue_interrupt(vd, RXQ);
	pthread_mutex_unlock(&vd->lock);
	return true;
}

/* ---- Transmit ---- */

static void tx_work(struct virtio_net *n)
{
	struct virtio_device *vd = &n->vd;
	for (int i = 0; i < TX_BURST; i++) {
		struct virtq_req req;
		size_t len = 0;
		pthread_mutex_lock(&vd->lock);
		if (!virtio_queue_live(vd, TXQ)) {
			pthread_mutex_unlock(&vd->lock);
			return;
		}
		enum virtq_pop_result r = virtq_pop(&vd->vq[TXQ], &req);
		if (r == VIRTQ_EMPTY) {
			bool more = virtq_arm_notify(&vd->vq[TXQ]);
			pthread_mutex_unlock(&vd->lock);
			if (more)
				continue;
			return;
		}
		if (r == VIRTQ_BROKEN) {
			virtio_needs_reset(vd, "transmit queue: available ring corrupt");
			pthread_mutex_unlock(&vd->lock);
			return;
		}
		if (r == VIRTQ_BAD_REQ) {
			virtio_fail_request(vd, TXQ, req.head, "malformed transmit chain");
		} else if (req.nin || req.out_bytes < NET_HDR_LEN + ETH_HLEN_MIN ||
			   req.out_bytes - NET_HDR_LEN > NET_MAX_FRAME) {
			virtio_fail_request(vd, TXQ, req.head,
					    "transmit chain writable, too short or too long");
		} else {
			/* One copy out of guest RAM: the back end sees a frame
			 * the guest can no longer change. */
			len = iov_to_buf(req.iov, req.nout, NET_HDR_LEN, n->tx_frame,
					 req.out_bytes - NET_HDR_LEN);
			virtq_push(&vd->vq[TXQ], req.head, 0);
			virtio_queue_interrupt(vd, TXQ);
		}
		pthread_mutex_unlock(&vd->lock);
		if (len)
			n->be->ops->send(n->be, n->tx_frame, len);
	}
	virtio_kick(vd, TXQ); /* more may be waiting: come back after the rest */
}

static void net_queue_work(struct virtio_device *vd, unsigned q)
{
	/* Receive buffers are taken when a frame is there (rx_take), so a
	 * receive notify only makes the thread poll the back end again. */
	if (q == TXQ)
		tx_work((struct virtio_net *)vd);
}

static void net_reset(struct virtio_device *vd)
{
	((struct virtio_net *)vd)->rx_held = false;
}

static const struct virtio_device_ops net_ops = {.queue_work = net_queue_work, .reset = net_reset};

/* ---- The net thread ---- */

/* One round: wait up to max_wait_ms (-1: forever) for the notify eventfd,
 * the stop eventfd or the back end, then do the work. Returns false when
 * asked to stop. */
static bool net_round(struct virtio_net *n, int max_wait_ms)
{
	struct pollvec *pv = &n->pv;
	pv->n = 0;
	(void)pollvec_add(pv, n->vd.notify_fd, POLLIN);
	if (n->stop_fd >= 0)
		(void)pollvec_add(pv, n->stop_fd, POLLIN);
	int first = pv->n;
	int timeout = max_wait_ms;
	n->be->ops->poll_fill(n->be, pv, peer_rx_ready(n), &timeout);
	if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms))
		timeout = max_wait_ms;
	int r = poll(pv->fds, (nfds_t)pv->n, timeout);
	if (r < 0) {
		if (errno != EINTR)
			return false;
		for (int i = 0; i < pv->n; i++)
			pv->fds[i].revents = 0;
	}
	if (n->stop_fd >= 0 && (pv->fds[1].revents & POLLIN))
		return false;
	/* Drains notify_fd (per-queue eventfds). */
	virtio_process_notifications(&n->vd);
	n->be->ops->poll_done(n->be, pv, first);
	return true;
}

static void *net_thread(void *p)
{
	struct virtio_net *n = p;
	pthread_setname_np(pthread_self(), "virtio-net");
	while (net_round(n, -1)) {
	}
	return NULL;
}

void virtio_net_poll(struct virtio_net *n)
{
	(void)net_round(n, 0);
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
		      bool thread, struct vmon_error *err)
{
	*out = NULL;
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n)
		return err_setf(err, "out of memory");
	n->vd.notify_fd = -1;
	n->stop_fd = -1;
	*out = n;
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
		.features = (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS),
		.nqueues = 2,
		.queue_max_size = NET_QUEUE_SIZE,
		.config = n->config,
		.config_len = CFG_LEN,
		.ops = &net_ops,
		.opaque = n,
	};
	/* No shared I/O thread: the net thread polls the notify eventfd. */
	if (virtio_device_init(&n->vd, &p, gm, ctl, NULL, at, err) < 0)
		return -1;
	if (!thread)
		return 0;
	n->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->stop_fd < 0)
		return err_setf(err, "%s: eventfd: %s", n->name, strerror(errno));
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread takes no signals */
	r = pthread_create(&n->thread, NULL, net_thread, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return err_setf(err, "%s: cannot start its thread: %s", n->name, strerror(r));
	n->started = true;
	return 0;
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
	if (n->started) {
		uint64_t one = 1;
		if (write(n->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot fail for an eventfd below its maximum */
		}
		pthread_join(n->thread, NULL);
	}
	if (n->stop_fd >= 0)
		close(n->stop_fd);
	if (n->be)
		n->be->ops->destroy(n->be);
	if (n->vd.name)
		virtio_device_fini(&n->vd);
	free(n->pv.fds);
	free(n);
}
