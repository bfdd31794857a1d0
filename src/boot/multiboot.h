/* SPDX-License-Identifier: MIT */
/*
 * Multiboot v1 as used by vmon: the header the kernel carries and the
 * information structure vmon passes in EBX (layout per the Multiboot
 * Specification 0.6.96). All fields little-endian.
 */
#ifndef VMON_BOOT_MULTIBOOT_H
#define VMON_BOOT_MULTIBOOT_H

#include <stdint.h>

#define MULTIBOOT_HEADER_MAGIC	   0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_SEARCH	   8192 /* the header lies in the first 8 KiB */

/* Header flags. Bits 0-15 are requirements: a loader must refuse an image
 * with a bit it does not understand set. */
#define MB_HDR_PAGE_ALIGN    (1u << 0) /* modules page-aligned (always done) */
#define MB_HDR_MEMORY_INFO   (1u << 1) /* mem_* and mmap (always provided) */
#define MB_HDR_VIDEO_MODE    (1u << 2) /* preferred video mode: ignored, no VBE/fb info */
#define MB_HDR_REQUIRED_MASK 0xffffu
#define MB_HDR_SUPPORTED     (MB_HDR_PAGE_ALIGN | MB_HDR_MEMORY_INFO | MB_HDR_VIDEO_MODE)
#define MB_HDR_AOUT_KLUDGE   (1u << 16) /* header_addr..entry_addr are valid */

/* Header layout: offsets from the magic. */
struct multiboot_header {
	uint32_t magic;
	uint32_t flags;
	uint32_t checksum; /* magic + flags + checksum == 0 (mod 2^32) */
	/* valid if MB_HDR_AOUT_KLUDGE */
	uint32_t header_addr;	/* where the magic is loaded */
	uint32_t load_addr;	/* start of the text: file offset of the magic - (header_addr -
				   load_addr) */
	uint32_t load_end_addr; /* end of data; 0: up to the end of the file */
	uint32_t bss_end_addr;	/* end of bss; 0: no bss */
	uint32_t entry_addr;
	/* valid if MB_HDR_VIDEO_MODE */
	uint32_t mode_type, width, height, depth;
};

/* multiboot_info.flags */
#define MB_INFO_MEMORY		 (1u << 0)
#define MB_INFO_BOOTDEV		 (1u << 1)
#define MB_INFO_CMDLINE		 (1u << 2)
#define MB_INFO_MODS		 (1u << 3)
#define MB_INFO_MEM_MAP		 (1u << 6)
#define MB_INFO_BOOT_LOADER_NAME (1u << 9)

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB of RAM from 0 */
	uint32_t mem_upper; /* KiB of RAM from 1 MiB to the first hole */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length; /* bytes */
	uint32_t mmap_addr;
	uint32_t drives_length;
	uint32_t drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info;
	uint32_t vbe_mode_info;
	uint16_t vbe_mode;
	uint16_t vbe_interface_seg;
	uint16_t vbe_interface_off;
	uint16_t vbe_interface_len;
	uint64_t framebuffer_addr;
	uint32_t framebuffer_pitch;
	uint32_t framebuffer_width;
	uint32_t framebuffer_height;
	uint8_t framebuffer_bpp;
	uint8_t framebuffer_type;
	uint8_t color_info[6];
};

struct multiboot_mod {
	uint32_t mod_start;
	uint32_t mod_end; /* exclusive */
	uint32_t string;  /* module command line */
	uint32_t reserved;
};

/* One memory map entry; size (20) counts the bytes after itself. */
struct __attribute__((packed)) multiboot_mmap_entry {
	uint32_t size;
	uint64_t addr;
	uint64_t len;
	uint32_t type;
};

_Static_assert(sizeof(struct multiboot_header) == 48, "multiboot_header layout");
_Static_assert(sizeof(struct multiboot_info) == 120, "multiboot_info layout");
_Static_assert(sizeof(struct multiboot_mod) == 16, "multiboot_mod layout");
_Static_assert(sizeof(struct multiboot_mmap_entry) == 24, "multiboot_mmap_entry layout");

#endif
