/* SPDX-License-Identifier: MIT */
/*
 * The run loop's shift forms: SHL/SHR/SAR of a 32/64-bit register by an
 * immediate or CL, each with a twin that skips the flags.
 */
#ifndef VMON_CPU_EMU_INSN_SHIFT_H
#define VMON_CPU_EMU_INSN_SHIFT_H

#include "cpu/emu/insn.h"

/* SHL/SHR/SAR of a 32/64-bit register by an immediate (_i) or CL (_c). */
#define F_SHIFT(NAME, SIZE, LF, EXPR, COUNT)                                                       \
	static inline __attribute__((always_inline)) void NAME(struct emu_cpu *c,                  \
							       const struct dinsn *d)              \
	{                                                                                          \
		uint64_t *r = &c->r[d->op[0].reg];                                                 \
		uint64_t a = SIZE == 8 ? *r : (uint32_t)*r;                                        \
		unsigned cnt = (unsigned)(COUNT) & (SIZE == 8 ? 63 : 31);                          \
		if (cnt) {                                                                         \
			uint64_t v = (EXPR);                                                       \
			if (LF != LF_NONE)                                                         \
				lazy(c, LF, SIZE, v, a, cnt);                                      \
			a = v;                                                                     \
		}                                                                                  \
		*r = a;                                                                            \
	}
#define F_SHIFT2(NAME, SIZE, LF, EXPR)                                                             \
	F_SHIFT(NAME##_i, SIZE, LF, EXPR, d->imm)                                                  \
	F_SHIFT(NAME##_c, SIZE, LF, EXPR, c->r[R_CX])                                              \
	F_SHIFT(NAME##_i_nf, SIZE, LF_NONE, EXPR, d->imm)                                          \
	F_SHIFT(NAME##_c_nf, SIZE, LF_NONE, EXPR, c->r[R_CX])
F_SHIFT2(f_shl64, 8, LF_SHL, a << cnt)
F_SHIFT2(f_shl32, 4, LF_SHL, (uint32_t)(a << cnt))
F_SHIFT2(f_shr64, 8, LF_SHR, a >> cnt)
F_SHIFT2(f_shr32, 4, LF_SHR, a >> cnt)
F_SHIFT2(f_sar64, 8, LF_SAR, (uint64_t)((int64_t)a >> cnt))
F_SHIFT2(f_sar32, 4, LF_SAR, (uint32_t)((int32_t)a >> cnt))
#undef F_SHIFT2
#undef F_SHIFT

#endif
