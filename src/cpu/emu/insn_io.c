/* SPDX-License-Identifier: MIT */
/*
 * Port I/O: IN and OUT (INS and OUTS are string rows, insn_string.c), the
 * IOPL check they share with CLI/STI, the TSS's I/O permission bitmap,
 * and the accesses to the machine's port bus.
 */
#include "core/ratelimit.h"
#include "cpu/emu/insn.h"
#include "cpu/emu/sys.h"

void io_check(struct emu_cpu *c)
{
	if ((c->cr0 & CR0_PE) && c->cpl > (int)((c->flags & F_IOPL) >> 12))
		emu_raise_gp(c, 0);
}

/* SDM vol. 1, 19.5: with CPL > IOPL in protected mode, the accessed
 * ports' bits in the TSS's I/O permission bitmap must all be clear. The
 * bitmap starts at the 16-bit offset at TSS+0x66; the CPU reads the two
 * bytes holding the first port's bit, and both must lie within the TSS
 * limit. Anything else (no 32/64-bit TSS, a short one) is #GP(0). */
void io_port_check(struct emu_cpu *c, uint16_t port, unsigned size)
{
	if (!(c->cr0 & CR0_PE) || c->cpl <= (int)((c->flags & F_IOPL) >> 12))
		return;
	unsigned type = c->tr.attr & 0xf; /* 9/11: available/busy 32/64-bit TSS */
	if ((type != 9 && type != 11) || c->tr.limit < 0x67)
		emu_raise_gp(c, 0);
	uint32_t off = (uint32_t)lin_read_sys(c, c->tr.base + 0x66, 2) + port / 8u;
	if (off + 1 > c->tr.limit)
		emu_raise_gp(c, 0);
	uint32_t bits = (uint32_t)lin_read_sys(c, c->tr.base + off, 2);
	if (bits & (((1u << size) - 1) << (port & 7)))
		emu_raise_gp(c, 0);
}

uint64_t port_in(struct emu_cpu *c, uint16_t port, unsigned size)
{
	if (__builtin_expect(c->dbg_on, 0))
		emu_dbg_port(c, port, size);
	uint64_t v = 0;
	c->slow = true; /* the device may have stopped the VM */
	uint64_t t0 = __builtin_ia32_rdtsc();
	bool claimed = bus_access(&c->m->pio, &c->pio_hint, port, size, false, &v);
	uint64_t t1 = __builtin_ia32_rdtsc();
	c->io_tsc = t0 + (t1 - t0) / 2;
	c->io_icount = c->icount;
	c->io_deliveries = c->deliveries;
	c->io_tsc_set = true;
	if (!claimed && c->m->trace_unclaimed_io)
		guest_log("emu: unclaimed in %#x/%u", port, size);
	return v & szmask(size);
}

void port_out(struct emu_cpu *c, uint16_t port, unsigned size, uint64_t v)
{
	if (__builtin_expect(c->dbg_on, 0))
		emu_dbg_port(c, port, size);
	v &= szmask(size);
	c->slow = true;
	if (!bus_access(&c->m->pio, &c->pio_hint, port, size, true, &v) && c->m->trace_unclaimed_io)
		guest_log("emu: unclaimed out %#x/%u = %#llx", port, size, (unsigned long long)v);
}

void h_in(struct emu_cpu *c, const struct dinsn *d)
{
	uint16_t port = d->op[1].kind == DOP_IMM ? (uint16_t)(d->imm & 0xff) : (uint16_t)c->r[R_DX];
	io_port_check(c, port, d->op[0].size);
	set_reg(c, R_AX, d->op[0].size, port_in(c, port, d->op[0].size));
}

void h_out(struct emu_cpu *c, const struct dinsn *d)
{
	uint16_t port = d->op[0].kind == DOP_IMM ? (uint16_t)(d->imm & 0xff) : (uint16_t)c->r[R_DX];
	io_port_check(c, port, d->op[1].size);
	port_out(c, port, d->op[1].size, c->r[R_AX]);
}
