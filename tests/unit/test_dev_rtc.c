/* SPDX-License-Identifier: MIT */
/* MC146818 RTC / CMOS: time encoding, setting the clock, NVRAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/bus.h"
#include "devices/rtc_cmos.h"

struct fix {
	struct bus pio;
	struct rtc_cmos *rtc;
	struct timespec now; /* the fake host clock */
};

static void fake_clock(void *opaque, struct timespec *ts)
{
	*ts = *(struct timespec *)opaque;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	bus_init(&f->pio, "pio");
	struct vmon_error err = {{0}};
	assert_int_equal(rtc_cmos_create(&f->rtc, &f->pio, 0x70, (struct irq_line){0}, &err), 0);
	bus_seal(&f->pio);
	/* 2024-02-29 13:45:56 UTC, a Thursday. */
	f->now.tv_sec = 1709214356;
	f->now.tv_nsec = 500000000;
	rtc_cmos_set_clock(f->rtc, fake_clock, &f->now);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	rtc_cmos_destroy(f->rtc);
	bus_destroy(&f->pio);
	free(f);
	return 0;
}

static uint8_t cmos_rd(struct fix *f, uint8_t idx)
{
	uint64_t v = idx;
	bus_access(&f->pio, NULL, 0x70, 1, true, &v);
	bus_access(&f->pio, NULL, 0x71, 1, false, &v);
	return (uint8_t)v;
}

static void cmos_wr(struct fix *f, uint8_t idx, uint8_t val)
{
	uint64_t v = idx;
	bus_access(&f->pio, NULL, 0x70, 1, true, &v);
	v = val;
	bus_access(&f->pio, NULL, 0x71, 1, true, &v);
}

static void test_bcd_24h(void **state)
{
	struct fix *f = *state;
	assert_int_equal(cmos_rd(f, 0x0B), 0x02); /* 24h, BCD */
	assert_int_equal(cmos_rd(f, 0x00), 0x56);
	assert_int_equal(cmos_rd(f, 0x02), 0x45);
	assert_int_equal(cmos_rd(f, 0x04), 0x13);
	assert_int_equal(cmos_rd(f, 0x06), 0x05); /* Thursday: 5 (Sunday = 1) */
	assert_int_equal(cmos_rd(f, 0x07), 0x29);
	assert_int_equal(cmos_rd(f, 0x08), 0x02);
	assert_int_equal(cmos_rd(f, 0x09), 0x24);
	assert_int_equal(cmos_rd(f, 0x32), 0x20);
	/* NMI-disable bit in the index is ignored. */
	assert_int_equal(cmos_rd(f, 0x80 | 0x02), 0x45);
}

static void test_binary_12h(void **state)
{
	struct fix *f = *state;
	cmos_wr(f, 0x0B, 0x04); /* binary, 12h */
	assert_int_equal(cmos_rd(f, 0x00), 56);
	assert_int_equal(cmos_rd(f, 0x04), 0x80 | 1); /* 1 PM */
	assert_int_equal(cmos_rd(f, 0x09), 24);
	assert_int_equal(cmos_rd(f, 0x32), 20);
	cmos_wr(f, 0x0B, 0x00); /* BCD, 12h */
	assert_int_equal(cmos_rd(f, 0x04), 0x81);
	f->now.tv_sec -= 13 * 3600 + 45 * 60; /* 00:00:56 -> 12 AM */
	assert_int_equal(cmos_rd(f, 0x04), 0x12);
	f->now.tv_sec += 12 * 3600; /* 12:00:56 -> 12 PM */
	assert_int_equal(cmos_rd(f, 0x04), 0x92);
}

static void test_registers_a_c_d(void **state)
{
	struct fix *f = *state;
	assert_int_equal(cmos_rd(f, 0x0D), 0x80);
	assert_int_equal(cmos_rd(f, 0x0A), 0x26);
	f->now.tv_nsec = 999900000; /* within 244 us of the update */
	assert_int_equal(cmos_rd(f, 0x0A), 0xA6);
	cmos_wr(f, 0x0A, 0xFF);
	f->now.tv_nsec = 0;
	assert_int_equal(cmos_rd(f, 0x0A), 0x7F); /* UIP not writable */
	(void)cmos_rd(f, 0x0C);
	assert_int_equal(cmos_rd(f, 0x0C), 0x00);
	f->now.tv_sec++;
	assert_int_equal(cmos_rd(f, 0x0C) & 0x10, 0x10); /* a second went by */
	assert_int_equal(cmos_rd(f, 0x0C), 0x00);	 /* read clears */
	cmos_wr(f, 0x0C, 0xFF);
	cmos_wr(f, 0x0D, 0x00);
	assert_int_equal(cmos_rd(f, 0x0C), 0x00);
	assert_int_equal(cmos_rd(f, 0x0D), 0x80);
}

