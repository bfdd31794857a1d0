/* SPDX-License-Identifier: MIT */
/*
 * smap: supervisor-mode access prevention (CR4.SMAP, CPUID.7.EBX[20]), as
 * the IDT handler sees it (vector, error code, RIP, CR2):
 *   - without CR4.SMAP a supervisor read and write of a user page work;
 *   - with it and EFLAGS.AC clear (CLAC), a read is a #PF with P, a write
 *     a #PF with P and W/R (U/S clear: a supervisor access), CR2 the
 *     address, RIP the instruction; also for REP MOVSB either way, for a
 *     translation the TLB holds from an allowed access, and for a load
 *     run hot enough to be compiled;
 *   - with AC set (STAC, or POPF) the same accesses work;
 *   - an implicit supervisor access (a segment load reading its
 *     descriptor from an LDT on a user page) faults whatever AC says, as
 *     the SDM gives (4.6.1): #PF with P, CR2 the descriptor. QEMU's TCG
 *     lets AC allow it: cmdline implicit_ac=0 leaves that one case out.
 * Without SMAP in CPUID it only checks that CR4.SMAP cannot be set.
 */
#include "catch.h"
#include "rt.h"

#define TEST_VA	 0x100000000ull
#define USER_VA	 (TEST_VA)	    /* user page, writable */
#define LDT_VA	 (TEST_VA + 0x1000) /* user page holding an LDT */
#define CR4_SMAP (1ull << 21)
#define F_AC	 (1ull << 18)
#define ERR_P	 0x1
#define ERR_W	 0x2

static u64 test_pd[512] __attribute__((aligned(4096)));
static u64 test_pt[512] __attribute__((aligned(4096)));
static u64 user_page[512] __attribute__((aligned(4096)));
static u64 ldt_page[512] __attribute__((aligned(4096)));
static u64 gdt[64] __attribute__((aligned(16)));
static u8 kbuf[64];


/* A load and a store in functions of their own, called often enough for
 * the translator to compile them. */
__asm__(".text\n\t.globl smap_load\nsmap_load:\n\t"
	".globl smap_load_at\nsmap_load_at:\n\tmov (%rdi), %rax\n\t"
	".globl smap_load_after\nsmap_load_after:\n\tret\n\t"
	".globl smap_store\nsmap_store:\n\t"
	".globl smap_store_at\nsmap_store_at:\n\tmov %rsi, (%rdi)\n\t"
	".globl smap_store_after\nsmap_store_after:\n\tret");
u64 smap_load(u64 addr);
void smap_store(u64 addr, u64 v);
extern const u8 smap_load_at[], smap_load_after[], smap_store_at[], smap_store_after[];

static void stac(void) { __asm__ volatile("stac" ::: "memory", "cc"); }
static void clac(void) { __asm__ volatile("clac" ::: "memory", "cc"); }

/* The current GDT copied, with a 64-bit LDT descriptor for LDT_VA after
 * it; returns the LDT's selector. */
static u16 gdt_with_ldt(void)
{
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) d;
	__asm__ volatile("sgdt %0" : "=m"(d));
	unsigned n = (d.limit + 1u) / 8u;
	if (n > 60)
		n = 60;
	memcpy(gdt, (const void *)d.base, n * 8);
	u64 base = LDT_VA, limit = 4095;
	gdt[n] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (2ull << 40) | (1ull << 47) |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[n + 1] = base >> 32;
	d.base = (u64)(uintptr_t)gdt;
	d.limit = (u16)((n + 2) * 8 - 1);
	__asm__ volatile("lgdt %0" : : "m"(d) : "memory");
	return (u16)(n * 8);
}

/* FS loaded from LDT entry 0 (selector 4: TI set, RPL 0); then back to
 * the null selector. */
static void load_fs_from_ldt(void)
{
	rt_catch_reset();
	__asm__ volatile(FAULT("mov %%bx, %%fs") : : "b"(4) : "rax", "memory");
	__asm__ volatile("mov %0, %%fs" : : "r"(0) : "memory");
}

