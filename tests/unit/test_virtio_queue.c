/* SPDX-License-Identifier: MIT */
/* Split virtqueue parser against well-formed and malicious queues. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/guest_mem.h"
#include "devices/virtio/virtqueue.h"

#define RAM   (1u << 20)
#define QSIZE 8
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define INDIR 0x4000
#define BUF   0x10000

static struct guest_mem gm;
static struct virtq q;
static struct virtq_req req;
static uint16_t avail_idx;

static int setup(void **state)
{
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, RAM, &err), 0);
	avail_idx = 0;
	assert_int_equal(virtq_enable(&q, &gm, QSIZE, DESC, AVAIL, USED, true, true), 0);
	return 0;
}

static int teardown(void **state)
{
	gm_destroy(&gm);
	return 0;
}

static void w16(uint64_t gpa, uint16_t v)
{
	assert_int_equal(gm_write(&gm, gpa, &v, 2), 0);
}

static uint16_t r16(uint64_t gpa)
{
	uint16_t v;
	assert_int_equal(gm_read(&gm, &v, gpa, 2), 0);
	return v;
}

static uint32_t r32(uint64_t gpa)
{
	uint32_t v;
	assert_int_equal(gm_read(&gm, &v, gpa, 4), 0);
	return v;
}

static void desc_at(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	uint8_t d[16];
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gm_write(&gm, table + 16 * i, d, 16), 0);
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	desc_at(DESC, i, addr, len, flags, next);
}

static void post(uint16_t head)
{
	w16(AVAIL + 4 + 2 * (avail_idx % QSIZE), head);
	avail_idx++;
	w16(AVAIL + 2, avail_idx);
}

#define N VIRTQ_DESC_F_NEXT
#define W VIRTQ_DESC_F_WRITE
#define I VIRTQ_DESC_F_INDIRECT

static void test_good_chain(void **state)
{
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_EMPTY);
	desc(3, BUF, 16, N, 5);
	desc(5, BUF + 0x100, 512, N, 0);
	desc(0, BUF + 0x400, 1, W, 0);
	post(3);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_REQ);
	assert_int_equal(req.head, 3);
	assert_int_equal(req.nout, 2);
	assert_int_equal(req.nin, 1);
	assert_int_equal(req.out_bytes, 528);
	assert_int_equal(req.in_bytes, 1);
	assert_ptr_equal(req.iov[0].iov_base, gm_ptr(&gm, BUF, 16));
	assert_ptr_equal(req.iov[2].iov_base, gm_ptr(&gm, BUF + 0x400, 1));
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_EMPTY);
	/* Completion lands in the used ring and moves used->idx. */
	virtq_push(&q, 3, 1);
	assert_int_equal(r16(USED + 2), 1);
	assert_int_equal(r32(USED + 4), 3);
	assert_int_equal(r32(USED + 8), 1);
}

static void expect_bad(uint16_t head)
{
	post(head);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_BAD_REQ);
	assert_int_equal(req.head, head);
	/* The queue goes on: a good request after it works. */
	desc(7, BUF, 8, 0, 0);
	post(7);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_REQ);
}

static void test_loop(void **state)
{
	desc(0, BUF, 8, N, 1);
	desc(1, BUF, 8, N, 0);
	expect_bad(0);
}

static void test_self_loop(void **state)
{
	desc(2, BUF, 8, N, 2);
	expect_bad(2);
}

static void test_chain_longer_than_queue(void **state)
{
	/* Every descriptor chained, the last back to the first. */
	for (unsigned i = 0; i < QSIZE; i++)
		desc(i, BUF, 8, N, (uint16_t)((i + 1) % QSIZE));
	post(0);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_BAD_REQ);
}

static void test_next_out_of_range(void **state)
{
	desc(0, BUF, 8, N, QSIZE);
	expect_bad(0);
}

static void test_zero_length(void **state)
{
	desc(0, BUF, 0, 0, 0);
	expect_bad(0);
}

static void test_buffer_outside_ram(void **state)
{
	desc(0, RAM - 8, 16, 0, 0); /* straddles the end of RAM */
	expect_bad(0);
	desc(1, RAM, 1, 0, 0); /* just past it */
	expect_bad(1);
	desc(2, 0xfee00000, 4, W, 0); /* the LAPIC */
	expect_bad(2);
	desc(3, UINT64_MAX - 7, 16, 0, 0); /* wraps around */
	expect_bad(3);
	desc(4, BUF, UINT32_MAX, 0, 0); /* 4 GiB: larger than RAM */
	expect_bad(4);
}

static void test_readable_after_writable(void **state)
{
	desc(0, BUF, 8, W | N, 1);
	desc(1, BUF, 8, 0, 0);
	expect_bad(0);
}

static void test_head_out_of_range(void **state)
{
	post(QSIZE);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_BROKEN);
	post(0xffff);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_BROKEN);
}

static void test_avail_index_jump(void **state)
{
	w16(AVAIL + 2, QSIZE + 1);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_BROKEN);
	w16(AVAIL + 2, 0x8000);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_BROKEN);
}

static void test_indirect(void **state)
{
	desc_at(INDIR, 0, BUF, 16, N, 1);
	desc_at(INDIR, 1, BUF + 0x100, 512, N, 2);
	desc_at(INDIR, 2, BUF + 0x400, 1, W, 0);
	desc(4, INDIR, 3 * 16, I, 0);
	post(4);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_REQ);
	assert_int_equal(req.head, 4);
	assert_int_equal(req.nout, 2);
	assert_int_equal(req.nin, 1);
}

