/* SPDX-License-Identifier: MIT */
/*
 * virtio_mmio: drives vmon's virtio-blk over the virtio-mmio transport
 * (register layout version 2), as a small OS would after finding the
 * device in ACPI: window base=ADDR (default 0xd0000000), interrupt on
 * IOAPIC pin gsi=N (default 20, level-triggered, active high).
 *   - the identification registers (magic "virt", version 2, device 2);
 *   - QueueNumMax is 0 for a queue the device does not have;
 *   - negotiates VERSION_1 + INDIRECT + EVENT_IDX + FLUSH + DISCARD;
 *   - capacity equals sectors=N; the configuration generation is stable;
 *   - then the same requests as the virtio_blk guest: sector 1 holds the
 *     host's pattern; writes sectors 8..15, reads them back, flushes; an
 *     indirect read; a read at sector N fails with IOERR; GET_ID is
 *     "vmon-test-disk"; discards 16..23 and reads zeros; writes
 *     "VMON-VIRTIO-BLK-OK" at the start of sector 2 and flushes;
 *   - every completion raises the interrupt with InterruptStatus bit 0;
 *     the handler acknowledges it (InterruptACK) before the EOI, so the
 *     level-triggered line is low again by then. (A delivery that finds
 *     InterruptStatus 0 is counted as spurious and tolerated, as Linux
 *     does: the KVM of vmon's CI host delivers the level once more after
 *     such an EOI; edge=1 programs the pin edge-triggered instead.)
 * With reboot=1 the first boot skips the final reset and resets the
 * machine (i8042) with the queue live, counting boots in CMOS byte 0x41;
 * the second boot checks the device came back reset (status 0, queue not
 * ready, InterruptStatus 0) and runs everything again.
 * The host then checks the image file as for virtio_blk.
 */
#include "virtio_guest.h"
#include "blk_pattern.h"

#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE 0x008
#define R_DFEAT 0x010
#define R_DFSEL 0x014
#define R_GFEAT 0x020
#define R_GFSEL 0x024
#define R_QSEL 0x030
#define R_QMAX 0x034
#define R_QNUM 0x038
#define R_QREADY 0x044
#define R_NOTIFY 0x050
#define R_ISTAT 0x060
#define R_IACK 0x064
#define R_STATUS 0x070
#define R_QDESC 0x080
#define R_QDRIVER 0x090
#define R_QDEVICE 0x0a0
#define R_GEN 0x0fc
#define R_CONFIG 0x100
#define IRQ_VECTOR 0x41

static u8 ring[3][4096] __attribute__((aligned(4096)));
static u8 buf[4096] __attribute__((aligned(4096)));
static u8 buf2[4096] __attribute__((aligned(4096)));
static struct vdesc indirect[3] __attribute__((aligned(64)));

static u64 base;
static volatile u64 irq_count, irq_spurious;
static u64 features;
static struct vdesc *desc;
static volatile u16 *avail;
static volatile u8 *used;
static u16 avail_idx, used_last;
static unsigned irq_missing;

/* PCI helpers of virtio_guest.h this guest does not use. */
static void (*const unused_pci[])(void) __attribute__((unused)) = {
	(void (*)(void))vdev_probe, (void (*)(void))vdev_status, (void (*)(void))used_idx};

static u32 rd(u32 off) { return mr32(base + off); }
static void wr(u32 off, u32 v) { mw32(base + off, v); }

static void irq_handler(struct rt_frame *f)
{
	(void)f;
	u32 st = rd(R_ISTAT);
	if (st & 1)
		irq_count++;
	else
		irq_spurious++;
	wr(R_IACK, st);
	lapic_eoi();
}

static void post(u16 head)
{
	avail[2 + (avail_idx % QSZ)] = head;
	barrier();
	avail_idx++;
	avail[1] = avail_idx;
	if (features & VF_EVENT_IDX)
		avail[2 + QSZ] = used_last; /* used_event: the next completion */
	barrier();
	wr(R_NOTIFY, 0);
}

/* Waits (bounded) for the next used entry and its interrupt; returns its
 * length, or -1 (none), -2 (NEEDS_RESET). */
static long wait_used(u64 before)
{
	for (u64 t0 = rdtsc(); !rt_waited_too_long(t0);) {
		if (*(volatile u16 *)(used + 2) != used_last) {
			barrier();
			volatile u32 *e = (volatile u32 *)(used + 4 + 8 * (used_last % QSZ));
			used_last++;
			for (u64 t1 = rdtsc(); !rt_waited_too_long(t1) && irq_count == before;)
				cpu_relax();
			if (irq_count == before)
				irq_missing++;
			return (long)e[1];
		}
		if (rd(R_STATUS) & VS_NEEDS_RESET)
			return -2;
		cpu_relax();
	}
	return -1;
}

