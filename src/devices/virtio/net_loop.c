/* SPDX-License-Identifier: MIT */
/*
 * Loopback back end for tests and fuzzing: the last frame the guest sent
 * comes back to it on the next poll (if it has a receive buffer then;
 * else it waits, and a newer frame replaces it).
 */
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/net_backend.h"

struct net_loop {
	struct net_backend be; /* first */
	size_t len;	       /* 0: nothing pending */
	uint8_t frame[NET_MAX_FRAME];
};

static void loop_send(struct net_backend *be, const uint8_t *frame, size_t len)
{
	struct net_loop *l = (struct net_loop *)be;
	if (len > sizeof(l->frame))
		return;
	memcpy(l->frame, frame, len);
	l->len = len;
}

static void loop_poll_fill(struct net_backend *be, struct pollvec *pv, bool want_rx,
			   int *timeout_ms)
{
	struct net_loop *l = (struct net_loop *)be;
	if (l->len && want_rx)
		*timeout_ms = 0;
}

static void loop_poll_done(struct net_backend *be, const struct pollvec *pv, int first)
{
	struct net_loop *l = (struct net_loop *)be;
	if (l->len && be->peer.rx_ready(be->peer.dev)) {
		size_t n = l->len;
		l->len = 0;
		be->peer.rx(be->peer.dev, l->frame, n);
	}
}

static void loop_destroy(struct net_backend *be)
{
	free(be);
}

static const struct net_backend_ops loop_ops = {
	.kind = "loop",
	.send = loop_send,
	.poll_fill = loop_poll_fill,
	.poll_done = loop_poll_done,
	.destroy = loop_destroy,
};

int net_loop_create(struct net_backend **out, struct vmon_error *err)
{
	struct net_loop *l = calloc(1, sizeof(*l));
	*out = NULL;
	if (!l)
		return err_setf(err, "out of memory");
	l->be.ops = &loop_ops;
	*out = &l->be;
	return 0;
}
