/* SPDX-License-Identifier: MIT */
/*
 * paging: page-walk faults beyond "not present" and "read-only", checked
 * as the IDT handler sees them (vector, error code, RIP, CR2):
 *   - an address bit at or above MAXPHYADDR (CPUID 0x80000008) in a PTE:
 *     #PF with P and RSVD, on a read and on a write;
 *   - a 2 MiB page whose address has bit 13 set (reserved below the
 *     page's alignment): #PF with P and RSVD;
 *   - SMEP (when CPUID.7.EBX[7] offers it): a supervisor jump into a user
 *     page faults with P and I/D, CR2 = RIP = the target; without SMEP the
 *     same jump runs the page's code.
 * cmdline: nonram=1 also jumps to a guest-physical address with no RAM
 * (--mem 32M, address 256 MiB): the CPU reads all ones there and raises
 * #UD at that RIP (the software CPU; KVM's ends the VM instead).
 */
#include "catch.h"
#include "rt.h"

/* Test window above 4 GiB (outside the identity map). */
#define TEST_VA	   0x100000000ull
#define RSVD_VA	   (TEST_VA)		  /* 4 KiB page, bit MAXPHYADDR set */
#define USER_VA	   (TEST_VA + 0x1000)	  /* 4 KiB user page holding code */
#define BIG_VA	   (TEST_VA + 0x200000)	  /* 2 MiB page, bit 13 set */
#define NONRAM_PA  0x10000000ull	  /* 256 MiB: above --mem 32M */
#define CR4_SMEP   (1ull << 20)
#define CR4_PCIDE  (1ull << 17)
#define ERR_P	   0x1
#define ERR_W	   0x2
#define ERR_RSVD   0x8
#define ERR_ID	   0x10

static u64 test_pd[512] __attribute__((aligned(4096)));
static u64 test_pt[512] __attribute__((aligned(4096)));
static u8 data_page[4096] __attribute__((aligned(4096)));
static u8 code_page[4096] __attribute__((aligned(4096)));
/* 2 MiB-aligned backing for the big page (inside the guest's RAM). */
#define BIG_PA 0x1000000ull

static unsigned failures;

static void check(const char *name, u64 vec, u64 err, u64 rip, bool check_cr2, u64 cr2)
{
	bool ok = rt_caught.count == 1 && rt_caught.vector == vec && rt_caught.rip == rip &&
		  (vec != 14 || rt_caught.err == err) && (!check_cr2 || rt_caught.cr2 == cr2);
	kprintf("%s: %s vector=%lu err=0x%lx rip=0x%lx cr2=0x%lx (expected vector=%lu err=0x%lx "
		"rip=0x%lx)\n",
		ok ? "ok  " : "BAD ", name, rt_caught.vector, rt_caught.err, rt_caught.rip, rt_caught.cr2, vec,
		vec == 14 ? err : 0, rip);
	if (!ok)
		failures++;
}

static void flush(void)
{
	write_cr3(read_cr3());
}

static void invpcid(u64 type, u64 pcid, u64 addr)
{
	struct {
		u64 pcid, addr;
	} desc = {pcid, addr};
	__asm__ volatile("invpcid %0, %1" : : "m"(desc), "r"(type) : "memory");
}

/* Maps TEST_VA's first page to page (PTE 0), without any flush. */
static volatile u64 *remap(u64 *page)
{
	test_pt[0] = (u64)(uintptr_t)page | PTE_P | PTE_W;
	return (volatile u64 *)TEST_VA;
}

static u64 page_a[512] __attribute__((aligned(4096)));
static u64 page_b[512] __attribute__((aligned(4096)));

/* PCIDs: CR4.PCIDE needs PCID 0 current; CR3 bit 63 is not stored;
 * INVPCID's checks; and each INVPCID type drops a translation that was
 * changed in the page tables (the TLB may drop more, never less). */
