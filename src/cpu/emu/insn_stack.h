/* SPDX-License-Identifier: MIT */
/*
 * The run loop's stack forms.
 */
#ifndef VMON_CPU_EMU_INSN_STACK_H
#define VMON_CPU_EMU_INSN_STACK_H

#include "cpu/emu/insn.h"

/* PUSH/POP of a 64-bit register in 64-bit mode (decode.c's forms). */
static inline __attribute__((always_inline)) void f_push64(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t sp = c->r[R_SP] - 8;
	mwrite(c, sp, 8, c->r[d->op[0].reg]);
	c->r[R_SP] = sp;
}

static inline __attribute__((always_inline)) void f_pop64(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = mread(c, c->r[R_SP], 8);
	c->r[R_SP] += 8;
	c->r[d->op[0].reg] = v;
}

#endif
