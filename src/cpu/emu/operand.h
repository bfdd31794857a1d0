/* SPDX-License-Identifier: MIT */
/*
 * Operand access for the instruction handlers (insn_*.c): register views,
 * effective addresses, segment bases, and memory accesses with the inline
 * software-TLB fast path (misses go to mmu.c). Owning vCPU thread only.
 */
#ifndef VMON_CPU_EMU_OPERAND_H
#define VMON_CPU_EMU_OPERAND_H

#include <string.h>

#include "cpu/emu/decode.h"
#include "cpu/emu/fault.h"
#include "cpu/emu/mmu.h"

/* ---- Registers ---------------------------------------------------------- */

static inline uint64_t get_reg(struct emu_cpu *c, uint8_t reg, unsigned size)
{
	if (reg & DOP_F_HI8)
		return (c->r[reg & 3] >> 8) & 0xff;
	return c->r[reg] & szmask(size);
}

static inline void set_reg(struct emu_cpu *c, uint8_t reg, unsigned size, uint64_t v)
{
	if (reg & DOP_F_HI8) {
		uint64_t *r = &c->r[reg & 3];
		*r = (*r & ~0xff00ULL) | ((v & 0xff) << 8);
		return;
	}
	uint64_t *r = &c->r[reg];
	switch (size) {
	case 1: *r = (*r & ~0xffULL) | (v & 0xff); break;
	case 2: *r = (*r & ~0xffffULL) | (v & 0xffff); break;
	case 4: *r = (uint32_t)v; break;
	default: *r = v;
	}
}

/* ---- Addressing ------------------------------------------------------------ */

static inline uint64_t amask(unsigned asize, uint64_t v)
{
	return asize == 8 ? v : asize == 4 ? (uint32_t)v : (uint16_t)v;
}

static inline uint64_t ea_off(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t a = (d->flags & DI_DISP64) ? (uint64_t)d->imm : (uint64_t)(int64_t)d->disp;
	if (d->base == REG_RIP)
		a += c->next_rip;
	else if (d->base != REG_NONE)
		a += c->r[d->base];
	if (d->index != REG_NONE)
		a += c->r[d->index] * d->scale;
	return amask(d->asize, a);
}

/* TLB hits on RAM are handled inline; everything else goes to mmu.c. */
static inline uint64_t mread(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	const struct tlb_entry *e = &c->tlb[(lin >> 12) & (TLB_SIZE - 1)];
	unsigned off = lin & 0xfff;
	if (__builtin_expect(e->key == tlb_key(c, lin) && e->host && off + size <= 4096 &&
				     (e->perm & (c->cpl == 3 ? TLB_U : TLB_R)),
			     1)) {
		uint64_t v = 0;
		memcpy(&v, e->host + off, size);
		return v;
	}
	return lin_read(c, lin, size);
}

static inline void mwrite(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v)
{
	const struct tlb_entry *e = &c->tlb[(lin >> 12) & (TLB_SIZE - 1)];
	unsigned off = lin & 0xfff;
	uint32_t need = c->cpl == 3 ? (TLB_U | TLB_UW) : TLB_W;
	if (__builtin_expect(e->key == tlb_key(c, lin) && e->host && off + size <= 4096 &&
				     (e->perm & need) == need,
			     1)) {
		memcpy(e->host + off, &v, size);
		emu_note_write(c, e->host, e->gpa);
		return;
	}
	lin_write(c, lin, size, v);
}

/* The linear address of a size-byte access at offset off of segment seg.
 * Outside 64-bit mode the segment's limit is checked (an expand-down or
 * unusable segment, or an offset past the limit, takes the slow check in
 * fault.c, which raises #GP(0)/#SS(0)); 64-bit mode checks nothing. */
