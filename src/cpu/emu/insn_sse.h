/* SPDX-License-Identifier: MIT */
/*
 * What the SSE/SSE2/MMX handlers share (insn_sse.c, insn_ssefp.c): the
 * availability checks and reading/writing a vector operand.
 */
#ifndef VMON_CPU_EMU_INSN_SSE_H
#define VMON_CPU_EMU_INSN_SSE_H

#include <stdbool.h>

#include "cpu/emu/insn.h"

/* #UD with CR0.EM (or, for SSE, without CR4.OSFXSR), #NM with CR0.TS. */
void sse_check(struct emu_cpu *c, bool mmx);
/* An MMX instruction: TOP = 0, every register tagged valid. */
void mmx_enter(struct emu_cpu *c);
/* Reads operand i as a vector (memory: o->size bytes, zero-extended; 16
 * bytes must be aligned when align). */
void sse_rd(struct emu_cpu *c, const struct dinsn *d, int i, union xmmreg *v, bool align);
/* Writes operand i; for memory and GPRs only o->size bytes. */
void sse_wr(struct emu_cpu *c, const struct dinsn *d, int i, const union xmmreg *v, bool align);
/* 8 for an MMX form, 16 for an XMM form. */
unsigned sse_width(const struct dinsn *d);

#endif
