/* SPDX-License-Identifier: MIT */
/* --net / --vsock parsing, virtio-net end to end on the loopback back
 * end (a frame the guest sends comes back with vmon's header), its
 * announce after a restore (the status bit and the control queue's ack,
 * or a RARP), the saved state of the older two-queue virtio-net (before
 * the control queue) restoring, and a
 * virtio-vsock connection closed by the guest while its last bytes still
 * wait for room in the host socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/specs.h"
#include "core/guest_mem.h"
#include "devices/virtio/net_backend.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_state.h"
#include "virtq_driver.h"
#include "devices/virtio/virtio_vsock.h"

static void net_spec_good(void **state)
{
	struct net_spec s;
	struct vmon_error err;
	assert_int_equal(net_spec_parse("tap:vmtap0", &s, &err), 0);
	assert_int_equal(s.kind, NET_TAP);
	assert_string_equal(s.ifname, "vmtap0");
	assert_false(s.has_mac);
	assert_int_equal(net_spec_parse("user,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:53-"
					"10.0.2.16:5353,mac=52:54:00:aa:bb:cc",
					&s, &err),
			 0);
	assert_int_equal(s.kind, NET_USER);
	assert_int_equal(s.nfwd, 2);
	assert_false(s.fwd[0].udp);
	assert_int_equal(s.fwd[0].host_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(s.fwd[0].host_port, 2222);
	assert_int_equal(s.fwd[0].guest_addr.s_addr, htonl(0x0a00020f));
	assert_int_equal(s.fwd[0].guest_port, 22);
	assert_true(s.fwd[1].udp);
	assert_int_equal(s.fwd[1].host_addr.s_addr, htonl(0x7f000001));
	assert_int_equal(s.fwd[1].guest_addr.s_addr, htonl(0x0a000210));
	assert_int_equal(s.fwd[1].guest_port, 5353);
	assert_true(s.has_mac);
	assert_int_equal(s.mac[5], 0xcc);
}

static void net_spec_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"tap",
		"tap:",
		"tap:0123456789abcdef",
		"tap:a/b",
		"bridge",
		"user,",
		"user,hostfwd=tcp::0-:22",
		"user,hostfwd=tcp::65536-:22",
		"user,hostfwd=sctp::1-:2",
		"user,hostfwd=tcp:1.2.3:1-:2",
		"user,hostfwd=tcp::1:2",
		"user,hostfwd=tcp::1-2",
		"tap:x,hostfwd=tcp::1-:2",
		"user,mac=01:00:00:00:00:01",
		"user,mac=52:54:00:00:00",
		"user,mac=52:54:00:00:00:0g",
		"user,speed=10",
	};
	struct net_spec s;
	struct vmon_error err;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = 0;
		if (net_spec_parse(bad[i], &s, &err) != -1)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(strncmp(err.msg, "--net", 5) == 0);
	}
}

static void vsock_spec(void **state)
{
	struct vsock_spec s;
	struct vmon_error err;
	assert_int_equal(vsock_spec_parse("3,unix:/tmp/v.sock", &s, &err), 0);
	assert_int_equal(s.cid, 3);
	assert_string_equal(s.path, "/tmp/v.sock");
	assert_int_equal(vsock_spec_parse("4294967294,unix:x", &s, &err), 0);
	static const char *const bad[] = {"",	       "3",	  "2,unix:x", "4294967295,unix:x",
					  "-3,unix:x", "3,unix:", "3,tcp:1",  "x,unix:y",
					  "3;unix:x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (vsock_spec_parse(bad[i], &s, &err) != -1)
			fail_msg("accepted '%s'", bad[i]);
	char longp[200] = "3,unix:/";
	memset(longp + 8, 'a', 150);
	assert_int_equal(vsock_spec_parse(longp, &s, &err), -1);
}

static void net_loopback(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 1 << 20, &err), 0);
	uint8_t *ram = gm_ptr(&gm, 0, 1 << 20);
	struct virtio_net *n;
	const struct net_spec spec = {.kind = NET_LOOP};
	const uint8_t mac[6] = {0x52, 0x54, 0, 1, 2, 3};
	assert_int_equal(virtio_net_create(&n, &spec, mac, &gm, NULL, NULL, NULL, &err), 0);
	struct virtio_device *vd = virtio_net_transport(n);
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_DEVCFG_OFF + 5, 1), 3); /* mac[5] */
	virtio_bar0_write(vd, 0x14, 1, 3);
	virtio_bar0_write(vd, 0x08, 4, 1);
	virtio_bar0_write(vd, 0x0c, 4, 1); /* VERSION_1 */
	virtio_bar0_write(vd, 0x14, 1, 0xb);
	vq_setup(vd, 0, 0x1000);
	vq_setup(vd, 1, 0x2000);
	virtio_bar0_write(vd, 0x14, 1, 0xf);

	/* A 60-byte frame after a (junk) 12-byte header; a 2 KiB rx buffer. */
	memset(ram + 0x10000, 0x77, 12);
	for (int i = 0; i < 60; i++)
		ram[0x1000c + i] = (uint8_t)i;
	vq_put_desc(ram, 0x2000, 0, 0x10000, 72, 0);
	vq_post(ram, 0x2100, 0);
	vq_put_desc(ram, 0x1000, 0, 0x20000, 2048, VIRTQ_DESC_F_WRITE);
	vq_post(ram, 0x1100, 0);
	virtio_kick(vd, 1);
	virtio_net_poll(n);
	virtio_net_poll(n);

	uint16_t used_idx;
	uint32_t used_len;
	memcpy(&used_idx, ram + 0x2202, 2);
	assert_int_equal(used_idx, 1); /* the frame was sent */
	memcpy(&used_idx, ram + 0x1202, 2);
	assert_int_equal(used_idx, 1); /* and came back */
	memcpy(&used_len, ram + 0x1208, 4);
	assert_int_equal(used_len, 72);
	static const uint8_t hdr[12] = {[10] = 1}; /* vmon's own: num_buffers 1 */
	assert_memory_equal(ram + 0x20000, hdr, 12);
	assert_memory_equal(ram + 0x2000c, ram + 0x1000c, 60);
	assert_int_equal(virtio_net_rx_dropped(n), 0);

	/* A frame bigger than the next receive buffer is dropped, the buffer kept. */
	vq_put_desc(ram, 0x2000, 1, 0x10000, 12 + 1000, 0);
	vq_post(ram, 0x2100, 1);
	vq_put_desc(ram, 0x1000, 1, 0x20000, 512, VIRTQ_DESC_F_WRITE);
	vq_post(ram, 0x1100, 1);
	virtio_kick(vd, 1);
	virtio_net_poll(n);
	virtio_net_poll(n);
	memcpy(&used_idx, ram + 0x1202, 2);
	assert_int_equal(used_idx, 1);
	assert_int_equal(virtio_net_rx_dropped(n), 1);

	virtio_net_destroy(n);
	gm_destroy(&gm);
}

