/* SPDX-License-Identifier: MIT */
/*
 * The x87 FPU, FXSAVE/FXRSTOR, FNSTENV/FLDENV, and MXCSR.
 *
 * Every x87 operation that can round or raise an exception runs as the
 * same instruction on the host's x87 unit, on the guest's 80-bit register
 * images, under the guest's FCW (precision and rounding control) with all
 * exceptions masked: results, condition codes and exception flags are the
 * hardware's (NaN rules, unsupported formats, FPREM's partial remainder,
 * FSCALE's special cases, FXAM's classes). The host's FPU environment is
 * saved and restored around each one (FNSTENV/FLDENV in the same asm).
 *
 * Not modelled: unmasked exceptions (the flags, ES and B are set but no
 * #MF is delivered and the masked result is written), stack overflow and
 * underflow (SF), transcendental instructions (fsin, fpatan, fyl2x,
 * f2xm1, ...: #UD, reported), FNSAVE.
 */
#include <string.h>

#include "cpu/emu/fault.h"
#include "cpu/emu/flags.h"
#include "cpu/emu/insn.h"
#include "cpu/emu/operand.h"

#define MXCSR_MASK 0xffffu /* incl. DAZ, as every x86-64 CPU */

static void fpu_check(struct emu_cpu *c)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		emu_raise(c, EXC_NM, 0, false);
}

static int top(struct emu_cpu *c)
{
	return (c->fsw >> 11) & 7;
}

static void set_top(struct emu_cpu *c, int t)
{
	c->fsw = (uint16_t)((c->fsw & ~0x3800) | ((t & 7) << 11));
}

/* An 80-bit register image, as FLD/FSTP m80 read and write it. */
struct f80 {
	uint8_t b[10];
};

static void st_get(struct emu_cpu *c, int i, struct f80 *v)
{
	memcpy(v->b, c->fpr[(top(c) + i) & 7], 10);
}

static void st_set(struct emu_cpu *c, int i, const struct f80 *v)
{
	int p = (top(c) + i) & 7;
	memset(c->fpr[p], 0, 16);
	memcpy(c->fpr[p], v->b, 10);
	c->ftw |= (uint8_t)(1u << p);
}

static void fpush(struct emu_cpu *c, const struct f80 *v)
{
	set_top(c, top(c) - 1);
	st_set(c, 0, v);
}

static void fpop(struct emu_cpu *c)
{
	c->ftw &= (uint8_t) ~(1u << top(c));
	set_top(c, top(c) + 1);
}

static struct f80 f80_of(long double v)
{
	struct f80 r;
	memcpy(r.b, &v, 10);
	return r;
}

#define FSW_C0 0x0100
#define FSW_C1 0x0200
#define FSW_C2 0x0400
#define FSW_C3 0x4000
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)

static void set_cc(struct emu_cpu *c, int c3, int c2, int c1, int c0)
{
	c->fsw = (uint16_t)((c->fsw & ~FSW_CC) | (c0 << 8) | (c1 << 9) | (c2 << 10) | (c3 << 14));
}

/* Merges a host status word: its exception flags, and the condition codes
 * in cc (the host started from the guest's, so codes an operation leaves
 * alone come back unchanged). An unmasked exception also sets the summary
 * bits ES and B (no #MF is delivered: not modelled). */
static void fsw_merge(struct emu_cpu *c, uint16_t sw, uint16_t cc)
{
	uint16_t ex = sw & 0x3f;
	c->fsw = (uint16_t)((c->fsw & ~cc) | (sw & cc) | ex);
	if (ex & ~c->fcw)
		c->fsw |= 0x8080;
}

/* ---- The host's x87 ---------------------------------------------------------------- */

/* Operand forms of the arithmetic instructions. */
enum { FM_ST, FM_F32, FM_F64, FM_I16, FM_I32, FM_N };
/* Arithmetic operations, in the order of HX_AR below. */
enum { AO_ADD, AO_SUB, AO_SUBR, AO_MUL, AO_DIV, AO_DIVR };

enum hx {
	HX_ARITH = 0,		       /* + AO_* * FM_N + FM_*: a = a op b (FM_ST) or a op m */
	HX_FCOM = HX_ARITH + 6 * FM_N, /* + FM_ST/F32/F64: compare a with b or m */
	HX_FUCOM = HX_FCOM + 3,
	HX_FTST,
	HX_FXAM,
	HX_FSQRT,
	HX_FRNDINT,
	HX_FSCALE, /* a = scale(a, b) */
	HX_FPREM,  /* a = rem(a, b) */
	HX_FPREM1,
	HX_FLD_F32, /* a = m */
	HX_FLD_F64,
	HX_FLDPI, /* a = constant */
	HX_FLDL2E,
	HX_FLDL2T,
	HX_FLDLG2,
	HX_FLDLN2,
	HX_FST_F32, /* m = a */
	HX_FST_F64,
	HX_FIST_I16,
	HX_FIST_I32,
	HX_FIST_I64,
	HX_FISTT_I16,
	HX_FISTT_I32,
	HX_FISTT_I64,
};