void kmain(void)
{
	u32 a, b, c, d;
	cpuid(7, 0, &a, &b, &c, &d);
	bool smap = (b >> 20) & 1;
	bool implicit_ac = cmdline_get_u64("implicit_ac", 1);
	kprintf("smap: SMAP %s\n", smap ? "offered" : "not offered");
	rt_set_exception_hook(rt_catch_hook);

	if (!smap) {
		rt_catch_reset();
		__asm__ volatile(FAULT("mov %%rbx, %%cr4") : : "b"(read_cr4() | CR4_SMAP) : "rax",
				 "memory");
		rt_expect_fault("#GP setting CR4.SMAP without SMAP", 13, 0, fault_rip, ~0ull);
		goto out;
	}

	/* PML4[0] and PDPT[4] allow user access, so a U=1 leaf below them is
	 * a user page. */
	rt_pml4[0] |= PTE_U;
	test_pt[0] = (u64)(uintptr_t)user_page | PTE_P | PTE_W | PTE_U;
	test_pt[1] = (u64)(uintptr_t)ldt_page | PTE_P | PTE_W | PTE_U;
	test_pd[0] = (u64)(uintptr_t)test_pt | PTE_P | PTE_W | PTE_U;
	rt_pdpt[4] = (u64)(uintptr_t)test_pd | PTE_P | PTE_W | PTE_U;
	flush_tlb();
	volatile u64 *up = (volatile u64 *)USER_VA;
	user_page[1] = 0x5a5a;
	ldt_page[0] = 0x00cf92000000ffffull; /* data, DPL 0 */
	u16 ldt_sel = gdt_with_ldt();
	__asm__ volatile("lldt %0" : : "r"(ldt_sel) : "memory");

	/* Without CR4.SMAP: supervisor accesses to a user page work, the
	 * LDT on it too; STAC and CLAC run. */
	write_cr4(read_cr4() & ~CR4_SMAP);
	clac();
	rt_catch_reset();
	up[0] = 1;
	rt_expect("no SMAP: supervisor read and write of a user page", up[1] == 0x5a5a && up[0] == 1);
	load_fs_from_ldt();
	rt_expect_no_fault("no SMAP: segment load from an LDT on a user page");

	write_cr4(read_cr4() | CR4_SMAP);
	clac();
	rt_catch_reset();
	__asm__ volatile(FAULT("movq (%%rbx), %%rcx") : : "b"(USER_VA + 8) : "rax", "rcx",
			 "memory");
	rt_expect_fault("#PF SMAP read, AC clear", 14, ERR_P, fault_rip, USER_VA + 8);
	rt_catch_reset();
	__asm__ volatile(FAULT("movq %%rcx, (%%rbx)") : : "b"(USER_VA + 16), "c"(7) : "rax",
			 "memory");
	rt_expect_fault("#PF SMAP write, AC clear", 14, ERR_P | ERR_W, fault_rip, USER_VA + 16);
	rt_catch_reset();
	__asm__ volatile(FAULT("rep movsb")
			 : : "S"(USER_VA + 8), "D"(kbuf), "c"(16) : "rax", "memory");
	rt_expect_fault("#PF SMAP REP MOVSB from a user page", 14, ERR_P, fault_rip, USER_VA + 8);
	rt_catch_reset();
	__asm__ volatile(FAULT("rep movsb")
			 : : "S"(kbuf), "D"(USER_VA + 64), "c"(16) : "rax", "memory");
	rt_expect_fault("#PF SMAP REP MOVSB to a user page", 14, ERR_P | ERR_W, fault_rip, USER_VA + 64);

	stac();
	rt_catch_reset();
	up[2] = up[1] + 1;
	rt_expect("STAC: supervisor read and write of a user page", up[2] == 0x5a5b);
	rt_expect_no_fault("STAC: no fault");
	__asm__ volatile("rep movsb" : : "S"(USER_VA + 8), "D"(kbuf), "c"(16) : "memory");
	rt_expect("STAC: REP MOVSB from a user page", kbuf[0] == 0x5a && kbuf[8] == 0x5b);
	/* The translation is in the TLB now: CLAC must still fault. */
	clac();
	rt_catch_reset();
	__asm__ volatile(FAULT("movq (%%rbx), %%rcx") : : "b"(USER_VA + 8) : "rax", "rcx",
			 "memory");
	rt_expect_fault("#PF SMAP read after CLAC, translation cached", 14, ERR_P, fault_rip, USER_VA + 8);
	/* POPF sets AC as well. */
	u64 fl;
	__asm__ volatile("pushfq; pop %0" : "=r"(fl));
	__asm__ volatile("push %0; popfq" : : "r"(fl | F_AC) : "memory", "cc");
	rt_catch_reset();
	up[3] = 3;
	rt_expect("POPF with AC: supervisor write of a user page", up[3] == 3);
	rt_expect_no_fault("POPF with AC: no fault");
	clac();

	/* Hot code (compiled by a translator): allowed a thousand times with
	 * AC set, then faults with it clear. */
	stac();
	u64 sum = 0;
	for (int i = 0; i < 1000; i++) {
		sum += smap_load(USER_VA + 8);
		smap_store(USER_VA + 24, (u64)i);
	}
	rt_expect("STAC: a hot load and store of a user page", sum == 1000 * 0x5a5aull && up[3] == 999);
	clac();
	rt_catch_reset();
	resume_rip = (u64)(uintptr_t)smap_load_after;
	(void)smap_load(USER_VA + 8);
	rt_expect_fault("#PF SMAP, the hot load after CLAC", 14, ERR_P, (u64)(uintptr_t)smap_load_at,
	      USER_VA + 8);
	rt_catch_reset();
	resume_rip = (u64)(uintptr_t)smap_store_after;
	smap_store(USER_VA + 24, 1);
	rt_expect_fault("#PF SMAP, the hot store after CLAC", 14, ERR_P | ERR_W,
	      (u64)(uintptr_t)smap_store_at, USER_VA + 24);

	/* Implicit supervisor accesses: the descriptor read of a segment
	 * load faults with AC clear, and (SDM) with AC set too. */
	load_fs_from_ldt();
	rt_expect_fault("#PF SMAP, descriptor read from an LDT on a user page, AC clear", 14, ERR_P,
	      fault_rip, LDT_VA);
	if (implicit_ac) {
		stac();
		load_fs_from_ldt();
		clac();
		rt_expect_fault("#PF SMAP, descriptor read from an LDT on a user page, AC set", 14, ERR_P,
		      fault_rip, LDT_VA);
	} else {
		kprintf("skip: the implicit access with AC set (implicit_ac=0)\n");
	}

	write_cr4(read_cr4() & ~CR4_SMAP);
	rt_catch_reset();
	(void)smap_load(USER_VA + 8);
	rt_expect_no_fault("SMAP cleared: the hot load runs again");
	__asm__ volatile("lldt %0" : : "r"((u16)0) : "memory");
	rt_pdpt[4] = 0;
	rt_pml4[0] &= ~(u64)PTE_U;
	flush_tlb();
out:
	rt_set_exception_hook(NULL);
	if (rt_check_failures)
		rt_fail("%u SMAP rt_expect_fault(s) did not match", rt_check_failures);
	rt_pass();
}