/* A device on the loopback back end, the driver up with features
 * (word 0) and VERSION_1, queues 0-2 at 0x1000, 0x2000, 0x3000. */
static struct virtio_net *net_up(struct guest_mem *gm, uint32_t features)
{
	struct vmon_error err;
	struct virtio_net *n;
	const struct net_spec spec = {.kind = NET_LOOP};
	const uint8_t mac[6] = {0x52, 0x54, 0, 1, 2, 3};
	assert_int_equal(virtio_net_create(&n, &spec, mac, gm, NULL, NULL, NULL, &err), 0);
	struct virtio_device *vd = virtio_net_transport(n);
	virtio_bar0_write(vd, 0x14, 1, 3);
	virtio_bar0_write(vd, 0x08, 4, 0);
	virtio_bar0_write(vd, 0x0c, 4, features);
	virtio_bar0_write(vd, 0x08, 4, 1);
	virtio_bar0_write(vd, 0x0c, 4, 1); /* VERSION_1 */
	virtio_bar0_write(vd, 0x14, 1, 0xb);
	vq_setup(vd, 0, 0x1000);
	vq_setup(vd, 1, 0x2000);
	vq_setup(vd, 2, 0x3000);
	virtio_bar0_write(vd, 0x14, 1, 0xf);
	assert_int_equal(virtio_bar0_read(vd, 0x14, 1), 0xf);
	return n;
}

