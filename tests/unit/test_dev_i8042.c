/* SPDX-License-Identifier: MIT */
/* i8042: controller commands, output buffer, IRQs, reset requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/bus.h"
#include "devices/i8042.h"

struct fake_irq {
	bool level[16];
	int changes;
};

static void fake_set_level(void *ctx, unsigned gsi, bool level)
{
	struct fake_irq *f = ctx;
	assert_true(gsi == 1 || gsi == 12);
	assert_true(level != f->level[gsi]);
	f->level[gsi] = level;
	f->changes++;
}

static int stops;
static void on_stop(void *opaque)
{
	stops++;
}

struct fix {
	struct bus pio;
	struct fake_irq irq;
	struct irq_router router;
	struct vm_control ctl;
	struct i8042 *kbc;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	bus_init(&f->pio, "pio");
	f->router = (struct irq_router){.set_level = fake_set_level, .ctx = &f->irq};
	f->ctl.on_stop = on_stop;
	stops = 0;
	struct vmon_error err = {{0}};
	assert_int_equal(i8042_create(&f->kbc, &f->pio, (struct irq_line){&f->router, 1},
				      (struct irq_line){&f->router, 12}, &f->ctl, &err),
			 0);
	bus_seal(&f->pio);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	i8042_destroy(f->kbc);
	bus_destroy(&f->pio);
	free(f);
	return 0;
}

static uint8_t in8(struct fix *f, unsigned port)
{
	uint64_t v = 0;
	bus_access(&f->pio, NULL, port, 1, false, &v);
	return (uint8_t)v;
}

static void out8(struct fix *f, unsigned port, uint8_t val)
{
	uint64_t v = val;
	bus_access(&f->pio, NULL, port, 1, true, &v);
}

/* Like Linux's i8042_command: send, wait for OBF, read. */
static uint8_t cmd_resp(struct fix *f, uint8_t cmd)
{
	out8(f, 0x64, cmd);
	assert_true(in8(f, 0x64) & 0x01);
	return in8(f, 0x60);
}

static void test_probe_sequence(void **state)
{
	struct fix *f = *state;
	uint8_t st = in8(f, 0x64);
	assert_int_equal(st & 0x03, 0x00);    /* OBF, IBF clear */
	assert_int_equal(in8(f, 0x60), 0x00); /* nothing queued */
	assert_int_equal(cmd_resp(f, 0xAA), 0x55);
	assert_int_equal(in8(f, 0x64) & 0x01, 0);
	assert_true(in8(f, 0x64) & 0x04); /* system flag */
	assert_true(in8(f, 0x64) & 0x08); /* last write was a command */
	assert_int_equal(cmd_resp(f, 0xAB), 0x00);
	assert_int_equal(cmd_resp(f, 0xA9), 0x00);
	uint8_t ccb = cmd_resp(f, 0x20);
	assert_int_equal(ccb, 0x45);
	out8(f, 0x64, 0x60);
	out8(f, 0x60, 0x74);
	assert_int_equal(in8(f, 0x64) & 0x08, 0);
	assert_int_equal(cmd_resp(f, 0x20), 0x74);
	out8(f, 0x64, 0xAD);
	out8(f, 0x64, 0xA7);
	assert_int_equal(cmd_resp(f, 0x20), 0x74 | 0x30);
	out8(f, 0x64, 0xAE);
	out8(f, 0x64, 0xA8);
	assert_int_equal(cmd_resp(f, 0x20), 0x74 & ~0x30);
	/* Empty buffer: the last value again. */
	assert_int_equal(in8(f, 0x60), 0x74 & ~0x30);
	/* Aux loopback comes back flagged as aux data. */
	out8(f, 0x64, 0xD3);
	out8(f, 0x60, 0x5A);
	assert_int_equal(in8(f, 0x64) & 0x21, 0x21);
	assert_int_equal(in8(f, 0x60), 0x5A);
	/* A byte for the keyboard: reset answers ACK and self-test passed. */
	out8(f, 0x60, 0xFF);
	assert_int_equal(in8(f, 0x60), 0xFA);
	assert_int_equal(in8(f, 0x60), 0xAA);
	assert_int_equal(in8(f, 0x64) & 0x01, 0);
	assert_int_equal(stops, 0);
}

/* kbd_cmd: writes keyboard command bytes, returns how many bytes came
 * back into out[]. */
static int kbd_cmd(struct fix *f, const uint8_t *cmd, int n, uint8_t *out)
{
	for (int i = 0; i < n; i++)
		out8(f, 0x60, cmd[i]);
	int got = 0;
	while ((in8(f, 0x64) & 0x01) && got < 8)
		out[got++] = in8(f, 0x60);
	return got;
}

