/* SPDX-License-Identifier: MIT */
/*
 * Bit instructions: BT BTS BTR BTC (a register bit offset reaches past a
 * memory operand, LOCK on memory), BSF BSR (TZCNT, not advertised, runs
 * as BSF), BSWAP.
 */
#include "cpu/emu/insn.h"
#include "cpu/emu/insn_rmw.h"

static uint64_t fn_bts(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t bit)
{
	return old | (1ULL << bit);
}

static uint64_t fn_btr(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t bit)
{
	return old & ~(1ULL << bit);
}

static uint64_t fn_btc(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t bit)
{
	return old ^ (1ULL << bit);
}

/* BT BTS BTR BTC */
void h_bt(struct emu_cpu *c, const struct dinsn *d)
{
	int mn = d->mnem;
	unsigned size = d->op[0].size, bits = size * 8;
	uint64_t off = opr(c, d, 1);
	struct dinsn t;
	const struct dinsn *dd = d;
	if (d->op[0].kind == DOP_MEM && d->op[1].kind == DOP_REG) {
		int64_t so = sext(off, d->op[1].size);
		int64_t words = so >= 0 ? so / (int64_t)bits : -((-so + bits - 1) / bits);
		t = *d;
		t.imm = ((d->flags & DI_DISP64) ? d->imm : d->disp) + words * (int64_t)size;
		t.flags |= DI_DISP64;
		dd = &t;
		off = (uint64_t)(so - words * (int64_t)bits);
	} else {
		off &= bits - 1;
	}
	uint64_t old;
	if (mn == ZYDIS_MNEMONIC_BT)
		old = opr(c, dd, 0);
	else
		old = rmw(c, dd,
			  mn == ZYDIS_MNEMONIC_BTS   ? fn_bts
			  : mn == ZYDIS_MNEMONIC_BTR ? fn_btr
						     : fn_btc,
			  off, d->flags & DI_LOCK);
	get_flags(c);
	c->flags = (c->flags & ~(uint64_t)F_CF) | ((old >> off) & 1);
}

/* BSF BSR TZCNT */
void h_bsf(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = opr(c, d, 1);
	get_flags(c);
	if (!v) {
		c->flags |= F_ZF;
		return;
	}
	c->flags &= ~(uint64_t)F_ZF;
	set_reg(c, d->op[0].reg, d->op[0].size,
		d->mnem == ZYDIS_MNEMONIC_BSR ? 63 - __builtin_clzll(v) : __builtin_ctzll(v));
}

void h_bswap(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = get_reg(c, d->op[0].reg, d->op[0].size);
	set_reg(c, d->op[0].reg, d->op[0].size,
		d->op[0].size == 8 ? __builtin_bswap64(v) : __builtin_bswap32((uint32_t)v));
}
