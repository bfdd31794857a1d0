/* SPDX-License-Identifier: MIT */
/*
 * The ACPI power-management registers of vmon's hardware-reduced ACPI
 * machine, on three I/O ports the FADT names:
 *
 *   ACPI_PM_SLEEP_CTL_PORT  sleep control register (FADT SLEEP_CONTROL_REG):
 *                           a write with SLP_EN (bit 5) and SLP_TYP (bits
 *                           2-4) = ACPI_PM_SLP_TYP_S5 powers the machine off:
 *                           vmctl_request_stop(ctl, VM_STOP_POWEROFF, 0).
 *                           Other sleep types are not offered (the DSDT has
 *                           only \_S5) and are ignored.
 *   ACPI_PM_SLEEP_STS_PORT  sleep status register: reads 0 (the machine
 *                           never wakes from a sleep state); writes ignored.
 *   ACPI_PM_RESET_PORT      reset register (FADT RESET_REG): writing
 *                           ACPI_PM_RESET_VALUE resets the machine:
 *                           vmctl_request_stop(ctl, VM_STOP_RESET, 0).
 *
 * Stateless, so it needs no lock and no reset; safe from any vCPU thread.
 */
#ifndef VMON_DEVICES_ACPI_PM_H
#define VMON_DEVICES_ACPI_PM_H

#include "core/bus.h"
#include "core/device.h"
#include "core/error.h"
#include "core/layout.h"
#include "core/vm_control.h"

#define ACPI_PM_SLEEP_CTL_PORT LAYOUT_PORT_ACPI_PM
#define ACPI_PM_SLEEP_STS_PORT (LAYOUT_PORT_ACPI_PM + 1)
#define ACPI_PM_RESET_PORT     (LAYOUT_PORT_ACPI_PM + 2)
#define ACPI_PM_NPORTS	       3
#define ACPI_PM_RESET_VALUE    0x01
#define ACPI_PM_SLP_TYP_S5     5
#define ACPI_PM_SLP_EN	       0x20
#define ACPI_PM_SLP_TYP_SHIFT  2

struct acpi_pm;

/* As a device object (core/device.h): no params (its ports are fixed). */
extern const struct device_ops acpi_pm_device;

/* Registers the three ports on pio; ctl must outlive the device. Call
 * during machine setup. Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int acpi_pm_create(struct acpi_pm **out, struct bus *pio,
						       struct vm_control *ctl,
						       struct vmon_error *err);
void acpi_pm_destroy(struct acpi_pm *pm);

#endif