/* In and out of one host operation: a is the host's ST(0), b its ST(1). */
struct hx87 {
	struct f80 a, b;
	uint64_t m;  /* memory operand (read or written) */
	uint16_t sw; /* status word after the operation */
};

/*
 * The template: save the host's environment, load one with the guest's
 * FCW (all exceptions masked) and condition codes, no flags, an empty
 * stack; push b then a, run the instruction (which leaves two registers),
 * read the status word, pop both, restore the host's environment. All in
 * one asm statement, so nothing can be moved into or out of the guest's
 * rounding mode; every x87 register is clobbered, so the stack is empty on
 * entry.
 */
#define HX(ins)                                                                                    \
	asm volatile("fnstenv %[env]\n\t"                                                          \
		     "fldenv %[genv]\n\t"                                                          \
		     "fldt %[b]\n\t"                                                               \
		     "fldt %[a]\n\t" ins "\n\t"                                                    \
		     "fnstsw %[sw]\n\t"                                                            \
		     "fstpt %[a]\n\t"                                                              \
		     "fstpt %[b]\n\t"                                                              \
		     "fldenv %[env]"                                                               \
		     : [a] "+m"(h->a), [b] "+m"(h->b), [m] "+m"(h->m), [sw] "=m"(h->sw),           \
		       [env] "=m"(env)                                                             \
		     : [genv] "m"(genv)                                                            \
		     : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)")
#define HX_CASE(op, ins)                                                                           \
	case op: HX(ins); break;
/* Register forms with the destination in ST(0): no AT&T operand-order
 * surprises. */
#define HX_AR(ao, ins, iins)                                                                       \
	HX_CASE(HX_ARITH + (ao)*FM_N + FM_ST, ins " %%st(1), %%st")                                \
	HX_CASE(HX_ARITH + (ao)*FM_N + FM_F32, ins "s %[m]")                                       \
	HX_CASE(HX_ARITH + (ao)*FM_N + FM_F64, ins "l %[m]")                                       \
	HX_CASE(HX_ARITH + (ao)*FM_N + FM_I16, iins "s %[m]")                                      \
	HX_CASE(HX_ARITH + (ao)*FM_N + FM_I32, iins "l %[m]")

static uint16_t hx87(struct emu_cpu *c, int op, struct hx87 *h)
{
	/* FNSTENV/FLDENV's 28-byte protected-mode layout */
	struct x87env {
		uint32_t cw, sw, tw, ip, op, dp, ds;
	} env, genv = {.cw = c->fcw | 0x3fu, .sw = c->fsw & FSW_CC, .tw = 0xffff};
	switch (op) {
		HX_AR(AO_ADD, "fadd", "fiadd")
		HX_AR(AO_SUB, "fsub", "fisub")
		HX_AR(AO_SUBR, "fsubr", "fisubr")
		HX_AR(AO_MUL, "fmul", "fimul")
		HX_AR(AO_DIV, "fdiv", "fidiv")
		HX_AR(AO_DIVR, "fdivr", "fidivr")
		HX_CASE(HX_FCOM + FM_ST, "fcom %%st(1)")
		HX_CASE(HX_FCOM + FM_F32, "fcoms %[m]")
		HX_CASE(HX_FCOM + FM_F64, "fcoml %[m]")
		HX_CASE(HX_FUCOM, "fucom %%st(1)")
		HX_CASE(HX_FTST, "ftst")
		HX_CASE(HX_FXAM, "fxam")
		HX_CASE(HX_FSQRT, "fsqrt")
		HX_CASE(HX_FRNDINT, "frndint")
		HX_CASE(HX_FSCALE, "fscale")
		HX_CASE(HX_FPREM, "fprem")
		HX_CASE(HX_FPREM1, "fprem1")
		/* loads push: move the new value over the old ST(0) */
		HX_CASE(HX_FLD_F32, "flds %[m]\n\tfstp %%st(1)")
		HX_CASE(HX_FLD_F64, "fldl %[m]\n\tfstp %%st(1)")
		HX_CASE(HX_FLDPI, "fldpi\n\tfstp %%st(1)")
		HX_CASE(HX_FLDL2E, "fldl2e\n\tfstp %%st(1)")
		HX_CASE(HX_FLDL2T, "fldl2t\n\tfstp %%st(1)")
		HX_CASE(HX_FLDLG2, "fldlg2\n\tfstp %%st(1)")
		HX_CASE(HX_FLDLN2, "fldln2\n\tfstp %%st(1)")
		HX_CASE(HX_FST_F32, "fsts %[m]")
		HX_CASE(HX_FST_F64, "fstl %[m]")
		HX_CASE(HX_FIST_I16, "fists %[m]")
		HX_CASE(HX_FIST_I32, "fistl %[m]")
		/* popping stores work on a copy */
		HX_CASE(HX_FIST_I64, "fld %%st(0)\n\tfistpll %[m]")
		HX_CASE(HX_FISTT_I16, "fld %%st(0)\n\tfisttps %[m]")
		HX_CASE(HX_FISTT_I32, "fld %%st(0)\n\tfisttpl %[m]")
		HX_CASE(HX_FISTT_I64, "fld %%st(0)\n\tfisttpll %[m]")
	default: break;
	}
	return h->sw;
}

