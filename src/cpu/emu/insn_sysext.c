/* SPDX-License-Identifier: MIT */
/*
 * Small system-level extensions: RDRAND and RDSEED (from the host's
 * getrandom), RDPID (IA32_TSC_AUX), RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE
 * (64-bit mode with CR4.FSGSBASE), RDPKRU/WRPKRU (CR4.PKE), and the
 * model-less #UD row for
 * instructions the VM's CPU model leaves out.
 */
#include <sys/random.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/sys.h"

/* An instruction outside the VM's CPU model (decode.c): #UD, as a CPU
 * without the feature gives, and nothing reported. */
void h_nofeat(struct emu_cpu *c, const struct dinsn *d)
{
	emu_raise(c, EXC_UD, 0, false);
}

/* RDRAND RDSEED: a random value and CF=1; CF=0 and a zero result when
 * the host has no randomness to give right now (software retries, as
 * it must on hardware); the other arithmetic flags cleared */
void h_rdrand(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = 0;
	unsigned sz = d->op[0].size;
	bool ok = getrandom(&v, sz, GRND_NONBLOCK) == (ssize_t)sz;
	opw(c, d, 0, ok ? v : 0);
	set_arith(c, ok ? F_CF : 0);
}

/* RDPID: IA32_TSC_AUX into a 64-bit (32-bit outside 64-bit mode) register */
void h_rdpid(struct emu_cpu *c, const struct dinsn *d)
{
	set_reg(c, d->op[0].reg, c->cmode == 8 ? 8 : 4, c->tsc_aux);
}

/* RDPKRU: PKRU into EAX, EDX 0; #UD without CR4.PKE, #GP(0) unless ECX 0 */
void h_rdpkru(struct emu_cpu *c, const struct dinsn *d)
{
	if (!(c->cr4 & CR4_PKE))
		emu_raise(c, EXC_UD, 0, false);
	if ((uint32_t)c->r[R_CX])
		emu_raise_gp(c, 0);
	c->r[R_AX] = c->pkru;
	c->r[R_DX] = 0;
}

/* WRPKRU: EAX into PKRU, any CPL; #UD without CR4.PKE, #GP(0) unless ECX
 * and EDX are 0. The TLB holds no page whose key PKRU restricts (mmu.c),
 * so a change flushes it. */
void h_wrpkru(struct emu_cpu *c, const struct dinsn *d)
{
	if (!(c->cr4 & CR4_PKE))
		emu_raise(c, EXC_UD, 0, false);
	if ((uint32_t)c->r[R_CX] || (uint32_t)c->r[R_DX])
		emu_raise_gp(c, 0);
	emu_set_pkru(c, (uint32_t)c->r[R_AX]);
}

/* RDFSBASE RDGSBASE (arg SEG_FS/SEG_GS): #UD outside 64-bit mode or
 * without CR4.FSGSBASE */
void h_rdfsbase(struct emu_cpu *c, const struct dinsn *d)
{
	if (c->cmode != 8 || !(c->cr4 & CR4_FSGSBASE))
		emu_raise(c, EXC_UD, 0, false);
	set_reg(c, d->op[0].reg, d->op[0].size, c->seg[insn_arg(d)].base);
}

/* WRFSBASE WRGSBASE: a 32-bit source zero-extends; #GP(0) for a
 * non-canonical 64-bit one */
void h_wrfsbase(struct emu_cpu *c, const struct dinsn *d)
{
	if (c->cmode != 8 || !(c->cr4 & CR4_FSGSBASE))
		emu_raise(c, EXC_UD, 0, false);
	uint64_t v = get_reg(c, d->op[0].reg, d->op[0].size);
	if ((uint64_t)((int64_t)(v << 16) >> 16) != v)
		emu_raise_gp(c, 0);
	c->seg[insn_arg(d)].base = v;
}
