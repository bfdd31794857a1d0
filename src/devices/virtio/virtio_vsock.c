/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock: packets, connections, credit and the Unix-socket host
 * side. See virtio_vsock.h.
 */
#include "devices/virtio/virtio_vsock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/device.h"
#include "core/event_loop.h"
#include "core/unix_listen.h"
#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/virtio_state.h"

#define VIRTIO_ID_VSOCK	      19
#define VSOCK_QUEUE_SIZE      128
#define RXQ		      0
#define TXQ		      1
#define EVQ		      2 /* the event queue: TRANSPORT_RESET only */
#define EVENT_TRANSPORT_RESET 0
#define HOST_CID	      2
#define HDR_LEN		      44
#define MAX_CONNS	      64
#define BUF_ALLOC	      (256u << 10) /* per connection, guest to host */
#define MAX_PAYLOAD	      (64u << 10)  /* per packet, both ways */
#define CTRL_RING	      64
#define HOST_PORT_BASE	      (1u << 30)
#define TX_BURST	      256

#define TYPE_STREAM	  1
#define OP_REQUEST	  1
#define OP_RESPONSE	  2
#define OP_RST		  3
#define OP_SHUTDOWN	  4
#define OP_RW		  5
#define OP_CREDIT_UPDATE  6
#define OP_CREDIT_REQUEST 7
#define SHUT_RCV_F	  1
#define SHUT_SEND_F	  2

/* Things a connection owes the guest, sent as rx buffers allow. */
#define P_REQUEST  1u
#define P_RESPONSE 2u
#define P_CREDIT   4u
#define P_SHUTDOWN 8u
#define P_RST	   16u /* then the connection is freed */

struct pkt_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct pkt_hdr) == HDR_LEN, "virtio_vsock_hdr is 44 bytes");

/* CS_DRAINING: the guest closed the connection, but bytes it sent before
 * are still on their way to the host socket; no packets any more. */
enum conn_state { CS_FREE, CS_AWAIT_LINE, CS_CONNECTING, CS_OPEN, CS_CLOSING, CS_DRAINING };

struct vconn {
	enum conn_state st;
	int fd;
	uint32_t host_port, guest_port;
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt; /* credit toward the guest */
	uint32_t fwd_cnt, fwd_cnt_sent;		       /* credit we give */
	uint8_t *pend;				       /* guest bytes the socket has not taken */
	uint32_t pend_off, pend_len;
	unsigned pending; /* P_* */
	bool host_readable, host_eof, guest_shut_send, guest_shut_rcv, wr_shut;
	int pidx; /* index in the poll set, -1 */
	char line[32];
	unsigned line_len;
};

struct virtio_vsock {
	struct virtio_device vd; /* first */
	uint8_t config[8];
	struct vsock_spec spec;
	int listen_fd;
	/* Under vd.lock: */
	struct vconn conns[MAX_CONNS];
	struct pkt_hdr ctrl[CTRL_RING]; /* connection-less replies (RST) */
	unsigned ctrl_head, ctrl_n;
	struct virtq_req rx_req, tx_req;
	bool rx_held, rx_starved;
	uint32_t next_host_port;
	unsigned rr;	   /* round-robin start */
	unsigned gen;	   /* bumped by reset: poll results from before are stale */
	unsigned poll_gen; /* gen when this round's fds were gathered */
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes, conns_opened;
	struct event_loop *loop; /* the VM's, or own_loop */
	struct event_loop *own_loop;
	bool listening; /* listen_fd is on the loop */
};

/* ---- Connections (vd.lock held) ---- */

static struct vconn *conn_find(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		struct vconn *c = &v->conns[i];
		if (c->st >= CS_CONNECTING && c->st <= CS_CLOSING && c->host_port == host_port &&
		    c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

static struct vconn *conn_alloc(struct virtio_vsock *v, int fd)
{
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		struct vconn *c = &v->conns[i];
		if (c->st == CS_FREE) {
			v->conns_opened++;
			memset(c, 0, sizeof(*c));
			c->fd = fd;
			c->pidx = -1;
			return c;
		}
	}
	return NULL;
}

static void conn_free(struct vconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->pend);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->st = CS_FREE;
}

