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