/* One control command (class, cmd) in descriptors 2i, 2i+1 of queue 2;
 * returns the device's ack byte (0xee: none written). */
static uint8_t ctrl_cmd(struct virtio_net *n, uint8_t *ram, unsigned i, uint8_t class, uint8_t cmd)
{
	struct virtio_device *vd = virtio_net_transport(n);
	uint64_t buf = 0x30000 + 0x100 * i;
	ram[buf] = class;
	ram[buf + 1] = cmd;
	ram[buf + 0x80] = 0xee;
	vq_put_desc(ram, 0x3000, 2 * i, buf, 2, VIRTQ_DESC_F_NEXT);
	uint16_t next = (uint16_t)(2 * i + 1);
	memcpy(ram + 0x3000 + 16 * (2 * i) + 14, &next, 2);
	vq_put_desc(ram, 0x3000, 2 * i + 1, buf + 0x80, 1, VIRTQ_DESC_F_WRITE);
	vq_post(ram, 0x3100, (uint16_t)(2 * i));
	virtio_kick(vd, 2);
	virtio_net_poll(n);
	uint16_t used_idx;
	memcpy(&used_idx, ram + 0x3202, 2);
	assert_int_equal(used_idx, i + 1);
	return ram[buf + 0x80];
}

/* After a restore, a driver with GUEST_ANNOUNCE (and the control queue)
 * sees VIRTIO_NET_S_ANNOUNCE until it acks; other commands get ERR. */
static void net_announce_guest(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 1 << 20, &err), 0);
	uint8_t *ram = gm_ptr(&gm, 0, 1 << 20);
	struct virtio_net *n = net_up(&gm, (1u << 5) | (1u << 16) | (1u << 17) | (1u << 21));
	struct virtio_device *vd = virtio_net_transport(n);
	uint8_t gen = (uint8_t)virtio_bar0_read(vd, 0x15, 1);
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_DEVCFG_OFF + 6, 2), 1); /* LINK_UP */
	virtio_net_device.restored(n);
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_DEVCFG_OFF + 6, 2), 3); /* + ANNOUNCE */
	assert_int_not_equal(virtio_bar0_read(vd, 0x15, 1), gen);	     /* config changed */
	assert_int_equal(ctrl_cmd(n, ram, 0, 0, 0), 1); /* RX_PROMISC: ERR, bit kept */
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_DEVCFG_OFF + 6, 2), 3);
	assert_int_equal(ctrl_cmd(n, ram, 1, 3, 0), 0); /* ANNOUNCE_ACK: OK */
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_DEVCFG_OFF + 6, 2), 1);
	virtio_net_destroy(n);
	gm_destroy(&gm);
}

/* A driver without GUEST_ANNOUNCE: vmon sends a RARP for the MAC (the
 * loopback back end hands it back to the receive queue). */
static void net_announce_rarp(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 1 << 20, &err), 0);
	uint8_t *ram = gm_ptr(&gm, 0, 1 << 20);
	struct virtio_net *n = net_up(&gm, 1u << 5);
	struct virtio_device *vd = virtio_net_transport(n);
	vq_put_desc(ram, 0x1000, 0, 0x20000, 2048, VIRTQ_DESC_F_WRITE);
	vq_post(ram, 0x1100, 0);
	virtio_net_device.restored(n);
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_DEVCFG_OFF + 6, 2), 1); /* no bit */
	virtio_net_poll(n);
	virtio_net_poll(n);
	uint16_t used_idx;
	memcpy(&used_idx, ram + 0x1202, 2);
	assert_int_equal(used_idx, 1);
	const uint8_t *f = ram + 0x20000 + 12;
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t mac[6] = {0x52, 0x54, 0, 1, 2, 3};
	assert_memory_equal(f, bcast, 6);
	assert_memory_equal(f + 6, mac, 6);
	assert_int_equal(f[12], 0x80);
	assert_int_equal(f[13], 0x35); /* RARP */
	assert_int_equal(f[21], 3);    /* reverse request */
	assert_memory_equal(f + 22, mac, 6);
	virtio_net_destroy(n);
	gm_destroy(&gm);
}

