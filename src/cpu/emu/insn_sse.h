/* SPDX-License-Identifier: MIT */
/*
 * What the vector handlers share (insn_sse.c, insn_vint.c, insn_vperm.c,
 * insn_vmem.c, insn_ssefp.c, insn_vstr.c, insn_crypto.c): the
 * availability checks and reading/writing a vector operand, for the
 * legacy (MMX, SSE) and the VEX (AVX, AVX2) encodings alike.
 *
 * Operands. The destination is op[0]. A two-source operation reads
 * op[0] and op[1] in the legacy encoding (dst = op(dst, src)) and op[1]
 * and op[2] in the VEX one (dst = op(src1, src2)): vec_src1/vec_src2. An
 * immediate is always d->imm; a VEX fourth register operand (is4) is
 * d->imm bits 7:4.
 *
 * Width: 8 bytes for an MMX form, 16 for XMM (legacy, VEX.128), 32 for
 * YMM (VEX.256). Writing a register: a legacy SSE instruction leaves
 * bits 255:128 of the YMM register alone; a VEX.128 one zeroes them.
 *
 * Alignment: legacy SSE requires 16-byte alignment of a 16-byte memory
 * operand (#GP(0)) unless the instruction says otherwise (MOVUPS, LDDQU,
 * PCMPxSTRx...); VEX instructions do not, except the aligned moves
 * (VMOVAPS, VMOVDQA, VMOVNTxx: 16 or 32 bytes as the operand).
 */
#ifndef VMON_CPU_EMU_INSN_SSE_H
#define VMON_CPU_EMU_INSN_SSE_H

#include <stdbool.h>

#include "cpu/emu/insn.h"

union ymmreg {
	uint8_t b[32];
	uint16_t w[16];
	uint32_t d[8];
	uint64_t q[4];
	int8_t sb[32];
	int16_t sw[16];
	int32_t sd[8];
	int64_t sq[4];
	float f[8];
	double fd[4];
	union xmmreg x[2];
};

/* #UD with CR0.EM (or, for SSE, without CR4.OSFXSR), #NM with CR0.TS. */
void sse_check(struct emu_cpu *c, bool mmx);
/* A VEX-encoded instruction: #UD in real mode, without CR4.OSXSAVE or
 * with XCR0 lacking SSE or AVX state; #NM with CR0.TS. */
void avx_check(struct emu_cpu *c);
/* sse_check or avx_check, as d is encoded. */
void vec_check(struct emu_cpu *c, const struct dinsn *d);
/* An MMX instruction: TOP = 0, every register tagged valid. */
void mmx_enter(struct emu_cpu *c);

/* 8 (MMX), 16 (XMM) or 32 (YMM). */
unsigned vec_width(const struct dinsn *d);
static inline bool vec_vex(const struct dinsn *d)
{
	return d->flags & DI_VEX;
}
/* Reads operand i zero-extended into v: registers as wide as they are,
 * memory o->size bytes; align: a 16- or 32-byte memory operand must be
 * aligned to its size (#GP(0)). */
void vec_rd(struct emu_cpu *c, const struct dinsn *d, int i, union ymmreg *v, bool align);
/* Writes operand i: an XMM register in a VEX instruction zeroes bits
 * 255:128; memory and GPRs get o->size bytes (all pages checked first). */
void vec_wr(struct emu_cpu *c, const struct dinsn *d, int i, const union ymmreg *v, bool align);
/* A two-source operation's first and second source (see above); a
 * one-source VEX form (VPABSB ymm1, ymm2/m256) has its source in op[1],
 * which vec_src2 then reads. align: whether a legacy 16-byte memory
 * operand must be aligned (VEX: never). */
void vec_src1(struct emu_cpu *c, const struct dinsn *d, union ymmreg *v);
void vec_src2(struct emu_cpu *c, const struct dinsn *d, union ymmreg *v, bool align);
/* XMM/YMM register n as 32 bytes, and written whole. */
void ymm_get(const struct emu_cpu *c, int n, union ymmreg *v);
void ymm_set(struct emu_cpu *c, int n, const union ymmreg *v);

/* The old names (16-byte operands), kept for the handlers of the
 * SSE-only instructions. */
void sse_rd(struct emu_cpu *c, const struct dinsn *d, int i, union xmmreg *v, bool align);
void sse_wr(struct emu_cpu *c, const struct dinsn *d, int i, const union xmmreg *v, bool align);
unsigned sse_width(const struct dinsn *d);

/* Element i of size es (1, 2, 4, 8 bytes) of v, zero- or sign-extended. */
static inline uint64_t vel(const union ymmreg *v, unsigned es, unsigned i)
{
	switch (es) {
	case 1: return v->b[i];
	case 2: return v->w[i];
	case 4: return v->d[i];
	default: return v->q[i];
	}
}
static inline int64_t vels(const union ymmreg *v, unsigned es, unsigned i)
{
	switch (es) {
	case 1: return v->sb[i];
	case 2: return v->sw[i];
	case 4: return v->sd[i];
	default: return v->sq[i];
	}
}
static inline void vset(union ymmreg *v, unsigned es, unsigned i, uint64_t x)
{
	switch (es) {
	case 1: v->b[i] = (uint8_t)x; break;
	case 2: v->w[i] = (uint16_t)x; break;
	case 4: v->d[i] = (uint32_t)x; break;
	default: v->q[i] = x; break;
	}
}

#endif
