/* SPDX-License-Identifier: MIT */
/* The virtio-mmio transport's register state machine, driven the way a
 * driver (or a hostile guest) does, on a virtio-blk over a temporary
 * image: identification, negotiation, queue setup, a request with its
 * level-triggered interrupt and InterruptACK, the KVM_IOEVENTFD
 * registration per ready queue, and bad values (QueueNum above the
 * maximum, QueueSel out of range, rings outside RAM, odd-sized and
 * unaligned accesses) that must end in DEVICE_NEEDS_RESET or be ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/guest_mem.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_mmio.h"

#define RAM	(1u << 20)
#define BASE	0xd0000000ULL
#define GSI	20
#define QSIZE	8
#define DESC	0x1000
#define AVAIL	0x2000
#define USED	0x3000
#define HDR	0x8000
#define STATUS	0x9000
#define DATA	0x10000
#define SECTORS 64

static struct guest_mem gm;
static struct virtio_blk *blk;
static struct virtio_device *vd;
static char path[64];

/* The interrupt line and the ioeventfd hooks, as a backend would see them. */
static int line_level = -1, line_changes;
static unsigned line_gsi;
static void set_level(void *ctx, unsigned gsi, bool level)
{
	(void)ctx;
	line_gsi = gsi;
	line_level = level;
	line_changes++;
}
static struct irq_router router = {.set_level = set_level};

static int ioev_count;
static uint64_t ioev_gpa, ioev_data;
static unsigned ioev_len;
static bool ioev_match;
static int ioev_add(void *ctx, uint64_t gpa, unsigned len, bool match, uint64_t data, int fd)
{
	(void)ctx;
	assert_true(fd >= 0);
	ioev_count++;
	ioev_gpa = gpa;
	ioev_len = len;
	ioev_match = match;
	ioev_data = data;
	return 0;
}
static void ioev_del(void *ctx, uint64_t gpa, unsigned len, bool match, uint64_t data, int fd)
{
	(void)ctx;
	(void)fd;
	assert_int_equal(gpa, ioev_gpa);
	assert_int_equal(len, ioev_len);
	assert_int_equal(match, ioev_match);
	assert_int_equal(data, ioev_data);
	ioev_count--;
}
static struct ioeventfd_router ioev = {.add = ioev_add, .del = ioev_del};

static uint64_t r(uint64_t off, unsigned size)
{
	return virtio_mmio_read(vd, off, size);
}
static uint32_t r32(uint64_t off)
{
	return (uint32_t)r(off, 4);
}
static void w32(uint64_t off, uint32_t v)
{
	virtio_mmio_write(vd, off, 4, v);
}

static int setup(void **state)
{
	(void)state;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, RAM, &err), 0);
	strcpy(path, "/tmp/vmon-mmio-test.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static uint8_t img[SECTORS * 512];
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i / 512 + i);
	assert_int_equal(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
	close(fd);
	const struct virtio_blk_spec spec = {.path = path, .id = "mmio-disk", .aio = BLK_AIO_SYNC};
	const struct virtio_bus at = {.kind = VIRTIO_TRANSPORT_MMIO,
				      .mmio_base = BASE,
				      .irq = {.router = &router, .gsi = GSI},
				      .ioev = &ioev};
	line_level = -1;
	line_changes = 0;
	ioev_count = 0;
	if (virtio_blk_create(&blk, &spec, &gm, NULL, NULL, &at, &err) < 0) {
		print_error("%s\n", err.msg);
		return -1;
	}
	vd = virtio_blk_transport(blk);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	virtio_blk_destroy(blk);
	blk = NULL;
	assert_int_equal(ioev_count, 0); /* every registration undone */
	unlink(path);
	gm_destroy(&gm);
	return 0;
}

static const uint64_t good_features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_EVENT_IDX) |
				      (1ULL << VIRTIO_F_INDIRECT_DESC) | (1ULL << 9);

