/* SPDX-License-Identifier: MIT */
/*
 * memtest: writes a page-specific pattern into every RAM page (memory map
 * type 1) from 1 MiB up to 4 GiB that is not the kit image (code, data,
 * page tables, stacks), then reads everything back. stride=N bytes between
 * tested qwords inside a page (power of two, 8..4096). The default 4096
 * tests one qword per page, at an offset that rotates in 64-byte steps from
 * page to page, which keeps the instruction count small.
 */
#include "rt.h"

#define PAGE 4096ull
#define LOW_LIMIT 0x100000ull
#define HIGH_LIMIT 0x100000000ull /* the identity map ends at 4 GiB */

/* First tested offset in a page: rotates in 64-byte steps (8 if stride < 64). */
static inline u64 first_offset(u64 page, u64 stride)
{
	u64 step = stride < 64 ? 8 : 64;
	return ((page >> 12) * step) & (stride - 1);
}

static inline u64 pattern(u64 addr) { return (addr * 0x9e3779b97f4a7c15ull) ^ 0xa5a5a5a5a5a5a5a5ull; }

struct range {
	u64 start, end;
};

/* The RAM ranges to test: page aligned, clipped, image removed. */
static struct range ranges[130];
static unsigned nranges;

static void add_range(u64 s, u64 e)
{
	if (s < e && nranges < sizeof(ranges) / sizeof(ranges[0]))
		ranges[nranges++] = (struct range){s, e};
}

void kmain(void)
{
	u64 stride = cmdline_get_u64("stride", 4096);
	if (stride < 8 || stride > PAGE || (stride & (stride - 1)))
		rt_fail("stride=%lu must be a power of two in 8..4096", stride);
	u32 n;
	const struct hvm_memmap_entry *m = rt_memmap(&n);
	u64 img_s = (u64)(uintptr_t)__image_start & ~(PAGE - 1);
	u64 img_e = ((u64)(uintptr_t)__image_end + PAGE - 1) & ~(PAGE - 1);
	kprintf("memtest: %u memory map entries, image 0x%lx-0x%lx, stride=%lu\n", n, img_s,
		img_e, stride);
	if (!n)
		rt_fail("no memory map in hvm_start_info");

	for (u32 i = 0; i < n; i++) {
		kprintf("  0x%016lx-0x%016lx type %u\n", m[i].addr, m[i].addr + m[i].size, m[i].type);
		if (m[i].type != MEMMAP_RAM)
			continue;
		u64 s = (m[i].addr + PAGE - 1) & ~(PAGE - 1);
		u64 e = (m[i].addr + m[i].size) & ~(PAGE - 1);
		if (s < LOW_LIMIT)
			s = LOW_LIMIT;
		if (e > HIGH_LIMIT)
			e = HIGH_LIMIT;
		if (s >= e)
			continue;
		/* Cut out the image. */
		if (img_e <= s || img_s >= e) {
			add_range(s, e);
		} else {
			add_range(s, img_s);
			add_range(img_e, e);
		}
	}

	u64 pages = 0, sum = 0;
	if (stride == PAGE) {
		/* Fast path (default): one qword per page, ~10 instructions. */
		for (unsigned r = 0; r < nranges; r++)
			for (u64 p = ranges[r].start; p < ranges[r].end; p += PAGE) {
				u64 a = p + (((p >> 12) * 64) & (PAGE - 1));
				u64 v = pattern(a);
				*(volatile u64 *)a = v;
				sum += v;
			}
		for (unsigned r = 0; r < nranges; r++)
			pages += (ranges[r].end - ranges[r].start) / PAGE;
	} else {
		for (unsigned r = 0; r < nranges; r++)
			for (u64 p = ranges[r].start; p < ranges[r].end; p += PAGE) {
				for (u64 o = first_offset(p, stride); o < PAGE; o += stride) {
					u64 v = pattern(p + o);
					*(volatile u64 *)(p + o) = v;
					sum += v;
				}
				pages++;
			}
	}
	kprintf("written: pages=%lu (%lu KiB) checksum=%lx\n", pages, pages * 4, sum);
	if (!pages)
		rt_fail("no RAM above 1 MiB to test");

	u64 bad = 0, vsum = 0;
	for (unsigned r = 0; r < nranges; r++)
		for (u64 p = ranges[r].start; p < ranges[r].end; p += PAGE) {
			u64 o = stride == PAGE ? ((p >> 12) * 64) & (PAGE - 1) : first_offset(p, stride);
			for (; o < PAGE; o += stride) {
				u64 v = *(volatile u64 *)(p + o);
				vsum += v;
				if (__builtin_expect(v != pattern(p + o), 0) && bad++ < 8)
					kprintf("  mismatch at 0x%lx: 0x%lx != 0x%lx\n", p + o, v,
						pattern(p + o));
			}
		}
	kprintf("verified: pages=%lu checksum=%lx bad=%lu\n", pages, vsum, bad);
	if (bad || vsum != sum)
		rt_fail("%lu mismatching qwords", bad);
	rt_pass();
}
