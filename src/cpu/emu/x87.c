/* SPDX-License-Identifier: MIT */
/*
 * The x87 FPU (on the host's 80-bit long double, so arithmetic is exact
 * to the register format), FXSAVE/FXRSTOR, FNSTENV/FLDENV, and MXCSR.
 *
 * Not modelled: precision control, FPU exceptions (status flags are not
 * set; stack overflow/underflow are not reported), transcendental
 * instructions (fsin, fpatan, fyl2x, f2xm1, ...: #UD, reported), FNSAVE.
 */
#include <fenv.h>
#include <math.h>
#include <string.h>

#include "cpu/emu/emu.h"
#include "cpu/emu/operand.h"

#define MXCSR_MASK 0xffbfu /* no DAZ */

void emu_fpu_reset(struct emu_cpu *c)
{
	c->fcw = 0x37f;
	c->fsw = 0;
	c->ftw = 0;
	c->fop = 0;
	c->fip = c->fdp = 0;
	c->mxcsr = 0x1f80;
	memset(c->fpr, 0, sizeof(c->fpr));
	memset(c->xmm, 0, sizeof(c->xmm));
}

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

static long double st_get(struct emu_cpu *c, int i)
{
	long double v = 0;
	memcpy(&v, c->fpr[(top(c) + i) & 7], 10);
	return v;
}

static void st_set(struct emu_cpu *c, int i, long double v)
{
	int p = (top(c) + i) & 7;
	memset(c->fpr[p], 0, 16);
	memcpy(c->fpr[p], &v, 10);
	c->ftw |= (uint8_t)(1u << p);
}

static void fpush(struct emu_cpu *c, long double v)
{
	set_top(c, top(c) - 1);
	st_set(c, 0, v);
}

static void fpop(struct emu_cpu *c)
{
	c->ftw &= (uint8_t) ~(1u << top(c));
	set_top(c, top(c) + 1);
}

static void set_cc(struct emu_cpu *c, int c3, int c2, int c1, int c0)
{
	c->fsw = (uint16_t)((c->fsw & ~0x4700) | (c0 << 8) | (c1 << 9) | (c2 << 10) | (c3 << 14));
}

static int rc_mode(struct emu_cpu *c)
{
	static const int modes[4] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
	return modes[(c->fcw >> 10) & 3];
}

/* Loads a memory operand of the given size as a value (float or int). */
static long double mem_val(struct emu_cpu *c, const struct dinsn *d, int i, bool integer)
{
	uint64_t lin = mem_lin(c, d);
	unsigned size = d->op[i].size;
	if (integer) {
		uint64_t v = mread(c, lin, size);
		return size == 2   ? (long double)(int16_t)v
		       : size == 4 ? (long double)(int32_t)v
				   : (long double)(int64_t)v;
	}
	if (size == 4) {
		uint32_t v = (uint32_t)mread(c, lin, 4);
		float f;
		memcpy(&f, &v, 4);
		return f;
	}
	if (size == 8) {
		uint64_t v = mread(c, lin, 8);
		double f;
		memcpy(&f, &v, 8);
		return f;
	}
	uint8_t raw[16] = {0};
	uint64_t lo = mread(c, lin, 8);
	uint16_t hi = (uint16_t)mread(c, lin + 8, 2);
	memcpy(raw, &lo, 8);
	memcpy(raw + 8, &hi, 2);
	long double v;
	memcpy(&v, raw, sizeof(v));
	return v;
}

static void mem_store(struct emu_cpu *c, const struct dinsn *d, int i, long double v)
{
	uint64_t lin = mem_lin(c, d);
	unsigned size = d->op[i].size;
	if (size == 4) {
		float f = (float)v;
		uint32_t u;
		memcpy(&u, &f, 4);
		mwrite(c, lin, 4, u);
	} else if (size == 8) {
		double f = (double)v;
		uint64_t u;
		memcpy(&u, &f, 8);
		mwrite(c, lin, 8, u);
	} else {
		uint8_t raw[16] = {0};
		memcpy(raw, &v, 10);
		uint64_t lo;
		uint16_t hi;
		memcpy(&lo, raw, 8);
		memcpy(&hi, raw + 8, 2);
		mmu_lookup(c, lin + 9, 1, c->cpl == 3);
		mwrite(c, lin, 8, lo);
		mwrite(c, lin + 8, 2, hi);
	}
}

static int64_t to_int(struct emu_cpu *c, long double v, unsigned size, bool trunc)
{
	long double r;
	if (trunc) {
		r = truncl(v);
	} else {
		int old = fegetround();
		fesetround(rc_mode(c));
		r = nearbyintl(v);
		fesetround(old);
	}
	long double lim = size == 2 ? 32768.0L : size == 4 ? 2147483648.0L : 9223372036854775808.0L;
	if (isnan(r) || r >= lim || r < -lim)
		return size == 2 ? INT16_MIN : size == 4 ? INT32_MIN : INT64_MIN;
	return (int64_t)r;
}