/* Queues a connection-less RST answering the guest's packet h. */
static void ctrl_rst(struct virtio_vsock *v, const struct pkt_hdr *h)
{
	if (h->op == OP_RST || v->ctrl_n == CTRL_RING)
		return; /* never answer an RST; a full ring drops (the guest times out) */
	struct pkt_hdr *r = &v->ctrl[(v->ctrl_head + v->ctrl_n++) % CTRL_RING];
	*r = (struct pkt_hdr){.src_cid = HOST_CID,
			      .dst_cid = v->spec.cid,
			      .src_port = h->dst_port,
			      .dst_port = h->src_port,
			      .type = TYPE_STREAM,
			      .op = OP_RST};
}

/* The connection ends with an RST to the guest; its socket closes now. */
static void conn_reset(struct vconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = CS_CLOSING;
	c->pending = P_RST;
}

/* The guest is done with c: free it, or, while bytes the guest sent are
 * still waiting for room in the host socket, keep only the socket until
 * they are written (then the host reads EOF). */
static void conn_retire(struct vconn *c)
{
	if (c->fd >= 0 && c->pend_len) {
		c->st = CS_DRAINING;
		c->pending = 0;
		c->guest_shut_send = true; /* conn_flush shuts the socket down at the end */
		return;
	}
	conn_free(c);
}

