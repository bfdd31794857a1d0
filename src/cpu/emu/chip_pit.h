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

#endif
