/* SPDX-License-Identifier: MIT */
/*
 * The guest-physical memory map vmon reports to guests (PVH memmap,
 * multiboot mmap, later the Linux zero page e820 table). One source of
 * truth, built from the RAM regions of struct guest_mem:
 *
 *   [0, 0x9fc00)                  RAM   (conventional memory)
 *   [0x9fc00, 0x100000)           reserved (EBDA, VGA window, BIOS ROM)
 *   [1 MiB, low RAM end)          RAM
 *   [GM_LOW_RAM_END, 4 GiB)       reserved (MMIO hole: IOAPIC, LAPIC, PCI)
 *   [4 GiB, 4 GiB + high size)    RAM, only if RAM does not fit below 3 GiB
 *
 * RAM entries are clipped to the RAM that exists; a guest smaller than
 * 0x9fc00 bytes gets only [0, size) as RAM.
 */
#ifndef VMON_BOOT_E820_H
#define VMON_BOOT_E820_H

#include <stdint.h>

#include "core/guest_mem.h"
#include "core/layout.h"

#define E820_RAM      1
#define E820_RESERVED 2

#define E820_EBDA_START LAYOUT_EBDA
#define E820_BIOS_END	LAYOUT_LEGACY_HOLE_END
#define E820_4G		LAYOUT_4G

#define E820_MAX_ENTRIES 8

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fills map (room for E820_MAX_ENTRIES) in ascending address order and
 * returns the number of entries. */
int e820_build(const struct guest_mem *gm, struct e820_entry map[E820_MAX_ENTRIES]);

/* Bytes of RAM below 640 KiB, and from 1 MiB up to the first hole (the
 * multiboot mem_lower/mem_upper values, in bytes). */
uint64_t e820_lower_ram(const struct guest_mem *gm);
uint64_t e820_upper_ram(const struct guest_mem *gm);

#endif
