/* SPDX-License-Identifier: MIT */
/*
 * 8254 PIT (ports 0x40-0x43) and port 0x61. Channel 0 drives ISA IRQ 0;
 * its next edge (emu_vm.pit_deadline_ns) is checked by vCPU 0 with
 * pit_check(). State is under emu_vm.chip_lock (pit_check takes it).
 */
#ifndef VMON_CPU_EMU_CHIP_PIT_H
#define VMON_CPU_EMU_CHIP_PIT_H

#include <stdint.h>

#include "core/error.h"
#include "cpu/emu/cpu.h"

int pit_register(struct emu_vm *vm, struct vmon_error *err);
void pit_check(struct emu_vm *vm, uint64_t now);
/* Snapshots, chip_lock held: ns since channel ch loaded its count (within
 * a period for modes 2 and 3); after the channels were set from a
 * snapshot, the channel-0 interrupt armed again with pending ticks due. */
uint64_t pit_elapsed_ns(struct emu_vm *vm, unsigned ch, uint64_t now);
void pit_restored(struct emu_vm *vm, uint64_t now, uint32_t pending);

#endif
