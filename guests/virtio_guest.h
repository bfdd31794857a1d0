/* SPDX-License-Identifier: MIT */
/*
 * A minimal virtio 1.x PCI driver for kit guests: PCI configuration
 * mechanism #1, capability walk, feature negotiation, one split queue
 * with MSI-X, and block requests. Static functions only; included by
 * the virtio_*.c guests. Everything is polled with a bound, so a device
 * that never answers makes the guest FAIL instead of hanging.
 */
#ifndef VIRTIO_GUEST_H
#define VIRTIO_GUEST_H

#include "rt.h"

/* ---- PCI configuration space (bus 0, function 0) ---- */
static inline void pci_addr(unsigned slot, unsigned off)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
}
static inline u32 pci_r32(unsigned slot, unsigned off)
{
	pci_addr(slot, off);
	return inl(0xcfc);
}
static inline u16 pci_r16(unsigned slot, unsigned off)
{
	pci_addr(slot, off);
	return inw((u16)(0xcfc + (off & 2)));
}
static inline u8 pci_r8(unsigned slot, unsigned off)
{
	pci_addr(slot, off);
	return inb((u16)(0xcfc + (off & 3)));
}
static inline void pci_w32(unsigned slot, unsigned off, u32 v)
{
	pci_addr(slot, off);
	outl(0xcfc, v);
}
static inline void pci_w16(unsigned slot, unsigned off, u16 v)
{
	pci_addr(slot, off);
	outw((u16)(0xcfc + (off & 2)), v);
}

/* ---- MMIO of other widths ---- */
static inline u8 mr8(u64 a) { return *(volatile u8 *)a; }
static inline u16 mr16(u64 a) { return *(volatile u16 *)a; }
static inline u32 mr32(u64 a) { return *(volatile u32 *)a; }
static inline void mw8(u64 a, u8 v) { *(volatile u8 *)a = v; }
static inline void mw16(u64 a, u16 v) { *(volatile u16 *)a = v; }
static inline void mw32(u64 a, u32 v) { *(volatile u32 *)a = v; }
static inline void mw64(u64 a, u64 v)
{
	mw32(a, (u32)v);
	mw32(a + 4, (u32)(v >> 32));
}
#define barrier() __asm__ volatile("mfence" ::: "memory")

/* Finds the n-th (0-based) function with vendor:device; -1 if none. */
static __attribute__((unused)) int pci_find(u16 vendor, u16 device, int n)
{
	for (unsigned s = 0; s < 32; s++) {
		u32 id = pci_r32(s, 0);
		if (id == ((u32)device << 16 | vendor) && n-- == 0)
			return (int)s;
	}
	return -1;
}

/* ---- virtio ---- */
#define VF_INDIRECT (1ull << 28)
#define VF_EVENT_IDX (1ull << 29)
#define VF_VERSION_1 (1ull << 32)
#define VS_ACK 1
#define VS_DRIVER 2
#define VS_DRIVER_OK 4
#define VS_FEATURES_OK 8
#define VS_NEEDS_RESET 0x40
#define VD_NEXT 1
#define VD_WRITE 2
#define VD_INDIRECT 4
#define QSZ 16
#define MSI_VECTOR 0x40

/* Common configuration offsets. */
#define CC_DFSEL 0x00
#define CC_DF 0x04
#define CC_GFSEL 0x08
#define CC_GF 0x0c
#define CC_MSIX_CFG 0x10
#define CC_STATUS 0x14
#define CC_QSEL 0x16
#define CC_QSIZE 0x18
#define CC_QMSIX 0x1a
#define CC_QENABLE 0x1c
#define CC_QNOTIFY 0x1e
#define CC_QDESC 0x20
#define CC_QAVAIL 0x28
#define CC_QUSED 0x30

struct vdesc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

struct vdev {
	int slot;
	u64 common, notify, isr, devcfg, msix_table;
	u32 notify_mult;
	u16 notify_off;
	u16 msix_cap;
	u64 features;
	struct vdesc *desc;
	volatile u16 *avail; /* flags, idx, ring[QSZ], used_event */
	volatile u8 *used;   /* flags, idx, {id, len}[QSZ], avail_event */
	u16 avail_idx, used_last;
};

static volatile u64 msi_count;
static __attribute__((unused)) void msi_handler(struct rt_frame *f)
{
	(void)f;
	msi_count++;
	lapic_eoi();
}

