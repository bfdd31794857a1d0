/* SPDX-License-Identifier: MIT */
/*
 * Lazy arithmetic flags: an ALU instruction records its operation, size,
 * operands and result (lazy()); CF..OF are computed only when something
 * reads them (get_flags, get_cf, cond), and often only the one that is
 * read. set_arith() sets them eagerly. All inline: the run loop's
 * handlers and conditional branches are built from these.
 */
#ifndef VMON_CPU_EMU_FLAGS_H
#define VMON_CPU_EMU_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/emu/cpu.h"

static inline bool parity(uint64_t v)
{
	return !__builtin_parity((unsigned)(v & 0xff));
}

static inline uint64_t flags_szp(uint64_t res, unsigned size)
{
	uint64_t m = szmask(size), f = 0;
	if (!(res & m))
		f |= F_ZF;
	if (res & sbit(size))
		f |= F_SF;
	if (parity(res))
		f |= F_PF;
	return f;
}

static inline uint64_t lazy_compute(const struct emu_cpu *c)
{
	uint64_t a = c->lf_a, b = c->lf_b, r = c->lf_res;
	unsigned size = c->lf_size;
	uint64_t m = szmask(size), sb = sbit(size);
	uint64_t f = flags_szp(r, size);
	switch (c->lf_op) {
	case LF_ADD:
		if ((r & m) < (a & m))
			f |= F_CF;
		if ((a ^ r) & (b ^ r) & sb)
			f |= F_OF;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_ADC:
		if (c->lf_cf ? (r & m) <= (a & m) : (r & m) < (a & m))
			f |= F_CF;
		if ((a ^ r) & (b ^ r) & sb)
			f |= F_OF;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_SUB:
		if ((a & m) < (b & m))
			f |= F_CF;
		if ((a ^ b) & (a ^ r) & sb)
			f |= F_OF;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_SBB:
		if (c->lf_cf ? (a & m) <= (b & m) : (a & m) < (b & m))
			f |= F_CF;
		if ((a ^ b) & (a ^ r) & sb)
			f |= F_OF;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_LOGIC: break;
	case LF_INC:
		f |= c->lf_cf ? F_CF : 0;
		if ((r & m) == sb)
			f |= F_OF;
		f |= (a ^ r) & F_AF;
		break;
	case LF_DEC:
		f |= c->lf_cf ? F_CF : 0;
		if ((r & m) == sb - 1)
			f |= F_OF;
		f |= (a ^ r) & F_AF;
		break;
	case LF_NEG:
		if (a & m)
			f |= F_CF;
		if ((a & m) == sb)
			f |= F_OF;
		f |= (a ^ r) & F_AF;
		break;
	case LF_SHL: {
		unsigned bits = size * 8;
		bool cf = b <= bits && ((a >> (bits - b)) & 1);
		if (cf)
			f |= F_CF;
		if (!!(r & sb) ^ cf)
			f |= F_OF;
		break;
	}
	case LF_SHR:
		if (b <= size * 8 && ((a >> (b - 1)) & 1))
			f |= F_CF;
		if (a & sb)
			f |= F_OF;
		break;
	case LF_SAR: {
		int64_t sa = sext(a, size);
		if ((sa >> (b - 1 > 63 ? 63 : b - 1)) & 1)
			f |= F_CF;
		break;
	}
	case LF_MUL:
		if (c->lf_cf)
			f |= F_CF | F_OF;
		break;
	}
	return f;
}

static inline uint64_t get_flags(struct emu_cpu *c)
{
	if (c->lf_op != LF_NONE) {
		c->flags = (c->flags & ~(uint64_t)F_ARITH) | lazy_compute(c);
		c->lf_op = LF_NONE;
	}
	return c->flags;
}

/* CF alone, straight from the lazy state where that is cheap (ADC/SBB
 * chains, Jc after ADD), without materialising the other flags. */
