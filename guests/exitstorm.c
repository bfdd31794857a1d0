/* SPDX-License-Identifier: MIT */
/*
 * exitstorm: many VM exits. n=N (default 10000) port writes to an
 * unclaimed port (port=, default 0xe0) and N MMIO write+read pairs to an
 * unclaimed address in the 3-4 GiB hole (mmio=, default 0xd0000000, mapped
 * uncached). Every read must return the same value and must not be what
 * was written: all-ones (vmon, real hardware) or 0 (QEMU's unassigned
 * memory); ones=1 accepts only all-ones.
 */
#include "rt.h"

void kmain(void)
{
	u64 n = cmdline_get_u64("n", 10000);
	u16 port = (u16)cmdline_get_u64("port", 0xe0);
	u64 mmio = cmdline_get_u64("mmio", 0xd0000000);
	bool require_ones = cmdline_get_u64("ones", 0) != 0;
	kprintf("exitstorm: n=%lu port=0x%x mmio=0x%lx\n", n, port, mmio);
	if (mmio < 0xc0000000ull || mmio >= 0xfec00000ull || (mmio & 3))
		rt_fail("mmio address 0x%lx outside the uncached hole 0xc0000000..0xfec00000", mmio);

	u64 pio = 0;
	for (u64 i = 0; i < n; i++) {
		outb(port, (u8)i);
		pio++;
	}
	kprintf("pio_writes=%lu\n", pio);

	u64 writes = 0, reads = 0, same = 0;
	u32 first = 0;
	for (u64 i = 0; i < n; i++) {
		mmio_write32(mmio, (u32)i ^ 0x5a5a5a5au);
		writes++;
		u32 v = mmio_read32(mmio);
		if (reads++ == 0)
			first = v;
		if (v == first)
			same++;
	}
	kprintf("mmio_writes=%lu mmio_reads=%lu read_value=0x%x consistent=%lu\n", writes, reads,
		first, same);
	if (n && same != reads)
		rt_fail("unclaimed MMIO reads changed value (%lu of %lu differ from 0x%x)",
			reads - same, reads, first);
	if (n && first != 0xffffffffu && (require_ones || first != 0))
		rt_fail("unclaimed MMIO read 0x%x, expected all-ones%s", first,
			require_ones ? "" : " (or 0, as QEMU returns)");
	rt_pass();
}
