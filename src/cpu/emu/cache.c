/* SPDX-License-Identifier: MIT */
#include <sys/mman.h>

#include "cpu/emu/cache.h"
#include "cpu/emu/native.h"

/*
 * The table and the arena are one reservation, the table first; its first
 * HUGE_HEAD bytes are in 2 MiB pages where the host has transparent huge
 * pages (madvise mode is enough): a vCPU's first few thousand blocks then
 * cost two page faults instead of one per 4 KiB (a restored guest builds
 * ~4,500 blocks before it answers its console, ~2 MiB of arena; a fault
 * is tens of us on a virtualised host). The rest stays in 4 KiB pages:
 * in huge pages throughout, an idle booted Linux guest's vmon held 8 MiB
 * more (its arena is touched sparsely at 4 KiB).
 */
#define HUGE_BYTES	(2u << 20)
#define HUGE_HEAD	(2 * HUGE_BYTES)
#define BTAB_BYTES	(sizeof(struct dblock *) << BTAB_BITS)
#define CACHE_MAP_BYTES (BTAB_BYTES + BLOCK_ARENA_BYTES)

bool emu_cache_init(struct emu_cpu *c)
{
	/* Reserved, not committed: pages are touched as blocks are built.
	 * Aligned to a huge page by hand: the kernel aligns large
	 * anonymous mappings itself only since Linux 6.7. */
	uint8_t *map = mmap(NULL, CACHE_MAP_BYTES + HUGE_BYTES, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return false;
	uintptr_t at = ((uintptr_t)map + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1);
	size_t head = at - (uintptr_t)map;
	if (head)
		munmap(map, head);
	munmap((uint8_t *)at + CACHE_MAP_BYTES, HUGE_BYTES - head);
	(void)madvise((void *)at, HUGE_HEAD, MADV_HUGEPAGE); /* a hint: 4 KiB pages without */
	c->btab = (struct dblock **)at;
	c->arena = (uint8_t *)at + BTAB_BYTES;
	return true;
}

void emu_cache_free(struct emu_cpu *c)
{
	if (c->btab)
		munmap(c->btab, CACHE_MAP_BYTES);
	c->btab = NULL;
	c->arena = NULL;
}

/* Drops every block (the arena is full, or on request). */
static void blocks_flush(struct emu_cpu *c)
{
	memset(c->btab, 0, BTAB_BYTES);
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
	emu_code_mark(c, c->fetch_gpa >> 12);
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
