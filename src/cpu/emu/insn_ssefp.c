/* SPDX-License-Identifier: MIT */
/*
 * Floating point from SSE to AVX, FMA and F16C: scalar and packed
 * arithmetic, MIN/MAX, SQRT, RCP/RSQRT, compares, COMIS/UCOMIS, the
 * conversions, SSE3's ADDSUB and horizontal adds, SSE4.1's ROUND and DP,
 * fused multiply-adds and half-precision conversions, run on the host's
 * own unit under the guest's MXCSR (see sse_host).
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_sse.h"
#include "cpu/emu/insn_x87.h"

/*
 * Every floating-point instruction runs as the same instruction on the
 * host, under the guest's MXCSR with all exceptions masked and the flags
 * cleared: the host implements IEEE 754 and the x86 rules on top of it
 * (NaN propagation, indefinite values, MIN/MAX operand order, DAZ, FZ,
 * rounding control, RCP/RSQRT's approximations), so results and exception
 * flags are exactly the hardware's. Load, operation and flag read sit in
 * one asm statement (the compiler cannot move the operation away from the
 * MXCSR switch) and the host's MXCSR is restored before it ends. An
 * instruction with an immediate the encoding needs (ROUND, DP, CMP,
 * VCVTPS2PH) has one asm statement per value.
 *
 * The legacy forms (sse_host) need the host to have the SSE level the
 * instruction belongs to; the VEX forms (avx_host) need AVX, and FMA or
 * F16C for theirs: sys_cpuid.c offers a feature only where the host has
 * it.
 */
typedef double v2df __attribute__((vector_size(16)));
typedef double v4df __attribute__((vector_size(32)));

/* Switches over an immediate the host instruction must encode: X(n) for
 * every value (n a literal, stringized into the instruction). */
