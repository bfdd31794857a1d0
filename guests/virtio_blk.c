/* SPDX-License-Identifier: MIT */
/*
 * virtio_blk: drives vmon's virtio-blk through PCI like a small OS would.
 * Checks the host bridge at 00:00.0, finds the disk (1af4:1042), sizes BAR
 * 0, negotiates VERSION_1 + INDIRECT + EVENT_IDX + FLUSH + DISCARD, sets up
 * queue 0 with MSI-X, then:
 *   - capacity equals sectors=N from the command line;
 *   - sector 1 holds the host's pattern (byte i = (31 * s + i) & 0xff);
 *   - writes sectors 8..15 (pattern (7 * s + 3 * i) ^ 0x5a), reads them
 *     back, and flushes;
 *   - reads sector 1 again through an indirect descriptor table;
 *   - a read at sector N fails with IOERR;
 *   - GET_ID returns "vmon-test-disk";
 *   - discards sectors 16..23 and reads zeros back;
 *   - writes "VMON-VIRTIO-BLK-OK" at the start of sector 2 and flushes;
 *   - an MSI-X interrupt follows every completion (the guest waits for
 *     it before the next request, so two can never merge into one, as
 *     MSIs of one vector may when the second comes while the first is
 *     still pending — which an asynchronous path like KVM's irqfd makes
 *     likely for a guest that polls the used ring).
 * With movebar=1 it also moves BAR 0 (notify, common configuration...)
 * 16 MiB up with decoding off after the first writes, and back with
 * decoding on after the indirect read: the device must keep working at
 * each new address (vmon re-registers its notify eventfds).
 * The host then checks sectors 2, 8..15 and 16..23 of the image file.
 */
#include "virtio_guest.h"
#include "blk_pattern.h"

static u8 ring[3][4096] __attribute__((aligned(4096)));
static u8 buf[4096] __attribute__((aligned(4096)));
static u8 buf2[4096] __attribute__((aligned(4096)));
static struct vdesc indirect[3] __attribute__((aligned(64)));

static unsigned irq_missing;

/* After a completion: waits (bounded) for the interrupt that must follow. */
static void await_irq(u64 before)
{
	for (u64 t0 = rdtsc(); !rt_waited_too_long(t0) && msi_count == before;)
		cpu_relax();
	if (msi_count == before)
		irq_missing++;
}

static int blk_req(struct vdev *d, u32 type, u64 sector, void *data, u32 len, long *used_len)
{
	u64 before = msi_count;
	int st = blk_request(d, type, sector, data, len, used_len);
	if (st >= 0)
		await_irq(before);
	return st;
}

/* Moves BAR 0 of d to base, with memory decoding off during the write
 * or not, and re-aims d's register addresses. */
static void move_bar0(struct vdev *d, u32 base, bool decode_off)
{
	unsigned slot = (unsigned)d->slot;
	u64 old = pci_r32(slot, 0x10) & ~0xfull;
	if (decode_off)
		pci_w16(slot, 0x04, 0x0004);
	pci_w32(slot, 0x10, base);
	if (decode_off)
		pci_w16(slot, 0x04, 0x0006);
	if ((pci_r32(slot, 0x10) & ~0xfu) != base)
		rt_fail("BAR0 did not move to %x", base);
	u64 delta = (u64)base - old;
	d->common += delta;
	d->notify += delta;
	d->isr += delta;
	d->devcfg += delta;
	kprintf("BAR0 moved to 0x%x (decoding %s)\n", base, decode_off ? "off" : "on");
}

