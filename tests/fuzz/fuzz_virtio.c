/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: random guest memory (rings, descriptors, buffers)
 * and random transport register writes fed to virtio-blk, virtio-rng,
 * virtio-net (on the loopback back end: what the guest sends comes back
 * to its receive queue) or virtio-vsock (its host side on a Unix socket
 * in /tmp, with a listener on host port 5) through the virtio-pci
 * transport, with ASan/UBSan watching every host access. Built and run by
 * `make fuzz` (clang -fsanitize=fuzzer,address).
 *
 * Input layout:
 *   byte 0   bit 0: device (0 blk, 1 rng); bit 1: EVENT_IDX; bit 2: INDIRECT;
 *            bit 3: virtio-net instead; bit 4: virtio-vsock instead; bit 5
 *            (blk only): the virtio-blk on the MMIO transport, register
 *            offsets then being MMIO ones (window 0x1000)
 *   byte 1   queue size = 1 << (byte % 5)
 *   byte 2   number of register writes n (0..7)
 *   n x 8    register write: le16 BAR-0 offset, u8 size, u8 pad, le32 value
 *   rest     guest RAM from address 0: queue 0 has desc at 0x0, avail 0x100,
 *            used 0x200; net and vsock also use queue 1 (their transmit
 *            queue) at 0x3000, 0x3100, 0x3200
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_rng.h"
#include "devices/virtio/virtio_vsock.h"

#define RAM   (64u << 10)
#define DESC  0x000
#define AVAIL 0x100
#define USED  0x200
#define Q1    0x3000

static struct guest_mem gm;
static struct virtio_blk *blk, *mblk; /* mblk: on the MMIO transport */
static struct virtio_rng *rng;
static struct virtio_net *net;
static struct virtio_vsock *vsock;
static int port5_fd = -1; /* the host listener behind vsock port 5 */
static char vsock_path[128], port5_path_copy[140];

static void remove_sockets(void)
{
	unlink(vsock_path);
	unlink(port5_path_copy);
}

static void die(const char *what, const struct vmon_error *err)
{
	fprintf(stderr, "fuzz setup: %s: %s\n", what, err ? err->msg : "");
	abort(); /* setup only, never on an input's path */
}