static void set_features(uint64_t f)
{
	w32(VIRTIO_MMIO_DRV_FEATURES_SEL, 0);
	w32(VIRTIO_MMIO_DRV_FEATURES, (uint32_t)f);
	w32(VIRTIO_MMIO_DRV_FEATURES_SEL, 1);
	w32(VIRTIO_MMIO_DRV_FEATURES, (uint32_t)(f >> 32));
}

static void set_ring(uint32_t reg, uint64_t a)
{
	w32(reg, (uint32_t)a);
	w32(reg + 4, (uint32_t)(a >> 32));
}

/* Status 0, ACK|DRIVER, features, FEATURES_OK; returns the status. */
static uint32_t negotiate(uint64_t f)
{
	w32(VIRTIO_MMIO_STATUS, 0);
	w32(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	set_features(f);
	w32(VIRTIO_MMIO_STATUS,
	    VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return r32(VIRTIO_MMIO_STATUS);
}

static void setup_queue(uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	w32(VIRTIO_MMIO_QUEUE_SEL, 0);
	w32(VIRTIO_MMIO_QUEUE_NUM, num);
	set_ring(VIRTIO_MMIO_QUEUE_DESC, desc);
	set_ring(VIRTIO_MMIO_QUEUE_DRIVER, avail);
	set_ring(VIRTIO_MMIO_QUEUE_DEVICE, used);
	w32(VIRTIO_MMIO_QUEUE_READY, 1);
}

static void test_identification(void **state)
{
	(void)state;
	assert_int_equal(r32(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(r32(VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(r32(VIRTIO_MMIO_DEVICE_ID), 2);
	assert_int_equal(r32(VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	w32(VIRTIO_MMIO_DEV_FEATURES_SEL, 1);
	assert_int_equal(r32(VIRTIO_MMIO_DEV_FEATURES), 1); /* VERSION_1 */
	w32(VIRTIO_MMIO_DEV_FEATURES_SEL, 7);
	assert_int_equal(r32(VIRTIO_MMIO_DEV_FEATURES), 0);
	/* Capacity, at 0x100, at any size. */
	assert_int_equal(r(VIRTIO_MMIO_CONFIG, 8), SECTORS);
	assert_int_equal(r(VIRTIO_MMIO_CONFIG, 4), SECTORS);
	assert_int_equal(r(VIRTIO_MMIO_CONFIG, 1), SECTORS);
	assert_int_equal(r(VIRTIO_MMIO_CONFIG + 1, 2), 0);
	assert_int_equal(r(VIRTIO_MMIO_SIZE - 1, 1), 0); /* past the configuration */
	/* Registers are 32-bit: other sizes and unaligned offsets read 0 and
	 * write nothing. */
	assert_int_equal(r(VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	assert_int_equal(r(VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
	assert_int_equal(r(VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);
	assert_int_equal(r(VIRTIO_MMIO_SIZE, 4), 0);
	assert_int_equal(r(~0ULL, 4), 0);
	virtio_mmio_write(vd, VIRTIO_MMIO_STATUS, 1, VIRTIO_STATUS_ACK);
	virtio_mmio_write(vd, VIRTIO_MMIO_STATUS, 2, VIRTIO_STATUS_ACK);
	virtio_mmio_write(vd, VIRTIO_MMIO_STATUS + 1, 4, VIRTIO_STATUS_ACK);
	virtio_mmio_write(vd, VIRTIO_MMIO_STATUS, 8, VIRTIO_STATUS_ACK);
	assert_int_equal(r32(VIRTIO_MMIO_STATUS), 0);
	/* The configuration is read-only. */
	virtio_mmio_write(vd, VIRTIO_MMIO_CONFIG, 4, 0);
	assert_int_equal(r(VIRTIO_MMIO_CONFIG, 8), SECTORS);
	/* Read-only registers ignore writes. */
	w32(VIRTIO_MMIO_MAGIC_VALUE, 0);
	w32(VIRTIO_MMIO_INT_STATUS, 3);
	assert_int_equal(r32(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(r32(VIRTIO_MMIO_INT_STATUS), 0);
}

static void test_negotiation(void **state)
{
	(void)state;
	/* Without VERSION_1, or with a bit not offered: refused. */
	assert_false(negotiate(good_features & ~(1ULL << VIRTIO_F_VERSION_1)) &
		     VIRTIO_STATUS_FEATURES_OK);
	assert_false(negotiate(good_features | (1ULL << 40)) & VIRTIO_STATUS_FEATURES_OK);
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	/* Fixed once FEATURES_OK is set. */
	set_features(1ULL << VIRTIO_F_VERSION_1);
	assert_int_equal(vd->driver_features, good_features);
	/* Queue 0 exists; 1 and beyond do not. */
	w32(VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(r32(VIRTIO_MMIO_QUEUE_NUM_MAX), 128);
	w32(VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(r32(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t d[16];
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gm_write(&gm, DESC + 16 * i, d, 16), 0);
}

static void test_request_and_interrupt(void **state)
{
	(void)state;
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(QSIZE, DESC, AVAIL, USED);
	assert_int_equal(r32(VIRTIO_MMIO_QUEUE_READY), 1);
	/* The notify is registered with the backend: 32-bit writes of 0 at
	 * the QueueNotify address. */
	assert_int_equal(ioev_count, 1);
	assert_int_equal(ioev_gpa, BASE + VIRTIO_MMIO_QUEUE_NOTIFY);
	assert_int_equal(ioev_len, 4);
	assert_true(ioev_match);
	assert_int_equal(ioev_data, 0);
	/* A ready queue's setup is fixed. */
	w32(VIRTIO_MMIO_QUEUE_NUM, 4);
	set_ring(VIRTIO_MMIO_QUEUE_DESC, 0x5000);
	assert_int_equal(vd->qcfg[0].size, QSIZE);
	assert_int_equal(vd->qcfg[0].desc, DESC);
	w32(VIRTIO_MMIO_STATUS, r32(VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);

	/* Read sector 3. */
	uint8_t hdr[16] = {0}, ff = 0xff;
	hdr[8] = 3;
	assert_int_equal(gm_write(&gm, HDR, hdr, 16), 0);
	assert_int_equal(gm_write(&gm, STATUS, &ff, 1), 0);
	desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, DATA, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	uint16_t head = 0, idx = 1;
	assert_int_equal(gm_write(&gm, AVAIL + 4, &head, 2), 0);
	assert_int_equal(gm_write(&gm, AVAIL + 2, &idx, 2), 0);
	w32(VIRTIO_MMIO_QUEUE_NOTIFY, 7); /* no queue 7: ignored */
	virtio_process_notifications(vd);
	uint16_t used_idx;
	assert_int_equal(gm_read(&gm, &used_idx, USED + 2, 2), 0);
	assert_int_equal(used_idx, 0);
	w32(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_process_notifications(vd);
	virtio_blk_poll(blk);
	assert_int_equal(gm_read(&gm, &used_idx, USED + 2, 2), 0);
	assert_int_equal(used_idx, 1);
	uint8_t st, data[512];
	assert_int_equal(gm_read(&gm, &st, STATUS, 1), 0);
	assert_int_equal(st, 0);
	assert_int_equal(gm_read(&gm, data, DATA, 512), 0);
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(data[i], (uint8_t)(3 + 3 * 512 + i));

	/* The level is up with bit 0 until the driver acknowledges it. */
	assert_int_equal(line_gsi, GSI);
	assert_int_equal(line_level, 1);
	assert_int_equal(r32(VIRTIO_MMIO_INT_STATUS), VIRTIO_ISR_QUEUE);
	w32(VIRTIO_MMIO_INT_ACK, VIRTIO_ISR_CONFIG); /* not the pending bit */
	assert_int_equal(line_level, 1);
	w32(VIRTIO_MMIO_INT_ACK, VIRTIO_ISR_QUEUE);
	assert_int_equal(r32(VIRTIO_MMIO_INT_STATUS), 0);
	assert_int_equal(line_level, 0);

	/* QueueReady 0 disables the queue and drops its registration. */
	w32(VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(r32(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(ioev_count, 0);
	w32(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(ioev_count, 1);
	/* A reset drops it too, and lowers the line. */
	w32(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(r32(VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(r32(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(ioev_count, 0);
	assert_int_equal(line_level, 0);
}

static void expect_needs_reset(void)
{
	assert_true(r32(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(r32(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(ioev_count, 0);
	/* A reset clears it. */
	w32(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(r32(VIRTIO_MMIO_STATUS), 0);
}

static void test_hostile_queue_setup(void **state)
{
	(void)state;
	/* QueueNum above QueueNumMax (and above 16 bits). */
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(256, DESC, AVAIL, USED);
	expect_needs_reset();
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(0x10008, DESC, AVAIL, USED);
	expect_needs_reset();
	/* Not a power of two; zero. */
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(6, DESC, AVAIL, USED);
	expect_needs_reset();
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(0, DESC, AVAIL, USED);
	expect_needs_reset();
	/* Rings outside RAM, across its end, at 2^64 - 16, misaligned. */
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(QSIZE, RAM + 0x1000, AVAIL, USED);
	expect_needs_reset();
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(QSIZE, DESC, AVAIL, RAM - 8);
	expect_needs_reset();
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(QSIZE, ~0ULL - 15, AVAIL, USED);
	expect_needs_reset();
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(QSIZE, DESC + 1, AVAIL, USED);
	expect_needs_reset();

	/* QueueSel out of range: everything queue-related is ignored. */
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
	uint32_t sels[] = {1, 8, 0xffff, 0x10000, 0xffffffff};
	for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		w32(VIRTIO_MMIO_QUEUE_SEL, sels[i]);
		assert_int_equal(r32(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		w32(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		set_ring(VIRTIO_MMIO_QUEUE_DESC, DESC);
		w32(VIRTIO_MMIO_QUEUE_READY, 1);
		assert_int_equal(r32(VIRTIO_MMIO_QUEUE_READY), 0);
		w32(VIRTIO_MMIO_QUEUE_READY, 0);
		w32(VIRTIO_MMIO_QUEUE_NOTIFY, sels[i]);
	}
	assert_false(r32(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(ioev_count, 0);
	virtio_process_notifications(vd);
	/* Queue 0 still sets up normally afterwards. */
	setup_queue(QSIZE, DESC, AVAIL, USED);
	assert_int_equal(r32(VIRTIO_MMIO_QUEUE_READY), 1);
	/* QueueReady values other than 0 and 1 change nothing. */
	w32(VIRTIO_MMIO_QUEUE_READY, 2);
	assert_int_equal(r32(VIRTIO_MMIO_QUEUE_READY), 1);
	w32(VIRTIO_MMIO_STATUS, 0);
}

/* Every offset, size and a few values, in a deterministic pseudo-random
 * order, with notifications processed: nothing may crash, and a reset
 * always brings the device back. */
static void test_register_noise(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	static const uint64_t vals[] = {0,     1,      2,	   3,	      0xff,
					0x80,  0xffff, 0xffffffff, 0x10000,   DESC,
					AVAIL, USED,   RAM - 4,	   0xfffff000};
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned size = 1u << (x % 4);
		uint64_t off = (x >> 8) % 0x140;
		if ((x >> 20) % 4)
			off &= ~3ULL;
		uint64_t v = vals[(x >> 24) % (sizeof(vals) / sizeof(vals[0]))];
		if ((x >> 32) % 3)
			virtio_mmio_write(vd, off, size, v);
		else
			(void)virtio_mmio_read(vd, off, size);
		if (i % 64 == 0) {
			virtio_process_notifications(vd);
			virtio_blk_poll(blk);
		}
	}
	w32(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(r32(VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(r32(VIRTIO_MMIO_INT_STATUS), 0);
	assert_int_equal(line_level, 0);
	assert_int_equal(ioev_count, 0);
	assert_true(negotiate(good_features) & VIRTIO_STATUS_FEATURES_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identification, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negotiation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_and_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_queue_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_noise, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
