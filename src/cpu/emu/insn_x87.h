/* SPDX-License-Identifier: MIT */
/*
 * x87 state shared by insn_x87.c and insn_fxsr.c.
 */
#ifndef VMON_CPU_EMU_INSN_X87_H
#define VMON_CPU_EMU_INSN_X87_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/emu/cpu.h"

/* MXCSR bits a guest may set: every x86-64 CPU has DAZ. */
#define MXCSR_MASK 0xffffu

/* A control word as loaded (FLDCW, FLDENV, FXRSTOR, XRSTOR): bits 7 and
 * 13-15 read as 0 and bit 6 as 1, as the host CPU keeps them. */
static inline uint16_t x87_fcw_load(uint16_t v)
{
	return (uint16_t)((v & 0x1f3f) | 0x40);
}

/* A status word as loaded (FLDENV, FXRSTOR, XRSTOR) under control word
 * cw: the summary bits ES (7) and B (15) are recomputed from the
 * exception flags the control word leaves unmasked. */
static inline uint16_t x87_fsw_load(uint16_t sw, uint16_t cw)
{
	bool es = sw & ~cw & 0x3f;
	return (uint16_t)((sw & 0x7f7f) | (es ? 0x8080 : 0));
}

/* The x87 stack top (FSW bits 11-13): ST(i) is physical register
 * (top + i) & 7. */
static inline int x87_top(const struct emu_cpu *c)
{
	return (c->fsw >> 11) & 7;
}

/* The FXSAVE image's parts (insn_fxsr.c), shared with XSAVE: the x87
 * state (bytes 0-23 and 32-159; rex_w: 64-bit FIP/FDP), MXCSR and its
 * mask (24-31), XMM0-15 (160-415; XMM0-7 outside 64-bit mode). The
 * saves write guest memory at lin (the caller checked the pages); the
 * loads read from a copy of the 512 bytes. */
void fx_save_x87(struct emu_cpu *c, uint64_t lin, bool rex_w);
void fx_save_mxcsr(struct emu_cpu *c, uint64_t lin);
void fx_save_xmm(struct emu_cpu *c, uint64_t lin);
void fx_load_x87(struct emu_cpu *c, const uint8_t *buf, bool rex_w);
void fx_load_xmm(struct emu_cpu *c, const uint8_t *buf);

#endif