static u64 bar_addr(int slot, unsigned bar)
{
	return pci_r32((unsigned)slot, 0x10 + 4 * bar) & ~0xfull;
}

/* Walks the capabilities, enables memory decoding and bus mastering. */
static void vdev_probe(struct vdev *d, int slot)
{
	memset(d, 0, sizeof(*d));
	d->slot = slot;
	pci_w16((unsigned)slot, 0x04, 0x0006);
	if (!(pci_r16((unsigned)slot, 0x06) & 0x10))
		rt_fail("no capability list");
	unsigned guard = 0;
	for (unsigned p = pci_r8((unsigned)slot, 0x34); p && guard < 48; guard++) {
		u8 id = pci_r8((unsigned)slot, p);
		if (id == 0x09) {
			u8 type = pci_r8((unsigned)slot, p + 3);
			u64 a = bar_addr(slot, pci_r8((unsigned)slot, p + 4)) +
				pci_r32((unsigned)slot, p + 8);
			if (type == 1)
				d->common = a;
			else if (type == 2) {
				d->notify = a;
				d->notify_mult = pci_r32((unsigned)slot, p + 16);
			} else if (type == 3)
				d->isr = a;
			else if (type == 4)
				d->devcfg = a;
		} else if (id == 0x11) {
			d->msix_cap = (u16)p;
			u32 t = pci_r32((unsigned)slot, p + 4);
			d->msix_table = bar_addr(slot, t & 7) + (t & ~7u);
		}
		p = pci_r8((unsigned)slot, p + 1);
	}
	if (!d->common || !d->notify || !d->isr || !d->msix_cap)
		rt_fail("virtio capabilities missing (common=%lx notify=%lx isr=%lx msix=%x)",
			d->common, d->notify, d->isr, d->msix_cap);
}

static u8 vdev_status(struct vdev *d)
{
	return mr8(d->common + CC_STATUS);
}

/* Reset, negotiate want & offered (VERSION_1 required), set queue 0 up
 * at the given ring memory with MSI-X vector 0 -> MSI_VECTOR. Returns
 * false if FEATURES_OK did not stick. */
static __attribute__((unused)) bool vdev_init(struct vdev *d, u64 want, void *desc, void *avail, void *used)
{
	mw8(d->common + CC_STATUS, 0);
	for (int i = 0; i < 1000 && vdev_status(d); i++)
		cpu_relax();
	mw8(d->common + CC_STATUS, VS_ACK | VS_DRIVER);
	mw32(d->common + CC_DFSEL, 0);
	u64 f = mr32(d->common + CC_DF);
	mw32(d->common + CC_DFSEL, 1);
	f |= (u64)mr32(d->common + CC_DF) << 32;
	if (!(f & VF_VERSION_1))
		rt_fail("device does not offer VERSION_1");
	d->features = f & want;
	mw32(d->common + CC_GFSEL, 0);
	mw32(d->common + CC_GF, (u32)d->features);
	mw32(d->common + CC_GFSEL, 1);
	mw32(d->common + CC_GF, (u32)(d->features >> 32));
	mw8(d->common + CC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK);
	if (!(vdev_status(d) & VS_FEATURES_OK))
		return false;

	/* MSI-X: vector 0 to this CPU, config changes unsignalled. */
	u32 apic = lapic_id();
	mw32(d->msix_table + 0, 0xfee00000u | apic << 12);
	mw32(d->msix_table + 4, 0);
	mw32(d->msix_table + 8, MSI_VECTOR);
	mw32(d->msix_table + 12, 0);
	pci_w16((unsigned)d->slot, d->msix_cap + 2, 0x8000);
	mw16(d->common + CC_MSIX_CFG, 0xffff);

	d->desc = desc;
	d->avail = avail;
	d->used = used;
	memset(desc, 0, 16 * QSZ);
	memset(avail, 0, 6 + 2 * QSZ);
	memset(used, 0, 6 + 8 * QSZ);
	d->avail_idx = d->used_last = 0;
	mw16(d->common + CC_QSEL, 0);
	if (mr16(d->common + CC_QSIZE) < QSZ)
		rt_fail("queue 0 too small: %u", mr16(d->common + CC_QSIZE));
	mw16(d->common + CC_QSIZE, QSZ);
	mw64(d->common + CC_QDESC, (u64)(uintptr_t)desc);
	mw64(d->common + CC_QAVAIL, (u64)(uintptr_t)avail);
	mw64(d->common + CC_QUSED, (u64)(uintptr_t)used);
	mw16(d->common + CC_QMSIX, 0);
	if (mr16(d->common + CC_QMSIX) != 0)
		rt_fail("queue MSI-X vector not accepted");
	d->notify_off = mr16(d->common + CC_QNOTIFY);
	mw16(d->common + CC_QENABLE, 1);
	mw8(d->common + CC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK);
	return true;
}

