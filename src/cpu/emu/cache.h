/* SPDX-License-Identifier: MIT */
/*
 * The decoded-block cache, per vCPU: blocks live in an arena (reserved,
 * touched as used; when full every block is dropped at once, with the
 * native code compiled from them) and are found through a hash table
 * indexed by the guest-physical address of their first byte, or through
 * the two successors each block remembers. A block is used only while
 * guest memory still holds the bytes it was decoded from (dblock_current):
 * that catches code written by any vCPU and by device DMA alike, with no
 * write-side hook. Owning vCPU thread only.
 */
#ifndef VMON_CPU_EMU_CACHE_H
#define VMON_CPU_EMU_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/emu/decode.h"
#include "cpu/emu/fault.h"

#define BTAB_BITS	  15	      /* hash table: 32768 block pointers */
#define BLOCK_ARENA_BYTES (48u << 20) /* reserved, touched as blocks are built */

/* Reserves c's table and arena; false when the host has no room. */
bool emu_cache_init(struct emu_cpu *c);
void emu_cache_free(struct emu_cpu *c);
/* The block at CS:RIP after a change of code page or a miss: found again
 * or decoded into the arena (flushing it first when full); NULL if its
 * first instruction must be taken alone (emu_fetch_decode). */
const struct dblock *emu_block_build(struct emu_cpu *c);

static inline uint32_t btab_index(uint64_t gpa)
{
	return (uint32_t)(gpa ^ (gpa >> BTAB_BITS) ^ (gpa >> (2 * BTAB_BITS))) &
	       ((1u << BTAB_BITS) - 1);
}

/*
 * The decoded block at CS:RIP, or NULL when the instruction there must be
 * taken alone (emu_fetch_decode: it straddles a page or does not decode).
 * The common case: same code page as last time, table hit, and the guest's
 * bytes still the decoded ones -- which catches code written by any vCPU
 * and by device DMA alike, with no write-side hook.
 */
static inline bool dblock_matches(const struct dblock *b, const uint8_t *guest)
{
	/* The guest's bytes are compared 8 at a time; the last word overlaps
	 * the one before it rather than reading past the block. */
	const uint8_t *mine = dblock_bytes(b);
	unsigned n = b->nbytes;
	if (n < 8)
		return !memcmp(mine, guest, n);
	uint64_t diff = 0, x, y;
	for (unsigned i = 0; i + 8 <= n; i += 8) {
		memcpy(&x, mine + i, 8);
		memcpy(&y, guest + i, 8);
		diff |= x ^ y;
	}
	memcpy(&x, mine + n - 8, 8);
	memcpy(&y, guest + n - 8, 8);
	return !(diff | (x ^ y));
}

/* This vCPU holds a block confirmed in its current epoch in page pfn
 * (emu_vm.code_pages; mmu.c: emu_code_written). */
static inline void emu_code_mark(struct emu_cpu *c, uint64_t pfn)
{
	uint8_t own = emu_code_bit(c);
	if (pfn < c->vm->code_pages_len &&
	    !(__atomic_load_n(&c->vm->code_pages[pfn], __ATOMIC_RELAXED) & own))
		__atomic_fetch_or(&c->vm->code_pages[pfn], own, __ATOMIC_RELAXED);
}

/* True if b may run from guest bytes at guest: it already matched in this
 * code epoch, or it matches now (and is marked so). */
static inline bool dblock_current(struct emu_cpu *c, const struct dblock *b, const uint8_t *guest)
{
	if (__builtin_expect(b->checked == c->code_epoch, 1))
		return true;
	if (!dblock_matches(b, guest))
		return false;
	((struct dblock *)b)->checked = c->code_epoch;
	emu_code_mark(c, b->tag >> 16); /* BLOCK_TAG: gpa << 4 */
	return true;
}

static inline const struct dblock *emu_block(struct emu_cpu *c, const struct dblock *prev)
{
	uint64_t lin = c->seg[SEG_CS].base + c->rip;
	if (c->cmode != 8) {
		lin &= 0xffffffffULL;
		/* Code beyond CS's limit: #GP(0) (at the target, not at the
		 * branch that went there). */
		if (__builtin_expect(c->rip > c->seg[SEG_CS].limit, 0))
			emu_raise_gp(c, 0);
	}
	/* SMEP: a user code page cached (or in the TLB) is not a supervisor
	 * one; emu_fetch_page walks and faults. */
	if (c->fetch_vpn != (lin >> 12) + 1 ||
	    __builtin_expect(c->fetch_user && c->cpl != 3 && (c->cr4 & CR4_SMEP), 0)) {
		/* A new code page: take its translation from the TLB if it is
		 * there with execute (and, at CPL 3, user) permission. */
		const struct tlb_entry *e = &c->tlb[(lin >> 12) & (TLB_SIZE - 1)];
		uint32_t need = c->cpl == 3 ? (TLB_X | TLB_U) : TLB_X;
		if (e->key != tlb_key(c, lin) || !e->host || (e->perm & need) != need ||
		    (c->cpl != 3 && (e->perm & TLB_U) && (c->cr4 & CR4_SMEP)))
			return emu_block_build(c);
		c->fetch_vpn = (lin >> 12) + 1;
		c->fetch_host = e->host;
		c->fetch_gpa = e->gpa;
		c->fetch_user = (e->perm & TLB_U) != 0;
	}
	{
		uint64_t gpa = c->fetch_gpa | (lin & 0xfff);
		uint64_t tag = BLOCK_TAG(gpa, c->cmode);
		const struct dblock *b;
		/* Where the previous block went last time, else the table. */
		if (prev && prev->succ_tag[0] == tag) {
			b = prev->succ[0];
		} else if (prev && prev->succ_tag[1] == tag) {
			b = prev->succ[1];
		} else {
			b = c->btab[btab_index(gpa)];
			if (__builtin_expect(!b || b->tag != tag, 0))
				return emu_block_build(c);
			if (prev) {
				struct dblock *p = (struct dblock *)prev;
				int k = p->succ_tag[0] != 0;
				p->succ_tag[k] = tag;
				p->succ[k] = b;
			}
		}
		if (__builtin_expect(dblock_current(c, b, c->fetch_host + (lin & 0xfff)), 1))
			return b;
	}
	return emu_block_build(c);
}

#endif
