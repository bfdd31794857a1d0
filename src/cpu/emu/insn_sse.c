/* SPDX-License-Identifier: MIT */
/*
 * SSE, SSE2 and MMX, integer side: the moves, packed integer operations,
 * logic, shifts, unpacks, packs and shuffles that compilers and glibc
 * use. Packed integer operations are written once over a width of 8
 * (MMX) or 16 (XMM) bytes; the float side is insn_ssefp.c.
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

void sse_check(struct emu_cpu *c, bool mmx)
{
	if (c->cr0 & CR0_EM)
		emu_raise(c, EXC_UD, 0, false);
	if (!mmx && !(c->cr4 & CR4_OSFXSR))
		emu_raise(c, EXC_UD, 0, false);
	if (c->cr0 & CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
}

void sse_rd(struct emu_cpu *c, const struct dinsn *d, int i, union xmmreg *v, bool align)
{
	const struct dop *o = &d->op[i];
	memset(v, 0, sizeof(*v));
	switch (o->kind) {
	case DOP_XMM: *v = c->xmm[o->reg & 15]; break;
	case DOP_MMX: v->q[0] = mm_get(c, o->reg); break;
	case DOP_MEM: {
		uint64_t lin = mem_lin(c, d);
		if (o->size == 16) {
			if (align && (lin & 15))
				emu_raise_gp(c, 0);
			v->q[0] = mread(c, lin, 8);
			v->q[1] = mread(c, lin + 8, 8);
		} else if (o->size <= 8) {
			v->q[0] = mread(c, lin, o->size ? o->size : 8);
		}
		break;
	}
	case DOP_REG: v->q[0] = get_reg(c, o->reg, o->size); break;
	case DOP_IMM: v->q[0] = (uint64_t)d->imm; break;
	default: break;
	}
}

void sse_wr(struct emu_cpu *c, const struct dinsn *d, int i, const union xmmreg *v, bool align)
{
	const struct dop *o = &d->op[i];
	switch (o->kind) {
	case DOP_XMM: c->xmm[o->reg & 15] = *v; break;
	case DOP_MMX: mm_set(c, o->reg, v->q[0]); break;
	case DOP_MEM: {
		uint64_t lin = mem_lin(c, d);
		if (o->size == 16) {
			if (align && (lin & 15))
				emu_raise_gp(c, 0);
			mmu_lookup(c, lin + 15, 1, c->cpl == 3); /* fault before writing half */
			mwrite(c, lin, 8, v->q[0]);
			mwrite(c, lin + 8, 8, v->q[1]);
		} else {
			mwrite(c, lin, o->size, v->q[0]);
		}
		break;
	}
	case DOP_REG: set_reg(c, o->reg, o->size, v->q[0]); break;
	default: break;
	}
}

unsigned sse_width(const struct dinsn *d)
{
	return d->op[0].kind == DOP_MMX || d->op[1].kind == DOP_MMX ? 8 : 16;
}

/* ---- Packed integer helpers --------------------------------------------------- */

