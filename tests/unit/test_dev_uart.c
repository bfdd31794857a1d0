/* SPDX-License-Identifier: MIT */
/* 16550A UART: register semantics, interrupts, flow control, and the
 * chardev input path end to end (1 MiB through a pipe). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/chardev.h"
#include "core/event_loop.h"
#include "devices/uart_16550.h"

#define BASE 0x3f8

/* ---- Fakes ---- */

struct fake_irq {
	bool level;
	int changes;
	int raises;
};

static void fake_set_level(void *ctx, unsigned gsi, bool level)
{
	struct fake_irq *f = ctx;
	assert_int_equal(gsi, 4);
	/* The UART must only report changes. */
	assert_true(level != f->level);
	f->level = level;
	f->changes++;
	if (level)
		f->raises++;
}

struct mem_chardev {
	struct chardev c;
	uint8_t out[4096];
	size_t out_len;
	int notifies;
};

static int mem_write(struct chardev *c, const uint8_t *buf, size_t len)
{
	struct mem_chardev *m = (struct mem_chardev *)c;
	for (size_t i = 0; i < len && m->out_len < sizeof(m->out); i++)
		m->out[m->out_len++] = buf[i];
	return 0;
}

static void mem_notify(struct chardev *c)
{
	((struct mem_chardev *)c)->notifies++;
}

static void mem_destroy(struct chardev *c)
{
	chardev_fini(c);
}

static const struct chardev_ops mem_ops = {
	.kind = "mem", .write = mem_write, .notify_space = mem_notify, .destroy = mem_destroy};

struct fix {
	struct bus pio;
	struct fake_irq irq;
	struct irq_router router;
	struct mem_chardev cd;
	struct uart_16550 *uart;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	bus_init(&f->pio, "pio");
	f->router = (struct irq_router){.set_level = fake_set_level, .ctx = &f->irq};
	chardev_init(&f->cd.c, &mem_ops, NULL);
	struct vmon_error err = {{0}};
	int r = uart_16550_create(&f->uart, &f->pio, BASE,
				  (struct irq_line){.router = &f->router, .gsi = 4}, &f->cd.c,
				  &err);
	assert_int_equal(r, 0);
	bus_seal(&f->pio);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	uart_16550_destroy(f->uart);
	chardev_destroy(&f->cd.c);
	bus_destroy(&f->pio);
	free(f);
	return 0;
}

static uint64_t rd(struct fix *f, unsigned reg, unsigned size)
{
	uint64_t v = 0;
	bus_access(&f->pio, NULL, BASE + reg, size, false, &v);
	return v;
}

static uint8_t rd8(struct fix *f, unsigned reg)
{
	return (uint8_t)rd(f, reg, 1);
}

static void wr(struct fix *f, unsigned reg, unsigned size, uint64_t v)
{
	bus_access(&f->pio, NULL, BASE + reg, size, true, &v);
}

static void wr8(struct fix *f, unsigned reg, uint8_t v)
{
	wr(f, reg, 1, v);
}

enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

/* ---- Tests ---- */

static void test_reset_values(void **state)
{
	struct fix *f = *state;
	assert_int_equal(rd8(f, IER), 0);
	assert_int_equal(rd8(f, IIR), 0x01);
	assert_int_equal(rd8(f, LCR), 0);
	assert_int_equal(rd8(f, MCR), 0);
	assert_int_equal(rd8(f, LSR), 0x60); /* THRE | TEMT */
	assert_int_equal(rd8(f, MSR), 0xB0); /* DCD | DSR | CTS */
	assert_false(f->irq.level);
}

static void test_dlab_and_scratch(void **state)
{
	struct fix *f = *state;
	wr8(f, LCR, 0x83);
	wr8(f, RBR, 0x01); /* DLL */
	wr8(f, IER, 0x02); /* DLM */
	assert_int_equal(rd8(f, RBR), 0x01);
	assert_int_equal(rd8(f, IER), 0x02);
	assert_int_equal(f->cd.out_len, 0); /* DLL write is not output */
	wr8(f, LCR, 0x03);
	assert_int_equal(rd8(f, LCR), 0x03);
	assert_int_equal(rd8(f, IER), 0x00); /* IER untouched by the DLM write */
	wr8(f, IER, 0xFF);
	assert_int_equal(rd8(f, IER), 0x0F);
	wr8(f, SCR, 0x5A);
	assert_int_equal(rd8(f, SCR), 0x5A);
	wr8(f, LCR, 0x80);
	assert_int_equal(rd8(f, RBR), 0x01); /* divisor kept */
	assert_int_equal(rd8(f, IER), 0x02);
}

