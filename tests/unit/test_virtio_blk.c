/* SPDX-License-Identifier: MIT */
/* virtio-pci transport and virtio-blk requests, driven through BAR 0 the
 * way a driver does, against a temporary image file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/guest_mem.h"
#include "devices/virtio/blk_aio.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_pci.h"

#define RAM	(1u << 20)
#define QSIZE	8
#define DESC	0x1000
#define AVAIL	0x2000
#define USED	0x3000
#define HDR	0x8000
#define DATA	0x10000
#define STATUS	0x9000
#define SECTORS 128

static struct guest_mem gm;
static struct virtio_blk *blk;
static struct virtio_device *vd;
static char path[64];
static uint16_t avail_idx, used_seen;

static uint64_t bar_r(uint64_t off, unsigned size)
{
	return virtio_bar0_read(vd, off, size);
}

static void bar_w(uint64_t off, unsigned size, uint64_t v)
{
	virtio_bar0_write(vd, off, size, v);
}

static uint64_t device_features(void)
{
	bar_w(0x00, 4, 0);
	uint64_t lo = bar_r(0x04, 4);
	bar_w(0x00, 4, 1);
	return lo | bar_r(0x04, 4) << 32;
}

/* Negotiates features and sets queue 0 up; returns the status read back. */
static uint8_t driver_init(uint64_t features, bool driver_ok)
{
	bar_w(0x14, 1, 0);
	bar_w(0x14, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	bar_w(0x08, 4, 0);
	bar_w(0x0c, 4, (uint32_t)features);
	bar_w(0x08, 4, 1);
	bar_w(0x0c, 4, (uint32_t)(features >> 32));
	bar_w(0x14, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	uint8_t st = (uint8_t)bar_r(0x14, 1);
	if (!(st & VIRTIO_STATUS_FEATURES_OK))
		return st;
	bar_w(0x16, 2, 0);
	bar_w(0x18, 2, QSIZE);
	bar_w(0x20, 8, DESC);
	bar_w(0x28, 4, AVAIL);
	bar_w(0x2c, 4, 0);
	bar_w(0x30, 8, USED);
	bar_w(0x1c, 2, 1);
	avail_idx = used_seen = 0;
	if (driver_ok)
		bar_w(0x14, 1, st | VIRTIO_STATUS_DRIVER_OK);
	return (uint8_t)bar_r(0x14, 1);
}

static const uint64_t good_features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_EVENT_IDX) |
				      (1ULL << VIRTIO_F_INDIRECT_DESC) | (1ULL << 9);

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t d[16];
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gm_write(&gm, DESC + 16 * i, d, 16), 0);
}

static uint16_t r16(uint64_t gpa)
{
	uint16_t v;
	assert_int_equal(gm_read(&gm, &v, gpa, 2), 0);
	return v;
}

static void post_and_notify(uint16_t head)
{
	uint16_t i = avail_idx++;
	assert_int_equal(gm_write(&gm, AVAIL + 4 + 2 * (i % QSIZE), &head, 2), 0);
	assert_int_equal(gm_write(&gm, AVAIL + 2, &avail_idx, 2), 0);
	bar_w(VIRTIO_NOTIFY_OFF, 2, 0);
	virtio_process_notifications(vd);
}

/* Waits (pool engine: completions are asynchronous) for the next used
 * entry; returns its length, or -1 if none came. */
static int64_t wait_used(void)
{
	for (int tries = 0; tries < 2000; tries++) {
		virtio_blk_poll(blk);
		if (r16(USED + 2) != used_seen) {
			uint32_t len;
			assert_int_equal(
				gm_read(&gm, &len, USED + 4 + 8 * (used_seen % QSIZE) + 4, 4), 0);
			used_seen++;
			return len;
		}
		usleep(1000);
	}
	return -1;
}

/* A request: header, optional data (readable for OUT/DISCARD, writable
 * otherwise), status. Returns the status byte; *used gets the length. */