static uint32_t peer_credit(const struct vconn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Writes what is pending to the host socket; returns -1 on a socket error. */
static int conn_flush(struct vconn *c)
{
	while (c->pend_len) {
		ssize_t n = send(c->fd, c->pend + c->pend_off, c->pend_len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		c->pend_off += (uint32_t)n;
		c->pend_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	c->pend_off = 0;
	if (c->st == CS_OPEN && c->fwd_cnt - c->fwd_cnt_sent >= BUF_ALLOC / 4)
		c->pending |= P_CREDIT;
	if (c->guest_shut_send && !c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
	return 0;
}

/* ---- Guest to host (tx) ---- */

static void guest_request(struct virtio_vsock *v, const struct pkt_hdr *h)
{
	if (conn_find(v, h->dst_port, h->src_port)) {
		ctrl_rst(v, h);
		return;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->spec.path, h->dst_port);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct vconn *c = fd >= 0 ? conn_alloc(v, fd) : NULL;
	if (!c || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (c)
			conn_free(c);
		else if (fd >= 0)
			close(fd);
		ctrl_rst(v, h);
		return;
	}
	c->st = CS_OPEN;
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending |= P_RESPONSE;
}

/* The payload of an RW packet: straight to the socket, the rest kept. */
static void guest_rw(struct vconn *c, const struct virtq_req *req, uint32_t len)
{
	if (c->pend_len + (uint64_t)len > BUF_ALLOC) {
		conn_reset(c); /* beyond the credit it was given */
		return;
	}
	struct iovec iov[VIRTQ_MAX_SEGS];
	int n = iov_slice(req->iov, req->nout, HDR_LEN, len, iov, VIRTQ_MAX_SEGS);
	if (n < 0) {
		conn_reset(c);
		return;
	}
	uint32_t sent = 0;
	if (c->pend_len == 0) {
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t k = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno != EAGAIN && errno != EINTR) {
			conn_reset(c);
			return;
		}
		sent = k > 0 ? (uint32_t)k : 0;
		c->fwd_cnt += sent;
	}
	if (sent < len) {
		if (!c->pend && !(c->pend = malloc(BUF_ALLOC))) {
			conn_reset(c);
			return;
		}
		if (c->pend_off) {
			memmove(c->pend, c->pend + c->pend_off, c->pend_len);
			c->pend_off = 0;
		}
		c->pend_len += (uint32_t)iov_to_buf(req->iov, req->nout, HDR_LEN + (uint64_t)sent,
						    c->pend + c->pend_len, len - sent);
	}
	if (c->fwd_cnt - c->fwd_cnt_sent >= BUF_ALLOC / 4)
		c->pending |= P_CREDIT;
}

static void guest_packet(struct virtio_vsock *v, const struct virtq_req *req)
{
	struct pkt_hdr h;
	iov_to_buf(req->iov, req->nout, 0, &h, HDR_LEN); /* one copy, then only h */
	if (h.src_cid != v->spec.cid)
		return; /* not from this guest's address: dropped */
	if (h.dst_cid != HOST_CID || h.type != TYPE_STREAM ||
	    (h.op == OP_RW && (h.len > req->out_bytes - HDR_LEN || h.len > MAX_PAYLOAD))) {
		struct vconn *c = conn_find(v, h.dst_port, h.src_port);
		if (c && h.dst_cid == HOST_CID)
			conn_reset(c);
		else
			ctrl_rst(v, &h);
		return;
	}
	if (h.op == OP_REQUEST) {
		guest_request(v, &h);
		return;
	}
	struct vconn *c = conn_find(v, h.dst_port, h.src_port);
	if (!c || c->st == CS_CLOSING) {
		if (!c)
			ctrl_rst(v, &h);
		else if (h.op == OP_RST || h.op == OP_SHUTDOWN)
			conn_retire(c); /* the guest answered our SHUTDOWN or RST */
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	switch (h.op) {
	case OP_RESPONSE: {
		if (c->st != CS_CONNECTING) {
			conn_reset(c);
			return;
		}
		char ok[24];
		int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
		if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
			conn_reset(c);
			return;
		}
		c->st = CS_OPEN;
		return;
	}
	case OP_RST: conn_free(c); return; /* an abort: pending bytes are dropped */
	case OP_RW:
		if (c->st != CS_OPEN || c->guest_shut_send) {
			conn_reset(c);
			return;
		}
		if (h.len)
			guest_rw(c, req, h.len);
		return;
	case OP_SHUTDOWN:
		if ((h.flags & (SHUT_RCV_F | SHUT_SEND_F)) == (SHUT_RCV_F | SHUT_SEND_F)) {
			/* Fully shut: the spec's answer is RST. What the guest
			 * sent before still reaches the host (conn_retire). */
			c->guest_shut_send = true;
			if (conn_flush(c) < 0) {
				conn_reset(c);
				return;
			}
			c->st = CS_CLOSING;
			c->pending = P_RST;
			return;
		}
		if (h.flags & SHUT_RCV_F)
			c->guest_shut_rcv = true;
		if (h.flags & SHUT_SEND_F) {
			c->guest_shut_send = true;
			if (conn_flush(c) < 0)
				conn_reset(c);
		}
		return;
	case OP_CREDIT_UPDATE: return;
	case OP_CREDIT_REQUEST: c->pending |= P_CREDIT; return;
	default: conn_reset(c); return;
	}
}

static void tx_work(struct virtio_vsock *v)
{
	struct virtio_device *vd = &v->vd;
	struct virtq_req *req = &v->tx_req; /* big: not on the stack */
	pthread_mutex_lock(&vd->lock);
	for (int i = 0; i < TX_BURST && virtio_queue_live(vd, TXQ); i++) {
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
		if (r == VIRTQ_BAD_REQ || req->nin || req->out_bytes < HDR_LEN) {
			virtio_fail_request(vd, TXQ, req->head,
					    r == VIRTQ_BAD_REQ ? "malformed transmit chain"
							       : "transmit chain writable or "
								 "without a whole header");
			continue;
		}
		v->tx_packets++;
		v->tx_bytes += req->out_bytes - HDR_LEN;
		guest_packet(v, req);
		virtq_push(&vd->vq[TXQ], req->head, 0);
		virtio_queue_interrupt(vd, TXQ);
		if (i == TX_BURST - 1)
			virtio_kick(vd, TXQ);
	}
	pthread_mutex_unlock(&vd->lock);
}

/* ---- Host to guest (rx), vd.lock held ---- */

static bool rx_take(struct virtio_vsock *v)
{
	if (!v->rx_held && virtio_pop_writable(&v->vd, RXQ, &v->rx_req, HDR_LEN))
		v->rx_held = true;
	return v->rx_held;
}

static void rx_put(struct virtio_vsock *v, struct pkt_hdr *h, uint32_t payload)
{
	iov_from_buf(v->rx_req.iov, v->rx_req.nin, 0, h, HDR_LEN);
	v->rx_packets++;
	v->rx_bytes += payload;
	virtq_push(&v->vd.vq[RXQ], v->rx_req.head, HDR_LEN + payload);
	virtio_queue_interrupt(&v->vd, RXQ);
	v->rx_held = false;
}

static struct pkt_hdr conn_hdr(struct virtio_vsock *v, struct vconn *c, uint16_t op)
{
	c->fwd_cnt_sent = c->fwd_cnt;
	return (struct pkt_hdr){.src_cid = HOST_CID,
				.dst_cid = v->spec.cid,
				.src_port = c->host_port,
				.dst_port = c->guest_port,
				.type = TYPE_STREAM,
				.op = op,
				.buf_alloc = BUF_ALLOC,
				.fwd_cnt = c->fwd_cnt};
}

/* Sends what c owes the guest (one packet) into the held buffer; returns
 * whether it used it. */
static bool conn_emit(struct virtio_vsock *v, struct vconn *c)
{
	struct pkt_hdr h;
	if (c->pending) {
		unsigned p = c->pending;
		uint16_t op = p & P_RST	       ? OP_RST
			      : p & P_REQUEST  ? OP_REQUEST
			      : p & P_RESPONSE ? OP_RESPONSE
			      : p & P_SHUTDOWN ? OP_SHUTDOWN
					       : OP_CREDIT_UPDATE;
		h = conn_hdr(v, c, op);
		if (op == OP_SHUTDOWN)
			h.flags = SHUT_SEND_F;
		rx_put(v, &h, 0);
		c->pending &= op == OP_RST	  ? 0
			      : op == OP_REQUEST  ? ~P_REQUEST
			      : op == OP_RESPONSE ? ~P_RESPONSE
			      : op == OP_SHUTDOWN ? ~(P_SHUTDOWN | P_CREDIT)
						  : ~P_CREDIT;
		if (op == OP_RST)
			conn_retire(c);
		return true;
	}
	if (c->st != CS_OPEN || !c->host_readable || c->host_eof || c->guest_shut_rcv)
		return false;
	uint32_t want = peer_credit(c);
	if (want == 0)
		return false;
	if (want > MAX_PAYLOAD)
		want = MAX_PAYLOAD;
	if (want > v->rx_req.in_bytes - HDR_LEN)
		want = (uint32_t)(v->rx_req.in_bytes - HDR_LEN);
	if (want == 0)
		return false; /* a header-only buffer: only control packets fit */
	struct iovec iov[VIRTQ_MAX_SEGS];
	int n = iov_slice(v->rx_req.iov, v->rx_req.nin, HDR_LEN, want, iov, VIRTQ_MAX_SEGS);
	if (n < 0)
		return false;
	ssize_t k = readv(c->fd, iov, n); /* into guest RAM, checked by virtq_pop */
	if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
		c->host_readable = false;
		return false;
	}
	if (k < 0) {
		conn_reset(c);
		return false;
	}
	if (k == 0) {
		/* The host will send no more; it may still read (a half-close),
		 * so the connection stays open until the guest closes it. */
		c->host_eof = true;
		c->host_readable = false;
		c->pending |= P_SHUTDOWN;
		return false;
	}
	h = conn_hdr(v, c, OP_RW);
	h.len = (uint32_t)k;
	c->tx_cnt += (uint32_t)k;
	rx_put(v, &h, (uint32_t)k);
	return true;
}

static void rx_pump(struct virtio_vsock *v)
{
	for (;;) {
		bool work = v->ctrl_n > 0;
		for (unsigned i = 0; i < MAX_CONNS && !work; i++) {
			const struct vconn *c = &v->conns[i];
			work = c->st != CS_FREE &&
			       (c->pending || (c->st == CS_OPEN && c->host_readable));
		}
		if (!work)
			return;
		if (!rx_take(v)) {
			v->rx_starved = true;
			return;
		}
		if (v->ctrl_n) {
			rx_put(v, &v->ctrl[v->ctrl_head], 0);
			v->ctrl_head = (v->ctrl_head + 1) % CTRL_RING;
			v->ctrl_n--;
			continue;
		}
		bool used = false;
		for (unsigned i = 0; i < MAX_CONNS && !used; i++) {
			struct vconn *c = &v->conns[(v->rr + i) % MAX_CONNS];
			if (c->st != CS_FREE)
				used = conn_emit(v, c);
		}
		v->rr = (v->rr + 1) % MAX_CONNS;
		if (!used) {
			/* Maybe only sockets that turned out empty: look again
			 * (their flags changed) until nothing is left. */
			bool again = v->ctrl_n > 0;
			for (unsigned i = 0; i < MAX_CONNS && !again; i++)
				again = v->conns[i].st != CS_FREE && v->conns[i].pending;
			if (!again)
				return;
		}
	}
}

/* ---- Host clients: "CONNECT <port>\n" ---- */

static void client_line(struct virtio_vsock *v, struct vconn *c)
{
	char buf[sizeof(c->line)];
	size_t room = sizeof(c->line) - c->line_len;
	ssize_t n = recv(c->fd, buf, room, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_free(c);
		return;
	}
	if (n < 0)
		return;
	char *nl = memchr(buf, '\n', (size_t)n);
	size_t take = nl ? (size_t)(nl - buf) + 1 : (size_t)n;
	if (recv(c->fd, c->line + c->line_len, take, MSG_DONTWAIT) != (ssize_t)take) {
		conn_free(c);
		return;
	}
	c->line_len += (unsigned)take;
	if (!nl) {
		if (c->line_len == sizeof(c->line))
			conn_free(c); /* no line in 32 bytes: not our protocol */
		return;
	}
	c->line[c->line_len - 1] = 0;
	unsigned port;
	char tail;
	if (sscanf(c->line, "CONNECT %u%c", &port, &tail) != 1) {
		conn_free(c);
		return;
	}
	uint32_t hp = v->next_host_port;
	for (unsigned tries = 0; conn_find(v, hp, port) || hp < HOST_PORT_BASE; tries++) {
		hp = hp < HOST_PORT_BASE || hp == UINT32_MAX ? HOST_PORT_BASE : hp + 1;
		if (tries > MAX_CONNS + 1)
			break;
	}
	v->next_host_port = hp + 1;
	c->host_port = hp;
	c->guest_port = port;
	c->st = CS_CONNECTING;
	c->pending |= P_REQUEST;
}

static void accept_clients(struct virtio_vsock *v)
{
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct vconn *c = conn_alloc(v, fd);
		if (!c) {
			close(fd); /* too many connections */
			continue;
		}
		c->st = CS_AWAIT_LINE;
	}
}

/* ---- The device thread ---- */

static void vsock_queue_work(struct virtio_device *vd, unsigned q)
{
	struct virtio_vsock *v = (struct virtio_vsock *)vd;
	if (q == TXQ)
		tx_work(v);
	else if (q == RXQ) {
		pthread_mutex_lock(&vd->lock);
		v->rx_starved = false;
		pthread_mutex_unlock(&vd->lock);
	}
}

static void vsock_reset(struct virtio_device *vd)
{
	struct virtio_vsock *v = (struct virtio_vsock *)vd;
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (v->conns[i].st != CS_FREE)
			conn_free(&v->conns[i]);
	v->ctrl_n = v->ctrl_head = 0;
	v->rx_held = v->rx_starved = false;
	v->gen++;
}

static const struct virtio_device_ops vsock_ops = {.queue_work = vsock_queue_work,
						   .reset = vsock_reset};

/* The connections are a source of the device's loop: their set and the
 * events wanted change with every packet. */
static void conns_prepare(void *opaque, struct pollvec *pv, int *timeout_ms)
{
	struct virtio_vsock *v = opaque;
	struct virtio_device *vd = &v->vd;
	pthread_mutex_lock(&vd->lock);
	v->poll_gen = v->gen;
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		struct vconn *c = &v->conns[i];
		c->pidx = -1;
		if (c->st == CS_FREE || c->fd < 0)
			continue;
		short ev = 0;
		if (c->st == CS_AWAIT_LINE ||
		    (c->st == CS_OPEN && !c->host_readable && !c->host_eof && !c->guest_shut_rcv &&
		     !v->rx_starved && peer_credit(c) > 0))
			ev |= POLLIN;
		if (c->pend_len)
			ev |= POLLOUT;
		if (ev)
			c->pidx = pollvec_add(pv, c->fd, ev);
	}
	pthread_mutex_unlock(&vd->lock);
}

