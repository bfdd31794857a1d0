/* SPDX-License-Identifier: MIT */
/* --net / --vsock parsing, and virtio-net end to end on the loopback back
 * end (a frame the guest sends comes back with vmon's header). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/guest_mem.h"
#include "devices/virtio/net_backend.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_pci.h"
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

/* Queue q's rings at base (desc), base + 0x100 (avail), base + 0x200. */
static void setup_queue(struct virtio_device *vd, unsigned q, uint64_t base)
{
	virtio_bar0_write(vd, 0x16, 2, q);
	virtio_bar0_write(vd, 0x18, 2, 8);
	virtio_bar0_write(vd, 0x20, 8, base);
	virtio_bar0_write(vd, 0x28, 8, base + 0x100);
	virtio_bar0_write(vd, 0x30, 8, base + 0x200);
	virtio_bar0_write(vd, 0x1c, 2, 1);
}

static void put_desc(uint8_t *ram, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags)
{
	uint8_t *d = ram + table + 16 * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memset(d + 14, 0, 2);
}

static void post(uint8_t *ram, uint64_t avail, uint16_t head)
{
	uint16_t idx;
	memcpy(&idx, ram + avail + 2, 2);
	memcpy(ram + avail + 4 + 2 * (idx % 8), &head, 2);
	idx++;
	memcpy(ram + avail + 2, &idx, 2);
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
	assert_int_equal(virtio_net_create(&n, &spec, mac, &gm, NULL, NULL, false, &err), 0);
	struct virtio_device *vd = virtio_net_transport(n);
	assert_int_equal(virtio_bar0_read(vd, VIRTIO_DEVCFG_OFF + 5, 1), 3); /* mac[5] */
	virtio_bar0_write(vd, 0x14, 1, 3);
	virtio_bar0_write(vd, 0x08, 4, 1);
	virtio_bar0_write(vd, 0x0c, 4, 1); /* VERSION_1 */
	virtio_bar0_write(vd, 0x14, 1, 0xb);
	setup_queue(vd, 0, 0x1000);
	setup_queue(vd, 1, 0x2000);
	virtio_bar0_write(vd, 0x14, 1, 0xf);

	/* A 60-byte frame after a (junk) 12-byte header; a 2 KiB rx buffer. */
	memset(ram + 0x10000, 0x77, 12);
	for (int i = 0; i < 60; i++)
		ram[0x1000c + i] = (uint8_t)i;
	put_desc(ram, 0x2000, 0, 0x10000, 72, 0);
	post(ram, 0x2100, 0);
	put_desc(ram, 0x1000, 0, 0x20000, 2048, VIRTQ_DESC_F_WRITE);
	post(ram, 0x1100, 0);
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
	put_desc(ram, 0x2000, 1, 0x10000, 12 + 1000, 0);
	post(ram, 0x2100, 1);
	put_desc(ram, 0x1000, 1, 0x20000, 512, VIRTQ_DESC_F_WRITE);
	post(ram, 0x1100, 1);
	virtio_kick(vd, 1);
	virtio_net_poll(n);
	virtio_net_poll(n);
	memcpy(&used_idx, ram + 0x1202, 2);
	assert_int_equal(used_idx, 1);
	assert_int_equal(virtio_net_rx_dropped(n), 1);

	virtio_net_destroy(n);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(net_spec_good),
		cmocka_unit_test(net_spec_bad),
		cmocka_unit_test(vsock_spec),
		cmocka_unit_test(net_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
