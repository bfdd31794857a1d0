/* SPDX-License-Identifier: MIT */
/*
 * kbd: waits for Ctrl-Alt-Del on the i8042 keyboard (the API's
 * SendCtrlAltDel). Polls the status port for output-buffer-full keyboard
 * bytes and expects, with the controller's default translation on, the
 * set-1 codes 1d 38 e0 53 (press) e0 d3 b8 9d (release); any other byte
 * fails. Gives up after RT_WAIT_TSC ticks without a byte.
 */
#include "rt.h"

#define I8042_DATA   0x60
#define I8042_STATUS 0x64
#define STS_OBF	     0x01
#define STS_AUX	     0x20

void kmain(void)
{
	static const u8 want[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	kputs("kbd: waiting for Ctrl-Alt-Del\n");
	unsigned got = 0;
	u64 t0 = rdtsc();
	while (got < sizeof(want)) {
		u8 s = inb(I8042_STATUS);
		if (!(s & STS_OBF) || (s & STS_AUX)) {
			if (rt_waited_too_long(t0))
				rt_fail("no key after %u of %u bytes", got, (unsigned)sizeof(want));
			continue;
		}
		u8 b = inb(I8042_DATA);
		if (b != want[got])
			rt_fail("byte %u is %x, want %x", got, b, want[got]);
		got++;
		t0 = rdtsc();
	}
	kputs("kbd: Ctrl-Alt-Del pressed and released\n");
	rt_pass();
}
