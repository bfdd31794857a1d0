/* SPDX-License-Identifier: MIT */
/*
 * pku: protection keys for user pages (CR4.PKE, CPUID.7.ECX[3]), as the
 * IDT handler sees them (vector, error code, RIP, CR2), from ring 0:
 *   - RDPKRU is #UD without CR4.PKE; CPUID.7.ECX[4] (OSPKE) follows
 *     CR4.PKE; RDPKRU with ECX != 0 and WRPKRU with ECX or EDX != 0 are
 *     #GP(0); WRPKRU then RDPKRU gives the value back;
 *   - a user page with key 1: PKRU 0 allows everything; AD for key 1
 *     makes a read #PF with P and PK (bit 5), a write P, W/R and PK; WD
 *     allows the read and faults the write with CR0.WP set, not with it
 *     clear; a key-0 user page, a key-1 supervisor page and an
 *     instruction fetch from the key-1 page are not affected; a hot
 *     compiled load faults as soon as WRPKRU denies it;
 *   - PKRU as XSAVE state component 9 (where CPUID.0xd.0 offers it):
 *     CPUID.0xd.9 (8 bytes at 2688), XSAVE writes it and its XSTATE_BV
 *     bit, XRSTOR loads it (and what it allows takes effect at once), and
 *     an XRSTOR with its XSTATE_BV bit clear resets it to 0.
 * Without PKU in CPUID it only checks that CR4.PKE cannot be set.
 */
#include "catch.h"
#include "rt.h"

#define TEST_VA	 0x100000000ull
#define KEY1_VA	 (TEST_VA)	    /* user page, key 1, holds a RET at +0x800 */
#define KEY0_VA	 (TEST_VA + 0x1000) /* user page, key 0 */
#define SUPER_VA (TEST_VA + 0x2000) /* supervisor page, key 1 */
#define KEY(k)	 ((u64)(k) << 59)
#define CR4_PKE	 (1ull << 22)
#define CR4_OSXSAVE (1ull << 18)
#define AD1	 (1u << 2)
#define WD1	 (1u << 3)
#define ERR_P	 0x1
#define ERR_W	 0x2
#define ERR_PK	 0x20

static u64 test_pd[512] __attribute__((aligned(4096)));
static u64 test_pt[512] __attribute__((aligned(4096)));
static u64 page1[512] __attribute__((aligned(4096)));
static u64 page0[512] __attribute__((aligned(4096)));
static u64 pages[512] __attribute__((aligned(4096)));
static u8 xarea[4096] __attribute__((aligned(64)));


__asm__(".text\n\t.globl pk_load\npk_load:\n\t"
	".globl pk_load_at\npk_load_at:\n\tmov (%rdi), %rax\n\t"
	".globl pk_load_after\npk_load_after:\n\tret");
u64 pk_load(u64 addr);
extern const u8 pk_load_at[], pk_load_after[];

