/* SPDX-License-Identifier: MIT */
/*
 * dirtymem: keeps writing guest memory and checks it, for live migration
 * (tests/integration/migrate.sh). A region of `mib` MiB (default 16, at
 * most 32) above the kit image is filled with a pattern that depends on
 * each page's number and its generation, kept in a table in the kit's
 * own data; then, pass after pass, a quarter of the pages (another
 * quarter each pass) get a new generation and a new pattern, and every
 * page is checked against the table. A page whose last write a
 * migration did not carry over (or whose table entry it lost) fails the
 * check: "dirtymem: FAIL ...". Every `every` passes (default 20) it
 * prints "dirtymem: pass N ok". It never ends on its own.
 */
#include "rt.h"

#define PAGE	  4096ull
#define MAX_PAGES (32u * 256u)

static u32 gen[MAX_PAGES];

static inline u64 value(u64 page, u32 g, u64 word)
{
	return (page * 0x9e3779b97f4a7c15ull) ^ ((u64)g << 32) ^ (word * 0x100000001b3ull);
}

static void fill(u64 *p, u64 page, u32 g)
{
	for (u64 w = 0; w < PAGE / 8; w++)
		p[w] = value(page, g, w);
}

void kmain(void)
{
	u64 mib = cmdline_get_u64("mib", 16);
	u64 every = cmdline_get_u64("every", 20);
	if (mib == 0 || mib > 32 || every == 0)
		rt_fail("mib=%lu must be 1..32, every=%lu not 0", mib, every);
	u64 npages = mib * 256;
	u64 base = ((u64)(uintptr_t)__image_end + (4ull << 20)) & ~((2ull << 20) - 1);
	kprintf("dirtymem: %lu MiB at 0x%lx\n", mib, base);
	for (u64 p = 0; p < npages; p++) {
		gen[p] = 1;
		fill((u64 *)(uintptr_t)(base + p * PAGE), p, 1);
	}
	for (u64 pass = 1;; pass++) {
		for (u64 p = pass & 3; p < npages; p += 4) {
			gen[p]++;
			fill((u64 *)(uintptr_t)(base + p * PAGE), p, gen[p]);
		}
		for (u64 p = 0; p < npages; p++) {
			const u64 *q = (const u64 *)(uintptr_t)(base + p * PAGE);
			u64 ws[3] = {0, PAGE / 8 - 1, (p * 13) % (PAGE / 8)};
			for (int i = 0; i < 3; i++)
				if (q[ws[i]] != value(p, gen[p], ws[i]))
					rt_fail("dirtymem: page %lu word %lu holds 0x%lx, generation %u "
						"wants 0x%lx (pass %lu)",
						p, ws[i], q[ws[i]], gen[p], value(p, gen[p], ws[i]),
						pass);
		}
		if (pass % every == 0)
			kprintf("dirtymem: pass %lu ok\n", pass);
	}
}
