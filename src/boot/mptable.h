/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification 1.4 tables, for guests that find CPUs
 * and interrupt routing without ACPI (Linux with acpi=off and
 * CONFIG_X86_MPPARSE, small kernels):
 *
 *   floating pointer  at MPTABLE_GPA (0x9fc00, the last KiB below 640 KiB,
 *                     where guests scan), spec revision 1.4, no default
 *                     configuration, IMCR absent (virtual-wire mode)
 *   configuration table right after it when it fits in that KiB (up to 40
 *                     vCPUs), else at MPTABLE_HIGH_GPA in the BIOS area:
 *     - one processor entry per vCPU: APIC id = vCPU index, version 0x14,
 *       enabled, BSP flag on vCPU 0
 *     - bus 0 "ISA"
 *     - the IOAPIC at 0xfec00000, id = ncpus, version 0x11
 *     - ISA IRQ n -> IOAPIC pin n for n = 0..15 (KVM's default routing and
 *       the software CPU's: the PIT's IRQ 0 is pin 0), conforming polarity
 *       and trigger
 *     - LINT0 = ExtINT, LINT1 = NMI on every local APIC
 * Consistent with the ACPI MADT (acpi.h).
 */
#ifndef VMON_BOOT_MPTABLE_H
#define VMON_BOOT_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/guest_mem.h"
#include "core/layout.h"

#define MPTABLE_GPA	     LAYOUT_EBDA
#define MPTABLE_AREA_END     LAYOUT_EBDA_END
#define MPTABLE_HIGH_GPA     LAYOUT_MPTABLE_HIGH /* config table when it does not fit */
#define MPTABLE_HIGH_END     LAYOUT_MPTABLE_HIGH_END
#define MPTABLE_FLOAT_LEN    16
#define MPTABLE_HDR_LEN	     44
#define MPTABLE_LAPIC_ADDR   ((uint32_t)LAYOUT_LAPIC)
#define MPTABLE_IOAPIC_ADDR  ((uint32_t)LAYOUT_IOAPIC)
#define MPTABLE_APIC_VERSION 0x14
#define MPTABLE_IRQS	     16

/* Bytes of the configuration table for ncpus vCPUs. */
size_t mptable_config_size(int ncpus);

/* Builds the configuration table for ncpus (1 to 255) into buf (at least
 * mptable_config_size(ncpus) bytes), checksummed. Returns its size, or 0
 * if ncpus is out of range. */
size_t mptable_build_config(uint8_t *buf, int ncpus);

/* Builds the floating pointer to a configuration table at config_gpa. */
void mptable_build_float(uint8_t buf[MPTABLE_FLOAT_LEN], uint32_t config_gpa);

/* Writes both (see above for where). Writes nothing if guest RAM does not
 * reach 1 MiB. Returns 0, or -1 with err (ncpus out of range). */
__attribute__((warn_unused_result)) int mptable_write(struct guest_mem *gm, int ncpus,
						      struct vmon_error *err);

#endif
