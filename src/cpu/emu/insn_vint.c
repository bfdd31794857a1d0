/* SPDX-License-Identifier: MIT */
/*
 * Packed integer operations, MMX to AVX2: logic, element-wise arithmetic
 * and compares (PK_INT), shifts by an immediate or a register and AVX2's
 * per-element shifts, horizontal adds, PMADDUBSW, PSHUFB, PALIGNR,
 * unpacks, packs, PMULUDQ/PMULDQ, PMADDWD, PSADBW, MPSADBW, PHMINPOSUW,
 * PTEST/VTESTPS/VTESTPD, whole-register byte shifts and the fixed
 * shuffles (PSHUFD..., SHUFPS/PD).
 *
 * Each is written once over one lane of up to 16 bytes (8 for MMX); a
 * VEX.256 form runs it on both 128-bit lanes, as the hardware does (only
 * PSHUFB, PALIGNR, the unpacks and packs, the byte shifts and horizontal
 * adds care: they never cross a lane).
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_sse.h"

static inline int64_t sat(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Lanes of a W-byte operation and their width. */
static inline unsigned lanes(unsigned W)
{
	return W == 32 ? 2 : 1;
}
static inline unsigned lanew(unsigned W)
{
	return W == 32 ? 16 : W;
}

/* ---- Lane operations ---------------------------------------------------------- */

/* Element-wise op over W bytes with element size es (1, 2, 4, 8). */
static void pint(union xmmreg *a, const union xmmreg *b, unsigned W, unsigned es, int op)
{
	unsigned bits = es * 8;
	for (unsigned i = 0; i < W / es; i++) {
		int64_t x, y, r;
		uint64_t ux, uy;
		switch (es) {
		case 1: ux = a->b[i], uy = b->b[i], x = a->sb[i], y = b->sb[i]; break;
		case 2: ux = a->w[i], uy = b->w[i], x = a->sw[i], y = b->sw[i]; break;
		case 4: ux = a->d[i], uy = b->d[i], x = a->sd[i], y = b->sd[i]; break;
		default: ux = a->q[i], uy = b->q[i], x = a->sq[i], y = b->sq[i]; break;
		}
		int64_t smax = es == 8 ? INT64_MAX : (1LL << (bits - 1)) - 1;
		int64_t smin = -smax - 1;
		uint64_t umax = es == 8 ? ~0ULL : (1ULL << bits) - 1;
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
		case P_MULL: r = (int64_t)((uint64_t)x * (uint64_t)y); break;
		case P_MULH: r = (x * y) >> 16; break;
		case P_MULHU: r = (int64_t)((ux * uy) >> 16); break;
		case P_ABS: r = y < 0 ? -y : y; break;
		case P_SIGN: r = y < 0 ? -x : y == 0 ? 0 : x; break;
		case P_MULHRS: r = (((x * y) >> 14) + 1) >> 1; break;
		case P_SLLV: r = uy >= bits ? 0 : (int64_t)(ux << uy); break;
		case P_SRLV: r = uy >= bits ? 0 : (int64_t)(ux >> uy); break;
		default: /* P_SRAV */ r = x >> (uy >= bits ? bits - 1 : uy); break;
		}
		switch (es) {
		case 1: a->b[i] = (uint8_t)r; break;
		case 2: a->w[i] = (uint16_t)r; break;
		case 4: a->d[i] = (uint32_t)r; break;
		default: a->q[i] = (uint64_t)r; break;
		}
	}
}

/* Shifts every element of a by cnt: kind 0 left, 1 logical right, 2
 * arithmetic right; counts beyond the element give 0 (or the sign). */
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
		if (kind == 0)
			r = cnt >= bits ? 0 : v << cnt;
		else if (kind == 1)
			r = cnt >= bits ? 0 : v >> cnt;
		else
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

/* Horizontal pairs: the low half of the result from a's pairs, the high
 * half from b's (op: P_ADD, P_SUB, P_ADDSS, P_SUBSS). */