static void pcid_checks(void)
{
	u64 cr3 = read_cr3(), cr4 = read_cr4();
	page_a[0] = 0xaaaa;
	page_b[0] = 0xbbbb;

	write_cr3(cr3 | 1);
	rt_catch_reset();
	__asm__ volatile(FAULT("mov %%rbx, %%cr4") : : "b"(cr4 | CR4_PCIDE) : "rax", "memory");
	check("#GP setting CR4.PCIDE with PCID 1 current", 13, 0, fault_rip, false, 0);
	write_cr3(cr3);
	write_cr4(cr4 | CR4_PCIDE);
	write_cr3(cr3 | 5 | (1ull << 63));
	u64 got = read_cr3();
	bool ok = got == (cr3 | 5);
	kprintf("%s: PCID 5 with CR3 bit 63: CR3 reads 0x%lx (want 0x%lx)\n", ok ? "ok  " : "BAD ", got,
		cr3 | 5);
	if (!ok)
		failures++;

	rt_catch_reset();
	__asm__ volatile(ARM "2: invpcid (%%rbx), %%rcx\n1:\n\t"
			 : : "b"(&(u64[2]){0, 0}), "c"(4ull) : "rax", "memory");
	check("#GP INVPCID type 4", 13, 0, fault_rip, false, 0);
	rt_catch_reset();
	__asm__ volatile(ARM "2: invpcid (%%rbx), %%rcx\n1:\n\t"
			 : : "b"(&(u64[2]){1ull << 12, 0}), "c"(1ull) : "rax", "memory");
	check("#GP INVPCID descriptor bit 12", 13, 0, fault_rip, false, 0);
	rt_catch_reset();
	__asm__ volatile(ARM "2: invpcid (%%rbx), %%rcx\n1:\n\t"
			 : : "b"(&(u64[2]){5, 1ull << 63}), "c"(0ull) : "rax", "memory");
	check("#GP INVPCID type 0, non-canonical address", 13, 0, fault_rip, false, 0);

	static const char *const names[4] = {"address", "single context", "all with globals",
					     "all but globals"};
	for (u64 type = 0; type < 4; type++) {
		volatile u64 *p = remap(page_a);
		__asm__ volatile("invlpg (%0)" : : "r"(TEST_VA) : "memory");
		u64 v1 = *p;
		remap(page_b);
		invpcid(type, 5, TEST_VA);
		u64 v2 = *p;
		ok = v1 == 0xaaaa && v2 == 0xbbbb;
		kprintf("%s: INVPCID type %lu (%s) drops the old translation (read 0x%lx then 0x%lx)\n",
			ok ? "ok  " : "BAD ", type, names[type], v1, v2);
		if (!ok)
			failures++;
	}
	test_pt[0] = 0;
	write_cr3(cr3 | 5);
	write_cr3(cr3 | 0);
	write_cr4(cr4);
	flush();
}

