/* SPDX-License-Identifier: MIT */
/*
 * virtio_bad: one malicious virtio-blk queue per run, chosen by
 * case=NAME on the command line. vmon must survive and answer with the
 * expected outcome, and the device must work again afterwards (on the
 * same queue, or after a device reset where it asked for one).
 *
 *   case        what the guest does                        expected
 *   loop        chain 0 -> 1 -> 0                           failed request
 *   long        every descriptor chained, last -> first     failed request
 *   next_oob    next index beyond the queue                 failed request
 *   zero_len    a zero-length data buffer                   failed request
 *   past_ram    data buffer straddling the end of RAM       failed request
 *   mmio        data buffer on the IOAPIC (MMIO hole)       failed request
 *   wrap        data buffer wrapping around 2^64            failed request
 *   nested      indirect table inside an indirect table     failed request
 *   head_oob    available ring names head QSZ + 1           NEEDS_RESET
 *   avail_jump  available index moved by QSZ + 2            NEEDS_RESET
 *   ring_ram    descriptor table outside RAM at enable      NEEDS_RESET
 *   ro_write    write to a read-only disk (--disk ...,ro)   IOERR, data unchanged
 *   past_end    read at the capacity, at 2^63, write across IOERR
 *               the end
 * A failed request is completed with used length 0 and its status byte
 * untouched. Prints "outcome=..." and SUCCESS.
 */
#include "virtio_guest.h"

static u8 ring[3][4096] __attribute__((aligned(4096)));
static u8 buf[4096] __attribute__((aligned(4096)));
static struct vdesc ind[2][4] __attribute__((aligned(64)));
static struct vdev d;
static const u64 want = VF_VERSION_1 | VF_INDIRECT | VBLK_F_FLUSH;

static u64 ram_end(void)
{
	u32 n;
	const struct hvm_memmap_entry *m = rt_memmap(&n);
	u64 end = 0;
	for (u32 i = 0; i < n; i++)
		if (m[i].type == MEMMAP_RAM && m[i].addr + m[i].size > end &&
		    m[i].addr < 0x100000000ull)
			end = m[i].addr + m[i].size;
	return end;
}

/* Posts a request whose data descriptor is (addr, len) and returns the
 * used length (-1: none, -2: NEEDS_RESET). */
static long bad_data(u64 addr, u32 len)
{
	blk_hdr = (struct blk_hdr){VBLK_IN, 0, 0};
	blk_status = 0xff;
	d.desc[0] = (struct vdesc){(u64)(uintptr_t)&blk_hdr, 16, VD_NEXT, 1};
	d.desc[1] = (struct vdesc){addr, len, VD_NEXT | VD_WRITE, 2};
	d.desc[2] = (struct vdesc){(u64)(uintptr_t)&blk_status, 1, VD_WRITE, 0};
	vq_post(&d, 0);
	return vq_wait(&d);
}

static void expect_failed(long used, const char *what)
{
	if (used != 0 || blk_status != 0xff)
		rt_fail("%s: used %ld status %x, want a failed request (0, ff)", what, used,
			blk_status);
	kprintf("outcome=failed-request (%s)\n", what);
}

static void expect_reset(const char *what)
{
	for (u64 t0 = rdtsc(); !rt_waited_too_long(t0) && !(vdev_status(&d) & VS_NEEDS_RESET);)
		cpu_relax();
	if (!(vdev_status(&d) & VS_NEEDS_RESET))
		rt_fail("%s: no NEEDS_RESET (status %x)", what, vdev_status(&d));
	kprintf("outcome=needs-reset (%s)\n", what);
}

static void reinit(void)
{
	if (!vdev_init(&d, want, ring[0], ring[1], ring[2]))
		rt_fail("re-init refused");
}