static void horiz(union xmmreg *a, const union xmmreg *b, unsigned W, unsigned es, int op)
{
	union xmmreg x, y, r;
	unsigned n = W / es, h = n / 2;
	memset(&x, 0, sizeof(x));
	memset(&y, 0, sizeof(y));
	for (unsigned k = 0; k < 2; k++) {
		const union xmmreg *s = k ? b : a;
		for (unsigned i = 0; i < h; i++) {
			if (es == 2) {
				x.w[k * h + i] = s->w[2 * i];
				y.w[k * h + i] = s->w[2 * i + 1];
			} else {
				x.d[k * h + i] = s->d[2 * i];
				y.d[k * h + i] = s->d[2 * i + 1];
			}
		}
	}
	r = x;
	pint(&r, &y, W, es, op);
	memcpy(a, &r, W);
}

/* PMADDUBSW: unsigned bytes of a times signed bytes of b, pairs summed
 * with signed saturation into words. */
static void maddubs(union xmmreg *a, const union xmmreg *b, unsigned W)
{
	for (unsigned i = 0; i < W / 2; i++) {
		int32_t s = (int32_t)a->b[2 * i] * b->sb[2 * i] +
			    (int32_t)a->b[2 * i + 1] * b->sb[2 * i + 1];
		a->sw[i] = (int16_t)sat(s, -32768, 32767);
	}
}

/* PSHUFB: each byte of b picks a byte of a (bit 7 set: zero). */
static void pshufb(union xmmreg *a, const union xmmreg *b, unsigned W)
{
	union xmmreg r;
	memset(&r, 0, sizeof(r));
	for (unsigned i = 0; i < W; i++)
		r.b[i] = (b->b[i] & 0x80) ? 0 : a->b[b->b[i] & (W - 1)];
	memcpy(a, &r, W);
}

/* PALIGNR: the W bytes at byte imm of the 2W-byte a:b (b low). */
static void palignr(union xmmreg *a, const union xmmreg *b, unsigned W, unsigned imm)
{
	uint8_t t[32];
	union xmmreg r;
	memset(&r, 0, sizeof(r));
	memcpy(t, b, W);
	memcpy(t + W, a, W);
	for (unsigned i = 0; i < W; i++)
		r.b[i] = imm + i < 2 * W ? t[imm + i] : 0;
	memcpy(a, &r, W);
}

/* ---- Handlers ---------------------------------------------------------------------- */

/* Two-source packed forms a = op(a, b): logic, element-wise integer
 * operations, shifts, unpacks, horizontal adds, PMADDUBSW, PSHUFB,
 * PALIGNR (arg: PK(kind, element size, op), table.h). */
void h_packed(struct emu_cpu *c, const struct dinsn *d)
{
	int arg = insn_arg(d), kind = arg & 0xf, op = arg >> 8;
	unsigned es = (arg >> 4) & 0xf, W = vec_width(d), LW = lanew(W);
	union ymmreg a, b;
	vec_check(c, d);
	if (W == 8)
		mmx_enter(c);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	for (unsigned l = 0; l < lanes(W); l++) {
		union xmmreg *x = &a.x[l];
		const union xmmreg *y = &b.x[l];
		switch (kind) {
		case PK_AND:
		case PK_ANDN:
		case PK_OR:
		case PK_XOR:
			for (int i = 0; i < 2; i++) {
				switch (kind) {
				case PK_AND: x->q[i] &= y->q[i]; break;
				case PK_ANDN: x->q[i] = ~x->q[i] & y->q[i]; break;
				case PK_OR: x->q[i] |= y->q[i]; break;
				default: x->q[i] ^= y->q[i]; break;
				}
			}
			if (W == 8)
				x->q[1] = 0;
			break;
		case PK_INT: pint(x, y, LW, es, op); break;
		case PK_SHIFT: pshift(x, LW, es, b.q[0], op); break; /* one count for all */
		case PK_UNPACK: unpack(x, y, LW, es, op); break;
		case PK_HORIZ: horiz(x, y, LW, es, op); break;
		case PK_MADDUBS: maddubs(x, y, LW); break;
		case PK_PSHUFB: pshufb(x, y, LW); break;
		default: /* PK_ALIGNR */ palignr(x, y, LW, (unsigned)(d->imm & 0xff)); break;
		}
	}
	vec_wr(c, d, 0, &a, true);
}