#undef HX
#undef HX_CASE
#undef HX_AR

/* ---- Memory operands ------------------------------------------------------------- */

static void mem_read80(struct emu_cpu *c, uint64_t lin, struct f80 *v)
{
	uint64_t lo = mread(c, lin, 8);
	uint16_t hi = (uint16_t)mread(c, lin + 8, 2);
	memcpy(v->b, &lo, 8);
	memcpy(v->b + 8, &hi, 2);
}

static void mem_write80(struct emu_cpu *c, uint64_t lin, const struct f80 *v)
{
	uint64_t lo;
	uint16_t hi;
	memcpy(&lo, v->b, 8);
	memcpy(&hi, v->b + 8, 2);
	mmu_lookup(c, lin + 9, 1, c->cpl == 3);
	mwrite(c, lin, 8, lo);
	mwrite(c, lin + 8, 2, hi);
}

/* Index of the visible operand of a kind, or -1. */
static int find_op(const struct dinsn *d, int kind, int skip_st0)
{
	for (int i = 0; i < d->nops; i++)
		if (d->op[i].kind == kind && !(skip_st0 && kind == DOP_ST && d->op[i].reg == 0))
			return i;
	return -1;
}

/* Tag of a register image for the full tag word: valid, zero, special. */
static unsigned tag_of(const uint8_t *r)
{
	uint64_t mant;
	uint16_t se;
	memcpy(&mant, r, 8);
	memcpy(&se, r + 8, 2);
	unsigned e = se & 0x7fff;
	if (e == 0)
		return mant ? 2 : 1;
	if (e == 0x7fff || !(mant >> 63))
		return 2; /* NaN, infinity, unnormal */
	return 0;
}

static uint16_t full_tag(struct emu_cpu *c)
{
	uint16_t t = 0;
	for (int p = 0; p < 8; p++) {
		unsigned tag = (c->ftw & (1u << p)) ? tag_of(c->fpr[p]) : 3;
		t |= (uint16_t)(tag << (2 * p));
	}
	return t;
}

static void fxsave(struct emu_cpu *c, uint64_t lin, bool rex_w)
{
	if (lin & 15)
		emu_raise_gp(c, 0);
	mmu_lookup(c, lin, 1, c->cpl == 3);
	mmu_lookup(c, lin + 511, 1, c->cpl == 3);
	mwrite(c, lin + 0, 2, c->fcw);
	mwrite(c, lin + 2, 2, c->fsw);
	mwrite(c, lin + 4, 1, c->ftw);
	mwrite(c, lin + 5, 1, 0);
	mwrite(c, lin + 6, 2, c->fop);
	mwrite(c, lin + 8, 8, rex_w ? c->fip : (uint32_t)c->fip);
	mwrite(c, lin + 16, 8, rex_w ? c->fdp : (uint32_t)c->fdp);
	mwrite(c, lin + 24, 4, c->mxcsr);
	mwrite(c, lin + 28, 4, MXCSR_MASK);
	for (int i = 0; i < 8; i++) {
		/* FXSAVE stores ST(i) order, not physical order */
		const uint8_t *r = c->fpr[(top(c) + i) & 7];
		uint64_t lo;
		uint16_t hi;
		memcpy(&lo, r, 8);
		memcpy(&hi, r + 8, 2);
		mwrite(c, lin + 32 + i * 16, 8, lo);
		mwrite(c, lin + 40 + i * 16, 8, hi);
	}
	int nx = c->cmode == 8 ? 16 : 8;
	for (int i = 0; i < nx; i++) {
		mwrite(c, lin + 160 + i * 16, 8, c->xmm[i].q[0]);
		mwrite(c, lin + 168 + i * 16, 8, c->xmm[i].q[1]);
	}
}

static void fxrstor(struct emu_cpu *c, uint64_t lin, bool rex_w)
{
	if (lin & 15)
		emu_raise_gp(c, 0);
	uint32_t mx = (uint32_t)mread(c, lin + 24, 4);
	if (mx & ~MXCSR_MASK)
		emu_raise_gp(c, 0);
	/* Read everything before changing any state. */
	uint8_t buf[512];
	for (int i = 0; i < 512; i += 8) {
		uint64_t v = mread(c, lin + (uint64_t)i, 8);
		memcpy(buf + i, &v, 8);
	}
	memcpy(&c->fcw, buf, 2);
	memcpy(&c->fsw, buf + 2, 2);
	c->ftw = buf[4];
	memcpy(&c->fop, buf + 6, 2);
	memcpy(&c->fip, buf + 8, 8);
	memcpy(&c->fdp, buf + 16, 8);
	if (!rex_w) {
		c->fip = (uint32_t)c->fip;
		c->fdp = (uint32_t)c->fdp;
	}
	c->mxcsr = mx;
	for (int i = 0; i < 8; i++) {
		uint8_t *r = c->fpr[(top(c) + i) & 7];
		memset(r, 0, 16);
		memcpy(r, buf + 32 + i * 16, 10);
	}
	int nx = c->cmode == 8 ? 16 : 8;
	for (int i = 0; i < nx; i++)
		memcpy(&c->xmm[i], buf + 160 + i * 16, 16);
}

