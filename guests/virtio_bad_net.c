/* SPDX-License-Identifier: MIT */
/*
 * virtio_bad_net: one malicious virtio-net or virtio-vsock queue per run,
 * chosen by case=NAME. vmon must survive, answer as designed, and the
 * device must work afterwards (after a reset where it asked for one).
 *
 *   virtio-net (--net user)                          expected
 *   net_tx_loop     transmit chain 0 -> 1 -> 0        chain returned
 *   net_tx_short    transmit buffer of 8 bytes        chain returned
 *   net_tx_write    device-writable transmit buffer   chain returned
 *   net_tx_ram      transmit buffer past the end of RAM  chain returned
 *   net_rx_ro       read-only receive buffer          completed, length 0
 *   net_rx_head     receive ring names head QSZ + 3   NEEDS_RESET
 *   net_tx_jump     transmit index moved by QSZ + 2   NEEDS_RESET
 *   "works": an ARP request for 10.0.2.2 gets libslirp's reply.
 *
 *   virtio-vsock (--vsock 3,unix:PATH)
 *   vs_tx_short     transmit buffer shorter than a header  chain returned
 *   vs_rw_long      RW whose len exceeds its buffer   RST
 *   vs_no_conn      RW for no connection              RST
 *   vs_dgram        REQUEST of type 2 (datagram)      RST
 *   vs_credit       600 KiB to a host port that never reads,
 *                   ignoring vmon's 256 KiB credit    RST
 *   vs_rx_head      receive ring names head QSZ + 3   NEEDS_RESET
 *   "works": a REQUEST to host port 9 (nothing there) gets RST.
 * Prints "outcome=..." and SUCCESS.
 */
#include "virtio_guest.h"

#define RXBUF	    2048

static u8 rings[3][3][4096] __attribute__((aligned(4096)));
static u8 rxbuf[QSZ][RXBUF] __attribute__((aligned(4096)));
static u8 txbuf[65536 + 64] __attribute__((aligned(4096)));
static u8 evbuf[QSZ][8];
static struct vdev d;
static struct gvq rxq, txq, evq;
static bool vsock;
static u64 want;

static u64 ram_end(void)
{
	u32 n;
	const struct hvm_memmap_entry *m = rt_memmap(&n);
	u64 end = 0;
	for (u32 i = 0; i < n; i++)
		if (m[i].type == MEMMAP_RAM && m[i].addr + m[i].size > end &&
		    m[i].addr < 0x100000000ull)
			end = m[i].addr + m[i].size;
	return end;
}

static u16 rx_flags = VD_WRITE;
static bool bad_first_rx; /* init posts head QSZ + 3 first */

static void post_rx(u16 i)
{
	rxq.desc[i] = (struct vdesc){(u64)(uintptr_t)rxbuf[i], RXBUF, rx_flags, 0};
	gvq_add(&rxq, i);
}

static void init(void)
{
	if (!vdev_begin(&d, want))
		rt_fail("FEATURES_OK refused");
	gvq_setup(&d, 0, &rxq, rings[0][0]);
	gvq_setup(&d, 1, &txq, rings[1][0]);
	if (vsock) {
		gvq_setup(&d, 2, &evq, rings[2][0]);
		for (u16 i = 0; i < QSZ; i++) {
			evq.desc[i] = (struct vdesc){(u64)(uintptr_t)evbuf[i], 8, VD_WRITE, 0};
			gvq_add(&evq, i);
		}
	}
	if (bad_first_rx)
		gvq_add(&rxq, QSZ + 3);
	for (u16 i = 0; i < QSZ - bad_first_rx; i++)
		post_rx(i);
	vdev_ready(&d);
	gvq_kick(&d, &rxq);
}

/* Waits for the device to return a transmit chain; -2 on NEEDS_RESET. */
static long tx_wait(void)
{
	u16 id;
	u32 len;
	for (u64 t0 = rdtsc(); !rt_waited_too_long(t0);) {
		if (gvq_get(&txq, &id, &len))
			return len;
		if (vdev_status(&d) & VS_NEEDS_RESET)
			return -2;
		cpu_relax();
	}
	rt_fail("transmit chain never returned");
}

static void tx_desc(u16 head, u64 addr, u32 len, u16 flags, u16 next)
{
	txq.desc[head] = (struct vdesc){addr, len, flags, next};
}

static void tx_post(u16 head)
{
	gvq_add(&txq, head);
	gvq_kick(&d, &txq);
}

