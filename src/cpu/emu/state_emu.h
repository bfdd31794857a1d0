/* SPDX-License-Identifier: MIT */
/*
 * The software CPU's state <-> the neutral snapshot form (cpu/cpu_state.h).
 * backend_emu.c puts these behind the cpu_backend hooks. Every vCPU is
 * parked (or has not run yet) while they are called.
 */
#ifndef VMON_CPU_EMU_STATE_EMU_H
#define VMON_CPU_EMU_STATE_EMU_H

#include "core/error.h"
#include "cpu/cpu_state.h"
#include "cpu/emu/cpu.h"

void emu_state_get_cpu(const struct emu_cpu *c, struct cpu_state *s);
/* s was range-checked by the loader; values are masked to what each
 * register holds. A state this CPU cannot hold (x2APIC, TSC-deadline
 * timer, virtual-8086 mode) is refused: -1 with err. */
int emu_state_set_cpu(struct emu_cpu *c, const struct cpu_state *s, struct vmon_error *err);
void emu_state_get_chips(struct emu_vm *vm, struct chip_state *s);
void emu_state_set_chips(struct emu_vm *vm, const struct chip_state *s);

#endif
