/* SPDX-License-Identifier: MIT */
/* Unit tests for the dirty-page log (core/guest_mem_dirty.h): gm_ptr and
 * gm_write mark both bitmaps, gm_read and gm_ptr_nolog nothing, a CPU
 * mark only the round's; collect clears what it returns, sticky pages
 * come back on the final collect; and the software CPU marks its stores
 * (also one into a page its TLB first filled for a read) and not pages
 * it only reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cpu_init.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks_and_collect),
		cmocka_unit_test(test_emu_stores_marked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
