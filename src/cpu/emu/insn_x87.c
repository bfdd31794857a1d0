/* SPDX-License-Identifier: MIT */
/*
 * The x87 FPU (FNSTENV/FLDENV included; FXSAVE/FXRSTOR and MXCSR are
 * insn_fxsr.c's).
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

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_x87.h"

static void fpu_check(struct emu_cpu *c)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		emu_raise(c, EXC_NM, 0, false);
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
	memcpy(v->b, c->fpr[(x87_top(c) + i) & 7], 10);
}

static void st_set(struct emu_cpu *c, int i, const struct f80 *v)
{
	int p = (x87_top(c) + i) & 7;
	memset(c->fpr[p], 0, 16);
	memcpy(c->fpr[p], v->b, 10);
	c->ftw |= (uint8_t)(1u << p);
}

static void fpush(struct emu_cpu *c, const struct f80 *v)
{
	set_top(c, x87_top(c) - 1);
	st_set(c, 0, v);
}

static void fpop(struct emu_cpu *c)
{
	c->ftw &= (uint8_t) ~(1u << x87_top(c));
	set_top(c, x87_top(c) + 1);
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

/* ---- The instructions ------------------------------------------------------------ */

/* The operands of an x87 instruction, once the FPU is known available
 * (#NM with CR0.EM or CR0.TS). */
struct x87_ops {
	int mi;		/* index of the memory operand, or -1 */
	int si;		/* index of a ST(i) operand other than ST(0), or -1 */
	int sreg;	/* that i; without one 0 if ST(0) is named, else 1 */
	unsigned msize; /* the memory operand's bytes */
};

static void x87_begin(struct emu_cpu *c, const struct dinsn *d, struct x87_ops *o)
{
	o->mi = find_op(d, DOP_MEM, 0);
	fpu_check(c);
	o->si = find_op(d, DOP_ST, 1);
	o->sreg = o->si >= 0 ? d->op[o->si].reg : find_op(d, DOP_ST, 0) >= 0 ? 0 : 1;
	o->msize = o->mi >= 0 ? d->op[o->mi].size : 0;
}

