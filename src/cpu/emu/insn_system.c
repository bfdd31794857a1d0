/* SPDX-License-Identifier: MIT */
/*
 * System instructions: CLD STD CLI STI, HLT, CPUID, RDTSC(P), RDMSR
 * WRMSR, SMSW LMSW CLTS, INVLPG, WBINVD INVD, SWAPGS, SYSCALL SYSRET,
 * IRET, INT n/INT3/INTO/INT1, UD0-2, and the row of instructions this CPU
 * does not implement. The architecture behind them is sys.h's.
 */
#include <x86intrin.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/mmu.h"
#include "cpu/emu/sys.h"

void need_cpl0(struct emu_cpu *c)
{
	if (c->cpl != 0)
		emu_raise_gp(c, 0);
}

/* Not implemented: reported once per mnemonic, then #UD. */
void h_unimpl(struct emu_cpu *c, const struct dinsn *d)
{
	emu_report_unimpl(c, d);
	emu_raise(c, EXC_UD, 0, false);
}

void h_cld(struct emu_cpu *c, const struct dinsn *d)
{
	c->flags &= ~(uint64_t)F_DF;
}

void h_std(struct emu_cpu *c, const struct dinsn *d)
{
	c->flags |= F_DF;
}

void h_cli(struct emu_cpu *c, const struct dinsn *d)
{
	io_check(c);
	c->flags &= ~(uint64_t)F_IF;
}

void h_sti(struct emu_cpu *c, const struct dinsn *d)
{
	io_check(c);
	if (!(c->flags & F_IF))
		c->irq_shadow = 1;
	c->flags |= F_IF;
	emu_poke(c);
}

/* CLAC STAC (arg 0/1): EFLAGS.AC, CPL 0 only (#UD without SMAP in the
 * CPU model: their table rows name it). AC is read by the page walk only (mmu.c), so nothing
 * cached depends on it. */
void h_stac(struct emu_cpu *c, const struct dinsn *d)
{
	if (c->cpl != 0)
		emu_raise(c, EXC_UD, 0, false);
	if (insn_arg(d))
		c->flags |= F_AC;
	else
		c->flags &= ~(uint64_t)F_AC;
}

void h_hlt(struct emu_cpu *c, const struct dinsn *d)
{
	need_cpl0(c);
	c->halted = true;
	emu_poke(c);
}

void h_cpuid(struct emu_cpu *c, const struct dinsn *d)
{
	emu_cpuid(c);
}

/* The host TSC for an RDTSC. The first one shortly after a port read
 * (no event delivered since, at most IO_TSC_INSNS instructions -- icount
 * grows by whole blocks, the IN's own included -- and IO_TSC_MAX_CYCLES
 * of host time) reads the TSC of that port read: what the host spent
 * between the two -- decoding and building the code after the IN on its
 * first run, page faults on the block arena, a preemption -- is the
 * emulator's time, not the guest's few instructions'. A guest that reads
 * a timer port between two RDTSCs (Linux calibrating its TSC against the
 * ACPI PM timer or the PIT) then pairs the timer's value with a TSC taken
 * at the same moment; before, the first run of that code took 10-20 us
 * of a ~200 us window on a loaded host (3-10% off). The TSC stays
 * monotonic per vCPU (the port read came after the previous RDTSC, and
 * RDMSR of IA32_TSC in between cancels it); the next RDTSC reads the
 * host again. */
#define IO_TSC_INSNS	  (3 * BLOCK_MAX_INSNS)
#define IO_TSC_MAX_CYCLES (1ULL << 22) /* 1-2 ms at 2-4 GHz */
static uint64_t rdtsc_host(struct emu_cpu *c)
{
	uint64_t now = __rdtsc();
	if (!c->io_tsc_set)
		return now;
	c->io_tsc_set = false;
	if (c->icount - c->io_icount > IO_TSC_INSNS || c->deliveries != c->io_deliveries ||
	    now < c->io_tsc || now - c->io_tsc > IO_TSC_MAX_CYCLES)
		return now;
	return c->io_tsc;
}

/* RDTSC RDTSCP */
void h_rdtsc(struct emu_cpu *c, const struct dinsn *d)
{
	if ((c->cr4 & 0x4) && c->cpl)
		emu_raise_gp(c, 0);
	uint64_t v = rdtsc_host(c) + c->tsc_offset;
	c->r[R_AX] = (uint32_t)v;
	c->r[R_DX] = v >> 32;
	if (d->mnem == ZYDIS_MNEMONIC_RDTSCP)
		c->r[R_CX] = c->tsc_aux;
}

void h_rdmsr(struct emu_cpu *c, const struct dinsn *d)
{
	need_cpl0(c);
	c->io_tsc_set = false; /* IA32_TSC reads the host: RDTSC must not go back */
	bool ok;
	uint64_t v = emu_rdmsr(c, (uint32_t)c->r[R_CX], &ok);
	if (!ok)
		emu_raise_gp(c, 0);
	c->r[R_AX] = (uint32_t)v;
	c->r[R_DX] = v >> 32;
}

