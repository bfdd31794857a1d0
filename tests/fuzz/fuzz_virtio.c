/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: random guest memory (rings, descriptors, buffers)
 * and random transport register writes fed to virtio-blk or virtio-rng
 * through the virtio-pci transport, with ASan/UBSan watching every host
 * access. Built and run by `make fuzz` (clang -fsanitize=fuzzer,address).
 *
 * Input layout:
 *   byte 0   bit 0: device (0 blk, 1 rng); bit 1: EVENT_IDX; bit 2: INDIRECT
 *   byte 1   queue size = 1 << (byte % 5)
 *   byte 2   number of register writes n (0..7)
 *   n x 8    register write: le16 BAR-0 offset, u8 size, u8 pad, le32 value
 *   rest     guest RAM from address 0 (desc at 0x0, avail 0x100, used 0x200)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_rng.h"

#define RAM   (64u << 10)
#define DESC  0x000
#define AVAIL 0x100
#define USED  0x200

static struct guest_mem gm;
static struct virtio_blk *blk;
static struct virtio_rng *rng;

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
	if (virtio_rng_create(&rng, &gm, NULL, NULL, NULL, &err) < 0)
		die("virtio-rng", &err);
}

static void w(struct virtio_device *vd, uint64_t off, unsigned size, uint64_t v)
{
	virtio_bar0_write(vd, off, size, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!blk)
		setup();
	if (size < 3)
		return 0;
	const bool is_rng = data[0] & 1;
	struct virtio_device *vd = is_rng ? virtio_rng_transport(rng) : virtio_blk_transport(blk);
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
		virtio_process_notifications(vd);
		if (!is_rng)
			virtio_blk_poll(blk);
	}
	return 0;
}
