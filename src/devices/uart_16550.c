/* SPDX-License-Identifier: MIT */
#include "devices/uart_16550.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/device.h"
#include "core/state.h"

/* Register offsets. */
enum {
	REG_RBR_THR_DLL = 0,
	REG_IER_DLM = 1,
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
	UART_NREGS = 8,
};

#define IER_ERBFI 0x01 /* RX data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI  0x04 /* line status */
#define IER_EDSSI 0x08 /* modem status */

#define IIR_NONE      0x01
#define IIR_MSI	      0x00
#define IIR_THRI      0x02
#define IIR_RDI	      0x04
#define IIR_RLSI      0x06
#define IIR_CTI	      0x0C
#define IIR_FIFO_BITS 0xC0

#define FCR_FE	     0x01
#define FCR_RX_RESET 0x02
#define FCR_TX_RESET 0x04
#define FCR_KEEP     0xC9 /* FE, DMA mode, trigger level */

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1F

#define LSR_DR	 0x01
#define LSR_OE	 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS	 0x10
#define MSR_DSR	 0x20
#define MSR_RI	 0x40
#define MSR_DCD	 0x80

struct uart_16550 {
	pthread_mutex_t lock;	 /* guards everything below */
	pthread_mutex_t tx_lock; /* orders THR bytes; taken before lock */
	struct irq_line irq;
	struct chardev *backend;

	uint8_t ier, lcr, mcr, scr, fcr;
	uint8_t lsr_err;   /* OE (the only error we can produce) */
	uint8_t msr_delta; /* DCTS/DDSR/TERI/DDCD, cleared by MSR read */
	uint16_t divisor;
	bool thr_ipending;
	bool irq_level; /* last level sent to the line */

	uint8_t rx[UART_RX_FIFO_SIZE];
	unsigned rx_head, rx_count;
	uint8_t rbr_last;
	bool want_notify;	     /* refused input: notify the chardev when room appears */
	uint64_t tx_bytes, rx_bytes; /* counters (under lock) */
};

/* ---- Helpers (lock held) ---- */

static unsigned rx_capacity(const struct uart_16550 *u)
{
	if (u->mcr & MCR_LOOP)
		return 0; /* the serial input is disconnected in loopback */
	/* Hardware flow control: the host sends only while the guest holds
	 * RTS up. Linux raises it when the tty is opened, after its startup
	 * has flushed the FIFO, so input typed or piped early is not lost. */
	if (!(u->mcr & MCR_RTS))
		return 0;
	return (u->fcr & FCR_FE) ? UART_RX_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart_16550 *u)
{
	static const unsigned levels[4] = {1, 4, 8, 14};
	return levels[(u->fcr >> 6) & 3];
}

static void rx_clear(struct uart_16550 *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* Appends one byte; false if the FIFO (or holding register) is full. */
static bool rx_push(struct uart_16550 *u, uint8_t b)
{
	unsigned cap = (u->fcr & FCR_FE) ? UART_RX_FIFO_SIZE : 1;
	if (u->rx_count >= cap)
		return false;
	u->rx[(u->rx_head + u->rx_count) % UART_RX_FIFO_SIZE] = b;
	u->rx_count++;
	return true;
}

/* Modem status lines as the guest sees them. */
static uint8_t msr_lines(const struct uart_16550 *u)
{
	if (u->mcr & MCR_LOOP) {
		uint8_t v = 0;
		if (u->mcr & MCR_RTS)
			v |= MSR_CTS;
		if (u->mcr & MCR_DTR)
			v |= MSR_DSR;
		if (u->mcr & MCR_OUT1)
			v |= MSR_RI;
		if (u->mcr & MCR_OUT2)
			v |= MSR_DCD;
		return v;
	}
	return MSR_DCD | MSR_DSR | MSR_CTS; /* a terminal is always there */
}

static uint8_t compute_iir(const struct uart_16550 *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr_err & LSR_OE))
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_count > 0) {
		/* Below the trigger level the data would be reported by the
		 * character timeout; report it at once. */
		if ((u->fcr & FCR_FE) && u->rx_count < rx_trigger(u))
			return IIR_CTI;
		return IIR_RDI;
	}
	if ((u->ier & IER_ETBEI) && u->thr_ipending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr_delta & 0x0F))
		return IIR_MSI;
	return IIR_NONE;
}

static void update_irq(struct uart_16550 *u)
{
	bool level = compute_iir(u) != IIR_NONE && (u->mcr & MCR_OUT2);
	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}

