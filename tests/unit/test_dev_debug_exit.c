/* SPDX-License-Identifier: MIT */
/* Debug-exit port: status in both modes, any access size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/bus.h"
#include "devices/debug_exit.h"

static int stops;
static void on_stop(void *opaque)
{
	stops++;
}

static void run(enum debug_exit_mode mode, unsigned port, unsigned size, uint64_t value,
		int want_status)
{
	struct bus pio;
	bus_init(&pio, "pio");
	struct vm_control ctl;
	memset(&ctl, 0, sizeof(ctl));
	ctl.on_stop = on_stop;
	stops = 0;
	struct debug_exit *d = NULL;
	struct vmon_error err = {{0}};
	assert_int_equal(
		debug_exit_create(&d, &pio, DEBUG_EXIT_PORT, DEBUG_EXIT_LEN, mode, &ctl, &err), 0);
	bus_seal(&pio);
	uint64_t v = 0x1234;
	assert_true(bus_access(&pio, NULL, port, size, false, &v));
	assert_int_equal(v, 0);
	assert_int_equal(stops, 0);
	v = value;
	assert_true(bus_access(&pio, NULL, port, size, true, &v));
	assert_int_equal(stops, 1);
	assert_int_equal(ctl.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(ctl.status, want_status);
	v = 99; /* later writes do not change the first stop */
	bus_access(&pio, NULL, port, 1, true, &v);
	assert_int_equal(ctl.status, want_status);
	debug_exit_destroy(d);
	bus_destroy(&pio);
}

static void test_plain(void **state)
{
	run(DEBUG_EXIT_PLAIN, 0xf4, 1, 0, 0);
	run(DEBUG_EXIT_PLAIN, 0xf4, 1, 42, 42);
	run(DEBUG_EXIT_PLAIN, 0xf4, 4, 0x12345601, 1); /* truncated to 0..255 */
	run(DEBUG_EXIT_PLAIN, 0xf5, 1, 7, 7);
	run(DEBUG_EXIT_PLAIN, 0xf6, 2, 0xffff, 255);
}

static void test_qemu(void **state)
{
	run(DEBUG_EXIT_QEMU, 0xf4, 1, 0, 1);
	run(DEBUG_EXIT_QEMU, 0xf4, 1, 0x10, 0x21);
	run(DEBUG_EXIT_QEMU, 0xf4, 4, 0x31, 0x63);
	run(DEBUG_EXIT_QEMU, 0xf4, 1, 0x80, 1); /* (0x80<<1)|1 = 0x101 -> 1 */
	run(DEBUG_EXIT_QEMU, 0xf4, 2, 0xff7f, 0xff);
}

static void test_status_helper(void **state)
{
	/* Bits beyond the access size are not part of the value. */
	assert_int_equal(debug_exit_status(DEBUG_EXIT_PLAIN, 0xAB05, 1), 5);
	assert_int_equal(debug_exit_status(DEBUG_EXIT_QEMU, 0xAB05, 1), 11);
	assert_int_equal(debug_exit_status(DEBUG_EXIT_PLAIN, ~0ULL, 8), 255);
}

static void test_bad_args(void **state)
{
	struct bus pio;
	bus_init(&pio, "pio");
	struct vm_control ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct debug_exit *d = NULL;
	struct vmon_error err = {{0}};
	assert_int_equal(debug_exit_create(&d, &pio, 0xf4, 0, DEBUG_EXIT_PLAIN, &ctl, &err), -1);
	assert_int_equal(debug_exit_create(&d, &pio, 0xf4, 9, DEBUG_EXIT_PLAIN, &ctl, &err), -1);
	assert_int_equal(debug_exit_create(&d, &pio, 0xf4, 4, DEBUG_EXIT_PLAIN, NULL, &err), -1);
	assert_int_equal(debug_exit_create(&d, &pio, 0xf4, 4, DEBUG_EXIT_PLAIN, &ctl, &err), 0);
	/* A straddling access is not ours. */
	uint64_t v = 1;
	assert_false(bus_access(&pio, NULL, 0xf6, 4, true, &v));
	assert_int_equal(ctl.reason, VM_STOP_NONE);
	debug_exit_destroy(d);
	bus_destroy(&pio);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_qemu),
		cmocka_unit_test(test_status_helper),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