static void test_output(void **state)
{
	struct fix *f = *state;
	const char *s = "hello\r\n";
	for (size_t i = 0; i < strlen(s); i++)
		wr8(f, RBR, (uint8_t)s[i]);
	assert_int_equal(f->cd.out_len, strlen(s));
	assert_memory_equal(f->cd.out, s, strlen(s));
	assert_int_equal(rd8(f, LSR) & 0x60, 0x60);
}

static void test_thri(void **state)
{
	struct fix *f = *state;
	wr8(f, IER, 0x02);
	/* No OUT2: pending but the line stays low. */
	assert_int_equal(rd8(f, IIR), 0x02);
	assert_false(f->irq.level);
	assert_int_equal(rd8(f, IIR), 0x01); /* the IIR read cleared THRI */

	wr8(f, MCR, 0x08); /* OUT2 */
	wr8(f, IER, 0x00);
	wr8(f, IER, 0x02); /* re-enabling with THR empty raises THRI */
	assert_true(f->irq.level);
	assert_int_equal(rd8(f, IIR), 0x02);
	assert_false(f->irq.level);
	assert_int_equal(rd8(f, IIR), 0x01);

	/* A THR write: the line drops then rises (an edge for the PIC). */
	int raises = f->irq.raises;
	wr8(f, RBR, 'x');
	assert_true(f->irq.level);
	assert_int_equal(f->irq.raises, raises + 1);
	wr8(f, RBR, 'y'); /* THRI still pending: lowered and raised again */
	assert_true(f->irq.level);
	assert_int_equal(f->irq.raises, raises + 2);
	wr8(f, IER, 0x00);
	assert_false(f->irq.level);
}

/* The host sends only while the guest holds RTS up (hardware flow
 * control); raising it gives room, and the chardev is told. */
static void test_rx_needs_rts(void **state)
{
	struct fix *f = *state;
	assert_int_equal(uart_16550_rx_space(f->uart), 0);
	assert_int_equal(uart_16550_receive(f->uart, (const uint8_t *)"a", 1), 0);
	wr8(f, MCR, 0x09); /* DTR + OUT2: still no RTS */
	assert_int_equal(uart_16550_rx_space(f->uart), 0);
	assert_int_equal(f->cd.notifies, 0);
	wr8(f, MCR, 0x0b);
	assert_int_equal(f->cd.notifies, 1);
	assert_int_equal(uart_16550_receive(f->uart, (const uint8_t *)"a", 1), 1);
	assert_int_equal(rd8(f, RBR), 'a');
}

static void test_rx_non_fifo(void **state)
{
	struct fix *f = *state;
	wr8(f, MCR, 0x02); /* RTS */
	assert_int_equal(uart_16550_rx_space(f->uart), 1);
	assert_int_equal(uart_16550_receive(f->uart, (const uint8_t *)"ab", 2), 1);
	assert_int_equal(rd8(f, LSR) & 0x03, 0x01); /* DR, no overrun */
	assert_int_equal(uart_16550_rx_space(f->uart), 0);
	assert_int_equal(f->cd.notifies, 0);
	assert_int_equal(rd8(f, RBR), 'a');
	assert_int_equal(f->cd.notifies, 1); /* room again: told once */
	assert_int_equal(rd8(f, LSR) & 0x01, 0);
	assert_int_equal(rd8(f, RBR), 'a'); /* empty: last byte again */
	assert_int_equal(f->cd.notifies, 1);
}

