/* SPDX-License-Identifier: MIT */
/*
 * ADD ADC SUB SBB AND OR XOR CMP TEST: the operation (alu) and the run
 * loop's forms of them (f_<op>_rr64 ... with a register destination and a
 * register or immediate source, each with a twin that skips the flags;
 * f_alu_reg for any source; f_cmp_any). Inline: the run loop is built
 * from these.
 */
#ifndef VMON_CPU_EMU_INSN_ALU_H
#define VMON_CPU_EMU_INSN_ALU_H

#include "cpu/emu/insn.h"

/* op(a, b) for ADD..XOR, CMP and TEST (by mnemonic), with the lazy flags. */
static inline __attribute__((always_inline)) uint64_t alu(struct emu_cpu *c, int mn, unsigned size,
							  uint64_t a, uint64_t b)
{
	uint64_t r;
	switch (mn) {
	case ZYDIS_MNEMONIC_ADD:
		r = a + b;
		lazy(c, LF_ADD, size, r, a, b);
		return r;
	case ZYDIS_MNEMONIC_ADC: {
		bool cf = get_cf(c);
		r = a + b + cf;
		lazy(c, LF_ADC, size, r, a, b);
		c->lf_cf = cf;
		return r;
	}
	case ZYDIS_MNEMONIC_SUB:
	case ZYDIS_MNEMONIC_CMP:
		r = a - b;
		lazy(c, LF_SUB, size, r, a, b);
		return r;
	case ZYDIS_MNEMONIC_SBB: {
		bool cf = get_cf(c);
		r = a - b - cf;
		lazy(c, LF_SBB, size, r, a, b);
		c->lf_cf = cf;
		return r;
	}
	case ZYDIS_MNEMONIC_AND:
	case ZYDIS_MNEMONIC_TEST: r = a & b; break;
	case ZYDIS_MNEMONIC_OR: r = a | b; break;
	default: /* XOR */ r = a ^ b; break;
	}
	lazy(c, LF_LOGIC, size, r, 0, 0);
	return r;
}

/* ALU ops on a register destination; B is a register or the immediate. */
#define F_ALU(NAME, SIZE, LF, EXPR, WRITE, BSRC)                                                   \
	static inline __attribute__((always_inline)) void NAME(struct emu_cpu *c,                  \
							       const struct dinsn *d)              \
	{                                                                                          \
		uint64_t fa = c->r[d->op[0].reg];                                                  \
		uint64_t fb = (BSRC);                                                              \
		uint64_t fr = (EXPR);                                                              \
		if (LF != LF_NONE)                                                                 \
			lazy(c, LF, SIZE, fr, fa, fb);                                             \
		if (WRITE)                                                                         \
			c->r[d->op[0].reg] = SIZE == 8 ? fr : (uint32_t)fr;                        \
	}
#define F_ALU4(OP, LF, EXPR, WRITE)                                                                \
	F_ALU(f_##OP##_rr64, 8, LF, EXPR, WRITE, c->r[d->op[1].reg])                               \
	F_ALU(f_##OP##_rr32, 4, LF, EXPR, WRITE, c->r[d->op[1].reg])                               \
	F_ALU(f_##OP##_ri64, 8, LF, EXPR, WRITE, (uint64_t)d->imm)                                 \
	F_ALU(f_##OP##_ri32, 4, LF, EXPR, WRITE, (uint64_t)d->imm)                                 \
	F_ALU(f_##OP##_rr64_nf, 8, LF_NONE, EXPR, WRITE, c->r[d->op[1].reg])                       \
	F_ALU(f_##OP##_rr32_nf, 4, LF_NONE, EXPR, WRITE, c->r[d->op[1].reg])                       \
	F_ALU(f_##OP##_ri64_nf, 8, LF_NONE, EXPR, WRITE, (uint64_t)d->imm)                         \
	F_ALU(f_##OP##_ri32_nf, 4, LF_NONE, EXPR, WRITE, (uint64_t)d->imm)
F_ALU4(add, LF_ADD, fa + fb, true)
F_ALU4(sub, LF_SUB, fa - fb, true)
F_ALU4(cmp, LF_SUB, fa - fb, false)
F_ALU4(and, LF_LOGIC, fa &fb, true)
F_ALU4(or, LF_LOGIC, fa | fb, true)
F_ALU4(xor, LF_LOGIC, fa ^ fb, true)
F_ALU4(test, LF_LOGIC, fa &fb, false)
#undef F_ALU4
#undef F_ALU

/* ALU ops with a register destination, any source (ADC/SBB included). */
static inline __attribute__((always_inline)) void f_alu_reg(struct emu_cpu *c,
							    const struct dinsn *d)
{
	uint8_t r = d->op[0].reg;
	unsigned sz = d->op[0].size;
	uint64_t v = opr(c, d, 1);
	set_reg(c, r, sz, alu(c, d->mnem, sz, get_reg(c, r, sz), v));
}

static inline __attribute__((always_inline)) void f_cmp_any(struct emu_cpu *c,
							    const struct dinsn *d)
{
	alu(c, d->mnem, d->op[0].size, opr(c, d, 0), opr(c, d, 1));
}

#endif
