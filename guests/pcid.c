/* SPDX-License-Identifier: MIT */
/*
 * pcid: what a TLB tagged with PCIDs must still do. Two address spaces,
 * A (the kit's page tables) and B (a copy whose window at 4 GiB maps
 * other pages), run under PCIDs 1 and 2; every check is something the SDM
 * requires, never a translation it merely allows to survive:
 *   - a switch to another PCID with CR3 bit 63 (keep its translations)
 *     sees that address space's mapping, not the one cached under the
 *     PCID before it -- for data, and for code reached through a direct
 *     CALL into another page (the software CPU's jump cache);
 *   - PCID 1's mapping changed in its page tables while PCID 2 runs is
 *     seen fresh back under PCID 1 after a CR3 write without bit 63, and
 *     after INVPCID of each type naming PCID 1 (or all);
 *   - a global page (PTE.G, CR4.PGE) changed in the page tables is seen
 *     fresh after INVLPG, after CR4.PGE is toggled and after INVPCID
 *     type 2.
 * Skips (passes) on a CPU without PCID and INVPCID.
 */
#include "rt.h"

#define TEST_VA	  0x100000000ull	 /* PDPT index 4: outside the identity map */
#define GLOBAL_VA (TEST_VA + 0x1000)	 /* a global page in A */
#define CODE_VA	  (TEST_VA + 0x10000)	 /* the caller page, the same in A and B */
#define FN_VA	  (CODE_VA + 0x1000)	 /* a function: returns 1 in A, 2 in B */
#define PTE_G	  0x100ull
#define CR4_PGE	  (1ull << 7)
#define CR4_PCIDE (1ull << 17)
#define KEEP	  (1ull << 63)

static u64 pml4_b[512] __attribute__((aligned(4096)));
static u64 pdpt_b[512] __attribute__((aligned(4096)));
static u64 pd_a[512] __attribute__((aligned(4096)));
static u64 pt_a[512] __attribute__((aligned(4096)));
static u64 pd_b[512] __attribute__((aligned(4096)));
static u64 pt_b[512] __attribute__((aligned(4096)));
static u64 page_a[512] __attribute__((aligned(4096)));
static u64 page_b[512] __attribute__((aligned(4096)));
static u64 page_c[512] __attribute__((aligned(4096)));
static u8 caller_page[4096] __attribute__((aligned(4096)));
static u8 fn_a[4096] __attribute__((aligned(4096)));
static u8 fn_b[4096] __attribute__((aligned(4096)));

static u64 cr3_a, cr3_b;
static unsigned failures;

static void invpcid(u64 type, u64 pcid, u64 addr)
{
	struct {
		u64 pcid, addr;
	} desc = {pcid, addr};
	__asm__ volatile("invpcid %0, %1" : : "m"(desc), "r"(type) : "memory");
}

static u64 peek(u64 va)
{
	return *(volatile u64 *)va;
}

static void expect(const char *what, u64 got, u64 want)
{
	bool ok = got == want;
	kprintf("%s: %s (read 0x%lx, want 0x%lx)\n", ok ? "ok  " : "BAD ", what, got, want);
	if (!ok)
		failures++;
}

/* Calls the caller page, whose CALL rel32 goes to FN_VA, often enough
 * for the software CPU to translate both and link them through its jump
 * cache; returns what FN_VA returned if every call agreed, else ~0. */
static u64 call_fn(void)
{
	u64 (*f)(void) = (u64(*)(void))CODE_VA;
	u64 first = f();
	for (int i = 0; i < 200; i++)
		if (f() != first)
			return ~0ull;
	return first;
}

static void setup(void)
{
	for (int i = 0; i < 512; i++) {
		pml4_b[i] = rt_pml4[i];
		pdpt_b[i] = rt_pdpt[i];
		page_a[i] = 0xaaaa;
		page_b[i] = 0xbbbb;
		page_c[i] = 0xcccc;
	}
	pml4_b[0] = (rt_pml4[0] & 0xfff) | (u64)(uintptr_t)pdpt_b;
	rt_pdpt[4] = (u64)(uintptr_t)pd_a | PTE_P | PTE_W;
	pdpt_b[4] = (u64)(uintptr_t)pd_b | PTE_P | PTE_W;
	pd_a[0] = (u64)(uintptr_t)pt_a | PTE_P | PTE_W;
	pd_b[0] = (u64)(uintptr_t)pt_b | PTE_P | PTE_W;
	pt_a[0] = (u64)(uintptr_t)page_a | PTE_P | PTE_W;
	pt_b[0] = (u64)(uintptr_t)page_b | PTE_P | PTE_W;
	/* call FN_VA (rel32 from the next instruction); ret */
	static const u8 caller[] = {0xe8, 0xfb, 0x0f, 0x00, 0x00, 0xc3};
	static const u8 ret1[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3}; /* mov eax, 1; ret */
	static const u8 ret2[] = {0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3}; /* mov eax, 2; ret */
	memcpy(caller_page, caller, sizeof(caller));
	memcpy(fn_a, ret1, sizeof(ret1));
	memcpy(fn_b, ret2, sizeof(ret2));
	pt_a[16] = pt_b[16] = (u64)(uintptr_t)caller_page | PTE_P;
	pt_a[17] = (u64)(uintptr_t)fn_a | PTE_P;
	pt_b[17] = (u64)(uintptr_t)fn_b | PTE_P;
	cr3_a = read_cr3() & ~0xfffull;
	cr3_b = (u64)(uintptr_t)pml4_b;
}

