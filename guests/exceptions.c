/* SPDX-License-Identifier: MIT */
/*
 * exceptions: raises #UD, #DE, #PF (read/write not-present, write
 * read-only) and #GP (non-canonical address, bad DS selector) and checks
 * vector, error code, RIP and CR2 as seen by the IDT handler. The handler
 * resumes at a recorded address after the faulting instruction.
 * cmdline: bp=1 also checks #BP (int3; RIP = next instruction).
 */
#include "catch.h"
#include "rt.h"

/* Test window above 4 GiB (outside the identity map), 4 KiB pages. */
#define TEST_VA 0x100000000ull
#define NP_VA (TEST_VA)          /* not present */
#define RO_VA (TEST_VA + 0x1000) /* present, read-only */

static u64 test_pd[512] __attribute__((aligned(4096)));
static u64 test_pt[512] __attribute__((aligned(4096)));
static u64 ro_page[512] __attribute__((aligned(4096)));

static unsigned failures;

/* Records the fault address (label 2) and the resume address (label 1);
 * the faulting instruction goes between them. */
/* Compares what the handler saw with what was expected. */
static void check(const char *name, u64 vec, u64 err, bool check_err, u64 rip, bool check_cr2,
		  u64 cr2)
{
	bool ok = rt_caught.count == 1 && rt_caught.vector == vec && rt_caught.rip == rip &&
		  (!check_err || rt_caught.err == err) && (!check_cr2 || rt_caught.cr2 == cr2);
	kprintf("%s: %s vector=%lu err=0x%lx rip=0x%lx cr2=0x%lx (expected vector=%lu",
		ok ? "ok  " : "BAD ", name, rt_caught.vector, rt_caught.err, rt_caught.rip, rt_caught.cr2, vec);
	if (check_err)
		kprintf(" err=0x%lx", err);
	kprintf(" rip=0x%lx", rip);
	if (check_cr2)
		kprintf(" cr2=0x%lx", cr2);
	kprintf(")\n");
	if (rt_caught.count != 1)
		kprintf("      handler ran %lu times\n", rt_caught.count);
	if (!ok)
		failures++;
}

void kmain(void)
{
	bool do_bp = cmdline_get_u64("bp", 0) != 0;
	kprintf("exceptions: #UD #DE #PF #GP%s through the IDT\n", do_bp ? " #BP" : "");
	rt_set_exception_hook(rt_catch_hook);
	if (!(read_cr0() & CR0_WP))
		rt_fail("CR0.WP is clear");

	/* Map the test window: PDPT[4] -> test_pd -> test_pt. */
	for (int i = 0; i < 512; i++)
		ro_page[i] = 0x5a5a5a5a00000000ull | (u64)i;
	test_pt[0] = 0;                                   /* not present */
	test_pt[1] = (u64)(uintptr_t)ro_page | PTE_P;     /* read-only */
	test_pd[0] = (u64)(uintptr_t)test_pt | PTE_P | PTE_W;
	rt_pdpt[4] = (u64)(uintptr_t)test_pd | PTE_P | PTE_W;
	write_cr3(read_cr3());

	/* #UD: fault, RIP = the ud2. */
	rt_catch_reset();
	__asm__ volatile(FAULT("ud2") : : : "rax", "memory");
	check("#UD ud2", 6, 0, false, fault_rip, false, 0);

	/* #BP: trap, RIP = the instruction after int3. Off by default: KVM's
	 * instruction emulator cannot deliver software interrupts in
	 * protected/long mode (emulation failure), and vmon's KVM backend
	 * runs guests through it on hosts without hardware assistance. */
	if (do_bp) {
		rt_catch_reset();
		__asm__ volatile(FAULT("int3") : : : "rax", "memory");
		u64 after = fault_rip + 1;
		check("#BP int3", 3, 0, false, after, false, 0);
	}

	/* #DE: divide by zero. */
	rt_catch_reset();
	__asm__ volatile("xor %%edx, %%edx\n\tmov $1, %%eax\n\t" FAULT("divl %%ecx")
			 : : "c"(0) : "rax", "rdx", "memory");
	check("#DE div 0", 0, 0, false, fault_rip, false, 0);

	/* #PF: read of a not-present page: P=0 W=0 U=0. */
	rt_catch_reset();
	__asm__ volatile(FAULT("movq (%%rbx), %%rcx") : : "b"(NP_VA) : "rax", "rcx", "memory");
	check("#PF read not-present", 14, 0x0, true, fault_rip, true, NP_VA);

	/* #PF: write to a not-present page: W=1. */
	rt_catch_reset();
	__asm__ volatile(FAULT("movq %%rcx, 8(%%rbx)")
			 : : "b"(NP_VA), "c"(0x1234) : "rax", "memory");
	check("#PF write not-present", 14, 0x2, true, fault_rip, true, NP_VA + 8);

	/* Reading the read-only page works. */
	{
		u64 v = *(volatile u64 *)(RO_VA + 16);
		bool ok = v == (0x5a5a5a5a00000000ull | 2);
		kprintf("%s: read of read-only page = 0x%lx\n", ok ? "ok  " : "BAD ", v);
		if (!ok)
			failures++;
	}

	/* #PF: write to a read-only page: P=1 W=1. */
	rt_catch_reset();
	__asm__ volatile(FAULT("movq %%rcx, 0x18(%%rbx)")
			 : : "b"(RO_VA), "c"(0x1234) : "rax", "memory");
	check("#PF write read-only", 14, 0x3, true, fault_rip, true, RO_VA + 0x18);
	if (ro_page[3] != (0x5a5a5a5a00000000ull | 3)) {
		kprintf("BAD : read-only page was modified\n");
		failures++;
	}

	/* #GP: non-canonical address, error code 0. */
	rt_catch_reset();
	__asm__ volatile(FAULT("movq (%%rbx), %%rcx")
			 : : "b"(0x8000000000000000ull) : "rax", "rcx", "memory");
	check("#GP non-canonical", 13, 0, true, fault_rip, false, 0);

	/* #GP: selector 0x100 is beyond the GDT limit; error code = selector. */
	rt_catch_reset();
	__asm__ volatile(FAULT("movw %%cx, %%ds") : : "c"(0x100) : "rax", "memory");
	check("#GP bad DS selector", 13, 0x100, true, fault_rip, false, 0);

	rt_pdpt[4] = 0;
	write_cr3(read_cr3());
	rt_set_exception_hook(NULL);

	if (failures)
		rt_fail("%u exception check(s) did not match", failures);
	rt_pass();
}
