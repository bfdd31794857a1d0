/* SPDX-License-Identifier: MIT */
/*
 * Privilege transitions: exception and interrupt delivery through the IVT
 * (real mode), 32-bit gates (TSS ESP0/SS0 on a privilege change) and
 * 64-bit gates (TSS RSP0, IST); IRET; SYSCALL and SYSRET.
 */
#include "cpu/emu/fault.h"
#include "cpu/emu/flags.h"
#include "cpu/emu/mmu.h"
#include "cpu/emu/sys.h"
#include "cpu/emu/sys_priv.h"

static void set_flags_priv(struct emu_cpu *c, uint64_t v, int osize, int old_cpl)
{
	uint64_t mask = F_ARITH | F_TF | F_DF | F_NT | F_RF | F_AC | F_ID;
	if (old_cpl == 0)
		mask |= F_IOPL;
	if (old_cpl <= (int)((c->flags & F_IOPL) >> 12))
		mask |= F_IF;
	if (osize == 2)
		mask &= 0xffff;
	uint64_t f = emu_flags(c);
	c->flags = (f & ~mask) | (v & mask) | 2;
	emu_poke(c);
}

void push_sys(struct emu_cpu *c, uint64_t *sp, unsigned size, uint64_t v, uint64_t ss_base,
	      uint64_t spmask)
{
	*sp = (*sp - size) & spmask;
	lin_write_deliver(c, ss_base + *sp, size, v);
}

