/* SPDX-License-Identifier: MIT */
/*
 * virtio_console: writes "hello from hvc0" to vmon's virtio-console
 * (1af4:1043, one port) and, with input=1 on the command line, reads a
 * line from it and writes "got: <line>" back. Status on the serial port;
 * prints SUCCESS there.
 */
#include "virtio_guest.h"

#define BUF	    256

static u8 rings[2][3][4096] __attribute__((aligned(4096)));
static u8 rxbuf[QSZ][BUF];
static u8 txbuf[BUF];
static struct vdev d;
static struct gvq rxq, txq;

static void con_write(const char *s)
{
	u32 n = (u32)strlen(s);
	memcpy(txbuf, s, n);
	gvq_send_wait(&d, &txq, txbuf, n, "console output");
}

void kmain(void)
{
	kputs("virtio_console: hvc0\n");
	int slot = pci_find(0x1af4, 0x1043, 0);
	if (slot < 0)
		rt_fail("no virtio-console device");
	rt_set_irq_handler(MSI_VECTOR, msi_handler);
	lapic_enable();
	vdev_probe(&d, slot);
	if (!vdev_begin(&d, VF_VERSION_1))
		rt_fail("FEATURES_OK refused");
	gvq_setup(&d, 0, &rxq, rings[0][0]);
	gvq_setup(&d, 1, &txq, rings[1][0]);
	for (u16 i = 0; i < QSZ; i++) {
		rxq.desc[i] = (struct vdesc){(u64)(uintptr_t)rxbuf[i], 8, VD_WRITE, 0};
		gvq_add(&rxq, i);
	}
	vdev_ready(&d);
	gvq_kick(&d, &rxq);
	con_write("hello from hvc0\n");
	if (cmdline_has("input=1")) {
		/* Small (8-byte) buffers: a line spans several. */
		char line[64];
		u32 n = 0;
		for (u64 t0 = rdtsc(); !rt_waited_too_long(t0);) {
			u16 id;
			u32 len;
			if (!gvq_get(&rxq, &id, &len)) {
				cpu_relax();
				continue;
			}
			if (id >= QSZ || len > 8)
				rt_fail("bad used entry: id %u len %u", id, len);
			for (u32 k = 0; k < len && n < sizeof(line) - 1; k++)
				line[n++] = (char)rxbuf[id][k];
			gvq_add(&rxq, id);
			gvq_kick(&d, &rxq);
			if (n && line[n - 1] == '\n')
				break;
		}
		line[n] = 0;
		if (!n || line[n - 1] != '\n')
			rt_fail("no input line (%u bytes)", n);
		kprintf("console input: %s", line);
		con_write("got: ");
		con_write(line);
	}
	rt_pass();
}
