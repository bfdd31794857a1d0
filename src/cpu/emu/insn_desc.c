/* SPDX-License-Identifier: MIT */
/*
 * Descriptor tables and segments: LGDT LIDT SGDT SIDT, LTR LLDT STR SLDT,
 * the far-pointer loads LDS LES LFS LGS LSS, and the descriptor probes
 * VERR VERW LAR LSL (which set ZF instead of faulting).
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/sys.h"

static void load_sys_seg(struct emu_cpu *c, bool is_tr, uint16_t sel)
{
	need_cpl0(c);
	struct seg *s = is_tr ? &c->tr : &c->ldtr;
	if (!(sel & ~3)) {
		if (is_tr)
			emu_raise_gp(c, 0);
		memset(s, 0, sizeof(*s));
		return;
	}
	if (sel & 4)
		emu_raise_gp(c, sel & ~3);
	uint32_t idx = sel & ~7u;
	unsigned dsize = (c->efer & EFER_LMA) ? 16 : 8;
	if (idx + dsize - 1 > c->gdtr.limit)
		emu_raise_gp(c, sel & ~3);
	uint64_t lin = c->gdtr.base + idx;
	uint64_t lo = lin_read_sys(c, lin, 8);
	uint64_t hi = dsize == 16 ? lin_read_sys(c, lin + 8, 8) : 0;
	unsigned type = (lo >> 40) & 0xf;
	if ((lo >> 44) & 1) /* S bit: must be a system descriptor */
		emu_raise_gp(c, sel & ~3);
	if (is_tr ? (type != 9 && type != 1) : type != 2)
		emu_raise_gp(c, sel & ~3);
	if (!((lo >> 47) & 1))
		emu_raise(c, EXC_NP, sel & ~3, true);
	s->sel = sel;
	s->base = ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24) | ((hi & 0xffffffff) << 32);
	s->limit = (lo & 0xffff) | ((lo >> 32) & 0xf0000);
	if ((lo >> 55) & 1)
		s->limit = (s->limit << 12) | 0xfff;
	s->attr = (lo >> 40) & 0xf0ff;
	if (is_tr) {
		lin_write_sys(c, lin, 8, lo | (2ULL << 40)); /* busy */
		s->attr |= 2;
	}
}

/* LGDT LIDT SGDT SIDT: a limit and a base, 6 bytes (10 in 64-bit mode),
 * through the segment's checks after the privilege ones. */
void h_dt(struct emu_cpu *c, const struct dinsn *d)
{
	struct dtr *t = (d->mnem == ZYDIS_MNEMONIC_LGDT || d->mnem == ZYDIS_MNEMONIC_SGDT)
				? &c->gdtr
				: &c->idtr;
	bool load = d->mnem == ZYDIS_MNEMONIC_LGDT || d->mnem == ZYDIS_MNEMONIC_LIDT;
	unsigned bsz = c->cmode == 8 ? 8 : 4;
	if (load) {
		need_cpl0(c);
		uint64_t lin = mem_lin_n(c, d, 2 + bsz);
		uint16_t limit = (uint16_t)lin_read(c, lin, 2);
		uint64_t base;
		if (c->cmode == 8)
			base = lin_read(c, lin + 2, 8);
		else
			base = lin_read(c, lin + 2, 4) & (d->osize == 2 ? 0xffffff : 0xffffffff);
		t->limit = limit;
		t->base = base;
	} else {
		umip_check(c);
		uint64_t lin = mem_lin_w(c, d, 2 + bsz);
		lin_write(c, lin, 2, t->limit);
		lin_write(c, lin + 2, bsz, t->base);
	}
}

void h_ltr(struct emu_cpu *c, const struct dinsn *d)
{
	load_sys_seg(c, true, (uint16_t)opr(c, d, 0));
}

void h_lldt(struct emu_cpu *c, const struct dinsn *d)
{
	load_sys_seg(c, false, (uint16_t)opr(c, d, 0));
}

void h_str(struct emu_cpu *c, const struct dinsn *d)
{
	umip_check(c);
	opw(c, d, 0, c->tr.sel);
}

void h_sldt(struct emu_cpu *c, const struct dinsn *d)
{
	umip_check(c);
	opw(c, d, 0, c->ldtr.sel);
}

/* LDS LES LFS LGS LSS (arg: the segment) */
void h_lseg(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size;
	uint64_t lin = mem_lin_n(c, d, sz + 2);
	uint64_t off = lin_read(c, lin, sz);
	uint16_t sel = (uint16_t)lin_read(c, lin + sz, 2);
	emu_load_seg(c, insn_arg(d), sel);
	set_reg(c, d->op[0].reg, sz, off);
}

/* VERR/VERW/LAR/LSL: descriptor probes that set ZF instead of faulting. */
void h_desc_probe(struct emu_cpu *c, const struct dinsn *d)
{
	int mn = d->mnem;
	if (!(c->cr0 & CR0_PE))
		emu_raise(c, EXC_UD, 0, false);
	bool two = mn == ZYDIS_MNEMONIC_LAR || mn == ZYDIS_MNEMONIC_LSL;
	uint16_t sel = (uint16_t)opr(c, d, two ? 1 : 0);
	uint64_t raw;
	bool ok = emu_peek_desc(c, sel, &raw);
	if (ok) {
		unsigned type = (raw >> 40) & 0xf, dpl = (raw >> 45) & 3;
		bool sbit = (raw >> 44) & 1, code = sbit && (type & 8);
		bool conforming = code && (type & 4);
		if (!conforming && ((int)dpl < c->cpl || dpl < (sel & 3u)))
			ok = false;
		else if (mn == ZYDIS_MNEMONIC_VERR)
			ok = sbit && (!code || (type & 2));
		else if (mn == ZYDIS_MNEMONIC_VERW)
			ok = sbit && !code && (type & 2);
		else if (!sbit) /* system descriptors LAR/LSL accept */
			ok = type == 1 || type == 2 || type == 3 || type == 9 || type == 11 ||
			     (mn == ZYDIS_MNEMONIC_LAR && (type == 4 || type == 12));
	}
	get_flags(c);
	if (!ok) {
		c->flags &= ~(uint64_t)F_ZF;
		return;
	}
	c->flags |= F_ZF;
	if (mn == ZYDIS_MNEMONIC_LAR) {
		set_reg(c, d->op[0].reg, d->op[0].size, (raw >> 32) & 0x00f0ff00);
	} else if (mn == ZYDIS_MNEMONIC_LSL) {
		uint32_t lim = (uint32_t)((raw & 0xffff) | ((raw >> 32) & 0xf0000));
		if ((raw >> 55) & 1)
			lim = (lim << 12) | 0xfff;
		set_reg(c, d->op[0].reg, d->op[0].size, lim);
	}
}
