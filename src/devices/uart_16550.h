/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART (COM1: base 0x3f8, IRQ 4).
 *
 * Registers: RBR/THR, IER, IIR/FCR (16-byte RX FIFO, trigger levels, FIFO
 * reset bits, IIR bits 0xC0 when FIFOs are on), LCR (DLAB -> DLL/DLM), MCR
 * (loopback, OUT2), LSR (DR, OE, THRE, TEMT), MSR, SCR. Interrupt sources
 * by priority: line status (overrun), RX data (IIR 0x04 at/above the
 * trigger level, 0x0C "character timeout" below it, i.e. whenever data
 * waits), THR empty, modem status. The IRQ line is (any enabled source
 * pending) && MCR.OUT2, and irq_line_set() is called on level changes only.
 *
 * Transmission is immediate: a THR write goes to the chardev (blocking:
 * backpressure) outside the UART lock, and THRE/TEMT/THRI are set again.
 *
 * Input uses chardev flow control: the UART is the chardev's sink; it takes
 * only what fits in its FIFO (16 bytes, 1 with FIFOs off, 0 in loopback)
 * and calls chardev_notify_space() when the guest has drained the FIFO to
 * half (or it was reset/re-enabled) after it had to refuse bytes. Overrun
 * can only happen in loopback mode.
 *
 * Threads: the bus handlers run on any vCPU thread; the sink callbacks on
 * the event-loop thread; one mutex per UART guards the state.
 */
#ifndef VMON_DEVICES_UART_16550_H
#define VMON_DEVICES_UART_16550_H

#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/chardev.h"
#include "core/device.h"
#include "core/error.h"
#include "core/irq.h"
#include "core/layout.h"

#define UART_COM1_BASE	  LAYOUT_PORT_COM1
#define UART_COM1_IRQ	  LAYOUT_GSI_COM1
#define UART_RX_FIFO_SIZE 16

struct uart_16550;

/* As a device object (core/device.h): the UART at port with IRQ gsi, on a
 * chardev it creates from chr, owns, and starts on env->main_loop. Stats:
 * tx_bytes, rx_bytes. */
struct uart_16550_params {
	uint16_t port;
	unsigned gsi;
	struct chardev_spec chr;
};
extern const struct device_ops uart_16550_device;

/* Creates the UART, registers ports [base, base+8) on pio and attaches
 * itself as backend's input sink (backend may be NULL: output discarded,
 * no input). The UART does not own backend; backend must outlive it. The
 * irq router in irq must outlive it too. Call during machine setup (before
 * bus_seal and before chardev_start). Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int uart_16550_create(struct uart_16550 **out, struct bus *pio,
							  uint16_t base, struct irq_line irq,
							  struct chardev *backend,
							  struct vmon_error *err);

/* Power-on state for a VM reset: registers and FIFOs cleared (bytes in the
 * RX FIFO are discarded as on hardware), IRQ lowered. Any thread. */
void uart_16550_reset(struct uart_16550 *uart);

/* Detaches from the chardev and frees. Call after the vCPU threads and the
 * event loop have stopped (the bus still points at it: do not dispatch to
 * the bus afterwards). NULL is a no-op. */
void uart_16550_destroy(struct uart_16550 *uart);

/* Input side (also the chardev sink callbacks). Any thread.
 * rx_space: bytes receive() would accept now.
 * receive: appends up to n bytes to the RX FIFO; returns how many. If it
 * returns < n (or rx_space returned 0) the UART calls
 * chardev_notify_space() on its backend once room appears. */
size_t uart_16550_rx_space(struct uart_16550 *uart);
size_t uart_16550_receive(struct uart_16550 *uart, const uint8_t *buf, size_t n);

#endif