static int request(uint32_t type, uint64_t sector, uint32_t data_len, bool data_writable,
		   int64_t *used)
{
	uint8_t hdr[16] = {0};
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	assert_int_equal(gm_write(&gm, HDR, hdr, 16), 0);
	uint8_t ff = 0xff;
	assert_int_equal(gm_write(&gm, STATUS, &ff, 1), 0);
	if (data_len) {
		desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
		desc(1, DATA, data_len,
		     VIRTQ_DESC_F_NEXT | (data_writable ? VIRTQ_DESC_F_WRITE : 0), 2);
		desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	} else {
		desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 2);
		desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	}
	post_and_notify(0);
	int64_t len = wait_used();
	if (used)
		*used = len;
	uint8_t st;
	assert_int_equal(gm_read(&gm, &st, STATUS, 1), 0);
	return st;
}

static int open_blk(bool ro, enum blk_aio_kind kind)
{
	struct vmon_error err;
	const struct virtio_blk_spec spec = {.path = path, .ro = ro, .id = "disk-7", .aio = kind};
	if (virtio_blk_create(&blk, &spec, &gm, NULL, NULL, NULL, &err) < 0) {
		print_error("%s\n", err.msg);
		return -1;
	}
	vd = virtio_blk_transport(blk);
	return 0;
}

static int setup_common(bool ro, enum blk_aio_kind kind)
{
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, RAM, &err), 0);
	strcpy(path, "/tmp/vmon-blk-test.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static uint8_t img[SECTORS * 512];
	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i / 512 + i);
	assert_int_equal(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
	close(fd);
	return open_blk(ro, kind);
}

static int setup_rw(void **state)
{
	return setup_common(false, BLK_AIO_SYNC);
}
static int setup_ro(void **state)
{
	return setup_common(true, BLK_AIO_SYNC);
}
static int setup_pool(void **state)
{
	return setup_common(false, BLK_AIO_POOL);
}
static int setup_uring(void **state)
{
	return setup_common(false, BLK_AIO_URING);
}

static int teardown(void **state)
{
	virtio_blk_destroy(blk);
	blk = NULL;
	unlink(path);
	gm_destroy(&gm);
	return 0;
}

static void read_file(uint64_t off, void *buf, size_t len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)off, SEEK_SET), 0);
	assert_int_equal(fread(buf, 1, len, f), len);
	fclose(f);
}

