/* SPDX-License-Identifier: MIT */
/* Catching an expected exception: see catch.h. */
#include "catch.h"

volatile u64 resume_rip, fault_rip;
volatile struct rt_catch rt_caught;
unsigned rt_check_failures;

void rt_catch_reset(void)
{
	rt_caught.count = 0;
	rt_caught.vector = rt_caught.err = rt_caught.rip = rt_caught.cr2 = ~0ull;
}

bool rt_catch_hook(struct rt_frame *f, u64 cr2)
{
	if (!resume_rip)
		return false;
	rt_caught.count++;
	rt_caught.vector = f->vector;
	rt_caught.err = f->err;
	rt_caught.rip = f->rip;
	rt_caught.cr2 = cr2;
	f->rip = resume_rip;
	resume_rip = 0;
	return true;
}

void rt_expect(const char *name, bool ok)
{
	kprintf("%s: %s\n", ok ? "ok  " : "BAD ", name);
	if (!ok)
		rt_check_failures++;
}

void rt_expect_fault(const char *name, u64 vec, u64 err, u64 rip, u64 cr2)
{
	bool ok = rt_caught.count == 1 && rt_caught.vector == vec && rt_caught.rip == rip && rt_caught.err == err &&
		  (vec != 14 || rt_caught.cr2 == cr2);
	kprintf("%s: %s vector=%lu err=0x%lx rip=0x%lx cr2=0x%lx (expected vector=%lu err=0x%lx "
		"rip=0x%lx cr2=0x%lx)\n",
		ok ? "ok  " : "BAD ", name, rt_caught.vector, rt_caught.err, rt_caught.rip, rt_caught.cr2, vec, err, rip,
		cr2);
	if (!ok)
		rt_check_failures++;
}

void rt_expect_no_fault(const char *name)
{
	bool ok = rt_caught.count == 0;
	kprintf("%s: %s%s\n", ok ? "ok  " : "BAD ", name, ok ? "" : " (it faulted)");
	if (!ok)
		rt_check_failures++;
}