void kmain(void)
{
	kputs("virtio_blk: PCI enumeration and a virtio-blk disk\n");
	u64 sectors = cmdline_get_u64("sectors", 0);
	bool movebar = cmdline_get_u64("movebar", 0) != 0;

	/* The host bridge. */
	if (pci_r32(0, 0) != 0x00081b36 || pci_r8(0, 0x0b) != 0x06)
		rt_fail("no host bridge at 00:00.0 (id %x)", pci_r32(0, 0));
	for (unsigned s = 0; s < 32; s++) {
		u32 id = pci_r32(s, 0);
		if (id != 0xffffffff)
			kprintf("  00:%02x.0 %04x:%04x class %06x\n", s, id & 0xffff, id >> 16,
				pci_r32(s, 8) >> 8);
	}
	int slot = pci_find(0x1af4, 0x1042, 0);
	if (slot < 0)
		rt_fail("no virtio-blk device");
	if (pci_r8((unsigned)slot, 8) < 1)
		rt_fail("virtio revision %u: not a modern device", pci_r8((unsigned)slot, 8));

	/* BAR 0 size probing. */
	u32 bar0 = pci_r32((unsigned)slot, 0x10);
	pci_w32((unsigned)slot, 0x10, 0xffffffff);
	u32 mask = pci_r32((unsigned)slot, 0x10);
	pci_w32((unsigned)slot, 0x10, bar0);
	u32 size = ~(mask & ~0xfu) + 1;
	kprintf("BAR0 0x%x size 0x%x\n", bar0, size);
	if (size < 0x1000 || (size & (size - 1)) || pci_r32((unsigned)slot, 0x10) != bar0)
		rt_fail("BAR0 probing: mask %x", mask);

	rt_set_irq_handler(MSI_VECTOR, msi_handler);
	lapic_enable();
	sti();

	struct vdev d;
	vdev_probe(&d, slot);
	u64 want = VF_VERSION_1 | VF_INDIRECT | VF_EVENT_IDX | VBLK_F_FLUSH | VBLK_F_DISCARD;
	if (!vdev_init(&d, want, ring[0], ring[1], ring[2]))
		rt_fail("FEATURES_OK refused");
	if ((d.features & want) != want)
		rt_fail("features %lx lack some of %lx", d.features, want);
	u64 cap = (u64)mr32(d.devcfg) | (u64)mr32(d.devcfg + 4) << 32;
	kprintf("capacity=%lu sectors, status=%x\n", cap, vdev_status(&d));
	if (cap != sectors)
		rt_fail("capacity %lu, expected sectors=%lu", cap, sectors);

	long used;
	int st = blk_req(&d, VBLK_IN, 1, buf, 512, &used);
	if (st != 0 || used != 513)
		rt_fail("read sector 1: status %d used %ld", st, used);
	check_host_pattern(buf, 1, "read");

	for (u64 s = 0; s < 8; s++)
		for (u64 i = 0; i < 512; i++)
			buf[s * 512 + i] = guest_pattern(8 + s, i);
	if ((st = blk_req(&d, VBLK_OUT, 8, buf, 4096, &used)) != 0 || used != 1)
		rt_fail("write sectors 8..15: status %d used %ld", st, used);
	memset(buf2, 0, sizeof(buf2));
	if ((st = blk_req(&d, VBLK_IN, 8, buf2, 4096, NULL)) != 0)
		rt_fail("read sectors 8..15: status %d", st);
	if (memcmp(buf, buf2, 4096) != 0)
		rt_fail("sectors 8..15 read back differ");
	if ((st = blk_req(&d, VBLK_FLUSH, 0, 0, 0, NULL)) != 0)
		rt_fail("flush: status %d", st);
	kputs("write/read/flush: ok\n");
	if (movebar) {
		move_bar0(&d, bar0 + 0x1000000, true);
		if ((st = blk_req(&d, VBLK_IN, 1, buf2, 512, NULL)) != 0)
			rt_fail("read after the BAR move: status %d", st);
		check_host_pattern(buf2, 1, "read after the BAR move");
	}

	/* The same read through an indirect table. */
	blk_hdr = (struct blk_hdr){VBLK_IN, 0, 1};
	blk_status = 0xff;
	memset(buf2, 0, 512);
	indirect[0] = (struct vdesc){(u64)(uintptr_t)&blk_hdr, 16, VD_NEXT, 1};
	indirect[1] = (struct vdesc){(u64)(uintptr_t)buf2, 512, VD_NEXT | VD_WRITE, 2};
	indirect[2] = (struct vdesc){(u64)(uintptr_t)&blk_status, 1, VD_WRITE, 0};
	d.desc[5] = (struct vdesc){(u64)(uintptr_t)indirect, sizeof(indirect), VD_INDIRECT, 0};
	u64 before = msi_count;
	vq_post(&d, 5);
	if ((used = vq_wait(&d)) >= 0)
		await_irq(before);
	if (used != 513 || blk_status != 0)
		rt_fail("indirect read: used %ld status %d", used, blk_status);
	check_host_pattern(buf2, 1, "indirect read");
	kputs("indirect: ok\n");
	if (movebar)
		move_bar0(&d, bar0, false);

	if ((st = blk_req(&d, VBLK_IN, sectors, buf, 512, NULL)) != 1)
		rt_fail("read past the end: status %d, want 1 (IOERR)", st);

	memset(buf, 0, 32);
	if ((st = blk_req(&d, VBLK_GET_ID, 0, buf, 20, &used)) != 0)
		rt_fail("get-id: status %d", st);
	if (memcmp(buf, "vmon-test-disk", 15) != 0)
		rt_fail("get-id: '%s'", (const char *)buf);
	kprintf("id=%s\n", (const char *)buf);

	struct {
		u64 sector;
		u32 num, flags;
	} seg = {16, 8, 0};
	if ((st = blk_req(&d, VBLK_DISCARD, 0, &seg, sizeof(seg), NULL)) != 0)
		rt_fail("discard: status %d", st);
	memset(buf, 0xee, 4096);
	if ((st = blk_req(&d, VBLK_IN, 16, buf, 4096, NULL)) != 0)
		rt_fail("read discarded: status %d", st);
	for (unsigned i = 0; i < 4096; i++)
		if (buf[i])
			rt_fail("discarded sectors read %x at %u", buf[i], i);
	kputs("discard: ok\n");

	memset(buf, 0, 512);
	memcpy(buf, "VMON-VIRTIO-BLK-OK", 18);
	if (blk_req(&d, VBLK_OUT, 2, buf, 512, NULL) != 0 ||
	    blk_req(&d, VBLK_FLUSH, 0, 0, 0, NULL) != 0)
		rt_fail("final write/flush");

	cli();
	kprintf("requests=%u msi=%lu\n", d.used_last, msi_count);
	/* One per completion (EVENT_IDX asks for each). */
	if (irq_missing || msi_count < d.used_last)
		rt_fail("%u completions without an MSI-X interrupt (%lu for %u requests)",
			irq_missing, msi_count, d.used_last);
	if (vdev_status(&d) & VS_NEEDS_RESET)
		rt_fail("device wants a reset");
	rt_pass();
}
