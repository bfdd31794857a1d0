/* SPDX-License-Identifier: MIT */
/*
 * virtio_vsock: drives vmon's virtio-vsock (1af4:1053) with its own
 * minimal stream-socket code. Command line: cid=N (the --vsock CID).
 *   1. Guest to host: connects to host port 5000 from port 7000, sends
 *      "ping from the guest", expects the same bytes back (the test's
 *      echo server on PATH_5000), shuts down and waits for vmon's RST.
 *   2. Host to guest: prints "listening", accepts a connection to port
 *      1234 (a host client's "CONNECT 1234"), echoes every byte back until
 *      the host shuts its sending side, then shuts down fully and waits
 *      for RST. The guest's receive buffer (buf_alloc) is 64 KiB and it
 *      reports what it consumed (fwd_cnt) in every packet, so a host
 *      sending more than 64 KiB depends on vmon honouring the credit.
 * Prints SUCCESS.
 */
#include "virtio_guest.h"

#define RXBUF	    4096
#define HDR	    44
#define GUEST_BUF   65536

#define OP_REQUEST	  1
#define OP_RESPONSE	  2
#define OP_RST		  3
#define OP_SHUTDOWN	  4
#define OP_RW		  5
#define OP_CREDIT_UPDATE  6
#define OP_CREDIT_REQUEST 7

struct hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static u8 rings[3][3][4096] __attribute__((aligned(4096)));
static u8 rxbuf[QSZ][RXBUF] __attribute__((aligned(4096)));
static u8 evbuf[QSZ][8];
static u8 txbuf[RXBUF] __attribute__((aligned(64)));
static struct vdev d;
static struct gvq rxq, txq, evq;
static u64 cid;
static u32 fwd_cnt; /* bytes consumed on the current connection */
static u32 host_buf_alloc, host_fwd_cnt, sent;

static void send_pkt(u16 op, u32 sport, u32 dport, u32 flags, const void *data, u32 len)
{
	struct hdr *h = (struct hdr *)txbuf;
	*h = (struct hdr){cid, 2, sport, dport, len, 1, op, flags, GUEST_BUF, fwd_cnt};
	if (len)
		memcpy(txbuf + HDR, data, len);
	gvq_send_wait(&d, &txq, txbuf, HDR + len, "transmit");
}

static void post_rx(u16 i)
{
	rxq.desc[i] = (struct vdesc){(u64)(uintptr_t)rxbuf[i], RXBUF, VD_WRITE, 0};
	gvq_add(&rxq, i);
}

/* The next packet: header into *h, payload copied to data (at most
 * RXBUF - HDR bytes). Fails the test on timeout. */
static u32 recv_pkt(struct hdr *h, u8 *data, const char *what)
{
	for (u64 t0 = rdtsc(); !rt_waited_too_long(t0);) {
		u16 id;
		u32 len;
		if (!gvq_get(&rxq, &id, &len)) {
			cpu_relax();
			continue;
		}
		if (id >= QSZ || len < HDR || len > RXBUF)
			rt_fail("bad used entry: id %u len %u", id, len);
		memcpy(h, rxbuf[id], HDR);
		if (h->len != len - HDR || h->dst_cid != cid || h->src_cid != 2 || h->type != 1)
			rt_fail("bad packet: op %u len %u/%u cid %lu->%lu", h->op, h->len, len,
				h->src_cid, h->dst_cid);
		if (h->len)
			memcpy(data, rxbuf[id] + HDR, h->len);
		post_rx(id);
		gvq_kick(&d, &rxq);
		host_buf_alloc = h->buf_alloc;
		host_fwd_cnt = h->fwd_cnt;
		return h->len;
	}
	rt_fail("timed out waiting for %s", what);
}

static u8 data[RXBUF];