static inline __attribute__((always_inline)) bool get_cf(struct emu_cpu *c)
{
	uint64_t m = szmask(c->lf_size), a = c->lf_a & m, r = c->lf_res & m;
	switch (c->lf_op) {
	case LF_NONE: return c->flags & F_CF;
	case LF_ADD: return r < a;
	case LF_ADC: return c->lf_cf ? r <= a : r < a;
	case LF_SUB: return a < (c->lf_b & m);
	case LF_SBB: return c->lf_cf ? a <= (c->lf_b & m) : a < (c->lf_b & m);
	case LF_LOGIC: return false;
	default: return get_flags(c) & F_CF;
	}
}

static inline void lazy(struct emu_cpu *c, int op, unsigned size, uint64_t res, uint64_t a,
			uint64_t b)
{
	c->lf_op = op;
	c->lf_size = size;
	c->lf_res = res;
	c->lf_a = a;
	c->lf_b = b;
}

/* Sets the arithmetic flags eagerly. */
static inline void set_arith(struct emu_cpu *c, uint64_t f)
{
	/* Every arithmetic flag is replaced, so pending lazy state is moot. */
	c->lf_op = LF_NONE;
	c->flags = (c->flags & ~(uint64_t)F_ARITH) | (f & F_ARITH);
}

/* EFLAGS with the lazy arithmetic flags materialised. */
static inline uint64_t emu_flags(struct emu_cpu *c)
{
	return get_flags(c);
}

static inline __attribute__((always_inline)) bool cond(struct emu_cpu *c, unsigned cc)
{
	if (c->lf_op != LF_NONE) {
		uint64_t m = szmask(c->lf_size);
		switch (cc >> 1) {
		case 2: /* Z */ return !(c->lf_res & m) ^ (cc & 1);
		case 4: /* S */ return !!(c->lf_res & sbit(c->lf_size)) ^ (cc & 1);
		case 1: /* B */
			if (c->lf_op == LF_SUB)
				return ((c->lf_a & m) < (c->lf_b & m)) ^ (cc & 1);
			if (c->lf_op == LF_LOGIC)
				return cc & 1;
			if (c->lf_op == LF_ADD)
				return ((c->lf_res & m) < (c->lf_a & m)) ^ (cc & 1);
			break;
		case 3: /* BE */
			if (c->lf_op == LF_SUB)
				return ((c->lf_a & m) <= (c->lf_b & m)) ^ (cc & 1);
			if (c->lf_op == LF_LOGIC)
				return !(c->lf_res & m) ^ (cc & 1);
			break;
		case 6: /* L */
			if (c->lf_op == LF_SUB)
				return (sext(c->lf_a, c->lf_size) < sext(c->lf_b, c->lf_size)) ^
				       (cc & 1);
			if (c->lf_op == LF_LOGIC)
				return !!(c->lf_res & sbit(c->lf_size)) ^ (cc & 1);
			break;
		case 7: /* LE */
			if (c->lf_op == LF_SUB)
				return (sext(c->lf_a, c->lf_size) <= sext(c->lf_b, c->lf_size)) ^
				       (cc & 1);
			if (c->lf_op == LF_LOGIC)
				return (!(c->lf_res & m) || (c->lf_res & sbit(c->lf_size))) ^
				       (cc & 1);
			break;
		default: break;
		}
	}
	uint64_t f = get_flags(c);
	bool r;
	switch (cc >> 1) {
	case 0: r = f & F_OF; break;
	case 1: r = f & F_CF; break;
	case 2: r = f & F_ZF; break;
	case 3: r = f & (F_CF | F_ZF); break;
	case 4: r = f & F_SF; break;
	case 5: r = f & F_PF; break;
	case 6: r = !(f & F_SF) != !(f & F_OF); break;
	default: r = (f & F_ZF) || (!(f & F_SF) != !(f & F_OF)); break;
	}
	return r ^ (cc & 1);
}

#endif
