/* SPDX-License-Identifier: MIT */
/*
 * The flat GDT vmon writes in its boot area for protected/long-mode entry:
 *
 *   0x00 null
 *   0x08 BOOT_SEL_CODE64  64-bit code, DPL 0
 *   0x10 BOOT_SEL_CODE32  32-bit code, base 0, limit 4 GiB, DPL 0
 *   0x18 BOOT_SEL_DATA    32-bit data, base 0, limit 4 GiB, DPL 0
 *
 * Descriptors have the accessed bit set, so the CPU never needs to write
 * them back. Backends that build hidden segment state by hand can use
 * boot_gdt_descriptor() to stay consistent with what the guest sees.
 */
#ifndef VMON_BOOT_GDT_H
#define VMON_BOOT_GDT_H

#include <stdint.h>

#include "core/cpu_init.h"
#include "core/error.h"
#include "core/guest_mem.h"

#define BOOT_GDT_ENTRIES 4

/* The raw 8-byte descriptor for a selector in vmon's GDT (0 for the null
 * selector or an unknown one). */
uint64_t boot_gdt_descriptor(uint16_t selector);

/* Writes the GDT at gpa and sets cpu->gdt_base/gdt_limit.
 * Returns 0, or -1 with err set if that page is not RAM. */
__attribute__((warn_unused_result)) int boot_gdt_setup(struct guest_mem *gm, uint64_t gpa,
						       struct boot_cpu_state *cpu,
						       struct vmon_error *err);

#endif
