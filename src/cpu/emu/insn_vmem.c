/* SPDX-License-Identifier: MIT */
/*
 * Vector memory accesses element by element: masked loads and stores
 * (MASKMOVQ, MASKMOVDQU, VMASKMOVPS/PD, VPMASKMOVD/Q) and the AVX2
 * gathers. Only the elements the mask selects are accessed, so only they
 * can fault; a store checks every selected element before writing any.
 * A gather completes elements in order, clearing each one's mask
 * element, so a fault leaves the completed ones done and the instruction
 * restartable, as the manual describes.
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_sse.h"

/* MASKMOVQ MASKMOVDQU VMASKMOVDQU: the bytes of src1 whose byte in src2
 * has bit 7 set, to DS:rDI */
void h_maskmov(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = d->op[0].kind == DOP_MMX ? 8 : 16;
	union ymmreg s, m;
	vec_check(c, d);
	if (W == 8)
		mmx_enter(c);
	vec_rd(c, d, 0, &s, false);
	vec_rd(c, d, 1, &m, false);
	uint64_t base = seg_lin_w(c, SEG_DS, amask(d->asize, c->r[R_DI]), W);
	for (unsigned i = 0; i < W; i++)
		if (m.b[i] & 0x80)
			mmu_lookup(c, base + i, 1, c->cpl == 3);
	for (unsigned i = 0; i < W; i++)
		if (m.b[i] & 0x80)
			mwrite(c, base + i, 1, s.b[i]);
}

/* VMASKMOVPS VPMASKMOVD (arg 4), VMASKMOVPD VPMASKMOVQ (arg 8). Load:
 * dst = selected elements of memory, others zero; store: the selected
 * elements of src to memory. The mask is the sign bit of each element of
 * op[1]. */
void h_vmaskmov(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d), es = (unsigned)insn_arg(d);
	union ymmreg m, v, r;
	avx_check(c);
	vec_rd(c, d, 1, &m, false);
	uint64_t lin = d->op[0].kind == DOP_MEM ? mem_lin_w(c, d, W) : mem_lin_n(c, d, W);
	memset(&r, 0, sizeof(r));
	if (d->op[0].kind == DOP_MEM) {
		vec_rd(c, d, 2, &v, false);
		for (unsigned i = 0; i < W / es; i++)
			if (vels(&m, es, i) < 0) {
				mmu_lookup(c, lin + i * es, 1, c->cpl == 3);
				mmu_lookup(c, lin + i * es + es - 1, 1, c->cpl == 3);
			}
		for (unsigned i = 0; i < W / es; i++)
			if (vels(&m, es, i) < 0)
				mwrite(c, lin + i * es, es, vel(&v, es, i));
		return;
	}
	for (unsigned i = 0; i < W / es; i++)
		if (vels(&m, es, i) < 0)
			vset(&r, es, i, mread(c, lin + i * es, es));
	vec_wr(c, d, 0, &r, false);
}

/* VGATHERDPS VGATHERDPD VGATHERQPS VGATHERQPD VPGATHERDD VPGATHERDQ
 * VPGATHERQD VPGATHERQQ (arg: GATHER(index size, element size)) */
void h_gather(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned arg = (unsigned)insn_arg(d), is = arg & 0xf, es = arg >> 4;
	unsigned W = vec_width(d); /* of the index (D forms) or the data (Q forms) */
	unsigned n = W / (is > es ? is : es);
	union ymmreg dst, mask, idx;
	avx_check(c);
	vec_rd(c, d, 0, &dst, false);
	vec_rd(c, d, 2, &mask, false);
	ymm_get(c, d->index, &idx);
	uint64_t base = (d->flags & DI_DISP64) ? (uint64_t)d->imm : (uint64_t)(int64_t)d->disp;
	if (d->base == REG_RIP)
		base += c->next_rip;
	else if (d->base != REG_NONE)
		base += c->r[d->base];
	for (unsigned i = 0; i < n; i++) {
		if (vels(&mask, es, i) >= 0)
			continue;
		int64_t x = vels(&idx, is, i);
		uint64_t lin =
			seg_lin_n(c, d->seg, amask(d->asize, base + (uint64_t)x * d->scale), es);
		uint64_t v;
		/* On a fault the elements already gathered stay, with their
		 * mask elements clear. */
		v = mread(c, lin, es);
		vset(&dst, es, i, v);
		vset(&mask, es, i, 0);
		if (d->op[0].kind == DOP_XMM)
			c->xmm[d->op[0].reg & 15] = dst.x[0];
		else
			ymm_set(c, d->op[0].reg, &dst);
		if (d->op[2].kind == DOP_XMM)
			c->xmm[d->op[2].reg & 15] = mask.x[0];
		else
			ymm_set(c, d->op[2].reg, &mask);
	}
	/* Done: the whole mask is zero, and so is the destination beyond
	 * the n elements (a Q-indexed dword gather fills half of it). */
	memset(&mask, 0, sizeof(mask));
	memset(&dst.b[n * es], 0, 32 - n * es);
	vec_wr(c, d, 0, &dst, false);
	vec_wr(c, d, 2, &mask, false);
}
