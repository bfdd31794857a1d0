/* SPDX-License-Identifier: MIT */
/*
 * Vector state and operand access for every MMX/SSE/AVX handler (see
 * insn_sse.h), and the vector moves: MOVAPS..MOVDQU, MOVD/MOVQ,
 * MOVSS/MOVSD, MOVLPS..MOVHPD, MOVHLPS/MOVLHPS, MOVDDUP/MOVSHDUP/MOVSLDUP,
 * LDDQU, MOVNTDQA, MOVMSKPS/PD, PMOVMSKB, EMMS, VZEROUPPER/VZEROALL, in
 * their legacy and VEX forms.
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_sse.h"

/* ---- State access ---------------------------------------------------------- */

static uint64_t mm_get(struct emu_cpu *c, int i)
{
	uint64_t v;
	memcpy(&v, c->fpr[i & 7], 8);
	return v;
}

void mmx_enter(struct emu_cpu *c)
{
	c->fsw &= ~0x3800;
	c->ftw = 0xff;
}

static void mm_set(struct emu_cpu *c, int i, uint64_t v)
{
	memcpy(c->fpr[i & 7], &v, 8);
	c->fpr[i & 7][8] = 0xff;
	c->fpr[i & 7][9] = 0xff;
}

void ymm_get(const struct emu_cpu *c, int n, union ymmreg *v)
{
	v->x[0] = c->xmm[n & 15];
	v->x[1] = c->ymmh[n & 15];
}

void ymm_set(struct emu_cpu *c, int n, const union ymmreg *v)
{
	c->xmm[n & 15] = v->x[0];
	c->ymmh[n & 15] = v->x[1];
}

