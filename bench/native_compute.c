/* SPDX-License-Identifier: MIT */
/* The compute guest's loop run natively: prints seconds and the checksum. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "compute_loop.h"

int main(int argc, char **argv)
{
	unsigned long long iters = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	unsigned long long sum = compute_loop(iters);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.9f checksum=%llx\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9,
	       sum);
	return 0;
}
