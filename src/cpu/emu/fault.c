/* SPDX-License-Identifier: MIT */
#include "cpu/emu/fault.h"

_Noreturn void emu_raise(struct emu_cpu *c, int vec, uint32_t err, bool has_err)
{
	c->pending_exc = vec;
	c->pending_err = err;
	c->pending_has_err = has_err;
	longjmp(c->fault_jmp, 1);
}

_Noreturn void emu_raise_gp(struct emu_cpu *c, uint32_t err)
{
	emu_raise(c, EXC_GP, err, true);
}

void emu_seg_check(struct emu_cpu *c, int seg, uint64_t off, unsigned size)
{
	const struct seg *s = &c->seg[seg];
	int vec = seg == SEG_SS ? EXC_SS : EXC_GP;
	/* A null selector loaded in protected mode leaves the register
	 * unusable (attr 0): any access through it is #GP(0). Real mode
	 * loads keep the attributes (and the limit: unreal mode). */
	if ((c->cr0 & CR0_PE) && !(s->attr & SA_P))
		emu_raise(c, vec, 0, true);
	/* An execute-only code segment (only CS can hold one in protected
	 * mode: loads refuse it elsewhere) cannot be read through. */
	if ((c->cr0 & CR0_PE) && (s->attr & 0x1a) == 0x18)
		emu_raise(c, vec, 0, true);
	uint64_t last = off + size - 1;
	if ((s->attr & 0x1c) == 0x14) {
		/* Expand-down data: offsets above the limit, up to 0xffff or,
		 * with the B bit, 0xffffffff. */
		uint64_t top = (s->attr & SA_DB) ? 0xffffffffULL : 0xffffULL;
		if (off > s->limit && last <= top && last >= off)
			return;
	} else if (last <= s->limit && last >= off) {
		return;
	}
	emu_raise(c, vec, 0, true);
}