static void guest_to_host(void)
{
	struct hdr h;
	const char *msg = "ping from the guest";
	u32 n = (u32)strlen(msg);
	fwd_cnt = 0;
	send_pkt(OP_REQUEST, 7000, 5000, 0, 0, 0);
	recv_pkt(&h, data, "the host's RESPONSE");
	if (h.op != OP_RESPONSE || h.src_port != 5000 || h.dst_port != 7000)
		rt_fail("connect to host port 5000: op %u", h.op);
	send_pkt(OP_RW, 7000, 5000, 0, msg, n);
	u8 got[64];
	u32 have = 0;
	while (have < n) {
		u32 k = recv_pkt(&h, data, "the echo");
		if (h.op == OP_CREDIT_UPDATE)
			continue;
		if (h.op != OP_RW || have + k > n)
			rt_fail("echo: op %u len %u", h.op, k);
		memcpy(got + have, data, k);
		have += k;
		fwd_cnt += k;
	}
	if (memcmp(got, msg, n) != 0)
		rt_fail("the echo differs");
	send_pkt(OP_SHUTDOWN, 7000, 5000, 3, 0, 0);
	do
		recv_pkt(&h, data, "RST after SHUTDOWN");
	while (h.op != OP_RST);
	kputs("guest-to-host: ok\n");
}

static void host_to_guest(void)
{
	struct hdr h;
	kputs("listening\n");
	do
		recv_pkt(&h, data, "a host connection");
	while (h.op != OP_REQUEST);
	if (h.dst_port != 1234)
		rt_fail("REQUEST for port %u", h.dst_port);
	u32 hp = h.src_port;
	fwd_cnt = 0;
	sent = 0;
	send_pkt(OP_RESPONSE, 1234, hp, 0, 0, 0);
	u64 echoed = 0;
	for (;;) {
		u32 k = recv_pkt(&h, data, "data from the host");
		if (h.src_port != hp || h.dst_port != 1234)
			rt_fail("packet for another connection");
		if (h.op == OP_RW) {
			fwd_cnt += k;
			/* The host's credit holds: vmon's buffer is large. */
			if (sent - host_fwd_cnt + k > host_buf_alloc)
				rt_fail("no credit to echo %u bytes", k);
			send_pkt(OP_RW, 1234, hp, 0, data, k);
			sent += k;
			echoed += k;
		} else if (h.op == OP_CREDIT_REQUEST) {
			send_pkt(OP_CREDIT_UPDATE, 1234, hp, 0, 0, 0);
		} else if (h.op == OP_SHUTDOWN) {
			break;
		} else if (h.op != OP_CREDIT_UPDATE) {
			rt_fail("unexpected op %u", h.op);
		}
	}
	send_pkt(OP_SHUTDOWN, 1234, hp, 3, 0, 0);
	do
		recv_pkt(&h, data, "RST after SHUTDOWN");
	while (h.op != OP_RST);
	kprintf("host-to-guest: echoed %lu bytes\n", echoed);
}

void kmain(void)
{
	kputs("virtio_vsock: a virtio-vsock device\n");
	int slot = pci_find(0x1af4, 0x1053, 0);
	if (slot < 0)
		rt_fail("no virtio-vsock device");
	rt_set_irq_handler(MSI_VECTOR, msi_handler);
	lapic_enable();
	vdev_probe(&d, slot);
	if (!vdev_begin(&d, VF_VERSION_1 | VF_EVENT_IDX))
		rt_fail("FEATURES_OK refused");
	cid = (u64)mr32(d.devcfg) | (u64)mr32(d.devcfg + 4) << 32;
	kprintf("guest cid=%lu\n", cid);
	if (cid != cmdline_get_u64("cid", 0))
		rt_fail("guest_cid is %lu, want cid=%lu", cid, cmdline_get_u64("cid", 0));
	gvq_setup(&d, 0, &rxq, rings[0][0]);
	gvq_setup(&d, 1, &txq, rings[1][0]);
	gvq_setup(&d, 2, &evq, rings[2][0]);
	for (u16 i = 0; i < QSZ; i++) {
		post_rx(i);
		evq.desc[i] = (struct vdesc){(u64)(uintptr_t)evbuf[i], 8, VD_WRITE, 0};
		gvq_add(&evq, i);
	}
	vdev_ready(&d);
	gvq_kick(&d, &rxq);
	gvq_kick(&d, &evq);

	guest_to_host();
	host_to_guest();
	if (vdev_status(&d) & VS_NEEDS_RESET)
		rt_fail("device wants a reset");
	rt_pass();
}