void h_wrmsr(struct emu_cpu *c, const struct dinsn *d)
{
	need_cpl0(c);
	if (!emu_wrmsr(c, (uint32_t)c->r[R_CX], (c->r[R_AX] & 0xffffffff) | (c->r[R_DX] << 32)))
		emu_raise_gp(c, 0);
}

void umip_check(struct emu_cpu *c)
{
	if ((c->cr4 & CR4_UMIP) && c->cpl > 0)
		emu_raise_gp(c, 0);
}

void h_smsw(struct emu_cpu *c, const struct dinsn *d)
{
	umip_check(c);
	opw(c, d, 0, c->cr0 & szmask(d->op[0].size));
}

void h_lmsw(struct emu_cpu *c, const struct dinsn *d)
{
	need_cpl0(c);
	uint64_t v = opr(c, d, 0) & 0xf;
	/* lmsw can set PE but not clear it */
	emu_write_cr(c, 0, (c->cr0 & ~0xeULL) | v | (c->cr0 & 1));
}

void h_clts(struct emu_cpu *c, const struct dinsn *d)
{
	need_cpl0(c);
	c->cr0 &= ~(uint64_t)CR0_TS;
}

void h_invlpg(struct emu_cpu *c, const struct dinsn *d)
{
	need_cpl0(c);
	c->stat_invlpg++;
	tlb_flush_page(c, mem_lin(c, d));
}

/* INVPCID: type in the register, a 16-byte descriptor (PCID in bits
 * 11:0, the rest of the first quadword reserved; a linear address) in
 * memory (#UD without INVPCID in the CPU model: its table row names it). Checks as the SDM gives
 * them; tlb.c drops what the type names (type 0: the address under every PCID). */
void h_invpcid(struct emu_cpu *c, const struct dinsn *d)
{
	need_cpl0(c);
	uint64_t type = opr(c, d, 0);
	uint64_t lin = mem_lin(c, d);
	uint64_t desc = lin_read(c, lin, 8), addr = lin_read(c, lin + 8, 8);
	if (type > 3 || (desc >> 12))
		emu_raise_gp(c, 0);
	if (type <= 1 && !(c->cr4 & CR4_PCIDE) && (desc & 0xfff))
		emu_raise_gp(c, 0);
	if (type == 0 && (uint64_t)((int64_t)(addr << 16) >> 16) != addr) /* non-canonical */
		emu_raise_gp(c, 0);
	tlb_invpcid(c, (unsigned)type, (uint16_t)(desc & 0xfff), addr);
}

/* WBINVD INVD: no caches to write back or drop */
void h_wbinvd(struct emu_cpu *c, const struct dinsn *d)
{
	need_cpl0(c);
}

void h_swapgs(struct emu_cpu *c, const struct dinsn *d)
{
	if (c->cmode != 8)
		emu_raise(c, EXC_UD, 0, false);
	need_cpl0(c);
	uint64_t v = c->seg[SEG_GS].base;
	c->seg[SEG_GS].base = c->kernel_gs_base;
	c->kernel_gs_base = v;
}

void h_syscall(struct emu_cpu *c, const struct dinsn *d)
{
	emu_syscall(c);
}

void h_sysret(struct emu_cpu *c, const struct dinsn *d)
{
	emu_sysret(c, d->osize);
}

void h_sysenter(struct emu_cpu *c, const struct dinsn *d)
{
	(void)d;
	emu_sysenter(c);
}

void h_sysexit(struct emu_cpu *c, const struct dinsn *d)
{
	emu_sysexit(c, d->osize);
}

/* IRET IRETD IRETQ */
void h_iret(struct emu_cpu *c, const struct dinsn *d)
{
	emu_iret(c, d->osize);
}

/* Software interrupts: delivered now, the handler runs next. */
void h_int(struct emu_cpu *c, const struct dinsn *d)
{
	emu_deliver(c, (int)(d->imm & 0xff), 0, false, true, c->next_rip);
	c->next_rip = c->rip; /* the handler */
}

void h_int3(struct emu_cpu *c, const struct dinsn *d)
{
	emu_deliver(c, EXC_BP, 0, false, true, c->next_rip);
	c->next_rip = c->rip;
}

void h_into(struct emu_cpu *c, const struct dinsn *d)
{
	if (get_flags(c) & F_OF) {
		emu_deliver(c, EXC_OF, 0, false, true, c->next_rip);
		c->next_rip = c->rip;
	}
}

void h_int1(struct emu_cpu *c, const struct dinsn *d)
{
	emu_deliver(c, EXC_DB, 0, false, false, c->next_rip);
	c->next_rip = c->rip;
}

/* UD0 UD1 UD2 */
void h_ud(struct emu_cpu *c, const struct dinsn *d)
{
	emu_raise(c, EXC_UD, 0, false);
}
