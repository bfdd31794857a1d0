/* SPDX-License-Identifier: MIT */
/*
 * The XSAVE instructions: XGETBV, XSETBV, XSAVE, XSAVEOPT, XSAVEC and
 * XRSTOR (standard and compacted forms), with 32- and 64-bit x87 layouts,
 * over the state components sys_xsave.c offers (x87, SSE, AVX, PKRU).
 *
 * XINUSE (which components are not in their initial configuration) is
 * computed from the registers when asked: the manual lets a processor
 * report a component in use when it is in its initial configuration, never
 * the reverse, and computing it is the exact answer. XSAVEOPT uses the
 * init optimization (a component not in use is not written) but not the
 * modified one (which the manual leaves optional).
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_x87.h"
#include "cpu/emu/sys.h"

enum { XS_STD, XS_OPT, XS_COMPACT };

/* The components not in their initial configuration (XMM8-15 and their
 * upper halves count in 64-bit mode only; PKRU's is 0). */
static uint64_t xinuse(const struct emu_cpu *c)
{
	static const uint8_t zero[sizeof(c->fpr)];
	uint64_t u = 0;
	int n = c->cmode == 8 ? 16 : 8;
	if (c->fcw != 0x37f || c->fsw || c->ftw || c->fop || c->fip || c->fdp ||
	    memcmp(c->fpr, zero, sizeof(zero)))
		u |= 1;
	for (int i = 0; i < n; i++) {
		if (c->xmm[i].q[0] | c->xmm[i].q[1])
			u |= 2;
		if (c->ymmh[i].q[0] | c->ymmh[i].q[1])
			u |= 4;
	}
	if (c->pkru)
		u |= XSAVE_PKRU;
	return u;
}

static uint64_t rfbm(struct emu_cpu *c)
{
	return c->xcr0 & ((uint64_t)(uint32_t)c->r[R_DX] << 32 | (uint32_t)c->r[R_AX]);
}

/* #UD without CR4.OSXSAVE, #NM with CR0.TS, the segment's checks on the
 * size bytes read or written (outside 64-bit mode: the limit, and a
 * writable segment for the saves), #GP(0) unless 64-byte aligned. */