void emu_deliver(struct emu_cpu *c, int vec, uint32_t err, bool has_err, bool soft,
		 uint64_t ret_rip)
{
	uint64_t fl = emu_flags(c);
	uint32_t ext = soft ? 0 : 1;
	c->deliveries++;
	if (!(c->cr0 & CR0_PE)) {
		if ((uint32_t)vec * 4 + 3 > c->idtr.limit)
			emu_raise_gp(c, 0);
		uint32_t ent = (uint32_t)lin_read_sys(c, c->idtr.base + (uint32_t)vec * 4, 4);
		uint64_t sp = c->r[R_SP] & 0xffff;
		uint64_t ssb = c->seg[SEG_SS].base;
		push_sys(c, &sp, 2, fl, ssb, 0xffff);
		push_sys(c, &sp, 2, c->seg[SEG_CS].sel, ssb, 0xffff);
		push_sys(c, &sp, 2, ret_rip, ssb, 0xffff);
		c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		c->flags &= ~(uint64_t)(F_IF | F_TF | F_AC);
		emu_load_seg(c, SEG_CS, (uint16_t)(ent >> 16));
		c->rip = ent & 0xffff;
		return;
	}
	bool lm = c->efer & EFER_LMA;
	unsigned gsz = lm ? 16 : 8;
	if ((uint32_t)vec * gsz + gsz - 1 > c->idtr.limit)
		emu_raise_gp(c, (uint32_t)vec * 8 + 2 + ext);
	uint64_t lo = lin_read_sys(c, c->idtr.base + (uint64_t)vec * gsz, 8);
	uint64_t hi = lm ? lin_read_sys(c, c->idtr.base + (uint64_t)vec * gsz + 8, 8) : 0;
	unsigned type = (lo >> 40) & 0xf;
	unsigned gdpl = (lo >> 45) & 3;
	bool gate32 = type == 0xe || type == 0xf;
	bool gate16 = !lm && (type == 0x6 || type == 0x7);
	if (!gate32 && !gate16)
		emu_raise_gp(c, (uint32_t)vec * 8 + 2 + ext);
	if (soft && (int)gdpl < c->cpl)
		emu_raise_gp(c, (uint32_t)vec * 8 + 2);
	if (!((lo >> 47) & 1))
		emu_raise(c, EXC_NP, (uint32_t)vec * 8 + 2 + ext, true);
	uint16_t sel = (lo >> 16) & 0xffff;
	uint64_t off = (lo & 0xffff) | (((lo >> 48) & 0xffff) << 16);
	if (lm)
		off |= (hi & 0xffffffffULL) << 32;
	bool trap = (type & 1);
	struct desc cd;
	code_desc(c, sel, &cd, ext);
	int dpl = (cd.attr >> 5) & 3;
	if (cd.attr & 0x4) /* conforming */
		dpl = c->cpl;
	if (dpl > c->cpl)
		emu_raise_gp(c, (sel & ~3u) + ext);
	uint16_t old_cs = c->seg[SEG_CS].sel, old_ss = c->seg[SEG_SS].sel;
	uint64_t old_sp = c->r[R_SP];

	if (lm) {
		if (!(cd.attr & SA_L))
			emu_raise_gp(c, (sel & ~3u) + ext);
		unsigned ist = (lo >> 32) & 7;
		uint64_t sp;
		if (ist)
			sp = lin_read_sys(c, c->tr.base + 0x24 + (ist - 1) * 8, 8);
		else if (dpl < c->cpl)
			sp = lin_read_sys(c, c->tr.base + 4 + (uint64_t)dpl * 8, 8);
		else
			sp = old_sp;
		sp &= ~0xfULL;
		push_sys(c, &sp, 8, old_ss, 0, ~0ULL);
		push_sys(c, &sp, 8, old_sp, 0, ~0ULL);
		push_sys(c, &sp, 8, fl, 0, ~0ULL);
		push_sys(c, &sp, 8, old_cs, 0, ~0ULL);
		push_sys(c, &sp, 8, ret_rip, 0, ~0ULL);
		if (has_err)
			push_sys(c, &sp, 8, err, 0, ~0ULL);
		if (dpl < c->cpl) {
			c->seg[SEG_SS].sel = (uint16_t)dpl;
			c->seg[SEG_SS].base = 0;
			c->seg[SEG_SS].attr = (uint16_t)(0x93 | (dpl << 5) | SA_DB | SA_G);
			c->seg[SEG_SS].limit = 0xffffffff;
		}
		c->r[R_SP] = sp;
	} else {
		unsigned psz = gate32 ? 4 : 2;
		uint64_t sp, ssb, spmask;
		bool outer = dpl < c->cpl;
		struct seg newss = c->seg[SEG_SS];
		if (outer) {
			uint64_t esp0 = lin_read_sys(c, c->tr.base + 4 + (uint64_t)dpl * 8, 4);
			uint16_t ss0 =
				(uint16_t)lin_read_sys(c, c->tr.base + 8 + (uint64_t)dpl * 8, 2);
			struct desc sd;
			if (!(ss0 & ~3u))
				emu_raise(c, EXC_TS, ss0 & ~3u, true);
			read_desc(c, ss0, &sd, EXC_TS);
			set_seg(&newss, ss0, sd.base, sd.limit, sd.attr);
			sp = esp0;
		} else {
			sp = old_sp;
		}
		spmask = (newss.attr & SA_DB) ? 0xffffffffULL : 0xffffULL;
		ssb = newss.base;
		sp &= spmask;
		if (outer) {
			push_sys(c, &sp, psz, old_ss, ssb, spmask);
			push_sys(c, &sp, psz, old_sp, ssb, spmask);
		}
		push_sys(c, &sp, psz, fl, ssb, spmask);
		push_sys(c, &sp, psz, old_cs, ssb, spmask);
		push_sys(c, &sp, psz, ret_rip, ssb, spmask);
		if (has_err)
			push_sys(c, &sp, psz, err, ssb, spmask);
		c->seg[SEG_SS] = newss;
		if (spmask == 0xffff)
			c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		else
			c->r[R_SP] = sp;
		if (!gate32)
			off &= 0xffff;
	}
	load_cs(c, sel, &cd, dpl);
	c->flags &= ~(uint64_t)(F_TF | F_NT | F_RF | F_VM);
	if (!trap)
		c->flags &= ~(uint64_t)F_IF;
	c->rip = off;
	c->halted = false;
}

uint64_t pop_sys(struct emu_cpu *c, uint64_t *sp, unsigned size, uint64_t ss_base, uint64_t spmask)
{
	uint64_t v = lin_read(c, ss_base + (*sp & spmask), size);
	*sp = (*sp + size) & spmask;
	return v;
}

