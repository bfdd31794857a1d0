/* SPDX-License-Identifier: MIT */
/*
 * sysfeat: the system features a CPU model can leave out (pcid, invpcid,
 * smep, smap, umip: --cpu-features -F) behave as on hardware without them.
 * Prints what CPUID reports on one line ("sysfeat: pcid=1 invpcid=0 ...",
 * for the test to compare with the model it asked for), then for each:
 *   - absent: setting its CR4 bit (PCIDE, SMEP, SMAP, UMIP) is #GP(0),
 *     INVPCID is #UD, STAC and CLAC are #UD (they come with SMAP);
 *   - present: PCIDE and UMIP can be set and cleared (SMEP and SMAP are
 *     not turned on here: the kit's pages are user pages; guests/smap.c
 *     tests those), INVPCID type 2 and STAC/CLAC run without a fault.
 * stac=0 on the command line leaves STAC/CLAC out: no hardware can make
 * them #UD for a guest (they are not intercepted), so on KVM a CPU with
 * SMAP runs them whatever the guest's CPUID says.
 */
#include "catch.h"
#include "rt.h"

#define CR4_UMIP  (1ull << 11)
#define CR4_PCIDE (1ull << 17)
#define CR4_SMEP  (1ull << 20)
#define CR4_SMAP  (1ull << 21)

static void cr4_set_faults(const char *name, u64 bit)
{
	rt_catch_reset();
	__asm__ volatile(FAULT("mov %%rbx, %%cr4") : : "b"(read_cr4() | bit) : "rax", "memory");
	rt_expect_fault(name, 13, 0, fault_rip, 0);
}

static void cr4_set_clear_ok(const char *name, u64 bit)
{
	u64 cr4 = read_cr4();
	rt_catch_reset();
	__asm__ volatile(FAULT("mov %%rbx, %%cr4") : : "b"(cr4 | bit) : "rax", "memory");
	rt_expect(name, rt_caught.count == 0 && (read_cr4() & bit));
	write_cr4(cr4);
}

static void invpcid_all(void)
{
	struct {
		u64 pcid, addr;
	} desc = {0, 0};
	rt_catch_reset();
	__asm__ volatile(FAULT("invpcid (%%rbx), %%rcx")
			 :
			 : "b"(&desc), "c"(2ull)
			 : "rax", "memory");
}

void kmain(void)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	bool pcid = (c >> 17) & 1;
	cpuid(7, 0, &a, &b, &c, &d);
	bool invpcid = (b >> 10) & 1, smep = (b >> 7) & 1, smap = (b >> 20) & 1;
	bool umip = (c >> 2) & 1;
	kprintf("sysfeat: pcid=%d invpcid=%d smep=%d smap=%d umip=%d\n", pcid, invpcid, smep, smap,
		umip);
	rt_set_exception_hook(rt_catch_hook);

	if (pcid)
		cr4_set_clear_ok("CR4.PCIDE set and cleared with PCID", CR4_PCIDE);
	else
		cr4_set_faults("#GP setting CR4.PCIDE without PCID", CR4_PCIDE);

	invpcid_all();
	if (invpcid)
		rt_expect_no_fault("INVPCID type 2 with INVPCID");
	else
		rt_expect_fault("#UD INVPCID without INVPCID", 6, 0, fault_rip, 0);

	if (!smep)
		cr4_set_faults("#GP setting CR4.SMEP without SMEP", CR4_SMEP);

	if (!smap)
		cr4_set_faults("#GP setting CR4.SMAP without SMAP", CR4_SMAP);
	if (!cmdline_get_u64("stac", 1))
		goto umip;
	rt_catch_reset();
	__asm__ volatile(FAULT("stac") : : : "rax", "memory", "cc");
	if (smap)
		rt_expect_no_fault("STAC with SMAP");
	else
		rt_expect_fault("#UD STAC without SMAP", 6, 0, fault_rip, 0);
	rt_catch_reset();
	__asm__ volatile(FAULT("clac") : : : "rax", "memory", "cc");
	if (smap)
		rt_expect_no_fault("CLAC with SMAP");
	else
		rt_expect_fault("#UD CLAC without SMAP", 6, 0, fault_rip, 0);

umip:
	if (umip)
		cr4_set_clear_ok("CR4.UMIP set and cleared with UMIP", CR4_UMIP);
	else
		cr4_set_faults("#GP setting CR4.UMIP without UMIP", CR4_UMIP);

	if (rt_check_failures)
		rt_fail("%u sysfeat check(s) did not match", rt_check_failures);
	rt_pass();
}