/* PCID 1's translation of TEST_VA (to page_a) is cached, PCID 2 runs
 * while pt_a[0] moves to page_c, and `drop` is done; back under PCID 1
 * with `back_cr3` the new mapping must be read. */
static void changed_while_away(const char *what, void (*drop)(void), u64 back_cr3)
{
	pt_a[0] = (u64)(uintptr_t)page_a | PTE_P | PTE_W;
	write_cr3(cr3_a | 1); /* no bit 63: PCID 1 starts empty */
	(void)peek(TEST_VA);
	write_cr3(cr3_b | 2 | KEEP);
	pt_a[0] = (u64)(uintptr_t)page_c | PTE_P | PTE_W;
	if (drop)
		drop();
	write_cr3(back_cr3);
	expect(what, peek(TEST_VA), 0xcccc);
}

static void drop_type0(void)
{
	invpcid(0, 1, TEST_VA);
}
static void drop_type1(void)
{
	invpcid(1, 1, 0);
}
static void drop_type2(void)
{
	invpcid(2, 0, 0);
}
static void drop_type3(void)
{
	invpcid(3, 0, 0);
}

static void global_checks(u64 cr4)
{
	write_cr4(cr4 | CR4_PGE);
	write_cr3(cr3_a | 1);
	pt_a[1] = (u64)(uintptr_t)page_a | PTE_P | PTE_W | PTE_G;
	invlpg(GLOBAL_VA);
	(void)peek(GLOBAL_VA);
	pt_a[1] = (u64)(uintptr_t)page_c | PTE_P | PTE_W | PTE_G;
	invlpg(GLOBAL_VA);
	expect("a global page changed, then INVLPG", peek(GLOBAL_VA), 0xcccc);

	pt_a[1] = (u64)(uintptr_t)page_a | PTE_P | PTE_W | PTE_G;
	write_cr4(cr4);
	write_cr4(cr4 | CR4_PGE);
	expect("a global page changed, then CR4.PGE toggled", peek(GLOBAL_VA), 0xaaaa);

	pt_a[1] = (u64)(uintptr_t)page_c | PTE_P | PTE_W | PTE_G;
	invpcid(2, 0, 0);
	expect("a global page changed, then INVPCID type 2", peek(GLOBAL_VA), 0xcccc);

	pt_a[1] = 0;
	write_cr4(cr4);
}

void kmain(void)
{
	u32 a, b, c, d;
	cpuid(7, 0, &a, &b, &c, &d);
	bool pcid = (b >> 10) & 1; /* INVPCID */
	cpuid(1, 0, &a, &b, &c, &d);
	pcid = pcid && ((c >> 17) & 1);
	if (!pcid) {
		kprintf("skip: PCID/INVPCID not offered\n");
		rt_pass();
	}
	setup();
	u64 cr4 = read_cr4() & ~CR4_PGE;
	write_cr4(cr4);
	write_cr3(cr3_a);
	write_cr4(cr4 | CR4_PCIDE);

	/* Each address space's own mapping, whatever the other cached. */
	write_cr3(cr3_a | 1);
	expect("PCID 1 (A) reads its page", peek(TEST_VA), 0xaaaa);
	write_cr3(cr3_b | 2 | KEEP);
	expect("PCID 2 (B), switched to with bit 63, reads its own page", peek(TEST_VA), 0xbbbb);
	write_cr3(cr3_a | 1 | KEEP);
	expect("back to PCID 1 with bit 63", peek(TEST_VA), 0xaaaa);

	/* No output between the switches: the software CPU's code checks
	 * would catch a stale jump-cache entry after a port write. */
	write_cr3(cr3_a | 1);
	u64 r1 = call_fn();
	write_cr3(cr3_b | 2 | KEEP);
	u64 r2 = call_fn();
	write_cr3(cr3_a | 1 | KEEP);
	u64 r3 = call_fn();
	expect("PCID 1 (A) calls its function", r1, 1);
	expect("PCID 2 (B), switched to with bit 63, calls its own", r2, 2);
	expect("back to PCID 1 with bit 63, its function again", r3, 1);

	changed_while_away("PCID 1 changed while away, CR3 without bit 63", NULL, cr3_a | 1);
	changed_while_away("PCID 1 changed while away, INVPCID type 0 (PCID 1)", drop_type0,
			   cr3_a | 1 | KEEP);
	changed_while_away("PCID 1 changed while away, INVPCID type 1 (PCID 1)", drop_type1,
			   cr3_a | 1 | KEEP);
	changed_while_away("PCID 1 changed while away, INVPCID type 2", drop_type2,
			   cr3_a | 1 | KEEP);
	changed_while_away("PCID 1 changed while away, INVPCID type 3", drop_type3,
			   cr3_a | 1 | KEEP);

	global_checks(cr4 | CR4_PCIDE);

	pt_a[0] = 0;
	write_cr3(cr3_a);
	write_cr4(cr4);
	rt_pdpt[4] = 0;
	write_cr3(cr3_a);
	if (failures)
		rt_fail("%u PCID check(s) did not match", failures);
	rt_pass();
}