static void test_set_time(void **state)
{
	struct fix *f = *state;
	/* Like Linux: SET, write the registers, clear SET. */
	cmos_wr(f, 0x0B, 0x82);
	cmos_wr(f, 0x00, 0x00);
	cmos_wr(f, 0x02, 0x30);
	cmos_wr(f, 0x04, 0x08);
	cmos_wr(f, 0x07, 0x01);
	cmos_wr(f, 0x08, 0x01);
	cmos_wr(f, 0x09, 0x99);
	cmos_wr(f, 0x32, 0x19);
	f->now.tv_sec += 100; /* frozen while SET */
	assert_int_equal(cmos_rd(f, 0x00), 0x00);
	cmos_wr(f, 0x0B, 0x02);
	f->now.tv_sec += 5;
	assert_int_equal(cmos_rd(f, 0x00), 0x05);
	assert_int_equal(cmos_rd(f, 0x02), 0x30);
	assert_int_equal(cmos_rd(f, 0x04), 0x08);
	assert_int_equal(cmos_rd(f, 0x09), 0x99);
	assert_int_equal(cmos_rd(f, 0x32), 0x19);
	/* Without SET, a single register moves the clock. */
	cmos_wr(f, 0x04, 0x10);
	assert_int_equal(cmos_rd(f, 0x04), 0x10);
	/* Invalid BCD and out-of-range values are ignored. */
	cmos_wr(f, 0x02, 0x7A);
	cmos_wr(f, 0x02, 0x60);
	cmos_wr(f, 0x08, 0x13);
	cmos_wr(f, 0x04, 0x24);
	assert_int_equal(cmos_rd(f, 0x02), 0x30);
	assert_int_equal(cmos_rd(f, 0x08), 0x01);
	assert_int_equal(cmos_rd(f, 0x04), 0x10);
}

static void test_nvram_persists(void **state)
{
	struct fix *f = *state;
	for (unsigned i = 0x0E; i < 0x80; i++)
		if (i != 0x32)
			cmos_wr(f, (uint8_t)i, (uint8_t)(i ^ 0xA5));
	cmos_wr(f, 0x01, 0x11); /* alarm registers are plain storage */
	cmos_wr(f, 0x0B, 0x72); /* interrupt enables on */
	rtc_cmos_reset(f->rtc); /* VM reboot: same device object */
	for (unsigned i = 0x0E; i < 0x80; i++)
		if (i != 0x32)
			assert_int_equal(cmos_rd(f, (uint8_t)i), (uint8_t)(i ^ 0xA5));
	assert_int_equal(cmos_rd(f, 0x01), 0x11);
	assert_int_equal(cmos_rd(f, 0x0B), 0x02); /* PIE/AIE/UIE cleared by reset */
	uint8_t buf[2] = {1, 2};
	assert_int_equal(rtc_cmos_nvram_set(f->rtc, 0x34, buf, 2), 0);
	assert_int_equal(cmos_rd(f, 0x35), 2);
	assert_int_equal(rtc_cmos_nvram_set(f->rtc, 0x0D, buf, 1), -1);
	assert_int_equal(rtc_cmos_nvram_set(f->rtc, 0x7F, buf, 2), -1);
	assert_int_equal(rtc_cmos_nvram_set(f->rtc, 0x7F, buf, 1), 0);
}

static void test_hostile(void **state)
{
	struct fix *f = *state;
	uint64_t v = 0;
	/* The index port reads as 0xff. */
	bus_access(&f->pio, NULL, 0x70, 1, false, &v);
	assert_int_equal(v, 0xff);
	/* 2-byte write: index then data. */
	v = 0x4242 & 0xff00;
	v |= 0x40;
	bus_access(&f->pio, NULL, 0x70, 2, true, &v);
	assert_int_equal(cmos_rd(f, 0x40), 0x42);
	v = 0x40;
	bus_access(&f->pio, NULL, 0x70, 1, true, &v);
	bus_access(&f->pio, NULL, 0x70, 2, false, &v);
	assert_int_equal(v, 0x42ff);
	/* Straddling or out of range: unclaimed. */
	assert_false(bus_access(&f->pio, NULL, 0x71, 2, false, &v));
	assert_false(bus_access(&f->pio, NULL, 0x70, 4, true, &v));
	srand(7);
	for (int i = 0; i < 20000; i++) {
		uint64_t val = (uint64_t)rand();
		unsigned port = 0x70 + (unsigned)(rand() & 1);
		bool w = rand() & 1;
		bus_access(&f->pio, NULL, port, 1, w, &val);
		if (rand() % 64 == 0)
			f->now.tv_sec += rand() % 100000;
	}
	assert_int_equal(cmos_rd(f, 0x0D), 0x80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bcd_24h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_12h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registers_a_c_d, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nvram_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