static void conns_dispatch(void *opaque, const struct pollvec *pv, int first)
{
	struct virtio_vsock *v = opaque;
	struct virtio_device *vd = &v->vd;
	pthread_mutex_lock(&vd->lock);
	for (unsigned i = 0; i < MAX_CONNS && v->poll_gen == v->gen; i++) {
		struct vconn *c = &v->conns[i];
		if (c->pidx < first || c->pidx >= pv->n || c->fd != pv->fds[c->pidx].fd)
			continue;
		short r = pv->fds[c->pidx].revents;
		if (!r)
			continue;
		if (c->st == CS_AWAIT_LINE) {
			client_line(v, c);
			continue;
		}
		if (c->st == CS_CLOSING || c->st == CS_DRAINING) {
			/* Only the guest's last bytes are left to write. */
			bool failed = conn_flush(c) < 0;
			if (c->st == CS_DRAINING && (failed || !c->pend_len))
				conn_free(c);
			else if (failed)
				conn_reset(c);
			continue;
		}
		if (r & (POLLIN | POLLHUP | POLLERR))
			c->host_readable = true; /* the read finds out which */
		if ((r & POLLOUT) && conn_flush(c) < 0)
			conn_reset(c);
	}
	rx_pump(v);
	pthread_mutex_unlock(&vd->lock);
}