static inline int64_t sat(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Element-wise op over W bytes with element size es (1, 2, 4, 8). */
static void pint(union xmmreg *a, const union xmmreg *b, unsigned W, unsigned es, int op)
{
	for (unsigned i = 0; i < W / es; i++) {
		int64_t x, y, r;
		uint64_t ux, uy;
		switch (es) {
		case 1: ux = a->b[i], uy = b->b[i], x = a->sb[i], y = b->sb[i]; break;
		case 2: ux = a->w[i], uy = b->w[i], x = a->sw[i], y = b->sw[i]; break;
		case 4: ux = a->d[i], uy = b->d[i], x = a->sd[i], y = b->sd[i]; break;
		default: ux = a->q[i], uy = b->q[i], x = a->sq[i], y = b->sq[i]; break;
		}
		int64_t smax = es == 8 ? INT64_MAX : (1LL << (es * 8 - 1)) - 1;
		int64_t smin = -smax - 1;
		uint64_t umax = es == 8 ? ~0ULL : (1ULL << (es * 8)) - 1;
		switch (op) {
		case P_ADD: r = (int64_t)(ux + uy); break;
		case P_SUB: r = (int64_t)(ux - uy); break;
		case P_EQ: r = ux == uy ? -1 : 0; break;
		case P_GT: r = x > y ? -1 : 0; break;
		case P_MINU: r = (int64_t)(ux < uy ? ux : uy); break;
		case P_MAXU: r = (int64_t)(ux > uy ? ux : uy); break;
		case P_MINS: r = x < y ? x : y; break;
		case P_MAXS: r = x > y ? x : y; break;
		case P_ADDUS: r = (int64_t)(ux + uy > umax ? umax : ux + uy); break;
		case P_SUBUS: r = (int64_t)(ux < uy ? 0 : ux - uy); break;
		case P_ADDSS: r = sat(x + y, smin, smax); break;
		case P_SUBSS: r = sat(x - y, smin, smax); break;
		case P_AVG: r = (int64_t)((ux + uy + 1) >> 1); break;
		case P_MULL: r = x * y; break;
		case P_MULH: r = (x * y) >> 16; break;
		default: /* P_MULHU */ r = (int64_t)((ux * uy) >> 16); break;
		}
		switch (es) {
		case 1: a->b[i] = (uint8_t)r; break;
		case 2: a->w[i] = (uint16_t)r; break;
		case 4: a->d[i] = (uint32_t)r; break;
		default: a->q[i] = (uint64_t)r; break;
		}
	}
}

static void pshift(union xmmreg *a, unsigned W, unsigned es, uint64_t cnt, int kind)
{
	unsigned bits = es * 8;
	for (unsigned i = 0; i < W / es; i++) {
		uint64_t v;
		int64_t sv;
		switch (es) {
		case 2:
			v = a->w[i];
			sv = a->sw[i];
			break;
		case 4:
			v = a->d[i];
			sv = a->sd[i];
			break;
		default:
			v = a->q[i];
			sv = a->sq[i];
			break;
		}
		uint64_t r;
		if (kind == 0) /* left */
			r = cnt >= bits ? 0 : v << cnt;
		else if (kind == 1) /* logical right */
			r = cnt >= bits ? 0 : v >> cnt;
		else /* arithmetic right */
			r = (uint64_t)(sv >> (cnt >= bits ? bits - 1 : cnt));
		switch (es) {
		case 2: a->w[i] = (uint16_t)r; break;
		case 4: a->d[i] = (uint32_t)r; break;
		default: a->q[i] = r; break;
		}
	}
}

/* Interleaves the low (hi=false) or high halves of a and b, element size es. */
static void unpack(union xmmreg *a, const union xmmreg *b, unsigned W, unsigned es, bool hi)
{
	union xmmreg r;
	memset(&r, 0, sizeof(r));
	unsigned n = W / es / 2; /* elements taken from each */
	unsigned base = hi ? n * es : 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(&r.b[(2 * i) * es], &a->b[base + i * es], es);
		memcpy(&r.b[(2 * i + 1) * es], &b->b[base + i * es], es);
	}
	memcpy(a, &r, W);
}

/* Packs signed words/dwords of a then b with saturation to es-byte elements. */
static void pack(union xmmreg *a, const union xmmreg *b, unsigned W, unsigned es, bool uns)
{
	union xmmreg r;
	memset(&r, 0, sizeof(r));
	unsigned n = W / (es * 2); /* source elements per operand */
	for (unsigned k = 0; k < 2; k++) {
		const union xmmreg *s = k ? b : a;
		for (unsigned i = 0; i < n; i++) {
			int64_t v = es == 1 ? s->sw[i] : s->sd[i];
			int64_t lo = uns ? 0 : (es == 1 ? -128 : -32768);
			int64_t hi = uns ? (es == 1 ? 255 : 65535) : (es == 1 ? 127 : 32767);
			v = sat(v, lo, hi);
			if (es == 1)
				r.b[k * n + i] = (uint8_t)v;
			else
				r.w[k * n + i] = (uint16_t)v;
		}
	}
	memcpy(a, &r, W);
}