void kmain(void)
{
	u32 a, b, c, d;
	cpuid(0x80000008, 0, &a, &b, &c, &d);
	unsigned maxphy = a & 0xff;
	cpuid(7, 0, &a, &b, &c, &d);
	bool smep = (b >> 7) & 1;
	bool pcid = (b >> 10) & 1; /* INVPCID ... */
	cpuid(1, 0, &a, &b, &c, &d);
	pcid = pcid && ((c >> 17) & 1); /* ... and PCID */
	kprintf("paging: MAXPHYADDR %u, SMEP %s\n", maxphy, smep ? "offered" : "not offered");
	rt_set_exception_hook(rt_catch_hook);

	/* PML4[0] and PDPT[4] allow user access, so a U=1 leaf below them is
	 * a user page; the identity map's own PDEs stay supervisor-only. */
	rt_pml4[0] |= PTE_U;
	test_pt[1] = (u64)(uintptr_t)code_page | PTE_P | PTE_W | PTE_U;
	test_pd[0] = (u64)(uintptr_t)test_pt | PTE_P | PTE_W | PTE_U;
	test_pd[1] = BIG_PA | (1ull << 13) | PTE_P | PTE_W | PTE_PS;
	rt_pdpt[4] = (u64)(uintptr_t)test_pd | PTE_P | PTE_W | PTE_U;
	code_page[0] = 0xc3; /* ret */

	if (maxphy < 52) {
		test_pt[0] = (u64)(uintptr_t)data_page | (1ull << maxphy) | PTE_P | PTE_W;
		flush();
		rt_catch_reset();
		__asm__ volatile(FAULT("movq (%%rbx), %%rcx") : : "b"(RSVD_VA + 8) : "rax", "rcx",
				 "memory");
		check("#PF read, PTE bit MAXPHYADDR", 14, ERR_P | ERR_RSVD, fault_rip, true,
		      RSVD_VA + 8);
		rt_catch_reset();
		__asm__ volatile(FAULT("movq %%rcx, (%%rbx)") : : "b"(RSVD_VA), "c"(1) : "rax",
				 "memory");
		check("#PF write, PTE bit MAXPHYADDR", 14, ERR_P | ERR_W | ERR_RSVD, fault_rip, true,
		      RSVD_VA);
	} else {
		kprintf("skip: MAXPHYADDR 52 leaves no reserved address bit\n");
	}
	test_pt[0] = 0;

	flush();
	rt_catch_reset();
	__asm__ volatile(FAULT("movq (%%rbx), %%rcx") : : "b"(BIG_VA + 0x40) : "rax", "rcx",
			 "memory");
	check("#PF read, 2 MiB page with bit 13", 14, ERR_P | ERR_RSVD, fault_rip, true,
	      BIG_VA + 0x40);
	test_pd[1] = 0;
	flush();

	/* INVLPG of one address in a 2 MiB page drops the whole page's
	 * translation: two of its 4 KiB granules are read, the PDE moves to
	 * other memory, one INVLPG at the page's start, and the other
	 * granule reads the new memory. */
	*(volatile u64 *)(BIG_PA + 0x1000) = 0x1111;
	*(volatile u64 *)(BIG_PA + 0x200000 + 0x1000) = 0x2222;
	test_pd[1] = BIG_PA | PTE_P | PTE_W | PTE_PS;
	flush();
	u64 before = *(volatile u64 *)BIG_VA + *(volatile u64 *)(BIG_VA + 0x1000);
	test_pd[1] = (BIG_PA + 0x200000) | PTE_P | PTE_W | PTE_PS;
	__asm__ volatile("invlpg (%0)" : : "r"(BIG_VA) : "memory");
	u64 after = *(volatile u64 *)(BIG_VA + 0x1000);
	bool ok = before == 0x1111 && after == 0x2222;
	kprintf("%s: INVLPG drops a whole 2 MiB page (read 0x%lx after the PDE moved, want 0x2222)\n",
		ok ? "ok  " : "BAD ", after);
	if (!ok)
		failures++;
	test_pd[1] = 0;
	flush();

	/* Without SMEP a supervisor call into the user page runs it. */
	write_cr4(read_cr4() & ~CR4_SMEP);
	((void (*)(void))USER_VA)();
	kprintf("ok  : supervisor call into a user page without SMEP returned\n");
	if (smep) {
		write_cr4(read_cr4() | CR4_SMEP);
		rt_catch_reset();
		__asm__ volatile(FAULT("jmp *%%rbx") : : "b"(USER_VA) : "rax", "memory");
		check("#PF SMEP: supervisor jump into a user page", 14, ERR_P | ERR_ID, USER_VA, true,
		      USER_VA);
		/* Again with the page's translation cached by a data read (the
		 * TLB holds it as user + executable). */
		(void)*(volatile u8 *)USER_VA;
		rt_catch_reset();
		__asm__ volatile(FAULT("jmp *%%rbx") : : "b"(USER_VA) : "rax", "memory");
		check("#PF SMEP, the user page's translation cached", 14, ERR_P | ERR_ID, USER_VA,
		      true, USER_VA);
		write_cr4(read_cr4() & ~CR4_SMEP);
		((void (*)(void))USER_VA)();
		kprintf("ok  : the same call after SMEP is cleared returned\n");
	}

	if (pcid)
		pcid_checks();
	else
		kprintf("skip: PCID/INVPCID not offered\n");

	if (cmdline_get_u64("nonram", 0)) {
		rt_catch_reset();
		__asm__ volatile(FAULT("jmp *%%rbx") : : "b"(NONRAM_PA) : "rax", "memory");
		check("#UD fetch from a physical address with no RAM", 6, 0, NONRAM_PA, false, 0);
	}

	rt_pdpt[4] = 0;
	rt_pml4[0] &= ~(u64)PTE_U;
	flush();
	rt_set_exception_hook(NULL);
	if (failures)
		rt_fail("%u paging check(s) did not match", failures);
	rt_pass();
}
