/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci (modern) transport: capabilities, common configuration, ISR,
 * notifications, MSI-X and INTx, over the device core of virtio_dev.c.
 * See virtio_pci.h.
 */
#include "devices/virtio/virtio_pci.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* struct virtio_pci_cap (4.1.4): vndr, next, len, cfg_type, bar, id,
 * padding[2], le32 offset, le32 length; the notify capability adds le32
 * notify_off_multiplier, the PCI cfg access capability u8 data[4]. */
#define CAP_CFG_TYPE 3
#define CAP_BAR	     4
#define CAP_OFFSET   8
#define CAP_LENGTH   12
#define CAP_EXTRA    16
#define CFG_COMMON   1
#define CFG_NOTIFY   2
#define CFG_ISR	     3
#define CFG_DEVICE   4
#define CFG_PCI	     5

/* The PCI transport's state, allocated beside the device. */
struct virtio_pci {
	struct pci_device pci; /* first: the PCI hooks find vp from it */
	struct virtio_device *vd;
	unsigned cfgcap; /* config offset of the PCI cfg access capability */
};

static struct virtio_pci *vp_of(struct pci_device *dev)
{
	return (struct virtio_pci *)dev; /* pci is the first member */
}

static struct pci_device *pci_of(struct virtio_device *vd)
{
	return &((struct virtio_pci *)vd->tpriv)->pci;
}

static uint64_t ones(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* ---- Transport hooks (vd->lock held) ---- */

static void pci_interrupt(struct virtio_device *vd, uint16_t vector, uint8_t isr_bit)
{
	struct pci_device *pci = pci_of(vd);
	if (pci_msix_enabled(pci)) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			pci_msix_notify(pci, vector);
		return;
	}
	vd->isr |= isr_bit;
	pci_intx_set(pci, true);
}

static void pci_reset(struct virtio_device *vd)
{
	pci_intx_set(pci_of(vd), false);
}

static uint16_t pci_vector_ok(struct virtio_device *vd, uint16_t v)
{
	/* A vector the table does not have reads back as NO_VECTOR (4.1.5.1.2). */
	return v < pci_of(vd)->msix.nvec ? v : VIRTIO_MSI_NO_VECTOR;
}

static void pci_fini(struct virtio_device *vd)
{
	struct virtio_pci *vp = vd->tpriv;
	if (!vp)
		return;
	/* The backend lets go of the eventfds before they close. */
	pci_device_release(&vp->pci);
	free(vp);
	vd->tpriv = NULL;
}

static void pci_stats(struct virtio_device *vd, const struct stats_sink *out)
{
	pci_device_stats(pci_of(vd), out);
}

static const struct virtio_transport_ops pci_transport = {
	.interrupt = pci_interrupt,
	.reset = pci_reset,
	.vector_ok = pci_vector_ok,
	.fini = pci_fini,
	.stats = pci_stats,
};

/* ---- Common configuration ---- */

