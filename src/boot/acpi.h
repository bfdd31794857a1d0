/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for vmon's machine (hardware-reduced ACPI, ACPI 6.0 FADT):
 *
 *   RSDP  at ACPI_RSDP_GPA, in the BIOS area [0xE0000, 1 MiB) where
 *         guests scan for it; also handed over in boot_params.acpi_rsdp_addr
 *         (Linux) and hvm_start_info.rsdp_paddr (PVH)
 *   XSDT, RSDT  -> FADT, MADT
 *   FADT  hardware-reduced; sleep control / status registers, the reset
 *         register and the PM timer on the I/O ports of the acpi_pm device;
 *         DSDT pointer;
 *         IA-PC boot flags: no VGA; no 8042 flag (the keyboard controller
 *         is described in the DSDT instead, below)
 *   MADT  LAPIC at 0xfee00000, PCAT_COMPAT (8259 pair present); one
 *         Local APIC entry per vCPU (APIC id = processor UID = vCPU
 *         index); the IOAPIC at 0xfec00000 with id = ncpus and GSI base 0;
 *         an interrupt source override IRQ 0 -> GSI 0 (vmon routes ISA
 *         IRQ n to IOAPIC pin n, the PIT included, as KVM's default
 *         routing does); LINT1 = NMI on every processor
 *   DSDT  \_S5 (SLP_TYP ACPI_S5_SLP_TYP) so the guest can power off; with
 *         pci_host, \_SB.PCI0 (PNP0A03, bus 0-255, config ports 0xcf8-0xcff,
 *         I/O windows around them, the PCI host's memory window, and a _PRT
 *         routing each slot's INTA-D to GSI acpi_pci_intx_gsi()); with
 *         com1_port / rtc_port / kbd_data_port, \_SB.COM1 (PNP0501),
 *         \_SB.RTC_ (PNP0B00) and \_SB.KBD_ (PNP0303, the i8042 with its
 *         keyboard; no PS/2 mouse) with their ports (and COM1's and the
 *         keyboard's IRQ); \_SB.VMMn for each
 *         virtio-mmio device (LNRO0005, see acpi_config)
 *
 * Consistent with the MP table (mptable.h): same APIC ids, IOAPIC id and
 * routing.
 */
#ifndef VMON_BOOT_ACPI_H
#define VMON_BOOT_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/guest_mem.h"
#include "core/layout.h"

#define ACPI_RSDP_GPA	     LAYOUT_ACPI_TABLES
#define ACPI_TABLES_END	     LAYOUT_ACPI_TABLES_END /* the tables follow the RSDP */
#define ACPI_LAPIC_ADDR	     ((uint32_t)LAYOUT_LAPIC)
#define ACPI_IOAPIC_ADDR     ((uint32_t)LAYOUT_IOAPIC)
#define ACPI_S5_SLP_TYP	     5
#define ACPI_MAX_VIRTIO_MMIO 16

/* Sizes of the fixed tables, for tests. */
#define ACPI_RSDP_LEN 36
#define ACPI_HDR_LEN  36
#define ACPI_FADT_LEN 276

struct acpi_config {
	int ncpus; /* 1 to 255 */
	/* The acpi_pm device's ports (devices/acpi_pm.h). */
	uint16_t sleep_ctl_port, sleep_sts_port, reset_port;
	uint8_t reset_value;
	/* Its 24-bit PM timer's 4 ports (FADT PM_TMR_BLK and X_PM_TMR_BLK);
	 * 0: none. */
	uint16_t pm_timer_port;
	/* Describe a PCI host bridge (configuration mechanism #1 at 0xcf8)
	 * in the DSDT. Only when the machine has one: Linux then scans PCI
	 * through it (and, with ACPI on, only through it). The rest describe
	 * it (devices/pci.h): its memory window [pci_mmio_start,
	 * pci_mmio_end), and its INTx wiring (see acpi_pci_intx_gsi). */
	bool pci_host;
	uint32_t pci_mmio_start, pci_mmio_end;
	unsigned pci_intx_gsi_base, pci_intx_lines;
	/* Legacy ISA devices described in the DSDT (0 = not described).
	 * Hardware-reduced ACPI has no 8259 for Linux, so ISA IRQs reach
	 * drivers only through such descriptions: COM1 (PNP0501) at
	 * com1_port with edge IRQ com1_irq (an IOAPIC pin), the CMOS RTC
	 * (PNP0B00) at rtc_port, without an interrupt (vmon's RTC raises
	 * none), the i8042 keyboard controller (PNP0303) at kbd_data_port
	 * and kbd_cmd_port with edge IRQ kbd_irq: Linux's i8042 driver finds
	 * its keyboard through it (and, with no PNP0F13 mouse listed, leaves
	 * the aux port alone). */
	uint16_t com1_port, rtc_port, kbd_data_port, kbd_cmd_port;
	uint8_t com1_irq, kbd_irq;
	/* virtio-mmio devices, each \_SB.VMMn (_HID "LNRO0005", _UID n) with
	 * a 4 KiB Memory32Fixed window at virtio_mmio_base[n] and an
	 * exclusive, level-triggered, active-high interrupt at GSI
	 * virtio_mmio_gsi[n]: how Linux's virtio_mmio driver finds them. */
	unsigned nvirtio_mmio;
	uint32_t virtio_mmio_base[ACPI_MAX_VIRTIO_MMIO];
	uint8_t virtio_mmio_gsi[ACPI_MAX_VIRTIO_MMIO];
};

/* The GSI that INTx pin (0 = INTA .. 3 = INTD) of PCI slot (0-31) on bus
 * 0 is routed to in the DSDT's _PRT: base + ((slot + pin) mod lines), the
 * usual swizzle; level-triggered, active-low, as _PRT GSI entries are. */
static inline unsigned acpi_pci_intx_gsi(const struct acpi_config *cfg, unsigned slot, unsigned pin)
{
	return cfg->pci_intx_gsi_base + (slot + pin) % cfg->pci_intx_lines;
}

/* Fills cfg's virtio-mmio descriptions from what the layout handed out. */
void acpi_describe_layout(struct acpi_config *cfg, const struct machine_layout *l);

/* Builds every table into buf as it will sit at guest-physical base (the
 * RSDP first). Returns the number of bytes, or -1 with err (cap too small,
 * ncpus out of range). */
__attribute__((warn_unused_result)) long acpi_build(const struct acpi_config *cfg, uint64_t base,
						    uint8_t *buf, size_t cap,
						    struct vmon_error *err);

/* Builds the tables and writes them to [ACPI_RSDP_GPA, ACPI_TABLES_END).
 * Sets *rsdp to the RSDP's address. If that range is not guest RAM (a
 * guest under 1 MiB), writes nothing and sets *rsdp to 0. */
__attribute__((warn_unused_result)) int acpi_write(struct guest_mem *gm,
						   const struct acpi_config *cfg, uint64_t *rsdp,
						   struct vmon_error *err);

/* The byte that makes len bytes at p sum to 0 when stored in place of a
 * zero checksum byte. */
uint8_t acpi_checksum(const void *p, size_t len);

#endif