static const struct ev_source_ops conns_source = {.prepare = conns_prepare,
						  .dispatch = conns_dispatch};

static void on_listen(void *opaque, int fd, uint32_t events)
{
	struct virtio_vsock *v = opaque;
	pthread_mutex_lock(&v->vd.lock);
	accept_clients(v);
	pthread_mutex_unlock(&v->vd.lock);
}

void virtio_vsock_poll(struct virtio_vsock *v)
{
	ev_run_once(v->loop, 0);
}

/* ---- Life cycle ---- */

int virtio_vsock_create(struct virtio_vsock **out, const struct vsock_spec *spec,
			struct guest_mem *gm, struct vm_control *ctl, const struct virtio_bus *at,
			struct event_loop *loop, struct vmon_error *err)
{
	*out = NULL;
	struct virtio_vsock *v = calloc(1, sizeof(*v));
	if (!v)
		return err_setf(err, "out of memory");
	v->vd.notify_fd = -1;
	v->listen_fd = -1;
	v->spec = *spec;
	v->next_host_port = HOST_PORT_BASE;
	for (unsigned i = 0; i < MAX_CONNS; i++)
		v->conns[i].fd = -1;
	*out = v;
	for (int i = 0; i < 8; i++)
		v->config[i] = (uint8_t)((uint64_t)spec->cid >> (8 * i));
	v->listen_fd = unix_listen(spec->path, "--vsock", 16, err);
	if (v->listen_fd < 0)
		return -1;
	const struct virtio_params p = {
		.name = "virtio-vsock",
		.device_type = VIRTIO_ID_VSOCK,
		.class_code = 0xff0000,
		.nqueues = 3,
		.queue_max_size = VSOCK_QUEUE_SIZE,
		.config = v->config,
		.config_len = sizeof(v->config),
		.ops = &vsock_ops,
		.opaque = v,
	};
	if (!loop) {
		v->own_loop = ev_create(err);
		if (!v->own_loop)
			return -1;
		loop = v->own_loop;
	}
	v->loop = loop;
	if (virtio_device_init(&v->vd, &p, gm, ctl, loop, at, err) < 0 ||
	    ev_add_source(loop, &conns_source, v, err) < 0)
		return -1;
	if (ev_add(loop, v->listen_fd, EPOLLIN, on_listen, v) < 0)
		return err_setf(err, "virtio-vsock: event loop: %s", strerror(errno));
	v->listening = true;
	return 0;
}