static void put(uint8_t *b, unsigned off, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t common_read(struct virtio_device *vd, uint64_t off, unsigned size)
{
	uint8_t b[0x40] = {0};
	if (off >= VIRTIO_COMMON_LEN || size > VIRTIO_COMMON_LEN - off)
		return 0;
	put(b, 0x00, vd->dfselect, 4);
	put(b, 0x04, virtio_core_device_features(vd, vd->dfselect), 4);
	put(b, 0x08, vd->gfselect, 4);
	put(b, 0x0c, virtio_core_driver_features(vd, vd->gfselect), 4);
	put(b, 0x10, vd->config_msix, 2);
	put(b, 0x12, vd->nqueues, 2);
	put(b, 0x14, vd->status, 1);
	put(b, 0x15, vd->config_generation, 1);
	put(b, 0x16, vd->queue_sel, 2);
	if (vd->queue_sel < vd->nqueues) {
		const struct virtio_queue_cfg *c = &vd->qcfg[vd->queue_sel];
		put(b, 0x18, c->size, 2);
		put(b, 0x1a, c->msix, 2);
		put(b, 0x1c, vd->vq[vd->queue_sel].enabled, 2);
		put(b, 0x1e, vd->queue_sel, 2); /* queue_notify_off */
		put(b, 0x20, c->desc, 8);
		put(b, 0x28, c->avail, 8);
		put(b, 0x30, c->used, 8);
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)b[off + i] << (8 * i);
	return v;
}

static void common_write(struct virtio_device *vd, uint64_t off, unsigned size, uint64_t val)
{
	unsigned q = vd->queue_sel;
	struct virtio_queue_cfg *c = q < vd->nqueues ? &vd->qcfg[q] : NULL;
	bool qlocked = !c || vd->vq[q].enabled; /* a live queue's setup is fixed */
	uint64_t *addr = NULL;
	switch (off) {
	case 0x00:
		if (size == 4)
			vd->dfselect = (uint32_t)val;
		return;
	case 0x08:
		if (size == 4)
			vd->gfselect = (uint32_t)val;
		return;
	case 0x0c:
		if (size == 4)
			virtio_core_set_driver_features(vd, vd->gfselect, (uint32_t)val);
		return;
	case 0x10:
		if (size == 2)
			vd->config_msix = virtio_core_vector(vd, (uint16_t)val);
		return;
	case 0x14:
		if (size == 1)
			virtio_core_set_status(vd, (uint8_t)val);
		return;
	case 0x16:
		if (size == 2)
			vd->queue_sel = (uint16_t)val;
		return;
	case 0x18:
		if (size == 2 && !qlocked)
			c->size = (uint16_t)val;
		return;
	case 0x1a:
		if (size == 2 && c)
			c->msix = virtio_core_vector(vd, (uint16_t)val);
		return;
	case 0x1c:
		if (size == 2 && c && val == 1)
			virtio_core_enable_queue(vd, q);
		return;
	default: break;
	}
	/* The three 64-bit ring addresses, as one qword or two dwords. */
	if (off >= 0x20 && off < 0x38 && !qlocked) {
		addr = off < 0x28 ? &c->desc : off < 0x30 ? &c->avail : &c->used;
		unsigned half = (unsigned)(off & 7);
		if (size == 8 && half == 0)
			*addr = val;
		else if (size == 4 && (half == 0 || half == 4))
			*addr = (*addr & ~(0xffffffffULL << (8 * half))) |
				((val & 0xffffffffULL) << (8 * half));
	}
}

/* ---- BAR 0 ---- */

uint64_t virtio_bar0_read(struct virtio_device *vd, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	pthread_mutex_lock(&vd->lock);
	if (off < VIRTIO_ISR_OFF) {
		v = common_read(vd, off - VIRTIO_COMMON_OFF, size);
	} else if (off < VIRTIO_DEVCFG_OFF) {
		if (off == VIRTIO_ISR_OFF) {
			v = vd->isr;
			vd->isr = 0;
			pci_intx_set(pci_of(vd), false);
		}
	} else if (off < VIRTIO_NOTIFY_OFF) {
		v = virtio_core_config_read(vd, off - VIRTIO_DEVCFG_OFF, size);
	}
	pthread_mutex_unlock(&vd->lock);
	return v;
}

void virtio_bar0_write(struct virtio_device *vd, uint64_t off, unsigned size, uint64_t val)
{
	if (off >= VIRTIO_NOTIFY_OFF) {
		/* No lock: a notify only signals the queue's eventfd, as the
		 * backend does itself where the address is registered with it
		 * (any write size lands here; the value is not used). */
		virtio_kick(vd, (unsigned)((off - VIRTIO_NOTIFY_OFF) / VIRTIO_NOTIFY_MULT));
		return;
	}
	if (off >= VIRTIO_ISR_OFF)
		return; /* ISR is read-only; device configuration too */
	pthread_mutex_lock(&vd->lock);
	common_write(vd, off - VIRTIO_COMMON_OFF, size, val);
	pthread_mutex_unlock(&vd->lock);
}

static uint64_t bar0_read(void *opaque, uint64_t off, unsigned size)
{
	return virtio_bar0_read(opaque, off, size);
}

static void bar0_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	virtio_bar0_write(opaque, off, size, val);
}

static const struct bus_ops bar0_ops = {.read = bar0_read, .write = bar0_write};
/* BAR 1 is all MSI-X table and PBA, which the PCI host handles; the rest
 * reads as ones. */
static const struct bus_ops bar1_ops = {0};

/* ---- PCI configuration access capability (cfg_type 5) ---- */

/* The window's target, if the driver set a valid one: BAR 0, length 1, 2
 * or 4, naturally aligned, inside the BAR. */
static bool cfgcap_target(struct virtio_pci *vp, uint32_t *off, unsigned *len)
{
	const uint8_t *cfg = vp->pci.cfg;
	unsigned cap = vp->cfgcap;
	*off = pci_get_u32(cfg, cap + CAP_OFFSET);
	*len = pci_get_u32(cfg, cap + CAP_LENGTH);
	return cfg[cap + CAP_BAR] == 0 && (*len == 1 || *len == 2 || *len == 4) &&
	       !(*off & (*len - 1)) && *off < VIRTIO_BAR0_SIZE;
}

static void cfgcap_read(struct pci_device *dev, unsigned off, unsigned size, uint32_t *val)
{
	struct virtio_pci *vp = vp_of(dev);
	unsigned data = vp->cfgcap + CAP_EXTRA;
	uint32_t boff;
	unsigned blen;
	if (!vp->cfgcap || off < data || off >= data + 4 || !cfgcap_target(vp, &boff, &blen))
		return;
	uint32_t v = (uint32_t)virtio_bar0_read(vp->vd, boff, blen);
	*val = (uint32_t)((v >> (8 * (off - data))) & ones(size));
}