static void test_rx_fifo_flow_control(void **state)
{
	struct fix *f = *state;
	uint8_t buf[20];
	for (int i = 0; i < 20; i++)
		buf[i] = (uint8_t)('A' + i);
	wr8(f, MCR, 0x02); /* RTS */
	wr8(f, FCR, 0x01);
	assert_int_equal(rd8(f, IIR) & 0xC0, 0xC0);
	assert_int_equal(uart_16550_rx_space(f->uart), 16);
	assert_int_equal(uart_16550_receive(f->uart, buf, 20), 16); /* only what fits */
	assert_int_equal(uart_16550_rx_space(f->uart), 0);
	assert_int_equal(rd8(f, LSR) & 0x02, 0); /* never an overrun from the chardev */
	for (int i = 0; i < 7; i++)
		assert_int_equal(rd8(f, RBR), 'A' + i);
	assert_int_equal(f->cd.notifies, 0); /* 9 left: above half */
	assert_int_equal(rd8(f, RBR), 'A' + 7);
	assert_int_equal(f->cd.notifies, 1); /* half empty: refill */
	assert_int_equal(uart_16550_receive(f->uart, buf + 16, 4), 4);
	for (int i = 8; i < 20; i++)
		assert_int_equal(rd8(f, RBR), 'A' + i);
	assert_int_equal(rd8(f, LSR) & 0x01, 0);
	assert_int_equal(f->cd.notifies, 1); /* nobody was refused since */
}

static void test_fifo_reset_bits(void **state)
{
	struct fix *f = *state;
	wr8(f, MCR, 0x02); /* RTS */
	wr8(f, FCR, 0x01);
	assert_int_equal(uart_16550_receive(f->uart, (const uint8_t *)"0123456789abcdefXYZ", 19),
			 16);
	wr8(f, FCR, 0x03); /* clear RX FIFO */
	assert_int_equal(rd8(f, LSR) & 0x01, 0);
	assert_int_equal(f->cd.notifies, 1);
	assert_int_equal(uart_16550_rx_space(f->uart), 16);
	assert_int_equal(uart_16550_receive(f->uart, (const uint8_t *)"q", 1), 1);
	wr8(f, FCR, 0x00); /* disabling the FIFO clears it too */
	assert_int_equal(rd8(f, LSR) & 0x01, 0);
	assert_int_equal(rd8(f, IIR) & 0xC0, 0);
	assert_int_equal(uart_16550_rx_space(f->uart), 1);
}

static void test_rx_irq_and_out2(void **state)
{
	struct fix *f = *state;
	wr8(f, IER, 0x01);
	wr8(f, MCR, 0x02); /* RTS */
	assert_int_equal(uart_16550_receive(f->uart, (const uint8_t *)"k", 1), 1);
	assert_int_equal(rd8(f, IIR), 0x04);
	assert_false(f->irq.level); /* OUT2 off */
	wr8(f, MCR, 0x0a);
	assert_true(f->irq.level);
	wr8(f, MCR, 0x02);
	assert_false(f->irq.level);
	wr8(f, MCR, 0x0a);
	assert_true(f->irq.level);
	assert_int_equal(rd8(f, RBR), 'k');
	assert_false(f->irq.level);
	assert_int_equal(rd8(f, IIR), 0x01);
}

static void test_char_timeout(void **state)
{
	struct fix *f = *state;
	wr8(f, FCR, 0xC1); /* trigger level 14 */
	wr8(f, IER, 0x01);
	wr8(f, MCR, 0x0a); /* RTS + OUT2 */
	assert_int_equal(uart_16550_receive(f->uart, (const uint8_t *)"abc", 3), 3);
	assert_int_equal(rd8(f, IIR), 0xCC); /* below the trigger: timeout */
	assert_true(f->irq.level);
	assert_int_equal(uart_16550_receive(f->uart, (const uint8_t *)"defghijklmn", 11), 11);
	assert_int_equal(rd8(f, IIR), 0xC4); /* at the trigger level */
}

