/* SPDX-License-Identifier: MIT */
/*
 * tap back end: /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and
 * a 12-byte vnet header (virtio 1.x's). No offloads are enabled on the
 * tap (TUNSETOFFLOAD 0), so every frame is whole and checksummed in both
 * directions and the header vmon writes is all zeros; the guest's header
 * is never passed through. Frames are read only while the device has a
 * receive buffer: otherwise they wait in the tap's queue (the kernel drops
 * beyond its length, as a NIC would).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/net_backend.h"

#define VNET_HDR_LEN 12
#define TAP_BURST    64 /* frames per wakeup, so tx is not starved */

struct net_tap {
	struct net_backend be; /* first */
	int fd;
	uint8_t buf[VNET_HDR_LEN + NET_MAX_FRAME];
};

static int tap_open(const char *ifname, struct vmon_error *err)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_setf(err, "--net tap:%s: cannot open /dev/net/tun: %s", ifname,
				strerror(errno));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	int hdr = VNET_HDR_LEN;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		return err_setf(err, "--net tap:%s: cannot attach to the tap device: %s%s", ifname,
				strerror(e),
				e == EINVAL ? " (is it a tap, not a tun or another kind of device?)"
				: e == EPERM ? " (needs CAP_NET_ADMIN, or a tap owned by this user)"
					     : "");
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		int e = errno;
		close(fd);
		return err_setf(err, "--net tap:%s: cannot set the vnet header: %s", ifname,
				strerror(e));
	}
	return fd;
}

int net_tap_check(const char *ifname, struct vmon_error *err)
{
	int fd = tap_open(ifname, err);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static void tap_send(struct net_backend *be, const uint8_t *frame, size_t len)
{
	struct net_tap *t = (struct net_tap *)be;
	static const uint8_t zero_hdr[VNET_HDR_LEN];
	struct iovec iov[2] = {{(void *)zero_hdr, VNET_HDR_LEN}, {(void *)frame, len}};
	for (;;) {
		ssize_t n = writev(t->fd, iov, 2);
		if (n >= 0 || errno != EINTR)
			return; /* EAGAIN: the tap's queue is full; dropped like on a wire */
	}
}

static void tap_poll_fill(struct net_backend *be, struct pollvec *pv, bool want_rx, int *timeout_ms)
{
	struct net_tap *t = (struct net_tap *)be;
	(void)pollvec_add(pv, t->fd, want_rx ? POLLIN : 0);
}

static void tap_poll_done(struct net_backend *be, const struct pollvec *pv, int first)
{
	struct net_tap *t = (struct net_tap *)be;
	if (first >= pv->n || !(pv->fds[first].revents & POLLIN))
		return;
	for (int i = 0; i < TAP_BURST && be->peer.rx_ready(be->peer.dev); i++) {
		ssize_t n = read(t->fd, t->buf, sizeof(t->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= VNET_HDR_LEN)
			return;
		be->peer.rx(be->peer.dev, t->buf + VNET_HDR_LEN, (size_t)n - VNET_HDR_LEN);
	}
}

static void tap_destroy(struct net_backend *be)
{
	struct net_tap *t = (struct net_tap *)be;
	close(t->fd);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.kind = "tap",
	.send = tap_send,
	.poll_fill = tap_poll_fill,
	.poll_done = tap_poll_done,
	.destroy = tap_destroy,
};

int net_tap_create(struct net_backend **out, const char *ifname, struct vmon_error *err)
{
	*out = NULL;
	int fd = tap_open(ifname, err);
	if (fd < 0)
		return -1;
	struct net_tap *t = calloc(1, sizeof(*t));
	if (!t) {
		close(fd);
		return err_setf(err, "out of memory");
	}
	t->be.ops = &tap_ops;
	t->fd = fd;
	*out = &t->be;
	return 0;
}