/* The keyboard's command set, as Linux's atkbd probes and sets it up. */
static void test_keyboard_commands(void **state)
{
	struct fix *f = *state;
	uint8_t r[8];
	/* Identify: translated (the default command byte) and raw. */
	assert_int_equal(kbd_cmd(f, (uint8_t[]){0xF2}, 1, r), 3);
	assert_int_equal(r[0], 0xFA);
	assert_int_equal(r[1], 0xAB);
	assert_int_equal(r[2], 0x41);
	out8(f, 0x64, 0x60);
	out8(f, 0x60, 0x05); /* translation off */
	assert_int_equal(kbd_cmd(f, (uint8_t[]){0xF2}, 1, r), 3);
	assert_int_equal(r[2], 0x83);
	/* Scan-code set: select 3, ask, a bad set is refused. */
	assert_int_equal(kbd_cmd(f, (uint8_t[]){0xF0, 0x03}, 2, r), 2);
	assert_int_equal(r[0], 0xFA);
	assert_int_equal(r[1], 0xFA);
	assert_int_equal(kbd_cmd(f, (uint8_t[]){0xF0, 0x00}, 2, r), 3);
	assert_int_equal(r[2], 3);
	assert_int_equal(kbd_cmd(f, (uint8_t[]){0xF0, 0x07}, 2, r), 2);
	assert_int_equal(r[1], 0xFE);
	/* LEDs and rate take an argument; echo; an unknown command: resend. */
	assert_int_equal(kbd_cmd(f, (uint8_t[]){0xED, 0x07, 0xF3, 0x20}, 4, r), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r[i], 0xFA);
	assert_int_equal(kbd_cmd(f, (uint8_t[]){0xEE}, 1, r), 1);
	assert_int_equal(r[0], 0xEE);
	assert_int_equal(kbd_cmd(f, (uint8_t[]){0x42}, 1, r), 1);
	assert_int_equal(r[0], 0xFE);
	/* A keyboard told not to scan sends no keys; enabled again, it does. */
	assert_int_equal(kbd_cmd(f, (uint8_t[]){0xF5}, 1, r), 1);
	assert_int_equal(i8042_send_ctrl_alt_del(f->kbc), I8042_KEYS_DISABLED);
	assert_int_equal(in8(f, 0x64) & 0x01, 0);
	assert_int_equal(kbd_cmd(f, (uint8_t[]){0xF4}, 1, r), 1);
	assert_int_equal(i8042_send_ctrl_alt_del(f->kbc), I8042_KEYS_QUEUED);
	assert_int_equal(in8(f, 0x60), 0x14); /* set 2: translation is off */
	/* Nothing here ever stops the VM. */
	assert_int_equal(stops, 0);
}

static void test_output_port(void **state)
{
	struct fix *f = *state;
	assert_int_equal(cmd_resp(f, 0xD0), 0x03);
	out8(f, 0x64, 0xD1);
	out8(f, 0x60, 0x03); /* A20 on, reset line high: nothing happens */
	assert_int_equal(stops, 0);
	assert_int_equal(cmd_resp(f, 0xD0), 0x03);
	out8(f, 0x64, 0xD1);
	out8(f, 0x60, 0x02); /* bit 0 clear: reset */
	assert_int_equal(stops, 1);
	assert_int_equal(f->ctl.reason, VM_STOP_RESET);
	assert_int_equal(f->ctl.status, 0);
}

static void test_pulse_reset(void **state)
{
	struct fix *f = *state;
	out8(f, 0x64, 0xFF); /* pulses nothing */
	assert_int_equal(stops, 0);
	out8(f, 0x64, 0xFE);
	assert_int_equal(stops, 1);
	assert_int_equal(f->ctl.reason, VM_STOP_RESET);
	out8(f, 0x64, 0xFE); /* the first stop wins */
	assert_int_equal(stops, 1);
}

static void test_irqs(void **state)
{
	struct fix *f = *state;
	/* Default command byte enables the keyboard interrupt. */
	out8(f, 0x64, 0x20);
	assert_true(f->irq.level[1]);
	(void)in8(f, 0x60);
	assert_false(f->irq.level[1]);
	/* Aux data raises IRQ 12 only when enabled. */
	out8(f, 0x64, 0xD3);
	out8(f, 0x60, 0x11);
	assert_false(f->irq.level[12]);
	(void)in8(f, 0x60);
	out8(f, 0x64, 0x60);
	out8(f, 0x60, 0x47);
	out8(f, 0x64, 0xD3);
	out8(f, 0x60, 0x11);
	assert_true(f->irq.level[12]);
	assert_false(f->irq.level[1]);
	(void)in8(f, 0x60);
	assert_false(f->irq.level[12]);
	/* Interrupts off: OBF but no line. */
	out8(f, 0x64, 0x60);
	out8(f, 0x60, 0x44);
	out8(f, 0x64, 0xAA);
	assert_false(f->irq.level[1]);
	assert_int_equal(in8(f, 0x60), 0x55);
	i8042_reset(f->kbc);
	assert_int_equal(cmd_resp(f, 0x20), 0x45);
}

static void test_hostile(void **state)
{
	struct fix *f = *state;
	uint64_t v = 0;
	/* Wider accesses straddle the 1-byte ranges: unclaimed. */
	assert_false(bus_access(&f->pio, NULL, 0x60, 2, false, &v));
	assert_false(bus_access(&f->pio, NULL, 0x64, 4, true, &v));
	/* Flood of commands without reading: bounded, no crash. */
	for (int i = 0; i < 1000; i++)
		out8(f, 0x64, 0x20);
	int n = 0;
	while ((in8(f, 0x64) & 0x01) && n < 100) {
		(void)in8(f, 0x60);
		n++;
	}
	assert_true(n > 0 && n <= 16);
	srand(3);
	for (int i = 0; i < 20000; i++) {
		uint8_t b = (uint8_t)rand();
		if (b >= 0xF0 || (b == 0xD1))
			continue; /* those end the VM, tested above */
		out8(f, (rand() & 1) ? 0x64 : 0x60, b);
		(void)in8(f, (rand() & 1) ? 0x64 : 0x60);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_probe_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyboard_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pulse_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
