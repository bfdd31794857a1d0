/* SPDX-License-Identifier: MIT */
/*
 * User-mode networking through libslirp: the guest gets 10.0.2.15/24
 * (DHCP), the gateway and host at 10.0.2.2 (connections to it reach the
 * host's 127.0.0.1 — every service listening there — unless
 * host-loopback=off), DNS at 10.0.2.3, NAT for outbound TCP and UDP, and
 * the host-to-guest forwards of the spec. No IPv6, no TFTP, no guest
 * "emulation" helpers (libslirp calls them unsafe).
 *
 * libslirp runs on the net thread only: the thread polls the sockets it
 * asks for and fires its timers; frames it sends to the guest while the
 * device has no receive buffer are dropped (TCP retransmits, as libslirp
 * expects).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ratelimit.h"
#include "devices/virtio/net_backend.h"

struct slirp_timer {
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
	struct slirp_timer *next;
};

struct net_slirp {
	struct net_backend be; /* first */
	Slirp *slirp;
	struct slirp_timer *timers;
	struct pollvec *pv; /* during poll_fill / poll_done */
	bool want_rx;	    /* this round: the guest can take frames */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;
	if (len > NET_MAX_FRAME)
		return (ssize_t)len;
	s->be.peer.rx(s->be.peer.dev, buf, len);
	return (ssize_t)len; /* dropped or not: never an error for libslirp */
}

static void cb_guest_error(const char *msg, void *opaque)
{
	/* The guest's doing, as often as it likes: rate-limited. */
	guest_log("virtio-net (user): guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->id = id;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;
	for (struct slirp_timer **p = &s->timers; *p; p = &(*p)->next)
		if (*p == timer) {
			*p = (*p)->next;
			free(timer);
			return;
		}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	if (timer)
		((struct slirp_timer *)timer)->expire_ms = expire_ms;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}
static void cb_unregister_poll_fd(int fd, void *opaque)
{
}
static void cb_notify(void *opaque)
{
}

static const SlirpCb callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

static void slirp_send(struct net_backend *be, const uint8_t *frame, size_t len)
{
	struct net_slirp *s = (struct net_slirp *)be;
	slirp_input(s->slirp, frame, (int)len);
}

static int add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	/* No receive buffer (or the receive rate limiter is empty): leave
	 * the host sockets' data where it is, so TCP flow control holds the
	 * peers back instead of frames being dropped. Every way libslirp
	 * reads a socket is held off: POLLIN, POLLPRI (urgent data is read
	 * with the rest) and POLLHUP, which poll() reports whatever was
	 * asked and on which libslirp reads too. A host peer that wrote
	 * everything and closed leaves its socket hung up with the data
	 * still queued: polled, that socket was read every round and went
	 * past the limiter at the guest's own pace. So a socket libslirp
	 * would only read is not polled this round, and one it also writes
	 * is polled for writing with its hang-up hidden (get_revents). */
	if (!s->want_rx) {
		if (!(events & SLIRP_POLL_OUT))
			return -1;
		return pollvec_add(s->pv, fd, POLLOUT);
	}
	short ev = 0;
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	return pollvec_add(s->pv, fd, ev);
}

static int get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;
	if (idx < 0 || idx >= s->pv->n)
		return 0;
	short r = s->pv->fds[idx].revents;
	int ev = 0;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if ((r & POLLHUP) && s->want_rx) /* a read: held off (add_poll) */
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static void slirp_poll_fill(struct net_backend *be, struct pollvec *pv, bool want_rx,
			    int *timeout_ms)
{
	struct net_slirp *s = (struct net_slirp *)be;
	uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
	s->pv = pv;
	s->want_rx = want_rx;
	slirp_pollfds_fill(s->slirp, &t, add_poll, s);
	int64_t now = now_ns() / 1000000;
	for (struct slirp_timer *tm = s->timers; tm; tm = tm->next) {
		if (tm->expire_ms < 0)
			continue;
		int64_t left = tm->expire_ms > now ? tm->expire_ms - now : 0;
		if (left < t)
			t = (uint32_t)left;
	}
	*timeout_ms = t == UINT32_MAX ? -1 : (int)(t > 60000 ? 60000 : t);
}

static void slirp_poll_done(struct net_backend *be, const struct pollvec *pv, int first)
{
	struct net_slirp *s = (struct net_slirp *)be;
	s->pv = (struct pollvec *)pv;
	slirp_pollfds_poll(s->slirp, 0, get_revents, s);
	int64_t now = now_ns() / 1000000;
	/* A timer's callback may free or re-arm timers: restart the walk. */
	for (bool fired = true; fired;) {
		fired = false;
		for (struct slirp_timer *tm = s->timers; tm; tm = tm->next)
			if (tm->expire_ms >= 0 && tm->expire_ms <= now) {
				tm->expire_ms = -1;
				slirp_handle_timer(s->slirp, tm->id, tm->cb_opaque);
				fired = true;
				break;
			}
	}
}

static void slirp_destroy(struct net_backend *be)
{
	struct net_slirp *s = (struct net_slirp *)be;
	if (s->slirp)
		slirp_cleanup(s->slirp);
	while (s->timers) {
		struct slirp_timer *t = s->timers;
		s->timers = t->next;
		free(t);
	}
	free(s);
}

static const struct net_backend_ops slirp_ops = {
	.kind = "user",
	.send = slirp_send,
	.poll_fill = slirp_poll_fill,
	.poll_done = slirp_poll_done,
	.destroy = slirp_destroy,
};

static struct in_addr ip4(uint32_t host_order)
{
	return (struct in_addr){.s_addr = htonl(host_order)};
}

int net_slirp_create(struct net_backend **out, const struct net_spec *spec, struct vmon_error *err)
{
	*out = NULL;
	struct net_slirp *s = calloc(1, sizeof(*s));
	if (!s)
		return err_setf(err, "out of memory");
	s->be.ops = &slirp_ops;
	SlirpConfig cfg = {
		.version = 4,
		.restricted = 0,
		.in_enabled = true,
		.vnetwork = ip4(0x0a000200),
		.vnetmask = ip4(0xffffff00),
		.vhost = ip4(0x0a000202),
		.in6_enabled = false,
		.vhostname = "vmon",
		.vdhcp_start = ip4(0x0a00020f),
		.vnameserver = ip4(0x0a000203),
		.enable_emu = false,
		/* host-loopback=off: 10.0.2.2 stops being the host's 127.0.0.1
		 * (libslirp refuses the translation; the guest gets an ICMP
		 * unreachable for UDP, a reset for TCP). */
		.disable_host_loopback = spec->no_host_loopback,
	};
	s->slirp = slirp_new(&cfg, &callbacks, s);
	if (!s->slirp) {
		free(s);
		return err_setf(err, "--net user: libslirp could not start");
	}
	*out = &s->be;
	for (int i = 0; i < spec->nfwd; i++) {
		const struct net_hostfwd *f = &spec->fwd[i];
		if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
				      f->guest_port) < 0) {
			char a[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &f->host_addr, a, sizeof(a));
			return err_setf(
				err,
				"--net user: hostfwd %s %s:%u: cannot listen there (port in "
				"use, or not allowed)",
				f->udp ? "udp" : "tcp", a, f->host_port);
		}
	}
	return 0;
}