void sse_check(struct emu_cpu *c, bool mmx)
{
	if (c->cr0 & CR0_EM)
		emu_raise(c, EXC_UD, 0, false);
	if (!mmx && !(c->cr4 & CR4_OSFXSR))
		emu_raise(c, EXC_UD, 0, false);
	if (c->cr0 & CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
}

void avx_check(struct emu_cpu *c)
{
	if (!(c->cr0 & CR0_PE) || !(c->cr4 & CR4_OSXSAVE) || (c->xcr0 & 6) != 6)
		emu_raise(c, EXC_UD, 0, false);
	if (c->cr0 & CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
}

unsigned vec_width(const struct dinsn *d)
{
	if (d->xflags & DX_L256)
		return 32;
	return d->op[0].kind == DOP_MMX || d->op[1].kind == DOP_MMX ? 8 : 16;
}

void vec_check(struct emu_cpu *c, const struct dinsn *d)
{
	if (vec_vex(d))
		avx_check(c);
	else
		sse_check(c, vec_width(d) == 8);
}

/* Raises #GP(0) for a misaligned 16/32-byte operand that must be aligned. */
static void check_align(struct emu_cpu *c, uint64_t lin, unsigned size, bool align)
{
	if (align && size >= 16 && (lin & (size - 1)))
		emu_raise_gp(c, 0);
}

void vec_rd(struct emu_cpu *c, const struct dinsn *d, int i, union ymmreg *v, bool align)
{
	const struct dop *o = &d->op[i];
	memset(v, 0, sizeof(*v));
	switch (o->kind) {
	case DOP_XMM: v->x[0] = c->xmm[o->reg & 15]; break;
	case DOP_YMM: ymm_get(c, o->reg, v); break;
	case DOP_MMX: v->q[0] = mm_get(c, o->reg); break;
	case DOP_MEM: {
		unsigned size = o->size ? o->size : 8;
		if (size > 32)
			size = 32;
		uint64_t lin = mem_lin_n(c, d, size);
		check_align(c, lin, size, align);
		if (size >= 8) {
			/* all pages first: nothing is half read */
			if (((lin & 0xfff) + size) > 4096)
				mmu_lookup(c, lin + size - 1, 0, c->cpl == 3);
			for (unsigned k = 0; k < size / 8; k++)
				v->q[k] = mread(c, lin + 8 * k, 8);
		} else {
			v->q[0] = mread(c, lin, size);
		}
		break;
	}
	case DOP_REG: v->q[0] = get_reg(c, o->reg, o->size); break;
	case DOP_IMM: v->q[0] = (uint64_t)d->imm; break;
	default: break;
	}
}

void vec_wr(struct emu_cpu *c, const struct dinsn *d, int i, const union ymmreg *v, bool align)
{
	const struct dop *o = &d->op[i];
	switch (o->kind) {
	case DOP_XMM:
		c->xmm[o->reg & 15] = v->x[0];
		if (vec_vex(d))
			memset(&c->ymmh[o->reg & 15], 0, 16);
		break;
	case DOP_YMM: ymm_set(c, o->reg, v); break;
	case DOP_MMX: mm_set(c, o->reg, v->q[0]); break;
	case DOP_MEM: {
		unsigned size = o->size ? o->size : 8;
		if (size > 32)
			size = 32;
		uint64_t lin = mem_lin_w(c, d, size);
		check_align(c, lin, size, align);
		if (size >= 8) {
			/* fault before writing anything */
			mmu_lookup(c, lin, 1, c->cpl == 3);
			mmu_lookup(c, lin + size - 1, 1, c->cpl == 3);
			for (unsigned k = 0; k < size / 8; k++)
				mwrite(c, lin + 8 * k, 8, v->q[k]);
		} else {
			mwrite(c, lin, size, v->q[0]);
		}
		break;
	}
	case DOP_REG: set_reg(c, o->reg, o->size, v->q[0]); break;
	default: break;
	}
}

void vec_src1(struct emu_cpu *c, const struct dinsn *d, union ymmreg *v)
{
	vec_rd(c, d, vec_vex(d) ? 1 : 0, v, false);
}

void vec_src2(struct emu_cpu *c, const struct dinsn *d, union ymmreg *v, bool align)
{
	if (vec_vex(d))
		vec_rd(c, d, d->op[2].kind == DOP_NONE ? 1 : 2, v, false);
	else
		vec_rd(c, d, 1, v, align);
}

void sse_rd(struct emu_cpu *c, const struct dinsn *d, int i, union xmmreg *v, bool align)
{
	union ymmreg y;
	vec_rd(c, d, i, &y, align);
	*v = y.x[0];
}

void sse_wr(struct emu_cpu *c, const struct dinsn *d, int i, const union xmmreg *v, bool align)
{
	union ymmreg y;
	memset(&y, 0, sizeof(y));
	y.x[0] = *v;
	vec_wr(c, d, i, &y, align);
}

unsigned sse_width(const struct dinsn *d)
{
	return d->op[0].kind == DOP_MMX || d->op[1].kind == DOP_MMX ? 8 : 16;
}

/* ---- Moves ------------------------------------------------------------------ */

/* (V)MOVUPS (V)MOVUPD (V)MOVDQU (V)LDDQU (arg 0), (V)MOVAPS (V)MOVAPD
 * (V)MOVDQA (V)MOVNTDQ (V)MOVNTPS (V)MOVNTPD (V)MOVNTDQA (arg 1: the
 * memory operand must be aligned to its size) */
void h_sse_mov(struct emu_cpu *c, const struct dinsn *d)
{
	bool al = insn_arg(d);
	union ymmreg a;
	vec_check(c, d);
	vec_rd(c, d, 1, &a, al);
	vec_wr(c, d, 0, &a, al);
}

void h_movntq(struct emu_cpu *c, const struct dinsn *d)
{
	union ymmreg a;
	sse_check(c, true);
	mmx_enter(c);
	vec_rd(c, d, 1, &a, false);
	vec_wr(c, d, 0, &a, false);
}

/* (V)MOVD (V)MOVQ MOVQ2DQ MOVDQ2Q: the low 4 or 8 bytes, zero-extended */
void h_movd(struct emu_cpu *c, const struct dinsn *d)
{
	bool mmx = sse_width(d) == 8 && !vec_vex(d);
	union ymmreg a, r;
	vec_check(c, d);
	if (mmx)
		mmx_enter(c);
	vec_rd(c, d, 1, &a, false);
	unsigned n = d->op[1].kind == DOP_XMM || d->op[1].kind == DOP_MMX ? 8 : d->op[1].size;
	if (d->op[0].kind == DOP_REG || d->op[0].kind == DOP_MEM)
		n = d->op[0].size;
	memset(&r, 0, sizeof(r));
	memcpy(&r, &a, n > 8 ? 8 : n);
	vec_wr(c, d, 0, &r, false);
}

/* (V)MOVSS (arg 4), (V)MOVSD (arg 8): register merges, loads
 * zero-extend, stores write the element */
void h_movss(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned n = (unsigned)insn_arg(d);
	union ymmreg a, b;
	vec_check(c, d);
	if (d->op[0].kind == DOP_MEM || d->op[1].kind == DOP_MEM) {
		vec_rd(c, d, 1, &a, false); /* a load: n bytes, zero-extended */
	} else {
		vec_src1(c, d, &a);
		vec_src2(c, d, &b, false);
		memcpy(&a, &b, n);
	}
	vec_wr(c, d, 0, &a, false);
}

/* (V)MOVLPS (V)MOVLPD (arg 0: the low half), (V)MOVHPS (V)MOVHPD (arg 1) */
void h_movlp(struct emu_cpu *c, const struct dinsn *d)
{
	int half = insn_arg(d);
	union ymmreg a, m;
	vec_check(c, d);
	if (d->op[0].kind == DOP_MEM) {
		vec_rd(c, d, 1, &a, false);
		memset(&m, 0, sizeof(m));
		m.q[0] = a.q[half];
		vec_wr(c, d, 0, &m, false);
		return;
	}
	vec_src1(c, d, &a);
	vec_src2(c, d, &m, false);
	a.q[half] = m.q[0];
	vec_wr(c, d, 0, &a, false);
}

/* (V)MOVHLPS: dst = {src2.hi, src1.hi}; (V)MOVLHPS: {src1.lo, src2.lo} */
void h_movhlps(struct emu_cpu *c, const struct dinsn *d)
{
	union ymmreg a, b;
	vec_check(c, d);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, false);
	a.q[0] = b.q[1];
	vec_wr(c, d, 0, &a, false);
}

void h_movlhps(struct emu_cpu *c, const struct dinsn *d)
{
	union ymmreg a, b;
	vec_check(c, d);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, false);
	a.q[1] = b.q[0];
	vec_wr(c, d, 0, &a, false);
}

