/* SPDX-License-Identifier: MIT */
/*
 * Segments: descriptor reads, segment-register loads (real and protected
 * mode, with their checks), and far JMP/CALL/RET.
 */
#include <string.h>

#include "cpu/emu/fault.h"
#include "cpu/emu/flags.h"
#include "cpu/emu/mmu.h"
#include "cpu/emu/sys.h"
#include "cpu/emu/sys_priv.h"

void set_seg(struct seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint16_t attr)
{
	s->sel = sel;
	s->base = base;
	s->limit = limit;
	s->attr = attr;
}

void read_desc(struct emu_cpu *c, uint16_t sel, struct desc *d, int exc)
{
	const struct seg *ldt = &c->ldtr;
	uint64_t tbase = (sel & 4) ? ldt->base : c->gdtr.base;
	uint32_t tlimit = (sel & 4) ? ldt->limit : c->gdtr.limit;
	uint32_t idx = sel & ~7u;
	if (idx + 7 > tlimit)
		emu_raise(c, exc, sel & ~3u, true);
	d->lin = tbase + idx;
	uint64_t raw = lin_read_sys(c, d->lin, 8);
	d->raw = raw;
	d->limit = (raw & 0xffff) | ((raw >> 32) & 0xf0000);
	d->base = ((raw >> 16) & 0xffffff) | (((raw >> 56) & 0xff) << 24);
	d->attr = (raw >> 40) & 0xf0ff;
	if (d->attr & SA_G)
		d->limit = (d->limit << 12) | 0xfff;
}

bool emu_peek_desc(struct emu_cpu *c, uint16_t sel, uint64_t *raw)
{
	if (!(c->cr0 & CR0_PE) || !(sel & ~3u))
		return false;
	const struct seg *ldt = &c->ldtr;
	uint64_t tbase = (sel & 4) ? ldt->base : c->gdtr.base;
	uint32_t tlimit = (sel & 4) ? ldt->limit : c->gdtr.limit;
	if ((sel & ~7u) + 7 > tlimit)
		return false;
	*raw = lin_read_sys(c, tbase + (sel & ~7u), 8);
	return true;
}

void mark_accessed(struct emu_cpu *c, struct desc *d)
{
	if (!(d->raw & (1ULL << 40)))
		lin_write_sys(c, d->lin, 8, d->raw | (1ULL << 40));
	d->attr |= 1;
}

/* Protected-mode loads (SDM vol. 3 5.4.1, 5.10; APM vol. 2 4.10, 4.11):
 * - a null selector: #GP(0) for CS, and for SS outside 64-bit mode, at
 *   CPL 3 or with RPL != CPL; DS/ES/FS/GS become unusable;
 * - a selector beyond the table's limit, a system descriptor, a type the
 *   register cannot hold (SS: writable data only; the others: data or
 *   readable code), or a privilege mismatch: #GP(selector). SS needs
 *   RPL = CPL = DPL; the others max(CPL, RPL) <= DPL unless the segment
 *   is conforming code;
 * - a descriptor not present: #NP(selector), #SS(selector) for SS. */
void emu_load_seg(struct emu_cpu *c, int s, uint16_t sel)
{
	struct seg *sg = &c->seg[s];
	if (!(c->cr0 & CR0_PE)) {
		sg->sel = sel;
		sg->base = (uint64_t)sel << 4;
		if (s == SEG_CS)
			emu_update_mode(c);
		return;
	}
	int rpl = sel & 3;
	if (!(sel & ~3u)) {
		if (s == SEG_CS || (s == SEG_SS && (c->cmode != 8 || c->cpl == 3 || rpl != c->cpl)))
			emu_raise_gp(c, 0);
		sg->sel = sel;
		sg->base = 0;
		sg->limit = 0;
		sg->attr = s == SEG_SS ? (sg->attr & ~0x60u) | (uint16_t)(rpl << 5) : 0;
		return;
	}
	struct desc d;
	read_desc(c, sel, &d, EXC_GP);
	unsigned type = d.attr & 0xf;
	int dpl = (d.attr >> 5) & 3;
	if (!(d.attr & 0x10))
		emu_raise_gp(c, sel & ~3u);
	if (s == SEG_SS) {
		/* writable data segment, at exactly the current privilege */
		if ((type & 0xa) != 0x2 || rpl != c->cpl || dpl != c->cpl)
			emu_raise_gp(c, sel & ~3u);
	} else if (s != SEG_CS) {
		/* data, or readable code; conforming code at any privilege */
		if ((type & 0xa) == 0x8)
			emu_raise_gp(c, sel & ~3u);
		if ((type & 0xc) != 0xc && (rpl > dpl || c->cpl > dpl))
			emu_raise_gp(c, sel & ~3u);
	}
	if (!(d.attr & SA_P))
		emu_raise(c, s == SEG_SS ? EXC_SS : EXC_NP, sel & ~3u, true);
	mark_accessed(c, &d);
	set_seg(sg, sel, d.base, d.limit, d.attr);
	if (s == SEG_CS)
		emu_update_mode(c);
}

/* After a far RET or IRET to an outer privilege level: DS, ES, FS and GS
 * holding a data or non-conforming code segment more privileged than the
 * new CPL become null and unusable (SDM vol. 3 5.8.6, RET and IRET's
 * "RETURN-TO-OUTER-PRIVILEGE-LEVEL"); the hidden base stays, as FS/GS
 * bases in 64-bit mode do. A null FS or GS is left as it is. */
