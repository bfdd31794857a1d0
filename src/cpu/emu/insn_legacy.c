/* SPDX-License-Identifier: MIT */
/*
 * Legacy instructions (16/32-bit code only; Zydis refuses them in 64-bit
 * mode): the BCD adjusts DAA DAS AAA AAS AAM AAD, SALC, BOUND, ARPL.
 */
#include "cpu/emu/insn.h"

/* DAA DAS */
void h_daa(struct emu_cpu *c, const struct dinsn *d)
{
	int mn = d->mnem;
	uint8_t al = (uint8_t)c->r[R_AX];
	uint64_t f = get_flags(c);
	bool cf = f & F_CF, af = f & F_AF;
	uint8_t old = al;
	bool ncf = false, naf = false;
	if ((al & 0xf) > 9 || af) {
		al = mn == ZYDIS_MNEMONIC_DAA ? al + 6 : al - 6;
		ncf = cf || (mn == ZYDIS_MNEMONIC_DAA ? old > 0xf9 : old < 6);
		naf = true;
	}
	if (old > 0x99 || cf) {
		al = mn == ZYDIS_MNEMONIC_DAA ? al + 0x60 : al - 0x60;
		ncf = true;
	} else if (mn == ZYDIS_MNEMONIC_DAA) {
		ncf = false; /* DAA (not DAS) clears CF here */
	}
	set_reg(c, R_AX, 1, al);
	set_arith(c, flags_szp(al, 1) | (ncf ? F_CF : 0) | (naf ? F_AF : 0));
}

/* AAA AAS */
void h_aaa(struct emu_cpu *c, const struct dinsn *d)
{
	uint8_t al = (uint8_t)c->r[R_AX];
	uint64_t f = get_flags(c);
	bool adj = (al & 0xf) > 9 || (f & F_AF);
	uint16_t ax = (uint16_t)c->r[R_AX];
	if (adj) {
		if (d->mnem == ZYDIS_MNEMONIC_AAA) {
			ax = (uint16_t)(ax + 0x106);
		} else {
			ax = (uint16_t)(ax - 6);
			ax = (uint16_t)((ax & 0xff) | (((ax >> 8) - 1) & 0xff) << 8);
		}
	}
	ax &= 0xff0f;
	set_reg(c, R_AX, 2, ax);
	set_arith(c, (f & (F_SF | F_ZF | F_PF | F_OF)) | (adj ? F_CF | F_AF : 0));
}

/* AAM: base 0 is #DE, never a division on the host. */
void h_aam(struct emu_cpu *c, const struct dinsn *d)
{
	uint8_t al = (uint8_t)c->r[R_AX];
	uint8_t base = (uint8_t)d->imm;
	if (!base)
		emu_raise(c, EXC_DE, 0, false);
	set_reg(c, R_AX, 2, (uint16_t)(((al / base) << 8) | (al % base)));
	set_arith(c, flags_szp(al % base, 1));
}

void h_aad(struct emu_cpu *c, const struct dinsn *d)
{
	uint8_t al = (uint8_t)c->r[R_AX], ah = (uint8_t)(c->r[R_AX] >> 8);
	uint8_t r = (uint8_t)(al + ah * (uint8_t)d->imm);
	set_reg(c, R_AX, 2, r);
	set_arith(c, flags_szp(r, 1));
}

void h_salc(struct emu_cpu *c, const struct dinsn *d)
{
	set_reg(c, R_AX, 1, get_cf(c) ? 0xff : 0);
}

void h_bound(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size;
	uint64_t lin = mem_lin_n(c, d, 2 * sz);
	int64_t lo = sext(mread(c, lin, sz), sz), hi = sext(mread(c, lin + sz, sz), sz);
	int64_t v = sext(get_reg(c, d->op[0].reg, sz), sz);
	if (v < lo || v > hi)
		emu_raise(c, EXC_BR, 0, false);
}

void h_arpl(struct emu_cpu *c, const struct dinsn *d)
{
	if (!(c->cr0 & CR0_PE))
		emu_raise(c, EXC_UD, 0, false);
	uint16_t dst = (uint16_t)opr(c, d, 0), src = (uint16_t)opr(c, d, 1);
	get_flags(c);
	if ((dst & 3) < (src & 3)) {
		opw(c, d, 0, (dst & ~3u) | (src & 3));
		c->flags |= F_ZF;
	} else {
		c->flags &= ~(uint64_t)F_ZF;
	}
}
