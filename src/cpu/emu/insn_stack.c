/* SPDX-License-Identifier: MIT */
/*
 * Stack instructions: PUSH and POP (registers, memory, immediates,
 * segment registers), PUSHF/POPF (privilege-checked IF and IOPL),
 * PUSHA/POPA, LEAVE, ENTER (nesting level 0), and the specialised 64-bit
 * PUSH/POP classes.
 */
#include "cpu/emu/insn.h"
#include "cpu/emu/sys.h"

void h_push(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned os = d->osize;
	if (d->op[0].kind == DOP_SEG) {
		push(c, os, c->seg[d->op[0].reg].sel);
		return;
	}
	uint64_t v = opr(c, d, 0);
	if (d->op[0].kind == DOP_IMM)
		v = (uint64_t)d->imm;
	push(c, os, v);
}

void h_pop(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned os = d->osize;
	uint64_t v;
	if (d->op[0].kind == DOP_SEG) {
		uint64_t sp = c->r[R_SP];
		v = pop(c, os);
		c->r[R_SP] = sp;
		emu_load_seg(c, d->op[0].reg, (uint16_t)v);
		pop(c, os);
		if (d->op[0].reg == SEG_SS) {
			c->irq_shadow = 1;
			c->slow = true;
		}
		return;
	}
	if (d->op[0].kind == DOP_MEM) {
		/* The address uses RSP after the pop. */
		uint64_t sp = c->r[R_SP];
		v = pop(c, os);
		uint64_t lin = mem_lin_w(c, d, os);
		uint64_t nsp = c->r[R_SP];
		c->r[R_SP] = sp;
		lin_write(c, lin, os, v);
		c->r[R_SP] = nsp;
		return;
	}
	v = pop(c, os);
	set_reg(c, d->op[0].reg, os, v);
}

/* PUSHF PUSHFD PUSHFQ */
void h_pushf(struct emu_cpu *c, const struct dinsn *d)
{
	push(c, d->osize, get_flags(c) & ~(uint64_t)(F_RF | F_VM));
}

/* POPF POPFD POPFQ */
void h_popf(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = pop(c, d->osize);
	uint64_t mask = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID;
	if (c->cpl == 0)
		mask |= F_IOPL;
	if (c->cpl <= (int)((c->flags & F_IOPL) >> 12) || !(c->cr0 & CR0_PE))
		mask |= F_IF;
	if (d->osize == 2)
		mask &= 0xffff;
	get_flags(c);
	c->flags = (c->flags & ~mask) | (v & mask) | 2;
	emu_poke(c);
}

/* PUSHA PUSHAD */
void h_pusha(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t sp = c->r[R_SP];
	for (int i = 0; i < 8; i++)
		push(c, d->osize, i == R_SP ? sp : c->r[i]);
}

/* POPA POPAD */
void h_popa(struct emu_cpu *c, const struct dinsn *d)
{
	for (int i = 7; i >= 0; i--) {
		uint64_t v = pop(c, d->osize);
		if (i != R_SP)
			set_reg(c, i, d->osize, v);
	}
}

void h_leave(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned os = d->osize, ss = stack_size(c);
	uint64_t bp = c->r[R_BP] & szmask(ss);
	uint64_t v = lin_read(c, seg_lin(c, SEG_SS, bp), os);
	set_sp(c, bp + os);
	set_reg(c, R_BP, os, v);
}

void h_enter(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned os = d->osize;
	if (d->imm2 & 0x1f) {
		emu_report_unimpl(c, d);
		emu_raise(c, EXC_UD, 0, false);
	}
	push(c, os, c->r[R_BP]);
	uint64_t fp = c->r[R_SP];
	set_sp(c, c->r[R_SP] - (uint16_t)d->imm);
	set_reg(c, R_BP, os, fp);
}

/* The specialised classes: 64-bit mode, a 64-bit register. */
void h_fast_push(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t sp = c->r[R_SP] - 8;
	mwrite(c, sp, 8, c->r[d->op[0].reg]);
	c->r[R_SP] = sp;
}

void h_fast_pop(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = mread(c, c->r[R_SP], 8);
	c->r[R_SP] += 8;
	c->r[d->op[0].reg] = v;
}
