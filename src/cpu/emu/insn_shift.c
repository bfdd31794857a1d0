/* SPDX-License-Identifier: MIT */
/*
 * Shifts and rotates: SHL SHR SAR ROL ROR RCL RCR (count masked to 5 or 6
 * bits; a zero count changes nothing, flags included), SHLD SHRD.
 */
#include "cpu/emu/insn.h"
#include "cpu/emu/insn_rmw.h"

static uint64_t shift_op(struct emu_cpu *c, int mn, unsigned size, uint64_t a, unsigned cnt)
{
	unsigned bits = size * 8;
	uint64_t m = szmask(size), sb = sbit(size);
	a &= m;
	cnt &= size == 8 ? 63 : 31;
	if (!cnt)
		return a;
	uint64_t r, f = 0;
	bool cf = false, of = false;
	switch (mn) {
	case ZYDIS_MNEMONIC_SHL:
		r = cnt >= bits ? 0 : (a << cnt) & m;
		lazy(c, LF_SHL, size, r, a, cnt);
		return r;
	case ZYDIS_MNEMONIC_SHR:
		r = cnt >= bits ? 0 : a >> cnt;
		lazy(c, LF_SHR, size, r, a, cnt);
		return r;
	case ZYDIS_MNEMONIC_SAR: {
		int64_t s = sext(a, size);
		unsigned k = cnt >= bits ? bits - 1 : cnt;
		r = (uint64_t)(s >> k) & m;
		lazy(c, LF_SAR, size, r, a, cnt);
		return r;
	}
	case ZYDIS_MNEMONIC_ROL: {
		unsigned k = cnt % bits;
		r = k ? ((a << k) | (a >> (bits - k))) & m : a;
		cf = r & 1;
		of = !!(r & sb) ^ cf;
		f = get_flags(c) & (F_ZF | F_SF | F_PF | F_AF);
		break;
	}
	case ZYDIS_MNEMONIC_ROR: {
		unsigned k = cnt % bits;
		r = k ? ((a >> k) | (a << (bits - k))) & m : a;
		cf = !!(r & sb);
		of = !!(r & sb) ^ !!(r & (sb >> 1));
		f = get_flags(c) & (F_ZF | F_SF | F_PF | F_AF);
		break;
	}
	case ZYDIS_MNEMONIC_RCL: {
		unsigned k = cnt % (bits + 1);
		r = a;
		cf = get_cf(c);
		for (unsigned i = 0; i < k; i++) {
			bool out = !!(r & sb);
			r = ((r << 1) | cf) & m;
			cf = out;
		}
		of = !!(r & sb) ^ cf;
		f = get_flags(c) & (F_ZF | F_SF | F_PF | F_AF);
		break;
	}
	case ZYDIS_MNEMONIC_RCR: {
		unsigned k = cnt % (bits + 1);
		r = a;
		cf = get_cf(c);
		of = !!(r & sb) ^ cf;
		for (unsigned i = 0; i < k; i++) {
			bool out = r & 1;
			r = (r >> 1) | (cf ? sb : 0);
			cf = out;
		}
		f = get_flags(c) & (F_ZF | F_SF | F_PF | F_AF);
		break;
	}
	default: return a;
	}
	set_arith(c, f | (cf ? F_CF : 0) | (of ? F_OF : 0));
	return r;
}

static uint64_t fn_shift(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t cnt)
{
	return shift_op(c, d->mnem, d->op[0].size, old, (unsigned)cnt);
}

static uint64_t fn_shd(struct emu_cpu *c, const struct dinsn *d, uint64_t a, uint64_t cnt)
{
	unsigned size = d->op[0].size, bits = size * 8;
	uint64_t m = szmask(size), sb = sbit(size);
	uint64_t b = get_reg(c, d->op[1].reg, size);
	cnt &= size == 8 ? 63 : 31;
	if (!cnt)
		return a;
	uint64_t r;
	bool cf;
	if (size == 2 && cnt > 16) {
		/* Undefined on hardware; shift through the 32-bit pair. */
		cnt &= 15;
		if (!cnt)
			return a;
	}
	if (d->mnem == ZYDIS_MNEMONIC_SHLD) {
		r = ((a << cnt) | (b >> (bits - cnt))) & m;
		cf = (a >> (bits - cnt)) & 1;
	} else {
		r = ((a >> cnt) | (b << (bits - cnt))) & m;
		cf = (a >> (cnt - 1)) & 1;
	}
	bool of = ((r ^ a) & sb) != 0;
	set_arith(c, flags_szp(r, size) | (cf ? F_CF : 0) | (of ? F_OF : 0));
	return r;
}

/* SHL SHR SAR ROL ROR RCL RCR */
void h_shift(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = d->nops >= 2 ? opr(c, d, 1) : 1;
	if (d->op[0].kind == DOP_REG) {
		uint8_t r = d->op[0].reg;
		unsigned sz = d->op[0].size;
		set_reg(c, r, sz, shift_op(c, d->mnem, sz, get_reg(c, r, sz), (unsigned)v));
		return;
	}
	rmw(c, d, fn_shift, v, false);
}

/* SHLD SHRD */
void h_shd(struct emu_cpu *c, const struct dinsn *d)
{
	rmw(c, d, fn_shd, opr(c, d, 2), false);
}