/* clang-format off */
#define IMM16(X, h) \
	X(0x##h##0) \
	X(0x##h##1) \
	X(0x##h##2) \
	X(0x##h##3) \
	X(0x##h##4) \
	X(0x##h##5) \
	X(0x##h##6) \
	X(0x##h##7) \
	X(0x##h##8) \
	X(0x##h##9) \
	X(0x##h##a) \
	X(0x##h##b) \
	X(0x##h##c) \
	X(0x##h##d) \
	X(0x##h##e) \
	X(0x##h##f)
#define IMM256(X) \
	IMM16(X, 0) \
	IMM16(X, 1) \
	IMM16(X, 2) \
	IMM16(X, 3) \
	IMM16(X, 4) \
	IMM16(X, 5) \
	IMM16(X, 6) \
	IMM16(X, 7) \
	IMM16(X, 8) \
	IMM16(X, 9) \
	IMM16(X, a) \
	IMM16(X, b) \
	IMM16(X, c) \
	IMM16(X, d) \
	IMM16(X, e) \
	IMM16(X, f)
#define IMM32(X) IMM16(X, 0) IMM16(X, 1)
#define IMM8(X) \
	X(0x00) \
	X(0x01) \
	X(0x02) \
	X(0x03) \
	X(0x04) \
	X(0x05) \
	X(0x06) \
	X(0x07)
/* clang-format on */

/* Merges the exception flags an operation raised into the guest's MXCSR.
 * An exception the guest left unmasked raises #XM (#UD without
 * CR4.OSXMMEXCPT) before anything is written; its flags are set, as on
 * hardware. */
static void merge_mxcsr(struct emu_cpu *c, uint32_t out)
{
	uint32_t raised = out & 0x3f;
	c->mxcsr |= raised;
	if (raised & ~(c->mxcsr >> 7))
		emu_raise(c, (c->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD, 0, false);
}

/* ---- Legacy encodings: 128-bit registers --------------------------------- */

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
#define CMPPS_X(n)                                                                                 \
	case n:                                                                                    \
		HSSE_ASM("cmpps $" #n ", %[b], %[a]");                                             \
		break;
#define CMPPD_X(n)                                                                                 \
	case n:                                                                                    \
		HSSE_ASM("cmppd $" #n ", %[b], %[a]");                                             \
		break;
#define CMPSS_X(n)                                                                                 \
	case n:                                                                                    \
		HSSE_ASM("cmpss $" #n ", %[b], %[a]");                                             \
		break;
#define CMPSD_X(n)                                                                                 \
	case n:                                                                                    \
		HSSE_ASM("cmpsd $" #n ", %[b], %[a]");                                             \
		break;
#define ROUNDPS_X(n)                                                                               \
	case n:                                                                                    \
		HSSE_ASM("roundps $" #n ", %[b], %[a]");                                           \
		break;
#define ROUNDPD_X(n)                                                                               \
	case n:                                                                                    \
		HSSE_ASM("roundpd $" #n ", %[b], %[a]");                                           \
		break;
#define ROUNDSS_X(n)                                                                               \
	case n:                                                                                    \
		HSSE_ASM("roundss $" #n ", %[b], %[a]");                                           \
		break;
#define ROUNDSD_X(n)                                                                               \
	case n:                                                                                    \
		HSSE_ASM("roundsd $" #n ", %[b], %[a]");                                           \
		break;
#define DPPS_X(n)                                                                                  \
	case n:                                                                                    \
		HSSE_ASM("dpps $" #n ", %[b], %[a]");                                              \
		break;
#define DPPD_X(n)                                                                                  \
	case n:                                                                                    \
		HSSE_ASM("dppd $" #n ", %[b], %[a]");                                              \
		break;
#define HSSE_IMM(M, SET, X, mask)                                                                  \
	case ZYDIS_MNEMONIC_##M:                                                                   \
		switch (imm & (mask)) {                                                            \
			SET(X)                                                                     \
		}                                                                                  \
		break;

/* Runs mnemonic mn on the host (imm: its immediate, gsz: GPR operand
 * size) and merges the exception flags into the guest's MXCSR. Returns
 * false for a mnemonic that is not a legacy SSE float op. */
static bool sse_host(struct emu_cpu *c, int mn, unsigned imm, unsigned gsz, struct hsse *h)
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
		HSSE(RCPSS, "rcpss %[b], %[a]")
		HSSE(RCPPS, "rcpps %[b], %[a]")
		HSSE(RSQRTSS, "rsqrtss %[b], %[a]")
		HSSE(RSQRTPS, "rsqrtps %[b], %[a]")
		HSSE(ADDSUBPS, "addsubps %[b], %[a]")
		HSSE(ADDSUBPD, "addsubpd %[b], %[a]")
		HSSE(HADDPS, "haddps %[b], %[a]")
		HSSE(HADDPD, "haddpd %[b], %[a]")
		HSSE(HSUBPS, "hsubps %[b], %[a]")
		HSSE(HSUBPD, "hsubpd %[b], %[a]")
		HSSE_IMM(CMPPS, IMM8, CMPPS_X, 7)
		HSSE_IMM(CMPPD, IMM8, CMPPD_X, 7)
		HSSE_IMM(CMPSS, IMM8, CMPSS_X, 7)
		HSSE_IMM(CMPSD, IMM8, CMPSD_X, 7)
		HSSE_IMM(ROUNDPS, IMM32, ROUNDPS_X, 15)
		HSSE_IMM(ROUNDPD, IMM32, ROUNDPD_X, 15)
		HSSE_IMM(ROUNDSS, IMM32, ROUNDSS_X, 15)
		HSSE_IMM(ROUNDSD, IMM32, ROUNDSD_X, 15)
		HSSE_IMM(DPPS, IMM256, DPPS_X, 255)
		HSSE_IMM(DPPD, IMM256, DPPD_X, 255)
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
	merge_mxcsr(c, out);
	return true;
}

/* ADDSS .. DPPD, legacy encodings (arg: SF(kind, packed memory operand),
 * table.h) */
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
	if (!sse_host(c, d->mnem, (unsigned)(d->imm & 0xff), gsz, &h))
		h_unimpl(c, d); /* a row without its host instruction: #UD, reported */
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

/* ---- VEX encodings: XMM and YMM registers ---------------------------------- */

struct havx {
	v4df r, a, b;	 /* destination (in for FMA), src1, src2 */
	uint64_t q;	 /* GPR operand */
	bool zf, pf, cf; /* EFLAGS after vcomis/vucomis */
};

#define AV_ASM(ins)                                                                                \
	asm volatile("vstmxcsr %[save]\n\t"                                                        \
		     "vldmxcsr %[g]\n\t" ins "\n\t"                                                \
		     "vstmxcsr %[out]\n\t"                                                         \
		     "vldmxcsr %[save]"                                                            \
		     : [r] "+x"(h->r), [q] "+r"(h->q), [out] "=m"(out), [save] "=m"(save)          \
		     : [a] "x"(h->a), [b] "x"(h->b), [g] "m"(g))
/* M with its 128-bit and 256-bit forms */
#define AV(M, i128, i256)                                                                          \
	case ZYDIS_MNEMONIC_##M:                                                                   \
		if (l256)                                                                          \
			AV_ASM(i256);                                                              \
		else                                                                               \
			AV_ASM(i128);                                                              \
		break;
#define AV_GPR(M, ins4, ins8)                                                                      \
	case ZYDIS_MNEMONIC_##M:                                                                   \
		if (gsz == 8)                                                                      \
			AV_ASM(ins8);                                                              \
		else                                                                               \
			AV_ASM(ins4);                                                              \
		break;
#define AV_COMI(M, ins)                                                                            \
	case ZYDIS_MNEMONIC_##M:                                                                   \
		asm volatile("vstmxcsr %[save]\n\t"                                                \
			     "vldmxcsr %[g]\n\t" ins " %x[b], %x[a]\n\t"                           \
			     "vstmxcsr %[out]\n\t"                                                 \
			     "vldmxcsr %[save]"                                                    \
			     : [zf] "=@ccz"(h->zf), [pf] "=@ccp"(h->pf), [cf] "=@ccc"(h->cf),      \
			       [out] "=m"(out), [save] "=m"(save)                                  \
			     : [a] "x"(h->a), [b] "x"(h->b), [g] "m"(g));                          \
		break;
/* Packed with an immediate: X128 and X256 give the two forms. */
#define AV_IMM(M, SET, X128, X256, mask)                                                           \
	case ZYDIS_MNEMONIC_##M:                                                                   \
		if (l256) {                                                                        \
			switch (imm & (mask)) {                                                    \
				SET(X256)                                                          \
			}                                                                          \
		} else {                                                                           \
			switch (imm & (mask)) {                                                    \
				SET(X128)                                                          \
			}                                                                          \
		}                                                                                  \
		break;
#define VCMPPS_X(n)                                                                                \
	case n:                                                                                    \
		AV_ASM("vcmpps $" #n ", %x[b], %x[a], %x[r]");                                     \
		break;
#define VCMPPS_Y(n)                                                                                \
	case n:                                                                                    \
		AV_ASM("vcmpps $" #n ", %t[b], %t[a], %t[r]");                                     \
		break;
#define VCMPPD_X(n)                                                                                \
	case n:                                                                                    \
		AV_ASM("vcmppd $" #n ", %x[b], %x[a], %x[r]");                                     \
		break;
#define VCMPPD_Y(n)                                                                                \
	case n:                                                                                    \
		AV_ASM("vcmppd $" #n ", %t[b], %t[a], %t[r]");                                     \
		break;
#define VCMPSS_X(n)                                                                                \
	case n:                                                                                    \
		AV_ASM("vcmpss $" #n ", %x[b], %x[a], %x[r]");                                     \
		break;
#define VCMPSD_X(n)                                                                                \
	case n:                                                                                    \
		AV_ASM("vcmpsd $" #n ", %x[b], %x[a], %x[r]");                                     \
		break;
#define VROUNDPS_X(n)                                                                              \
	case n:                                                                                    \
		AV_ASM("vroundps $" #n ", %x[b], %x[r]");                                          \
		break;
#define VROUNDPS_Y(n)                                                                              \
	case n:                                                                                    \
		AV_ASM("vroundps $" #n ", %t[b], %t[r]");                                          \
		break;
#define VROUNDPD_X(n)                                                                              \
	case n:                                                                                    \
		AV_ASM("vroundpd $" #n ", %x[b], %x[r]");                                          \
		break;
#define VROUNDPD_Y(n)                                                                              \
	case n:                                                                                    \
		AV_ASM("vroundpd $" #n ", %t[b], %t[r]");                                          \
		break;
#define VROUNDSS_X(n)                                                                              \
	case n:                                                                                    \
		AV_ASM("vroundss $" #n ", %x[b], %x[a], %x[r]");                                   \
		break;
#define VROUNDSD_X(n)                                                                              \
	case n:                                                                                    \
		AV_ASM("vroundsd $" #n ", %x[b], %x[a], %x[r]");                                   \
		break;
#define VDPPS_X(n)                                                                                 \
	case n:                                                                                    \
		AV_ASM("vdpps $" #n ", %x[b], %x[a], %x[r]");                                      \
		break;
#define VDPPS_Y(n)                                                                                 \
	case n:                                                                                    \
		AV_ASM("vdpps $" #n ", %t[b], %t[a], %t[r]");                                      \
		break;
#define VDPPD_X(n)                                                                                 \
	case n:                                                                                    \
		AV_ASM("vdppd $" #n ", %x[b], %x[a], %x[r]");                                      \
		break;
#define VCVTPS2PH_X(n)                                                                             \
	case n:                                                                                    \
		AV_ASM("vcvtps2ph $" #n ", %x[b], %x[r]");                                         \
		break;
#define VCVTPS2PH_Y(n)                                                                             \
	case n: AV_ASM("vcvtps2ph $" #n ", %t[b], %x[r]"); break;

/* Runs VEX mnemonic mn on the host (l256: its 256-bit form) and merges
 * the exception flags. Needs the host's AVX (and FMA, F16C for theirs). */
__attribute__((target("avx,fma,f16c"))) static bool
avx_host(struct emu_cpu *c, int mn, unsigned imm, bool l256, unsigned gsz, struct havx *h)
{
	uint32_t g = (c->mxcsr & ~0x3fu) | 0x1f80u, out = 0, save;
	switch (mn) {
		AV(VADDPS, "vaddps %x[b], %x[a], %x[r]", "vaddps %t[b], %t[a], %t[r]")
		AV(VADDPD, "vaddpd %x[b], %x[a], %x[r]", "vaddpd %t[b], %t[a], %t[r]")
		AV(VADDSS, "vaddss %x[b], %x[a], %x[r]", "vaddss %x[b], %x[a], %x[r]")
		AV(VADDSD, "vaddsd %x[b], %x[a], %x[r]", "vaddsd %x[b], %x[a], %x[r]")
		AV(VSUBPS, "vsubps %x[b], %x[a], %x[r]", "vsubps %t[b], %t[a], %t[r]")
		AV(VSUBPD, "vsubpd %x[b], %x[a], %x[r]", "vsubpd %t[b], %t[a], %t[r]")
		AV(VSUBSS, "vsubss %x[b], %x[a], %x[r]", "vsubss %x[b], %x[a], %x[r]")
		AV(VSUBSD, "vsubsd %x[b], %x[a], %x[r]", "vsubsd %x[b], %x[a], %x[r]")
		AV(VMULPS, "vmulps %x[b], %x[a], %x[r]", "vmulps %t[b], %t[a], %t[r]")
		AV(VMULPD, "vmulpd %x[b], %x[a], %x[r]", "vmulpd %t[b], %t[a], %t[r]")
		AV(VMULSS, "vmulss %x[b], %x[a], %x[r]", "vmulss %x[b], %x[a], %x[r]")
		AV(VMULSD, "vmulsd %x[b], %x[a], %x[r]", "vmulsd %x[b], %x[a], %x[r]")
		AV(VDIVPS, "vdivps %x[b], %x[a], %x[r]", "vdivps %t[b], %t[a], %t[r]")
		AV(VDIVPD, "vdivpd %x[b], %x[a], %x[r]", "vdivpd %t[b], %t[a], %t[r]")
		AV(VDIVSS, "vdivss %x[b], %x[a], %x[r]", "vdivss %x[b], %x[a], %x[r]")
		AV(VDIVSD, "vdivsd %x[b], %x[a], %x[r]", "vdivsd %x[b], %x[a], %x[r]")
		AV(VMINPS, "vminps %x[b], %x[a], %x[r]", "vminps %t[b], %t[a], %t[r]")
		AV(VMINPD, "vminpd %x[b], %x[a], %x[r]", "vminpd %t[b], %t[a], %t[r]")
		AV(VMINSS, "vminss %x[b], %x[a], %x[r]", "vminss %x[b], %x[a], %x[r]")
		AV(VMINSD, "vminsd %x[b], %x[a], %x[r]", "vminsd %x[b], %x[a], %x[r]")
		AV(VMAXPS, "vmaxps %x[b], %x[a], %x[r]", "vmaxps %t[b], %t[a], %t[r]")
		AV(VMAXPD, "vmaxpd %x[b], %x[a], %x[r]", "vmaxpd %t[b], %t[a], %t[r]")
		AV(VMAXSS, "vmaxss %x[b], %x[a], %x[r]", "vmaxss %x[b], %x[a], %x[r]")
		AV(VMAXSD, "vmaxsd %x[b], %x[a], %x[r]", "vmaxsd %x[b], %x[a], %x[r]")
		AV(VADDSUBPS, "vaddsubps %x[b], %x[a], %x[r]", "vaddsubps %t[b], %t[a], %t[r]")
		AV(VADDSUBPD, "vaddsubpd %x[b], %x[a], %x[r]", "vaddsubpd %t[b], %t[a], %t[r]")
		AV(VHADDPS, "vhaddps %x[b], %x[a], %x[r]", "vhaddps %t[b], %t[a], %t[r]")
		AV(VHADDPD, "vhaddpd %x[b], %x[a], %x[r]", "vhaddpd %t[b], %t[a], %t[r]")
		AV(VHSUBPS, "vhsubps %x[b], %x[a], %x[r]", "vhsubps %t[b], %t[a], %t[r]")
		AV(VHSUBPD, "vhsubpd %x[b], %x[a], %x[r]", "vhsubpd %t[b], %t[a], %t[r]")
		AV(VSQRTSS, "vsqrtss %x[b], %x[a], %x[r]", "vsqrtss %x[b], %x[a], %x[r]")
		AV(VSQRTSD, "vsqrtsd %x[b], %x[a], %x[r]", "vsqrtsd %x[b], %x[a], %x[r]")
		AV(VRCPSS, "vrcpss %x[b], %x[a], %x[r]", "vrcpss %x[b], %x[a], %x[r]")
		AV(VRSQRTSS, "vrsqrtss %x[b], %x[a], %x[r]", "vrsqrtss %x[b], %x[a], %x[r]")
		AV(VCVTSS2SD, "vcvtss2sd %x[b], %x[a], %x[r]", "vcvtss2sd %x[b], %x[a], %x[r]")
		AV(VCVTSD2SS, "vcvtsd2ss %x[b], %x[a], %x[r]", "vcvtsd2ss %x[b], %x[a], %x[r]")
		AV(VSQRTPS, "vsqrtps %x[b], %x[r]", "vsqrtps %t[b], %t[r]")
		AV(VSQRTPD, "vsqrtpd %x[b], %x[r]", "vsqrtpd %t[b], %t[r]")
		AV(VRCPPS, "vrcpps %x[b], %x[r]", "vrcpps %t[b], %t[r]")
		AV(VRSQRTPS, "vrsqrtps %x[b], %x[r]", "vrsqrtps %t[b], %t[r]")
		AV(VCVTDQ2PS, "vcvtdq2ps %x[b], %x[r]", "vcvtdq2ps %t[b], %t[r]")
		AV(VCVTPS2DQ, "vcvtps2dq %x[b], %x[r]", "vcvtps2dq %t[b], %t[r]")
		AV(VCVTTPS2DQ, "vcvttps2dq %x[b], %x[r]", "vcvttps2dq %t[b], %t[r]")
		AV(VCVTPS2PD, "vcvtps2pd %x[b], %x[r]", "vcvtps2pd %x[b], %t[r]")
		AV(VCVTDQ2PD, "vcvtdq2pd %x[b], %x[r]", "vcvtdq2pd %x[b], %t[r]")
		AV(VCVTPH2PS, "vcvtph2ps %x[b], %x[r]", "vcvtph2ps %x[b], %t[r]")
		AV(VCVTPD2PS, "vcvtpd2ps %x[b], %x[r]", "vcvtpd2ps %t[b], %x[r]")
		AV(VCVTPD2DQ, "vcvtpd2dq %x[b], %x[r]", "vcvtpd2dq %t[b], %x[r]")
		AV(VCVTTPD2DQ, "vcvttpd2dq %x[b], %x[r]", "vcvttpd2dq %t[b], %x[r]")
		AV(VFMADD132PS, "vfmadd132ps %x[b], %x[a], %x[r]",
		   "vfmadd132ps %t[b], %t[a], %t[r]")
		AV(VFMADD132PD, "vfmadd132pd %x[b], %x[a], %x[r]",
		   "vfmadd132pd %t[b], %t[a], %t[r]")
		AV(VFMADD132SS, "vfmadd132ss %x[b], %x[a], %x[r]",
		   "vfmadd132ss %x[b], %x[a], %x[r]")
		AV(VFMADD132SD, "vfmadd132sd %x[b], %x[a], %x[r]",
		   "vfmadd132sd %x[b], %x[a], %x[r]")
		AV(VFMADD213PS, "vfmadd213ps %x[b], %x[a], %x[r]",
		   "vfmadd213ps %t[b], %t[a], %t[r]")
		AV(VFMADD213PD, "vfmadd213pd %x[b], %x[a], %x[r]",
		   "vfmadd213pd %t[b], %t[a], %t[r]")
		AV(VFMADD213SS, "vfmadd213ss %x[b], %x[a], %x[r]",
		   "vfmadd213ss %x[b], %x[a], %x[r]")
		AV(VFMADD213SD, "vfmadd213sd %x[b], %x[a], %x[r]",
		   "vfmadd213sd %x[b], %x[a], %x[r]")
		AV(VFMADD231PS, "vfmadd231ps %x[b], %x[a], %x[r]",
		   "vfmadd231ps %t[b], %t[a], %t[r]")
		AV(VFMADD231PD, "vfmadd231pd %x[b], %x[a], %x[r]",
		   "vfmadd231pd %t[b], %t[a], %t[r]")
		AV(VFMADD231SS, "vfmadd231ss %x[b], %x[a], %x[r]",
		   "vfmadd231ss %x[b], %x[a], %x[r]")
		AV(VFMADD231SD, "vfmadd231sd %x[b], %x[a], %x[r]",
		   "vfmadd231sd %x[b], %x[a], %x[r]")
		AV(VFMSUB132PS, "vfmsub132ps %x[b], %x[a], %x[r]",
		   "vfmsub132ps %t[b], %t[a], %t[r]")
		AV(VFMSUB132PD, "vfmsub132pd %x[b], %x[a], %x[r]",
		   "vfmsub132pd %t[b], %t[a], %t[r]")
		AV(VFMSUB132SS, "vfmsub132ss %x[b], %x[a], %x[r]",
		   "vfmsub132ss %x[b], %x[a], %x[r]")
		AV(VFMSUB132SD, "vfmsub132sd %x[b], %x[a], %x[r]",
		   "vfmsub132sd %x[b], %x[a], %x[r]")
		AV(VFMSUB213PS, "vfmsub213ps %x[b], %x[a], %x[r]",
		   "vfmsub213ps %t[b], %t[a], %t[r]")
		AV(VFMSUB213PD, "vfmsub213pd %x[b], %x[a], %x[r]",
		   "vfmsub213pd %t[b], %t[a], %t[r]")
		AV(VFMSUB213SS, "vfmsub213ss %x[b], %x[a], %x[r]",
		   "vfmsub213ss %x[b], %x[a], %x[r]")
		AV(VFMSUB213SD, "vfmsub213sd %x[b], %x[a], %x[r]",
		   "vfmsub213sd %x[b], %x[a], %x[r]")
		AV(VFMSUB231PS, "vfmsub231ps %x[b], %x[a], %x[r]",
		   "vfmsub231ps %t[b], %t[a], %t[r]")
		AV(VFMSUB231PD, "vfmsub231pd %x[b], %x[a], %x[r]",
		   "vfmsub231pd %t[b], %t[a], %t[r]")
		AV(VFMSUB231SS, "vfmsub231ss %x[b], %x[a], %x[r]",
		   "vfmsub231ss %x[b], %x[a], %x[r]")
		AV(VFMSUB231SD, "vfmsub231sd %x[b], %x[a], %x[r]",
		   "vfmsub231sd %x[b], %x[a], %x[r]")
		AV(VFNMADD132PS, "vfnmadd132ps %x[b], %x[a], %x[r]",
		   "vfnmadd132ps %t[b], %t[a], %t[r]")
		AV(VFNMADD132PD, "vfnmadd132pd %x[b], %x[a], %x[r]",
		   "vfnmadd132pd %t[b], %t[a], %t[r]")
		AV(VFNMADD132SS, "vfnmadd132ss %x[b], %x[a], %x[r]",
		   "vfnmadd132ss %x[b], %x[a], %x[r]")
		AV(VFNMADD132SD, "vfnmadd132sd %x[b], %x[a], %x[r]",
		   "vfnmadd132sd %x[b], %x[a], %x[r]")
		AV(VFNMADD213PS, "vfnmadd213ps %x[b], %x[a], %x[r]",
		   "vfnmadd213ps %t[b], %t[a], %t[r]")
		AV(VFNMADD213PD, "vfnmadd213pd %x[b], %x[a], %x[r]",
		   "vfnmadd213pd %t[b], %t[a], %t[r]")
		AV(VFNMADD213SS, "vfnmadd213ss %x[b], %x[a], %x[r]",
		   "vfnmadd213ss %x[b], %x[a], %x[r]")
		AV(VFNMADD213SD, "vfnmadd213sd %x[b], %x[a], %x[r]",
		   "vfnmadd213sd %x[b], %x[a], %x[r]")
		AV(VFNMADD231PS, "vfnmadd231ps %x[b], %x[a], %x[r]",
		   "vfnmadd231ps %t[b], %t[a], %t[r]")
		AV(VFNMADD231PD, "vfnmadd231pd %x[b], %x[a], %x[r]",
		   "vfnmadd231pd %t[b], %t[a], %t[r]")
		AV(VFNMADD231SS, "vfnmadd231ss %x[b], %x[a], %x[r]",
		   "vfnmadd231ss %x[b], %x[a], %x[r]")
		AV(VFNMADD231SD, "vfnmadd231sd %x[b], %x[a], %x[r]",
		   "vfnmadd231sd %x[b], %x[a], %x[r]")
		AV(VFNMSUB132PS, "vfnmsub132ps %x[b], %x[a], %x[r]",
		   "vfnmsub132ps %t[b], %t[a], %t[r]")
		AV(VFNMSUB132PD, "vfnmsub132pd %x[b], %x[a], %x[r]",
		   "vfnmsub132pd %t[b], %t[a], %t[r]")
		AV(VFNMSUB132SS, "vfnmsub132ss %x[b], %x[a], %x[r]",
		   "vfnmsub132ss %x[b], %x[a], %x[r]")
		AV(VFNMSUB132SD, "vfnmsub132sd %x[b], %x[a], %x[r]",
		   "vfnmsub132sd %x[b], %x[a], %x[r]")
		AV(VFNMSUB213PS, "vfnmsub213ps %x[b], %x[a], %x[r]",
		   "vfnmsub213ps %t[b], %t[a], %t[r]")
		AV(VFNMSUB213PD, "vfnmsub213pd %x[b], %x[a], %x[r]",
		   "vfnmsub213pd %t[b], %t[a], %t[r]")
		AV(VFNMSUB213SS, "vfnmsub213ss %x[b], %x[a], %x[r]",
		   "vfnmsub213ss %x[b], %x[a], %x[r]")
		AV(VFNMSUB213SD, "vfnmsub213sd %x[b], %x[a], %x[r]",
		   "vfnmsub213sd %x[b], %x[a], %x[r]")
		AV(VFNMSUB231PS, "vfnmsub231ps %x[b], %x[a], %x[r]",
		   "vfnmsub231ps %t[b], %t[a], %t[r]")
		AV(VFNMSUB231PD, "vfnmsub231pd %x[b], %x[a], %x[r]",
		   "vfnmsub231pd %t[b], %t[a], %t[r]")
		AV(VFNMSUB231SS, "vfnmsub231ss %x[b], %x[a], %x[r]",
		   "vfnmsub231ss %x[b], %x[a], %x[r]")
		AV(VFNMSUB231SD, "vfnmsub231sd %x[b], %x[a], %x[r]",
		   "vfnmsub231sd %x[b], %x[a], %x[r]")
		AV(VFMADDSUB132PS, "vfmaddsub132ps %x[b], %x[a], %x[r]",
		   "vfmaddsub132ps %t[b], %t[a], %t[r]")
		AV(VFMADDSUB132PD, "vfmaddsub132pd %x[b], %x[a], %x[r]",
		   "vfmaddsub132pd %t[b], %t[a], %t[r]")
		AV(VFMADDSUB213PS, "vfmaddsub213ps %x[b], %x[a], %x[r]",
		   "vfmaddsub213ps %t[b], %t[a], %t[r]")
		AV(VFMADDSUB213PD, "vfmaddsub213pd %x[b], %x[a], %x[r]",
		   "vfmaddsub213pd %t[b], %t[a], %t[r]")
		AV(VFMADDSUB231PS, "vfmaddsub231ps %x[b], %x[a], %x[r]",
		   "vfmaddsub231ps %t[b], %t[a], %t[r]")
		AV(VFMADDSUB231PD, "vfmaddsub231pd %x[b], %x[a], %x[r]",
		   "vfmaddsub231pd %t[b], %t[a], %t[r]")
		AV(VFMSUBADD132PS, "vfmsubadd132ps %x[b], %x[a], %x[r]",
		   "vfmsubadd132ps %t[b], %t[a], %t[r]")
		AV(VFMSUBADD132PD, "vfmsubadd132pd %x[b], %x[a], %x[r]",
		   "vfmsubadd132pd %t[b], %t[a], %t[r]")
		AV(VFMSUBADD213PS, "vfmsubadd213ps %x[b], %x[a], %x[r]",
		   "vfmsubadd213ps %t[b], %t[a], %t[r]")
		AV(VFMSUBADD213PD, "vfmsubadd213pd %x[b], %x[a], %x[r]",
		   "vfmsubadd213pd %t[b], %t[a], %t[r]")
		AV(VFMSUBADD231PS, "vfmsubadd231ps %x[b], %x[a], %x[r]",
		   "vfmsubadd231ps %t[b], %t[a], %t[r]")
		AV(VFMSUBADD231PD, "vfmsubadd231pd %x[b], %x[a], %x[r]",
		   "vfmsubadd231pd %t[b], %t[a], %t[r]")
		AV_IMM(VCMPPS, IMM32, VCMPPS_X, VCMPPS_Y, 31)
		AV_IMM(VCMPPD, IMM32, VCMPPD_X, VCMPPD_Y, 31)
		AV_IMM(VCMPSS, IMM32, VCMPSS_X, VCMPSS_X, 31)
		AV_IMM(VCMPSD, IMM32, VCMPSD_X, VCMPSD_X, 31)
		AV_IMM(VROUNDPS, IMM32, VROUNDPS_X, VROUNDPS_Y, 15)
		AV_IMM(VROUNDPD, IMM32, VROUNDPD_X, VROUNDPD_Y, 15)
		AV_IMM(VROUNDSS, IMM32, VROUNDSS_X, VROUNDSS_X, 15)
		AV_IMM(VROUNDSD, IMM32, VROUNDSD_X, VROUNDSD_X, 15)
		AV_IMM(VDPPS, IMM256, VDPPS_X, VDPPS_Y, 255)
		AV_IMM(VDPPD, IMM256, VDPPD_X, VDPPD_X, 255)
		AV_IMM(VCVTPS2PH, IMM8, VCVTPS2PH_X, VCVTPS2PH_Y, 7)
		AV_COMI(VCOMISS, "vcomiss")
		AV_COMI(VUCOMISS, "vucomiss")
		AV_COMI(VCOMISD, "vcomisd")
		AV_COMI(VUCOMISD, "vucomisd")
		AV_GPR(VCVTSI2SS, "vcvtsi2ssl %k[q], %x[a], %x[r]",
		       "vcvtsi2ssq %q[q], %x[a], %x[r]")
		AV_GPR(VCVTSI2SD, "vcvtsi2sdl %k[q], %x[a], %x[r]",
		       "vcvtsi2sdq %q[q], %x[a], %x[r]")
		AV_GPR(VCVTSS2SI, "vcvtss2si %x[b], %k[q]", "vcvtss2si %x[b], %q[q]")
		AV_GPR(VCVTTSS2SI, "vcvttss2si %x[b], %k[q]", "vcvttss2si %x[b], %q[q]")
		AV_GPR(VCVTSD2SI, "vcvtsd2si %x[b], %k[q]", "vcvtsd2si %x[b], %q[q]")
		AV_GPR(VCVTTSD2SI, "vcvttsd2si %x[b], %k[q]", "vcvttsd2si %x[b], %q[q]")
	default: return false;
	}
	merge_mxcsr(c, out);
	return true;
}

/* The VEX floating-point instructions (arg: SF(kind, 0)): SF_VEC dst =
 * op(src1, src2), or op(src) with one source; SF_FMA dst = fma(dst, src1,
 * src2); SF_COMI, SF_TO_GPR, SF_FROM_GPR as the legacy ones. No memory
 * operand needs alignment. */
void h_avx_fp(struct emu_cpu *c, const struct dinsn *d)
{
	int k = insn_arg(d) & 0xf;
	avx_check(c);
	union ymmreg r, a, b;
	struct havx h;
	memset(&h, 0, sizeof(h));
	memset(&r, 0, sizeof(r));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	unsigned gsz = 4;
	bool one_src = d->op[2].kind == DOP_NONE || d->op[2].kind == DOP_IMM;
	switch (k) {
	case SF_FMA:
		vec_rd(c, d, 0, &r, false);
		vec_rd(c, d, 1, &a, false);
		vec_rd(c, d, 2, &b, false);
		break;
	case SF_COMI:
		vec_rd(c, d, 0, &a, false);
		vec_rd(c, d, 1, &b, false);
		break;
	case SF_TO_GPR:
		vec_rd(c, d, 1, &b, false);
		gsz = d->op[0].size;
		break;
	case SF_FROM_GPR:
		vec_rd(c, d, 1, &a, false);
		vec_rd(c, d, 2, &b, false);
		gsz = d->op[2].size;
		h.q = b.q[0];
		break;
	default:
		if (one_src) {
			vec_rd(c, d, 1, &b, false);
		} else {
			vec_rd(c, d, 1, &a, false);
			vec_rd(c, d, 2, &b, false);
		}
		break;
	}
	memcpy(&h.r, &r, 32);
	memcpy(&h.a, &a, 32);
	memcpy(&h.b, &b, 32);
	if (!avx_host(c, d->mnem, (unsigned)(d->imm & 0xff), d->xflags & DX_L256, gsz, &h))
		h_unimpl(c, d); /* a row without its host instruction: #UD, reported */
	switch (k) {
	case SF_COMI: {
		uint64_t f = (h.zf ? F_ZF : 0) | (h.pf ? F_PF : 0) | (h.cf ? F_CF : 0);
		c->lf_op = LF_NONE;
		c->flags = (c->flags & ~(uint64_t)F_ARITH) | f;
		break;
	}
	case SF_TO_GPR: set_reg(c, d->op[0].reg, d->op[0].size, h.q); break;
	default:
		memcpy(&r, &h.r, 32);
		vec_wr(c, d, 0, &r, false);
		break;
	}
}

/* (V)LDMXCSR, (V)STMXCSR */
static void mxcsr_check(struct emu_cpu *c, const struct dinsn *d)
{
	if (vec_vex(d))
		avx_check(c);
	else if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR))
		emu_raise(c, EXC_UD, 0, false);
	else if (c->cr0 & CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
}

void h_ldmxcsr(struct emu_cpu *c, const struct dinsn *d)
{
	mxcsr_check(c, d);
	uint32_t v = (uint32_t)mread(c, mem_lin_n(c, d, 4), 4);
	if (v & ~MXCSR_MASK)
		emu_raise_gp(c, 0);
	c->mxcsr = v;
}

void h_stmxcsr(struct emu_cpu *c, const struct dinsn *d)
{
	mxcsr_check(c, d);
	mwrite(c, mem_lin_w(c, d, 4), 4, c->mxcsr);
}
