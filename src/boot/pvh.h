/* SPDX-License-Identifier: MIT */
/*
 * Xen PVH boot ABI as used by vmon: the ELF note that marks a PVH kernel and
 * the structures passed in EBX (layout per Xen's public
 * arch-x86/hvm/start_info.h, version 1). All fields little-endian.
 */
#ifndef VMON_BOOT_PVH_H
#define VMON_BOOT_PVH_H

#include <stdint.h>

#define PVH_NOTE_NAME		 "Xen"
#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define HVM_START_MAGIC	  0x336ec578u
#define HVM_START_VERSION 1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags; /* SIF_xxx; vmon passes 0 */
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr; /* 0: none, the guest scans for it */
	/* version 1 */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* E820 types: 1 RAM, 2 reserved */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry layout");

#endif