/* A struct virtio_vsock_hdr (44 bytes, little-endian) at p. */
static void vsock_hdr(uint8_t *p, uint32_t src_port, uint32_t dst_port, uint32_t len, uint16_t op,
		      uint32_t flags)
{
	const uint64_t src_cid = 3, dst_cid = 2;
	const uint16_t type = 1;
	const uint32_t buf_alloc = 65536, fwd_cnt = 0;
	memcpy(p, &src_cid, 8);
	memcpy(p + 8, &dst_cid, 8);
	memcpy(p + 16, &src_port, 4);
	memcpy(p + 20, &dst_port, 4);
	memcpy(p + 24, &len, 4);
	memcpy(p + 28, &type, 2);
	memcpy(p + 30, &op, 2);
	memcpy(p + 32, &flags, 4);
	memcpy(p + 36, &buf_alloc, 4);
	memcpy(p + 40, &fwd_cnt, 4);
}

/* The virtio core's saved state: 37 header bytes, 36 per queue. */
#define VS_HDR 37
#define VS_Q   36

/* restore of blob (len bytes) into a fresh virtio-net; returns its result
 * and, on success, whether queue 2 (control) stayed off in *ctrl_on. */
static int net_restore_blob(struct guest_mem *gm, const uint8_t *blob, size_t len, bool *ctrl_on,
			    struct vmon_error *err)
{
	struct virtio_net *n;
	const struct net_spec spec = {.kind = NET_LOOP};
	const uint8_t mac[6] = {0x52, 0x54, 0, 1, 2, 3};
	assert_int_equal(virtio_net_create(&n, &spec, mac, gm, NULL, NULL, NULL, err), 0);
	struct virtio_device *vd = virtio_net_transport(n);
	struct state_reader r = state_reader_init(blob, len);
	int ret = virtio_dev_restore(vd, &r, VIRTIO_STATE_VERSION, err);
	if (ret == 0) {
		assert_int_equal(virtio_bar0_read(vd, 0x14, 1), 0xf); /* DRIVER_OK */
		assert_true(vd->vq[0].enabled && vd->vq[1].enabled);
		*ctrl_on = vd->vq[2].enabled;
	}
	virtio_net_destroy(n);
	return ret;
}

/* A restored device raises its saved interrupt and takes up what the
 * driver queued only in device_ops.restored, once the whole machine is
 * restored: the vCPUs' and interrupt controllers' saved state, restored
 * after the devices', would overwrite an interrupt raised before (a
 * migrated guest then waited forever for a disk request). */
static void net_restore_interrupt_after_restored(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 1 << 20, &err), 0);
	struct virtio_net *n = net_up(&gm, 1u << 5);
	virtio_config_changed(virtio_net_transport(n)); /* ISR: config change */
	struct state_writer w = {0};
	assert_int_equal(virtio_dev_save(virtio_net_transport(n), &w, &err), 0);
	virtio_net_destroy(n);

	const struct net_spec spec = {.kind = NET_LOOP};
	const uint8_t mac[6] = {0x52, 0x54, 0, 1, 2, 3};
	assert_int_equal(virtio_net_create(&n, &spec, mac, &gm, NULL, NULL, NULL, &err), 0);
	struct virtio_device *vd = virtio_net_transport(n);
	struct state_reader r = state_reader_init(w.buf, w.len);
	assert_int_equal(virtio_dev_restore(vd, &r, VIRTIO_STATE_VERSION, &err), 0);
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_ISR_OFF, 1), 0); /* not yet */
	virtio_net_device.restored(n);
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_ISR_OFF, 1), VIRTIO_ISR_CONFIG);
	virtio_net_destroy(n);
	state_writer_free(&w);
	gm_destroy(&gm);
}

