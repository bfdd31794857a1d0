/* SPDX-License-Identifier: MIT */
/*
 * Exchanges and compare-exchanges: XCHG (locked by definition), XADD,
 * CMPXCHG, CMPXCHG8B, CMPXCHG16B. On guest RAM they are host atomics on
 * the page's host pointer, so they are atomic against the other vCPUs
 * like every LOCK operation.
 */
#include "cpu/emu/insn.h"
#include "cpu/emu/insn_alu.h"
#include "cpu/emu/insn_rmw.h"

static uint64_t fn_xchg(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	return arg;
}

static uint64_t fn_xadd(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	uint64_t r = old + arg;
	lazy(c, LF_ADD, d->op[0].size, r, old, arg);
	return r;
}

void h_xchg(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t a, v;
	if (d->op[0].kind == DOP_REG && d->op[1].kind == DOP_REG) {
		a = opr(c, d, 0);
		v = opr(c, d, 1);
		opw(c, d, 0, v);
		opw(c, d, 1, a);
		return;
	}
	if (d->op[1].kind == DOP_MEM) {
		/* normalise: memory first */
		struct dinsn t = *d;
		t.op[0] = d->op[1];
		t.op[1] = d->op[0];
		v = get_reg(c, t.op[1].reg, t.op[1].size);
		a = rmw(c, &t, fn_xchg, v, true);
		set_reg(c, t.op[1].reg, t.op[1].size, a);
		return;
	}
	v = get_reg(c, d->op[1].reg, d->op[1].size);
	a = rmw(c, d, fn_xchg, v, true);
	set_reg(c, d->op[1].reg, d->op[1].size, a);
}

void h_xadd(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t a, v = get_reg(c, d->op[1].reg, d->op[1].size);
	if (d->op[0].kind == DOP_REG) {
		/* SRC = DEST, then DEST = sum: with one register as both
		 * operands the sum is what remains */
		a = get_reg(c, d->op[0].reg, d->op[0].size);
		set_reg(c, d->op[1].reg, d->op[1].size, a);
		set_reg(c, d->op[0].reg, d->op[0].size, fn_xadd(c, d, a, v));
		return;
	}
	a = rmw(c, d, fn_xadd, v, d->flags & DI_LOCK);
	set_reg(c, d->op[1].reg, d->op[1].size, a);
}

void h_cmpxchg(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned size = d->op[0].size;
	uint64_t acc = c->r[R_AX] & szmask(size);
	uint64_t src = get_reg(c, d->op[1].reg, size);
	uint64_t old;
	if (d->op[0].kind == DOP_REG) {
		old = get_reg(c, d->op[0].reg, size);
		if (old == acc)
			set_reg(c, d->op[0].reg, size, src);
	} else {
		uint64_t lin = mem_lin_w(c, d, size);
		void *p = lin_rmw_ptr(c, lin, size);
		if (p) {
			old = acc;
			cas_sz(p, size, &old, src);
		} else {
			old = lin_read(c, lin, size);
			lin_write(c, lin, size, old == acc ? src : old);
		}
	}
	alu(c, ZYDIS_MNEMONIC_CMP, size, acc, old);
	if (old != acc)
		set_reg(c, R_AX, size, old);
}

void h_cmpxchg8b(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t lin = mem_lin_w(c, d, 8);
	uint64_t exp = (c->r[R_AX] & 0xffffffff) | (c->r[R_DX] << 32);
	uint64_t nv = (c->r[R_BX] & 0xffffffff) | (c->r[R_CX] << 32);
	void *p = lin_rmw_ptr(c, lin, 8);
	uint64_t old;
	bool ok;
	if (p) {
		old = exp;
		ok = cas_sz(p, 8, &old, nv);
	} else {
		old = lin_read(c, lin, 8);
		ok = old == exp;
		lin_write(c, lin, 8, ok ? nv : old);
	}
	get_flags(c);
	if (ok) {
		c->flags |= F_ZF;
	} else {
		c->flags &= ~(uint64_t)F_ZF;
		c->r[R_AX] = (uint32_t)old;
		c->r[R_DX] = old >> 32;
	}
}

void h_cmpxchg16b(struct emu_cpu *c, const struct dinsn *d)
{
	/* The operand must be 16-byte aligned (#GP(0) otherwise), so it
	 * never crosses a page; on RAM it is one host lock cmpxchg16b,
	 * atomic against the other vCPUs like every LOCK operation. */
	uint64_t lin = mem_lin_w(c, d, 16);
	if (lin & 15)
		emu_raise_gp(c, 0);
	uint64_t exp_lo = c->r[R_AX], exp_hi = c->r[R_DX];
	uint64_t new_lo = c->r[R_BX], new_hi = c->r[R_CX];
	uint64_t old_lo, old_hi;
	bool ok;
	void *p = lin_rmw_ptr(c, lin, 16);
	if (p) {
		old_lo = exp_lo;
		old_hi = exp_hi;
		__asm__ volatile("lock cmpxchg16b %2"
				 : "+a"(old_lo), "+d"(old_hi), "+m"(*(volatile __int128 *)p),
				   "=@ccz"(ok)
				 : "b"(new_lo), "c"(new_hi)
				 : "memory");
	} else {
		old_lo = lin_read(c, lin, 8);
		old_hi = lin_read(c, lin + 8, 8);
		ok = old_lo == exp_lo && old_hi == exp_hi;
		/* The write happens either way, as on hardware. */
		lin_write(c, lin, 8, ok ? new_lo : old_lo);
		lin_write(c, lin + 8, 8, ok ? new_hi : old_hi);
	}
	get_flags(c);
	if (ok) {
		c->flags |= F_ZF;
	} else {
		c->flags &= ~(uint64_t)F_ZF;
		c->r[R_AX] = old_lo;
		c->r[R_DX] = old_hi;
	}
}