static void test_iir_priorities(void **state)
{
	struct fix *f = *state;
	wr8(f, FCR, 0x01);
	wr8(f, MCR, 0x18); /* loopback + OUT2 */
	wr8(f, IER, 0x0F);
	assert_true(f->irq.level);
	/* Entering loopback changed the modem lines: MSI pending, lowest. */
	uint8_t iir = rd8(f, IIR);
	assert_int_equal(iir, 0xC2);		    /* THRI beats MSI */
	assert_int_equal(rd8(f, IIR), 0xC0);	    /* THRI cleared: MSI left */
	assert_int_equal(rd8(f, MSR) & 0x0F, 0x03); /* DCTS, DDSR: both fell */
	assert_int_equal(rd8(f, IIR), 0xC1);
	assert_false(f->irq.level);

	/* 17 loopback bytes into a 16-byte FIFO: overrun. */
	for (int i = 0; i < 17; i++)
		wr8(f, RBR, (uint8_t)i);
	assert_int_equal(f->cd.out_len, 0); /* loopback: nothing sent */
	assert_true(f->irq.level);
	assert_int_equal(rd8(f, IIR), 0xC6); /* line status first */
	uint8_t lsr = rd8(f, LSR);
	assert_int_equal(lsr & 0x03, 0x03);	 /* DR | OE */
	assert_int_equal(rd8(f, LSR) & 0x02, 0); /* OE cleared by the read */
	/* Then RX data (THRI also pending after the THR writes). */
	assert_int_equal(rd8(f, IIR), 0xC4);
	for (int i = 0; i < 16; i++)
		assert_int_equal(rd8(f, RBR), i);
	assert_int_equal(rd8(f, IIR), 0xC2);
	assert_int_equal(rd8(f, IIR), 0xC1);
	assert_false(f->irq.level);
}

static void test_loopback(void **state)
{
	struct fix *f = *state;
	wr8(f, MCR, 0x10);
	assert_int_equal(rd8(f, MSR) & 0xF0, 0x00);
	wr8(f, MCR, 0x1F);
	assert_int_equal(rd8(f, MSR) & 0xF0, 0xF0);
	wr8(f, MCR, 0x11); /* DTR only */
	assert_int_equal(rd8(f, MSR) & 0xF0, 0x20);
	/* The serial input is disconnected in loopback. */
	assert_int_equal(uart_16550_rx_space(f->uart), 0);
	assert_int_equal(uart_16550_receive(f->uart, (const uint8_t *)"z", 1), 0);
	wr8(f, RBR, 'L');
	assert_int_equal(rd8(f, LSR) & 0x01, 0x01);
	assert_int_equal(rd8(f, RBR), 'L');
	assert_int_equal(f->cd.notifies, 0);
	wr8(f, MCR, 0x02); /* leaving loopback (RTS up) gives room: notify */
	assert_int_equal(f->cd.notifies, 1);
	assert_int_equal(uart_16550_receive(f->uart, (const uint8_t *)"z", 1), 1);
	assert_int_equal(rd8(f, RBR), 'z');
	assert_int_equal(rd8(f, MSR) & 0xF0, 0xB0);
}

static void test_wide_and_hostile_accesses(void **state)
{
	struct fix *f = *state;
	/* A 2-byte write at LCR hits LCR and MCR. */
	wr(f, LCR, 2, 0x0803);
	assert_int_equal(rd8(f, LCR), 0x03);
	assert_int_equal(rd8(f, MCR), 0x08);
	/* A 4-byte read at 4: MCR, LSR, MSR, SCR. */
	wr8(f, SCR, 0x77);
	assert_int_equal(rd(f, 4, 4), 0x77B06008);
	/* Straddling the end: unclaimed (all ones), no device call. */
	uint64_t v = 0;
	assert_false(bus_access(&f->pio, NULL, BASE + 7, 2, false, &v));
	assert_int_equal(v, 0xffff);
	/* 8-byte access covers everything. */
	(void)rd(f, 0, 8);
	wr(f, 0, 8, 0);
	/* Random garbage must not crash or corrupt invariants. */
	srand(1234);
	for (int i = 0; i < 20000; i++) {
		unsigned sizes[] = {1, 2, 4, 8};
		unsigned size = sizes[rand() % 4];
		unsigned reg = (unsigned)rand() % 8;
		uint64_t val = ((uint64_t)rand() << 32) | (uint64_t)rand();
		if (rand() & 1)
			bus_access(&f->pio, NULL, BASE + reg, size, true, &val);
		else
			bus_access(&f->pio, NULL, BASE + reg, size, false, &val);
		if (rand() % 16 == 0)
			(void)uart_16550_receive(f->uart, (const uint8_t *)"fuzz", 4);
		size_t space = uart_16550_rx_space(f->uart);
		assert_true(space <= UART_RX_FIFO_SIZE);
	}
	uart_16550_reset(f->uart);
	assert_int_equal(rd8(f, LSR), 0x60);
	assert_int_equal(rd8(f, IIR), 0x01);
	assert_false(f->irq.level);
}