/* True if the chardev should be told about room now (clears the request).
 * Notify at half-empty so a refill can overlap the guest's draining. */
static bool take_notify(struct uart_16550 *u)
{
	unsigned cap = rx_capacity(u);
	if (!u->want_notify || cap == 0 || u->rx_count > cap / 2)
		return false;
	u->want_notify = false;
	return true;
}

static void unlock_and_notify(struct uart_16550 *u)
{
	bool notify = take_notify(u);
	pthread_mutex_unlock(&u->lock);
	if (notify)
		chardev_notify_space(u->backend);
}

/* ---- Sink side ---- */

size_t uart_16550_rx_space(struct uart_16550 *u)
{
	pthread_mutex_lock(&u->lock);
	unsigned cap = rx_capacity(u);
	size_t space = u->rx_count < cap ? cap - u->rx_count : 0;
	if (space == 0)
		u->want_notify = true;
	pthread_mutex_unlock(&u->lock);
	return space;
}

size_t uart_16550_receive(struct uart_16550 *u, const uint8_t *buf, size_t n)
{
	pthread_mutex_lock(&u->lock);
	size_t took = 0;
	if (rx_capacity(u) > 0) {
		while (took < n && rx_push(u, buf[took]))
			took++;
	}
	if (took < n)
		u->want_notify = true;
	u->rx_bytes += took;
	if (took > 0)
		update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return took;
}

static size_t sink_receive(void *opaque, const uint8_t *buf, size_t n)
{
	return uart_16550_receive(opaque, buf, n);
}

static size_t sink_space(void *opaque)
{
	return uart_16550_rx_space(opaque);
}

static const struct chardev_sink_ops uart_sink_ops = {
	.receive = sink_receive,
	.space = sink_space,
};

/* ---- Guest side ---- */

static void write_thr(struct uart_16550 *u, uint8_t b)
{
	pthread_mutex_lock(&u->tx_lock);
	pthread_mutex_lock(&u->lock);
	u->thr_ipending = false;
	update_irq(u);
	bool loop = u->mcr & MCR_LOOP;
	if (loop) {
		if (!rx_push(u, b))
			u->lsr_err |= LSR_OE; /* byte lost, as on hardware */
	} else {
		/* Transmit outside the state lock: the write may block
		 * (backpressure) and input must still flow meanwhile. */
		u->tx_bytes++;
		pthread_mutex_unlock(&u->lock);
		chardev_write(u->backend, &b, 1);
		pthread_mutex_lock(&u->lock);
	}
	u->thr_ipending = true;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	pthread_mutex_unlock(&u->tx_lock);
}

static uint8_t read_reg(struct uart_16550 *u, unsigned reg)
{
	uint8_t v = 0xff;
	pthread_mutex_lock(&u->lock);
	if (reg == REG_RBR_THR_DLL && !(u->lcr & LCR_DLAB)) {
		if (u->rx_count > 0) {
			u->rbr_last = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_RX_FIFO_SIZE;
			u->rx_count--;
			update_irq(u);
		}
		v = u->rbr_last;
		unlock_and_notify(u);
		return v;
	}
	switch (reg) {
	case REG_RBR_THR_DLL: v = (uint8_t)u->divisor; break;
	case REG_IER_DLM: v = (u->lcr & LCR_DLAB) ? (uint8_t)(u->divisor >> 8) : u->ier; break;
	case REG_IIR_FCR: {
		uint8_t iir = compute_iir(u);
		if (iir == IIR_THRI) {
			u->thr_ipending = false; /* reading IIR clears THRI */
			update_irq(u);
		}
		v = iir | ((u->fcr & FCR_FE) ? IIR_FIFO_BITS : 0);
		break;
	}
	case REG_LCR: v = u->lcr; break;
	case REG_MCR: v = u->mcr; break;
	case REG_LSR:
		v = u->lsr_err | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
		if (u->lsr_err) {
			u->lsr_err = 0; /* reading LSR clears the error bits */
			update_irq(u);
		}
		break;
	case REG_MSR:
		v = msr_lines(u) | u->msr_delta;
		if (u->msr_delta) {
			u->msr_delta = 0;
			update_irq(u);
		}
		break;
	case REG_SCR: v = u->scr; break;
	default: break;
	}
	pthread_mutex_unlock(&u->lock);
	return v;
}

