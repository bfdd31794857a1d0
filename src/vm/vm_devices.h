/* SPDX-License-Identifier: MIT */
/*
 * The devices of vmon's machine, created and registered on the buses in
 * one place. Owned by the VM layer; they outlive reboots (a PC's devices
 * keep their state across a reset of the CPUs, the CMOS NVRAM among them).
 */
#ifndef VMON_VM_VM_DEVICES_H
#define VMON_VM_VM_DEVICES_H

#include "core/error.h"
#include "core/machine.h"

struct event_loop;
struct vm_config;
struct chardev;
struct uart_16550;
struct i8042;
struct rtc_cmos;
struct debug_exit;
struct acpi_pm;

#define COM1_PORT	0x3f8
#define COM1_GSI	4
#define RTC_GSI		8
#define KBD_GSI		1
#define AUX_GSI		12
#define DEBUG_EXIT_PORT 0xf4

struct vm_devices {
	struct chardev *console;
	struct uart_16550 *com1;
	struct i8042 *i8042;
	struct rtc_cmos *rtc;
	struct debug_exit *debug_exit;
	struct acpi_pm *acpi_pm;
};

/* Creates every device and registers it on m's buses; starts the console
 * on ev. On failure, what was created is left for vm_devices_destroy. */
int vm_devices_create(struct vm_devices *d, struct machine *m, struct event_loop *ev,
		      const struct vm_config *cfg, struct vmon_error *err);

/* Power-on state for a guest reset (NVRAM and the RTC's clock survive).
 * Call while no vCPU runs. */
void vm_devices_reset(struct vm_devices *d);

/* After the vCPU and event-loop threads have stopped. */
void vm_devices_destroy(struct vm_devices *d);

#endif
