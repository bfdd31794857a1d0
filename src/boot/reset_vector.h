/* SPDX-License-Identifier: MIT */
/*
 * The code at the x86 real-mode reset vector, F000:FFF0 (guest-physical
 * 0xffff0, in the reserved BIOS area below 1 MiB).
 *
 * vmon has no BIOS, but guests still jump there to reset the machine:
 * Linux's default reboot path on a machine whose ACPI is hardware-reduced
 * and that has no EFI runtime goes EFI -> "BIOS" (machine_real_restart:
 * real mode, ljmp F000:FFF0). Without code there that guest would run
 * whatever the bytes happen to be. The stub writes the ACPI reset value to
 * the FADT's reset register port and halts, so every reset path ends in
 * the same machine reset (a reboot, or exit with --no-reboot).
 */
#ifndef VMON_BOOT_RESET_VECTOR_H
#define VMON_BOOT_RESET_VECTOR_H

#include <stdint.h>

#include "core/error.h"
#include "core/guest_mem.h"
#include "core/layout.h"

#define RESET_VECTOR_GPA LAYOUT_RESET_VECTOR

/* Writes the stub (16 bytes at RESET_VECTOR_GPA). 0, or -1 with err set
 * if that address is not guest RAM. */
int reset_vector_write(struct guest_mem *mem, uint16_t reset_port, uint8_t reset_value,
		       struct vmon_error *err);

#endif