static void write_reg(struct uart_16550 *u, unsigned reg, uint8_t v)
{
	pthread_mutex_lock(&u->lock);
	if (reg == REG_RBR_THR_DLL && !(u->lcr & LCR_DLAB)) {
		/* write_thr takes tx_lock first (lock order). A guest racing
		 * its own LCR writes on another vCPU gets either meaning. */
		pthread_mutex_unlock(&u->lock);
		write_thr(u, v);
		return;
	}
	switch (reg) {
	case REG_RBR_THR_DLL:
		if (u->lcr & LCR_DLAB)
			u->divisor = (uint16_t)((u->divisor & 0xff00) | v);
		break;
	case REG_IER_DLM:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (uint16_t)((u->divisor & 0x00ff) | (v << 8));
		} else {
			uint8_t old = u->ier;
			u->ier = v & 0x0F;
			/* Enabling ETBEI with THR empty raises THRI at once
			 * (what Linux's 8250 driver expects). */
			if ((u->ier & IER_ETBEI) && !(old & IER_ETBEI))
				u->thr_ipending = true;
			update_irq(u);
		}
		break;
	case REG_IIR_FCR: {
		uint8_t old = u->fcr;
		uint8_t nfcr = (v & FCR_FE) ? (v & FCR_KEEP) : 0;
		if ((old ^ nfcr) & FCR_FE)
			rx_clear(u); /* toggling FIFO enable clears both FIFOs */
		if ((v & FCR_RX_RESET) && (v & FCR_FE))
			rx_clear(u);
		/* TX reset: nothing is ever queued for transmission. */
		u->fcr = nfcr;
		update_irq(u);
		break;
	}
	case REG_LCR: u->lcr = v; break;
	case REG_MCR: {
		uint8_t before = msr_lines(u);
		u->mcr = v & MCR_MASK;
		uint8_t after = msr_lines(u);
		uint8_t changed = before ^ after;
		if (changed & MSR_CTS)
			u->msr_delta |= MSR_DCTS;
		if (changed & MSR_DSR)
			u->msr_delta |= MSR_DDSR;
		if (changed & MSR_DCD)
			u->msr_delta |= MSR_DDCD;
		if ((before & MSR_RI) && !(after & MSR_RI))
			u->msr_delta |= MSR_TERI; /* trailing edge of RI */
		update_irq(u);
		break;
	}
	case REG_LSR:
	case REG_MSR: break; /* factory test writes: ignored */
	case REG_SCR: u->scr = v; break;
	default: break;
	}
	unlock_and_notify(u);
}

