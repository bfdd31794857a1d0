/* SPDX-License-Identifier: MIT */
/*
 * vmon's machine layout: every port, MMIO window, GSI and firmware-table
 * address of the machine, in one place. Other headers that name these
 * (pci.h, acpi.h, boot.h...) alias the values here.
 *
 * Guest-physical memory (below 4 GiB):
 *
 *   0x00000000  RAM; vmon's boot area [0x1000, 0x10000): boot info 0x1000,
 *               command line 0x3000, GDT 0x4000, identity page tables
 *               0x8000-0xe000 (at [0x90000, 0x9f000) instead, same
 *               offsets, when the image loads over [0x1000, 0x10000))
 *   0x0009fc00  EBDA (reserved): the MP table
 *   0x000a0000  legacy hole (never RAM for images): VGA, BIOS area
 *   0x000e0000    ACPI tables (RSDP first) up to 0xf0000
 *   0x000f0000    MP configuration table when it does not fit the EBDA
 *   0x000ffff0    real-mode reset vector stub
 *   0x00100000  RAM up to the low end (3 GiB at most)
 *   0xc0000000  MMIO hole:
 *   0xd0000000    virtio-mmio windows, 4 KiB each (handed out in order)
 *   0xe0000000    PCI memory window (BARs, assigned by the PCI host)
 *   0xfec00000    IOAPIC
 *   0xfee00000    local APICs
 *   0xfffbc000    KVM's identity-map page and real-mode TSS (3 pages)
 *   RAM beyond 3 GiB continues at 4 GiB.
 *
 * Ports: i8042 0x60/0x64, CMOS RTC 0x70/0x71, debug-exit 0xf4, COM1
 * 0x3f8-0x3ff, ACPI power management 0x600-0x602, PCI configuration
 * 0xcf8-0xcff.
 *
 * GSIs (IOAPIC pins; KVM's default routing and the software CPU's: ISA
 * IRQ n = PIC pin n = IOAPIC pin n): 0 PIT, 1 keyboard, 4 COM1, 8 RTC,
 * 12 mouse, 16-19 PCI INTx (slot s: 16 + s % 4, level, active low),
 * 20-23 virtio-mmio windows (level, active high), 24 and up: MSI routes
 * (the KVM backend's irqfd table, never an IOAPIC pin).
 *
 * Fixed resources are constants; what depends on the configuration (the
 * virtio-mmio windows and their GSIs today) is handed out by the
 * allocator below as devices are created, and the firmware tables (ACPI
 * DSDT) describe exactly what it handed out.
 */
#ifndef VMON_CORE_LAYOUT_H
#define VMON_CORE_LAYOUT_H

#include <stdint.h>

#include "core/error.h"

/* ---- Port I/O ---- */
#define LAYOUT_PORT_I8042_DATA 0x60
#define LAYOUT_PORT_I8042_CMD  0x64
#define LAYOUT_PORT_RTC	       0x70 /* index at 0x70, data at 0x71 */
#define LAYOUT_PORT_DEBUG_EXIT 0xf4
#define LAYOUT_PORT_COM1       0x3f8
#define LAYOUT_PORT_ACPI_PM    0x600 /* sleep control, +1 sleep status, +2 reset, +8 PM timer */
#define LAYOUT_PORT_PCI_CONFIG 0xcf8 /* address at 0xcf8, data at 0xcfc..0xcff */

/* ---- GSIs ---- */
#define LAYOUT_GSI_PIT		  0
#define LAYOUT_GSI_KBD		  1
#define LAYOUT_GSI_COM1		  4
#define LAYOUT_GSI_RTC		  8
#define LAYOUT_GSI_AUX		  12
#define LAYOUT_GSI_ISA_COUNT	  16
#define LAYOUT_GSI_PCI_INTX	  16 /* 4 lines: slot s INTA -> 16 + s % 4 */
#define LAYOUT_GSI_PCI_INTX_LINES 4
#define LAYOUT_GSI_VIRTIO_MMIO	  20 /* one per window, in order */
#define LAYOUT_GSI_MSI_BASE	  24 /* first GSI for MSI routes (KVM irqfd) */
#define LAYOUT_IOAPIC_PINS	  24

/* ---- Guest-physical addresses ---- */
#define LAYOUT_BOOT_AREA_START 0x1000ULL
#define LAYOUT_BOOT_AREA_END   0x10000ULL
/* Where the boot area moves when an image loads over the one above (images
 * below 64 KiB: real-mode style test programs): the same 60 KiB just
 * under the EBDA. The places below keep their offsets from the start. */
#define LAYOUT_BOOT_AREA_ALT	0x90000ULL
#define LAYOUT_BOOT_INFO	0x1000ULL /* hvm_start_info / multiboot_info / boot_params */
#define LAYOUT_BOOT_CMDLINE	0x3000ULL
#define LAYOUT_BOOT_CMDLINE_MAX 0x1000ULL
#define LAYOUT_BOOT_GDT		0x4000ULL
#define LAYOUT_BOOT_PGTABLE	0x8000ULL  /* identity map for the 64-bit Linux entry */
#define LAYOUT_EBDA		0x9fc00ULL /* the MP table's floating pointer */
#define LAYOUT_EBDA_END		0xa0000ULL
#define LAYOUT_LEGACY_HOLE	0xa0000ULL /* VGA + BIOS: never RAM for images */
#define LAYOUT_LEGACY_HOLE_END	0x100000ULL
#define LAYOUT_ACPI_TABLES	0xe0000ULL /* RSDP first, then the rest */
#define LAYOUT_ACPI_TABLES_END	0xf0000ULL
#define LAYOUT_MPTABLE_HIGH	0xf0000ULL /* MP config table when it does not fit */
#define LAYOUT_MPTABLE_HIGH_END 0xf8000ULL
#define LAYOUT_RESET_VECTOR	0xffff0ULL
#define LAYOUT_LOW_RAM_MAX	0xc0000000ULL /* RAM below 4 GiB ends here at most */
#define LAYOUT_VIRTIO_MMIO	0xd0000000ULL
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ULL
#define LAYOUT_VIRTIO_MMIO_MAX	4 /* windows (and GSIs 20-23) */
#define LAYOUT_PCI_MMIO		0xe0000000ULL
#define LAYOUT_PCI_MMIO_END	0xfec00000ULL /* exclusive: the IOAPIC starts here */
#define LAYOUT_IOAPIC		0xfec00000ULL
#define LAYOUT_LAPIC		0xfee00000ULL
#define LAYOUT_KVM_IDENTITY_MAP 0xfffbc000ULL
#define LAYOUT_KVM_TSS		0xfffbd000ULL /* 3 pages */
#define LAYOUT_4G		0x100000000ULL

/* ---- The allocator: what depends on the configuration ---- */

#define LAYOUT_OWNER_MAX 32

struct layout_window {
	uint64_t base, size;
	unsigned gsi;
	char owner[LAYOUT_OWNER_MAX]; /* the device's id, for messages */
};

/* The assignments of one machine. Zero-initialised = nothing handed out.
 * Used from the setup thread only; read-only once the guest runs. */
struct machine_layout {
	unsigned nvirtio_mmio;
	struct layout_window virtio_mmio[LAYOUT_VIRTIO_MMIO_MAX];
};

/* Hands out the next virtio-mmio window and its GSI to owner. Returns 0,
 * or -1 with err when all LAYOUT_VIRTIO_MMIO_MAX are taken. */
__attribute__((warn_unused_result)) int layout_take_virtio_mmio(struct machine_layout *l,
								const char *owner,
								struct layout_window *out,
								struct vmon_error *err);

#endif