/* (V)MOVDDUP (arg 0: even qwords), (V)MOVSLDUP (arg 1: even dwords),
 * (V)MOVSHDUP (arg 2: odd dwords) duplicated into each pair */
void h_movdup(struct emu_cpu *c, const struct dinsn *d)
{
	int k = insn_arg(d);
	union ymmreg a, r;
	vec_check(c, d);
	vec_rd(c, d, 1, &a, k != 0 && !vec_vex(d));
	unsigned W = vec_width(d);
	if (k == 0) {
		for (unsigned i = 0; i < W / 8; i += 2)
			r.q[i] = r.q[i + 1] = a.q[i];
	} else {
		for (unsigned i = 0; i < W / 4; i += 2)
			r.d[i] = r.d[i + 1] = a.d[i + (k == 2)];
	}
	if (W == 16)
		memset(&r.x[1], 0, 16);
	vec_wr(c, d, 0, &r, false);
}

/* (V)MOVMSKPS (V)MOVMSKPD (V)PMOVMSKB (arg: MSK_*) */
void h_movmsk(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = d->op[1].kind == DOP_YMM ? 32 : d->op[1].kind == DOP_MMX ? 8 : 16;
	union ymmreg a;
	vec_check(c, d);
	vec_rd(c, d, 1, &a, false);
	uint64_t m = 0;
	if (insn_arg(d) == MSK_PS)
		for (unsigned i = 0; i < W / 4; i++)
			m |= (uint64_t)(a.d[i] >> 31) << i;
	else if (insn_arg(d) == MSK_PD)
		for (unsigned i = 0; i < W / 8; i++)
			m |= (a.q[i] >> 63) << i;
	else
		for (unsigned i = 0; i < W; i++)
			m |= (uint64_t)(a.b[i] >> 7) << i;
	set_reg(c, d->op[0].reg, d->op[0].size, m);
}

void h_emms(struct emu_cpu *c, const struct dinsn *d)
{
	sse_check(c, true);
	c->ftw = 0;
}

/* VZEROUPPER (arg 0), VZEROALL (arg 1): YMM0-15 (YMM0-7 outside 64-bit
 * mode) lose bits 255:128, or everything */
void h_vzero(struct emu_cpu *c, const struct dinsn *d)
{
	avx_check(c);
	int n = c->cmode == 8 ? 16 : 8;
	for (int i = 0; i < n; i++) {
		memset(&c->ymmh[i], 0, 16);
		if (insn_arg(d))
			memset(&c->xmm[i], 0, 16);
	}
}