static inline uint64_t seg_lin_n(struct emu_cpu *c, int seg, uint64_t off, unsigned size)
{
	if (c->cmode == 8)
		return (seg == SEG_FS || seg == SEG_GS) ? c->seg[seg].base + off : off;
	const struct seg *s = &c->seg[seg];
	if (__builtin_expect(off + size - 1 > s->limit || (s->attr & 0x1c) == 0x14 ||
				     !(s->attr & SA_P) || (s->attr & 0x1a) == 0x18,
			     0))
		emu_seg_check(c, seg, off, size);
	return (uint32_t)(s->base + off);
}

/* Outside 64-bit mode: whether seg may be written through. In protected
 * mode only a writable data segment may (SDM vol. 3 5.4.1, APM vol. 2
 * 4.10.1); real mode checks no types. */
static inline bool seg_writable(const struct emu_cpu *c, int seg)
{
	return (c->seg[seg].attr & 0x1a) == 0x12 || !(c->cr0 & CR0_PE);
}

/* seg_lin_n for a write: a read-only data segment or a code segment is
 * #GP(0) (#SS(0) for SS) before the limit check (both give the same
 * fault). The stores, read-modify-writes, PUSH and the string
 * instructions' destinations use it; other writers (x87, SSE, FXSAVE,
 * XSAVE, descriptor-table stores) check the limit only. */
static inline uint64_t seg_lin_w(struct emu_cpu *c, int seg, uint64_t off, unsigned size)
{
	if (c->cmode != 8 && __builtin_expect(!seg_writable(c, seg), 0))
		emu_raise(c, seg == SEG_SS ? EXC_SS : EXC_GP, 0, true);
	return seg_lin_n(c, seg, off, size);
}

/* True if a plain (expand-up, usable, readable) segment holds off..off+len-1;
 * outside 64-bit mode, for bulk paths that leave other cases to the
 * element-wise checks. */
static inline bool seg_in_limit(const struct emu_cpu *c, int seg, uint64_t off, uint64_t len)
{
	const struct seg *s = &c->seg[seg];
	return (s->attr & SA_P) && (s->attr & 0x1c) != 0x14 && (s->attr & 0x1a) != 0x18 &&
	       off + len - 1 <= s->limit && off + len - 1 >= off;
}

/* Callers that do not pass a size have the first byte checked. */
static inline uint64_t seg_lin(struct emu_cpu *c, int seg, uint64_t off)
{
	return seg_lin_n(c, seg, off, 1);
}

static inline uint64_t mem_lin_n(struct emu_cpu *c, const struct dinsn *d, unsigned size)
{
	return seg_lin_n(c, d->seg, ea_off(c, d), size);
}

static inline uint64_t mem_lin_w(struct emu_cpu *c, const struct dinsn *d, unsigned size)
{
	return seg_lin_w(c, d->seg, ea_off(c, d), size);
}

static inline uint64_t mem_lin(struct emu_cpu *c, const struct dinsn *d)
{
	return seg_lin(c, d->seg, ea_off(c, d));
}

static inline __attribute__((always_inline)) uint64_t opr(struct emu_cpu *c, const struct dinsn *d,
							  int i)
{
	const struct dop *o = &d->op[i];
	switch (o->kind) {
	case DOP_REG: return get_reg(c, o->reg, o->size);
	case DOP_MEM: return mread(c, mem_lin_n(c, d, o->size), o->size);
	case DOP_IMM:
		/* Sign-extended to 64 bits by the decoder; users mask to
		 * their operand size (an imm8 of an imm-extended op is
		 * narrower than the operation). */
		return (uint64_t)(i == 0 || d->op[0].kind != DOP_IMM ? d->imm : d->imm2);
	case DOP_SEG: return c->seg[o->reg].sel;
	default: return 0;
	}
}

static inline __attribute__((always_inline)) void opw(struct emu_cpu *c, const struct dinsn *d,
						      int i, uint64_t v)
{
	const struct dop *o = &d->op[i];
	if (o->kind == DOP_REG)
		set_reg(c, o->reg, o->size, v);
	else if (o->kind == DOP_MEM)
		mwrite(c, mem_lin_w(c, d, o->size), o->size, v);
}

#endif
