/* SPDX-License-Identifier: MIT */
/* Catching an expected exception: see catch.h. */
#include "catch.h"

volatile u64 resume_rip, fault_rip;
volatile struct rt_catch rt_caught;

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
