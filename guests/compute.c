/* SPDX-License-Identifier: MIT */
/* compute: pure integer work, no exits. cmdline iters=N (default 1000000). */
#include "rt.h"

void kmain(void)
{
	u64 iters = cmdline_get_u64("iters", 1000000);
	kprintf("compute: iters=%lu\n", iters);

	/* xorshift64 state mixed into a multiply-add checksum; the count comes
	 * from the command line, so the loop cannot be folded. */
	u64 x = 0x9e3779b97f4a7c15ull ^ iters;
	u64 sum = 0;
	for (u64 i = 0; i < iters; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sum = sum * 0x100000001b3ull + (x ^ i);
	}
	kprintf("checksum=%lx\n", sum);
	rt_pass();
}
