/* SPDX-License-Identifier: MIT */
/* Unit tests for gm_discard (core/guest_mem.h): pages given back to the
 * host read zeros and leave the memfd's resident size; ranges that are
 * not whole pages of RAM are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/guest_mem.h"

#define MiB (1ULL << 20)

static void test_discard_zeroes_and_frees(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 16 * MiB, &err), 0);
	uint8_t *p = gm_ptr(&gm, 0, 16 * MiB);
	memset(p, 0xab, 16 * MiB);
	struct stat st;
	assert_int_equal(fstat(gm.memfd, &st), 0);
	blkcnt_t before = st.st_blocks;
	assert_int_equal(gm_discard(&gm, 4 * MiB, 8 * MiB), 0);
	assert_int_equal(fstat(gm.memfd, &st), 0);
	/* 8 MiB = 16384 blocks of 512 bytes fewer. */
	assert_true(before - st.st_blocks >= 16384);
	assert_int_equal(p[4 * MiB], 0);
	assert_int_equal(p[12 * MiB - 1], 0);
	assert_int_equal(p[4 * MiB - 1], 0xab);
	assert_int_equal(p[12 * MiB], 0xab);
	/* The page is usable again. */
	p[4 * MiB] = 7;
	assert_int_equal(p[4 * MiB], 7);
	gm_destroy(&gm);
}

static void test_discard_refuses_bad_ranges(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 16 * MiB, &err), 0);
	assert_int_equal(gm_discard(&gm, 1, GM_PAGE_SIZE), -1);		    /* unaligned */
	assert_int_equal(gm_discard(&gm, 0, 100), -1);			    /* partial page */
	assert_int_equal(gm_discard(&gm, 0, 0), -1);			    /* empty */
	assert_int_equal(gm_discard(&gm, 16 * MiB, GM_PAGE_SIZE), -1);	    /* past RAM */
	assert_int_equal(gm_discard(&gm, 15 * MiB, 2 * MiB), -1);	    /* runs past RAM */
	assert_int_equal(gm_discard(&gm, UINT64_MAX & ~4095ULL, 4096), -1); /* wraps */
	assert_int_equal(gm_discard(&gm, 0xfee00000, GM_PAGE_SIZE), -1);    /* hole */
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discard_zeroes_and_frees),
		cmocka_unit_test(test_discard_refuses_bad_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
