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
 *   ACPI_PM_TIMER_PORT      the power-management timer (FADT PM_TMR_BLK,
 *                           4 ports): a 24-bit counter at 3.579545 MHz
 *                           (ACPI_PM_TIMER_HZ), read-only, wrapping. It is
 *                           the reference clock a guest without a TSC
 *                           frequency in CPUID (Linux on an AMD CPU model)
 *                           calibrates the TSC against, so it runs from
 *                           the clock the guest's TSC runs at on both
 *                           backends: the host's, in real time (paused or
 *                           not, as the TSC). A snapshot holds its count,
 *                           and a restore continues from it, as the TSC.
 *
 * The registers but the timer are stateless; the timer's one value (its
 * offset from the host clock) changes only on restore, when no vCPU runs.
 * No lock, no reset (the timer runs through a reset, as on a PC); safe
 * from any vCPU thread.
 */
#ifndef VMON_DEVICES_ACPI_PM_H
#define VMON_DEVICES_ACPI_PM_H

#include <stdint.h>

#include "core/bus.h"
#include "core/device.h"
#include "core/error.h"
#include "core/layout.h"
#include "core/vm_control.h"

#define ACPI_PM_SLEEP_CTL_PORT LAYOUT_PORT_ACPI_PM
#define ACPI_PM_SLEEP_STS_PORT (LAYOUT_PORT_ACPI_PM + 1)
#define ACPI_PM_RESET_PORT     (LAYOUT_PORT_ACPI_PM + 2)
#define ACPI_PM_NPORTS	       3
#define ACPI_PM_TIMER_PORT     (LAYOUT_PORT_ACPI_PM + 8)
#define ACPI_PM_TIMER_NPORTS   4
#define ACPI_PM_TIMER_HZ       3579545ULL
#define ACPI_PM_TIMER_MASK     0xffffffu /* 24 bits (FADT TMR_VAL_EXT clear) */
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
/* The PM timer's count at host CLOCK_MONOTONIC time now_ns (what a read
 * at that time returns). For tests. */
uint32_t acpi_pm_timer_at(const struct acpi_pm *pm, uint64_t now_ns);

#endif
