/* SPDX-License-Identifier: MIT */
/* Unit tests for the software CPU's saved state (cpu/emu/state_emu.c):
 * a state loaded into a vCPU (a restore, a migration's target) puts the
 * vCPU at the privilege level it was saved at — CPL 3 for a vCPU saved
 * in user mode, not the CPL 0 it was made with — and back at CPL 0 for a
 * kernel state. */
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
#include "core/machine.h"
#include "cpu/cpu_backend.h"
#include "cpu/emu/cpu.h"
#include "cpu/emu/state_emu.h"
#include "emu_harness.h"

static const uint8_t code_out[] = {0xe6, 0xf4}; /* out 0xf4, al */

static void test_restore_keeps_cpl(void **state)
{
	(void)state;
	struct emu_cpu *c = emu_run(BOOT_MODE_LONG64, code_out, sizeof(code_out));
	assert_int_equal(c->cpl, 0);
	static struct cpu_state s;
	struct vmon_error err = {{0}};
	emu_state_get_cpu(c, &s);
	/* Linux's user segments: CS 0x33 (64-bit code, DPL 3), SS 0x2b. */
	s.seg[CPU_SEG_CS].sel = 0x33;
	s.seg[CPU_SEG_CS].attr = 0xa0fb;
	s.seg[CPU_SEG_SS].sel = 0x2b;
	s.seg[CPU_SEG_SS].attr = 0xc0f3;
	assert_int_equal(emu_state_set_cpu(c, &s, &err), 0);
	assert_int_equal(c->cpl, 3);
	s.seg[CPU_SEG_CS].sel = 0x08;
	s.seg[CPU_SEG_CS].attr = 0xa09b;
	s.seg[CPU_SEG_SS].sel = 0x18;
	s.seg[CPU_SEG_SS].attr = 0xc093;
	assert_int_equal(emu_state_set_cpu(c, &s, &err), 0);
	assert_int_equal(c->cpl, 0);
	emu_finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_keeps_cpl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