/* Puts head in the available ring and notifies queue 0. */
static __attribute__((unused)) void vq_post(struct vdev *d, u16 head)
{
	d->avail[2 + (d->avail_idx % QSZ)] = head;
	barrier();
	d->avail_idx++;
	d->avail[1] = d->avail_idx;
	if (d->features & VF_EVENT_IDX)
		d->avail[2 + QSZ] = d->used_last; /* used_event: the next completion */
	barrier();
	mw16(d->notify + (u64)d->notify_off * d->notify_mult, 0);
}

static u16 used_idx(struct vdev *d)
{
	return *(volatile u16 *)(d->used + 2);
}

/* Waits (bounded) for the next used entry; returns its length, or -1. */
static __attribute__((unused)) long vq_wait(struct vdev *d)
{
	for (u64 i = 0; i < 2000000; i++) {
		if (used_idx(d) != d->used_last) {
			barrier();
			volatile u32 *e = (volatile u32 *)(d->used + 4 + 8 * (d->used_last % QSZ));
			d->used_last++;
			return (long)e[1];
		}
		if (vdev_status(d) & VS_NEEDS_RESET)
			return -2;
		cpu_relax();
	}
	return -1;
}

/* ---- virtio-blk ---- */
#define VBLK_IN 0
#define VBLK_OUT 1
#define VBLK_FLUSH 4
#define VBLK_GET_ID 8
#define VBLK_DISCARD 11
#define VBLK_F_RO (1ull << 5)
#define VBLK_F_FLUSH (1ull << 9)
#define VBLK_F_DISCARD (1ull << 13)

struct blk_hdr {
	u32 type, reserved;
	u64 sector;
};

static struct blk_hdr blk_hdr __attribute__((aligned(64)));
static volatile u8 blk_status __attribute__((aligned(64)));

/* One request with descriptors 0..2: header, data (len 0: none),
 * status. Returns the status byte, or -1 (no completion), -2
 * (NEEDS_RESET); *used_len gets the used length. */
static __attribute__((unused)) int blk_request(struct vdev *d, u32 type, u64 sector, void *data, u32 len, long *used_len)
{
	blk_hdr.type = type;
	blk_hdr.reserved = 0;
	blk_hdr.sector = sector;
	blk_status = 0xff;
	bool dev_writes = type == VBLK_IN || type == VBLK_GET_ID;
	d->desc[0] = (struct vdesc){(u64)(uintptr_t)&blk_hdr, 16, VD_NEXT, len ? 1 : 2};
	d->desc[1] = (struct vdesc){(u64)(uintptr_t)data, len,
				    (u16)(VD_NEXT | (dev_writes ? VD_WRITE : 0)), 2};
	d->desc[2] = (struct vdesc){(u64)(uintptr_t)&blk_status, 1, VD_WRITE, 0};
	vq_post(d, 0);
	long n = vq_wait(d);
	if (used_len)
		*used_len = n;
	if (n < 0)
		return (int)n;
	return blk_status;
}

/* ---- Several queues (net, vsock, console) ----
 * vdev_begin negotiates and enables MSI-X (every queue on vector 0);
 * gvq_setup puts queue q on 3 pages of ring memory; vdev_ready sets
 * DRIVER_OK. Each queue has QSZ entries; descriptor i is the guest's
 * slot i (no free list: the guests keep one buffer per slot). */
struct gvq {
	struct vdesc *desc;
	volatile u16 *avail;
	volatile u8 *used;
	u16 avail_idx, used_last, notify_off;
	unsigned q;
};

