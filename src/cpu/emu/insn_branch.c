/* SPDX-License-Identifier: MIT */
/*
 * Branches and conditions: JMP (near and far), Jcc, JCXZ/JECXZ/JRCXZ,
 * LOOP/LOOPE/LOOPNE, CALL and RET (near and far), SETcc, CMOVcc, and the
 * specialised 64-bit near Jcc/CALL/RET classes. A branch sets
 * c->next_rip; far transfers go through sys.h.
 */
#include "cpu/emu/insn.h"
#include "cpu/emu/sys.h"

/* A far pointer operand: ptr16:16/32 immediate or m16:16/32/64. */
static void far_target(struct emu_cpu *c, const struct dinsn *d, uint16_t *sel, uint64_t *off)
{
	if (d->op[0].kind == DOP_PTR) {
		*off = (uint64_t)d->imm;
		*sel = (uint16_t)d->imm2;
		return;
	}
	uint64_t lin = mem_lin_n(c, d, d->osize + 2u);
	*off = lin_read(c, lin, d->osize);
	*sel = (uint16_t)lin_read(c, lin + d->osize, 2);
}

void h_jmp(struct emu_cpu *c, const struct dinsn *d)
{
	if (d->flags & DI_FAR) {
		uint16_t sel;
		uint64_t off;
		far_target(c, d, &sel, &off);
		emu_far_jump(c, sel, off, false, d->osize);
		return;
	}
	jump_to(c, d, (d->flags & DI_RELBR) ? rel_target(c, d) : opr(c, d, 0));
}

/* JO .. JNLE: the condition is the opcode's low nibble */
void h_jcc(struct emu_cpu *c, const struct dinsn *d)
{
	if (cond(c, d->opcode & 0xf))
		jump_to(c, d, rel_target(c, d));
}

/* JCXZ JECXZ JRCXZ */
void h_jcxz(struct emu_cpu *c, const struct dinsn *d)
{
	if (!(c->r[R_CX] & szmask(d->asize)))
		jump_to(c, d, rel_target(c, d));
}

/* LOOP LOOPE LOOPNE */
void h_loop(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t m = szmask(d->asize);
	uint64_t cnt = (c->r[R_CX] - 1) & m;
	c->r[R_CX] = (c->r[R_CX] & ~m) | cnt;
	bool take = cnt != 0;
	if (d->mnem == ZYDIS_MNEMONIC_LOOPE)
		take = take && (get_flags(c) & F_ZF);
	else if (d->mnem == ZYDIS_MNEMONIC_LOOPNE)
		take = take && !(get_flags(c) & F_ZF);
	if (take)
		jump_to(c, d, rel_target(c, d));
}

void h_setcc(struct emu_cpu *c, const struct dinsn *d)
{
	opw(c, d, 0, cond(c, d->opcode & 0xf));
}

void h_cmovcc(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = opr(c, d, 1); /* the source is read (and may fault) either way */
	if (cond(c, d->opcode & 0xf))
		set_reg(c, d->op[0].reg, d->op[0].size, v);
	else if (d->op[0].size == 4)
		set_reg(c, d->op[0].reg, 4, get_reg(c, d->op[0].reg, 4));
}

void h_call(struct emu_cpu *c, const struct dinsn *d)
{
	if (d->flags & DI_FAR) {
		uint16_t sel;
		uint64_t off;
		far_target(c, d, &sel, &off);
		emu_far_jump(c, sel, off, true, d->osize);
		return;
	}
	uint64_t v = near_target(c, d, (d->flags & DI_RELBR) ? rel_target(c, d) : opr(c, d, 0));
	push(c, d->osize, c->next_rip);
	c->next_rip = v;
}

void h_ret(struct emu_cpu *c, const struct dinsn *d)
{
	if (d->flags & DI_FAR) {
		emu_far_ret(c, d->osize, d->nops ? (uint16_t)d->imm : 0);
		return;
	}
	uint64_t sp = c->r[R_SP];
	uint64_t v = pop(c, d->osize);
	c->r[R_SP] = sp; /* a target beyond CS's limit faults with RSP unchanged */
	v = near_target(c, d, v);
	set_sp(c, sp + d->osize);
	if (d->nops)
		set_sp(c, c->r[R_SP] + (uint16_t)d->imm);
	c->next_rip = v;
}

/* The specialised classes: 64-bit mode, 64-bit operand size. */
void h_fast_jcc(struct emu_cpu *c, const struct dinsn *d)
{
	if (cond(c, d->opcode & 0xf))
		c->next_rip += (uint64_t)d->imm;
}

void h_fast_call(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t sp = c->r[R_SP] - 8;
	mwrite(c, sp, 8, c->next_rip);
	c->r[R_SP] = sp;
	c->next_rip += (uint64_t)d->imm;
}

void h_fast_ret(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = mread(c, c->r[R_SP], 8);
	c->r[R_SP] += 8;
	c->next_rip = v;
}
