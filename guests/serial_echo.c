/* SPDX-License-Identifier: MIT */
/*
 * serial_echo: reads COM1 (polling LSR.DR) until EOT (0x04), then prints
 * the byte count (EOT excluded) and a 32-bit FNV-1a of those bytes.
 * idle=N: give up after N consecutive empty polls (default 200000000).
 */
#include "rt.h"

void kmain(void)
{
	u64 idle_max = cmdline_get_u64("idle", 200000000);
	kputs("serial_echo: send bytes, end with 0x04\n");
	u32 h = 0x811c9dc5u;
	u64 count = 0, idle = 0;
	for (;;) {
		if (!serial_rx_ready()) {
			if (++idle >= idle_max)
				rt_fail("no input for %lu polls (bytes=%lu so far)", idle, count);
			continue;
		}
		idle = 0;
		u8 c = inb(COM1);
		if (c == 0x04)
			break;
		h ^= c;
		h *= 0x01000193u;
		count++;
	}
	kprintf("bytes=%lu sum=%08x\n", count, h);
	rt_pass();
}
