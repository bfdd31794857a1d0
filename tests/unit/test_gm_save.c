/* SPDX-License-Identifier: MIT */
/* Unit tests for gm_save and gm_next_data (core/guest_mem.h): a snapshot's
 * memory file holds what the guest wrote and holes elsewhere, and saving
 * never allocates RAM the guest did not touch (reading a memfd's hole
 * would allocate it: a snapshot would make all of RAM resident). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/guest_mem.h"

#define MiB (1ULL << 20)
#define PG  4096ULL

static blkcnt_t blocks(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return st.st_blocks;
}

static void test_next_data_skips_holes(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 16 * MiB, &err), 0);
	uint64_t end = 0;
	assert_int_equal(gm_next_data(&gm, 0, &end), 16 * MiB); /* all holes */
	uint8_t *p = gm_ptr(&gm, 0, 16 * MiB);
	p[5 * PG] = 1;
	p[7 * PG + 100] = 2;
	assert_int_equal(gm_next_data(&gm, 0, &end), 5 * PG);
	assert_int_equal(end, 6 * PG);
	assert_int_equal(gm_next_data(&gm, 6 * PG, &end), 7 * PG);
	assert_int_equal(end, 8 * PG);
	assert_int_equal(gm_next_data(&gm, 8 * PG, &end), 16 * MiB);
	gm_destroy(&gm);
}

static void test_save_sparse_without_touching(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 64 * MiB, &err), 0);
	uint8_t *p = gm_ptr(&gm, 0, 64 * MiB);
	memset(p + 5 * PG, 0x5a, PG);
	memset(p + 1000 * PG, 0xa5, 2 * PG);
	p[2000 * PG] = 0; /* touched, yet zero: a hole in the file too */
	blkcnt_t before = blocks(gm.memfd);
	char path[] = "/tmp/vmon-test-gm-save-XXXXXX";
	int tfd = mkstemp(path);
	assert_true(tfd >= 0);
	close(tfd);
	assert_int_equal(gm_save(&gm, path, &err), 0);
	/* Nothing new resident in RAM. */
	assert_int_equal(blocks(gm.memfd), before);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct stat st;
	assert_int_equal(fstat(fileno(f), &st), 0);
	assert_int_equal((uint64_t)st.st_size, 64 * MiB);
	/* Three pages of data (512-byte blocks), give or take the file
	 * system's own allocation granularity. */
	assert_true(st.st_blocks >= 3 * 8 && st.st_blocks < 64 * 8);
	uint8_t *buf = malloc(64 * MiB);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, 64 * MiB, f), 64 * MiB);
	assert_memory_equal(buf, p, 64 * MiB);
	free(buf);
	fclose(f);
	unlink(path);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_data_skips_holes),
		cmocka_unit_test(test_save_sparse_without_touching),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