/* Index of the visible operand of a kind, or -1. */
static int find_op(const struct dinsn *d, int kind, int skip_st0)
{
	for (int i = 0; i < d->nops; i++)
		if (d->op[i].kind == kind && !(skip_st0 && kind == DOP_ST && d->op[i].reg == 0))
			return i;
	return -1;
}

static void compare(struct emu_cpu *c, long double a, long double b, bool eflags)
{
	bool un = isnan(a) || isnan(b);
	int c3 = un || a == b, c2 = un, c0 = un || a < b;
	if (eflags) {
		uint64_t f = (c3 ? F_ZF : 0) | (c2 ? F_PF : 0) | (c0 ? F_CF : 0);
		c->lf_op = LF_NONE;
		c->flags = (c->flags & ~(uint64_t)F_ARITH) | f;
	} else {
		set_cc(c, c3, c2, 0, c0);
	}
}

static uint16_t full_tag(struct emu_cpu *c)
{
	uint16_t t = 0;
	for (int p = 0; p < 8; p++) {
		unsigned tag;
		if (!(c->ftw & (1u << p))) {
			tag = 3;
		} else {
			long double v;
			memcpy(&v, c->fpr[p], sizeof(v));
			int cls = fpclassify(v);
			tag = cls == FP_ZERO ? 1 : (cls == FP_NORMAL ? 0 : 2);
		}
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

static long double arith(int mn, long double a, long double b)
{
	switch (mn) {
	case ZYDIS_MNEMONIC_FADD:
	case ZYDIS_MNEMONIC_FADDP:
	case ZYDIS_MNEMONIC_FIADD: return a + b;
	case ZYDIS_MNEMONIC_FSUB:
	case ZYDIS_MNEMONIC_FSUBP:
	case ZYDIS_MNEMONIC_FISUB: return a - b;
	case ZYDIS_MNEMONIC_FSUBR:
	case ZYDIS_MNEMONIC_FSUBRP:
	case ZYDIS_MNEMONIC_FISUBR: return b - a;
	case ZYDIS_MNEMONIC_FMUL:
	case ZYDIS_MNEMONIC_FMULP:
	case ZYDIS_MNEMONIC_FIMUL: return a * b;
	case ZYDIS_MNEMONIC_FDIV:
	case ZYDIS_MNEMONIC_FDIVP:
	case ZYDIS_MNEMONIC_FIDIV: return a / b;
	default: /* FDIVR, FDIVRP, FIDIVR */ return b / a;
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
	long double v;
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
		v = mi >= 0 ? mem_val(c, d, mi, false) : st_get(c, d->op[si >= 0 ? si : 0].reg);
		fpush(c, v);
		return true;
	case ZYDIS_MNEMONIC_FILD: fpush(c, mem_val(c, d, mi, true)); return true;
	case ZYDIS_MNEMONIC_FST:
	case ZYDIS_MNEMONIC_FSTP:
		v = st_get(c, 0);
		if (mi >= 0)
			mem_store(c, d, mi, v);
		else
			st_set(c, sreg, v);
		if (mn == ZYDIS_MNEMONIC_FSTP)
			fpop(c);
		return true;
	case ZYDIS_MNEMONIC_FIST:
	case ZYDIS_MNEMONIC_FISTP:
	case ZYDIS_MNEMONIC_FISTTP: {
		unsigned size = d->op[mi].size;
		int64_t iv = to_int(c, st_get(c, 0), size, mn == ZYDIS_MNEMONIC_FISTTP);
		mwrite(c, mem_lin(c, d), size, (uint64_t)iv);
		if (mn != ZYDIS_MNEMONIC_FIST)
			fpop(c);
		return true;
	}
	case ZYDIS_MNEMONIC_FLDZ: fpush(c, 0.0L); return true;
	case ZYDIS_MNEMONIC_FLD1: fpush(c, 1.0L); return true;
	case ZYDIS_MNEMONIC_FLDPI: fpush(c, 3.14159265358979323846264338327950288L); return true;
	case ZYDIS_MNEMONIC_FLDL2E: fpush(c, 1.44269504088896340735992468100189214L); return true;
	case ZYDIS_MNEMONIC_FLDL2T: fpush(c, 3.32192809488736234787031942948939018L); return true;
	case ZYDIS_MNEMONIC_FLDLG2: fpush(c, 0.301029995663981195213738894724493027L); return true;
	case ZYDIS_MNEMONIC_FLDLN2: fpush(c, 0.693147180559945309417232121458176568L); return true;
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
		if (mi >= 0) {
			st_set(c, 0, arith(mn, st_get(c, 0), mem_val(c, d, mi, integer)));
		} else if (d->nops >= 2 && d->op[0].kind == DOP_ST && d->op[1].kind == DOP_ST) {
			/* dst = dst op src, one of them st0 */
			int di = d->op[0].reg;
			st_set(c, di, arith(mn, st_get(c, di), st_get(c, d->op[1].reg)));
		} else {
			st_set(c, 0, arith(mn, st_get(c, 0), st_get(c, sreg)));
		}
		return true;
	}
	case ZYDIS_MNEMONIC_FADDP:
	case ZYDIS_MNEMONIC_FSUBP:
	case ZYDIS_MNEMONIC_FSUBRP:
	case ZYDIS_MNEMONIC_FMULP:
	case ZYDIS_MNEMONIC_FDIVP:
	case ZYDIS_MNEMONIC_FDIVRP:
		st_set(c, sreg, arith(mn, st_get(c, sreg), st_get(c, 0)));
		fpop(c);
		return true;
	case ZYDIS_MNEMONIC_FCHS: st_set(c, 0, -st_get(c, 0)); return true;
	case ZYDIS_MNEMONIC_FABS: st_set(c, 0, fabsl(st_get(c, 0))); return true;
	case ZYDIS_MNEMONIC_FSQRT: st_set(c, 0, sqrtl(st_get(c, 0))); return true;
	case ZYDIS_MNEMONIC_FRNDINT: {
		int old = fegetround();
		fesetround(rc_mode(c));
		st_set(c, 0, nearbyintl(st_get(c, 0)));
		fesetround(old);
		return true;
	}
	case ZYDIS_MNEMONIC_FSCALE:
		st_set(c, 0, scalbnl(st_get(c, 0), (int)truncl(st_get(c, 1))));
		return true;
	case ZYDIS_MNEMONIC_FPREM: {
		long double a = st_get(c, 0), b = st_get(c, 1);
		long double q = truncl(a / b);
		st_set(c, 0, fmodl(a, b));
		long long iq = isnan(q) ? 0 : (long long)fmodl(fabsl(q), 8.0L);
		set_cc(c, (int)((iq >> 1) & 1), 0, (int)(iq & 1), (int)((iq >> 2) & 1));
		return true;
	}
	case ZYDIS_MNEMONIC_FXCH: {
		long double a = st_get(c, 0), b = st_get(c, sreg);
		st_set(c, 0, b);
		st_set(c, sreg, a);
		return true;
	}
	case ZYDIS_MNEMONIC_FCOM:
	case ZYDIS_MNEMONIC_FCOMP:
	case ZYDIS_MNEMONIC_FUCOM:
	case ZYDIS_MNEMONIC_FUCOMP:
		v = mi >= 0 ? mem_val(c, d, mi, false) : st_get(c, sreg);
		compare(c, st_get(c, 0), v, false);
		if (mn == ZYDIS_MNEMONIC_FCOMP || mn == ZYDIS_MNEMONIC_FUCOMP)
			fpop(c);
		return true;
	case ZYDIS_MNEMONIC_FCOMPP:
	case ZYDIS_MNEMONIC_FUCOMPP:
		compare(c, st_get(c, 0), st_get(c, 1), false);
		fpop(c);
		fpop(c);
		return true;
	case ZYDIS_MNEMONIC_FCOMI:
	case ZYDIS_MNEMONIC_FCOMIP:
	case ZYDIS_MNEMONIC_FUCOMI:
	case ZYDIS_MNEMONIC_FUCOMIP:
		compare(c, st_get(c, 0), st_get(c, sreg), true);
		if (mn == ZYDIS_MNEMONIC_FCOMIP || mn == ZYDIS_MNEMONIC_FUCOMIP)
			fpop(c);
		return true;
	case ZYDIS_MNEMONIC_FTST: compare(c, st_get(c, 0), 0.0L, false); return true;
	case ZYDIS_MNEMONIC_FXAM: {
		int p = top(c);
		v = st_get(c, 0);
		int sign = signbit(v) ? 1 : 0;
		if (!(c->ftw & (1u << p))) {
			set_cc(c, 1, 0, sign, 1);
			return true;
		}
		switch (fpclassify(v)) {
		case FP_NAN: set_cc(c, 0, 0, sign, 1); break;
		case FP_INFINITE: set_cc(c, 0, 1, sign, 1); break;
		case FP_ZERO: set_cc(c, 1, 0, sign, 0); break;
		case FP_SUBNORMAL: set_cc(c, 1, 1, sign, 0); break;
		default: set_cc(c, 0, 1, sign, 0); break;
		}
		return true;
	}
	case ZYDIS_MNEMONIC_FFREE: c->ftw &= (uint8_t) ~(1u << ((top(c) + sreg) & 7)); return true;
	case ZYDIS_MNEMONIC_FINCSTP: set_top(c, top(c) + 1); return true;
	case ZYDIS_MNEMONIC_FDECSTP: set_top(c, top(c) - 1); return true;
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
		if (take)
			st_set(c, 0, st_get(c, sreg));
		return true;
	}
	}
}