void emu_iret(struct emu_cpu *c, int osize)
{
	int old_cpl = c->cpl;
	c->nmi_blocked = false; /* IRET ends an NMI handler's blocking */
	if (!(c->cr0 & CR0_PE)) {
		uint64_t sp = c->r[R_SP] & 0xffff;
		uint64_t ssb = c->seg[SEG_SS].base;
		unsigned sz = osize == 4 ? 4 : 2;
		uint64_t ip = pop_sys(c, &sp, sz, ssb, 0xffff);
		uint16_t cs = (uint16_t)pop_sys(c, &sp, sz, ssb, 0xffff);
		uint64_t fl = pop_sys(c, &sp, sz, ssb, 0xffff);
		c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		emu_load_seg(c, SEG_CS, cs);
		c->next_rip = ip;
		set_flags_priv(c, fl, sz, 0);
		return;
	}
	if (!(c->efer & EFER_LMA) && (c->flags & F_NT))
		emu_raise_gp(c, 0); /* task return: not modelled */
	unsigned ssz = c->cmode == 8 ? 8 : (c->seg[SEG_SS].attr & SA_DB) ? 4 : 2;
	uint64_t spmask = ssz == 8 ? ~0ULL : ssz == 4 ? 0xffffffffULL : 0xffffULL;
	uint64_t ssb = c->cmode == 8 ? 0 : c->seg[SEG_SS].base;
	uint64_t sp = c->r[R_SP] & spmask;
	unsigned sz = (unsigned)osize;
	uint64_t ip = pop_sys(c, &sp, sz, ssb, spmask);
	uint16_t cs = (uint16_t)pop_sys(c, &sp, sz, ssb, spmask);
	uint64_t fl = pop_sys(c, &sp, sz, ssb, spmask);
	int new_cpl = cs & 3;
	if (new_cpl < c->cpl)
		emu_raise_gp(c, cs & ~3u);
	struct desc cd;
	code_desc(c, cs, &cd, cs & ~3u);
	bool pop_stack = c->cmode == 8 || new_cpl > c->cpl;
	uint64_t nsp = 0;
	uint16_t ss = 0;
	if (pop_stack) {
		nsp = pop_sys(c, &sp, sz, ssb, spmask);
		ss = (uint16_t)pop_sys(c, &sp, sz, ssb, spmask);
	}
	load_cs(c, cs, &cd, new_cpl);
	set_flags_priv(c, fl, sz, old_cpl);
	if (pop_stack) {
		if (!(ss & ~3u) && (c->cmode == 8) && new_cpl < 3) {
			c->seg[SEG_SS].sel = ss;
			c->seg[SEG_SS].base = 0;
		} else {
			emu_load_seg(c, SEG_SS, ss);
		}
		c->r[R_SP] = sz == 8   ? nsp
			     : sz == 4 ? (uint32_t)nsp
				       : (c->r[R_SP] & ~0xffffULL) | (nsp & 0xffff);
	} else {
		if (spmask == 0xffff)
			c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | sp;
		else
			c->r[R_SP] = sp;
	}
	if (new_cpl > old_cpl)
		emu_validate_data_segs(c);
	c->next_rip = c->cmode == 8 ? ip : (uint32_t)ip;
	if (c->cmode == 2)
		c->next_rip &= 0xffff;
}

void emu_syscall(struct emu_cpu *c)
{
	if (!(c->efer & EFER_SCE) || !(c->efer & EFER_LMA))
		emu_raise(c, EXC_UD, 0, false);
	uint64_t fl = emu_flags(c);
	uint16_t sel = (uint16_t)(c->star >> 32) & 0xfffc;
	c->r[R_CX] = c->next_rip;
	c->r[11] = fl & ~(uint64_t)F_RF;
	set_seg(&c->seg[SEG_CS], sel, 0, 0xffffffff, 0xa09b);
	set_seg(&c->seg[SEG_SS], sel + 8, 0, 0xffffffff, 0xc093);
	c->cpl = 0;
	c->flags = (fl & ~c->sfmask & ~(uint64_t)F_RF) | 2;
	emu_update_mode(c);
	c->next_rip = c->cmode == 8 ? c->lstar : (uint32_t)c->cstar;
}