/* The arithmetic operation (AO_*) of an arithmetic mnemonic. */
static int arith_op(int mn)
{
	switch (mn) {
	case ZYDIS_MNEMONIC_FADD:
	case ZYDIS_MNEMONIC_FADDP:
	case ZYDIS_MNEMONIC_FIADD: return AO_ADD;
	case ZYDIS_MNEMONIC_FSUB:
	case ZYDIS_MNEMONIC_FSUBP:
	case ZYDIS_MNEMONIC_FISUB: return AO_SUB;
	case ZYDIS_MNEMONIC_FSUBR:
	case ZYDIS_MNEMONIC_FSUBRP:
	case ZYDIS_MNEMONIC_FISUBR: return AO_SUBR;
	case ZYDIS_MNEMONIC_FMUL:
	case ZYDIS_MNEMONIC_FMULP:
	case ZYDIS_MNEMONIC_FIMUL: return AO_MUL;
	case ZYDIS_MNEMONIC_FDIV:
	case ZYDIS_MNEMONIC_FDIVP:
	case ZYDIS_MNEMONIC_FIDIV: return AO_DIV;
	default: /* FDIVR, FDIVRP, FIDIVR */ return AO_DIVR;
	}
}

bool emu_exec_x87(struct emu_cpu *c, const struct dinsn *d)
{
	int mn = d->mnem;
	int mi = find_op(d, DOP_MEM, 0);
	switch (mn) {
	case ZYDIS_MNEMONIC_LDMXCSR: {
		if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR))
			emu_raise(c, EXC_UD, 0, false);
		uint32_t v = (uint32_t)mread(c, mem_lin(c, d), 4);
		if (v & ~MXCSR_MASK)
			emu_raise_gp(c, 0);
		c->mxcsr = v;
		return true;
	}
	case ZYDIS_MNEMONIC_STMXCSR:
		if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR))
			emu_raise(c, EXC_UD, 0, false);
		mwrite(c, mem_lin(c, d), 4, c->mxcsr);
		return true;
	case ZYDIS_MNEMONIC_FXSAVE:
	case ZYDIS_MNEMONIC_FXSAVE64:
		if (c->cr0 & (CR0_EM | CR0_TS))
			emu_raise(c, (c->cr0 & CR0_EM) ? EXC_UD : EXC_NM, 0, false);
		fxsave(c, mem_lin(c, d), mn == ZYDIS_MNEMONIC_FXSAVE64);
		return true;
	case ZYDIS_MNEMONIC_FXRSTOR:
	case ZYDIS_MNEMONIC_FXRSTOR64:
		if (c->cr0 & (CR0_EM | CR0_TS))
			emu_raise(c, (c->cr0 & CR0_EM) ? EXC_UD : EXC_NM, 0, false);
		fxrstor(c, mem_lin(c, d), mn == ZYDIS_MNEMONIC_FXRSTOR64);
		return true;
	case ZYDIS_MNEMONIC_FWAIT:
		if ((c->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
			emu_raise(c, EXC_NM, 0, false);
		return true;
	default: break;
	}

	/* Everything below is an x87 instruction proper. */
	switch (mn) {
	case ZYDIS_MNEMONIC_FNINIT:
	case ZYDIS_MNEMONIC_FNCLEX:
	case ZYDIS_MNEMONIC_FNSTCW:
	case ZYDIS_MNEMONIC_FLDCW:
	case ZYDIS_MNEMONIC_FNSTSW:
	case ZYDIS_MNEMONIC_FNSTENV:
	case ZYDIS_MNEMONIC_FLDENV:
	case ZYDIS_MNEMONIC_FLD:
	case ZYDIS_MNEMONIC_FST:
	case ZYDIS_MNEMONIC_FSTP:
	case ZYDIS_MNEMONIC_FILD:
	case ZYDIS_MNEMONIC_FIST:
	case ZYDIS_MNEMONIC_FISTP:
	case ZYDIS_MNEMONIC_FISTTP:
	case ZYDIS_MNEMONIC_FLDZ:
	case ZYDIS_MNEMONIC_FLD1:
	case ZYDIS_MNEMONIC_FLDPI:
	case ZYDIS_MNEMONIC_FLDL2E:
	case ZYDIS_MNEMONIC_FLDL2T:
	case ZYDIS_MNEMONIC_FLDLG2:
	case ZYDIS_MNEMONIC_FLDLN2:
	case ZYDIS_MNEMONIC_FADD:
	case ZYDIS_MNEMONIC_FADDP:
	case ZYDIS_MNEMONIC_FIADD:
	case ZYDIS_MNEMONIC_FSUB:
	case ZYDIS_MNEMONIC_FSUBP:
	case ZYDIS_MNEMONIC_FISUB:
	case ZYDIS_MNEMONIC_FSUBR:
	case ZYDIS_MNEMONIC_FSUBRP:
	case ZYDIS_MNEMONIC_FISUBR:
	case ZYDIS_MNEMONIC_FMUL:
	case ZYDIS_MNEMONIC_FMULP:
	case ZYDIS_MNEMONIC_FIMUL:
	case ZYDIS_MNEMONIC_FDIV:
	case ZYDIS_MNEMONIC_FDIVP:
	case ZYDIS_MNEMONIC_FIDIV:
	case ZYDIS_MNEMONIC_FDIVR:
	case ZYDIS_MNEMONIC_FDIVRP:
	case ZYDIS_MNEMONIC_FIDIVR:
	case ZYDIS_MNEMONIC_FCHS:
	case ZYDIS_MNEMONIC_FABS:
	case ZYDIS_MNEMONIC_FSQRT:
	case ZYDIS_MNEMONIC_FRNDINT:
	case ZYDIS_MNEMONIC_FSCALE:
	case ZYDIS_MNEMONIC_FPREM:
	case ZYDIS_MNEMONIC_FPREM1:
	case ZYDIS_MNEMONIC_FXCH:
	case ZYDIS_MNEMONIC_FCOM:
	case ZYDIS_MNEMONIC_FCOMP:
	case ZYDIS_MNEMONIC_FCOMPP:
	case ZYDIS_MNEMONIC_FUCOM:
	case ZYDIS_MNEMONIC_FUCOMP:
	case ZYDIS_MNEMONIC_FUCOMPP:
	case ZYDIS_MNEMONIC_FCOMI:
	case ZYDIS_MNEMONIC_FCOMIP:
	case ZYDIS_MNEMONIC_FUCOMI:
	case ZYDIS_MNEMONIC_FUCOMIP:
	case ZYDIS_MNEMONIC_FTST:
	case ZYDIS_MNEMONIC_FXAM:
	case ZYDIS_MNEMONIC_FFREE:
	case ZYDIS_MNEMONIC_FINCSTP:
	case ZYDIS_MNEMONIC_FDECSTP:
	case ZYDIS_MNEMONIC_FNOP:
	case ZYDIS_MNEMONIC_FCMOVB:
	case ZYDIS_MNEMONIC_FCMOVE:
	case ZYDIS_MNEMONIC_FCMOVBE:
	case ZYDIS_MNEMONIC_FCMOVU:
	case ZYDIS_MNEMONIC_FCMOVNB:
	case ZYDIS_MNEMONIC_FCMOVNE:
	case ZYDIS_MNEMONIC_FCMOVNBE:
	case ZYDIS_MNEMONIC_FCMOVNU: fpu_check(c); break;
	default: return false;
	}

	/* The non-st0 register operand, if any (st(i) forms). */
	int si = find_op(d, DOP_ST, 1);
	int sreg = si >= 0 ? d->op[si].reg : find_op(d, DOP_ST, 0) >= 0 ? 0 : 1;
	unsigned msize = mi >= 0 ? d->op[mi].size : 0;
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	struct f80 v;
	switch (mn) {
	case ZYDIS_MNEMONIC_FNINIT:
		c->fcw = 0x37f;
		c->fsw = 0;
		c->ftw = 0;
		c->fop = 0;
		c->fip = c->fdp = 0;
		return true;
	case ZYDIS_MNEMONIC_FNCLEX: c->fsw &= 0x7f00; return true;
	case ZYDIS_MNEMONIC_FNSTCW: mwrite(c, mem_lin(c, d), 2, c->fcw); return true;
	case ZYDIS_MNEMONIC_FLDCW:
		c->fcw = (uint16_t)(mread(c, mem_lin(c, d), 2) | 0x40);
		return true;
	case ZYDIS_MNEMONIC_FNSTSW:
		if (mi >= 0)
			mwrite(c, mem_lin(c, d), 2, c->fsw);
		else
			c->r[R_AX] = (c->r[R_AX] & ~0xffffULL) | c->fsw;
		return true;
	case ZYDIS_MNEMONIC_FNSTENV: {
		/* 32-bit protected-mode layout (28 bytes) */
		uint64_t lin = mem_lin(c, d);
		mmu_lookup(c, lin + 27, 1, c->cpl == 3);
		mwrite(c, lin, 4, 0xffff0000u | c->fcw);
		mwrite(c, lin + 4, 4, 0xffff0000u | c->fsw);
		mwrite(c, lin + 8, 4, 0xffff0000u | full_tag(c));
		mwrite(c, lin + 12, 4, (uint32_t)c->fip);
		mwrite(c, lin + 16, 4, (uint32_t)c->fop << 16);
		mwrite(c, lin + 20, 4, (uint32_t)c->fdp);
		mwrite(c, lin + 24, 4, 0);
		c->fcw |= 0x3f; /* fnstenv masks all exceptions */
		return true;
	}
	case ZYDIS_MNEMONIC_FLDENV: {
		uint64_t lin = mem_lin(c, d);
		uint16_t cw = (uint16_t)mread(c, lin, 2);
		uint16_t sw = (uint16_t)mread(c, lin + 4, 2);
		uint16_t tw = (uint16_t)mread(c, lin + 8, 2);
		c->fcw = cw | 0x40;
		c->fsw = sw;
		c->ftw = 0;
		for (int p = 0; p < 8; p++)
			if (((tw >> (2 * p)) & 3) != 3)
				c->ftw |= (uint8_t)(1u << p);
		return true;
	}
	case ZYDIS_MNEMONIC_FLD:
		if (mi >= 0 && msize == 10) {
			mem_read80(c, mem_lin(c, d), &v);
		} else if (mi >= 0) {
			/* m32/m64: converting raises IE (SNaN) and DE */
			h.m = mread(c, mem_lin(c, d), msize);
			fsw_merge(c, hx87(c, msize == 4 ? HX_FLD_F32 : HX_FLD_F64, &h), FSW_CC);
			v = h.a;
		} else {
			st_get(c, d->op[si >= 0 ? si : 0].reg, &v);
		}
		fpush(c, &v);
		c->fsw &= ~FSW_C1;
		return true;
	case ZYDIS_MNEMONIC_FILD: {
		/* exact: every 16/32/64-bit integer fits the 64-bit significand */
		uint64_t iv = mread(c, mem_lin(c, d), msize);
		long double x = msize == 2   ? (long double)(int16_t)iv
				: msize == 4 ? (long double)(int32_t)iv
					     : (long double)(int64_t)iv;
		v = f80_of(x);
		fpush(c, &v);
		c->fsw &= ~FSW_C1;
		return true;
	}
	case ZYDIS_MNEMONIC_FST:
	case ZYDIS_MNEMONIC_FSTP:
		st_get(c, 0, &v);
		if (mi >= 0 && msize == 10) {
			mem_write80(c, mem_lin(c, d), &v);
			c->fsw &= ~FSW_C1;
		} else if (mi >= 0) {
			/* m32/m64: rounds under FCW.RC; IE OE UE PE */
			h.a = v;
			hx87(c, msize == 4 ? HX_FST_F32 : HX_FST_F64, &h);
			mwrite(c, mem_lin(c, d), msize, h.m);
			fsw_merge(c, h.sw, FSW_CC);
		} else {
			st_set(c, sreg, &v);
			c->fsw &= ~FSW_C1;
		}
		if (mn == ZYDIS_MNEMONIC_FSTP)
			fpop(c);
		return true;
	case ZYDIS_MNEMONIC_FIST:
	case ZYDIS_MNEMONIC_FISTP:
	case ZYDIS_MNEMONIC_FISTTP: {
		bool tr = mn == ZYDIS_MNEMONIC_FISTTP;
		st_get(c, 0, &h.a);
		hx87(c,
		     msize == 2	  ? (tr ? HX_FISTT_I16 : HX_FIST_I16)
		     : msize == 4 ? (tr ? HX_FISTT_I32 : HX_FIST_I32)
				  : (tr ? HX_FISTT_I64 : HX_FIST_I64),
		     &h);
		mwrite(c, mem_lin(c, d), msize, h.m);
		fsw_merge(c, h.sw, FSW_CC);
		if (mn != ZYDIS_MNEMONIC_FIST)
			fpop(c);
		return true;
	}
	case ZYDIS_MNEMONIC_FLDZ:
	case ZYDIS_MNEMONIC_FLD1:
		v = f80_of(mn == ZYDIS_MNEMONIC_FLD1 ? 1.0L : 0.0L);
		fpush(c, &v);
		c->fsw &= ~FSW_C1;
		return true;
	case ZYDIS_MNEMONIC_FLDPI:
	case ZYDIS_MNEMONIC_FLDL2E:
	case ZYDIS_MNEMONIC_FLDL2T:
	case ZYDIS_MNEMONIC_FLDLG2:
	case ZYDIS_MNEMONIC_FLDLN2:
		/* rounded to 64 bits under FCW.RC */
		hx87(c,
		     mn == ZYDIS_MNEMONIC_FLDPI	   ? HX_FLDPI
		     : mn == ZYDIS_MNEMONIC_FLDL2E ? HX_FLDL2E
		     : mn == ZYDIS_MNEMONIC_FLDL2T ? HX_FLDL2T
		     : mn == ZYDIS_MNEMONIC_FLDLG2 ? HX_FLDLG2
						   : HX_FLDLN2,
		     &h);
		fpush(c, &h.a);
		fsw_merge(c, h.sw, FSW_CC);
		return true;
	case ZYDIS_MNEMONIC_FADD:
	case ZYDIS_MNEMONIC_FSUB:
	case ZYDIS_MNEMONIC_FSUBR:
	case ZYDIS_MNEMONIC_FMUL:
	case ZYDIS_MNEMONIC_FDIV:
	case ZYDIS_MNEMONIC_FDIVR:
	case ZYDIS_MNEMONIC_FIADD:
	case ZYDIS_MNEMONIC_FISUB:
	case ZYDIS_MNEMONIC_FISUBR:
	case ZYDIS_MNEMONIC_FIMUL:
	case ZYDIS_MNEMONIC_FIDIV:
	case ZYDIS_MNEMONIC_FIDIVR: {
		bool integer = mn == ZYDIS_MNEMONIC_FIADD || mn == ZYDIS_MNEMONIC_FISUB ||
			       mn == ZYDIS_MNEMONIC_FISUBR || mn == ZYDIS_MNEMONIC_FIMUL ||
			       mn == ZYDIS_MNEMONIC_FIDIV || mn == ZYDIS_MNEMONIC_FIDIVR;
		int op = HX_ARITH + arith_op(mn) * FM_N, di = 0;
		if (mi >= 0) {
			/* the memory form itself, so that the conversion's
			 * exceptions and NaN rules are the hardware's */
			st_get(c, 0, &h.a);
			h.m = mread(c, mem_lin(c, d), msize);
			op += integer ? (msize == 2 ? FM_I16 : FM_I32)
				      : (msize == 4 ? FM_F32 : FM_F64);
		} else if (d->nops >= 2 && d->op[0].kind == DOP_ST && d->op[1].kind == DOP_ST) {
			/* dst = dst op src, one of them st0 */
			di = d->op[0].reg;
			st_get(c, di, &h.a);
			st_get(c, d->op[1].reg, &h.b);
		} else {
			st_get(c, 0, &h.a);
			st_get(c, sreg, &h.b);
		}
		hx87(c, op, &h);
		st_set(c, di, &h.a);
		fsw_merge(c, h.sw, FSW_CC);
		return true;
	}
	case ZYDIS_MNEMONIC_FADDP:
	case ZYDIS_MNEMONIC_FSUBP:
	case ZYDIS_MNEMONIC_FSUBRP:
	case ZYDIS_MNEMONIC_FMULP:
	case ZYDIS_MNEMONIC_FDIVP:
	case ZYDIS_MNEMONIC_FDIVRP:
		st_get(c, sreg, &h.a);
		st_get(c, 0, &h.b);
		hx87(c, HX_ARITH + arith_op(mn) * FM_N + FM_ST, &h);
		st_set(c, sreg, &h.a);
		fsw_merge(c, h.sw, FSW_CC);
		fpop(c);
		return true;
	case ZYDIS_MNEMONIC_FCHS:
	case ZYDIS_MNEMONIC_FABS:
		/* sign bit only, whatever the operand (no exceptions) */
		st_get(c, 0, &v);
		v.b[9] = mn == ZYDIS_MNEMONIC_FCHS ? v.b[9] ^ 0x80 : v.b[9] & 0x7f;
		st_set(c, 0, &v);
		c->fsw &= ~FSW_C1;
		return true;
	case ZYDIS_MNEMONIC_FSQRT:
	case ZYDIS_MNEMONIC_FRNDINT:
	case ZYDIS_MNEMONIC_FSCALE:
		st_get(c, 0, &h.a);
		st_get(c, 1, &h.b);
		hx87(c,
		     mn == ZYDIS_MNEMONIC_FSQRT	    ? HX_FSQRT
		     : mn == ZYDIS_MNEMONIC_FRNDINT ? HX_FRNDINT
						    : HX_FSCALE,
		     &h);
		st_set(c, 0, &h.a);
		fsw_merge(c, h.sw, FSW_CC);
		return true;
	case ZYDIS_MNEMONIC_FPREM:
	case ZYDIS_MNEMONIC_FPREM1:
		/* partial remainder: C2 set when incomplete, else quotient bits
		 * in C0 C3 C1 */
		st_get(c, 0, &h.a);
		st_get(c, 1, &h.b);
		hx87(c, mn == ZYDIS_MNEMONIC_FPREM ? HX_FPREM : HX_FPREM1, &h);
		st_set(c, 0, &h.a);
		fsw_merge(c, h.sw, FSW_CC);
		return true;
	case ZYDIS_MNEMONIC_FXCH: {
		struct f80 w;
		st_get(c, 0, &v);
		st_get(c, sreg, &w);
		st_set(c, 0, &w);
		st_set(c, sreg, &v);
		c->fsw &= ~FSW_C1;
		return true;
	}
	case ZYDIS_MNEMONIC_FCOM:
	case ZYDIS_MNEMONIC_FCOMP:
	case ZYDIS_MNEMONIC_FUCOM:
	case ZYDIS_MNEMONIC_FUCOMP:
	case ZYDIS_MNEMONIC_FCOMPP:
	case ZYDIS_MNEMONIC_FUCOMPP: {
		bool un = mn == ZYDIS_MNEMONIC_FUCOM || mn == ZYDIS_MNEMONIC_FUCOMP ||
			  mn == ZYDIS_MNEMONIC_FUCOMPP;
		int op;
		st_get(c, 0, &h.a);
		if (mi >= 0) {
			h.m = mread(c, mem_lin(c, d), msize);
			op = HX_FCOM + (msize == 4 ? FM_F32 : FM_F64);
		} else {
			bool pp = mn == ZYDIS_MNEMONIC_FCOMPP || mn == ZYDIS_MNEMONIC_FUCOMPP;
			st_get(c, pp ? 1 : sreg, &h.b);
			op = un ? HX_FUCOM : HX_FCOM + FM_ST;
		}
		fsw_merge(c, hx87(c, op, &h), FSW_CC);
		if (mn != ZYDIS_MNEMONIC_FCOM && mn != ZYDIS_MNEMONIC_FUCOM)
			fpop(c);
		if (mn == ZYDIS_MNEMONIC_FCOMPP || mn == ZYDIS_MNEMONIC_FUCOMPP)
			fpop(c);
		return true;
	}
	case ZYDIS_MNEMONIC_FCOMI:
	case ZYDIS_MNEMONIC_FCOMIP:
	case ZYDIS_MNEMONIC_FUCOMI:
	case ZYDIS_MNEMONIC_FUCOMIP: {
		/* the FCOM/FUCOM of the same operands: C3 C2 C0 are ZF PF CF */
		bool un = mn == ZYDIS_MNEMONIC_FUCOMI || mn == ZYDIS_MNEMONIC_FUCOMIP;
		st_get(c, 0, &h.a);
		st_get(c, sreg, &h.b);
		uint16_t sw = hx87(c, un ? HX_FUCOM : HX_FCOM + FM_ST, &h);
		uint64_t f = ((sw & FSW_C3) ? F_ZF : 0) | ((sw & FSW_C2) ? F_PF : 0) |
			     ((sw & FSW_C0) ? F_CF : 0);
		c->lf_op = LF_NONE;
		c->flags = (c->flags & ~(uint64_t)F_ARITH) | f;
		/* the SDM clears C1; the host CPU (and QEMU) leave C0-C3 alone */
		fsw_merge(c, sw, 0);
		if (mn == ZYDIS_MNEMONIC_FCOMIP || mn == ZYDIS_MNEMONIC_FUCOMIP)
			fpop(c);
		return true;
	}
	case ZYDIS_MNEMONIC_FTST:
		st_get(c, 0, &h.a);
		fsw_merge(c, hx87(c, HX_FTST, &h), FSW_CC);
		return true;
	case ZYDIS_MNEMONIC_FXAM:
		st_get(c, 0, &h.a);
		if (!(c->ftw & (1u << top(c)))) {
			set_cc(c, 1, 0, h.a.b[9] >> 7, 1); /* empty */
			return true;
		}
		/* the host classifies unnormals, pseudo-NaNs... as the hardware */
		fsw_merge(c, hx87(c, HX_FXAM, &h), FSW_CC);
		return true;
	case ZYDIS_MNEMONIC_FFREE: c->ftw &= (uint8_t) ~(1u << ((top(c) + sreg) & 7)); return true;
	case ZYDIS_MNEMONIC_FINCSTP:
		set_top(c, top(c) + 1);
		c->fsw &= ~FSW_C1;
		return true;
	case ZYDIS_MNEMONIC_FDECSTP:
		set_top(c, top(c) - 1);
		c->fsw &= ~FSW_C1;
		return true;
	case ZYDIS_MNEMONIC_FNOP: return true;
	default: { /* FCMOVcc st0, st(i): conditions on EFLAGS */
		uint64_t f = emu_flags(c);
		bool cf = f & F_CF, zf = f & F_ZF, pf = f & F_PF, take;
		switch (mn) {
		case ZYDIS_MNEMONIC_FCMOVB: take = cf; break;
		case ZYDIS_MNEMONIC_FCMOVE: take = zf; break;
		case ZYDIS_MNEMONIC_FCMOVBE: take = cf || zf; break;
		case ZYDIS_MNEMONIC_FCMOVU: take = pf; break;
		case ZYDIS_MNEMONIC_FCMOVNB: take = !cf; break;
		case ZYDIS_MNEMONIC_FCMOVNE: take = !zf; break;
		case ZYDIS_MNEMONIC_FCMOVNBE: take = !cf && !zf; break;
		default: take = !pf; break;
		}
		if (take) {
			st_get(c, sreg, &v);
			st_set(c, 0, &v);
		}
		return true;
	}
	}
}