static void test_indirect_bad(void **state)
{
	desc_at(INDIR, 0, BUF, 16, 0, 0);
	/* Nested indirect. */
	desc_at(INDIR + 0x100, 0, INDIR, 16, I, 0);
	desc(0, INDIR + 0x100, 16, I, 0);
	expect_bad(0);
	/* Length not a multiple of 16, zero, outside RAM. */
	desc(0, INDIR, 24, I, 0);
	expect_bad(0);
	desc(0, INDIR, 0, I, 0);
	expect_bad(0);
	desc(0, RAM - 16, 32, I, 0);
	expect_bad(0);
	/* INDIRECT together with NEXT. */
	desc(0, INDIR, 16, I | N, 1);
	expect_bad(0);
	/* A loop inside the indirect table; next beyond the table. */
	desc_at(INDIR, 0, BUF, 16, N, 1);
	desc_at(INDIR, 1, BUF, 16, N, 0);
	desc(0, INDIR, 32, I, 0);
	expect_bad(0);
	desc_at(INDIR, 1, BUF, 16, N, 2);
	expect_bad(0);
	/* More buffers than a request may have. */
	for (unsigned i = 0; i <= VIRTQ_MAX_SEGS; i++)
		desc_at(INDIR, i, BUF, 16, i < VIRTQ_MAX_SEGS ? N : 0, (uint16_t)(i + 1));
	desc(0, INDIR, 16 * (VIRTQ_MAX_SEGS + 1), I, 0);
	expect_bad(0);
}

static void test_indirect_not_negotiated(void **state)
{
	assert_int_equal(virtq_enable(&q, &gm, QSIZE, DESC, AVAIL, USED, true, false), 0);
	desc_at(INDIR, 0, BUF, 16, 0, 0);
	desc(0, INDIR, 16, I, 0);
	expect_bad(0);
}

static void test_enable_checks(void **state)
{
	struct virtq t;
	assert_int_equal(virtq_enable(&t, &gm, 6, DESC, AVAIL, USED, false, false), -1);
	assert_int_equal(virtq_enable(&t, &gm, 0, DESC, AVAIL, USED, false, false), -1);
	assert_int_equal(virtq_enable(&t, &gm, QSIZE, DESC + 8, AVAIL, USED, false, false), -1);
	assert_int_equal(virtq_enable(&t, &gm, QSIZE, DESC, AVAIL + 1, USED, false, false), -1);
	assert_int_equal(virtq_enable(&t, &gm, QSIZE, DESC, AVAIL, USED + 2, false, false), -1);
	assert_int_equal(virtq_enable(&t, &gm, QSIZE, RAM - 16, AVAIL, USED, false, false), -1);
	assert_int_equal(virtq_enable(&t, &gm, QSIZE, DESC, AVAIL, RAM - 8, false, false), -1);
	assert_int_equal(virtq_enable(&t, &gm, 32768, RAM - 0x1000, AVAIL, USED, false, false), -1);
	assert_false(t.enabled);
	assert_int_equal(virtq_pop(&t, &req), VIRTQ_EMPTY);
}

static void test_event_idx(void **state)
{
	desc(0, BUF, 8, 0, 0);
	/* First completion always interrupts. */
	post(0);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_REQ);
	virtq_push(&q, 0, 0);
	assert_true(virtq_need_interrupt(&q));
	/* used_event = 3: no interrupt until used idx passes 3. */
	w16(AVAIL + 4 + 2 * QSIZE, 3);
	for (int i = 0; i < 3; i++) {
		post(0);
		assert_int_equal(virtq_pop(&q, &req), VIRTQ_REQ);
		virtq_push(&q, 0, 0);
		assert_int_equal(virtq_need_interrupt(&q), i == 2);
	}
	/* avail_event follows what the device consumed. */
	assert_false(virtq_arm_notify(&q));
	assert_int_equal(r16(USED + 4 + 8 * QSIZE), 4);
	post(0);
	assert_true(virtq_arm_notify(&q));
}

static void test_no_interrupt_flag(void **state)
{
	assert_int_equal(virtq_enable(&q, &gm, QSIZE, DESC, AVAIL, USED, false, true), 0);
	desc(0, BUF, 8, 0, 0);
	post(0);
	assert_int_equal(virtq_pop(&q, &req), VIRTQ_REQ);
	virtq_push(&q, 0, 0);
	assert_true(virtq_need_interrupt(&q));
	w16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(virtq_need_interrupt(&q));
}

static void test_iov_helpers(void **state)
{
	uint8_t a[4] = {1, 2, 3, 4}, b[3] = {5, 6, 7}, out[7];
	struct iovec v[2] = {{a, 4}, {b, 3}}, s[2];
	assert_int_equal(iov_to_buf(v, 2, 2, out, 7), 5);
	assert_memory_equal(out, ((uint8_t[]){3, 4, 5, 6, 7}), 5);
	assert_int_equal(iov_slice(v, 2, 3, 2, s, 2), 2);
	assert_ptr_equal(s[0].iov_base, a + 3);
	assert_int_equal(s[1].iov_len, 1);
	assert_int_equal(iov_slice(v, 2, 3, 5, s, 2), -1); /* past the end */
	assert_int_equal(iov_slice(v, 2, 0, 7, s, 1), -1); /* too many pieces */
	uint8_t in[2] = {9, 9};
	assert_int_equal(iov_from_buf(v, 2, 6, in, 2), 1);
	assert_int_equal(b[2], 9);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_good_chain),
		T(test_loop),
		T(test_self_loop),
		T(test_chain_longer_than_queue),
		T(test_next_out_of_range),
		T(test_zero_length),
		T(test_buffer_outside_ram),
		T(test_readable_after_writable),
		T(test_head_out_of_range),
		T(test_avail_index_jump),
		T(test_indirect),
		T(test_indirect_bad),
		T(test_indirect_not_negotiated),
		T(test_enable_checks),
		T(test_event_idx),
		T(test_no_interrupt_flag),
		T(test_iov_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