/* ---- End to end: pipe -> chardev -> UART -> polling "guest" ---- */

#define BIG (1u << 20)

struct writer_arg {
	int fd;
	const uint8_t *data;
	size_t len;
};

/* Not cmocka asserts: those must stay on the main thread. */
static void *writer_main(void *p)
{
	struct writer_arg *w = p;
	unsigned seed = 42;
	size_t off = 0;
	while (off < w->len) {
		size_t chunk = 1 + (size_t)(rand_r(&seed) % 7000);
		if (chunk > w->len - off)
			chunk = w->len - off;
		ssize_t n = write(w->fd, w->data + off, chunk);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	close(w->fd);
	return NULL;
}

static void *loop_main(void *p)
{
	ev_run(p);
	return NULL;
}

static void run_pipe(size_t len, bool fifo)
{
	struct bus pio;
	bus_init(&pio, "pio");
	struct irq_router router = {0};
	int in_pipe[2], out_pipe[2];
	assert_int_equal(pipe(in_pipe), 0);
	assert_int_equal(pipe(out_pipe), 0);
	struct vmon_error err = {{0}};
	struct chardev *cd = NULL;
	assert_int_equal(chardev_fd_create(in_pipe[0], out_pipe[1], false, NULL, &cd, &err), 0);
	struct uart_16550 *u = NULL;
	assert_int_equal(uart_16550_create(&u, &pio, BASE,
					   (struct irq_line){.router = &router, .gsi = 4}, cd,
					   &err),
			 0);
	bus_seal(&pio);
	uint64_t v = fifo ? 0x01 : 0x00;
	bus_access(&pio, NULL, BASE + 2, 1, true, &v);
	v = 0x03; /* DTR | RTS: ready to receive */
	bus_access(&pio, NULL, BASE + 4, 1, true, &v);
	struct event_loop *ev = ev_create(&err);
	assert_non_null(ev);
	assert_int_equal(chardev_start(cd, ev, &err), 0);

	uint8_t *data = malloc(len), *got = malloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	pthread_t lt, wt;
	pthread_create(&lt, NULL, loop_main, ev);
	struct writer_arg w = {.fd = in_pipe[1], .data = data, .len = len};
	pthread_create(&wt, NULL, writer_main, &w);

	size_t n = 0;
	while (n < len) {
		bus_access(&pio, NULL, BASE + 5, 1, false, &v);
		assert_int_equal(v & 0x02, 0); /* no overrun, ever */
		if (v & 0x01) {
			bus_access(&pio, NULL, BASE + 0, 1, false, &v);
			got[n++] = (uint8_t)v;
		}
	}
	assert_memory_equal(got, data, len);

	/* Output path: bytes reach the fd. */
	v = 'Q';
	bus_access(&pio, NULL, BASE, 1, true, &v);
	char c = 0;
	assert_int_equal(read(out_pipe[0], &c, 1), 1);
	assert_int_equal(c, 'Q');

	pthread_join(wt, NULL);
	ev_stop(ev);
	pthread_join(lt, NULL);
	uart_16550_destroy(u);
	chardev_destroy(cd);
	ev_destroy(ev);
	bus_destroy(&pio);
	close(in_pipe[0]);
	close(out_pipe[0]);
	close(out_pipe[1]);
	free(data);
	free(got);
}

static void test_pipe_1mib_exact_fifo(void **state)
{
	run_pipe(BIG, true);
}

static void test_pipe_exact_no_fifo(void **state)
{
	run_pipe(BIG / 8, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlab_and_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thri, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_needs_rts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_non_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_fifo_flow_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_reset_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_irq_and_out2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_char_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iir_priorities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide_and_hostile_accesses, setup, teardown),
		cmocka_unit_test(test_pipe_1mib_exact_fifo),
		cmocka_unit_test(test_pipe_exact_no_fifo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
