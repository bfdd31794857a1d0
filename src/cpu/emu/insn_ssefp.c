/* SPDX-License-Identifier: MIT */
/*
 * SSE and SSE2 floating point: scalar and packed arithmetic, MIN/MAX,
 * SQRT, compares, COMIS/UCOMIS and the conversions, run on the host's SSE
 * unit under the guest's MXCSR (see sse_host).
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_sse.h"

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

/* ADDSS .. CVTTPD2DQ (arg: SF(kind, packed memory operand), table.h) */
void h_sse_fp(struct emu_cpu *c, const struct dinsn *d)
{
	int k = insn_arg(d) & 0xf;
	bool packed_mem = insn_arg(d) >> 4;
	sse_check(c, false);
	union xmmreg a, b;
	struct hsse h;
	memset(&h, 0, sizeof(h));
	unsigned gsz = 4;
	if (k == SF_FROM_GPR) {
		sse_rd(c, d, 1, &b, false);
		gsz = d->op[1].size;
		h.r = b.q[0];
		a = c->xmm[d->op[0].reg & 15];
	} else {
		/* memory sources: 16 aligned bytes for packed forms, else the
		 * element (sse_rd zero-extends it; the host uses the low lanes) */
		sse_rd(c, d, 1, &b, packed_mem);
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
}