/* ---- Moves ------------------------------------------------------------------ */

/* MOVUPS MOVUPD MOVDQU (arg 0), MOVAPS MOVAPD MOVDQA MOVNTDQ MOVNTPS
 * MOVNTPD (arg 1: 16-byte memory operands must be aligned) */
void h_sse_mov(struct emu_cpu *c, const struct dinsn *d)
{
	bool al = insn_arg(d);
	union xmmreg a;
	sse_check(c, false);
	sse_rd(c, d, 1, &a, al);
	sse_wr(c, d, 0, &a, al);
}

void h_movntq(struct emu_cpu *c, const struct dinsn *d)
{
	union xmmreg a;
	sse_check(c, true);
	mmx_enter(c);
	sse_rd(c, d, 1, &a, false);
	sse_wr(c, d, 0, &a, false);
}

/* MOVD MOVQ MOVQ2DQ MOVDQ2Q */
void h_movd(struct emu_cpu *c, const struct dinsn *d)
{
	bool mmx = sse_width(d) == 8;
	union xmmreg a;
	sse_check(c, mmx);
	if (mmx)
		mmx_enter(c);
	sse_rd(c, d, 1, &a, false);
	unsigned n = d->op[1].kind == DOP_XMM || d->op[1].kind == DOP_MMX ? 8 : d->op[1].size;
	if (d->op[0].kind == DOP_REG || d->op[0].kind == DOP_MEM)
		n = d->op[0].size;
	union xmmreg r;
	memset(&r, 0, sizeof(r));
	memcpy(&r, &a, n > 8 ? 8 : n);
	sse_wr(c, d, 0, &r, false);
}

/* MOVSS (arg 4), MOVSD (arg 8) */
void h_movss(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned n = (unsigned)insn_arg(d);
	union xmmreg a, b;
	sse_check(c, false);
	sse_rd(c, d, 1, &a, false);
	if (d->op[0].kind == DOP_XMM && d->op[1].kind == DOP_XMM) {
		memcpy(&c->xmm[d->op[0].reg], &a, n);
	} else if (d->op[0].kind == DOP_XMM) {
		memset(&b, 0, sizeof(b));
		memcpy(&b, &a, n);
		c->xmm[d->op[0].reg] = b;
	} else {
		sse_wr(c, d, 0, &a, false);
	}
}

/* MOVLPS MOVLPD (arg 0: the low half), MOVHPS MOVHPD (arg 1) */
void h_movlp(struct emu_cpu *c, const struct dinsn *d)
{
	int half = insn_arg(d);
	union xmmreg a;
	sse_check(c, false);
	if (d->op[0].kind == DOP_XMM) {
		sse_rd(c, d, 1, &a, false);
		c->xmm[d->op[0].reg].q[half] = a.q[0];
	} else {
		a.q[0] = c->xmm[d->op[1].reg].q[half];
		a.q[1] = 0;
		sse_wr(c, d, 0, &a, false);
	}
}

void h_movhlps(struct emu_cpu *c, const struct dinsn *d)
{
	sse_check(c, false);
	c->xmm[d->op[0].reg].q[0] = c->xmm[d->op[1].reg].q[1];
}

void h_movlhps(struct emu_cpu *c, const struct dinsn *d)
{
	sse_check(c, false);
	c->xmm[d->op[0].reg].q[1] = c->xmm[d->op[1].reg].q[0];
}

