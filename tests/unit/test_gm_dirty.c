/* SPDX-License-Identifier: MIT */
/* Unit tests for the dirty-page log (core/guest_mem_dirty.h): gm_ptr and
 * gm_write mark both bitmaps, gm_read and gm_ptr_nolog nothing, a CPU
 * mark only the round's; collect clears what it returns, sticky pages
 * come back on the final collect; and the software CPU marks its stores
 * (also one into a page its TLB first filled for a read) and not pages
 * it only reads. Diff-snapshot tracking: its own bitmap, which a
 * migration's collect does not take and a migration's start and stop do
 * not end; a backend's log merged in (gm_dirty_mark_bits) reaches both.
 * Diff memory files: only the pages asked for, holes elsewhere, merged
 * onto a base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cpu_init.h"
#include "core/guest_mem_diff.h"
#include "core/guest_mem_dirty.h"
#include "core/machine.h"
#include "cpu/cpu_backend.h"
#include "cpu/emu/cpu.h"
#include "emu_harness.h"

static bool bit(const uint64_t *b, uint64_t page)
{
	return b[page / 64] >> (page % 64) & 1;
}

static void test_marks_and_collect(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 1 << 20, &err), 0);
	uint64_t words = gm_dirty_words(&gm);
	assert_int_equal(words, 4);
	uint64_t b[4] = {0};
	/* Nothing is marked before the log starts. */
	assert_non_null(gm_ptr(&gm, 0x1000, 8));
	assert_int_equal(gm_dirty_start(&gm, &err), 0);
	assert_true(gm_dirty_logging(&gm));
	assert_non_null(gm_ptr(&gm, 0x3ff0, 0x20)); /* pages 3 and 4 */
	uint8_t x = 1;
	assert_int_equal(gm_write(&gm, 0x9000, &x, 1), 0);
	assert_int_equal(gm_read(&gm, &x, 0xa000, 1), 0);
	assert_non_null(gm_ptr_nolog(&gm, 0xb000, 1));
	gm_dirty_mark(&gm, 0x20000); /* a CPU store: page 32 */
	gm_dirty_mark(&gm, 1 << 20); /* outside RAM: ignored */
	assert_int_equal(gm_dirty_collect(&gm, b, false), 4);
	assert_true(bit(b, 3) && bit(b, 4) && bit(b, 9) && bit(b, 32));
	assert_false(bit(b, 1) || bit(b, 10) || bit(b, 11));
	/* Collected once: cleared. */
	memset(b, 0, sizeof(b));
	assert_int_equal(gm_dirty_collect(&gm, b, false), 0);
	/* The final collect adds every page a device was given. */
	assert_int_equal(gm_dirty_collect(&gm, b, true), 3);
	assert_true(bit(b, 3) && bit(b, 4) && bit(b, 9));
	memset(b, 0, sizeof(b));
	assert_int_equal(gm_dirty_collect(&gm, b, true), 0);
	gm_dirty_stop(&gm);
	assert_false(gm_dirty_logging(&gm));
	assert_non_null(gm_ptr(&gm, 0x5000, 1));
	gm_dirty_mark(&gm, 0x6000);
	assert_int_equal(gm_dirty_collect(&gm, b, true), 0);
	gm_destroy(&gm);
}

static void start_log(struct machine *m)
{
	struct vmon_error err;
	assert_int_equal(gm_dirty_start(&m->mem, &err), 0);
}

/* Long mode, first GiB identity-mapped by one 1 GiB page:
 *   mov rax, [0x300000]      read fill of page 0x300
 *   mov [0x300000], rax      store through it: must fill again and mark
 *   mov [0x200008], rax      store: marked
 *   mov rbx, [0x400000]      read only: not marked
 *   out 0xf4, al */
static const uint8_t code_stores64[] = {
	0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, 0x48, 0x89, 0x04, 0x25,
	0x00, 0x00, 0x30, 0x00, 0x48, 0x89, 0x04, 0x25, 0x08, 0x00, 0x20, 0x00,
	0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x40, 0x00, 0xe6, 0xf4,
};

static void test_emu_stores_marked(void **state)
{
	emu_harness_before_run = start_log;
	struct emu_cpu *c = emu_run(BOOT_MODE_LONG64, code_stores64, sizeof(code_stores64));
	emu_harness_before_run = NULL;
	(void)c;
	uint64_t words = gm_dirty_words(&mach.mem);
	uint64_t *b = calloc(words, sizeof(*b));
	assert_non_null(b);
	gm_dirty_collect(&mach.mem, b, false);
	assert_true(bit(b, 0x300));
	assert_true(bit(b, 0x200));
	assert_false(bit(b, 0x400));
	assert_false(bit(b, 0x1)); /* the code page is only fetched */
	free(b);
	emu_finish();
}

