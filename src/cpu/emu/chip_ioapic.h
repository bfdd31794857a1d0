/* SPDX-License-Identifier: MIT */
/*
 * I/O APIC at 0xfec00000: 24 pins, edge and level triggering with remote
 * IRR, delivered through apic_deliver (chip_lapic.h). All state is under
 * emu_vm.chip_lock: ioapic_set_irq expects it held, read/write/eoi take it.
 */
#ifndef VMON_CPU_EMU_CHIP_IOAPIC_H
#define VMON_CPU_EMU_CHIP_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/emu/cpu.h"

#define IOAPIC_BASE 0xfec00000ULL

void ioapic_init(struct ioapic *io);
uint32_t ioapic_read(struct emu_vm *vm, uint32_t off);
void ioapic_write(struct emu_vm *vm, uint32_t off, uint32_t v);
void ioapic_set_irq(struct emu_vm *vm, unsigned pin, bool level); /* chip_lock held */
/* A LAPIC's EOI of level-triggered vector vec (emu_vm.eoi_broadcast). */
void ioapic_eoi(struct emu_vm *vm, int vec);

#endif
