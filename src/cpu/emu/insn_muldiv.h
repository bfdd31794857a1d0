/* SPDX-License-Identifier: MIT */
/*
 * IMUL with two or three operands (do_imul_n) and the run loop's forms of
 * it: 32/64-bit registers (with flagless twins) and any operands
 * (f_imul_n).
 */
#ifndef VMON_CPU_EMU_INSN_MULDIV_H
#define VMON_CPU_EMU_INSN_MULDIV_H

#include "cpu/emu/insn.h"

/* IMUL r, r/m and IMUL r, r/m, imm: the product's low half, CF = OF = it
 * did not fit. */
static inline void do_imul_n(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned size = d->op[0].size;
	uint64_t a, b;
	if (d->nops == 3) {
		a = opr(c, d, 1);
		b = (uint64_t)d->imm;
	} else {
		a = opr(c, d, 0);
		b = opr(c, d, 1);
	}
	uint64_t lo;
	bool ovf;
	if (size == 8) {
		__int128 p = (__int128)(int64_t)a * (int64_t)b;
		lo = (uint64_t)p;
		ovf = p != (__int128)(int64_t)lo;
	} else {
		int64_t p = sext(a, size) * sext(b, size);
		lo = (uint64_t)p & szmask(size);
		ovf = p != sext(lo, size);
	}
	set_reg(c, d->op[0].reg, size, lo);
	lazy(c, LF_MUL, size, lo, 0, 0);
	c->lf_cf = ovf;
}

/* IMUL r, r/m (2 operands) and IMUL r, r/m, imm (3), 32/64-bit: the
 * product's low half, CF = OF = it did not fit (LF_MUL with lf_cf). */
#define F_IMUL(NAME, SIZE, A, B, FLAGS)                                                            \
	static inline __attribute__((always_inline)) void NAME(struct emu_cpu *c,                  \
							       const struct dinsn *d)              \
	{                                                                                          \
		uint64_t a = (A), b = (B), lo;                                                     \
		bool ovf;                                                                          \
		if (SIZE == 8) {                                                                   \
			__int128 p = (__int128)(int64_t)a * (int64_t)b;                            \
			lo = (uint64_t)p;                                                          \
			ovf = p != (__int128)(int64_t)lo;                                          \
		} else {                                                                           \
			int64_t p = (int64_t)(int32_t)a * (int32_t)b;                              \
			lo = (uint32_t)p;                                                          \
			ovf = p != (int64_t)(int32_t)lo;                                           \
		}                                                                                  \
		c->r[d->op[0].reg] = lo;                                                           \
		if (FLAGS) {                                                                       \
			lazy(c, LF_MUL, SIZE, lo, 0, 0);                                           \
			c->lf_cf = ovf;                                                            \
		}                                                                                  \
		(void)ovf;                                                                         \
	}
F_IMUL(f_imul_rr64, 8, c->r[d->op[0].reg], c->r[d->op[1].reg], true)
F_IMUL(f_imul_rr32, 4, c->r[d->op[0].reg], c->r[d->op[1].reg], true)
F_IMUL(f_imul_rri64, 8, c->r[d->op[1].reg], (uint64_t)d->imm, true)
F_IMUL(f_imul_rri32, 4, c->r[d->op[1].reg], (uint64_t)d->imm, true)
F_IMUL(f_imul_rr64_nf, 8, c->r[d->op[0].reg], c->r[d->op[1].reg], false)
F_IMUL(f_imul_rr32_nf, 4, c->r[d->op[0].reg], c->r[d->op[1].reg], false)
F_IMUL(f_imul_rri64_nf, 8, c->r[d->op[1].reg], (uint64_t)d->imm, false)
F_IMUL(f_imul_rri32_nf, 4, c->r[d->op[1].reg], (uint64_t)d->imm, false)
#undef F_IMUL

static inline __attribute__((always_inline)) void f_imul_n(struct emu_cpu *c, const struct dinsn *d)
{
	do_imul_n(c, d);
}

#endif
