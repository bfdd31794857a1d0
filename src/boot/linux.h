/* SPDX-License-Identifier: MIT */
/*
 * The x86 Linux boot protocol as vmon uses it: a bzImage entered through
 * its 64-bit entry point (protocol 2.12 and later, XLF_KERNEL_64), with
 * struct boot_params (the "zero page") built by vmon. Offsets and flags
 * per Documentation/x86/boot.rst and zero-page.rst; all fields are
 * little-endian. vmon touches only the fields named here, so it keeps the
 * zero page as bytes rather than a full C struct.
 *
 * What the loader puts where (guest-physical; the first four in the boot
 * area, at 0x90000 + the same offsets when the kernel loads over 0x1000):
 *   0x1000  boot_params (4 KiB): the image's setup header, e820 table, ...
 *   0x3000  the command line (NUL-terminated)
 *   0x4000  boot GDT (boot_gdt_setup)
 *   0x8000  identity page tables for [0, 4 GiB): PML4, PDPT, 4 PDs of
 *           2 MiB pages, up to 0xe000
 *   pref_address (16 MiB for Debian's kernels): the protected-mode kernel,
 *           with init_size bytes reserved from there for its
 *           decompression; entered at that address + 0x200, RSI =
 *           boot_params, interrupts off.
 *   initrd: page-aligned, as high as fits below initrd_addr_max and the
 *           end of low RAM, above the kernel's init_size window.
 */
#ifndef VMON_BOOT_LINUX_H
#define VMON_BOOT_LINUX_H

#include <stdint.h>

#include "core/layout.h"

/* Setup header fields: offsets in the image and in boot_params alike. */
#define LINUX_HDR_START	       0x1f1 /* first byte of the setup header */
#define LINUX_SETUP_SECTS      0x1f1 /* u8; 0 means 4 */
#define LINUX_SYSSIZE	       0x1f4 /* u32, protected-mode code in 16-byte units */
#define LINUX_VID_MODE	       0x1fa /* u16 */
#define LINUX_BOOT_FLAG	       0x1fe /* u16, 0xAA55 */
#define LINUX_JUMP	       0x200 /* u16; byte 0x201 gives the header's length */
#define LINUX_HEADER_MAGIC     0x202 /* "HdrS" */
#define LINUX_VERSION	       0x206 /* u16, protocol version, e.g. 0x020f */
#define LINUX_TYPE_OF_LOADER   0x210 /* u8 */
#define LINUX_LOADFLAGS	       0x211 /* u8 */
#define LINUX_CODE32_START     0x214 /* u32 */
#define LINUX_RAMDISK_IMAGE    0x218 /* u32 */
#define LINUX_RAMDISK_SIZE     0x21c /* u32 */
#define LINUX_HEAP_END_PTR     0x224 /* u16 */
#define LINUX_CMD_LINE_PTR     0x228 /* u32 */
#define LINUX_INITRD_ADDR_MAX  0x22c /* u32, highest address the initrd may occupy */
#define LINUX_KERNEL_ALIGNMENT 0x230 /* u32 */
#define LINUX_RELOCATABLE      0x234 /* u8 */
#define LINUX_XLOADFLAGS       0x236 /* u16 */
#define LINUX_CMDLINE_SIZE     0x238 /* u32, without the NUL */
#define LINUX_PAYLOAD_OFFSET   0x248 /* u32 */
#define LINUX_PAYLOAD_LENGTH   0x24c /* u32 */
#define LINUX_PREF_ADDRESS     0x258 /* u64 */
#define LINUX_INIT_SIZE	       0x260 /* u32 */
#define LINUX_HDR_MIN_END      0x264 /* the header must reach past init_size */

/* boot_params fields outside the setup header. */
#define LINUX_BP_ACPI_RSDP_ADDR	  0x070 /* u64, protocol 2.14+ */
#define LINUX_BP_EXT_RAMDISK_IMG  0x0c0 /* u32, bits 32-63 of ramdisk_image */
#define LINUX_BP_EXT_RAMDISK_SIZE 0x0c4 /* u32 */
#define LINUX_BP_EXT_CMD_LINE_PTR 0x0c8 /* u32 */
#define LINUX_BP_ALT_MEM_K	  0x1e0 /* u32, KiB of RAM above 1 MiB */
#define LINUX_BP_E820_ENTRIES	  0x1e8 /* u8 */
#define LINUX_BP_SENTINEL	  0x1ef /* u8, must stay 0 */
#define LINUX_BP_E820_TABLE	  0x2d0 /* 128 x {u64 addr, u64 size, u32 type} */
#define LINUX_BP_E820_MAX	  128
#define LINUX_BP_E820_ENTRY_SIZE  20
#define LINUX_BP_SIZE		  0x1000

#define LINUX_HDRS_MAGIC	0x53726448u /* "HdrS" little-endian */
#define LINUX_BOOT_FLAG_MAGIC	0xAA55
#define LINUX_MIN_VERSION	0x020c /* 2.12: xloadflags, 64-bit entry */
#define LINUX_VERSION_ACPI_RSDP 0x020e /* 2.14: boot_params.acpi_rsdp_addr */

#define LINUX_LOADED_HIGH   0x01 /* loadflags: protected-mode code at 1 MiB+ */
#define LINUX_CAN_USE_HEAP  0x80
#define LINUX_XLF_KERNEL_64 0x0001 /* xloadflags: 64-bit entry at +0x200 */

#define LINUX_ENTRY64_OFFSET 0x200
#define LINUX_LOADER_TYPE    0xff /* "undefined" boot loader */
#define LINUX_DEFAULT_LOAD   0x100000ULL

/* Identity page tables for the 64-bit entry. */
/* The identity map's pages, as offsets from its start (the boot area's
 * page-table place). */
#define LINUX_PT_PDPT 0x1000ULL
#define LINUX_PT_PD   0x2000ULL /* 4 pages */
#define LINUX_PT_SIZE 0x6000ULL

#endif