static uint64_t xsave_area(struct emu_cpu *c, const struct dinsn *d, bool write, uint32_t size)
{
	if (!(c->cr4 & CR4_OSXSAVE))
		emu_raise(c, EXC_UD, 0, false);
	if (c->cr0 & CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
	uint64_t lin = write ? mem_lin_w(c, d, size) : mem_lin_n(c, d, size);
	if (lin & 63)
		emu_raise_gp(c, 0);
	return lin;
}

static void save(struct emu_cpu *c, uint64_t lin, bool rex_w, int kind)
{
	uint64_t rf = rfbm(c), inuse = xinuse(c);
	/* XSAVEC counts SSE state in use when MXCSR is not 1F80H either
	 * (it writes MXCSR only with SSE state, and only then). */
	if (kind == XS_COMPACT && c->mxcsr != 0x1f80)
		inuse |= 2;
	/* The components written: XSAVE writes every requested one, the
	 * others only those in use (the init optimization). */
	uint64_t wr = kind == XS_STD ? rf : rf & inuse;
	/* Every page it writes first (the legacy region, the header, AVX
	 * if requested): nothing is half written. */
	uint32_t size = kind == XS_COMPACT ? emu_xsave_size_compact(rf) : emu_xsave_size(rf);
	mmu_lookup(c, lin, 1, c->cpl == 3);
	mmu_lookup(c, lin + size - 1, 1, c->cpl == 3);
	uint64_t hdr = mread(c, lin + 512, 8);
	if (wr & 1)
		fx_save_x87(c, lin, rex_w);
	if (kind == XS_COMPACT ? (wr & 2) : (rf & 6))
		fx_save_mxcsr(c, lin); /* XSAVE, XSAVEOPT: with SSE or AVX, in use or not */
	if (wr & 2)
		fx_save_xmm(c, lin);
	if (wr & 4) {
		int n = c->cmode == 8 ? 16 : 8;
		for (int i = 0; i < n; i++) {
			mwrite(c, lin + XSAVE_AVX_OFFSET + 16 * i, 8, c->ymmh[i].q[0]);
			mwrite(c, lin + XSAVE_AVX_OFFSET + 16 * i + 8, 8, c->ymmh[i].q[1]);
		}
	}
	if (wr & XSAVE_PKRU) /* bytes 4-7 of the component are reserved: 0 */
		mwrite(c,
		       lin + (kind == XS_COMPACT ? emu_xsave_pkru_compact(rf) : XSAVE_PKRU_OFFSET),
		       8, c->pkru);
	if (kind == XS_COMPACT) {
		mwrite(c, lin + 512, 8, rf & inuse);
		mwrite(c, lin + 520, 8, rf | 1ULL << 63);
	} else {
		/* XSTATE_BV: the requested bits say what is in use, the
		 * others stay as they were. */
		mwrite(c, lin + 512, 8, (hdr & ~rf) | (rf & inuse));
	}
}

/* XSAVE XSAVE64 (arg 0/1: 64-bit x87 layout) */
void h_xsave(struct emu_cpu *c, const struct dinsn *d)
{
	save(c, xsave_area(c, d, true, emu_xsave_size(rfbm(c))), insn_arg(d), XS_STD);
}

/* XSAVEOPT XSAVEOPT64 */
void h_xsaveopt(struct emu_cpu *c, const struct dinsn *d)
{
	save(c, xsave_area(c, d, true, emu_xsave_size(rfbm(c))), insn_arg(d), XS_OPT);
}

/* XSAVEC XSAVEC64 */
void h_xsavec(struct emu_cpu *c, const struct dinsn *d)
{
	save(c, xsave_area(c, d, true, emu_xsave_size_compact(rfbm(c))), insn_arg(d), XS_COMPACT);
}

/* XRSTOR XRSTOR64: every check and every read before any state changes */
void h_xrstor(struct emu_cpu *c, const struct dinsn *d)
{
	/* the legacy region and the header first, the rest once the header
	 * says which format */
	uint64_t lin = xsave_area(c, d, false, 512 + 64);
	bool rex_w = insn_arg(d);
	uint64_t rf = rfbm(c);
	uint64_t hdr[8];
	for (int i = 0; i < 8; i++)
		hdr[i] = mread(c, lin + 512 + 8 * i, 8);
	uint64_t xstate_bv = hdr[0], xcomp_bv = hdr[1];
	bool compact = xcomp_bv >> 63;
	if (compact) {
		if (!cpu_has(&c->vm->features, CPUF_XSAVEC) ||
		    (xcomp_bv & ~(1ULL << 63) & ~c->xcr0) || (xstate_bv & ~xcomp_bv) || hdr[2] ||
		    hdr[3] || hdr[4] || hdr[5] || hdr[6] || hdr[7])
			emu_raise_gp(c, 0);
	} else if ((xstate_bv & ~c->xcr0) || xcomp_bv || hdr[2]) {
		emu_raise_gp(c, 0);
	}
	mem_lin_n(c, d, compact ? emu_xsave_size_compact(xcomp_bv) : emu_xsave_size(rf));
	uint8_t buf[512];
	if (rf & 3) {
		for (int i = 0; i < 512; i += 8) {
			uint64_t v = mread(c, lin + (uint64_t)i, 8);
			memcpy(buf + i, &v, 8);
		}
	}
	/* MXCSR: the standard form loads it whenever SSE or AVX is
	 * requested; the compacted one when SSE is, and is there. */
	bool load_mx = compact ? (rf & xstate_bv & 2) : (rf & 6);
	uint32_t mx = 0x1f80;
	if (load_mx) {
		mx = (uint32_t)mread(c, lin + 24, 4);
		if (mx & ~MXCSR_MASK)
			emu_raise_gp(c, 0);
	}
	int n = c->cmode == 8 ? 16 : 8;
	union xmmreg hi[16];
	bool avx_in = (rf & 4) && (xstate_bv & 4);
	/* AVX sits at 576 in both formats here: it is the first extended
	 * component, and a compacted area holds it only if XCOMP_BV says so
	 * (xstate_bv is a subset of xcomp_bv, checked above). */
	if (avx_in)
		for (int i = 0; i < n; i++) {
			hi[i].q[0] = mread(c, lin + XSAVE_AVX_OFFSET + 16 * i, 8);
			hi[i].q[1] = mread(c, lin + XSAVE_AVX_OFFSET + 16 * i + 8, 8);
		}
	uint32_t pkru = 0; /* PKRU's initial configuration */
	if ((rf & XSAVE_PKRU) && (xstate_bv & XSAVE_PKRU))
		pkru = (uint32_t)mread(
			c, lin + (compact ? emu_xsave_pkru_compact(xcomp_bv) : XSAVE_PKRU_OFFSET),
			4);

	if (rf & 1) {
		if (xstate_bv & 1) {
			fx_load_x87(c, buf, rex_w);
		} else {
			emu_fpu_reset_x87(c);
		}
	}
	if (rf & 2) {
		if (xstate_bv & 2)
			fx_load_xmm(c, buf);
		else
			memset(c->xmm, 0, sizeof(union xmmreg) * (size_t)n);
	}
	if (load_mx || (compact && (rf & 2)))
		c->mxcsr = mx;
	if (rf & 4) {
		for (int i = 0; i < n; i++) {
			if (avx_in)
				c->ymmh[i] = hi[i];
			else
				memset(&c->ymmh[i], 0, 16);
		}
	}
	if (rf & XSAVE_PKRU)
		emu_set_pkru(c, pkru);
}

/* XGETBV: XCR0 (ECX 0), or XCR0 AND XINUSE (ECX 1, with XGETBV1) */
void h_xgetbv(struct emu_cpu *c, const struct dinsn *d)
{
	if (!(c->cr4 & CR4_OSXSAVE))
		emu_raise(c, EXC_UD, 0, false);
	uint32_t idx = (uint32_t)c->r[R_CX];
	uint64_t v;
	if (idx == 0)
		v = c->xcr0;
	else if (idx == 1 && cpu_has(&c->vm->features, CPUF_XGETBV1))
		v = c->xcr0 & xinuse(c);
	else
		emu_raise_gp(c, 0);
	c->r[R_AX] = (uint32_t)v;
	c->r[R_DX] = v >> 32;
}

/* XSETBV: CPL 0 only; the value checks are sys_xsave.c's */
void h_xsetbv(struct emu_cpu *c, const struct dinsn *d)
{
	if (!(c->cr4 & CR4_OSXSAVE))
		emu_raise(c, EXC_UD, 0, false);
	need_cpl0(c);
	emu_write_xcr(c, (uint32_t)c->r[R_CX],
		      (uint64_t)(uint32_t)c->r[R_DX] << 32 | (uint32_t)c->r[R_AX]);
}