static __attribute__((unused)) bool vdev_begin(struct vdev *d, u64 want)
{
	mw8(d->common + CC_STATUS, 0);
	for (int i = 0; i < 1000 && vdev_status(d); i++)
		cpu_relax();
	mw8(d->common + CC_STATUS, VS_ACK | VS_DRIVER);
	mw32(d->common + CC_DFSEL, 0);
	u64 f = mr32(d->common + CC_DF);
	mw32(d->common + CC_DFSEL, 1);
	f |= (u64)mr32(d->common + CC_DF) << 32;
	d->features = f & want;
	mw32(d->common + CC_GFSEL, 0);
	mw32(d->common + CC_GF, (u32)d->features);
	mw32(d->common + CC_GFSEL, 1);
	mw32(d->common + CC_GF, (u32)(d->features >> 32));
	mw8(d->common + CC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK);
	if (!(vdev_status(d) & VS_FEATURES_OK))
		return false;
	mw32(d->msix_table + 0, 0xfee00000u | lapic_id() << 12);
	mw32(d->msix_table + 4, 0);
	mw32(d->msix_table + 8, MSI_VECTOR);
	mw32(d->msix_table + 12, 0);
	pci_w16((unsigned)d->slot, d->msix_cap + 2, 0x8000);
	mw16(d->common + CC_MSIX_CFG, 0xffff);
	return true;
}

static __attribute__((unused)) void gvq_setup(struct vdev *d, unsigned q, struct gvq *vq, u8 *mem)
{
	memset(mem, 0, 3 * 4096);
	vq->desc = (struct vdesc *)mem;
	vq->avail = (volatile u16 *)(mem + 4096);
	vq->used = mem + 8192;
	vq->avail_idx = vq->used_last = 0;
	vq->q = q;
	mw16(d->common + CC_QSEL, (u16)q);
	if (mr16(d->common + CC_QSIZE) < QSZ)
		rt_fail("queue %u too small: %u", q, mr16(d->common + CC_QSIZE));
	mw16(d->common + CC_QSIZE, QSZ);
	mw64(d->common + CC_QDESC, (u64)(uintptr_t)vq->desc);
	mw64(d->common + CC_QAVAIL, (u64)(uintptr_t)vq->avail);
	mw64(d->common + CC_QUSED, (u64)(uintptr_t)vq->used);
	mw16(d->common + CC_QMSIX, 0);
	vq->notify_off = mr16(d->common + CC_QNOTIFY);
	mw16(d->common + CC_QENABLE, 1);
}

static __attribute__((unused)) void vdev_ready(struct vdev *d)
{
	mw8(d->common + CC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK);
}

/* Makes head available (without notifying: gvq_kick). */
static __attribute__((unused)) void gvq_add(struct gvq *vq, u16 head)
{
	vq->avail[2 + (vq->avail_idx % QSZ)] = head;
	barrier();
	vq->avail_idx++;
	vq->avail[1] = vq->avail_idx;
}

static __attribute__((unused)) void gvq_kick(struct vdev *d, struct gvq *vq)
{
	barrier();
	mw16(d->notify + (u64)vq->notify_off * d->notify_mult, (u16)vq->q);
}

/* The next used entry, if any. */
static __attribute__((unused)) bool gvq_get(struct gvq *vq, u16 *id, u32 *len)
{
	if (*(volatile u16 *)(vq->used + 2) == vq->used_last)
		return false;
	barrier();
	volatile u32 *e = (volatile u32 *)(vq->used + 4 + 8 * (vq->used_last % QSZ));
	*id = (u16)e[0];
	*len = e[1];
	vq->used_last++;
	return true;
}

/* Sends one device-readable buffer in descriptor 0 of vq and waits until
 * the device returns it; rt_fail naming WHAT if it never does. */
static __attribute__((unused)) void gvq_send_wait(struct vdev *d, struct gvq *vq, const void *buf, u32 len,
						  const char *what)
{
	vq->desc[0] = (struct vdesc){(u64)(uintptr_t)buf, len, 0, 0};
	gvq_add(vq, 0);
	gvq_kick(d, vq);
	u16 id;
	u32 used_len;
	for (u64 t0 = rdtsc(); !rt_waited_too_long(t0);) {
		if (gvq_get(vq, &id, &used_len))
			return;
		cpu_relax();
	}
	rt_fail("%s never completed", what);
}

static inline u16 htons16(u16 v) { return (u16)(v << 8 | v >> 8); }
static inline u32 htonl32(u32 v) { return __builtin_bswap32(v); }

/* True if the token (e.g. "case=loop") is on the command line. */
static __attribute__((unused)) bool cmdline_has(const char *tok)
{
	const char *c = rt_cmdline();
	size_t n = strlen(tok);
	for (const char *p = c; *p; p++)
		if ((p == c || p[-1] == ' ') && strncmp(p, tok, n) == 0 &&
		    (p[n] == 0 || p[n] == ' '))
			return true;
	return false;
}

#endif
