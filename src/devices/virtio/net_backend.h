/* SPDX-License-Identifier: MIT */
/*
 * Host sides of a virtio-net device: a small vtable per back end (tap,
 * user-mode networking through libslirp, and a loopback for tests and
 * fuzzing). Back ends move plain Ethernet frames; the virtio_net_hdr is
 * the device's business.
 *
 * Threads: everything here runs on the device's net thread (virtio_net.c),
 * which polls the back end's file descriptors beside the device's notify
 * eventfd. libslirp is not thread-safe; this keeps all its calls on one
 * thread.
 */
#ifndef VMON_DEVICES_VIRTIO_NET_BACKEND_H
#define VMON_DEVICES_VIRTIO_NET_BACKEND_H

#include <netinet/in.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define NET_MAX_FRAME	65550 /* an Ethernet frame with a 64 KiB payload and a VLAN tag */
#define NET_MAX_HOSTFWD 8

enum net_kind { NET_TAP, NET_USER, NET_LOOP };

struct net_hostfwd {
	bool udp;
	struct in_addr host_addr; /* INADDR_ANY when the spec left it empty */
	uint16_t host_port;
	struct in_addr guest_addr; /* 10.0.2.15 when left empty */
	uint16_t guest_port;
};

/* One --net: "tap:IFNAME[,mac=M]" or "user[,hostfwd=...][,mac=M]". */
struct net_spec {
	enum net_kind kind;
	char ifname[IFNAMSIZ]; /* tap */
	uint8_t mac[6];
	bool has_mac;
	struct net_hostfwd fwd[NET_MAX_HOSTFWD]; /* user */
	int nfwd;
	bool no_host_loopback; /* user: host-loopback=off */
};

/* Parses a --net value into out (one line in err on failure). Accepts
 *   tap:IFNAME                 IFNAME 1..15 characters
 *   user                       NAT through libslirp, guest 10.0.2.15/24,
 *                              gateway/host 10.0.2.2, DNS 10.0.2.3
 *   hostfwd=tcp|udp:[HADDR]:HPORT-[GADDR]:GPORT   (user only, up to 8)
 *   host-loopback=on|off       (user only) off: 10.0.2.2 no longer
 *                              reaches the host's 127.0.0.1
 *   mac=XX:XX:XX:XX:XX:XX      unicast
 * Returns 0 or -1. */
__attribute__((warn_unused_result)) int net_spec_parse(const char *arg, struct net_spec *out,
						       struct vmon_error *err);

/* A growable pollfd array the net thread hands to its back end. */
struct pollvec {
	struct pollfd *fds;
	int n, cap;
};
/* Appends (fd, events); returns its index, or -1 (out of memory). */
int pollvec_add(struct pollvec *pv, int fd, short events);

struct net_backend;

struct net_backend_ops {
	const char *kind;
	/* Guest to host: one frame. Dropped on error (as a wire would). */
	void (*send)(struct net_backend *be, const uint8_t *frame, size_t len);
	/* Before poll: appends the fds to watch; may lower *timeout_ms (-1:
	 * none). want_rx: the device can take frames now (else a back end
	 * that can wait, like tap, leaves its frames where they are). */
	void (*poll_fill)(struct net_backend *be, struct pollvec *pv, bool want_rx,
			  int *timeout_ms);
	/* After poll: handles what it added (pv->fds[first..]) and its timers. */
	void (*poll_done)(struct net_backend *be, const struct pollvec *pv, int first);
	void (*destroy)(struct net_backend *be);
};

/* What a back end calls to hand frames to the device (net thread). */
struct net_backend_peer {
	/* The device has a receive buffer ready. */
	bool (*rx_ready)(void *dev);
	/* Delivers a frame; false if it was dropped (no buffer). */
	bool (*rx)(void *dev, const uint8_t *frame, size_t len);
	void *dev;
};

struct net_backend {
	const struct net_backend_ops *ops;
	struct net_backend_peer peer;
};

/* Opens the tap device (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR). */
__attribute__((warn_unused_result)) int net_tap_create(struct net_backend **out, const char *ifname,
						       struct vmon_error *err);
/* Opens and closes the tap device: lets the CLI report a bad one first. */
__attribute__((warn_unused_result)) int net_tap_check(const char *ifname, struct vmon_error *err);

/* libslirp: NAT for the guest, the forwards in spec. */
__attribute__((warn_unused_result)) int
net_slirp_create(struct net_backend **out, const struct net_spec *spec, struct vmon_error *err);

/* Tests and fuzzing: every frame sent comes back to the guest. */
__attribute__((warn_unused_result)) int net_loop_create(struct net_backend **out,
							struct vmon_error *err);

#endif