/* MOVMSKPS MOVMSKPD PMOVMSKB (arg: MSK_*) */
void h_movmsk(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = sse_width(d);
	union xmmreg a;
	sse_check(c, W == 8);
	sse_rd(c, d, 1, &a, false);
	uint64_t m = 0;
	if (insn_arg(d) == MSK_PS)
		for (int i = 0; i < 4; i++)
			m |= (uint64_t)(a.d[i] >> 31) << i;
	else if (insn_arg(d) == MSK_PD)
		for (int i = 0; i < 2; i++)
			m |= (a.q[i] >> 63) << i;
	else
		for (unsigned i = 0; i < W; i++)
			m |= (uint64_t)(a.b[i] >> 7) << i;
	set_reg(c, d->op[0].reg, d->op[0].size, m);
}

/* ---- Packed operations ------------------------------------------------------ */

/* Two-operand packed forms a = op(a, b) over 8 or 16 bytes: logic,
 * element-wise integer operations, shifts and unpacks (arg: PK(kind,
 * element size, op), table.h). */
void h_packed(struct emu_cpu *c, const struct dinsn *d)
{
	int arg = insn_arg(d), kind = arg & 0xf, op = arg >> 8;
	unsigned es = (arg >> 4) & 0xf, W = sse_width(d);
	bool mmx = W == 8;
	union xmmreg a, b;
	sse_check(c, mmx);
	if (mmx)
		mmx_enter(c);
	sse_rd(c, d, 0, &a, true);
	sse_rd(c, d, 1, &b, true);
	switch (kind) {
	case PK_AND:
	case PK_ANDN:
	case PK_OR:
	case PK_XOR:
		for (int i = 0; i < 2; i++) {
			switch (kind) {
			case PK_AND: a.q[i] &= b.q[i]; break;
			case PK_ANDN: a.q[i] = ~a.q[i] & b.q[i]; break;
			case PK_OR: a.q[i] |= b.q[i]; break;
			default: a.q[i] ^= b.q[i]; break;
			}
		}
		if (mmx)
			a.q[1] = 0;
		break;
	case PK_INT: pint(&a, &b, W, es, op); break;
	case PK_SHIFT: pshift(&a, W, es, b.q[0], op); break;
	default: unpack(&a, &b, W, es, op); break;
	}
	sse_wr(c, d, 0, &a, true);
}

void h_pmuludq(struct emu_cpu *c, const struct dinsn *d)
{
	bool mmx = sse_width(d) == 8;
	union xmmreg a, b;
	sse_check(c, mmx);
	sse_rd(c, d, 0, &a, true);
	sse_rd(c, d, 1, &b, true);
	a.q[0] = (uint64_t)a.d[0] * b.d[0];
	if (!mmx)
		a.q[1] = (uint64_t)a.d[2] * b.d[2];
	sse_wr(c, d, 0, &a, true);
}

void h_pmaddwd(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = sse_width(d);
	union xmmreg a, b;
	sse_check(c, W == 8);
	sse_rd(c, d, 0, &a, true);
	sse_rd(c, d, 1, &b, true);
	for (unsigned i = 0; i < W / 4; i++)
		a.sd[i] = (int32_t)((int64_t)a.sw[2 * i] * b.sw[2 * i] +
				    (int64_t)a.sw[2 * i + 1] * b.sw[2 * i + 1]);
	sse_wr(c, d, 0, &a, true);
}

void h_psadbw(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = sse_width(d);
	union xmmreg a, b, r;
	sse_check(c, W == 8);
	sse_rd(c, d, 0, &a, true);
	sse_rd(c, d, 1, &b, true);
	memset(&r, 0, sizeof(r));
	for (unsigned h = 0; h < W / 8; h++) {
		unsigned s = 0;
		for (unsigned i = 0; i < 8; i++) {
			int x = a.b[h * 8 + i] - b.b[h * 8 + i];
			s += (unsigned)(x < 0 ? -x : x);
		}
		r.q[h] = s;
	}
	sse_wr(c, d, 0, &r, true);
}

