/* SPDX-License-Identifier: MIT */
/*
 * Minimal i8042 PS/2 controller at ports 0x60 (data) and 0x64 (status /
 * command) with no keyboard or mouse attached.
 *
 * Controller commands: 0x20 / 0x60 read / write the command byte, 0xAA self
 * test (-> 0x55), 0xAB / 0xA9 port tests (-> 0x00), 0xAD / 0xAE / 0xA7 /
 * 0xA8 disable / enable ports, 0xC0 input port, 0xD0 / 0xD1 read / write
 * the output port, 0xD2 / 0xD3 write the keyboard / aux output buffer,
 * 0xD4 write to aux (swallowed), 0xE0 test inputs, 0xF0-0xFF pulse output
 * lines. Responses come through the output buffer with OBF set (IRQ 1, or
 * IRQ 12 for aux data, while enabled in the command byte). A pulse of
 * output-port bit 0 (0xFE, ...) or an output-port write with bit 0 clear
 * asks for a reset: vmctl_request_stop(ctl, VM_STOP_RESET, 0). Bytes
 * written to the keyboard (0x60 with no pending command) are dropped: no
 * device answers, as with an unplugged keyboard. Reading 0x60 with nothing
 * queued returns the last byte read (0 at first).
 *
 * Threads: bus handlers from any vCPU thread; one mutex guards the state.
 */
#ifndef VMON_DEVICES_I8042_H
#define VMON_DEVICES_I8042_H

#include "core/bus.h"
#include "core/error.h"
#include "core/irq.h"
#include "core/vm_control.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT	0x64
#define I8042_KBD_IRQ	1
#define I8042_AUX_IRQ	12

struct i8042;

/* Creates the controller and registers ports 0x60 and 0x64 (one byte
 * each) on pio. ctl receives reset requests; ctl and the irq routers must
 * outlive the device. Call during machine setup. Returns 0, or -1 with
 * err. */
__attribute__((warn_unused_result)) int
i8042_create(struct i8042 **out, struct bus *pio, struct irq_line kbd_irq, struct irq_line aux_irq,
	     struct vm_control *ctl, struct vmon_error *err);

/* Power-on state for a VM reset (command byte, output port, empty output
 * buffer, IRQs lowered). Any thread. */
void i8042_reset(struct i8042 *kbc);

/* Frees. Call after the vCPU threads have stopped. NULL is a no-op. */
void i8042_destroy(struct i8042 *kbc);

#endif