void h_fwait(struct emu_cpu *c, const struct dinsn *d)
{
	if ((c->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
		emu_raise(c, EXC_NM, 0, false);
}

void h_fninit(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	c->fcw = 0x37f;
	c->fsw = 0;
	c->ftw = 0;
	c->fop = 0;
	c->fip = c->fdp = 0;
}

void h_fnclex(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	c->fsw &= 0x7f00;
}

void h_fnstcw(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	mwrite(c, mem_lin_w(c, d, 2), 2, c->fcw);
}

void h_fldcw(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	c->fcw = x87_fcw_load((uint16_t)mread(c, mem_lin_n(c, d, 2), 2));
}

void h_fnstsw(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	if (o.mi >= 0)
		mwrite(c, mem_lin_w(c, d, 2), 2, c->fsw);
	else
		c->r[R_AX] = (c->r[R_AX] & ~0xffffULL) | c->fsw;
}

/* 32-bit protected-mode layout (28 bytes) */
void h_fnstenv(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	uint64_t lin = mem_lin_w(c, d, 28);
	mmu_lookup(c, lin + 27, 1, c->cpl == 3);
	mwrite(c, lin, 4, 0xffff0000u | c->fcw);
	mwrite(c, lin + 4, 4, 0xffff0000u | c->fsw);
	mwrite(c, lin + 8, 4, 0xffff0000u | full_tag(c));
	mwrite(c, lin + 12, 4, (uint32_t)c->fip);
	mwrite(c, lin + 16, 4, (uint32_t)c->fop << 16);
	mwrite(c, lin + 20, 4, (uint32_t)c->fdp);
	mwrite(c, lin + 24, 4, 0);
	c->fcw |= 0x3f; /* fnstenv masks all exceptions */
}

void h_fldenv(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	uint64_t lin = mem_lin_n(c, d, 28);
	uint16_t cw = (uint16_t)mread(c, lin, 2);
	uint16_t sw = (uint16_t)mread(c, lin + 4, 2);
	uint16_t tw = (uint16_t)mread(c, lin + 8, 2);
	c->fcw = x87_fcw_load(cw);
	c->fsw = x87_fsw_load(sw, c->fcw);
	c->ftw = 0;
	for (int p = 0; p < 8; p++)
		if (((tw >> (2 * p)) & 3) != 3)
			c->ftw |= (uint8_t)(1u << p);
}

void h_fld(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	struct f80 v;
	if (o.mi >= 0 && o.msize == 10) {
		mem_read80(c, mem_lin_n(c, d, 10), &v);
	} else if (o.mi >= 0) {
		/* m32/m64: converting raises IE (SNaN) and DE */
		h.m = mread(c, mem_lin_n(c, d, o.msize), o.msize);
		fsw_merge(c, hx87(c, o.msize == 4 ? HX_FLD_F32 : HX_FLD_F64, &h), FSW_CC);
		v = h.a;
	} else {
		st_get(c, d->op[o.si >= 0 ? o.si : 0].reg, &v);
	}
	fpush(c, &v);
	c->fsw &= ~FSW_C1;
}

void h_fild(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	/* exact: every 16/32/64-bit integer fits the 64-bit significand */
	uint64_t iv = mread(c, mem_lin_n(c, d, o.msize), o.msize);
	long double x = o.msize == 2   ? (long double)(int16_t)iv
			: o.msize == 4 ? (long double)(int32_t)iv
				       : (long double)(int64_t)iv;
	struct f80 v = f80_of(x);
	fpush(c, &v);
	c->fsw &= ~FSW_C1;
}

/* FST FSTP */
void h_fst(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	struct f80 v;
	st_get(c, 0, &v);
	if (o.mi >= 0 && o.msize == 10) {
		mem_write80(c, mem_lin_w(c, d, 10), &v);
		c->fsw &= ~FSW_C1;
	} else if (o.mi >= 0) {
		/* m32/m64: rounds under FCW.RC; IE OE UE PE */
		h.a = v;
		hx87(c, o.msize == 4 ? HX_FST_F32 : HX_FST_F64, &h);
		mwrite(c, mem_lin_w(c, d, o.msize), o.msize, h.m);
		fsw_merge(c, h.sw, FSW_CC);
	} else {
		st_set(c, o.sreg, &v);
		c->fsw &= ~FSW_C1;
	}
	if (d->mnem == ZYDIS_MNEMONIC_FSTP)
		fpop(c);
}

/* FIST FISTP FISTTP */
void h_fist(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	bool tr = d->mnem == ZYDIS_MNEMONIC_FISTTP;
	unsigned msize = o.msize;
	st_get(c, 0, &h.a);
	hx87(c,
	     msize == 2	  ? (tr ? HX_FISTT_I16 : HX_FIST_I16)
	     : msize == 4 ? (tr ? HX_FISTT_I32 : HX_FIST_I32)
			  : (tr ? HX_FISTT_I64 : HX_FIST_I64),
	     &h);
	mwrite(c, mem_lin_w(c, d, msize), msize, h.m);
	fsw_merge(c, h.sw, FSW_CC);
	if (d->mnem != ZYDIS_MNEMONIC_FIST)
		fpop(c);
}

/* FLDZ FLD1 */
void h_fldconst(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct f80 v = f80_of(d->mnem == ZYDIS_MNEMONIC_FLD1 ? 1.0L : 0.0L);
	fpush(c, &v);
	c->fsw &= ~FSW_C1;
}

/* FLDPI FLDL2E FLDL2T FLDLG2 FLDLN2: rounded to 64 bits under FCW.RC */
void h_fldhx(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	int mn = d->mnem;
	hx87(c,
	     mn == ZYDIS_MNEMONIC_FLDPI	   ? HX_FLDPI
	     : mn == ZYDIS_MNEMONIC_FLDL2E ? HX_FLDL2E
	     : mn == ZYDIS_MNEMONIC_FLDL2T ? HX_FLDL2T
	     : mn == ZYDIS_MNEMONIC_FLDLG2 ? HX_FLDLG2
					   : HX_FLDLN2,
	     &h);
	fpush(c, &h.a);
	fsw_merge(c, h.sw, FSW_CC);
}

/* FADD FSUB FSUBR FMUL FDIV FDIVR and their FI* integer forms */
void h_farith(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	int mn = d->mnem;
	bool integer = mn == ZYDIS_MNEMONIC_FIADD || mn == ZYDIS_MNEMONIC_FISUB ||
		       mn == ZYDIS_MNEMONIC_FISUBR || mn == ZYDIS_MNEMONIC_FIMUL ||
		       mn == ZYDIS_MNEMONIC_FIDIV || mn == ZYDIS_MNEMONIC_FIDIVR;
	int op = HX_ARITH + arith_op(mn) * FM_N, di = 0;
	if (o.mi >= 0) {
		/* the memory form itself, so that the conversion's exceptions
		 * and NaN rules are the hardware's */
		st_get(c, 0, &h.a);
		h.m = mread(c, mem_lin_n(c, d, o.msize), o.msize);
		op += integer ? (o.msize == 2 ? FM_I16 : FM_I32) : (o.msize == 4 ? FM_F32 : FM_F64);
	} else if (d->nops >= 2 && d->op[0].kind == DOP_ST && d->op[1].kind == DOP_ST) {
		/* dst = dst op src, one of them st0 */
		di = d->op[0].reg;
		st_get(c, di, &h.a);
		st_get(c, d->op[1].reg, &h.b);
	} else {
		st_get(c, 0, &h.a);
		st_get(c, o.sreg, &h.b);
	}
	hx87(c, op, &h);
	st_set(c, di, &h.a);
	fsw_merge(c, h.sw, FSW_CC);
}

/* FADDP FSUBP FSUBRP FMULP FDIVP FDIVRP */
void h_farithp(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	st_get(c, o.sreg, &h.a);
	st_get(c, 0, &h.b);
	hx87(c, HX_ARITH + arith_op(d->mnem) * FM_N + FM_ST, &h);
	st_set(c, o.sreg, &h.a);
	fsw_merge(c, h.sw, FSW_CC);
	fpop(c);
}

/* FCHS FABS: the sign bit only, whatever the operand (no exceptions) */
void h_fchs(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct f80 v;
	st_get(c, 0, &v);
	v.b[9] = d->mnem == ZYDIS_MNEMONIC_FCHS ? v.b[9] ^ 0x80 : v.b[9] & 0x7f;
	st_set(c, 0, &v);
	c->fsw &= ~FSW_C1;
}

/* FSQRT FRNDINT FSCALE */
void h_funary(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	int mn = d->mnem;
	st_get(c, 0, &h.a);
	st_get(c, 1, &h.b);
	hx87(c,
	     mn == ZYDIS_MNEMONIC_FSQRT	    ? HX_FSQRT
	     : mn == ZYDIS_MNEMONIC_FRNDINT ? HX_FRNDINT
					    : HX_FSCALE,
	     &h);
	st_set(c, 0, &h.a);
	fsw_merge(c, h.sw, FSW_CC);
}

/* FPREM FPREM1: partial remainder, C2 set when incomplete, else quotient
 * bits in C0 C3 C1 */
void h_fprem(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	st_get(c, 0, &h.a);
	st_get(c, 1, &h.b);
	hx87(c, d->mnem == ZYDIS_MNEMONIC_FPREM ? HX_FPREM : HX_FPREM1, &h);
	st_set(c, 0, &h.a);
	fsw_merge(c, h.sw, FSW_CC);
}

void h_fxch(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct f80 v, w;
	st_get(c, 0, &v);
	st_get(c, o.sreg, &w);
	st_set(c, 0, &w);
	st_set(c, o.sreg, &v);
	c->fsw &= ~FSW_C1;
}

/* FCOM FCOMP FCOMPP FUCOM FUCOMP FUCOMPP */
void h_fcom(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	int mn = d->mnem;
	bool un = mn == ZYDIS_MNEMONIC_FUCOM || mn == ZYDIS_MNEMONIC_FUCOMP ||
		  mn == ZYDIS_MNEMONIC_FUCOMPP;
	int op;
	st_get(c, 0, &h.a);
	if (o.mi >= 0) {
		h.m = mread(c, mem_lin_n(c, d, o.msize), o.msize);
		op = HX_FCOM + (o.msize == 4 ? FM_F32 : FM_F64);
	} else {
		bool pp = mn == ZYDIS_MNEMONIC_FCOMPP || mn == ZYDIS_MNEMONIC_FUCOMPP;
		st_get(c, pp ? 1 : o.sreg, &h.b);
		op = un ? HX_FUCOM : HX_FCOM + FM_ST;
	}
	fsw_merge(c, hx87(c, op, &h), FSW_CC);
	if (mn != ZYDIS_MNEMONIC_FCOM && mn != ZYDIS_MNEMONIC_FUCOM)
		fpop(c);
	if (mn == ZYDIS_MNEMONIC_FCOMPP || mn == ZYDIS_MNEMONIC_FUCOMPP)
		fpop(c);
}

/* FCOMI FCOMIP FUCOMI FUCOMIP: the FCOM/FUCOM of the same operands, with
 * C3 C2 C0 as ZF PF CF */
void h_fcomi(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	int mn = d->mnem;
	bool un = mn == ZYDIS_MNEMONIC_FUCOMI || mn == ZYDIS_MNEMONIC_FUCOMIP;
	st_get(c, 0, &h.a);
	st_get(c, o.sreg, &h.b);
	uint16_t sw = hx87(c, un ? HX_FUCOM : HX_FCOM + FM_ST, &h);
	uint64_t f = ((sw & FSW_C3) ? F_ZF : 0) | ((sw & FSW_C2) ? F_PF : 0) |
		     ((sw & FSW_C0) ? F_CF : 0);
	c->lf_op = LF_NONE;
	c->flags = (c->flags & ~(uint64_t)F_ARITH) | f;
	/* the SDM clears C1; the host CPU (and QEMU) leave C0-C3 alone */
	fsw_merge(c, sw, 0);
	if (mn == ZYDIS_MNEMONIC_FCOMIP || mn == ZYDIS_MNEMONIC_FUCOMIP)
		fpop(c);
}

void h_ftst(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	st_get(c, 0, &h.a);
	fsw_merge(c, hx87(c, HX_FTST, &h), FSW_CC);
}

void h_fxam(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	struct hx87 h;
	memset(&h, 0, sizeof(h));
	st_get(c, 0, &h.a);
	if (!(c->ftw & (1u << x87_top(c)))) {
		set_cc(c, 1, 0, h.a.b[9] >> 7, 1); /* empty */
		return;
	}
	/* the host classifies unnormals, pseudo-NaNs... as the hardware */
	fsw_merge(c, hx87(c, HX_FXAM, &h), FSW_CC);
}

void h_ffree(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	c->ftw &= (uint8_t) ~(1u << ((x87_top(c) + o.sreg) & 7));
}

/* FINCSTP FDECSTP */
void h_fincstp(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	set_top(c, x87_top(c) + (d->mnem == ZYDIS_MNEMONIC_FINCSTP ? 1 : -1));
	c->fsw &= ~FSW_C1;
}

void h_fnop(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
}

/* FCMOVcc st0, st(i): conditions on EFLAGS */
void h_fcmov(struct emu_cpu *c, const struct dinsn *d)
{
	struct x87_ops o;
	x87_begin(c, d, &o);
	uint64_t f = emu_flags(c);
	bool cf = f & F_CF, zf = f & F_ZF, pf = f & F_PF, take;
	switch (d->mnem) {
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
		struct f80 v;
		st_get(c, o.sreg, &v);
		st_set(c, 0, &v);
	}
}
