/* SPDX-License-Identifier: MIT */
/*
 * The compute guest's loop, shared with bench/native_compute.c so the
 * benchmark compares the very same code natively and inside VMs.
 * xorshift64 state mixed into a multiply-add checksum; the count comes from
 * the caller at run time, so the loop cannot be folded.
 */
#ifndef KIT_COMPUTE_LOOP_H
#define KIT_COMPUTE_LOOP_H

static inline unsigned long long compute_loop(unsigned long long iters)
{
	unsigned long long x = 0x9e3779b97f4a7c15ull ^ iters;
	unsigned long long sum = 0;
	for (unsigned long long i = 0; i < iters; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		sum = sum * 0x100000001b3ull + (x ^ i);
	}
	return sum;
}

#endif
