/* SPDX-License-Identifier: MIT */
/*
 * SSE, SSE2 and MMX: the moves, integer SIMD, logic, shuffles, packs and
 * the scalar/packed float arithmetic, compares and conversions that
 * compilers and glibc use. Packed integer operations are written once
 * over a width of 8 (MMX) or 16 (XMM) bytes.
 *
 * The float instructions run on the host's SSE unit under the guest's
 * MXCSR (rounding, DAZ, FZ), which gives the hardware's results and
 * exception flags; an unmasked exception raises #XM (#UD without
 * CR4.OSXMMEXCPT) with the flags of the whole operation set.
 */
#include <string.h>

#include "cpu/emu/fault.h"
#include "cpu/emu/insn.h"
#include "cpu/emu/operand.h"

/* ---- State access ---------------------------------------------------------- */

static uint64_t mm_get(struct emu_cpu *c, int i)
{
	uint64_t v;
	memcpy(&v, c->fpr[i & 7], 8);
	return v;
}

/* An MMX instruction: TOP = 0, every register tagged valid. */
static void mmx_enter(struct emu_cpu *c)
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

static void sse_check(struct emu_cpu *c, bool mmx)
{
	if (c->cr0 & CR0_EM)
		emu_raise(c, EXC_UD, 0, false);
	if (!mmx && !(c->cr4 & CR4_OSFXSR))
		emu_raise(c, EXC_UD, 0, false);
	if (c->cr0 & CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
}

/* Reads operand i as a vector (memory: o->size bytes, zero-extended). */
static void rd(struct emu_cpu *c, const struct dinsn *d, int i, union xmmreg *v, bool align)
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

/* Writes operand i; for memory and GPRs only o->size bytes. */
static void wr(struct emu_cpu *c, const struct dinsn *d, int i, const union xmmreg *v, bool align)
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

static unsigned width(const struct dinsn *d)
{
	return d->op[0].kind == DOP_MMX || d->op[1].kind == DOP_MMX ? 8 : 16;
}

/* ---- Packed integer helpers --------------------------------------------------- */

static inline int64_t sat(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

enum pint {
	P_ADD,
	P_SUB,
	P_EQ,
	P_GT,
	P_MINU,
	P_MAXU,
	P_MINS,
	P_MAXS,
	P_ADDUS,
	P_SUBUS,
	P_ADDSS,
	P_SUBSS,
	P_AVG,
	P_MULL,
	P_MULH,
	P_MULHU,
};

/* Element-wise op over W bytes with element size es (1, 2, 4, 8). */
static void pint(union xmmreg *a, const union xmmreg *b, unsigned W, unsigned es, enum pint op)
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

/* ---- Floats ------------------------------------------------------------------------ */

/*
 * Every SSE floating-point instruction runs as the same instruction on the
 * host's SSE unit, under the guest's MXCSR with all exceptions masked and
 * the flags cleared: the host implements IEEE 754 and the x86 rules on top
 * of it (NaN propagation, indefinite values, MIN/MAX operand order, DAZ,
 * FZ, rounding control), so results and exception flags are exactly the
 * hardware's. Load, operation and flag read sit in one asm statement (the
 * compiler cannot move the operation away from the MXCSR switch) and the
 * host's MXCSR is restored before it ends.
 */
typedef double v2df __attribute__((vector_size(16)));

struct hsse {
	v2df a, b;	 /* destination (in/out) and source */
	uint64_t r;	 /* GPR operand (in for cvtsi2s*, out for cvt*2si) */
	bool zf, pf, cf; /* EFLAGS after comis/ucomis */
};

#define HSSE_ASM(ins)                                                                              \
	asm volatile("stmxcsr %[save]\n\t"                                                         \
		     "ldmxcsr %[g]\n\t" ins "\n\t"                                                 \
		     "stmxcsr %[out]\n\t"                                                          \
		     "ldmxcsr %[save]"                                                             \
		     : [a] "+x"(h->a), [r] "+r"(h->r), [out] "=m"(out), [save] "=m"(save)          \
		     : [b] "x"(h->b), [g] "m"(g))
#define HSSE(M, ins)                                                                               \
	case ZYDIS_MNEMONIC_##M: HSSE_ASM(ins); break;
/* Register forms: GPR size 4 or 8 picks the instruction's operand size. */
#define HSSE_GPR(M, ins4, ins8)                                                                    \
	case ZYDIS_MNEMONIC_##M:                                                                   \
		if (gsz == 8)                                                                      \
			HSSE_ASM(ins8);                                                            \
		else                                                                               \
			HSSE_ASM(ins4);                                                            \
		break;
#define HSSE_CMP(M, ins)                                                                           \
	case ZYDIS_MNEMONIC_##M:                                                                   \
		switch (pred & 7) {                                                                \
		case 0: HSSE_ASM(ins " $0, %[b], %[a]"); break;                                    \
		case 1: HSSE_ASM(ins " $1, %[b], %[a]"); break;                                    \
		case 2: HSSE_ASM(ins " $2, %[b], %[a]"); break;                                    \
		case 3: HSSE_ASM(ins " $3, %[b], %[a]"); break;                                    \
		case 4: HSSE_ASM(ins " $4, %[b], %[a]"); break;                                    \
		case 5: HSSE_ASM(ins " $5, %[b], %[a]"); break;                                    \
		case 6: HSSE_ASM(ins " $6, %[b], %[a]"); break;                                    \
		default: HSSE_ASM(ins " $7, %[b], %[a]"); break;                                   \
		}                                                                                  \
		break;
#define HSSE_COMI(M, ins)                                                                          \
	case ZYDIS_MNEMONIC_##M:                                                                   \
		asm volatile("stmxcsr %[save]\n\t"                                                 \
			     "ldmxcsr %[g]\n\t" ins " %[b], %[a]\n\t"                              \
			     "stmxcsr %[out]\n\t"                                                  \
			     "ldmxcsr %[save]"                                                     \
			     : [zf] "=@ccz"(h->zf), [pf] "=@ccp"(h->pf), [cf] "=@ccc"(h->cf),      \
			       [out] "=m"(out), [save] "=m"(save)                                  \
			     : [a] "x"(h->a), [b] "x"(h->b), [g] "m"(g));                          \
		break;

/* Runs mnemonic mn on the host (pred: CMPxx predicate, gsz: GPR operand
 * size) and merges the exception flags into the guest's MXCSR. An
 * exception the guest left unmasked raises #XM (#UD without
 * CR4.OSXMMEXCPT) before anything is written; its flags are set, as on
 * hardware. Returns false for a mnemonic that is not an SSE float op. */
static bool sse_host(struct emu_cpu *c, int mn, int pred, unsigned gsz, struct hsse *h)
{
	uint32_t g = (c->mxcsr & ~0x3fu) | 0x1f80u, out = 0, save;
	switch (mn) {
		HSSE(ADDSS, "addss %[b], %[a]")
		HSSE(ADDSD, "addsd %[b], %[a]")
		HSSE(ADDPS, "addps %[b], %[a]")
		HSSE(ADDPD, "addpd %[b], %[a]")
		HSSE(SUBSS, "subss %[b], %[a]")
		HSSE(SUBSD, "subsd %[b], %[a]")
		HSSE(SUBPS, "subps %[b], %[a]")
		HSSE(SUBPD, "subpd %[b], %[a]")
		HSSE(MULSS, "mulss %[b], %[a]")
		HSSE(MULSD, "mulsd %[b], %[a]")
		HSSE(MULPS, "mulps %[b], %[a]")
		HSSE(MULPD, "mulpd %[b], %[a]")
		HSSE(DIVSS, "divss %[b], %[a]")
		HSSE(DIVSD, "divsd %[b], %[a]")
		HSSE(DIVPS, "divps %[b], %[a]")
		HSSE(DIVPD, "divpd %[b], %[a]")
		HSSE(MINSS, "minss %[b], %[a]")
		HSSE(MINSD, "minsd %[b], %[a]")
		HSSE(MINPS, "minps %[b], %[a]")
		HSSE(MINPD, "minpd %[b], %[a]")
		HSSE(MAXSS, "maxss %[b], %[a]")
		HSSE(MAXSD, "maxsd %[b], %[a]")
		HSSE(MAXPS, "maxps %[b], %[a]")
		HSSE(MAXPD, "maxpd %[b], %[a]")
		HSSE(SQRTSS, "sqrtss %[b], %[a]")
		HSSE(SQRTSD, "sqrtsd %[b], %[a]")
		HSSE(SQRTPS, "sqrtps %[b], %[a]")
		HSSE(SQRTPD, "sqrtpd %[b], %[a]")
		HSSE_CMP(CMPSS, "cmpss")
		HSSE_CMP(CMPSD, "cmpsd")
		HSSE_CMP(CMPPS, "cmpps")
		HSSE_CMP(CMPPD, "cmppd")
		HSSE_COMI(COMISS, "comiss")
		HSSE_COMI(UCOMISS, "ucomiss")
		HSSE_COMI(COMISD, "comisd")
		HSSE_COMI(UCOMISD, "ucomisd")
		HSSE_GPR(CVTSI2SS, "cvtsi2ssl %k[r], %[a]", "cvtsi2ssq %q[r], %[a]")
		HSSE_GPR(CVTSI2SD, "cvtsi2sdl %k[r], %[a]", "cvtsi2sdq %q[r], %[a]")
		HSSE_GPR(CVTSS2SI, "cvtss2si %[b], %k[r]", "cvtss2si %[b], %q[r]")
		HSSE_GPR(CVTTSS2SI, "cvttss2si %[b], %k[r]", "cvttss2si %[b], %q[r]")
		HSSE_GPR(CVTSD2SI, "cvtsd2si %[b], %k[r]", "cvtsd2si %[b], %q[r]")
		HSSE_GPR(CVTTSD2SI, "cvttsd2si %[b], %k[r]", "cvttsd2si %[b], %q[r]")
		HSSE(CVTSS2SD, "cvtss2sd %[b], %[a]")
		HSSE(CVTSD2SS, "cvtsd2ss %[b], %[a]")
		HSSE(CVTDQ2PS, "cvtdq2ps %[b], %[a]")
		HSSE(CVTPS2DQ, "cvtps2dq %[b], %[a]")
		HSSE(CVTTPS2DQ, "cvttps2dq %[b], %[a]")
		HSSE(CVTPS2PD, "cvtps2pd %[b], %[a]")
		HSSE(CVTPD2PS, "cvtpd2ps %[b], %[a]")
		HSSE(CVTDQ2PD, "cvtdq2pd %[b], %[a]")
		HSSE(CVTPD2DQ, "cvtpd2dq %[b], %[a]")
		HSSE(CVTTPD2DQ, "cvttpd2dq %[b], %[a]")
	default: return false;
	}
	uint32_t raised = out & 0x3f;
	c->mxcsr |= raised;
	if (raised & ~(c->mxcsr >> 7))
		emu_raise(c, (c->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD, 0, false);
	return true;
}

#undef HSSE_ASM
#undef HSSE
#undef HSSE_GPR
#undef HSSE_CMP
#undef HSSE_COMI

/* Which SSE float instructions take which operands (for sse_fp()). */
enum sfkind {
	SF_NONE,
	SF_VEC,	    /* xmm = op(xmm, xmm/m): packed (aligned m128) or scalar */
	SF_VEC_CVT, /* xmm = cvt(xmm/m): the destination's old value is an input */
	SF_COMI,    /* EFLAGS = compare(xmm, xmm/m) */
	SF_TO_GPR,  /* r32/r64 = cvt(xmm/m) */
	SF_FROM_GPR /* xmm = cvt(r/m32/64), upper lanes kept */
};

static enum sfkind sf_kind(int mn, bool *packed_mem)
{
	*packed_mem = false;
	switch (mn) {
	case ZYDIS_MNEMONIC_ADDPS:
	case ZYDIS_MNEMONIC_ADDPD:
	case ZYDIS_MNEMONIC_SUBPS:
	case ZYDIS_MNEMONIC_SUBPD:
	case ZYDIS_MNEMONIC_MULPS:
	case ZYDIS_MNEMONIC_MULPD:
	case ZYDIS_MNEMONIC_DIVPS:
	case ZYDIS_MNEMONIC_DIVPD:
	case ZYDIS_MNEMONIC_MINPS:
	case ZYDIS_MNEMONIC_MINPD:
	case ZYDIS_MNEMONIC_MAXPS:
	case ZYDIS_MNEMONIC_MAXPD:
	case ZYDIS_MNEMONIC_SQRTPS:
	case ZYDIS_MNEMONIC_SQRTPD:
	case ZYDIS_MNEMONIC_CMPPS:
	case ZYDIS_MNEMONIC_CMPPD: *packed_mem = true; return SF_VEC;
	case ZYDIS_MNEMONIC_ADDSS:
	case ZYDIS_MNEMONIC_ADDSD:
	case ZYDIS_MNEMONIC_SUBSS:
	case ZYDIS_MNEMONIC_SUBSD:
	case ZYDIS_MNEMONIC_MULSS:
	case ZYDIS_MNEMONIC_MULSD:
	case ZYDIS_MNEMONIC_DIVSS:
	case ZYDIS_MNEMONIC_DIVSD:
	case ZYDIS_MNEMONIC_MINSS:
	case ZYDIS_MNEMONIC_MINSD:
	case ZYDIS_MNEMONIC_MAXSS:
	case ZYDIS_MNEMONIC_MAXSD:
	case ZYDIS_MNEMONIC_SQRTSS:
	case ZYDIS_MNEMONIC_SQRTSD:
	case ZYDIS_MNEMONIC_CMPSS:
	case ZYDIS_MNEMONIC_CMPSD:
	case ZYDIS_MNEMONIC_CVTSS2SD:
	case ZYDIS_MNEMONIC_CVTSD2SS: return SF_VEC;
	case ZYDIS_MNEMONIC_CVTDQ2PS:
	case ZYDIS_MNEMONIC_CVTPS2DQ:
	case ZYDIS_MNEMONIC_CVTTPS2DQ:
	case ZYDIS_MNEMONIC_CVTPD2PS:
	case ZYDIS_MNEMONIC_CVTPD2DQ:
	case ZYDIS_MNEMONIC_CVTTPD2DQ: *packed_mem = true; return SF_VEC_CVT;
	case ZYDIS_MNEMONIC_CVTPS2PD:
	case ZYDIS_MNEMONIC_CVTDQ2PD: return SF_VEC_CVT; /* m64 source */
	case ZYDIS_MNEMONIC_COMISS:
	case ZYDIS_MNEMONIC_UCOMISS:
	case ZYDIS_MNEMONIC_COMISD:
	case ZYDIS_MNEMONIC_UCOMISD: return SF_COMI;
	case ZYDIS_MNEMONIC_CVTSS2SI:
	case ZYDIS_MNEMONIC_CVTTSS2SI:
	case ZYDIS_MNEMONIC_CVTSD2SI:
	case ZYDIS_MNEMONIC_CVTTSD2SI: return SF_TO_GPR;
	case ZYDIS_MNEMONIC_CVTSI2SS:
	case ZYDIS_MNEMONIC_CVTSI2SD: return SF_FROM_GPR;
	default: return SF_NONE;
	}
}

/* The SSE float arithmetic, compares and conversions; false if d is not one. */
static bool sse_fp(struct emu_cpu *c, const struct dinsn *d)
{
	bool packed_mem;
	enum sfkind k = sf_kind(d->mnem, &packed_mem);
	if (k == SF_NONE)
		return false;
	sse_check(c, false);
	union xmmreg a, b;
	struct hsse h;
	memset(&h, 0, sizeof(h));
	unsigned gsz = 4;
	if (k == SF_FROM_GPR) {
		rd(c, d, 1, &b, false);
		gsz = d->op[1].size;
		h.r = b.q[0];
		a = c->xmm[d->op[0].reg & 15];
	} else {
		/* memory sources: 16 aligned bytes for packed forms, else the
		 * element (rd zero-extends it; the host uses the low lanes) */
		rd(c, d, 1, &b, packed_mem);
		if (k == SF_TO_GPR)
			gsz = d->op[0].size;
		else
			a = c->xmm[d->op[0].reg & 15];
	}
	if (k != SF_TO_GPR)
		memcpy(&h.a, &a, 16);
	memcpy(&h.b, &b, 16);
	sse_host(c, d->mnem, (int)(d->imm & 7), gsz, &h);
	switch (k) {
	case SF_COMI: {
		uint64_t f = (h.zf ? F_ZF : 0) | (h.pf ? F_PF : 0) | (h.cf ? F_CF : 0);
		c->lf_op = LF_NONE;
		c->flags = (c->flags & ~(uint64_t)F_ARITH) | f;
		break;
	}
	case SF_TO_GPR: set_reg(c, d->op[0].reg, d->op[0].size, h.r); break;
	default: memcpy(&c->xmm[d->op[0].reg & 15], &h.a, 16); break;
	}
	return true;
}

/* ---- The instructions ---------------------------------------------------------------- */

bool emu_exec_sse(struct emu_cpu *c, const struct dinsn *d)
{
	union xmmreg a, b;
	unsigned W = width(d);
	bool mmx = W == 8;
	int mn = d->mnem;
	/* Legacy SSE memory operands of 16 bytes must be aligned, except for
	 * the explicitly unaligned moves. */
	bool al = true;

	switch (mn) {
	case ZYDIS_MNEMONIC_MOVUPS:
	case ZYDIS_MNEMONIC_MOVUPD:
	case ZYDIS_MNEMONIC_MOVDQU:
		al = false;
		/* fall through */
	case ZYDIS_MNEMONIC_MOVAPS:
	case ZYDIS_MNEMONIC_MOVAPD:
	case ZYDIS_MNEMONIC_MOVDQA:
	case ZYDIS_MNEMONIC_MOVNTDQ:
	case ZYDIS_MNEMONIC_MOVNTPS:
	case ZYDIS_MNEMONIC_MOVNTPD:
		sse_check(c, false);
		rd(c, d, 1, &a, al);
		wr(c, d, 0, &a, al);
		return true;
	case ZYDIS_MNEMONIC_MOVNTQ:
		sse_check(c, true);
		mmx_enter(c);
		rd(c, d, 1, &a, false);
		wr(c, d, 0, &a, false);
		return true;
	case ZYDIS_MNEMONIC_MOVD:
	case ZYDIS_MNEMONIC_MOVQ:
	case ZYDIS_MNEMONIC_MOVQ2DQ:
	case ZYDIS_MNEMONIC_MOVDQ2Q: {
		sse_check(c, mmx);
		if (mmx)
			mmx_enter(c);
		rd(c, d, 1, &a, false);
		unsigned n =
			d->op[1].kind == DOP_XMM || d->op[1].kind == DOP_MMX ? 8 : d->op[1].size;
		if (d->op[0].kind == DOP_REG || d->op[0].kind == DOP_MEM)
			n = d->op[0].size;
		union xmmreg r;
		memset(&r, 0, sizeof(r));
		memcpy(&r, &a, n > 8 ? 8 : n);
		wr(c, d, 0, &r, false);
		return true;
	}
	case ZYDIS_MNEMONIC_MOVSS:
	case ZYDIS_MNEMONIC_MOVSD: {
		sse_check(c, false);
		unsigned n = mn == ZYDIS_MNEMONIC_MOVSS ? 4 : 8;
		rd(c, d, 1, &a, false);
		if (d->op[0].kind == DOP_XMM && d->op[1].kind == DOP_XMM) {
			memcpy(&c->xmm[d->op[0].reg], &a, n);
		} else if (d->op[0].kind == DOP_XMM) {
			memset(&b, 0, sizeof(b));
			memcpy(&b, &a, n);
			c->xmm[d->op[0].reg] = b;
		} else {
			wr(c, d, 0, &a, false);
		}
		return true;
	}
	case ZYDIS_MNEMONIC_MOVLPS:
	case ZYDIS_MNEMONIC_MOVLPD:
	case ZYDIS_MNEMONIC_MOVHPS:
	case ZYDIS_MNEMONIC_MOVHPD: {
		sse_check(c, false);
		int half = (mn == ZYDIS_MNEMONIC_MOVHPS || mn == ZYDIS_MNEMONIC_MOVHPD) ? 1 : 0;
		if (d->op[0].kind == DOP_XMM) {
			rd(c, d, 1, &a, false);
			c->xmm[d->op[0].reg].q[half] = a.q[0];
		} else {
			a.q[0] = c->xmm[d->op[1].reg].q[half];
			a.q[1] = 0;
			wr(c, d, 0, &a, false);
		}
		return true;
	}
	case ZYDIS_MNEMONIC_MOVHLPS:
		sse_check(c, false);
		c->xmm[d->op[0].reg].q[0] = c->xmm[d->op[1].reg].q[1];
		return true;
	case ZYDIS_MNEMONIC_MOVLHPS:
		sse_check(c, false);
		c->xmm[d->op[0].reg].q[1] = c->xmm[d->op[1].reg].q[0];
		return true;
	case ZYDIS_MNEMONIC_MOVMSKPS:
	case ZYDIS_MNEMONIC_MOVMSKPD:
	case ZYDIS_MNEMONIC_PMOVMSKB: {
		sse_check(c, mmx);
		rd(c, d, 1, &a, false);
		uint64_t m = 0;
		if (mn == ZYDIS_MNEMONIC_MOVMSKPS)
			for (int i = 0; i < 4; i++)
				m |= (uint64_t)(a.d[i] >> 31) << i;
		else if (mn == ZYDIS_MNEMONIC_MOVMSKPD)
			for (int i = 0; i < 2; i++)
				m |= (a.q[i] >> 63) << i;
		else
			for (unsigned i = 0; i < W; i++)
				m |= (uint64_t)(a.b[i] >> 7) << i;
		set_reg(c, d->op[0].reg, d->op[0].size, m);
		return true;
	}
	default: break;
	}

	/* Two-operand packed forms: a = op(a, b) over W bytes. */
	int es = 0, pop = -1, logic = -1, sh = -1, unp = -1;
	bool unp_hi = false;
	switch (mn) {
	case ZYDIS_MNEMONIC_PAND:
	case ZYDIS_MNEMONIC_ANDPS:
	case ZYDIS_MNEMONIC_ANDPD: logic = 0; break;
	case ZYDIS_MNEMONIC_PANDN:
	case ZYDIS_MNEMONIC_ANDNPS:
	case ZYDIS_MNEMONIC_ANDNPD: logic = 1; break;
	case ZYDIS_MNEMONIC_POR:
	case ZYDIS_MNEMONIC_ORPS:
	case ZYDIS_MNEMONIC_ORPD: logic = 2; break;
	case ZYDIS_MNEMONIC_PXOR:
	case ZYDIS_MNEMONIC_XORPS:
	case ZYDIS_MNEMONIC_XORPD: logic = 3; break;
#define PI(M, E, O)                                                                                \
	case ZYDIS_MNEMONIC_##M: es = E, pop = O; break;
		PI(PADDB, 1, P_ADD)
		PI(PADDW, 2, P_ADD)
		PI(PADDD, 4, P_ADD)
		PI(PADDQ, 8, P_ADD)
		PI(PSUBB, 1, P_SUB)
		PI(PSUBW, 2, P_SUB)
		PI(PSUBD, 4, P_SUB)
		PI(PSUBQ, 8, P_SUB)
		PI(PCMPEQB, 1, P_EQ)
		PI(PCMPEQW, 2, P_EQ)
		PI(PCMPEQD, 4, P_EQ)
		PI(PCMPGTB, 1, P_GT)
		PI(PCMPGTW, 2, P_GT)
		PI(PCMPGTD, 4, P_GT)
		PI(PMINUB, 1, P_MINU)
		PI(PMAXUB, 1, P_MAXU)
		PI(PMINSW, 2, P_MINS)
		PI(PMAXSW, 2, P_MAXS)
		PI(PADDUSB, 1, P_ADDUS)
		PI(PADDUSW, 2, P_ADDUS)
		PI(PSUBUSB, 1, P_SUBUS)
		PI(PSUBUSW, 2, P_SUBUS)
		PI(PADDSB, 1, P_ADDSS)
		PI(PADDSW, 2, P_ADDSS)
		PI(PSUBSB, 1, P_SUBSS)
		PI(PSUBSW, 2, P_SUBSS)
		PI(PAVGB, 1, P_AVG)
		PI(PAVGW, 2, P_AVG)
		PI(PMULLW, 2, P_MULL)
		PI(PMULHW, 2, P_MULH)
		PI(PMULHUW, 2, P_MULHU)
#undef PI
	case ZYDIS_MNEMONIC_PSLLW: es = 2, sh = 0; break;
	case ZYDIS_MNEMONIC_PSLLD: es = 4, sh = 0; break;
	case ZYDIS_MNEMONIC_PSLLQ: es = 8, sh = 0; break;
	case ZYDIS_MNEMONIC_PSRLW: es = 2, sh = 1; break;
	case ZYDIS_MNEMONIC_PSRLD: es = 4, sh = 1; break;
	case ZYDIS_MNEMONIC_PSRLQ: es = 8, sh = 1; break;
	case ZYDIS_MNEMONIC_PSRAW: es = 2, sh = 2; break;
	case ZYDIS_MNEMONIC_PSRAD: es = 4, sh = 2; break;
	case ZYDIS_MNEMONIC_PUNPCKLBW: es = 1, unp = 1; break;
	case ZYDIS_MNEMONIC_PUNPCKLWD: es = 2, unp = 1; break;
	case ZYDIS_MNEMONIC_PUNPCKLDQ:
	case ZYDIS_MNEMONIC_UNPCKLPS: es = 4, unp = 1; break;
	case ZYDIS_MNEMONIC_PUNPCKLQDQ:
	case ZYDIS_MNEMONIC_UNPCKLPD: es = 8, unp = 1; break;
	case ZYDIS_MNEMONIC_PUNPCKHBW: es = 1, unp = 1, unp_hi = true; break;
	case ZYDIS_MNEMONIC_PUNPCKHWD: es = 2, unp = 1, unp_hi = true; break;
	case ZYDIS_MNEMONIC_PUNPCKHDQ:
	case ZYDIS_MNEMONIC_UNPCKHPS: es = 4, unp = 1, unp_hi = true; break;
	case ZYDIS_MNEMONIC_PUNPCKHQDQ:
	case ZYDIS_MNEMONIC_UNPCKHPD: es = 8, unp = 1, unp_hi = true; break;
	default: break;
	}
	if (logic >= 0 || pop >= 0 || sh >= 0 || unp >= 0) {
		sse_check(c, mmx);
		if (mmx)
			mmx_enter(c);
		rd(c, d, 0, &a, al);
		rd(c, d, 1, &b, al);
		if (logic >= 0) {
			for (int i = 0; i < 2; i++) {
				switch (logic) {
				case 0: a.q[i] &= b.q[i]; break;
				case 1: a.q[i] = ~a.q[i] & b.q[i]; break;
				case 2: a.q[i] |= b.q[i]; break;
				default: a.q[i] ^= b.q[i]; break;
				}
			}
			if (mmx)
				a.q[1] = 0;
		} else if (pop >= 0) {
			pint(&a, &b, W, (unsigned)es, (enum pint)pop);
		} else if (sh >= 0) {
			pshift(&a, W, (unsigned)es, b.q[0], sh);
		} else {
			unpack(&a, &b, W, (unsigned)es, unp_hi);
		}
		wr(c, d, 0, &a, al);
		return true;
	}

	switch (mn) {
	case ZYDIS_MNEMONIC_PMULUDQ:
		sse_check(c, mmx);
		rd(c, d, 0, &a, al);
		rd(c, d, 1, &b, al);
		a.q[0] = (uint64_t)a.d[0] * b.d[0];
		if (!mmx)
			a.q[1] = (uint64_t)a.d[2] * b.d[2];
		wr(c, d, 0, &a, al);
		return true;
	case ZYDIS_MNEMONIC_PMADDWD:
		sse_check(c, mmx);
		rd(c, d, 0, &a, al);
		rd(c, d, 1, &b, al);
		for (unsigned i = 0; i < W / 4; i++)
			a.sd[i] = (int32_t)((int64_t)a.sw[2 * i] * b.sw[2 * i] +
					    (int64_t)a.sw[2 * i + 1] * b.sw[2 * i + 1]);
		wr(c, d, 0, &a, al);
		return true;
	case ZYDIS_MNEMONIC_PSADBW: {
		sse_check(c, mmx);
		rd(c, d, 0, &a, al);
		rd(c, d, 1, &b, al);
		union xmmreg r;
		memset(&r, 0, sizeof(r));
		for (unsigned h = 0; h < W / 8; h++) {
			unsigned s = 0;
			for (unsigned i = 0; i < 8; i++) {
				int x = a.b[h * 8 + i] - b.b[h * 8 + i];
				s += (unsigned)(x < 0 ? -x : x);
			}
			r.q[h] = s;
		}
		wr(c, d, 0, &r, al);
		return true;
	}
	case ZYDIS_MNEMONIC_PACKUSWB:
	case ZYDIS_MNEMONIC_PACKSSWB:
	case ZYDIS_MNEMONIC_PACKSSDW:
		sse_check(c, mmx);
		rd(c, d, 0, &a, al);
		rd(c, d, 1, &b, al);
		pack(&a, &b, W, mn == ZYDIS_MNEMONIC_PACKSSDW ? 2 : 1,
		     mn == ZYDIS_MNEMONIC_PACKUSWB);
		wr(c, d, 0, &a, al);
		return true;
	case ZYDIS_MNEMONIC_PSLLDQ:
	case ZYDIS_MNEMONIC_PSRLDQ: {
		sse_check(c, false);
		rd(c, d, 0, &a, al);
		unsigned n = (unsigned)(d->imm & 0xff);
		union xmmreg r;
		memset(&r, 0, sizeof(r));
		if (n < 16) {
			if (mn == ZYDIS_MNEMONIC_PSLLDQ)
				memcpy(&r.b[n], &a.b[0], 16 - n);
			else
				memcpy(&r.b[0], &a.b[n], 16 - n);
		}
		wr(c, d, 0, &r, al);
		return true;
	}
	case ZYDIS_MNEMONIC_PSHUFD:
	case ZYDIS_MNEMONIC_PSHUFLW:
	case ZYDIS_MNEMONIC_PSHUFHW:
	case ZYDIS_MNEMONIC_PSHUFW: {
		sse_check(c, mmx);
		rd(c, d, 1, &b, al);
		unsigned imm = (unsigned)(d->imm & 0xff);
		a = b;
		if (mn == ZYDIS_MNEMONIC_PSHUFD) {
			for (int i = 0; i < 4; i++)
				a.d[i] = b.d[(imm >> (2 * i)) & 3];
		} else {
			int base = mn == ZYDIS_MNEMONIC_PSHUFHW ? 4 : 0;
			for (int i = 0; i < 4; i++)
				a.w[base + i] = b.w[base + ((imm >> (2 * i)) & 3)];
		}
		if (mmx)
			mmx_enter(c);
		wr(c, d, 0, &a, al);
		return true;
	}
	case ZYDIS_MNEMONIC_SHUFPS:
	case ZYDIS_MNEMONIC_SHUFPD: {
		sse_check(c, false);
		rd(c, d, 0, &a, al);
		rd(c, d, 1, &b, al);
		unsigned imm = (unsigned)(d->imm & 0xff);
		union xmmreg r;
		if (mn == ZYDIS_MNEMONIC_SHUFPS) {
			r.d[0] = a.d[imm & 3];
			r.d[1] = a.d[(imm >> 2) & 3];
			r.d[2] = b.d[(imm >> 4) & 3];
			r.d[3] = b.d[(imm >> 6) & 3];
		} else {
			r.q[0] = a.q[imm & 1];
			r.q[1] = b.q[(imm >> 1) & 1];
		}
		wr(c, d, 0, &r, al);
		return true;
	}
	case ZYDIS_MNEMONIC_PINSRW:
		sse_check(c, mmx);
		rd(c, d, 0, &a, al);
		rd(c, d, 1, &b, false);
		a.w[(d->imm & 0xff) & (mmx ? 3 : 7)] = b.w[0];
		if (mmx)
			mmx_enter(c);
		wr(c, d, 0, &a, al);
		return true;
	case ZYDIS_MNEMONIC_PEXTRW:
		sse_check(c, mmx);
		rd(c, d, 1, &b, false);
		set_reg(c, d->op[0].reg, d->op[0].size, b.w[(d->imm & 0xff) & (mmx ? 3 : 7)]);
		return true;
	case ZYDIS_MNEMONIC_EMMS:
		sse_check(c, true);
		c->ftw = 0;
		return true;
	default: break;
	}

	return sse_fp(c, d);
}