static void expect_reset(const char *what)
{
	for (u64 t0 = rdtsc(); !rt_waited_too_long(t0) && !(vdev_status(&d) & VS_NEEDS_RESET);)
		cpu_relax();
	if (!(vdev_status(&d) & VS_NEEDS_RESET))
		rt_fail("%s: no NEEDS_RESET (status %x)", what, vdev_status(&d));
	kprintf("outcome=needs-reset (%s)\n", what);
	bad_first_rx = false;
	init();
}

/* Next received buffer: its id and length. */
static u32 rx_next(u16 *id, const char *what)
{
	u32 len;
	for (u64 t0 = rdtsc(); !rt_waited_too_long(t0);) {
		if (gvq_get(&rxq, id, &len)) {
			if (*id >= QSZ)
				rt_fail("used id %u", *id);
			return len;
		}
		cpu_relax();
	}
	rt_fail("timed out waiting for %s", what);
}

/* ---- virtio-net ---- */

static const u8 my_ip[4] = {10, 0, 2, 15}, gw_ip[4] = {10, 0, 2, 2};

static void net_arp_works(void)
{
	u8 *f = txbuf;
	memset(f, 0, 12 + 42);
	u8 *e = f + 12;
	memset(e, 0xff, 6);
	for (int i = 0; i < 6; i++)
		e[6 + i] = mr8(d.devcfg + (u64)i);
	e[12] = 0x08, e[13] = 0x06;
	u8 *a = e + 14;
	a[1] = 1, a[2] = 8, a[4] = 6, a[5] = 4, a[7] = 1;
	memcpy(a + 8, e + 6, 6);
	memcpy(a + 14, my_ip, 4);
	memcpy(a + 24, gw_ip, 4);
	tx_desc(0, (u64)(uintptr_t)f, 12 + 42, 0, 0);
	tx_post(0);
	if (tx_wait() < 0)
		rt_fail("ARP request not sent");
	for (;;) {
		u16 id;
		u32 len = rx_next(&id, "the gateway's ARP reply");
		const u8 *r = rxbuf[id] + 12;
		bool hit = len >= 12 + 42 && r[12] == 8 && r[13] == 6 && r[21] == 2 &&
			   memcmp(r + 28, gw_ip, 4) == 0;
		post_rx(id);
		gvq_kick(&d, &rxq);
		if (hit)
			return;
	}
}

static void net_case(void)
{
	const u64 buf = (u64)(uintptr_t)txbuf;
	memset(txbuf, 0, 64);
	if (cmdline_has("case=net_tx_loop")) {
		tx_desc(0, buf, 12, VD_NEXT, 1);
		tx_desc(1, buf + 12, 60, VD_NEXT, 0);
		tx_post(0);
		kprintf("outcome=returned (loop) len %ld\n", tx_wait());
	} else if (cmdline_has("case=net_tx_short")) {
		tx_desc(0, buf, 8, 0, 0);
		tx_post(0);
		kprintf("outcome=returned (short) len %ld\n", tx_wait());
	} else if (cmdline_has("case=net_tx_write")) {
		tx_desc(0, buf, 64, VD_WRITE, 0);
		tx_post(0);
		kprintf("outcome=returned (writable) len %ld\n", tx_wait());
	} else if (cmdline_has("case=net_tx_ram")) {
		tx_desc(0, ram_end() - 32, 64, 0, 0);
		tx_post(0);
		kprintf("outcome=returned (past RAM) len %ld\n", tx_wait());
	} else if (cmdline_has("case=net_rx_ro")) {
		/* Every receive buffer read-only: the ARP reply finds none. */
		mw8(d.common + CC_STATUS, 0);
		rx_flags = 0;
		init();
		rx_flags = VD_WRITE;
		u16 id;
		u32 len = rx_next(&id, "the read-only buffer back");
		if (len != 0)
			rt_fail("read-only receive buffer: used length %u", len);
		kputs("outcome=failed-request (read-only receive buffer)\n");
		mw8(d.common + CC_STATUS, 0);
		init();
	} else if (cmdline_has("case=net_rx_head")) {
		/* The device takes receive buffers as soon as they come. */
		mw8(d.common + CC_STATUS, 0);
		bad_first_rx = true;
		init();
		expect_reset("receive head out of range");
	} else if (cmdline_has("case=net_tx_jump")) {
		txq.avail_idx = QSZ + 1;
		tx_desc(0, buf, 60, 0, 0);
		tx_post(0);
		expect_reset("transmit index jump");
	} else {
		rt_fail("unknown or missing case=NAME");
	}
	net_arp_works();
	kputs("device works afterwards\n");
}

