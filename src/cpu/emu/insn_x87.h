/* SPDX-License-Identifier: MIT */
/*
 * x87 state shared by insn_x87.c and insn_fxsr.c.
 */
#ifndef VMON_CPU_EMU_INSN_X87_H
#define VMON_CPU_EMU_INSN_X87_H

#include "cpu/emu/cpu.h"

/* MXCSR bits a guest may set: every x86-64 CPU has DAZ. */
#define MXCSR_MASK 0xffffu

/* The x87 stack top (FSW bits 11-13): ST(i) is physical register
 * (top + i) & 7. */
static inline int x87_top(const struct emu_cpu *c)
{
	return (c->fsw >> 11) & 7;
}

#endif