void emu_validate_data_segs(struct emu_cpu *c)
{
	static const int segs[] = {SEG_ES, SEG_DS, SEG_FS, SEG_GS};
	for (unsigned i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		struct seg *sg = &c->seg[segs[i]];
		if ((segs[i] == SEG_FS || segs[i] == SEG_GS) && !(sg->sel & ~3u))
			continue;
		int dpl = (sg->attr >> 5) & 3;
		bool conforming_code = (sg->attr & 0x1c) == 0x1c;
		if (!conforming_code && dpl < c->cpl) {
			sg->sel = 0;
			sg->attr &= (uint16_t)~SA_P;
		}
	}
}

/* Loads CS for a control transfer at privilege cpl (already checked). */
void load_cs(struct emu_cpu *c, uint16_t sel, const struct desc *d, int cpl)
{
	set_seg(&c->seg[SEG_CS], (sel & ~3u) | (uint16_t)cpl, d->base, d->limit, d->attr);
	c->cpl = cpl;
	emu_update_mode(c);
}

void code_desc(struct emu_cpu *c, uint16_t sel, struct desc *d, uint32_t err)
{
	if (!(sel & ~3u))
		emu_raise_gp(c, err);
	read_desc(c, sel, d, EXC_GP);
	if ((d->attr & 0x18) != 0x18) /* S=1 and code */
		emu_raise_gp(c, sel & ~3u);
	if (!(d->attr & SA_P))
		emu_raise(c, EXC_NP, sel & ~3u, true);
}

void emu_far_jump(struct emu_cpu *c, uint16_t sel, uint64_t off, bool call, int osize)
{
	unsigned sz = (unsigned)osize;
	if (!(c->cr0 & CR0_PE)) {
		if (call) {
			uint64_t sp = c->r[R_SP] & 0xffff;
			uint64_t ssb = c->seg[SEG_SS].base;
			push_sys(c, &sp, sz, c->seg[SEG_CS].sel, ssb, 0xffff);
			push_sys(c, &sp, sz, c->next_rip, ssb, 0xffff);
			c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		}
		emu_load_seg(c, SEG_CS, sel);
		c->next_rip = sz == 2 ? (off & 0xffff) : (uint32_t)off;
		return;
	}
	struct desc cd;
	code_desc(c, sel, &cd, sel & ~3u);
	int dpl = (cd.attr >> 5) & 3;
	bool conforming = cd.attr & 0x4;
	if (conforming ? dpl > c->cpl : ((sel & 3) > c->cpl || dpl != c->cpl))
		emu_raise_gp(c, sel & ~3u);
	if (call) {
		unsigned ssz = c->cmode == 8 ? 8 : (c->seg[SEG_SS].attr & SA_DB) ? 4 : 2;
		uint64_t spmask = ssz == 8 ? ~0ULL : ssz == 4 ? 0xffffffffULL : 0xffffULL;
		uint64_t ssb = c->cmode == 8 ? 0 : c->seg[SEG_SS].base;
		uint64_t sp = c->r[R_SP] & spmask;
		push_sys(c, &sp, sz, c->seg[SEG_CS].sel, ssb, spmask);
		push_sys(c, &sp, sz, c->next_rip, ssb, spmask);
		c->r[R_SP] = spmask == 0xffff ? (c->r[R_SP] & ~0xffffULL) | sp : sp;
	}
	mark_accessed(c, &cd);
	load_cs(c, sel, &cd, c->cpl);
	if (c->cmode == 8)
		c->next_rip = off;
	else
		c->next_rip = sz == 2 ? (off & 0xffff) : (uint32_t)off;
}

void emu_far_ret(struct emu_cpu *c, int osize, uint16_t pop_extra)
{
	unsigned sz = (unsigned)osize;
	unsigned ssz = c->cmode == 8 ? 8 : (c->seg[SEG_SS].attr & SA_DB) ? 4 : 2;
	if (!(c->cr0 & CR0_PE))
		ssz = 2;
	uint64_t spmask = ssz == 8 ? ~0ULL : ssz == 4 ? 0xffffffffULL : 0xffffULL;
	uint64_t ssb = c->cmode == 8 ? 0 : c->seg[SEG_SS].base;
	uint64_t sp = c->r[R_SP] & spmask;
	uint64_t ip = pop_sys(c, &sp, sz, ssb, spmask);
	uint16_t cs = (uint16_t)pop_sys(c, &sp, sz, ssb, spmask);
	sp = (sp + pop_extra) & spmask;
	if (!(c->cr0 & CR0_PE)) {
		emu_load_seg(c, SEG_CS, cs);
		c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		c->next_rip = ip & (sz == 2 ? 0xffff : 0xffffffff);
		return;
	}
	int new_cpl = cs & 3;
	if (new_cpl < c->cpl)
		emu_raise_gp(c, cs & ~3u);
	struct desc cd;
	code_desc(c, cs, &cd, cs & ~3u);
	uint64_t nsp = 0;
	uint16_t ss = 0;
	bool outer = new_cpl > c->cpl;
	if (outer) {
		nsp = pop_sys(c, &sp, sz, ssb, spmask);
		ss = (uint16_t)pop_sys(c, &sp, sz, ssb, spmask);
	}
	load_cs(c, cs, &cd, new_cpl);
	if (outer) {
		emu_load_seg(c, SEG_SS, ss);
		c->r[R_SP] = nsp + pop_extra;
		emu_validate_data_segs(c);
	} else {
		c->r[R_SP] = spmask == 0xffff ? (c->r[R_SP] & ~0xffffULL) | sp : sp;
	}
	c->next_rip = c->cmode == 8 ? ip : (uint32_t)ip;
}
