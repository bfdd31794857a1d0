/* SPDX-License-Identifier: MIT */
/*
 * The FXSAVE image (FXSAVE/FXRSTOR, 32- and 64-bit layouts), which is also
 * the legacy region of an XSAVE area (insn_xsave.c): its x87 part and
 * its SSE part, saved and loaded separately.
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_x87.h"

void fx_save_x87(struct emu_cpu *c, uint64_t lin, bool rex_w)
{
	mwrite(c, lin + 0, 2, c->fcw);
	mwrite(c, lin + 2, 2, c->fsw);
	mwrite(c, lin + 4, 1, c->ftw);
	mwrite(c, lin + 5, 1, 0);
	mwrite(c, lin + 6, 2, c->fop);
	mwrite(c, lin + 8, 8, rex_w ? c->fip : (uint32_t)c->fip);
	mwrite(c, lin + 16, 8, rex_w ? c->fdp : (uint32_t)c->fdp);
	for (int i = 0; i < 8; i++) {
		/* FXSAVE stores ST(i) order, not physical order */
		const uint8_t *r = c->fpr[(x87_top(c) + i) & 7];
		uint64_t lo;
		uint16_t hi;
		memcpy(&lo, r, 8);
		memcpy(&hi, r + 8, 2);
		mwrite(c, lin + 32 + i * 16, 8, lo);
		mwrite(c, lin + 40 + i * 16, 8, hi);
	}
}

void fx_save_mxcsr(struct emu_cpu *c, uint64_t lin)
{
	mwrite(c, lin + 24, 4, c->mxcsr);
	mwrite(c, lin + 28, 4, MXCSR_MASK);
}

void fx_save_xmm(struct emu_cpu *c, uint64_t lin)
{
	int nx = c->cmode == 8 ? 16 : 8;
	for (int i = 0; i < nx; i++) {
		mwrite(c, lin + 160 + i * 16, 8, c->xmm[i].q[0]);
		mwrite(c, lin + 168 + i * 16, 8, c->xmm[i].q[1]);
	}
}

void fx_load_x87(struct emu_cpu *c, const uint8_t *buf, bool rex_w)
{
	uint16_t cw;
	memcpy(&cw, buf, 2);
	c->fcw = x87_fcw_load(cw);
	uint16_t sw;
	memcpy(&sw, buf + 2, 2);
	c->fsw = x87_fsw_load(sw, c->fcw);
	c->ftw = buf[4];
	memcpy(&c->fop, buf + 6, 2);
	c->fop &= 0x7ff; /* the opcode has 11 bits */
	memcpy(&c->fip, buf + 8, 8);
	memcpy(&c->fdp, buf + 16, 8);
	if (!rex_w) {
		c->fip = (uint32_t)c->fip;
		c->fdp = (uint32_t)c->fdp;
	}
	for (int i = 0; i < 8; i++) {
		uint8_t *r = c->fpr[(x87_top(c) + i) & 7];
		memset(r, 0, 16);
		memcpy(r, buf + 32 + i * 16, 10);
	}
}

void fx_load_xmm(struct emu_cpu *c, const uint8_t *buf)
{
	int nx = c->cmode == 8 ? 16 : 8;
	for (int i = 0; i < nx; i++)
		memcpy(&c->xmm[i], buf + 160 + i * 16, 16);
}

static void fxsave(struct emu_cpu *c, uint64_t lin, bool rex_w)
{
	if (lin & 15)
		emu_raise_gp(c, 0);
	mmu_lookup(c, lin, 1, c->cpl == 3);
	mmu_lookup(c, lin + 511, 1, c->cpl == 3);
	fx_save_x87(c, lin, rex_w);
	fx_save_mxcsr(c, lin);
	fx_save_xmm(c, lin);
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
	fx_load_x87(c, buf, rex_w);
	c->mxcsr = mx;
	fx_load_xmm(c, buf);
}

/* FXSAVE (arg 0), FXSAVE64 (arg 1: 64-bit FIP/FDP) */
void h_fxsave(struct emu_cpu *c, const struct dinsn *d)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		emu_raise(c, (c->cr0 & CR0_EM) ? EXC_UD : EXC_NM, 0, false);
	fxsave(c, mem_lin_w(c, d, 512), insn_arg(d));
}

/* FXRSTOR (arg 0), FXRSTOR64 (arg 1) */
void h_fxrstor(struct emu_cpu *c, const struct dinsn *d)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		emu_raise(c, (c->cr0 & CR0_EM) ? EXC_UD : EXC_NM, 0, false);
	fxrstor(c, mem_lin_n(c, d, 512), insn_arg(d));
}
