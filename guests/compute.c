/* SPDX-License-Identifier: MIT */
/* compute: pure integer work, no exits. cmdline iters=N (default 1000000). */
#include "compute_loop.h"
#include "rt.h"

void kmain(void)
{
	u64 iters = cmdline_get_u64("iters", 1000000);
	kprintf("compute: iters=%lu\n", iters);

	u64 sum = compute_loop(iters);
	kprintf("checksum=%lx\n", sum);
	rt_pass();
}
