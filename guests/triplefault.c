/* SPDX-License-Identifier: MIT */
/* triplefault: empty IDT + #UD -> #GP -> #DF -> triple fault (shutdown). */
#include "rt.h"

void kmain(void)
{
	kputs("triplefault: loading an empty IDT and executing ud2\n");
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) empty = {0, 0};
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty) : "memory");
	rt_fail("still running after the triple fault");
}
