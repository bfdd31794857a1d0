/* SPDX-License-Identifier: MIT */
/*
 * Transitional: the SSE and x87 interpreters (sse.c, x87.c). Return false
 * if d is not theirs (the caller reports it and raises #UD).
 */
#ifndef VMON_CPU_EMU_INSN_H
#define VMON_CPU_EMU_INSN_H

#include <stdbool.h>

#include "cpu/emu/decode.h"

bool emu_exec_sse(struct emu_cpu *c, const struct dinsn *d);
bool emu_exec_x87(struct emu_cpu *c, const struct dinsn *d);

#endif