struct virtio_device *virtio_vsock_transport(struct virtio_vsock *v)
{
	return &v->vd;
}

void virtio_vsock_reset(struct virtio_vsock *v)
{
	virtio_reset(&v->vd);
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	if (!v)
		return;
	if (v->listening)
		ev_remove(v->loop, v->listen_fd);
	ev_destroy(v->own_loop);
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (v->conns[i].st != CS_FREE)
			conn_free(&v->conns[i]);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->spec.path);
	}
	if (v->vd.name)
		virtio_device_fini(&v->vd);
	free(v);
}

/* ---- Device object (core/device.h) ---- */

static int vsock_dev_create(void **out, const struct device_env *env, const void *params,
			    struct vmon_error *err)
{
	const struct virtio_vsock_params *p = params;
	struct virtio_bus at;
	*out = NULL;
	if (virtio_bus_at(&at, env, &p->place, err) < 0)
		return -1;
	return virtio_vsock_create((struct virtio_vsock **)out, &p->spec, env->mem, env->ctl, &at,
				   p->loop, err);
}

static void vsock_dev_reset(void *dev)
{
	virtio_vsock_reset(dev);
}

static void vsock_dev_destroy(void *dev)
{
	virtio_vsock_destroy(dev);
}

static void vsock_dev_stats(void *dev, const struct stats_sink *out)
{
	struct virtio_vsock *v = dev;
	pthread_mutex_lock(&v->vd.lock);
	uint64_t val[] = {v->tx_packets, v->tx_bytes, v->rx_packets, v->rx_bytes, v->conns_opened};
	pthread_mutex_unlock(&v->vd.lock);
	static const char *const names[] = {"tx_packets", "tx_bytes", "rx_packets", "rx_bytes",
					    "connections"};
	for (size_t i = 0; i < sizeof(val) / sizeof(val[0]); i++)
		stats_put(out, names[i], val[i]);
	virtio_device_stats(&v->vd, out);
}

