/* SPDX-License-Identifier: MIT */
/*
 * reboot: CMOS NVRAM byte 0x40 counts boots. First boot: set it to 1 and
 * reset (i8042 0xFE pulse; if there is no i8042, triple fault). Second
 * boot: clear it and pass.
 */
#include "rt.h"

#define CMOS_BOOT_COUNTER 0x40

static u8 cmos_read(u8 idx)
{
	outb(0x70, idx);
	return inb(0x71);
}

static void cmos_write(u8 idx, u8 v)
{
	outb(0x70, idx);
	outb(0x71, v);
}

void kmain(void)
{
	u8 c = cmos_read(CMOS_BOOT_COUNTER);
	kprintf("reboot: boot counter %u\n", c);
	if (c != 1) {
		/* 0 on a fresh machine; anything else is taken as uninitialised. */
		cmos_write(CMOS_BOOT_COUNTER, 1);
		if (cmos_read(CMOS_BOOT_COUNTER) != 1)
			rt_fail("CMOS byte 0x40 does not hold a written value (no RTC/NVRAM?)");
		kputs("first boot\n");
		outb(0x64, 0xfe); /* i8042: pulse the reset line */
		rt_delay(20000);
		kputs("no reset from the i8042; forcing a triple fault\n");
		struct {
			u16 limit;
			u64 base;
		} __attribute__((packed)) empty = {0, 0};
		__asm__ volatile("lidt %0\n\tud2" : : "m"(empty) : "memory");
		rt_fail("still running after the triple fault");
	}
	cmos_write(CMOS_BOOT_COUNTER, 0);
	kputs("second boot\n");
	rt_pass();
}
