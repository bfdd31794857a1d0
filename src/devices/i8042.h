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
 * written to the keyboard (0x60 with no pending command) reach a PS/2
 * keyboard that answers its command set (reset, identify, scan-code set,
 * LEDs, rate, enable/disable), so a driver finds it; no mouse is attached
 * to the aux port. Reading 0x60 with nothing
 * queued returns the last byte read (0 at first). The one key press the
 * keyboard ever makes is Ctrl-Alt-Del, when the host asks for it
 * (i8042_send_ctrl_alt_del: the API's SendCtrlAltDel).
 *
 * Threads: bus handlers from any vCPU thread; one mutex guards the state.
 */
#ifndef VMON_DEVICES_I8042_H
#define VMON_DEVICES_I8042_H

#include <stdbool.h>

#include "core/bus.h"
#include "core/device.h"
#include "core/error.h"
#include "core/irq.h"
#include "core/layout.h"
#include "core/vm_control.h"

#define I8042_DATA_PORT LAYOUT_PORT_I8042_DATA
#define I8042_CMD_PORT	LAYOUT_PORT_I8042_CMD
#define I8042_KBD_IRQ	LAYOUT_GSI_KBD
#define I8042_AUX_IRQ	LAYOUT_GSI_AUX

struct i8042;

/* As a device object (core/device.h): both lines are env->irq GSIs. */
struct i8042_params {
	unsigned kbd_gsi, aux_gsi;
};
extern const struct device_ops i8042_device;

/* Creates the controller and registers ports 0x60 and 0x64 (one byte
 * each) on pio. ctl receives reset requests; ctl and the irq routers must
 * outlive the device. Call during machine setup. Returns 0, or -1 with
 * err. */
__attribute__((warn_unused_result)) int
i8042_create(struct i8042 **out, struct bus *pio, struct irq_line kbd_irq, struct irq_line aux_irq,
	     struct vm_control *ctl, struct vmon_error *err);

/* Queues the scan codes of Ctrl-Alt-Del pressed and released (set 1 if
 * the command byte asks for translation, else set 2) as keyboard data,
 * raising IRQ 1 if enabled. Returns I8042_KEYS_QUEUED, or (nothing
 * queued) I8042_KEYS_FULL if the output buffer has no room for all of
 * them, I8042_KEYS_DISABLED if the guest has the keyboard not scanning.
 * Any thread. */
enum i8042_keys { I8042_KEYS_QUEUED, I8042_KEYS_FULL, I8042_KEYS_DISABLED };
enum i8042_keys i8042_send_ctrl_alt_del(struct i8042 *kbc);

/* Power-on state for a VM reset (command byte, output port, empty output
 * buffer, IRQs lowered). Any thread. */
void i8042_reset(struct i8042 *kbc);

/* Frees. Call after the vCPU threads have stopped. NULL is a no-op. */
void i8042_destroy(struct i8042 *kbc);

#endif
