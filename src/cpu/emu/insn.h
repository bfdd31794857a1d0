/* SPDX-License-Identifier: MIT */
/*
 * The interpreter's instruction handlers: one per row (or group of rows)
 * of the instruction table, in family files (insn_alu.c, insn_shift.c,
 * insn_muldiv.c, insn_bits.c, insn_atomic.c, insn_mov.c, insn_string.c,
 * insn_branch.c, insn_stack.c, insn_io.c, insn_system.c, insn_desc.c,
 * insn_legacy.c, insn_sse.c, insn_ssefp.c, insn_x87.c, insn_fxsr.c). A
 * handler runs one
 * decoded instruction: c->rip is the instruction, c->next_rip the next
 * one (a branch changes it); a fault raises through fault.h before any
 * register is committed. The run loop's own inline forms for the common
 * cases live in the families' headers (insn_alu.h, ...).
 *
 * Owning vCPU thread only.
 */
#ifndef VMON_CPU_EMU_INSN_H
#define VMON_CPU_EMU_INSN_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/emu/decode.h"
#include "cpu/emu/fault.h"
#include "cpu/emu/flags.h"
#include "cpu/emu/operand.h"
#include "cpu/emu/svm.h"
#include "cpu/emu/table.h"

typedef void emu_handler(struct emu_cpu *c, const struct dinsn *d);

/* Every handler the table names, and the table of them by row. */
#define INSN(id, handler, ...) emu_handler handler;
#define STR(id, handler, ...)  emu_handler handler;
#define SPEC(id, handler, ...) emu_handler handler;
#include "cpu/emu/insns.def"
extern emu_handler *const emu_handlers[I_COUNT];

/* Runs d through its row's handler (the run loop's f_exec, and every
 * instruction decoded on its own). */
static inline void emu_exec_insn(struct emu_cpu *c, const struct dinsn *d)
{
	/* In an SVM guest, the intercepts come first (insn_svm.c). */
	if (__builtin_expect(c->svm.guest, 0) && svm_insn_intercept(c, d))
		return;
	emu_handlers[d->row](c, d);
}

/* The arg column of d's row. */
static inline int32_t insn_arg(const struct dinsn *d)
{
	return emu_insns[d->row].arg;
}

/* ---- Shared by the families ------------------------------------------- */

/* A near branch's target, truncated to the operand size outside 64-bit
 * operands; outside 64-bit mode a target beyond CS's limit is #GP(0) at
 * the branch (SDM vol. 3 5.3), before the branch commits anything. */
static inline uint64_t near_target(struct emu_cpu *c, const struct dinsn *d, uint64_t target)
{
	unsigned os = d->osize;
	if (c->cmode == 8 && os != 2)
		return target;
	target = os == 2 ? (target & 0xffff) : (uint32_t)target;
	if (__builtin_expect(c->cmode != 8 && target > c->seg[SEG_CS].limit, 0))
		emu_raise_gp(c, 0);
	return target;
}

static inline void jump_to(struct emu_cpu *c, const struct dinsn *d, uint64_t target)
{
	c->next_rip = near_target(c, d, target);
}

static inline uint64_t rel_target(struct emu_cpu *c, const struct dinsn *d)
{
	return c->next_rip + (uint64_t)d->imm;
}

static inline unsigned stack_size(struct emu_cpu *c)
{
	return c->cmode == 8 ? 8 : (c->seg[SEG_SS].attr & SA_DB) ? 4 : 2;
}

static inline void set_sp(struct emu_cpu *c, uint64_t sp)
{
	unsigned ss = stack_size(c);
	if (ss == 8)
		c->r[R_SP] = sp;
	else if (ss == 4)
		c->r[R_SP] = (uint32_t)sp;
	else
		c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | (sp & 0xffff);
}

static inline void push(struct emu_cpu *c, unsigned size, uint64_t v)
{
	uint64_t sp = amask(stack_size(c), c->r[R_SP] - size);
	mwrite(c, seg_lin_w(c, SEG_SS, sp, size), size, v);
	set_sp(c, sp);
}

static inline uint64_t pop(struct emu_cpu *c, unsigned size)
{
	uint64_t sp = amask(stack_size(c), c->r[R_SP]);
	uint64_t v = mread(c, seg_lin_n(c, SEG_SS, sp, size), size);
	set_sp(c, sp + size);
	return v;
}

/* insn_io.c: #GP unless CPL <= IOPL (in protected mode); port accesses
 * through the machine's port bus (they may stop the VM: c->slow). */
void io_check(struct emu_cpu *c);
/* The same for IN/OUT/INS/OUTS of size bytes at port: the TSS's I/O
 * permission bitmap decides when CPL > IOPL. */
void io_port_check(struct emu_cpu *c, uint16_t port, unsigned size);
uint64_t port_in(struct emu_cpu *c, uint16_t port, unsigned size);
void port_out(struct emu_cpu *c, uint16_t port, unsigned size, uint64_t v);

/* insn_system.c: #GP(0) unless CPL 0. */
void need_cpl0(struct emu_cpu *c);
/* insn_system.c: #GP(0) for SGDT/SIDT/SLDT/STR/SMSW above CPL 0 with CR4.UMIP. */
void umip_check(struct emu_cpu *c);

#endif