/* PACKUSWB PACKSSWB PACKSSDW (arg: PACK(element size, unsigned)) */
void h_pack(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = sse_width(d);
	union xmmreg a, b;
	sse_check(c, W == 8);
	sse_rd(c, d, 0, &a, true);
	sse_rd(c, d, 1, &b, true);
	pack(&a, &b, W, insn_arg(d) & 0xf, insn_arg(d) >> 4);
	sse_wr(c, d, 0, &a, true);
}

/* PSLLDQ (arg 1), PSRLDQ (arg 0): whole-register byte shifts */
void h_pshiftdq(struct emu_cpu *c, const struct dinsn *d)
{
	union xmmreg a, r;
	sse_check(c, false);
	sse_rd(c, d, 0, &a, true);
	unsigned n = (unsigned)(d->imm & 0xff);
	memset(&r, 0, sizeof(r));
	if (n < 16) {
		if (insn_arg(d))
			memcpy(&r.b[n], &a.b[0], 16 - n);
		else
			memcpy(&r.b[0], &a.b[n], 16 - n);
	}
	sse_wr(c, d, 0, &r, true);
}

/* PSHUFD PSHUFLW PSHUFHW PSHUFW */
void h_pshuf(struct emu_cpu *c, const struct dinsn *d)
{
	bool mmx = sse_width(d) == 8;
	union xmmreg a, b;
	sse_check(c, mmx);
	sse_rd(c, d, 1, &b, true);
	unsigned imm = (unsigned)(d->imm & 0xff);
	a = b;
	if (d->mnem == ZYDIS_MNEMONIC_PSHUFD) {
		for (int i = 0; i < 4; i++)
			a.d[i] = b.d[(imm >> (2 * i)) & 3];
	} else {
		int base = d->mnem == ZYDIS_MNEMONIC_PSHUFHW ? 4 : 0;
		for (int i = 0; i < 4; i++)
			a.w[base + i] = b.w[base + ((imm >> (2 * i)) & 3)];
	}
	if (mmx)
		mmx_enter(c);
	sse_wr(c, d, 0, &a, true);
}

/* SHUFPS SHUFPD */
void h_shufp(struct emu_cpu *c, const struct dinsn *d)
{
	union xmmreg a, b, r;
	sse_check(c, false);
	sse_rd(c, d, 0, &a, true);
	sse_rd(c, d, 1, &b, true);
	unsigned imm = (unsigned)(d->imm & 0xff);
	if (d->mnem == ZYDIS_MNEMONIC_SHUFPS) {
		r.d[0] = a.d[imm & 3];
		r.d[1] = a.d[(imm >> 2) & 3];
		r.d[2] = b.d[(imm >> 4) & 3];
		r.d[3] = b.d[(imm >> 6) & 3];
	} else {
		r.q[0] = a.q[imm & 1];
		r.q[1] = b.q[(imm >> 1) & 1];
	}
	sse_wr(c, d, 0, &r, true);
}

void h_pinsrw(struct emu_cpu *c, const struct dinsn *d)
{
	bool mmx = sse_width(d) == 8;
	union xmmreg a, b;
	sse_check(c, mmx);
	sse_rd(c, d, 0, &a, true);
	sse_rd(c, d, 1, &b, false);
	a.w[(d->imm & 0xff) & (mmx ? 3 : 7)] = b.w[0];
	if (mmx)
		mmx_enter(c);
	sse_wr(c, d, 0, &a, true);
}

void h_pextrw(struct emu_cpu *c, const struct dinsn *d)
{
	bool mmx = sse_width(d) == 8;
	union xmmreg b;
	sse_check(c, mmx);
	sse_rd(c, d, 1, &b, false);
	set_reg(c, d->op[0].reg, d->op[0].size, b.w[(d->imm & 0xff) & (mmx ? 3 : 7)]);
}

void h_emms(struct emu_cpu *c, const struct dinsn *d)
{
	sse_check(c, true);
	c->ftw = 0;
}
