/* SPDX-License-Identifier: MIT */
/*
 * Boot protocols: load a kernel image into guest RAM and describe the CPU
 * state it must start in. Backend-independent: each CPU backend turns a
 * struct boot_cpu_state into its own registers.
 *
 * Supported images, probed in this order:
 *   - ELF with a Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): 32-bit
 *     protected-mode entry, EBX = hvm_start_info (memory map, cmdline,
 *     modules).
 *   - Multiboot v1 (header in the first 8 KiB): ELF, or the a.out kludge
 *     (address fields); EAX = 0x2BADB002, EBX = multiboot_info.
 *   - Flat binary: only when the user gives --load-addr; loaded there,
 *     entered at that address in 32-bit protected mode, flat segments.
 *   - Linux bzImage (boot protocol 2.12+): entered at its 64-bit entry
 *     point in long mode with identity page tables, RSI = boot_params
 *     (setup header, e820 table, command line, initrd); see linux.h.
 */
#ifndef VMON_BOOT_BOOT_H
#define VMON_BOOT_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/cpu_init.h"
#include "core/guest_mem.h"
#include "core/layout.h"

/* vmon's own structures in guest RAM (start_info, memory map, command
 * line, multiboot info, GDT, boot page tables) live in one 60 KiB window,
 * the boot area: at BOOT_AREA_START, or at LAYOUT_BOOT_AREA_ALT when the
 * image loads over that place. No image segment may overlap the window
 * chosen (boot_info.boot_area says where it went). */
#define BOOT_AREA_START LAYOUT_BOOT_AREA_START
#define BOOT_AREA_END	LAYOUT_BOOT_AREA_END
#define BOOT_AREA_SIZE	(LAYOUT_BOOT_AREA_END - LAYOUT_BOOT_AREA_START)
/* Places inside the boot area, as offsets from its start. */
#define BOOT_OFF_INFO	 (LAYOUT_BOOT_INFO - BOOT_AREA_START)	 /* start_info / multiboot_info */
#define BOOT_OFF_CMDLINE (LAYOUT_BOOT_CMDLINE - BOOT_AREA_START) /* NUL-terminated */
#define BOOT_CMDLINE_MAX LAYOUT_BOOT_CMDLINE_MAX		 /* bytes including the NUL */
#define BOOT_OFF_GDT	 (LAYOUT_BOOT_GDT - BOOT_AREA_START)
#define BOOT_OFF_PGTABLE (LAYOUT_BOOT_PGTABLE - BOOT_AREA_START) /* 64-bit entry's map */
/* Legacy area that is never RAM for loaded images: VGA + BIOS ROM. */
#define BOOT_LEGACY_HOLE_START LAYOUT_LEGACY_HOLE
#define BOOT_LEGACY_HOLE_END   LAYOUT_LEGACY_HOLE_END

struct boot_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none (a multiboot module / PVH module) */
	const char *cmdline;	 /* NULL or "" : empty */
	bool has_load_addr;	 /* flat binary at load_addr */
	uint64_t load_addr;
	/* Guest-physical address of the ACPI RSDP the VM layer wrote, or 0:
	 * passed in hvm_start_info.rsdp_paddr (PVH) and
	 * boot_params.acpi_rsdp_addr (Linux, protocol 2.14+). */
	uint64_t acpi_rsdp;
};

/* What the loader found, for messages and tests. */
struct boot_info {
	const char *protocol;		 /* "pvh", "multiboot", "multiboot-aout", "flat", ... */
	uint64_t image_start, image_end; /* guest-physical extent of the image */
	uint64_t initrd_start, initrd_size;
	uint64_t boot_area; /* where vmon's boot structures went */
};

/* Loads the kernel (and initrd) into gm and fills cpu. Returns 0, or -1 with
 * a one-line message in err naming the file and the problem. */
__attribute__((warn_unused_result)) int boot_load(struct guest_mem *gm,
						  const struct boot_config *cfg,
						  struct boot_cpu_state *cpu,
						  struct boot_info *info, struct vmon_error *err);

#endif
