/* SPDX-License-Identifier: MIT */
/*
 * MUL, IMUL (one, two and three operands), DIV, IDIV of every width. A
 * division never traps on the host: a zero divisor or a quotient that
 * does not fit raises #DE in the guest before anything is divided
 * (tests/unit/test_emu_cpu.c: test_divide_edges, difftest class divedge).
 */
#include "cpu/emu/insn.h"
#include "cpu/emu/insn_muldiv.h"

static void do_mul1(struct emu_cpu *c, const struct dinsn *d, bool sign)
{
	unsigned size = d->op[0].size;
	uint64_t src = opr(c, d, 0);
	uint64_t lo, hi;
	bool ovf;
	if (size == 8) {
		if (sign) {
			__int128 p = (__int128)(int64_t)c->r[R_AX] * (int64_t)src;
			lo = (uint64_t)p;
			hi = (uint64_t)(p >> 64);
			ovf = p != (__int128)(int64_t)lo;
		} else {
			unsigned __int128 p = (unsigned __int128)c->r[R_AX] * src;
			lo = (uint64_t)p;
			hi = (uint64_t)(p >> 64);
			ovf = hi != 0;
		}
	} else {
		unsigned bits = size * 8;
		uint64_t a = c->r[R_AX] & szmask(size);
		if (sign) {
			int64_t p = sext(a, size) * sext(src, size);
			lo = (uint64_t)p & szmask(size);
			hi = ((uint64_t)p >> bits) & szmask(size);
			ovf = p != sext(lo, size);
		} else {
			uint64_t p = a * (src & szmask(size));
			lo = p & szmask(size);
			hi = p >> bits;
			ovf = hi != 0;
		}
	}
	if (size == 1) {
		set_reg(c, R_AX, 2, (lo & 0xff) | ((hi & 0xff) << 8));
	} else {
		set_reg(c, R_AX, size, lo);
		set_reg(c, R_DX, size, hi);
	}
	set_arith(c, flags_szp(lo, size) | (ovf ? F_CF | F_OF : 0));
}

static void do_div(struct emu_cpu *c, const struct dinsn *d, bool sign)
{
	unsigned size = d->op[0].size;
	uint64_t src = opr(c, d, 0) & szmask(size);
	if (!src)
		emu_raise(c, EXC_DE, 0, false);
	if (size == 8) {
		if (sign) {
			__int128 n = (__int128)(((unsigned __int128)c->r[R_DX] << 64) | c->r[R_AX]);
			int64_t dv = (int64_t)src;
			if (dv == -1 && (unsigned __int128)n == ((unsigned __int128)1 << 127))
				emu_raise(c, EXC_DE, 0, false);
			__int128 q = n / dv, r = n % dv;
			if (q > INT64_MAX || q < INT64_MIN)
				emu_raise(c, EXC_DE, 0, false);
			c->r[R_AX] = (uint64_t)q;
			c->r[R_DX] = (uint64_t)r;
		} else {
			unsigned __int128 n = ((unsigned __int128)c->r[R_DX] << 64) | c->r[R_AX];
			unsigned __int128 q = n / src, r = n % src;
			if (q >> 64)
				emu_raise(c, EXC_DE, 0, false);
			c->r[R_AX] = (uint64_t)q;
			c->r[R_DX] = (uint64_t)r;
		}
		return;
	}
	unsigned bits = size * 8;
	uint64_t n;
	if (size == 1)
		n = c->r[R_AX] & 0xffff;
	else
		n = ((c->r[R_DX] & szmask(size)) << bits) | (c->r[R_AX] & szmask(size));
	uint64_t q, r;
	if (sign) {
		int64_t sn = size == 4 ? (int64_t)n : sext(n, size * 2);
		int64_t sd = sext(src, size);
		/* EDX:EAX = 0x80000000:00000000 by -1 is INT64_MIN / -1, which
		 * traps on the host (SIGFPE); its quotient, 2^63, overflows the
		 * guest's 32 bits anyway. */
		if (sd == -1 && sn == INT64_MIN)
			emu_raise(c, EXC_DE, 0, false);
		int64_t sq = sn / sd, sr = sn % sd;
		if (sq != sext((uint64_t)sq & szmask(size), size))
			emu_raise(c, EXC_DE, 0, false);
		q = (uint64_t)sq;
		r = (uint64_t)sr;
	} else {
		q = n / src;
		r = n % src;
		if (q >> bits)
			emu_raise(c, EXC_DE, 0, false);
	}
	if (size == 1) {
		set_reg(c, R_AX, 2, (q & 0xff) | ((r & 0xff) << 8));
	} else {
		set_reg(c, R_AX, size, q);
		set_reg(c, R_DX, size, r);
	}
}

void h_mul(struct emu_cpu *c, const struct dinsn *d)
{
	do_mul1(c, d, false);
}

void h_imul(struct emu_cpu *c, const struct dinsn *d)
{
	if (d->nops == 1)
		do_mul1(c, d, true);
	else
		do_imul_n(c, d);
}

void h_div(struct emu_cpu *c, const struct dinsn *d)
{
	do_div(c, d, false);
}

void h_idiv(struct emu_cpu *c, const struct dinsn *d)
{
	do_div(c, d, true);
}
