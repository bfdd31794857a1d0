/* SPDX-License-Identifier: MIT */
/* hello: the smallest guest. Checks boot, serial output and exit. */
#include "rt.h"

void kmain(void)
{
	kputs("hello: vmon test kit guest\n");
	kputs("Hello from the vmon test kit\n");
	rt_pass();
}