/* A snapshot or stream from before the control queue: virtio-net with
 * two queues, offering neither CTRL_VQ nor GUEST_ANNOUNCE. It restores
 * (the control queue left off) as long as that is all that differs: the
 * old driver features may not name the new bits, and a two-queue state
 * must not claim the new features. */
static void net_restore_two_queue_state(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 1 << 20, &err), 0);
	struct virtio_net *n = net_up(&gm, 1u << 5); /* MAC only */
	struct state_writer w = {0};
	assert_int_equal(virtio_dev_save(virtio_net_transport(n), &w, &err), 0);
	virtio_net_destroy(n);
	assert_int_equal(w.len, VS_HDR + 3 * VS_Q);
	bool ctrl_on = true;
	/* Today's state restores as it is. */
	assert_int_equal(net_restore_blob(&gm, w.buf, w.len, &ctrl_on, &err), 0);
	assert_true(ctrl_on);

	/* The older device's: two queues, the two features not offered. */
	uint8_t old[VS_HDR + 2 * VS_Q];
	memcpy(old, w.buf, sizeof(old));
	uint32_t nq = 2;
	memcpy(old + 2, &nq, 4);
	uint64_t dev_f;
	memcpy(&dev_f, old + 6, 8);
	const uint64_t added = (1ULL << 17) | (1ULL << 21); /* CTRL_VQ, GUEST_ANNOUNCE */
	assert_int_equal(dev_f & added, added);
	dev_f &= ~added;
	memcpy(old + 6, &dev_f, 8);
	ctrl_on = true;
	err.msg[0] = 0;
	assert_int_equal(net_restore_blob(&gm, old, sizeof(old), &ctrl_on, &err), 0);
	assert_false(ctrl_on);

	/* Two queues claiming today's features: another device. */
	uint8_t bad[VS_HDR + 2 * VS_Q];
	memcpy(bad, old, sizeof(bad));
	uint64_t f = dev_f | added;
	memcpy(bad + 6, &f, 8);
	assert_int_equal(net_restore_blob(&gm, bad, sizeof(bad), &ctrl_on, &err), -1);
	assert_non_null(strstr(err.msg, "other offered features"));
	/* A driver of the older device that negotiated CTRL_VQ: it was not
	 * offered. */
	memcpy(bad, old, sizeof(bad));
	uint64_t drv_f;
	memcpy(&drv_f, bad + 14, 8);
	drv_f |= 1ULL << 17;
	memcpy(bad + 14, &drv_f, 8);
	assert_int_equal(net_restore_blob(&gm, bad, sizeof(bad), &ctrl_on, &err), -1);
	assert_non_null(strstr(err.msg, "were not offered"));
	/* One queue: no form of this device. */
	memcpy(bad, old, sizeof(bad));
	nq = 1;
	memcpy(bad + 2, &nq, 4);
	assert_int_equal(net_restore_blob(&gm, bad, VS_HDR + VS_Q, &ctrl_on, &err), -1);
	assert_non_null(strstr(err.msg, "another device"));
	/* The older form's header with three queues' bytes: stray bytes. */
	uint8_t stray[VS_HDR + 3 * VS_Q];
	memcpy(stray, w.buf, sizeof(stray));
	memcpy(stray, old, VS_HDR);
	assert_int_equal(net_restore_blob(&gm, stray, sizeof(stray), &ctrl_on, &err), -1);
	state_writer_free(&w);
	gm_destroy(&gm);
}

/* The guest connects to host port 5000, sends more than the host socket
 * can take while nobody reads it, then closes (SHUTDOWN with both flags).
 * Every byte must still reach the host, followed by EOF. */