/* PMULUDQ (arg 0), PMULDQ (arg 1): even dwords, multiplied into qwords */
void h_pmuludq(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d);
	union ymmreg a, b;
	vec_check(c, d);
	if (W == 8)
		mmx_enter(c);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	for (unsigned i = 0; i < W / 8; i++)
		a.q[i] = insn_arg(d) ? (uint64_t)((int64_t)a.sd[2 * i] * b.sd[2 * i])
				     : (uint64_t)a.d[2 * i] * b.d[2 * i];
	vec_wr(c, d, 0, &a, true);
}

void h_pmaddwd(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d);
	union ymmreg a, b;
	vec_check(c, d);
	if (W == 8)
		mmx_enter(c);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	for (unsigned i = 0; i < W / 4; i++)
		a.sd[i] = (int32_t)(uint32_t)((int64_t)a.sw[2 * i] * b.sw[2 * i] +
					      (int64_t)a.sw[2 * i + 1] * b.sw[2 * i + 1]);
	vec_wr(c, d, 0, &a, true);
}

void h_psadbw(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d);
	union ymmreg a, b, r;
	vec_check(c, d);
	if (W == 8)
		mmx_enter(c);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	memset(&r, 0, sizeof(r));
	for (unsigned h = 0; h < W / 8; h++) {
		unsigned s = 0;
		for (unsigned i = 0; i < 8; i++) {
			int x = a.b[h * 8 + i] - b.b[h * 8 + i];
			s += (unsigned)(x < 0 ? -x : x);
		}
		r.q[h] = s;
	}
	vec_wr(c, d, 0, &r, true);
}

/* PACKUSWB PACKSSWB PACKSSDW PACKUSDW (arg: PACK(element size out,
 * unsigned)): signed elements of a then b, saturated, per lane */
void h_pack(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d), LW = lanew(W), es = insn_arg(d) & 0xf;
	bool uns = insn_arg(d) >> 4;
	union ymmreg a, b, r;
	vec_check(c, d);
	if (W == 8)
		mmx_enter(c);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	memset(&r, 0, sizeof(r));
	unsigned n = LW / (es * 2); /* source elements per operand and lane */
	int64_t lo = uns ? 0 : (es == 1 ? -128 : -32768);
	int64_t hi = uns ? (es == 1 ? 255 : 65535) : (es == 1 ? 127 : 32767);
	for (unsigned l = 0; l < lanes(W); l++) {
		for (unsigned k = 0; k < 2; k++) {
			const union xmmreg *s = k ? &b.x[l] : &a.x[l];
			for (unsigned i = 0; i < n; i++) {
				int64_t v = sat(es == 1 ? s->sw[i] : s->sd[i], lo, hi);
				if (es == 1)
					r.x[l].b[k * n + i] = (uint8_t)v;
				else
					r.x[l].w[k * n + i] = (uint16_t)v;
			}
		}
	}
	vec_wr(c, d, 0, &r, true);
}

/* PSLLDQ (arg 1), PSRLDQ (arg 0): byte shifts of each 128-bit lane */
void h_pshiftdq(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d);
	union ymmreg a, r;
	vec_check(c, d);
	vec_src1(c, d, &a);
	unsigned n = (unsigned)(d->imm & 0xff);
	memset(&r, 0, sizeof(r));
	for (unsigned l = 0; l < lanes(W) && n < 16; l++) {
		if (insn_arg(d))
			memcpy(&r.x[l].b[n], &a.x[l].b[0], 16 - n);
		else
			memcpy(&r.x[l].b[0], &a.x[l].b[n], 16 - n);
	}
	vec_wr(c, d, 0, &r, true);
}

/* PSHUFD PSHUFLW PSHUFHW PSHUFW: src in op[1], imm picks elements within
 * each lane */
void h_pshuf(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d);
	union ymmreg a, b;
	vec_check(c, d);
	vec_rd(c, d, 1, &b, !vec_vex(d));
	unsigned imm = (unsigned)(d->imm & 0xff);
	a = b;
	int mn = d->mnem;
	for (unsigned l = 0; l < lanes(W); l++) {
		union xmmreg *x = &a.x[l];
		const union xmmreg *y = &b.x[l];
		if (mn == ZYDIS_MNEMONIC_PSHUFD || mn == ZYDIS_MNEMONIC_VPSHUFD) {
			for (int i = 0; i < 4; i++)
				x->d[i] = y->d[(imm >> (2 * i)) & 3];
		} else {
			int base = mn == ZYDIS_MNEMONIC_PSHUFHW || mn == ZYDIS_MNEMONIC_VPSHUFHW
					   ? 4
					   : 0;
			for (int i = 0; i < 4; i++)
				x->w[base + i] = y->w[base + ((imm >> (2 * i)) & 3)];
		}
	}
	if (W == 8)
		mmx_enter(c);
	vec_wr(c, d, 0, &a, true);
}