static void write_cr0(u64 v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static u32 rdpkru(void)
{
	u32 a, d;
	__asm__ volatile("rdpkru" : "=a"(a), "=d"(d) : "c"(0));
	return a;
}

static void wrpkru(u32 v)
{
	__asm__ volatile("wrpkru" : : "a"(v), "c"(0), "d"(0) : "memory");
}

static void read_fault(const char *name, u64 va, u64 err)
{
	rt_catch_reset();
	__asm__ volatile(FAULT("movq (%%rbx), %%rcx") : : "b"(va) : "rax", "rcx", "memory");
	rt_expect_fault(name, 14, err, fault_rip, va);
}

static void write_fault(const char *name, u64 va, u64 err)
{
	rt_catch_reset();
	__asm__ volatile(FAULT("movq %%rcx, (%%rbx)") : : "b"(va), "c"(9) : "rax", "memory");
	rt_expect_fault(name, 14, err, fault_rip, va);
}

static void read_write_ok(const char *name, u64 va)
{
	rt_catch_reset();
	volatile u64 *p = (volatile u64 *)va;
	p[4] = p[5] + 1;
	rt_expect_no_fault(name);
}

/* XSAVE component 9, where the CPU offers it. */
static void xsave_checks(void)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!((c >> 26) & 1)) {
		kprintf("skip: no XSAVE\n");
		return;
	}
	cpuid(0xd, 0, &a, &b, &c, &d);
	if (!((a >> 9) & 1)) {
		kprintf("skip: XSAVE without PKRU\n");
		return;
	}
	cpuid(0xd, 9, &a, &b, &c, &d);
	rt_expect("CPUID.0xd.9: PKRU is 8 bytes at 2688", a == 8 && b == 2688 && !(c & 1));
	write_cr4(read_cr4() | CR4_OSXSAVE);
	u32 xlo, xhi;
	__asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
	__asm__ volatile("xsetbv" : : "a"(xlo | 0x200u), "d"(xhi), "c"(0) : "memory");
	cpuid(0xd, 0, &a, &b, &c, &d);
	rt_expect("CPUID.0xd.0 EBX: the area for XCR0 with PKRU is 2696 bytes", b == 2696);

	memset(xarea, 0, sizeof(xarea));
	wrpkru(0x0c);
	__asm__ volatile("xsave64 (%0)" : : "r"(xarea), "a"(0x200u), "d"(0u) : "memory");
	u32 saved;
	u64 bv;
	memcpy(&saved, xarea + 2688, 4);
	memcpy(&bv, xarea + 512, 8);
	rt_expect("XSAVE writes PKRU at 2688 and XSTATE_BV bit 9", saved == 0x0c && (bv & 0x200));

	/* XRSTOR loads AD for key 1: the read faults at once. */
	wrpkru(0);
	(void)*(volatile u64 *)KEY1_VA; /* its translation cached */
	u32 ad = AD1;
	memcpy(xarea + 2688, &ad, 4);
	__asm__ volatile("xrstor64 (%0)" : : "r"(xarea), "a"(0x200u), "d"(0u) : "memory");
	rt_expect("XRSTOR loads PKRU", rdpkru() == AD1);
	read_fault("#PF PK read after XRSTOR set AD", KEY1_VA + 8, ERR_P | ERR_PK);
	bv = 0;
	memcpy(xarea + 512, &bv, 8);
	__asm__ volatile("xrstor64 (%0)" : : "r"(xarea), "a"(0x200u), "d"(0u) : "memory");
	rt_expect("XRSTOR with XSTATE_BV bit 9 clear resets PKRU to 0", rdpkru() == 0);
	read_write_ok("PKRU 0 again: key-1 page read and write", KEY1_VA);
	__asm__ volatile("xsetbv" : : "a"(xlo), "d"(xhi), "c"(0) : "memory");
}

