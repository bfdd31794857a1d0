/* SPDX-License-Identifier: MIT */
/*
 * Arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG
 * NOT on any operands (LOCK on memory through insn_rmw.h), the
 * specialised 32/64-bit register classes, and the flag instructions CLC
 * STC CMC LAHF SAHF.
 */
#include "cpu/emu/insn.h"
#include "cpu/emu/insn_alu.h"
#include "cpu/emu/insn_rmw.h"

static uint64_t fn_alu(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	return alu(c, d->mnem, d->op[0].size, old, arg);
}

static uint64_t fn_inc(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	bool cf = get_cf(c);
	uint64_t r = old + 1;
	lazy(c, LF_INC, d->op[0].size, r, old, 1);
	c->lf_cf = cf;
	return r;
}

static uint64_t fn_dec(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	bool cf = get_cf(c);
	uint64_t r = old - 1;
	lazy(c, LF_DEC, d->op[0].size, r, old, 1);
	c->lf_cf = cf;
	return r;
}

static uint64_t fn_neg(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	uint64_t r = 0 - old;
	lazy(c, LF_NEG, d->op[0].size, r, old, 0);
	return r;
}

static uint64_t fn_not(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	return ~old;
}

/* ADD OR ADC SBB AND SUB XOR */
void h_alu(struct emu_cpu *c, const struct dinsn *d)
{
	int mn = d->mnem;
	uint64_t v = opr(c, d, 1);
	if (d->op[0].kind == DOP_REG && d->op[1].kind == DOP_REG && d->op[0].reg == d->op[1].reg &&
	    (mn == ZYDIS_MNEMONIC_XOR || mn == ZYDIS_MNEMONIC_SUB)) {
		set_reg(c, d->op[0].reg, d->op[0].size, 0);
		lazy(c, mn == ZYDIS_MNEMONIC_XOR ? LF_LOGIC : LF_SUB, d->op[0].size, 0, v, v);
		return;
	}
	if (d->op[0].kind == DOP_REG) {
		uint8_t r = d->op[0].reg;
		unsigned sz = d->op[0].size;
		set_reg(c, r, sz, alu(c, mn, sz, get_reg(c, r, sz), v));
		return;
	}
	rmw(c, d, fn_alu, v, d->flags & DI_LOCK);
}

/* CMP TEST */
void h_cmp(struct emu_cpu *c, const struct dinsn *d)
{
	alu(c, d->mnem, d->op[0].size, opr(c, d, 0), opr(c, d, 1));
}

void h_inc(struct emu_cpu *c, const struct dinsn *d)
{
	rmw(c, d, fn_inc, 0, d->flags & DI_LOCK);
}

void h_dec(struct emu_cpu *c, const struct dinsn *d)
{
	rmw(c, d, fn_dec, 0, d->flags & DI_LOCK);
}

void h_neg(struct emu_cpu *c, const struct dinsn *d)
{
	rmw(c, d, fn_neg, 0, d->flags & DI_LOCK);
}

void h_not(struct emu_cpu *c, const struct dinsn *d)
{
	rmw(c, d, fn_not, 0, d->flags & DI_LOCK);
}

/* The specialised classes F_ADD..F_TEST (decode.c's forms: a 32/64-bit
 * register destination, a register or immediate source) outside the run
 * loop: the run loop's own forms of them. */
#define FAST_ALU(OP)                                                                               \
	void h_fast_##OP(struct emu_cpu *c, const struct dinsn *d)                                 \
	{                                                                                          \
		bool reg = d->op[1].kind == DOP_REG;                                               \
		if (d->osize == 8) {                                                               \
			if (reg)                                                                   \
				f_##OP##_rr64(c, d);                                               \
			else                                                                       \
				f_##OP##_ri64(c, d);                                               \
		} else if (reg) {                                                                  \
			f_##OP##_rr32(c, d);                                                       \
		} else {                                                                           \
			f_##OP##_ri32(c, d);                                                       \
		}                                                                                  \
	}
FAST_ALU(add)
FAST_ALU(sub)
FAST_ALU(cmp)
FAST_ALU(and)
FAST_ALU(or)
FAST_ALU(xor)
FAST_ALU(test)
#undef FAST_ALU

/* F_INC (arg 1) and F_DEC (arg 0) of a 32/64-bit register */
void h_fast_incdec(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned os = d->osize;
	bool inc = insn_arg(d);
	bool cf = get_cf(c);
	uint64_t a = c->r[d->op[0].reg];
	uint64_t v = inc ? a + 1 : a - 1;
	lazy(c, inc ? LF_INC : LF_DEC, os, v, a, 1);
	c->lf_cf = cf;
	c->r[d->op[0].reg] = os == 8 ? v : (uint32_t)v;
}

void h_clc(struct emu_cpu *c, const struct dinsn *d)
{
	get_flags(c);
	c->flags &= ~(uint64_t)F_CF;
}

void h_stc(struct emu_cpu *c, const struct dinsn *d)
{
	get_flags(c);
	c->flags |= F_CF;
}

void h_cmc(struct emu_cpu *c, const struct dinsn *d)
{
	get_flags(c);
	c->flags ^= F_CF;
}

void h_lahf(struct emu_cpu *c, const struct dinsn *d)
{
	set_reg(c, 4 | DOP_F_HI8, 1, (get_flags(c) & 0xd5) | 2);
}

void h_sahf(struct emu_cpu *c, const struct dinsn *d)
{
	get_flags(c);
	c->flags = (c->flags & ~0xd5ULL) | ((c->r[R_AX] >> 8) & 0xd5);
}
