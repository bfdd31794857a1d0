/* SPDX-License-Identifier: MIT */
/*
 * The run loop's data-movement forms: MOV between 32/64-bit registers, of
 * an immediate, loads and stores of a register, LEA, MOVSXD/MOVZX/MOVSX
 * into a register, and the no-op.
 */
#ifndef VMON_CPU_EMU_INSN_MOV_H
#define VMON_CPU_EMU_INSN_MOV_H

#include "cpu/emu/insn.h"

/* One statement each, 64- and 32-bit (the latter zero-extends). */
#define F_RR(NAME, T, EXPR)                                                                        \
	static inline __attribute__((always_inline)) void NAME(struct emu_cpu *c,                  \
							       const struct dinsn *d)              \
	{                                                                                          \
		(void)d;                                                                           \
		EXPR;                                                                              \
	}

F_RR(f_mov_rr64, 8, c->r[d->op[0].reg] = c->r[d->op[1].reg])
F_RR(f_mov_rr32, 4, c->r[d->op[0].reg] = (uint32_t)c->r[d->op[1].reg])
F_RR(f_mov_ri64, 8, c->r[d->op[0].reg] = (uint64_t)d->imm)
F_RR(f_mov_ri32, 4, c->r[d->op[0].reg] = (uint32_t)d->imm)
F_RR(f_load64, 8, c->r[d->op[0].reg] = mread(c, mem_lin_n(c, d, 8), 8))
F_RR(f_load32, 4, c->r[d->op[0].reg] = mread(c, mem_lin_n(c, d, 4), 4))
F_RR(f_store64, 8, mwrite(c, mem_lin_w(c, d, 8), 8, c->r[d->op[1].reg]))
F_RR(f_store32, 4, mwrite(c, mem_lin_w(c, d, 4), 4, c->r[d->op[1].reg]))
F_RR(f_lea64, 8, c->r[d->op[0].reg] = ea_off(c, d))
F_RR(f_lea32, 4, c->r[d->op[0].reg] = (uint32_t)ea_off(c, d))
#undef F_RR

/* MOVSXD r64, r32 and MOVZX/MOVSX r32/64, r8/r16 from a register. */
static inline __attribute__((always_inline)) void f_movsxd_rr(struct emu_cpu *c,
							      const struct dinsn *d)
{
	c->r[d->op[0].reg] = (uint64_t)(int64_t)(int32_t)c->r[d->op[1].reg];
}

static inline __attribute__((always_inline)) void f_movzx_reg(struct emu_cpu *c,
							      const struct dinsn *d)
{
	set_reg(c, d->op[0].reg, d->op[0].size, opr(c, d, 1));
}

static inline __attribute__((always_inline)) void f_movsx_reg(struct emu_cpu *c,
							      const struct dinsn *d)
{
	set_reg(c, d->op[0].reg, d->op[0].size, (uint64_t)sext(opr(c, d, 1), d->op[1].size));
}

static inline __attribute__((always_inline)) void f_nop(struct emu_cpu *c, const struct dinsn *d)
{
	(void)c;
	(void)d;
}

#endif
