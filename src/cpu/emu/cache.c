/* SPDX-License-Identifier: MIT */
#include <sys/mman.h>

#include "cpu/emu/cache.h"
#include "cpu/emu/native.h"

bool emu_cache_init(struct emu_cpu *c)
{
	/* Reserved, not committed: pages are touched as blocks are built. */
	c->btab = mmap(NULL, sizeof(*c->btab) << BTAB_BITS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	c->arena = mmap(NULL, BLOCK_ARENA_BYTES, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->btab == MAP_FAILED || c->arena == MAP_FAILED) {
		emu_cache_free(c);
		return false;
	}
	return true;
}

void emu_cache_free(struct emu_cpu *c)
{
	if (c->btab && c->btab != MAP_FAILED)
		munmap(c->btab, sizeof(*c->btab) << BTAB_BITS);
	if (c->arena && c->arena != MAP_FAILED)
		munmap(c->arena, BLOCK_ARENA_BYTES);
	c->btab = NULL;
	c->arena = NULL;
}

/* Drops every block (the arena is full, or on request). */
static void blocks_flush(struct emu_cpu *c)
{
	memset(c->btab, 0, sizeof(*c->btab) << BTAB_BITS);
	c->arena_used = 0;
	emu_native_flush(c); /* the host code of native runs goes with them */
	c->block_flushes++;
}

const struct dblock *emu_block_build(struct emu_cpu *c)
{
	uint64_t lin = emu_cs_linear(c, c->rip);
	emu_fetch_page(c, lin);
	unsigned off = lin & 0xfff;
	/* Most calls here come from a change of code page, or find another
	 * block first in the bucket: look along the bucket. A block found
	 * moves to the bucket's front (emu_block looks only there); one
	 * whose bytes changed leaves the bucket (a new one is built). Blocks
	 * stay in the arena until it is dropped whole, so unlinking one only
	 * shortens the walk (a block may still name it as a successor). */
	uint32_t idx = btab_index(c->fetch_gpa | off);
	uint64_t tag = BLOCK_TAG(c->fetch_gpa | off, c->cmode);
	for (struct dblock **pp = &c->btab[idx], *hit; (hit = *pp) != NULL; pp = &hit->next) {
		if (hit->tag != tag)
			continue;
		*pp = hit->next;
		if (!dblock_current(c, hit, c->fetch_host + off))
			break;
		hit->next = c->btab[idx];
		c->btab[idx] = hit;
		return hit;
	}
	const size_t worst =
		sizeof(struct dblock) + BLOCK_MAX_INSNS * (sizeof(struct dinsn) + 15) + 64;
	if (c->arena_used + worst > BLOCK_ARENA_BYTES || !emu_native_room(c))
		blocks_flush(c);
	/* The arena is mmap'd and every block starts 64-byte aligned. */
	struct dblock *b = __builtin_assume_aligned(c->arena + c->arena_used, 64);
	emu_decode_block(c, b);
	if (b->n == 0)
		return NULL;
	b->runs = 0;
	b->checked = c->code_epoch;
	uint64_t pfn = c->fetch_gpa >> 12;
	if (pfn < c->vm->code_pages_len)
		__atomic_store_n(&c->vm->code_pages[pfn], 1, __ATOMIC_RELAXED);
	b->succ_tag[0] = b->succ_tag[1] = 0;
	b->succ[0] = b->succ[1] = NULL;
	b->tag = tag;
	size_t size = sizeof(*b) + b->n * sizeof(struct dinsn) + b->nbytes;
	c->arena_used += (size + 63) & ~(size_t)63;
	b->next = c->btab[idx];
	c->btab[idx] = b;
	c->blocks_built++;
	return b;
}