static void vsock_close_keeps_data(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 1 << 20, &err), 0);
	uint8_t *ram = gm_ptr(&gm, 0, 1 << 20);
	struct vsock_spec spec = {.cid = 3};
	snprintf(spec.path, sizeof(spec.path), "/tmp/vmon-unit-vsock-%d.sock", (int)getpid());
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_5000", spec.path);
	unlink(sa.sun_path);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);

	struct virtio_vsock *v;
	assert_int_equal(virtio_vsock_create(&v, &spec, &gm, NULL, NULL, NULL, &err), 0);
	struct virtio_device *vd = virtio_vsock_transport(v);
	virtio_bar0_write(vd, 0x14, 1, 3);
	virtio_bar0_write(vd, 0x08, 4, 1);
	virtio_bar0_write(vd, 0x0c, 4, 1); /* VERSION_1 */
	virtio_bar0_write(vd, 0x14, 1, 0xb);
	vq_setup(vd, 0, 0x1000); /* rx */
	vq_setup(vd, 1, 0x2000); /* tx */
	vq_setup(vd, 2, 0x3000); /* event */
	virtio_bar0_write(vd, 0x14, 1, 0xf);
	for (unsigned i = 0; i < 8; i++) { /* rx buffers for the device's replies */
		vq_put_desc(ram, 0x1000, i, 0x80000 + 0x1000 * i, 0x1000, VIRTQ_DESC_F_WRITE);
		vq_post(ram, 0x1100, (uint16_t)i);
	}

	/* vmon's socket takes about its SO_SNDBUF (wmem_default) unread; send
	 * 100000 bytes more, well inside the 256 KiB the device grants. */
	long sndbuf = 212992;
	FILE *f = fopen("/proc/sys/net/core/wmem_default", "r");
	if (f) {
		if (fscanf(f, "%ld", &sndbuf) != 1)
			sndbuf = 212992;
		fclose(f);
	}
	const uint32_t chunk = 50000, total = (uint32_t)sndbuf + 100000;
	unsigned slot = 0;
	uint32_t sent = 0;
	for (int k = 0;; k++) {
		uint8_t *pkt = ram + 0x10000 + 0x10000 * (slot % 2);
		uint32_t len = 0;
		if (k == 0) {
			vsock_hdr(pkt, 1000, 5000, 0, 1 /* REQUEST */, 0);
		} else if (sent < total) {
			len = total - sent < chunk ? total - sent : chunk;
			vsock_hdr(pkt, 1000, 5000, len, 5 /* RW */, 0);
			for (uint32_t i = 0; i < len; i++)
				pkt[44 + i] = (uint8_t)((sent + i) * 7 + 1);
			sent += len;
		} else {
			vsock_hdr(pkt, 1000, 5000, 0, 4 /* SHUTDOWN */, 3 /* RCV | SEND */);
		}
		vq_put_desc(ram, 0x2000, slot % 8, (uint64_t)(pkt - ram), 44 + len, 0);
		vq_post(ram, 0x2100, (uint16_t)(slot % 8));
		slot++;
		virtio_kick(vd, 1);
		virtio_vsock_poll(v);
		if (k > 0 && len == 0)
			break;
	}
	uint16_t used_idx;
	memcpy(&used_idx, ram + 0x2202, 2);
	assert_int_equal(used_idx, slot); /* every packet was taken */

	int c = accept(lfd, NULL, NULL);
	assert_true(c >= 0);
	static uint8_t got[1 << 20];
	uint32_t n = 0;
	for (int rounds = 0; rounds < 100000; rounds++) {
		virtio_vsock_poll(v);
		ssize_t k = recv(c, got + n, sizeof(got) - n, MSG_DONTWAIT);
		if (k == 0)
			break; /* EOF */
		if (k < 0) {
			assert_true(errno == EAGAIN);
			usleep(100);
			continue;
		}
		n += (uint32_t)k;
	}
	assert_int_equal(n, total);
	for (uint32_t i = 0; i < n; i++)
		if (got[i] != (uint8_t)(i * 7 + 1))
			fail_msg("byte %u differs", i);
	close(c);
	close(lfd);
	unlink(sa.sun_path);
	virtio_vsock_destroy(v);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(net_spec_good),
		cmocka_unit_test(net_spec_bad),
		cmocka_unit_test(vsock_spec),
		cmocka_unit_test(net_loopback),
		cmocka_unit_test(net_announce_guest),
		cmocka_unit_test(net_announce_rarp),
		cmocka_unit_test(net_restore_two_queue_state),
		cmocka_unit_test(net_restore_interrupt_after_restored),
		cmocka_unit_test(vsock_close_keeps_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
