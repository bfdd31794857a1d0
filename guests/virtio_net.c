/* SPDX-License-Identifier: MIT */
/*
 * virtio_net: drives vmon's virtio-net (1af4:1041) with a tiny Ethernet,
 * ARP, IPv4 and UDP of its own. Command line:
 *   mode=user port=P [fwd=G] [blocked=1]
 *       ARP for the gateway 10.0.2.2 (libslirp), send a UDP datagram from
 *       10.0.2.15:40000 to 10.0.2.2:P (the host's 127.0.0.1:P) and check
 *       that the host's echo comes back. With fwd=G, then print "ready"
 *       and wait for the TCP SYN that a host connection to a forwarded
 *       port makes libslirp send to port G. With blocked=1 (vmon's
 *       host-loopback=off) the datagram must NOT reach the host: the
 *       guest waits for libslirp's ICMP destination unreachable about it
 *       and fails if the echo comes back instead.
 *   mode=tap
 *       broadcast a frame of EtherType 0x88b5 (local experimental) with
 *       "VMON-TAP-PING" and wait for one with "VMON-TAP-PONG".
 * ARP requests for 10.0.2.15 are answered all along. Prints SUCCESS.
 */
#include "virtio_guest.h"

#define RXBUF	    2048
#define VNET_HDR    12
#define ETH_ARP	    0x0806
#define ETH_IP	    0x0800
#define ETH_TEST    0x88b5

static u8 rings[2][3][4096] __attribute__((aligned(4096)));
static u8 rxbuf[QSZ][RXBUF] __attribute__((aligned(4096)));
static u8 txbuf[RXBUF] __attribute__((aligned(64)));
static struct vdev d;
static struct gvq rxq, txq;
static u8 mac[6], gw_mac[6];
static bool have_gw;
static const u8 my_ip[4] = {10, 0, 2, 15}, gw_ip[4] = {10, 0, 2, 2};
static const u8 bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void put16(u8 *p, u16 v) { p[0] = (u8)(v >> 8), p[1] = (u8)v; }
static u16 get16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }

static void post_rx(u16 i)
{
	rxq.desc[i] = (struct vdesc){(u64)(uintptr_t)rxbuf[i], RXBUF, VD_WRITE, 0};
	gvq_add(&rxq, i);
}

/* Sends the frame in txbuf + VNET_HDR (len bytes) and waits for the
 * device to take it. */
static void send_frame(u32 len)
{
	memset(txbuf, 0, VNET_HDR);
	gvq_send_wait(&d, &txq, txbuf, VNET_HDR + len, "transmit");
}

static u8 *eth(const u8 *dst, u16 type)
{
	u8 *f = txbuf + VNET_HDR;
	memcpy(f, dst, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, type);
	return f + 14;
}

static void send_arp(u16 op, const u8 *tha, const u8 *tpa)
{
	u8 *a = eth(op == 1 ? bcast : tha, ETH_ARP);
	put16(a, 1);
	put16(a + 2, ETH_IP);
	a[4] = 6, a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, mac, 6);
	memcpy(a + 14, my_ip, 4);
	memcpy(a + 18, op == 1 ? (const u8 *)"\0\0\0\0\0\0" : tha, 6);
	memcpy(a + 24, tpa, 4);
	send_frame(14 + 28);
}

static u16 ip_csum(const u8 *h)
{
	u32 sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += get16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

static void send_udp(u16 sport, u16 dport, const char *msg, u32 n)
{
	u8 *ip = eth(gw_mac, ETH_IP);
	memset(ip, 0, 28);
	ip[0] = 0x45;
	put16(ip + 2, (u16)(28 + n));
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, my_ip, 4);
	memcpy(ip + 16, gw_ip, 4);
	put16(ip + 10, ip_csum(ip));
	u8 *udp = ip + 20;
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (u16)(8 + n));
	memcpy(udp + 8, msg, n);
	send_frame(14 + 28 + n);
}

/* What the receive loop is looking for. */
enum want { W_ARP_REPLY, W_UDP, W_SYN, W_PONG, W_UDP_OR_UNREACH };
static int unreach_code = -1; /* W_UDP_OR_UNREACH: the ICMP code, if that came */
static const char *udp_msg = "vmon-udp-echo-1234";
static u16 want_port;

