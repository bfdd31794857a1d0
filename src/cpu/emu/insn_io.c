/* SPDX-License-Identifier: MIT */
/*
 * Port I/O: IN and OUT (INS and OUTS are string rows, insn_string.c), the
 * IOPL check they share with CLI/STI, and the accesses to the machine's
 * port bus. No I/O permission bitmap: CPL > IOPL is #GP.
 */
#include "core/ratelimit.h"
#include "cpu/emu/insn.h"

void io_check(struct emu_cpu *c)
{
	if ((c->cr0 & CR0_PE) && c->cpl > (int)((c->flags & F_IOPL) >> 12))
		emu_raise_gp(c, 0);
}

uint64_t port_in(struct emu_cpu *c, uint16_t port, unsigned size)
{
	uint64_t v = 0;
	c->slow = true; /* the device may have stopped the VM */
	if (!bus_access(&c->m->pio, &c->pio_hint, port, size, false, &v) &&
	    c->m->trace_unclaimed_io)
		guest_log("emu: unclaimed in %#x/%u", port, size);
	return v & szmask(size);
}

void port_out(struct emu_cpu *c, uint16_t port, unsigned size, uint64_t v)
{
	v &= szmask(size);
	c->slow = true;
	if (!bus_access(&c->m->pio, &c->pio_hint, port, size, true, &v) && c->m->trace_unclaimed_io)
		guest_log("emu: unclaimed out %#x/%u = %#llx", port, size, (unsigned long long)v);
}

void h_in(struct emu_cpu *c, const struct dinsn *d)
{
	io_check(c);
	uint16_t port = d->op[1].kind == DOP_IMM ? (uint16_t)(d->imm & 0xff) : (uint16_t)c->r[R_DX];
	set_reg(c, R_AX, d->op[0].size, port_in(c, port, d->op[0].size));
}

void h_out(struct emu_cpu *c, const struct dinsn *d)
{
	io_check(c);
	uint16_t port = d->op[0].kind == DOP_IMM ? (uint16_t)(d->imm & 0xff) : (uint16_t)c->r[R_DX];
	port_out(c, port, d->op[1].size, c->r[R_AX]);
}