void kmain(void)
{
	u32 a, b, c, d;
	cpuid(7, 0, &a, &b, &c, &d);
	bool pku = (c >> 3) & 1;
	kprintf("pku: PKU %s\n", pku ? "offered" : "not offered");
	rt_set_exception_hook(rt_catch_hook);

	write_cr4(read_cr4() & ~CR4_PKE);
	rt_catch_reset();
	__asm__ volatile(FAULT("rdpkru") : : "c"(0) : "rax", "rdx", "memory");
	rt_expect_fault("#UD RDPKRU without CR4.PKE", 6, 0, fault_rip, 0);
	if (!pku) {
		rt_catch_reset();
		__asm__ volatile(FAULT("mov %%rbx, %%cr4") : : "b"(read_cr4() | CR4_PKE) : "rax",
				 "memory");
		rt_expect_fault("#GP setting CR4.PKE without PKU", 13, 0, fault_rip, 0);
		goto out;
	}
	rt_expect("CPUID.7.ECX OSPKE clear without CR4.PKE", !((c >> 4) & 1));
	write_cr4(read_cr4() | CR4_PKE);
	cpuid(7, 0, &a, &b, &c, &d);
	rt_expect("CPUID.7.ECX OSPKE set with CR4.PKE", (c >> 4) & 1);
	rt_catch_reset();
	__asm__ volatile(FAULT("rdpkru") : : "c"(1) : "rax", "rdx", "memory");
	rt_expect_fault("#GP RDPKRU with ECX 1", 13, 0, fault_rip, 0);
	rt_catch_reset();
	__asm__ volatile(FAULT("wrpkru") : : "a"(0), "c"(0), "d"(1) : "memory");
	rt_expect_fault("#GP WRPKRU with EDX 1", 13, 0, fault_rip, 0);
	wrpkru(0x12345678);
	rt_expect("WRPKRU then RDPKRU", rdpkru() == 0x12345678);
	wrpkru(0);

	rt_pml4[0] |= PTE_U;
	test_pt[0] = (u64)(uintptr_t)page1 | PTE_P | PTE_W | PTE_U | KEY(1);
	test_pt[1] = (u64)(uintptr_t)page0 | PTE_P | PTE_W | PTE_U;
	test_pt[2] = (u64)(uintptr_t)pages | PTE_P | PTE_W | KEY(1);
	test_pd[0] = (u64)(uintptr_t)test_pt | PTE_P | PTE_W | PTE_U;
	rt_pdpt[4] = (u64)(uintptr_t)test_pd | PTE_P | PTE_W | PTE_U;
	((u8 *)page1)[0x800] = 0xc3; /* ret */
	flush_tlb();

	read_write_ok("PKRU 0: key-1 user page read and write", KEY1_VA);
	wrpkru(AD1);
	read_fault("#PF PK read, AD for key 1", KEY1_VA + 8, ERR_P | ERR_PK);
	write_fault("#PF PK write, AD for key 1", KEY1_VA + 16, ERR_P | ERR_W | ERR_PK);
	read_write_ok("AD for key 1: key-0 user page read and write", KEY0_VA);
	read_write_ok("AD for key 1: key-1 supervisor page read and write", SUPER_VA);
	rt_catch_reset();
	((void (*)(void))(KEY1_VA + 0x800))();
	rt_expect_no_fault("AD for key 1: a call into the key-1 page runs (fetches are not checked)");

	wrpkru(WD1);
	rt_catch_reset();
	u64 v = *(volatile u64 *)(KEY1_VA + 8);
	(void)v;
	rt_expect_no_fault("WD for key 1: read");
	write_fault("#PF PK write, WD for key 1, CR0.WP set", KEY1_VA + 16, ERR_P | ERR_W | ERR_PK);
	u64 cr0 = read_cr0();
	write_cr0(cr0 & ~CR0_WP);
	rt_catch_reset();
	*(volatile u64 *)(KEY1_VA + 16) = 5;
	rt_expect_no_fault("WD for key 1, CR0.WP clear: supervisor write");
	write_cr0(cr0);

	/* A hot load (compiled by a translator) with PKRU 0, then AD. */
	wrpkru(0);
	page1[1] = 2;
	u64 sum = 0;
	for (int i = 0; i < 1000; i++)
		sum += pk_load(KEY1_VA + 8);
	rt_expect("PKRU 0: a hot load of the key-1 page", sum == 2000);
	wrpkru(AD1);
	rt_catch_reset();
	resume_rip = (u64)(uintptr_t)pk_load_after;
	(void)pk_load(KEY1_VA + 8);
	rt_expect_fault("#PF PK, the hot load after WRPKRU set AD", 14, ERR_P | ERR_PK,
	      (u64)(uintptr_t)pk_load_at, KEY1_VA + 8);
	wrpkru(0);

	xsave_checks();

	wrpkru(0);
	rt_pdpt[4] = 0;
	rt_pml4[0] &= ~(u64)PTE_U;
	write_cr4(read_cr4() & ~CR4_PKE);
	flush_tlb();
out:
	rt_set_exception_hook(NULL);
	if (rt_check_failures)
		rt_fail("%u PKU rt_expect_fault(s) did not match", rt_check_failures);
	rt_pass();
}