static void test_features_and_config(void **state)
{
	uint64_t f = device_features();
	assert_true(f & (1ULL << VIRTIO_F_VERSION_1));
	assert_true(f & (1ULL << VIRTIO_F_EVENT_IDX));
	assert_true(f & (1ULL << VIRTIO_F_INDIRECT_DESC));
	assert_true(f & (1ULL << 9));	     /* FLUSH */
	assert_true(f & (1ULL << 13));	     /* DISCARD */
	assert_false(f & (1ULL << 5));	     /* RO */
	assert_int_equal(bar_r(0x12, 2), 1); /* num_queues */
	assert_int_equal(bar_r(VIRTIO_DEVCFG_OFF, 8), SECTORS);
	assert_int_equal(bar_r(VIRTIO_DEVCFG_OFF + 12, 4), VIRTQ_MAX_SEGS - 2);
	/* VERSION_1 is required; unoffered bits are refused. */
	assert_false(driver_init(1ULL << 9, true) & VIRTIO_STATUS_FEATURES_OK);
	assert_false(driver_init(good_features | (1ULL << 40), true) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(driver_init(good_features, true),
			 VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
				 VIRTIO_STATUS_DRIVER_OK);
	/* Queue fields read back; the queue size is fixed once enabled. */
	assert_int_equal(bar_r(0x1c, 2), 1);
	assert_int_equal(bar_r(0x20, 8), DESC);
	bar_w(0x18, 2, 4);
	assert_int_equal(bar_r(0x18, 2), QSIZE);
	/* A queue the device does not have reads size 0. */
	bar_w(0x16, 2, 5);
	assert_int_equal(bar_r(0x18, 2), 0);
	/* Without MSI-X vectors, a vector reads back as NO_VECTOR past the table. */
	bar_w(0x16, 2, 0);
	bar_w(0x1a, 2, 1);
	assert_int_equal(bar_r(0x1a, 2), 1);
	bar_w(0x1a, 2, 2);
	assert_int_equal(bar_r(0x1a, 2), VIRTIO_MSI_NO_VECTOR);
	/* Reset clears everything. */
	bar_w(0x14, 1, 0);
	assert_int_equal(bar_r(0x14, 1), 0);
	assert_int_equal(bar_r(0x1c, 2), 0);
}

static void fill(uint8_t v, size_t len)
{
	static uint8_t buf[8192];
	memset(buf, v, len);
	assert_int_equal(gm_write(&gm, DATA, buf, len), 0);
}

static void test_write_read_flush(void **state)
{
	driver_init(good_features, true);
	int64_t used;
	fill(0xa5, 1024);
	assert_int_equal(request(1, 10, 1024, false, &used), 0);
	assert_int_equal(used, 1);
	uint8_t buf[1024], want[1024];
	memset(want, 0xa5, sizeof(want));
	read_file(10 * 512, buf, sizeof(buf));
	assert_memory_equal(buf, want, sizeof(buf));
	/* Read sector 3 (the image's pattern) into guest memory. */
	fill(0, 512);
	assert_int_equal(request(0, 3, 512, true, &used), 0);
	assert_int_equal(used, 513);
	uint8_t got[512];
	assert_int_equal(gm_read(&gm, got, DATA, 512), 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(got[i], (uint8_t)(3 + 3 * 512 + i));
	/* The last sector is fine; one further is not. */
	assert_int_equal(request(0, SECTORS - 1, 512, true, NULL), 0);
	assert_int_equal(request(0, SECTORS, 512, true, NULL), 1);
	assert_int_equal(request(1, SECTORS - 1, 1024, false, NULL), 1);
	assert_int_equal(request(0, UINT64_MAX, 512, true, NULL), 1);
	assert_int_equal(request(0, 0, 100, true, NULL), 1); /* not whole sectors */
	assert_int_equal(request(4, 0, 0, false, &used), 0); /* flush */
	assert_int_equal(used, 1);
}

static void test_get_id_discard_unsupp(void **state)
{
	driver_init(good_features, true);
	int64_t used;
	fill(0xee, 20);
	assert_int_equal(request(8, 0, 20, true, &used), 0);
	assert_int_equal(used, 21);
	char id[20];
	assert_int_equal(gm_read(&gm, id, DATA, 20), 0);
	assert_string_equal(id, "disk-7");
	/* Discard sectors 16..23: they read back as zeros from the host. */
	uint8_t seg[16] = {0};
	uint64_t s = 16;
	uint32_t n = 8;
	memcpy(seg, &s, 8);
	memcpy(seg + 8, &n, 4);
	assert_int_equal(gm_write(&gm, DATA, seg, 16), 0);
	assert_int_equal(request(11, 0, 16, false, NULL), 0);
	uint8_t buf[4096], zero[4096] = {0};
	read_file(16 * 512, buf, sizeof(buf));
	assert_memory_equal(buf, zero, sizeof(buf));
	/* Past the end, unknown flags. */
	s = SECTORS - 4;
	memcpy(seg, &s, 8);
	assert_int_equal(gm_write(&gm, DATA, seg, 16), 0);
	assert_int_equal(request(11, 0, 16, false, NULL), 1);
	uint32_t flags = 0x80;
	memcpy(seg + 12, &flags, 4);
	s = 0;
	memcpy(seg, &s, 8);
	assert_int_equal(gm_write(&gm, DATA, seg, 16), 0);
	assert_int_equal(request(11, 0, 16, false, NULL), 2);
	/* Unknown request types. */
	assert_int_equal(request(0x1234, 0, 0, false, NULL), 2);
}

static void test_read_only(void **state)
{
	assert_true(device_features() & (1ULL << 5));
	assert_false(device_features() & (1ULL << 13));
	driver_init(good_features, true);
	uint8_t before[512], after[512];
	read_file(0, before, 512);
	fill(0x11, 512);
	assert_int_equal(request(1, 0, 512, false, NULL), 1);
	read_file(0, after, 512);
	assert_memory_equal(before, after, 512);
	assert_int_equal(request(0, 0, 512, true, NULL), 0);
	assert_int_equal(request(4, 0, 0, false, NULL), 0);
}

static void test_malformed_requests(void **state)
{
	driver_init(good_features, true);
	uint8_t ff = 0xff, st;
	/* Loop: completed with length 0, status untouched. */
	assert_int_equal(gm_write(&gm, STATUS, &ff, 1), 0);
	desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, STATUS, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	post_and_notify(0);
	assert_int_equal(wait_used(), 0);
	assert_int_equal(gm_read(&gm, &st, STATUS, 1), 0);
	assert_int_equal(st, 0xff);
	/* No status byte. */
	desc(0, HDR, 16, 0, 0);
	post_and_notify(0);
	assert_int_equal(wait_used(), 0);
	/* Header too short. */
	desc(0, HDR, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	post_and_notify(0);
	assert_int_equal(wait_used(), 0);
	/* The device still works. */
	assert_int_equal(request(4, 0, 0, false, NULL), 0);
	assert_false(bar_r(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_needs_reset(void **state)
{
	driver_init(good_features, true);
	/* A head index beyond the queue: NEEDS_RESET, nothing completed. */
	uint16_t bad = QSIZE + 3;
	assert_int_equal(gm_write(&gm, AVAIL + 4, &bad, 2), 0);
	avail_idx = 1;
	assert_int_equal(gm_write(&gm, AVAIL + 2, &avail_idx, 2), 0);
	bar_w(VIRTIO_NOTIFY_OFF, 2, 0);
	virtio_process_notifications(vd);
	assert_true(bar_r(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(r16(USED + 2), 0);
	/* The driver cannot clear it; a reset does. */
	bar_w(0x14, 1, 0x0f);
	assert_true(bar_r(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(driver_init(good_features, true) & VIRTIO_STATUS_NEEDS_RESET, 0);
	assert_int_equal(request(4, 0, 0, false, NULL), 0);
	/* The available index racing ahead of the queue size. */
	avail_idx = QSIZE + 2;
	assert_int_equal(gm_write(&gm, AVAIL + 2, &avail_idx, 2), 0);
	bar_w(VIRTIO_NOTIFY_OFF, 2, 0);
	virtio_process_notifications(vd);
	assert_true(bar_r(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* Rings outside RAM at queue enable. */
	driver_init(good_features, false);
	bar_w(0x14, 1, 0);
	bar_w(0x14, 1, 3);
	bar_w(0x0c, 4, (uint32_t)good_features);
	bar_w(0x08, 4, 1);
	bar_w(0x0c, 4, 1);
	bar_w(0x14, 1, 0xb);
	bar_w(0x16, 2, 0);
	bar_w(0x20, 8, RAM - 64);
	bar_w(0x1c, 2, 1);
	assert_true(bar_r(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(bar_r(0x1c, 2), 0);
}

static void test_nothing_before_driver_ok(void **state)
{
	driver_init(good_features, false);
	desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	post_and_notify(0);
	virtio_blk_poll(blk);
	assert_int_equal(r16(USED + 2), 0);
	/* DRIVER_OK picks up what was posted before it. */
	bar_w(0x14, 1, bar_r(0x14, 1) | VIRTIO_STATUS_DRIVER_OK);
	virtio_process_notifications(vd);
	assert_int_equal(wait_used(), 1);
}

/* The same traffic through the asynchronous engines. */
static void test_async_engine(void **state)
{
	driver_init(good_features, true);
	fill(0x3c, 4096);
	assert_int_equal(request(1, 40, 4096, false, NULL), 0);
	assert_int_equal(request(4, 0, 0, false, NULL), 0);
	fill(0, 4096);
	assert_int_equal(request(0, 40, 4096, true, NULL), 0);
	uint8_t got[4096], want[4096];
	memset(want, 0x3c, sizeof(want));
	assert_int_equal(gm_read(&gm, got, DATA, sizeof(got)), 0);
	assert_memory_equal(got, want, sizeof(got));
	assert_int_equal(request(0, SECTORS, 512, true, NULL), 1);
	/* A reset with nothing in flight returns at once. */
	virtio_blk_reset(blk);
	assert_int_equal(bar_r(0x14, 1), 0);
}

static void test_bad_images(void **state)
{
	struct virtio_blk *b = NULL;
	struct vmon_error err;
	struct virtio_blk_spec s = {.path = "/nonexistent/disk.img", .aio = BLK_AIO_SYNC};
	assert_int_equal(virtio_blk_create(&b, &s, &gm, NULL, NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "No such file"));
	virtio_blk_destroy(b);
	s.path = "/tmp";
	assert_int_equal(virtio_blk_create(&b, &s, &gm, NULL, NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "directory"));
	virtio_blk_destroy(b);
	/* The image is locked by the fixture's device. */
	s.path = path;
	assert_int_equal(virtio_blk_create(&b, &s, &gm, NULL, NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "in use"));
	virtio_blk_destroy(b);
	s.id = "an-id-longer-than-twenty-bytes";
	assert_int_equal(virtio_blk_create(&b, &s, &gm, NULL, NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "longer than"));
	virtio_blk_destroy(b);
}

/* A guest looping device resets, each time enabling a queue whose rings
 * are outside RAM: every round is a "device needs reset". stderr must
 * stay small, and every message must be accounted for: printed, or
 * counted in a "suppressed" note (the last one when the device goes). */
static void test_reset_flood(void **state)
{
	enum { ROUNDS = 100000 };
	char log[] = "/tmp/vmon-blk-log.XXXXXX";
	int fd = mkstemp(log);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	for (int i = 0; i < ROUNDS; i++) {
		bar_w(0x14, 1, 0);
		bar_w(0x14, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
		bar_w(0x08, 4, 0);
		bar_w(0x0c, 4, (uint32_t)good_features);
		bar_w(0x08, 4, 1);
		bar_w(0x0c, 4, 1);
		bar_w(0x14, 1, 0xb);
		bar_w(0x16, 2, 0);
		bar_w(0x20, 8, RAM - 64);
		bar_w(0x1c, 2, 1);
	}
	assert_true(bar_r(0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	virtio_blk_destroy(blk); /* reports what is still held back */
	blk = NULL;
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);

	FILE *f = fdopen(fd, "r");
	assert_non_null(f);
	rewind(f);
	char line[512];
	unsigned lines = 0, messages = 0;
	unsigned long long counted = 0;
	bool summary = false;
	while (fgets(line, sizeof(line), f)) {
		lines++;
		assert_non_null(strstr(line, "device needs reset"));
		const char *p = strrchr(line, '(');
		unsigned long long n = 0;
		if (p && sscanf(p, "(%llu more like it suppressed)", &n) == 1) {
			summary = true;
			counted += n;
			continue;
		}
		messages++;
		if (p && sscanf(p, "(%llu similar messages suppressed)", &n) == 1)
			counted += n;
	}
	fclose(f);
	unlink(log);
	assert_true(lines < 100);
	assert_true(summary);
	assert_int_equal(messages + counted, ROUNDS);
}

/* Without FLUSH negotiated, every write is write-through (the spec's
 * rule); with FLUSH, writes go to the page cache until a flush. */
static void test_write_through_without_flush(void **state)
{
	struct blk_aio_stats st;
	driver_init(good_features & ~(1ULL << 9), true);
	fill(0x5a, 1024);
	assert_int_equal(request(1, 20, 1024, false, NULL), 0);
	virtio_blk_aio_stats(blk, &st);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.dsync_writes, 1);
	uint8_t buf[1024], want[1024];
	memset(want, 0x5a, sizeof(want));
	read_file(20 * 512, buf, sizeof(buf));
	assert_memory_equal(buf, want, sizeof(buf));
	uint16_t zero = 0; /* the ring starts over: no stale used index */
	assert_int_equal(gm_write(&gm, USED + 2, &zero, 2), 0);
	driver_init(good_features, true);
	assert_int_equal(request(1, 22, 1024, false, NULL), 0);
	virtio_blk_aio_stats(blk, &st);
	assert_int_equal(st.writes, 2);
	assert_int_equal(st.dsync_writes, 1);
}

/* An engine on fd of the given kind, or skip if io_uring is unavailable. */
static struct blk_aio *engine(int fd, enum blk_aio_kind kind)
{
	struct blk_aio *a = NULL;
	struct vmon_error err;
	assert_int_equal(blk_aio_create(&a, fd, kind, 8, &err), 0);
	if (kind == BLK_AIO_URING && strcmp(blk_aio_name(a), "io_uring") != 0) {
		blk_aio_destroy(a);
		return NULL;
	}
	return a;
}

/* Waits for the engine's next finished request. */
static struct blk_aio_req *reap_one(struct blk_aio *a)
{
	for (int tries = 0; tries < 5000; tries++) {
		blk_aio_ack(a);
		struct blk_aio_req *r = blk_aio_reap(a);
		if (r)
			return r;
		usleep(1000);
	}
	return NULL;
}

/* A submission the ring refuses must leave nothing behind: the caller
 * reuses the request at once, and a stale ring entry would run the old
 * request (a write of the old buffer) and complete the new one twice. */
static void test_uring_submit_failure(void **state)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct blk_aio *a = engine(fd, BLK_AIO_URING);
	if (!a) {
		close(fd);
		skip();
	}
	uint8_t before[4096], after[4096], wbuf[4096], rbuf[4096];
	read_file(0, before, sizeof(before));
	memset(wbuf, 0xee, sizeof(wbuf));
	struct iovec wiov = {wbuf, sizeof(wbuf)}, riov = {rbuf, sizeof(rbuf)};
	struct blk_aio_req r = {
		.op = BLK_AIO_WRITE, .iov = &wiov, .iovcnt = 1, .offset = 0, .len = sizeof(wbuf)};
	blk_aio_test_fail_submits(a, 1);
	assert_true(blk_aio_submit(a, &r) < 0);
	/* The slot is reused: a read of the second 4 KiB. */
	r = (struct blk_aio_req){
		.op = BLK_AIO_READ, .iov = &riov, .iovcnt = 1, .offset = 4096, .len = sizeof(rbuf)};
	assert_int_equal(blk_aio_submit(a, &r), 0);
	assert_ptr_equal(reap_one(a), &r);
	assert_int_equal(r.result, (int64_t)sizeof(rbuf));
	/* A flush drains whatever else the ring might still run. */
	struct blk_aio_req f = {.op = BLK_AIO_FLUSH};
	assert_int_equal(blk_aio_submit(a, &f), 0);
	assert_ptr_equal(reap_one(a), &f);
	blk_aio_ack(a);
	assert_null(blk_aio_reap(a));
	read_file(0, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
	blk_aio_destroy(a);
	close(fd);
}

/* The ring runs only the operations blk_aio submits: seccomp cannot see
 * io_uring's work, so an I/O thread taken over by the guest must not be
 * able to open, connect or send through it. */
static void test_uring_restricted(void **state)
{
	(void)state;
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct blk_aio *a = engine(fd, BLK_AIO_URING);
	if (!a) {
		close(fd);
		skip();
	}
	assert_int_equal(blk_aio_test_ring_op(a, IORING_OP_NOP), 0);
	/* Allowed, on fd -1: refused by the file lookup, not the ring. */
	assert_int_equal(blk_aio_test_ring_op(a, IORING_OP_FSYNC), -EBADF);
	assert_int_equal(blk_aio_test_ring_op(a, IORING_OP_OPENAT), -EACCES);
	assert_int_equal(blk_aio_test_ring_op(a, IORING_OP_CONNECT), -EACCES);
	assert_int_equal(blk_aio_test_ring_op(a, IORING_OP_SENDMSG), -EACCES);
	assert_int_equal(blk_aio_test_ring_op(a, IORING_OP_READ), -EACCES);
	/* Normal I/O still works after the refusals. */
	uint8_t rbuf[512];
	struct iovec riov = {rbuf, sizeof(rbuf)};
	struct blk_aio_req r = {
		.op = BLK_AIO_READ, .iov = &riov, .iovcnt = 1, .offset = 0, .len = sizeof(rbuf)};
	assert_int_equal(blk_aio_submit(a, &r), 0);
	assert_ptr_equal(reap_one(a), &r);
	assert_int_equal(r.result, (int64_t)sizeof(rbuf));
	blk_aio_destroy(a);
	close(fd);
}

/* Teardown waits for what is in flight: a read still waiting for data
 * when the engine goes must have filled its buffer (guest RAM, in a VM)
 * before blk_aio_destroy returns, never after. */
static _Atomic int destroying;
static int pipe_w = -1;
static void *late_writer(void *arg)
{
	while (!atomic_load(&destroying))
		usleep(1000);
	usleep(100 * 1000); /* well inside the destroy */
	static uint8_t data[4096];
	memset(data, 0x77, sizeof(data));
	assert_int_equal(write(pipe_w, data, sizeof(data)), (ssize_t)sizeof(data));
	return NULL;
}

static void test_destroy_waits_for_inflight(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct blk_aio *a = engine(p[0], BLK_AIO_URING);
	if (!a) {
		close(p[0]);
		close(p[1]);
		skip();
	}
	pipe_w = p[1];
	static uint8_t buf[4096];
	memset(buf, 0, sizeof(buf));
	struct iovec iov = {buf, sizeof(buf)};
	struct blk_aio_req r = {
		.op = BLK_AIO_READ, .iov = &iov, .iovcnt = 1, .offset = 0, .len = sizeof(buf)};
	/* A pipe has no offsets: io_uring reads it from where it is (-1). */
	r.offset = (uint64_t)-1;
	assert_int_equal(blk_aio_submit(a, &r), 0);
	pthread_t t;
	atomic_store(&destroying, 0);
	assert_int_equal(pthread_create(&t, NULL, late_writer, NULL), 0);
	atomic_store(&destroying, 1);
	blk_aio_destroy(a);
	uint8_t want[4096];
	memset(want, 0x77, sizeof(want));
	assert_memory_equal(buf, want, sizeof(buf));
	pthread_join(t, NULL);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_features_and_config, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_flush, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_get_id_discard_unsupp, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_requests, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_needs_reset, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_before_driver_ok, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_async_engine, setup_pool, teardown),
		cmocka_unit_test_setup_teardown(test_async_engine, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_bad_images, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_reset_flood, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write_through_without_flush, setup_rw,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_through_without_flush, setup_pool,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_through_without_flush, setup_uring,
						teardown),
		cmocka_unit_test_setup_teardown(test_uring_submit_failure, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_uring_restricted, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_waits_for_inflight, setup_rw,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
