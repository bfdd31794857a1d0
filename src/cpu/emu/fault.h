/* SPDX-License-Identifier: MIT */
/*
 * Faults: an instruction that must raise an exception calls emu_raise(),
 * which records it in the vCPU and longjmps to the run loop's setjmp in
 * emu_cpu_run (run.c), where it is delivered. Instructions therefore
 * finish every access that can fault before they commit registers, so
 * the exception reports the faulting instruction's own RIP and state.
 * Only the vCPU's own thread, inside emu_cpu_run, may call these.
 */
#ifndef VMON_CPU_EMU_FAULT_H
#define VMON_CPU_EMU_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/emu/cpu.h"

_Noreturn void emu_raise(struct emu_cpu *c, int vec, uint32_t err, bool has_err);
_Noreturn void emu_raise_gp(struct emu_cpu *c, uint32_t err);
/* Outside 64-bit mode: the limit check of a size-byte access at offset off
 * of segment seg that the inline test (operand.h: seg_lin_n) could not pass
 * (beyond the limit, an expand-down or unusable segment). Returns if the
 * access is allowed; else #GP(0), or #SS(0) for SS (SDM vol. 3 5.3). */
void emu_seg_check(struct emu_cpu *c, int seg, uint64_t off, unsigned size);

#endif
