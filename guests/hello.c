/* SPDX-License-Identifier: MIT */
/* hello: the smallest guest. Checks boot, serial output and exit.
 * lines=N (default 0): then N numbered lines, for tests that need a guest
 * that keeps writing (a console whose reader goes away). */
#include "rt.h"

void kmain(void)
{
	kputs("hello: vmon test kit guest\n");
	kputs("Hello from the vmon test kit\n");
	u64 n = cmdline_get_u64("lines", 0);
	for (u64 i = 0; i < n; i++)
		kprintf("line %lu\n", i);
	rt_pass();
}