static void test_tracking_beside_migration(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 1 << 20, &err), 0);
	uint64_t words = gm_dirty_words(&gm);
	uint64_t *b = calloc(words, sizeof(*b)), *s = calloc(words, sizeof(*s));
	assert_non_null(b);
	assert_non_null(s);
	assert_int_equal(gm_dirty_take_snap(&gm, s), 0); /* no tracking: nothing */
	assert_int_equal(gm_dirty_track_start(&gm, &err), 0);
	assert_true(gm_dirty_tracking(&gm));
	assert_true(gm_dirty_logging(&gm));
	gm_dirty_mark(&gm, 0x3000);
	/* A migration starts (its round clear: page 3 is not its), collects
	 * and stops: snap keeps pages 3 and 5. */
	assert_int_equal(gm_dirty_start(&gm, &err), 0);
	gm_dirty_mark(&gm, 0x5000);
	assert_int_equal(gm_dirty_collect(&gm, b, false), 1);
	gm_dirty_stop(&gm);
	assert_true(gm_dirty_logging(&gm)); /* tracking goes on */
	gm_dirty_mark(&gm, 0x7000);
	assert_int_equal(gm_dirty_take_snap(&gm, s), 3);
	assert_true(bit(s, 3) && bit(s, 5) && bit(s, 7));
	memset(s, 0, words * sizeof(*s));
	assert_int_equal(gm_dirty_take_snap(&gm, s), 0);
	/* A backend's log: slot bits from page 64 on (word-aligned) and from
	 * page 3 (not), past RAM's end ignored. */
	uint64_t kb[2] = {0x5, 0x1};
	gm_dirty_mark_bits(&gm, 64, kb, 128);
	gm_dirty_mark_bits(&gm, 3, kb, 4);
	uint64_t far = ~0ULL;
	gm_dirty_mark_bits(&gm, 250, &far, 64); /* RAM has 256 pages */
	assert_int_equal(gm_dirty_take_snap(&gm, s), 3 + 2 + 6);
	assert_true(bit(s, 64) && bit(s, 66) && bit(s, 128) && !bit(s, 65));
	assert_true(bit(s, 3) && bit(s, 5) && !bit(s, 4));
	assert_true(bit(s, 255) && bit(s, 250));
	free(b);
	free(s);
	gm_destroy(&gm);
}

static long allocated_pages(const char *path, uint64_t size, uint64_t *map)
{
	int fd = open(path, O_RDONLY);
	long n = 0;
	for (uint64_t p = 0; p < size / GM_PAGE_SIZE; p++) {
		off_t d = lseek(fd, (off_t)(p * GM_PAGE_SIZE), SEEK_DATA);
		bool in = d >= 0 && (uint64_t)d == p * GM_PAGE_SIZE;
		if (in) {
			map[p / 64] |= 1ULL << (p % 64);
			n++;
		}
	}
	close(fd);
	return n;
}

static void test_diff_file_and_merge(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 1 << 20, &err), 0);
	char dir[] = "/tmp/vmon-gmdiff.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char base[64], diff[64];
	snprintf(base, sizeof(base), "%s/base", dir);
	snprintf(diff, sizeof(diff), "%s/diff", dir);
	memset(gm.base + 2 * GM_PAGE_SIZE, 0xaa, GM_PAGE_SIZE);
	memset(gm.base + 9 * GM_PAGE_SIZE, 0xbb, GM_PAGE_SIZE);
	assert_int_equal(gm_save(&gm, base, &err), 0);
	/* Page 2 rewritten, page 9 zeroed (a page in the diff though all
	 * zero: data, not a hole), page 200 new. */
	memset(gm.base + 2 * GM_PAGE_SIZE, 0xcc, GM_PAGE_SIZE);
	memset(gm.base + 9 * GM_PAGE_SIZE, 0, GM_PAGE_SIZE);
	memset(gm.base + 200 * GM_PAGE_SIZE, 0xdd, GM_PAGE_SIZE);
	uint64_t words = gm_dirty_words(&gm), pages[4] = {0}, got[4] = {0};
	assert_int_equal(words, 4);
	pages[0] = 1ULL << 2 | 1ULL << 9;
	pages[3] = 1ULL << (200 - 192);
	if (gm_save_diff(&gm, diff, pages, &err) < 0) {
		/* A filesystem without page-exact holes under /tmp: the writer
		 * said so; nothing more to check here. */
		assert_non_null(strstr(err.msg, "does not keep a diff's holes"));
	} else {
		assert_int_equal(allocated_pages(diff, 1 << 20, got), 3);
		assert_memory_equal(got, pages, sizeof(pages));
		assert_int_equal(gm_diff_merge(base, diff, &err), 0);
		uint8_t *want = gm.base, buf[GM_PAGE_SIZE];
		int fd = open(base, O_RDONLY);
		for (uint64_t p = 0; p < 256; p++) {
			assert_int_equal(pread(fd, buf, GM_PAGE_SIZE, (off_t)(p * GM_PAGE_SIZE)),
					 GM_PAGE_SIZE);
			assert_memory_equal(buf, want + p * GM_PAGE_SIZE, GM_PAGE_SIZE);
		}
		close(fd);
		assert_int_equal(gm_diff_merge(base, base, &err), -1);
		assert_non_null(strstr(err.msg, "the same file"));
	}
	assert_int_equal(truncate(base, 4096), 0);
	assert_int_equal(gm_diff_merge(base, diff, &err), -1);
	unlink(base);
	unlink(diff);
	rmdir(dir);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks_and_collect),
		cmocka_unit_test(test_emu_stores_marked),
		cmocka_unit_test(test_tracking_beside_migration),
		cmocka_unit_test(test_diff_file_and_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