static void cfgcap_write(struct pci_device *dev, unsigned off, unsigned size, uint32_t val)
{
	struct virtio_pci *vp = vp_of(dev);
	unsigned data = vp->cfgcap + CAP_EXTRA;
	uint32_t boff;
	unsigned blen;
	if (!vp->cfgcap || off != data || !cfgcap_target(vp, &boff, &blen) || size < blen)
		return;
	virtio_bar0_write(vp->vd, boff, blen, val & ones(blen));
}

static const struct pci_device_ops virtio_pci_dev_ops = {
	.config_read = cfgcap_read,
	.config_write = cfgcap_write,
};

static unsigned add_vcap(struct virtio_pci *vp, uint8_t type, unsigned len, uint8_t bar,
			 uint32_t off, uint32_t length)
{
	unsigned cap = pci_add_cap(&vp->pci, PCI_CAP_ID_VENDOR, len);
	if (!cap)
		return 0;
	uint8_t *c = vp->pci.cfg;
	c[cap + 2] = (uint8_t)len;
	c[cap + CAP_CFG_TYPE] = type;
	c[cap + CAP_BAR] = bar;
	pci_set_u32(c, cap + CAP_OFFSET, off);
	pci_set_u32(c, cap + CAP_LENGTH, length);
	return cap;
}

int virtio_pci_init(struct virtio_device *vd, const struct virtio_params *p, struct guest_mem *gm,
		    struct vm_control *ctl, struct event_loop *loop, struct pci_host *host,
		    struct vmon_error *err)
{
	if (virtio_core_init(vd, p, gm, ctl, err) < 0)
		return -1;
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	if (!vp)
		return err_setf(err, "out of memory");
	vp->vd = vd;
	vd->tpriv = vp;
	vd->transport = &pci_transport;
	_Static_assert(VIRTIO_CONFIG_MAX <= VIRTIO_DEVCFG_MAX, "configuration fits BAR 0");

	uint16_t id = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + p->device_type);
	pci_device_init(&vp->pci, p->name, VIRTIO_PCI_VENDOR, id, p->class_code, 1,
			VIRTIO_PCI_VENDOR, id, &virtio_pci_dev_ops, vp);
	if (pci_device_set_bar(&vp->pci, 0, VIRTIO_BAR0_SIZE, &bar0_ops, vd, err) < 0 ||
	    pci_device_set_bar(&vp->pci, VIRTIO_MSIX_BAR, VIRTIO_MSIX_BAR_SIZE, &bar1_ops, vd,
			       err) < 0 ||
	    pci_msix_init(&vp->pci, p->nqueues + 1, VIRTIO_MSIX_BAR, 0, VIRTIO_MSIX_PBA_OFF, err) <
		    0)
		return -1;
	/* One vector per queue and one for the configuration, in the older
	 * form too (virtio_dev.h: legacy_nqueues). */
	if (p->legacy_nqueues)
		vp->pci.msix.legacy_nvec = p->legacy_nqueues + 1;
	unsigned ncap =
		add_vcap(vp, CFG_NOTIFY, 20, 0, VIRTIO_NOTIFY_OFF, VIRTIO_NOTIFY_MULT * p->nqueues);
	if (ncap)
		pci_set_u32(vp->pci.cfg, ncap + CAP_EXTRA, VIRTIO_NOTIFY_MULT);
	if (!add_vcap(vp, CFG_COMMON, 16, 0, VIRTIO_COMMON_OFF, VIRTIO_COMMON_LEN) || !ncap ||
	    !add_vcap(vp, CFG_ISR, 16, 0, VIRTIO_ISR_OFF, 1) ||
	    (p->config_len && !add_vcap(vp, CFG_DEVICE, 16, 0, VIRTIO_DEVCFG_OFF, p->config_len)))
		return err_setf(err, "%s: capabilities do not fit", p->name);
	vp->cfgcap = add_vcap(vp, CFG_PCI, 20, 0, 0, 0);
	if (vp->cfgcap) {
		vp->pci.wmask[vp->cfgcap + CAP_BAR] = 0xff;
		pci_set_u32(vp->pci.wmask, vp->cfgcap + CAP_OFFSET, 0xffffffffu);
		pci_set_u32(vp->pci.wmask, vp->cfgcap + CAP_LENGTH, 0xffffffffu);
		pci_set_u32(vp->pci.wmask, vp->cfgcap + CAP_EXTRA, 0xffffffffu);
	}
	pci_device_use_intx(&vp->pci);

	for (unsigned q = 0; q < p->nqueues; q++) {
		/* Linux and the kit write the queue index as 16 bits; the
		 * address alone names the queue, so no data match (as on the
		 * exit path, which ignores the value). */
		if (pci_device_add_ioeventfd(&vp->pci, 0,
					     VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT * q, 2, false,
					     0, vd->kick_fd[q], err) < 0)
			return -1;
	}
	if (virtio_core_start(vd, loop, err) < 0)
		return -1;
	if (host && pci_host_add_device(host, &vp->pci, err) < 0)
		return -1;
	return 0;
}

void virtio_pci_fini(struct virtio_device *vd)
{
	virtio_device_fini(vd);
}
