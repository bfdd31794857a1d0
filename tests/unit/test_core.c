/* SPDX-License-Identifier: MIT */
/* Unit tests for floor 1 and the CLI parsers: the checked guest-memory
 * accessor, the buses, size/number parsing, and the auto-backend test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/parse.h"
#include "core/bus.h"
#include "core/guest_mem.h"
#include "core/ratelimit.h"
#include "cpu/host_virt.h"

#define MiB (1ULL << 20)

static void test_gm_bounds(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 16 * MiB, &err), 0);
	assert_non_null(gm_ptr(&gm, 0, 16 * MiB));
	assert_non_null(gm_ptr(&gm, 16 * MiB - 1, 1));
	assert_null(gm_ptr(&gm, 16 * MiB - 1, 2));
	assert_null(gm_ptr(&gm, 16 * MiB, 1));
	/* Lengths and addresses that wrap must never pass. */
	assert_null(gm_ptr(&gm, 8, UINT64_MAX));
	assert_null(gm_ptr(&gm, UINT64_MAX, 2));
	assert_null(gm_ptr(&gm, UINT64_MAX - 4, 16));
	uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];
	assert_int_equal(gm_write(&gm, 0x1000, buf, 8), 0);
	assert_int_equal(gm_read(&gm, out, 0x1000, 8), 0);
	assert_memory_equal(buf, out, 8);
	assert_int_equal(gm_write(&gm, 16 * MiB - 4, buf, 8), -1);
	gm_destroy(&gm);
}

static void test_gm_high_ram(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, GM_LOW_RAM_END + 64 * MiB, &err), 0);
	assert_int_equal(gm.nregions, 2);
	assert_int_equal(gm_low_ram_end(&gm), GM_LOW_RAM_END);
	assert_null(gm_ptr(&gm, GM_LOW_RAM_END, 1));	 /* the MMIO hole */
	assert_null(gm_ptr(&gm, GM_LOW_RAM_END - 1, 2)); /* straddles into the hole */
	assert_non_null(gm_ptr(&gm, GM_HIGH_RAM_START, 64 * MiB));
	assert_null(gm_ptr(&gm, GM_HIGH_RAM_START, 64 * MiB + 1));
	/* The high region is backed by the memfd right after the low one. */
	uint8_t *hi = gm_ptr(&gm, GM_HIGH_RAM_START, 1);
	assert_ptr_equal(hi, gm.base + GM_LOW_RAM_END);
	gm_destroy(&gm);
}

static void test_gm_bad_size(void **state)
{
	struct guest_mem gm;
	struct vmon_error err;
	assert_int_equal(gm_create(&gm, 0, &err), -1);
	assert_int_equal(gm_create(&gm, 4097, &err), -1);
}

static uint64_t dev_read(void *opaque, uint64_t off, unsigned size)
{
	return (uintptr_t)opaque * 100 + off;
}

static uint64_t last_write;
static void dev_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
	last_write = v + off;
}

static const struct bus_ops dev_ops = {.read = dev_read, .write = dev_write};

static void test_bus(void **state)
{
	struct bus b;
	struct vmon_error err;
	struct bus_hint hint = {0};
	bus_init(&b, "test");
	assert_int_equal(bus_register(&b, 0x3f8, 8, &dev_ops, (void *)1, "a", &err), 0);
	assert_int_equal(bus_register(&b, 0x60, 1, &dev_ops, (void *)2, "b", &err), 0);
	assert_int_equal(bus_register(&b, 0x64, 1, &dev_ops, (void *)3, "c", &err), 0);
	/* overlaps, empty and wrapping ranges are refused */
	assert_int_equal(bus_register(&b, 0x3fc, 8, &dev_ops, NULL, "d", &err), -1);
	assert_non_null(strstr(err.msg, "overlaps"));
	assert_int_equal(bus_register(&b, 0x3f0, 9, &dev_ops, NULL, "e", &err), -1);
	assert_int_equal(bus_register(&b, 0x10, 0, &dev_ops, NULL, "f", &err), -1);
	assert_int_equal(bus_register(&b, UINT64_MAX, 2, &dev_ops, NULL, "g", &err), -1);
	bus_seal(&b);
	assert_int_equal(bus_register(&b, 0x1000, 1, &dev_ops, NULL, "h", &err), -1);

	uint64_t v = 0;
	assert_true(bus_access(&b, &hint, 0x3fd, 1, false, &v));
	assert_int_equal(v, 105);
	assert_true(bus_access(&b, &hint, 0x64, 1, false, &v));
	assert_int_equal(v, 300);
	v = 7;
	assert_true(bus_access(&b, &hint, 0x3f9, 1, true, &v));
	assert_int_equal(last_write, 8);
	/* unclaimed: all ones, reported */
	assert_false(bus_access(&b, &hint, 0x61, 2, false, &v));
	assert_int_equal(v, 0xffff);
	/* an access straddling a device's end is not that device's */
	assert_false(bus_access(&b, &hint, 0x3ff, 2, false, &v));
	assert_null(bus_find(&b, NULL, 0x3ff, 4));
	bus_destroy(&b);
}

