/* SPDX-License-Identifier: MIT */
/*
 * The run loop's branch and condition forms: Jcc, SETcc and CMOVcc with
 * one handler per condition code (the condition folds in), and the 64-bit
 * near CALL, RET and JMP.
 */
#ifndef VMON_CPU_EMU_INSN_BRANCH_H
#define VMON_CPU_EMU_INSN_BRANCH_H

#include "cpu/emu/insn.h"

/* Near Jcc in 64-bit mode, one handler per condition code. */
#define F_JCC(CC)                                                                                  \
	static inline __attribute__((always_inline)) void f_jcc##CC(struct emu_cpu *c,             \
								    const struct dinsn *d)         \
	{                                                                                          \
		if (cond(c, CC))                                                                   \
			c->next_rip += (uint64_t)d->imm;                                           \
	}
F_JCC(0)
F_JCC(1)
F_JCC(2)
F_JCC(3)
F_JCC(4)
F_JCC(5)
F_JCC(6)
F_JCC(7)
F_JCC(8)
F_JCC(9)
F_JCC(10)
F_JCC(11)
F_JCC(12)
F_JCC(13)
F_JCC(14)
F_JCC(15)
#undef F_JCC

/* SETcc and CMOVcc, one handler per condition code. */
#define F_CC(CC)                                                                                   \
	static inline __attribute__((always_inline)) void f_set##CC(struct emu_cpu *c,             \
								    const struct dinsn *d)         \
	{                                                                                          \
		opw(c, d, 0, cond(c, CC));                                                         \
	}                                                                                          \
	static inline __attribute__((always_inline)) void f_cmov##CC(struct emu_cpu *c,            \
								     const struct dinsn *d)        \
	{                                                                                          \
		uint64_t v = opr(c, d, 1); /* read (and may fault) either way */                   \
		if (cond(c, CC))                                                                   \
			set_reg(c, d->op[0].reg, d->op[0].size, v);                                \
		else if (d->op[0].size == 4)                                                       \
			c->r[d->op[0].reg] = (uint32_t)c->r[d->op[0].reg];                         \
	}
F_CC(0)
F_CC(1)
F_CC(2)
F_CC(3)
F_CC(4)
F_CC(5)
F_CC(6)
F_CC(7)
F_CC(8)
F_CC(9)
F_CC(10)
F_CC(11)
F_CC(12)
F_CC(13)
F_CC(14)
F_CC(15)
#undef F_CC

/* 64-bit mode near branches (decode.c's forms). */
static inline __attribute__((always_inline)) void f_call64(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t sp = c->r[R_SP] - 8;
	mwrite(c, sp, 8, c->next_rip);
	c->r[R_SP] = sp;
	c->next_rip += (uint64_t)d->imm;
}

static inline __attribute__((always_inline)) void f_ret64(struct emu_cpu *c, const struct dinsn *d)
{
	(void)d;
	uint64_t v = mread(c, c->r[R_SP], 8);
	c->r[R_SP] += 8;
	c->next_rip = v;
}

static inline __attribute__((always_inline)) void f_jmp_rel64(struct emu_cpu *c,
							      const struct dinsn *d)
{
	c->next_rip += (uint64_t)d->imm;
}

#endif
