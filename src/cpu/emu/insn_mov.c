/* SPDX-License-Identifier: MIT */
/*
 * Data movement: MOV (incl. control, debug and segment registers),
 * MOVNTI, MOVZX, MOVSX, MOVSXD, LEA, the sign extensions CBW..CQO, XLAT,
 * the specialised 32/64-bit MOV/load/store/LEA classes, and the no-ops,
 * hints and fences.
 */
#include <sched.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/sys.h"

/* NOP ENDBR* PREFETCH* LFENCE SFENCE CLFLUSH: nothing to do (one
 * host thread per vCPU and host atomics keep the x86 ordering). */
void h_nop(struct emu_cpu *c, const struct dinsn *d)
{
}

/*
 * PAUSE: a spin-wait hint. A guest spinning on a lock whose holder's vCPU
 * thread the host has descheduled (other vCPUs, other processes) spins
 * until the host runs the holder again, on a host CPU the holder could
 * have used: KVM's pause-loop exiting yields there, and so does this.
 * c->pause_yield_run PAUSEs in a row (EMU_PAUSE_YIELD_RUN, or
 * VMON_EMU_PAUSE_YIELD=N; 0: never), each within PAUSE_GAP_TSC host
 * cycles of the one before (a spin loop, not code that pauses now and
 * then), yield the host CPU once (sched_yield: with nothing else runnable
 * it returns at once). Until 2026-12-07 PAUSE was a no-op: a 2-vCPU systemd
 * boot on a loaded host then spun ~200 M times in the kernel's qspinlock
 * and seqcount loops (README, "Spinning vCPUs").
 */
#define PAUSE_GAP_TSC 20000u

void h_pause(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t now = __builtin_ia32_rdtsc();
	c->pause_run = now - c->pause_tsc < PAUSE_GAP_TSC ? c->pause_run + 1 : 0;
	c->pause_tsc = now;
	c->stat_pauses++;
	if (c->pause_yield_run && c->pause_run >= c->pause_yield_run) {
		c->pause_run = 0;
		c->stat_pause_yields++;
		sched_yield();
	}
}

void h_mfence(struct emu_cpu *c, const struct dinsn *d)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void mov_cr(struct emu_cpu *c, const struct dinsn *d)
{
	need_cpl0(c);
	if (d->op[0].kind == DOP_CR) {
		emu_write_cr(c, d->op[0].reg, get_reg(c, d->op[1].reg, 8));
		return;
	}
	uint64_t cr;
	switch (d->op[1].reg) {
	case 0: cr = c->cr0; break;
	case 2: cr = c->cr2; break;
	case 3: cr = c->cr3; break;
	case 4: cr = c->cr4; break;
	case 8: cr = c->apic.tpr >> 4; break;
	default: emu_raise(c, EXC_UD, 0, false);
	}
	set_reg(c, d->op[0].reg, c->cmode == 8 ? 8 : 4, cr);
}

void h_mov(struct emu_cpu *c, const struct dinsn *d)
{
	if (d->op[0].kind == DOP_CR || d->op[1].kind == DOP_CR) {
		mov_cr(c, d);
		return;
	}
	if (d->op[0].kind == DOP_DR || d->op[1].kind == DOP_DR) {
		need_cpl0(c);
		if (d->op[0].kind == DOP_DR)
			emu_write_dr(c, d->op[0].reg & 7, get_reg(c, d->op[1].reg, 8));
		else
			set_reg(c, d->op[0].reg, c->cmode == 8 ? 8 : 4,
				emu_read_dr(c, d->op[1].reg & 7));
		return;
	}
	if (d->op[0].kind == DOP_SEG) {
		if (d->op[0].reg == SEG_CS)
			emu_raise(c, EXC_UD, 0, false);
		emu_load_seg(c, d->op[0].reg, (uint16_t)opr(c, d, 1));
		if (d->op[0].reg == SEG_SS) {
			c->irq_shadow = 1;
			c->slow = true;
		}
		return;
	}
	opw(c, d, 0, opr(c, d, 1));
}

/* MOVZX and MOVNTI */
void h_movzx(struct emu_cpu *c, const struct dinsn *d)
{
	opw(c, d, 0, opr(c, d, 1));
}

/* MOVSX and MOVSXD */
void h_movsx(struct emu_cpu *c, const struct dinsn *d)
{
	opw(c, d, 0, (uint64_t)sext(opr(c, d, 1), d->op[1].size));
}

void h_lea(struct emu_cpu *c, const struct dinsn *d)
{
	set_reg(c, d->op[0].reg, d->op[0].size, ea_off(c, d));
}

void h_cbw(struct emu_cpu *c, const struct dinsn *d)
{
	set_reg(c, R_AX, 2, (uint64_t)(int8_t)c->r[R_AX]);
}

void h_cwde(struct emu_cpu *c, const struct dinsn *d)
{
	set_reg(c, R_AX, 4, (uint64_t)(int16_t)c->r[R_AX]);
}

void h_cdqe(struct emu_cpu *c, const struct dinsn *d)
{
	c->r[R_AX] = (uint64_t)(int32_t)c->r[R_AX];
}

void h_cwd(struct emu_cpu *c, const struct dinsn *d)
{
	set_reg(c, R_DX, 2, (c->r[R_AX] & 0x8000) ? 0xffff : 0);
}

void h_cdq(struct emu_cpu *c, const struct dinsn *d)
{
	set_reg(c, R_DX, 4, (c->r[R_AX] & 0x80000000) ? 0xffffffff : 0);
}

void h_cqo(struct emu_cpu *c, const struct dinsn *d)
{
	c->r[R_DX] = (int64_t)c->r[R_AX] < 0 ? ~0ULL : 0;
}

void h_xlat(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t off = amask(d->asize, c->r[R_BX] + (c->r[R_AX] & 0xff));
	int s = d->seg == SEG_NONE ? SEG_DS : d->seg;
	set_reg(c, R_AX, 1, lin_read(c, seg_lin(c, s, off), 1));
}

/* The specialised classes (decode.c's forms): 32/64-bit operands only. */
void h_fast_mov_rr(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = c->r[d->op[1].reg];
	c->r[d->op[0].reg] = d->osize == 8 ? v : (uint32_t)v;
}

void h_fast_mov_ri(struct emu_cpu *c, const struct dinsn *d)
{
	c->r[d->op[0].reg] = d->osize == 8 ? (uint64_t)d->imm : (uint32_t)d->imm;
}

void h_fast_load(struct emu_cpu *c, const struct dinsn *d)
{
	c->r[d->op[0].reg] = mread(c, mem_lin_n(c, d, d->osize), d->osize);
}

void h_fast_store(struct emu_cpu *c, const struct dinsn *d)
{
	mwrite(c, mem_lin_w(c, d, d->osize), d->osize, c->r[d->op[1].reg]);
}

void h_fast_lea(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = ea_off(c, d);
	c->r[d->op[0].reg] = d->osize == 8 ? v : (uint32_t)v;
}