static void test_parse_mem(void **state)
{
	struct vmon_error err;
	uint64_t v;
	assert_int_equal(parse_mem_size("--mem", "256M", &v, &err), 0);
	assert_int_equal(v, 256 * MiB);
	assert_int_equal(parse_mem_size("--mem", "512", &v, &err), 0);
	assert_int_equal(v, 512 * MiB);
	assert_int_equal(parse_mem_size("--mem", "2G", &v, &err), 0);
	assert_int_equal(v, 2048 * MiB);
	assert_int_equal(parse_mem_size("--mem", "1GiB", &v, &err), 0);
	assert_int_equal(parse_mem_size("--mem", "64k", &v, &err), 0);
	assert_int_equal(v, 65536);
	const char *bad[] = {"",
			     "M",
			     "12X",
			     "-1G",
			     "0",
			     "1.5G",
			     "4097B",
			     "99999999999999999999",
			     "17179869184T",
			     "256 M",
			     "0x100M"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		assert_int_equal(parse_mem_size("--mem", bad[i], &v, &err), -1);
		assert_non_null(strstr(err.msg, "--mem"));
		assert_null(strchr(err.msg, '\n'));
	}
}

static void test_parse_numbers(void **state)
{
	struct vmon_error err;
	long n;
	uint64_t a;
	assert_int_equal(parse_int_range("--cpus", "4", 1, 64, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(parse_int_range("--cpus", "0", 1, 64, &n, &err), -1);
	assert_int_equal(parse_int_range("--cpus", "65", 1, 64, &n, &err), -1);
	assert_int_equal(parse_int_range("--cpus", "4x", 1, 64, &n, &err), -1);
	assert_int_equal(parse_int_range("--cpus", "", 1, 64, &n, &err), -1);
	assert_int_equal(parse_u64("--load-addr", "0x100000", &a, &err), 0);
	assert_int_equal(a, 0x100000);
	assert_int_equal(parse_u64("--load-addr", "-5", &a, &err), -1);
	assert_int_equal(parse_u64("--load-addr", "0x1g", &a, &err), -1);
}

static void test_host_virt(void **state)
{
	char why[128];
	const char *intel = "processor\t: 0\nflags\t\t: fpu vme vmx sse2\n";
	const char *amd = "flags\t: fpu svm lm\n";
	const char *none = "flags\t: fpu sse2 hypervisor\nmodel name: vmxfoo\n";
	const char *partial = "flags\t: fpu vmxx svmm\n";
	assert_true(host_virt_decide(intel, true, false, why, sizeof(why)));
	assert_false(host_virt_decide(intel, false, false, why, sizeof(why)));
	assert_non_null(strstr(why, "kvm_intel is not loaded"));
	assert_true(host_virt_decide(amd, false, true, why, sizeof(why)));
	assert_false(host_virt_decide(none, true, true, why, sizeof(why)));
	assert_non_null(strstr(why, "neither vmx nor svm"));
	assert_false(host_virt_decide(partial, true, true, why, sizeof(why)));
}

/* A budget per site: RL_BURST messages per window, the rest counted and
 * reported with the next message that gets through. */
static void test_ratelimit(void **state)
{
	struct ratelimit rl = RATELIMIT_INIT;
	uint64_t dropped = 99;
	for (int i = 0; i < RL_BURST; i++) {
		assert_true(ratelimit_allow(&rl, 1000 + (uint64_t)i, &dropped));
		assert_int_equal(dropped, 0);
	}
	for (int i = 0; i < 1000; i++)
		assert_false(ratelimit_allow(&rl, 1500, &dropped));
	/* Still inside the window. */
	assert_false(ratelimit_allow(&rl, 1000 + RL_INTERVAL_MS - 1, &dropped));
	/* A new window: one message, carrying the count. */
	assert_true(ratelimit_allow(&rl, 1000 + RL_INTERVAL_MS, &dropped));
	assert_int_equal(dropped, 1001);
	assert_true(ratelimit_allow(&rl, 1000 + RL_INTERVAL_MS + 1, &dropped));
	assert_int_equal(dropped, 0);

	/* ratelimit_print writes at most RL_BURST lines for a flood. */
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_non_null(out);
	struct ratelimit rl2 = RATELIMIT_INIT;
	for (int i = 0; i < 100000; i++)
		ratelimit_print(&rl2, out, "bad thing %d", i);
	fclose(out);
	int lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	assert_int_equal(lines, RL_BURST);
	assert_non_null(strstr(buf, "vmon: bad thing 0\n"));
	free(buf);
}

/* Once-only call sites print the first message; what they and the
 * windowed sites held back is summed up by ratelimit_flush_all. */
static void test_ratelimit_once_and_flush(void **state)
{
	static struct ratelimit once = RATELIMIT_SITE_INIT(true);
	static struct ratelimit site = RATELIMIT_SITE_INIT(false);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_non_null(out);
	for (int i = 0; i < 500; i++) {
		ratelimit_print(&once, out, "fallback %d", i);
		ratelimit_print(&site, out, "flood %d", i);
	}
	ratelimit_flush_all(out);
	ratelimit_flush_all(out); /* counts are cleared: nothing more */
	fclose(out);
	int lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	assert_int_equal(lines, 1 + RL_BURST + 2);
	assert_non_null(strstr(buf, "vmon: fallback 0\n"));
	assert_null(strstr(buf, "vmon: fallback 1\n"));
	assert_non_null(strstr(buf, "vmon: fallback 0 (499 more like it suppressed)\n"));
	assert_non_null(strstr(buf, "vmon: flood 9 (490 more like it suppressed)\n"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gm_bounds),
		cmocka_unit_test(test_gm_high_ram),
		cmocka_unit_test(test_gm_bad_size),
		cmocka_unit_test(test_bus),
		cmocka_unit_test(test_parse_mem),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_host_virt),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_ratelimit_once_and_flush),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