static int vsock_dev_restore(void *dev, struct state_reader *r, uint32_t version,
			     struct vmon_error *err)
{
	struct virtio_vsock *v = dev;
	return virtio_dev_restore(&v->vd, r, version, err);
}

/* Restored: the host side has no connection of the saved guest's (they
 * lived in another process), so the driver is told with the event the
 * spec gives for it, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, on the event
 * queue; it then drops every connection and reads its CID again. Once
 * the whole machine is restored (device_ops.restored): the vCPUs'
 * restored state would overwrite the event's interrupt if it came
 * before. */
static void vsock_dev_restored(void *dev)
{
	struct virtio_vsock *v = dev;
	virtio_dev_restored(&v->vd);
	pthread_mutex_lock(&v->vd.lock);
	struct virtq_req req;
	if (virtio_queue_live(&v->vd, EVQ) && virtio_pop_writable(&v->vd, EVQ, &req, 4)) {
		const uint8_t ev[4] = {EVENT_TRANSPORT_RESET, 0, 0, 0};
		uint64_t n = iov_from_buf(req.iov + req.nout, req.nin, 0, ev, sizeof(ev));
		virtq_push(&v->vd.vq[EVQ], req.head, (uint32_t)n);
		virtio_queue_interrupt(&v->vd, EVQ);
	}
	pthread_mutex_unlock(&v->vd.lock);
}

const struct device_ops virtio_vsock_device = {
	.kind = "virtio-vsock",
	.state_version = VIRTIO_STATE_VERSION,
	.save = virtio_dev_save,
	.restore = vsock_dev_restore,
	.restored = vsock_dev_restored,
	.create = vsock_dev_create,
	.reset = vsock_dev_reset,
	.destroy = vsock_dev_destroy,
	.stats = vsock_dev_stats,
};