void kmain(void)
{
	kputs("virtio_bad: a malicious virtio-blk queue\n");
	int slot = pci_find(0x1af4, 0x1042, 0);
	if (slot < 0)
		rt_fail("no virtio-blk device");
	rt_set_irq_handler(MSI_VECTOR, msi_handler);
	lapic_enable();
	vdev_probe(&d, slot);
	reinit();
	u64 cap = (u64)mr32(d.devcfg) | (u64)mr32(d.devcfg + 4) << 32;

	if (cmdline_has("case=loop")) {
		d.desc[1] = (struct vdesc){(u64)(uintptr_t)&blk_status, 1, VD_WRITE | VD_NEXT, 0};
		d.desc[0] = (struct vdesc){(u64)(uintptr_t)&blk_hdr, 16, VD_NEXT, 1};
		blk_status = 0xff;
		vq_post(&d, 0);
		expect_failed(vq_wait(&d), "loop");
	} else if (cmdline_has("case=long")) {
		for (u16 i = 0; i < QSZ; i++)
			d.desc[i] = (struct vdesc){(u64)(uintptr_t)&blk_hdr, 16, VD_NEXT,
						   (u16)((i + 1) % QSZ)};
		blk_status = 0xff;
		vq_post(&d, 3);
		expect_failed(vq_wait(&d), "chain longer than the queue");
	} else if (cmdline_has("case=next_oob")) {
		d.desc[0] = (struct vdesc){(u64)(uintptr_t)&blk_hdr, 16, VD_NEXT, QSZ + 5};
		blk_status = 0xff;
		vq_post(&d, 0);
		expect_failed(vq_wait(&d), "next index out of range");
	} else if (cmdline_has("case=zero_len")) {
		expect_failed(bad_data((u64)(uintptr_t)buf, 0), "zero-length buffer");
	} else if (cmdline_has("case=past_ram")) {
		u64 end = ram_end();
		kprintf("RAM ends at 0x%lx\n", end);
		expect_failed(bad_data(end - 256, 512), "buffer past the end of RAM");
	} else if (cmdline_has("case=mmio")) {
		expect_failed(bad_data(0xfec00000ull, 512), "buffer in the MMIO hole");
	} else if (cmdline_has("case=wrap")) {
		expect_failed(bad_data(0xfffffffffffff000ull, 0x2000), "buffer wrapping around");
	} else if (cmdline_has("case=nested")) {
		ind[1][0] = (struct vdesc){(u64)(uintptr_t)&blk_hdr, 16, 0, 0};
		ind[0][0] = (struct vdesc){(u64)(uintptr_t)ind[1], 16, VD_INDIRECT, 0};
		d.desc[4] = (struct vdesc){(u64)(uintptr_t)ind[0], 16, VD_INDIRECT, 0};
		blk_status = 0xff;
		vq_post(&d, 4);
		expect_failed(vq_wait(&d), "nested indirect table");
	} else if (cmdline_has("case=head_oob")) {
		vq_post(&d, QSZ + 1);
		expect_reset("head index out of range");
		reinit();
	} else if (cmdline_has("case=avail_jump")) {
		d.avail_idx = QSZ + 1;
		vq_post(&d, 0);
		expect_reset("available index jump");
		reinit();
	} else if (cmdline_has("case=ring_ram")) {
		mw8(d.common + CC_STATUS, 0);
		mw8(d.common + CC_STATUS, VS_ACK | VS_DRIVER);
		mw32(d.common + CC_GFSEL, 1);
		mw32(d.common + CC_GF, 1);
		mw8(d.common + CC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK);
		mw16(d.common + CC_QSEL, 0);
		mw64(d.common + CC_QDESC, ram_end() - 64);
		mw16(d.common + CC_QENABLE, 1);
		expect_reset("descriptor table outside RAM");
		if (mr16(d.common + CC_QENABLE))
			rt_fail("the queue was enabled anyway");
		reinit();
	} else if (cmdline_has("case=ro_write")) {
		mw32(d.common + CC_DFSEL, 0);
		if (!(mr32(d.common + CC_DF) & VBLK_F_RO))
			rt_fail("the disk is not read-only (run with --disk ...,ro)");
		u8 before[16];
		if (blk_request(&d, VBLK_IN, 0, buf, 512, NULL) != 0)
			rt_fail("read sector 0");
		memcpy(before, buf, 16);
		memset(buf, 0x77, 512);
		int st = blk_request(&d, VBLK_OUT, 0, buf, 512, NULL);
		if (st != 1)
			rt_fail("write to a read-only disk: status %d, want 1 (IOERR)", st);
		if (blk_request(&d, VBLK_IN, 0, buf, 512, NULL) != 0 || memcmp(before, buf, 16))
			rt_fail("the read-only disk changed");
		kputs("outcome=ioerr (write to a read-only disk)\n");
	} else if (cmdline_has("case=past_end")) {
		int a = blk_request(&d, VBLK_IN, cap, buf, 512, NULL);
		int b = blk_request(&d, VBLK_IN, 1ull << 63, buf, 512, NULL);
		int c = blk_request(&d, VBLK_OUT, cap - 1, buf, 1024, NULL);
		if (a != 1 || b != 1 || c != 1)
			rt_fail("past the end: statuses %d %d %d, want 1 1 1", a, b, c);
		kputs("outcome=ioerr (requests past the end of the disk)\n");
	} else {
		rt_fail("unknown or missing case=NAME");
	}

	/* vmon is alive and the device works. */
	int st = blk_request(&d, VBLK_IN, 0, buf, 512, NULL);
	if (st != 0)
		rt_fail("a good request afterwards: status %d", st);
	kputs("device works afterwards\n");
	rt_pass();
}