void emu_sysenter(struct emu_cpu *c)
{
	uint16_t sel = (uint16_t)c->sysenter_cs & 0xfffc;
	if ((c->efer & EFER_LMA) && emu_cpu_is_amd(c))
		emu_raise(c, EXC_UD, 0, false); /* AMD: legacy mode only */
	if (!(c->cr0 & CR0_PE) || sel == 0)
		emu_raise_gp(c, 0);
	bool ia32e = c->efer & EFER_LMA;
	emu_flags(c);
	c->flags &= ~(uint64_t)(F_VM | F_IF | F_RF);
	/* Flat ring-0 code (64-bit in IA-32e mode) and stack, whatever the
	 * GDT holds at those selectors. */
	set_seg(&c->seg[SEG_CS], sel, 0, 0xffffffff, ia32e ? 0xa09b : 0xc09b);
	set_seg(&c->seg[SEG_SS], (uint16_t)(sel + 8), 0, 0xffffffff, 0xc093);
	c->cpl = 0;
	emu_update_mode(c);
	c->r[R_SP] = ia32e ? c->sysenter_esp : (uint32_t)c->sysenter_esp;
	c->next_rip = ia32e ? c->sysenter_eip : (uint32_t)c->sysenter_eip;
}

void emu_sysexit(struct emu_cpu *c, int osize)
{
	uint16_t base = (uint16_t)c->sysenter_cs & 0xfffc;
	if ((c->efer & EFER_LMA) && emu_cpu_is_amd(c))
		emu_raise(c, EXC_UD, 0, false); /* AMD: legacy mode only */
	if (!(c->cr0 & CR0_PE) || base == 0 || c->cpl != 0)
		emu_raise_gp(c, 0);
	if (osize == 8) {
		if (!canonical(c->r[R_DX]) || !canonical(c->r[R_CX]))
			emu_raise_gp(c, 0);
		set_seg(&c->seg[SEG_CS], (uint16_t)((base + 32) | 3), 0, 0xffffffff, 0xa0fb);
		set_seg(&c->seg[SEG_SS], (uint16_t)((base + 40) | 3), 0, 0xffffffff, 0xc0f3);
		c->r[R_SP] = c->r[R_CX];
		c->next_rip = c->r[R_DX];
	} else {
		set_seg(&c->seg[SEG_CS], (uint16_t)((base + 16) | 3), 0, 0xffffffff, 0xc0fb);
		set_seg(&c->seg[SEG_SS], (uint16_t)((base + 24) | 3), 0, 0xffffffff, 0xc0f3);
		c->r[R_SP] = (uint32_t)c->r[R_CX];
		c->next_rip = (uint32_t)c->r[R_DX];
	}
	c->cpl = 3;
	emu_poke(c);
	emu_update_mode(c);
}

void emu_sysret(struct emu_cpu *c, int osize)
{
	if (!(c->efer & EFER_SCE) || c->cmode != 8)
		emu_raise(c, EXC_UD, 0, false);
	if (c->cpl != 0)
		emu_raise_gp(c, 0);
	uint16_t base = (uint16_t)(c->star >> 48);
	if (osize == 8) {
		if (!canonical(c->r[R_CX]))
			emu_raise_gp(c, 0);
		set_seg(&c->seg[SEG_CS], (uint16_t)((base + 16) | 3), 0, 0xffffffff, 0xa0fb);
		c->next_rip = c->r[R_CX];
	} else {
		set_seg(&c->seg[SEG_CS], (uint16_t)(base | 3), 0, 0xffffffff, 0xc0fb);
		c->next_rip = (uint32_t)c->r[R_CX];
	}
	set_seg(&c->seg[SEG_SS], (uint16_t)((base + 8) | 3), 0, 0xffffffff, 0xc0f3);
	emu_flags(c);
	c->flags = (c->r[11] & 0x3c7fd7ULL) | 2;
	c->cpl = 3;
	emu_poke(c);
	emu_update_mode(c);
}
