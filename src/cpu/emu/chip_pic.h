/* SPDX-License-Identifier: MIT */
/*
 * The 8259A pair and the ELCR (ports 0x20/0x21, 0xa0/0xa1, 0x4d0/0x4d1).
 * The master's INTR output (emu_vm.pic_out) goes to vCPU 0's LINT0. State
 * is under emu_vm.chip_lock.
 */
#ifndef VMON_CPU_EMU_CHIP_PIC_H
#define VMON_CPU_EMU_CHIP_PIC_H

#include <stdbool.h>

#include "core/error.h"
#include "cpu/emu/cpu.h"

int pic_register(struct emu_vm *vm, struct vmon_error *err);
void pic_set_irq(struct emu_vm *vm, unsigned irq, bool level); /* chip_lock held */
/* Acknowledges the highest pending interrupt and returns its vector (a
 * spurious vector when none). Takes chip_lock. */
int pic_ack(struct emu_vm *vm);
/* After a snapshot set the registers (chip_lock held): the INTR line again. */
void pic_restored(struct emu_vm *vm);

#endif