/* SHUFPS SHUFPD: per lane, the low half from src1, the high from src2 */
void h_shufp(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d);
	union ymmreg a, b, r;
	vec_check(c, d);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	unsigned imm = (unsigned)(d->imm & 0xff);
	bool ps = d->mnem == ZYDIS_MNEMONIC_SHUFPS || d->mnem == ZYDIS_MNEMONIC_VSHUFPS;
	memset(&r, 0, sizeof(r));
	for (unsigned l = 0; l < lanes(W); l++) {
		const union xmmreg *x = &a.x[l], *y = &b.x[l];
		if (ps) {
			r.x[l].d[0] = x->d[imm & 3];
			r.x[l].d[1] = x->d[(imm >> 2) & 3];
			r.x[l].d[2] = y->d[(imm >> 4) & 3];
			r.x[l].d[3] = y->d[(imm >> 6) & 3];
		} else {
			unsigned k = imm >> (2 * l);
			r.x[l].q[0] = x->q[k & 1];
			r.x[l].q[1] = y->q[(k >> 1) & 1];
		}
	}
	vec_wr(c, d, 0, &r, true);
}

/* MPSADBW: per lane, eight sums of absolute differences of a 4-byte
 * block of src2 (imm bits 1:0, 4:3) against sliding windows of src1 (from
 * imm bit 2, 5) */
void h_mpsadbw(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d);
	union ymmreg a, b, r;
	vec_check(c, d);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	unsigned imm = (unsigned)(d->imm & 0xff);
	memset(&r, 0, sizeof(r));
	for (unsigned l = 0; l < lanes(W); l++) {
		unsigned k = imm >> (3 * l);
		unsigned o1 = ((k >> 2) & 1) * 4, o2 = (k & 3) * 4;
		for (unsigned i = 0; i < 8; i++) {
			unsigned s = 0;
			for (unsigned j = 0; j < 4; j++) {
				int x = a.x[l].b[o1 + i + j] - b.x[l].b[o2 + j];
				s += (unsigned)(x < 0 ? -x : x);
			}
			r.x[l].w[i] = (uint16_t)s;
		}
	}
	vec_wr(c, d, 0, &r, true);
}

/* PHMINPOSUW: the smallest unsigned word and its (lowest) index */
void h_phminposuw(struct emu_cpu *c, const struct dinsn *d)
{
	union ymmreg b, r;
	vec_check(c, d);
	vec_rd(c, d, 1, &b, !vec_vex(d));
	unsigned best = 0;
	for (unsigned i = 1; i < 8; i++)
		if (b.w[i] < b.w[best])
			best = i;
	memset(&r, 0, sizeof(r));
	r.w[0] = b.w[best];
	r.w[1] = (uint16_t)best;
	vec_wr(c, d, 0, &r, false);
}

/* PTEST VPTEST (arg 0: all bits), VTESTPS (arg 4), VTESTPD (arg 8: the
 * sign bits only): ZF = (a AND b) == 0, CF = (NOT a AND b) == 0, the
 * other arithmetic flags cleared */
void h_ptest(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d), es = (unsigned)insn_arg(d);
	union ymmreg a, b;
	vec_check(c, d);
	vec_rd(c, d, 0, &a, false);
	vec_rd(c, d, 1, &b, !vec_vex(d));
	uint64_t m = es == 4 ? 0x8000000080000000ULL : es == 8 ? 0x8000000000000000ULL : ~0ULL;
	bool z = true, cf = true;
	for (unsigned i = 0; i < W / 8; i++) {
		if (a.q[i] & b.q[i] & m)
			z = false;
		if (~a.q[i] & b.q[i] & m)
			cf = false;
	}
	c->lf_op = LF_NONE;
	c->flags = (c->flags & ~(uint64_t)F_ARITH) | (z ? F_ZF : 0) | (cf ? F_CF : 0);
}
