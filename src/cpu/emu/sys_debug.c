/* SPDX-License-Identifier: MIT */
/*
 * Debug registers (SDM vol. 3B ch. 17): MOV to and from DR0-DR7 (DR4/DR5
 * alias DR6/DR7 unless CR4.DE, which makes them #UD; DR6/DR7's fixed and
 * reserved bits; DR7.GD's general-detect #DB), instruction breakpoints
 * (DR7 type 00: a #DB fault before the instruction at DRn's linear
 * address runs, DR6.Bn set, suppressed once by RFLAGS.RF) and the
 * single-step trap's DR6.BS; I/O breakpoints (type 10 with CR4.DE). The
 * run loop (run.c: step_one) takes one instruction at a time while TF or
 * any breakpoint is on (emu_cpu.dbg_on) and reports data and I/O
 * breakpoints as traps after the instruction; with a data breakpoint
 * armed the TLB keeps nothing, so every access reaches mmu.c's check.
 */
#include "cpu/emu/fault.h"
#include "cpu/emu/mmu.h"
#include "cpu/emu/sys.h"

#define DR6_FIXED_1  0xffff0ff0ULL
#define DR6_BD	     0x2000ULL
#define DR7_VOLATILE 0xffff2bffULL
#define DR7_FIXED_1  0x400ULL
#define DR7_GD	     0x2000ULL

void emu_dbg_update(struct emu_cpu *c)
{
	bool on = false, data = false;
	for (int i = 0; i < 4; i++) {
		bool enabled = (c->dr[7] >> (2 * i)) & 3;
		unsigned type = (c->dr[7] >> (16 + 4 * i)) & 3;
		on |= enabled;
		data |= enabled && (type == 1 || type == 3);
	}
	c->dbg_on = on;
	if (data != c->dbg_data)
		tlb_flush(c); /* entries kept before would pass the check by */
	c->dbg_data = data;
}

void emu_dbg_port(struct emu_cpu *c, uint16_t port, unsigned size)
{
	static const uint8_t lens[4] = {1, 2, 8, 4};
	if (!(c->cr4 & CR4_DE))
		return;
	for (int i = 0; i < 4; i++) {
		if (((c->dr[7] >> (16 + 4 * i)) & 3) != 2)
			continue;
		uint64_t len = lens[(c->dr[7] >> (18 + 4 * i)) & 3];
		uint64_t a = (c->dr[i] & 0xffff) & ~(len - 1);
		if (port < a + len && a < (uint64_t)port + size)
			c->dbg_hits |= (uint8_t)(1u << i);
	}
}

/* DR4/DR5: DR6/DR7 without CR4.DE, #UD with it. */
static int dr_index(struct emu_cpu *c, int n)
{
	if (n == 4 || n == 5) {
		if (c->cr4 & CR4_DE)
			emu_raise(c, EXC_UD, 0, false);
		return n + 2;
	}
	return n;
}

/* DR7.GD: any MOV DR faults first, with DR6.BD; GD is cleared so the
 * handler can use the registers. */
static void general_detect(struct emu_cpu *c)
{
	if (!(c->dr[7] & DR7_GD))
		return;
	c->dr[6] |= DR6_BD;
	c->dr[7] &= ~DR7_GD;
	emu_dbg_update(c);
	emu_raise(c, EXC_DB, 0, false);
}

uint64_t emu_read_dr(struct emu_cpu *c, int n)
{
	n = dr_index(c, n);
	general_detect(c);
	return c->dr[n];
}

void emu_write_dr(struct emu_cpu *c, int n, uint64_t v)
{
	n = dr_index(c, n);
	general_detect(c);
	if (c->cmode != 8)
		v &= 0xffffffffULL;
	if (n >= 6 && (v >> 32))
		emu_raise_gp(c, 0);
	if (n == 6)
		v = (v & ~DR6_FIXED_1 & 0xffffffffULL) | DR6_FIXED_1;
	else if (n == 7)
		v = (v & DR7_VOLATILE) | DR7_FIXED_1;
	c->dr[n] = v;
	if (n == 7 || n < 4)
		emu_dbg_update(c);
	c->slow = true; /* the run loop looks at dbg_on between instructions */
}

void emu_dbg_check_insn(struct emu_cpu *c)
{
	uint64_t lin = c->seg[SEG_CS].base + c->rip;
	if (c->cmode != 8)
		lin &= 0xffffffffULL;
	uint64_t hits = 0;
	bool enabled_hit = false;
	for (int i = 0; i < 4; i++) {
		unsigned type = (c->dr[7] >> (16 + 4 * i)) & 3;
		if (type != 0 || c->dr[i] != lin)
			continue;
		hits |= 1ULL << i;
		enabled_hit |= ((c->dr[7] >> (2 * i)) & 3) != 0;
	}
	if (!enabled_hit)
		return;
	c->dr[6] = (c->dr[6] & ~0xfULL) | hits;
	emu_raise(c, EXC_DB, 0, false);
}