static void setup(void)
{
	struct vmon_error err;
	if (gm_create(&gm, RAM, &err) < 0)
		die("guest memory", &err);
	int fd = memfd_create("fuzz-disk", 0);
	if (fd < 0 || ftruncate(fd, 64 << 10) < 0)
		die("memfd", NULL);
	static char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	const struct virtio_blk_spec spec = {.path = path, .id = "fuzz", .aio = BLK_AIO_SYNC};
	if (virtio_blk_create(&blk, &spec, &gm, NULL, NULL, NULL, &err) < 0)
		die("virtio-blk", &err);
	static char mpath[64];
	int mfd = memfd_create("fuzz-mmio-disk", 0);
	if (mfd < 0 || ftruncate(mfd, 64 << 10) < 0)
		die("memfd", NULL);
	snprintf(mpath, sizeof(mpath), "/proc/self/fd/%d", mfd);
	const struct virtio_blk_spec mspec = {.path = mpath, .id = "fuzz-mmio", .aio = BLK_AIO_SYNC};
	const struct virtio_bus mmio_at = {.kind = VIRTIO_TRANSPORT_MMIO, .mmio_base = 0xd0000000};
	if (virtio_blk_create(&mblk, &mspec, &gm, NULL, NULL, &mmio_at, &err) < 0)
		die("virtio-blk on MMIO", &err);
	if (virtio_rng_create(&rng, &gm, NULL, NULL, NULL, &err) < 0)
		die("virtio-rng", &err);
	const struct net_spec ns = {.kind = NET_LOOP};
	const uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
	if (virtio_net_create(&net, &ns, mac, &gm, NULL, NULL, NULL, &err) < 0)
		die("virtio-net", &err);
	struct vsock_spec vs = {.cid = 3};
	snprintf(vs.path, sizeof(vs.path), "/tmp/vmon-fuzz-%d.sock", (int)getpid());
	if (virtio_vsock_create(&vsock, &vs, &gm, NULL, NULL, NULL, &err) < 0)
		die("virtio-vsock", &err);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_5", vs.path);
	unlink(sa.sun_path);
	port5_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (port5_fd < 0 || bind(port5_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(port5_fd, 64) < 0)
		die("vsock port 5 listener", NULL);
	static char port5_path[sizeof(sa.sun_path)];
	memcpy(port5_path, sa.sun_path, sizeof(port5_path));
	snprintf(vsock_path, sizeof(vsock_path), "%s", vs.path);
	snprintf(port5_path_copy, sizeof(port5_path_copy), "%s", port5_path);
	atexit(remove_sockets);
}

/* Accepts and drops what connected to port 5 (the device's reset closed
 * its ends already), so the backlog never fills. */
static void drain_port5(void)
{
	for (int fd; (fd = accept(port5_fd, NULL, NULL)) >= 0;)
		close(fd);
}

static void w(struct virtio_device *vd, uint64_t off, unsigned size, uint64_t v)
{
	virtio_bar0_write(vd, off, size, v);
}

/* virtio-blk on the MMIO transport: the same well-behaved setup through
 * its registers, then the input's register accesses, rings and notifies. */
static void one_mmio(const uint8_t *data, size_t size, uint16_t qsize, unsigned nops, size_t pos)
{
	struct virtio_device *vd = virtio_blk_transport(mblk);
	virtio_reset(vd);
	uint8_t *ram = gm_ptr(&gm, 0, RAM);
	memset(ram, 0, RAM);
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (data[0] & 2 ? 1ULL << VIRTIO_F_EVENT_IDX : 0) |
		     (data[0] & 4 ? 1ULL << VIRTIO_F_INDIRECT_DESC : 0) | (1ULL << 9) | (1ULL << 13);
	static const struct {
		uint16_t off;
		uint64_t v;
	} regs[] = {{VIRTIO_MMIO_STATUS, 3},
		    {VIRTIO_MMIO_DRV_FEATURES_SEL, 0},
		    {VIRTIO_MMIO_DRV_FEATURES, 0},
		    {VIRTIO_MMIO_DRV_FEATURES_SEL, 1},
		    {VIRTIO_MMIO_DRV_FEATURES, 1},
		    {VIRTIO_MMIO_STATUS, 0xb},
		    {VIRTIO_MMIO_QUEUE_SEL, 0},
		    {VIRTIO_MMIO_QUEUE_NUM, 0},
		    {VIRTIO_MMIO_QUEUE_DESC, DESC},
		    {VIRTIO_MMIO_QUEUE_DRIVER, AVAIL},
		    {VIRTIO_MMIO_QUEUE_DEVICE, USED},
		    {VIRTIO_MMIO_QUEUE_READY, 1},
		    {VIRTIO_MMIO_STATUS, 0xf}};
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		uint64_t v = regs[i].v;
		if (i == 2)
			v = (uint32_t)f;
		else if (i == 4)
			v = (uint32_t)(f >> 32);
		else if (i == 7)
			v = qsize;
		virtio_mmio_write(vd, regs[i].off, 4, v);
	}
	for (unsigned i = 0; i < nops && pos + 8 <= size; i++, pos += 8) {
		uint16_t off = (uint16_t)(data[pos] | data[pos + 1] << 8);
		unsigned sz = 1u << (data[pos + 2] % 4);
		uint32_t v;
		memcpy(&v, data + pos + 4, 4);
		if (data[pos + 3] & 1)
			(void)virtio_mmio_read(vd, off % VIRTIO_MMIO_SIZE, sz);
		else
			virtio_mmio_write(vd, off % VIRTIO_MMIO_SIZE, sz, v);
	}
	size_t n = size - pos < RAM ? size - pos : RAM;
	memcpy(ram, data + pos, n);
	for (int round = 0; round < 2; round++) {
		virtio_mmio_write(vd, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
		virtio_process_notifications(vd);
		virtio_blk_poll(mblk);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!blk)
		setup();
	if (size < 3)
		return 0;
	const bool is_rng = data[0] & 1;
	const bool is_net = data[0] & 8, is_vsock = !is_net && (data[0] & 16);
	if (!is_rng && !is_net && !is_vsock && (data[0] & 32)) {
		one_mmio(data, size, (uint16_t)(1u << (data[1] % 5)), data[2] % 8, 3);
		return 0;
	}
	struct virtio_device *vd = is_net     ? virtio_net_transport(net)
				   : is_vsock ? virtio_vsock_transport(vsock)
				   : is_rng   ? virtio_rng_transport(rng)
					      : virtio_blk_transport(blk);
	const uint16_t qsize = (uint16_t)(1u << (data[1] % 5));
	const unsigned nops = data[2] % 8;
	size_t pos = 3;

	virtio_reset(vd);
	uint8_t *ram = gm_ptr(&gm, 0, RAM);
	memset(ram, 0, RAM);

	/* A well-behaved driver's setup... */
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (data[0] & 2 ? 1ULL << VIRTIO_F_EVENT_IDX : 0) |
		     (data[0] & 4 ? 1ULL << VIRTIO_F_INDIRECT_DESC : 0) | (1ULL << 9) | (1ULL << 13);
	w(vd, 0x14, 1, 3);
	w(vd, 0x08, 4, 0);
	w(vd, 0x0c, 4, (uint32_t)f);
	w(vd, 0x08, 4, 1);
	w(vd, 0x0c, 4, (uint32_t)(f >> 32));
	w(vd, 0x14, 1, 0xb);
	w(vd, 0x16, 2, 0);
	w(vd, 0x18, 2, qsize);
	w(vd, 0x20, 8, DESC);
	w(vd, 0x28, 8, AVAIL);
	w(vd, 0x30, 8, USED);
	w(vd, 0x1c, 2, 1);
	if (is_net || is_vsock) {
		w(vd, 0x16, 2, 1);
		w(vd, 0x18, 2, qsize);
		w(vd, 0x20, 8, Q1);
		w(vd, 0x28, 8, Q1 + 0x100);
		w(vd, 0x30, 8, Q1 + 0x200);
		w(vd, 0x1c, 2, 1);
	}
	w(vd, 0x14, 1, 0xf);
	/* ...then whatever the input says. */
	for (unsigned i = 0; i < nops && pos + 8 <= size; i++, pos += 8) {
		uint16_t off = (uint16_t)(data[pos] | data[pos + 1] << 8);
		unsigned sz = 1u << (data[pos + 2] % 4);
		uint32_t v;
		memcpy(&v, data + pos + 4, 4);
		if (data[pos + 3] & 1)
			(void)virtio_bar0_read(vd, off % VIRTIO_BAR0_SIZE, sz);
		else
			w(vd, off % VIRTIO_BAR0_SIZE, sz, v);
	}
	size_t n = size - pos < RAM ? size - pos : RAM;
	memcpy(ram, data + pos, n);

	for (int round = 0; round < 2; round++) {
		w(vd, VIRTIO_NOTIFY_OFF, 2, 0);
		if (is_net || is_vsock) {
			w(vd, VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT, 2, 1);
			if (is_net)
				virtio_net_poll(net);
			else
				virtio_vsock_poll(vsock);
			continue;
		}
		virtio_process_notifications(vd);
		if (!is_rng)
			virtio_blk_poll(blk);
	}
	if (is_vsock) {
		virtio_reset(vd); /* closes its connections */
		drain_port5();
	}
	return 0;
}