/* Wider accesses are split into byte accesses to consecutive registers. */
static uint64_t uart_read(void *opaque, uint64_t offset, unsigned size)
{
	struct uart_16550 *u = opaque;
	uint64_t v = 0;
	if (size > 8)
		size = 8;
	for (unsigned i = 0; i < size; i++) {
		uint64_t reg = offset + i;
		uint8_t b = reg < UART_NREGS ? read_reg(u, (unsigned)reg) : 0xff;
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

static void uart_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct uart_16550 *u = opaque;
	if (size > 8)
		size = 8;
	for (unsigned i = 0; i < size; i++) {
		uint64_t reg = offset + i;
		if (reg < UART_NREGS)
			write_reg(u, (unsigned)reg, (uint8_t)(value >> (8 * i)));
	}
}

static const struct bus_ops uart_ops = {
	.read = uart_read,
	.write = uart_write,
};

/* ---- Life cycle ---- */

static void reset_locked(struct uart_16550 *u)
{
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->fcr = 0;
	u->lsr_err = 0;
	u->msr_delta = 0;
	u->divisor = 12; /* 9600 baud */
	u->thr_ipending = false;
	u->rbr_last = 0;
	rx_clear(u);
	update_irq(u);
}

void uart_16550_reset(struct uart_16550 *u)
{
	pthread_mutex_lock(&u->lock);
	reset_locked(u);
	unlock_and_notify(u);
}

int uart_16550_create(struct uart_16550 **out, struct bus *pio, uint16_t base, struct irq_line irq,
		      struct chardev *backend, struct vmon_error *err)
{
	struct uart_16550 *u = calloc(1, sizeof(*u));
	if (!u)
		return err_setf(err, "out of memory");
	pthread_mutex_init(&u->lock, NULL);
	pthread_mutex_init(&u->tx_lock, NULL);
	u->irq = irq;
	u->backend = backend;
	reset_locked(u);
	if (bus_register(pio, base, UART_NREGS, &uart_ops, u, "uart-16550", err) < 0) {
		pthread_mutex_destroy(&u->lock);
		pthread_mutex_destroy(&u->tx_lock);
		free(u);
		return -1;
	}
	chardev_set_sink(backend, &uart_sink_ops, u);
	*out = u;
	return 0;
}

void uart_16550_destroy(struct uart_16550 *u)
{
	if (!u)
		return;
	chardev_set_sink(u->backend, NULL, NULL);
	pthread_mutex_destroy(&u->lock);
	pthread_mutex_destroy(&u->tx_lock);
	free(u);
}

/* ---- Device object (core/device.h): the UART and the chardev it owns ---- */

struct uart_dev {
	struct uart_16550 *uart;
	struct chardev *chr;
};

static void uart_dev_destroy(void *dev)
{
	struct uart_dev *d = dev;
	uart_16550_destroy(d->uart);
	chardev_destroy(d->chr);
	free(d);
}

static int uart_dev_create(void **out, const struct device_env *env, const void *params,
			   struct vmon_error *err)
{
	const struct uart_16550_params *p = params;
	struct uart_dev *d = calloc(1, sizeof(*d));
	*out = d;
	if (!d)
		return err_setf(err, "out of memory");
	if (chardev_create(&p->chr, env->ctl, &d->chr, err) < 0 ||
	    uart_16550_create(&d->uart, env->pio, p->port,
			      (struct irq_line){.router = env->irq, .gsi = p->gsi}, d->chr,
			      err) < 0)
		return -1;
	return chardev_start(d->chr, env->main_loop, err);
}

static void uart_dev_reset(void *dev)
{
	uart_16550_reset(((struct uart_dev *)dev)->uart);
}

static void uart_dev_stats(void *dev, const struct stats_sink *out)
{
	struct uart_16550 *u = ((struct uart_dev *)dev)->uart;
	pthread_mutex_lock(&u->lock);
	uint64_t tx = u->tx_bytes, rx = u->rx_bytes;
	pthread_mutex_unlock(&u->lock);
	stats_put(out, "tx_bytes", tx);
	stats_put(out, "rx_bytes", rx);
}

/* Snapshots: the registers and the receive FIFO (in order); the line is
 * driven again from them. The chardev is the restoring process's own. */
static int uart16550_save(void *dev, struct state_writer *w, struct vmon_error *err)
{
	(void)err;
	struct uart_16550 *u = ((struct uart_dev *)dev)->uart;
	pthread_mutex_lock(&u->lock);
	const uint8_t regs[] = {u->ier,	    u->lcr,	  u->mcr,	   u->scr,     u->fcr,
				u->lsr_err, u->msr_delta, u->thr_ipending, u->rbr_last};
	state_put_bytes(w, regs, sizeof(regs));
	state_put_u16(w, u->divisor);
	state_put_u8(w, (uint8_t)u->rx_count);
	for (unsigned i = 0; i < u->rx_count; i++)
		state_put_u8(w, u->rx[(u->rx_head + i) % UART_RX_FIFO_SIZE]);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static int uart16550_restore(void *dev, struct state_reader *r, uint32_t version,
			     struct vmon_error *err)
{
	struct uart_16550 *u = ((struct uart_dev *)dev)->uart;
	uint8_t regs[9], rx[UART_RX_FIFO_SIZE];
	state_get_bytes(r, regs, sizeof(regs));
	uint16_t divisor = state_get_u16(r);
	uint8_t n = state_get_u8(r);
	if (version != 1 || n > UART_RX_FIFO_SIZE)
		return err_setf(err, "uart16550: bad saved state (version %u, %u bytes queued)",
				version, n);
	state_get_bytes(r, rx, n);
	if (!state_reader_done(r))
		return err_setf(err, "uart16550: saved state is truncated or has stray bytes");
	pthread_mutex_lock(&u->lock);
	u->ier = regs[0] & 0x0f;
	u->lcr = regs[1];
	u->mcr = regs[2] & 0x1f;
	u->scr = regs[3];
	u->fcr = regs[4];
	u->lsr_err = regs[5] & 0x02;
	u->msr_delta = regs[6] & 0x0f;
	u->thr_ipending = regs[7] != 0;
	u->rbr_last = regs[8];
	u->divisor = divisor;
	rx_clear(u);
	for (unsigned i = 0; i < n; i++)
		(void)rx_push(u, rx[i]);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

const struct device_ops uart_16550_device = {
	.kind = "uart16550",
	.state_version = 1,
	.save = uart16550_save,
	.restore = uart16550_restore,
	.create = uart_dev_create,
	.reset = uart_dev_reset,
	.destroy = uart_dev_destroy,
	.stats = uart_dev_stats,
};