/* Handles one received frame; returns true if it is what w wants. */
static bool handle(const u8 *f, u32 len, enum want w)
{
	if (len < 14)
		return false;
	u16 type = get16(f + 12);
	const u8 *p = f + 14;
	if (type == ETH_ARP && len >= 14 + 28 && memcmp(p + 24, my_ip, 4) == 0) {
		if (get16(p + 6) == 1) {
			u8 sha[6], spa[4];
			memcpy(sha, p + 8, 6);
			memcpy(spa, p + 14, 4);
			send_arp(2, sha, spa);
			return false;
		}
		if (get16(p + 6) == 2 && memcmp(p + 14, gw_ip, 4) == 0) {
			memcpy(gw_mac, p + 8, 6);
			have_gw = true;
			return w == W_ARP_REPLY;
		}
	}
	if (type == ETH_IP && len >= 14 + 20 + 8 && memcmp(p + 16, my_ip, 4) == 0) {
		unsigned ihl = (p[0] & 15u) * 4;
		const u8 *l4 = p + ihl;
		/* ICMP destination unreachable about our datagram: the quoted
		 * IP header (20 bytes, ours has no options) and UDP ports. */
		if (w == W_UDP_OR_UNREACH && p[9] == 1 && len >= 14 + ihl + 8 + 28 && l4[0] == 3 &&
		    l4[8 + 9] == 17 && get16(l4 + 8 + 20) == 40000 &&
		    get16(l4 + 8 + 22) == want_port) {
			unreach_code = l4[1];
			return true;
		}
		if ((w == W_UDP || w == W_UDP_OR_UNREACH) && p[9] == 17 && get16(l4) == want_port &&
		    get16(l4 + 2) == 40000) {
			u32 n = get16(l4 + 4) - 8u;
			if (n != strlen(udp_msg) || memcmp(l4 + 8, udp_msg, n) != 0)
				rt_fail("UDP echo differs (%u bytes)", n);
			return true;
		}
		if (w == W_SYN && p[9] == 6 && get16(l4 + 2) == want_port && (l4[13] & 0x02))
			return true;
	}
	if (w == W_PONG && type == ETH_TEST && len >= 14 + 13 && memcmp(p, "VMON-TAP-PONG", 13) == 0)
		return true;
	return false;
}

static void wait_for(enum want w, const char *what)
{
	for (u64 t0 = rdtsc(); !rt_waited_too_long(t0);) {
		u16 id;
		u32 len;
		if (!gvq_get(&rxq, &id, &len)) {
			cpu_relax();
			continue;
		}
		if (id >= QSZ || len < VNET_HDR || len > RXBUF)
			rt_fail("bad used entry: id %u len %u", id, len);
		if (rxbuf[id][10] != 1)
			rt_fail("num_buffers is %u, want 1", rxbuf[id][10]);
		bool hit = handle(rxbuf[id] + VNET_HDR, len - VNET_HDR, w);
		post_rx(id);
		gvq_kick(&d, &rxq);
		if (hit)
			return;
	}
	rt_fail("timed out waiting for %s", what);
}

void kmain(void)
{
	kputs("virtio_net: a virtio-net NIC\n");
	int slot = pci_find(0x1af4, 0x1041, 0);
	if (slot < 0)
		rt_fail("no virtio-net device");
	rt_set_irq_handler(MSI_VECTOR, msi_handler);
	lapic_enable();
	vdev_probe(&d, slot);
	const u64 want = VF_VERSION_1 | VF_EVENT_IDX | (1ull << 5) | (1ull << 16);
	if (!vdev_begin(&d, want))
		rt_fail("FEATURES_OK refused");
	if (!(d.features & (1ull << 5)))
		rt_fail("no MAC feature");
	for (int i = 0; i < 6; i++)
		mac[i] = mr8(d.devcfg + (u64)i);
	if (!(mr16(d.devcfg + 6) & 1))
		rt_fail("link is down");
	kprintf("mac=%02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1], mac[2], mac[3], mac[4],
		mac[5]);
	gvq_setup(&d, 0, &rxq, rings[0][0]);
	gvq_setup(&d, 1, &txq, rings[1][0]);
	for (u16 i = 0; i < QSZ; i++)
		post_rx(i);
	vdev_ready(&d);
	gvq_kick(&d, &rxq);

	if (cmdline_has("mode=tap")) {
		u8 *p = eth(bcast, ETH_TEST);
		memcpy(p, "VMON-TAP-PING", 13);
		send_frame(14 + 46); /* the minimum payload */
		kputs("sent VMON-TAP-PING\n");
		wait_for(W_PONG, "VMON-TAP-PONG");
		kputs("tap: ok\n");
	} else {
		send_arp(1, bcast, gw_ip);
		wait_for(W_ARP_REPLY, "the gateway's ARP reply");
		kprintf("gateway mac=%02x:%02x:%02x:%02x:%02x:%02x\n", gw_mac[0], gw_mac[1],
			gw_mac[2], gw_mac[3], gw_mac[4], gw_mac[5]);
		want_port = (u16)cmdline_get_u64("port", 0);
		if (!want_port)
			rt_fail("no port=P on the command line");
		send_udp(40000, want_port, udp_msg, (u32)strlen(udp_msg));
		if (cmdline_get_u64("blocked", 0)) {
			wait_for(W_UDP_OR_UNREACH, "the UDP echo or an ICMP unreachable");
			if (unreach_code < 0)
				rt_fail("the UDP echo came back: the host's loopback is reachable");
			kprintf("udp to 10.0.2.2: blocked (ICMP unreachable, code %d)\n",
				unreach_code);
			rt_pass();
		}
		wait_for(W_UDP, "the UDP echo");
		kputs("udp echo: ok\n");
		u64 fwd = cmdline_get_u64("fwd", 0);
		if (fwd) {
			want_port = (u16)fwd;
			kputs("ready\n");
			wait_for(W_SYN, "a forwarded connection's SYN");
			kprintf("hostfwd: SYN to port %lu\n", fwd);
		}
	}
	if (vdev_status(&d) & VS_NEEDS_RESET)
		rt_fail("device wants a reset");
	rt_pass();
}