/* ---- virtio-vsock ---- */

struct vhdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

static u64 cid;

static void vs_send(u16 type, u16 op, u32 sport, u32 dport, u32 hlen, u32 payload)
{
	struct vhdr *h = (struct vhdr *)txbuf;
	*h = (struct vhdr){cid, 2, sport, dport, hlen, type, op, 0, 65536, 0};
	tx_desc(0, (u64)(uintptr_t)txbuf, 44 + payload, 0, 0);
	tx_post(0);
	if (tx_wait() < 0)
		rt_fail("vsock transmit: NEEDS_RESET");
}

/* Waits for a packet with op to (sport -> dport). */
static void vs_expect(u16 op, u32 sport, u32 dport, const char *what)
{
	for (;;) {
		u16 id;
		u32 len = rx_next(&id, what);
		struct vhdr h;
		memcpy(&h, rxbuf[id], sizeof(h));
		post_rx(id);
		gvq_kick(&d, &rxq);
		if (len >= 44 && h.op == op && h.src_port == sport && h.dst_port == dport)
			return;
		if (len >= 44 && h.op == 3 && op != 3)
			rt_fail("%s: RST instead", what);
	}
}

static void vsock_case(void)
{
	cid = (u64)mr32(d.devcfg) | (u64)mr32(d.devcfg + 4) << 32;
	if (cmdline_has("case=vs_tx_short")) {
		tx_desc(0, (u64)(uintptr_t)txbuf, 20, 0, 0);
		tx_post(0);
		kprintf("outcome=returned (short header) len %ld\n", tx_wait());
	} else if (cmdline_has("case=vs_rw_long")) {
		vs_send(1, 5, 7001, 9, 4000, 10);
		vs_expect(3, 9, 7001, "RST");
		kputs("outcome=rst (RW longer than its buffer)\n");
	} else if (cmdline_has("case=vs_no_conn")) {
		vs_send(1, 5, 7002, 4444, 10, 10);
		vs_expect(3, 4444, 7002, "RST");
		kputs("outcome=rst (RW for no connection)\n");
	} else if (cmdline_has("case=vs_dgram")) {
		vs_send(2, 1, 7003, 4444, 0, 0);
		vs_expect(3, 4444, 7003, "RST");
		kputs("outcome=rst (datagram type)\n");
	} else if (cmdline_has("case=vs_credit")) {
		vs_send(1, 1, 7004, 5000, 0, 0);
		vs_expect(2, 5000, 7004, "RESPONSE from the host's listener");
		/* 10 x 60 KiB with no regard for credit; the host never reads. */
		for (int i = 0; i < 10; i++)
			vs_send(1, 5, 7004, 5000, 61440, 61440);
		vs_expect(3, 5000, 7004, "RST for exceeding the credit");
		kputs("outcome=rst (beyond the credit)\n");
	} else if (cmdline_has("case=vs_rx_head")) {
		/* The device takes a receive buffer when it has something to
		 * send: the RST for a port with no listener. */
		mw8(d.common + CC_STATUS, 0);
		bad_first_rx = true;
		init();
		struct vhdr *h = (struct vhdr *)txbuf;
		*h = (struct vhdr){cid, 2, 7005, 9, 0, 1, 1, 0, 65536, 0};
		tx_desc(0, (u64)(uintptr_t)txbuf, 44, 0, 0);
		tx_post(0);
		expect_reset("receive head out of range");
	} else {
		rt_fail("unknown or missing case=NAME");
	}
	vs_send(1, 1, 7100, 9, 0, 0);
	vs_expect(3, 9, 7100, "RST for a port with no listener");
	kputs("device works afterwards\n");
}

void kmain(void)
{
	kputs("virtio_bad_net: a malicious virtio-net / virtio-vsock queue\n");
	vsock = cmdline_has("dev=vsock");
	int slot = pci_find(0x1af4, vsock ? 0x1053 : 0x1041, 0);
	if (slot < 0)
		rt_fail("no %s device", vsock ? "virtio-vsock" : "virtio-net");
	rt_set_irq_handler(MSI_VECTOR, msi_handler);
	lapic_enable();
	vdev_probe(&d, slot);
	want = VF_VERSION_1 | (vsock ? 0 : (1ull << 5));
	init();
	if (vsock)
		vsock_case();
	else
		net_case();
	rt_pass();
}
