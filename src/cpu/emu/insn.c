/* SPDX-License-Identifier: MIT */
/*
 * The handler of every instruction-table row (insns.def's handler column).
 */
#include "cpu/emu/insn.h"

emu_handler *const emu_handlers[I_COUNT] = {
#define INSN(id, handler, ...) [I_##id] = handler,
#define STR(id, handler, ...)  [I_S_##id] = handler,
#define SPEC(id, handler, ...) [I_##id] = handler,
#include "cpu/emu/insns.def"
};
