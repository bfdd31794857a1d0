/* SPDX-License-Identifier: MIT */
/*
 * Software TLB invalidation with PCIDs and global pages.
 *
 * Every address space (a PCID; PCID 0 when CR4.PCIDE is clear) gets a
 * tag, 1..TLB_TAG_MAX, which its entries carry in their key (cpu.h), and
 * the jump cache's keys too. Dropping a PCID's translations is handing it
 * a new tag: its old entries can never match again and are overwritten
 * as the slots are reused, so a flush costs nothing per entry. Switching
 * to a PCID (a CR3 write with bit 63, as Linux's PTI does on every system
 * call and return) only changes the current tag. When the tags run out,
 * the TLB and the jump cache are emptied for real and numbering starts
 * again (once per 4095 flushes).
 *
 * Global translations (the leaf's G bit with CR4.PGE) are kept a second
 * time in tlb_global, keyed by the page alone (GLOBAL_KEY): a miss looks there before
 * walking, so they survive CR3 writes and PCID switches; INVLPG, INVPCID
 * types 0 and 2, and CR0/CR4/EFER writes drop them.
 *
 * The SDM lets any translation be dropped at any time, so INVLPG and
 * INVPCID type 0 drop the page under every tag rather than the named one.
 */
#include <string.h>

#include "cpu/emu/tlb.h"

/* The key of a global translation: its page with a tag of its own (the
 * table is not the TLB's, so it never meets the TLB's tags). */
#define GLOBAL_KEY (1ULL << TLB_TAG_SHIFT)

/* The current PCID. */
static uint16_t cur_pcid(const struct emu_cpu *c)
{
	return (c->cr4 & CR4_PCIDE) ? (uint16_t)(c->cr3 & 0xfff) : 0;
}

/* Empties the TLB and the jump cache for real, and forgets every PCID's
 * tag: the tags can be handed out again. */
static void tlb_clear_all(struct emu_cpu *c)
{
	for (int i = 0; i < TLB_SIZE; i++)
		c->tlb[i].key = 0;
	c->tlb_large = false;
	emu_jcache_clear(c);
	memset(c->pcid_tag, 0, sizeof(c->pcid_tag));
	c->tlb_tag_next = 1;
}

/* Makes the current PCID's tag the one lookups use (a new one if it has
 * none). The cached code page is linear: it goes. */
static void tlb_use_current(struct emu_cpu *c)
{
	uint16_t pcid = cur_pcid(c);
	if (!c->pcid_tag[pcid]) {
		if (c->tlb_tag_next == 0 || c->tlb_tag_next > TLB_TAG_MAX)
			tlb_clear_all(c);
		c->pcid_tag[pcid] = c->tlb_tag_next++;
	}
	uint64_t tag = c->pcid_tag[pcid];
	c->tlb_key = tag << TLB_TAG_SHIFT;
	c->jc_key = tag << JC_TAG_SHIFT;
	c->fetch_vpn = 0;
}

static void global_clear(struct emu_cpu *c)
{
	for (int i = 0; i < TLB_SIZE; i++)
		c->tlb_global[i].key = 0;
}

void tlb_flush(struct emu_cpu *c)
{
	c->stat_tlb_flushes++;
	memset(c->pcid_tag, 0, sizeof(c->pcid_tag));
	global_clear(c);
	tlb_use_current(c);
}

/* Drops every entry of the large page holding lin from table t (a large
 * page is cached one entry per 4 KiB granule touched). */
static void drop_large(struct tlb_entry *t, uint64_t lin)
{
	for (int i = 0; i < TLB_SIZE; i++)
		if (t[i].key && t[i].page_shift > 12 &&
		    (((t[i].key & TLB_VPN_MASK) << 12) ^ lin) >> t[i].page_shift == 0)
			t[i].key = 0;
}

void tlb_flush_page(struct emu_cpu *c, uint64_t lin)
{
	uint64_t vpn = (lin >> 12) & TLB_VPN_MASK;
	struct tlb_entry *e = &c->tlb[vpn & (TLB_SIZE - 1)];
	if (e->key && (e->key & TLB_VPN_MASK) == vpn)
		e->key = 0; /* under any tag */
	struct tlb_entry *g = &c->tlb_global[vpn & (TLB_SIZE - 1)];
	if (g->key == (vpn | GLOBAL_KEY))
		g->key = 0;
	if (c->tlb_large) {
		drop_large(c->tlb, lin);
		drop_large(c->tlb_global, lin);
	}
	c->fetch_vpn = 0;
	emu_jcache_clear(c); /* its entries are spread over the table */
}

void tlb_cr3_written(struct emu_cpu *c, bool keep)
{
	c->stat_cr3++;
	if (keep)
		c->stat_cr3_keep++;
	else
		c->pcid_tag[cur_pcid(c)] = 0;
	tlb_use_current(c);
}

void tlb_invpcid(struct emu_cpu *c, unsigned type, uint16_t pcid, uint64_t lin)
{
	c->stat_invpcid[type & 3]++;
	switch (type) {
	case 0: tlb_flush_page(c, lin); return;
	case 1:
		c->pcid_tag[pcid & 0xfff] = 0;
		tlb_use_current(c);
		return;
	case 2: tlb_flush(c); return;
	default:
		memset(c->pcid_tag, 0, sizeof(c->pcid_tag));
		tlb_use_current(c);
		return;
	}
}

struct tlb_entry *tlb_global_lookup(struct emu_cpu *c, uint64_t lin, struct tlb_entry *e)
{
	uint64_t vpn = lin >> 12;
	const struct tlb_entry *g = &c->tlb_global[vpn & (TLB_SIZE - 1)];
	if (g->key != (vpn | GLOBAL_KEY))
		return NULL;
	*e = *g;
	e->key = tlb_key(c, lin);
	return e;
}

void tlb_global_fill(struct emu_cpu *c, uint64_t lin, const struct tlb_entry *e)
{
	uint64_t vpn = lin >> 12;
	struct tlb_entry *g = &c->tlb_global[vpn & (TLB_SIZE - 1)];
	*g = *e;
	g->key = vpn | GLOBAL_KEY;
}