static int request(u32 type, u64 sector, void *data, u32 len, long *used_len)
{
	blk_hdr.type = type;
	blk_hdr.reserved = 0;
	blk_hdr.sector = sector;
	blk_status = 0xff;
	bool dev_writes = type == VBLK_IN || type == VBLK_GET_ID;
	desc[0] = (struct vdesc){(u64)(uintptr_t)&blk_hdr, 16, VD_NEXT, len ? 1 : 2};
	desc[1] = (struct vdesc){(u64)(uintptr_t)data, len,
				 (u16)(VD_NEXT | (dev_writes ? VD_WRITE : 0)), 2};
	desc[2] = (struct vdesc){(u64)(uintptr_t)&blk_status, 1, VD_WRITE, 0};
	u64 before = irq_count;
	post(0);
	long n = wait_used(before);
	if (used_len)
		*used_len = n;
	return n < 0 ? (int)n : blk_status;
}

static void set_addr(u32 reg, void *p)
{
	u64 a = (u64)(uintptr_t)p;
	wr(reg, (u32)a);
	wr(reg + 4, (u32)(a >> 32));
}

#define CMOS_BOOT_COUNTER 0x41

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
	kputs("virtio_mmio: a virtio-blk disk over virtio-mmio\n");
	bool reboot = cmdline_get_u64("reboot", 0) != 0;
	bool second = reboot && cmos_read(CMOS_BOOT_COUNTER) == 1;
	u64 sectors = cmdline_get_u64("sectors", 0);
	base = cmdline_get_u64("base", 0xd0000000);
	unsigned gsi = (unsigned)cmdline_get_u64("gsi", 20);

	if (rd(R_MAGIC) != 0x74726976 || rd(R_VERSION) != 2 || rd(R_DEVICE) != 2)
		rt_fail("no virtio-mmio v2 block device at %lx: magic %x version %u device %u",
			base, rd(R_MAGIC), rd(R_VERSION), rd(R_DEVICE));
	kprintf("virtio-mmio at 0x%lx: vendor %x\n", base, rd(0x00c));
	if (second) {
		/* The machine's reset reset the device. */
		cmos_write(CMOS_BOOT_COUNTER, 0);
		wr(R_QSEL, 0);
		if (rd(R_STATUS) != 0 || rd(R_QREADY) != 0 || rd(R_ISTAT) != 0)
			rt_fail("after the machine reset: status %x ready %u interrupt status %x",
				rd(R_STATUS), rd(R_QREADY), rd(R_ISTAT));
		kputs("second boot: device reset\n");
	}

	pic_mask_all();
	rt_set_irq_handler(IRQ_VECTOR, irq_handler);
	lapic_enable();
	ioapic_set_redir(gsi, IRQ_VECTOR | (cmdline_get_u64("edge", 0) ? 0 : IOAPIC_LEVEL), lapic_id() << 24);
	sti();

	wr(R_STATUS, 0);
	if (rd(R_STATUS) != 0)
		rt_fail("status %x after reset", rd(R_STATUS));
	wr(R_STATUS, VS_ACK | VS_DRIVER);
	wr(R_DFSEL, 0);
	u64 f = rd(R_DFEAT);
	wr(R_DFSEL, 1);
	f |= (u64)rd(R_DFEAT) << 32;
	u64 want = VF_VERSION_1 | VF_INDIRECT | VF_EVENT_IDX | VBLK_F_FLUSH | VBLK_F_DISCARD;
	if ((f & want) != want)
		rt_fail("features %lx lack some of %lx", f, want);
	features = want;
	wr(R_GFSEL, 0);
	wr(R_GFEAT, (u32)features);
	wr(R_GFSEL, 1);
	wr(R_GFEAT, (u32)(features >> 32));
	wr(R_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK);
	if (!(rd(R_STATUS) & VS_FEATURES_OK))
		rt_fail("FEATURES_OK refused");

	wr(R_QSEL, 1);
	if (rd(R_QMAX) != 0)
		rt_fail("queue 1 exists: max %u", rd(R_QMAX));
	wr(R_QSEL, 0);
	if (rd(R_QMAX) < QSZ || rd(R_QREADY) != 0)
		rt_fail("queue 0: max %u ready %u", rd(R_QMAX), rd(R_QREADY));
	desc = (struct vdesc *)ring[0];
	avail = (volatile u16 *)ring[1];
	used = ring[2];
	memset(ring, 0, sizeof(ring));
	wr(R_QNUM, QSZ);
	set_addr(R_QDESC, ring[0]);
	set_addr(R_QDRIVER, ring[1]);
	set_addr(R_QDEVICE, ring[2]);
	wr(R_QREADY, 1);
	if (rd(R_QREADY) != 1)
		rt_fail("queue 0 not ready (status %x)", rd(R_STATUS));
	wr(R_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK);

	u32 gen = rd(R_GEN);
	u64 cap = (u64)rd(R_CONFIG) | (u64)rd(R_CONFIG + 4) << 32;
	if (rd(R_GEN) != gen)
		rt_fail("configuration generation moved");
	kprintf("capacity=%lu sectors, status=%x\n", cap, rd(R_STATUS));
	if (cap != sectors)
		rt_fail("capacity %lu, expected sectors=%lu", cap, sectors);

	long n;
	int st = request(VBLK_IN, 1, buf, 512, &n);
	if (st != 0 || n != 513)
		rt_fail("read sector 1: status %d used %ld", st, n);
	check_host_pattern(buf, 1, "read");

	for (u64 s = 0; s < 8; s++)
		for (u64 i = 0; i < 512; i++)
			buf[s * 512 + i] = guest_pattern(8 + s, i);
	if ((st = request(VBLK_OUT, 8, buf, 4096, &n)) != 0 || n != 1)
		rt_fail("write sectors 8..15: status %d used %ld", st, n);
	memset(buf2, 0, sizeof(buf2));
	if ((st = request(VBLK_IN, 8, buf2, 4096, NULL)) != 0)
		rt_fail("read sectors 8..15: status %d", st);
	if (memcmp(buf, buf2, 4096) != 0)
		rt_fail("sectors 8..15 read back differ");
	if ((st = request(VBLK_FLUSH, 0, 0, 0, NULL)) != 0)
		rt_fail("flush: status %d", st);
	kputs("write/read/flush: ok\n");

	/* The same read through an indirect table. */
	blk_hdr = (struct blk_hdr){VBLK_IN, 0, 1};
	blk_status = 0xff;
	memset(buf2, 0, 512);
	indirect[0] = (struct vdesc){(u64)(uintptr_t)&blk_hdr, 16, VD_NEXT, 1};
	indirect[1] = (struct vdesc){(u64)(uintptr_t)buf2, 512, VD_NEXT | VD_WRITE, 2};
	indirect[2] = (struct vdesc){(u64)(uintptr_t)&blk_status, 1, VD_WRITE, 0};
	desc[5] = (struct vdesc){(u64)(uintptr_t)indirect, sizeof(indirect), VD_INDIRECT, 0};
	u64 before = irq_count;
	post(5);
	if ((n = wait_used(before)) != 513 || blk_status != 0)
		rt_fail("indirect read: used %ld status %d", n, blk_status);
	check_host_pattern(buf2, 1, "indirect read");
	kputs("indirect: ok\n");

	if ((st = request(VBLK_IN, sectors, buf, 512, NULL)) != 1)
		rt_fail("read past the end: status %d, want 1 (IOERR)", st);

	memset(buf, 0, 32);
	if ((st = request(VBLK_GET_ID, 0, buf, 20, &n)) != 0)
		rt_fail("get-id: status %d", st);
	if (memcmp(buf, "vmon-test-disk", 15) != 0)
		rt_fail("get-id: '%s'", (const char *)buf);
	kprintf("id=%s\n", (const char *)buf);

	struct {
		u64 sector;
		u32 num, flags;
	} seg = {16, 8, 0};
	if ((st = request(VBLK_DISCARD, 0, &seg, sizeof(seg), NULL)) != 0)
		rt_fail("discard: status %d", st);
	memset(buf, 0xee, 4096);
	if ((st = request(VBLK_IN, 16, buf, 4096, NULL)) != 0)
		rt_fail("read discarded: status %d", st);
	for (unsigned i = 0; i < 4096; i++)
		if (buf[i])
			rt_fail("discarded sectors read %x at %u", buf[i], i);
	kputs("discard: ok\n");

	memset(buf, 0, 512);
	memcpy(buf, "VMON-VIRTIO-BLK-OK", 18);
	if (request(VBLK_OUT, 2, buf, 512, NULL) != 0 ||
	    request(VBLK_FLUSH, 0, 0, 0, NULL) != 0)
		rt_fail("final write/flush");

	cli();
	kprintf("requests=%u irqs=%lu spurious=%lu\n", used_last, irq_count, irq_spurious);
	if (irq_missing || irq_count < used_last)
		rt_fail("%u completions without an interrupt (%lu interrupts with status bit 0 for "
			"%u requests)",
			irq_missing, irq_count, used_last);
	if (rd(R_ISTAT) != 0)
		rt_fail("InterruptStatus %x after the last ACK", rd(R_ISTAT));
	if (rd(R_STATUS) & VS_NEEDS_RESET)
		rt_fail("device wants a reset");
	if (reboot && !second) {
		cmos_write(CMOS_BOOT_COUNTER, 1);
		kputs("first boot done; resetting the machine\n");
		outb(0x64, 0xfe); /* i8042: pulse the reset line */
		rt_delay(20000);
		rt_fail("no reset from the i8042");
	}

	/* A reset drops the queue: QueueReady reads 0 again. */
	wr(R_STATUS, 0);
	if (rd(R_STATUS) != 0 || rd(R_QREADY) != 0)
		rt_fail("after reset: status %x ready %u", rd(R_STATUS), rd(R_QREADY));
	rt_pass();
}
