/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci (modern) transport: capabilities, common configuration,
 * feature negotiation, the status state machine, ISR, notifications and
 * interrupts. See virtio_pci.h.
 */
#include "devices/virtio/virtio_pci.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio/iothread.h"

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

static struct virtio_device *vd_of(struct pci_device *dev)
{
	return (struct virtio_device *)dev; /* pci is the first member */
}

static uint64_t ones(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* ---- Interrupts (vd->lock held) ---- */

static void raise_irq(struct virtio_device *vd, uint16_t vector, uint8_t isr_bit)
{
	/* While the VM stops (and during a reboot, until the devices are
	 * reset) the backend's interrupt router may be going away. */
	if (vd->ctl && vmctl_stopping(vd->ctl))
		return;
	if (pci_msix_enabled(&vd->pci)) {
		if (vector != VIRTIO_MSI_NO_VECTOR)
			pci_msix_notify(&vd->pci, vector);
		return;
	}
	vd->isr |= isr_bit;
	pci_intx_set(&vd->pci, true);
}

void virtio_queue_interrupt(struct virtio_device *vd, unsigned q)
{
	if (q < vd->nqueues && virtq_need_interrupt(&vd->vq[q]))
		raise_irq(vd, vd->qcfg[q].msix, VIRTIO_ISR_QUEUE);
}

static void warn_once(struct virtio_device *vd, const char *what, const char *why)
{
	if (vd->warned)
		return;
	vd->warned = true;
	fprintf(stderr, "vmon: %s: %s: %s\n", vd->name, what, why);
}

void virtio_needs_reset(struct virtio_device *vd, const char *why)
{
	if (vd->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	warn_once(vd, "device needs reset", why);
	vd->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(vd, vd->config_msix, VIRTIO_ISR_CONFIG);
}

void virtio_fail_request(struct virtio_device *vd, unsigned q, uint16_t head, const char *why)
{
	warn_once(vd, "bad request", why);
	virtq_push(&vd->vq[q], head, 0);
	virtio_queue_interrupt(vd, q);
}

bool virtio_pop_writable(struct virtio_device *vd, unsigned q, struct virtq_req *req,
			 uint64_t min_in)
{
	while (virtio_queue_live(vd, q)) {
		enum virtq_pop_result r = virtq_pop(&vd->vq[q], req);
		if (r == VIRTQ_EMPTY) {
			if (virtq_arm_notify(&vd->vq[q]))
				continue; /* a chain arrived while re-arming */
			return false;
		}
		if (r == VIRTQ_BROKEN) {
			virtio_needs_reset(vd, "receive queue: available ring corrupt");
			return false;
		}
		if (r == VIRTQ_BAD_REQ) {
			virtio_fail_request(vd, q, req->head, "malformed receive chain");
			continue;
		}
		if (req->nout || req->in_bytes < min_in) {
			virtio_fail_request(vd, q, req->head,
					    "receive chain read-only or shorter than the header");
			continue;
		}
		return true;
	}
	return false;
}

bool virtio_queue_live(struct virtio_device *vd, unsigned q)
{
	return q < vd->nqueues && vd->vq[q].enabled &&
	       (vd->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
		       VIRTIO_STATUS_DRIVER_OK;
}

void virtio_kick(struct virtio_device *vd, unsigned q)
{
	if (q >= vd->nqueues || vd->kick_fd[q] < 0)
		return;
	uint64_t one = 1;
	if (write(vd->kick_fd[q], &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, a wakeup is pending anyway */
	}
}

void virtio_process_notifications(struct virtio_device *vd)
{
	if (vd->notify_fd < 0)
		return;
	/* Which queues' eventfds fired — by the backend (ioeventfd), by
	 * vmon's own notify handler or by the device (virtio_kick): all the
	 * same. Reading an eventfd resets it; a notify after the read wakes
	 * the next round. */
	struct epoll_event evs[VIRTIO_MAX_QUEUES];
	int n = epoll_wait(vd->notify_fd, evs, VIRTIO_MAX_QUEUES, 0);
	uint32_t pending = 0;
	for (int i = 0; i < n; i++) {
		unsigned q = evs[i].data.u32;
		uint64_t count;
		if (q < vd->nqueues && read(vd->kick_fd[q], &count, sizeof(count)) == sizeof(count))
			pending |= 1u << q;
	}
	for (unsigned q = 0; q < vd->nqueues; q++)
		if (pending & (1u << q))
			vd->ops->queue_work(vd, q);
}

static void on_notify(void *opaque)
{
	virtio_process_notifications(opaque);
}

/* ---- Reset (vd->lock held) ---- */

static void reset_locked(struct virtio_device *vd)
{
	/* Requests already handed to the host finish first: their buffers
	 * and used-ring slots belong to the old queues. */
	while (vd->inflight)
		pthread_cond_wait(&vd->drained, &vd->lock);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		virtq_reset(&vd->vq[q]);
		vd->qcfg[q].size = vd->qcfg[q].max_size;
		vd->qcfg[q].msix = VIRTIO_MSI_NO_VECTOR;
		vd->qcfg[q].desc = vd->qcfg[q].avail = vd->qcfg[q].used = 0;
	}
	vd->driver_features = 0;
	vd->dfselect = vd->gfselect = 0;
	vd->status = 0;
	vd->isr = 0;
	vd->config_msix = VIRTIO_MSI_NO_VECTOR;
	vd->queue_sel = 0;
	vd->warned = false;
	pci_intx_set(&vd->pci, false);
	if (vd->ops->reset)
		vd->ops->reset(vd);
}

void virtio_reset(struct virtio_device *vd)
{
	pthread_mutex_lock(&vd->lock);
	reset_locked(vd);
	pthread_mutex_unlock(&vd->lock);
}

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
	put(b, 0x04, vd->dfselect < 2 ? (uint32_t)(vd->device_features >> (32 * vd->dfselect)) : 0,
	    4);
	put(b, 0x08, vd->gfselect, 4);
	put(b, 0x0c, vd->gfselect < 2 ? (uint32_t)(vd->driver_features >> (32 * vd->gfselect)) : 0,
	    4);
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

static uint16_t msix_vector_ok(struct virtio_device *vd, uint16_t v)
{
	/* A vector the table does not have reads back as NO_VECTOR (4.1.5.1.2). */
	return v < vd->pci.msix.nvec ? v : VIRTIO_MSI_NO_VECTOR;
}

static void set_status(struct virtio_device *vd, uint8_t val)
{
	if (val == 0) {
		reset_locked(vd);
		return;
	}
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(vd->status & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t f = vd->driver_features;
		if ((f & ~vd->device_features) || !(f & (1ULL << VIRTIO_F_VERSION_1)))
			val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	bool start = (val & VIRTIO_STATUS_DRIVER_OK) && !(vd->status & VIRTIO_STATUS_DRIVER_OK);
	vd->status = (uint8_t)((val & ~VIRTIO_STATUS_NEEDS_RESET) |
			       (vd->status & VIRTIO_STATUS_NEEDS_RESET));
	if (start)
		for (unsigned q = 0; q < vd->nqueues; q++)
			virtio_kick(vd, q); /* buffers made available before DRIVER_OK */
}

static void enable_queue(struct virtio_device *vd, unsigned q)
{
	struct virtio_queue_cfg *c = &vd->qcfg[q];
	if (vd->vq[q].enabled)
		return;
	bool event_idx = vd->driver_features & (1ULL << VIRTIO_F_EVENT_IDX);
	bool indirect = vd->driver_features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	if (c->size > c->max_size || virtq_enable(&vd->vq[q], vd->gm, c->size, c->desc, c->avail,
						  c->used, event_idx, indirect) < 0) {
		char why[96];
		snprintf(why, sizeof(why), "queue %u: bad size or rings not in RAM", q);
		virtio_needs_reset(vd, why);
	}
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
		if (size == 4 && vd->gfselect < 2 && !(vd->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned sh = 32 * vd->gfselect;
			vd->driver_features = (vd->driver_features & ~(0xffffffffULL << sh)) |
					      ((val & 0xffffffffULL) << sh);
		}
		return;
	case 0x10:
		if (size == 2)
			vd->config_msix = msix_vector_ok(vd, (uint16_t)val);
		return;
	case 0x14:
		if (size == 1)
			set_status(vd, (uint8_t)val);
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
			c->msix = msix_vector_ok(vd, (uint16_t)val);
		return;
	case 0x1c:
		if (size == 2 && c && val == 1)
			enable_queue(vd, q);
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
			pci_intx_set(&vd->pci, false);
		}
	} else if (off < VIRTIO_NOTIFY_OFF) {
		uint64_t o = off - VIRTIO_DEVCFG_OFF;
		for (unsigned i = 0; i < size && o + i < vd->config_len; i++)
			v |= (uint64_t)vd->config[o + i] << (8 * i);
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
static bool cfgcap_target(struct virtio_device *vd, uint32_t *off, unsigned *len)
{
	const uint8_t *cfg = vd->pci.cfg;
	unsigned cap = vd->cfgcap;
	*off = pci_get_u32(cfg, cap + CAP_OFFSET);
	*len = pci_get_u32(cfg, cap + CAP_LENGTH);
	return cfg[cap + CAP_BAR] == 0 && (*len == 1 || *len == 2 || *len == 4) &&
	       !(*off & (*len - 1)) && *off < VIRTIO_BAR0_SIZE;
}

static void cfgcap_read(struct pci_device *dev, unsigned off, unsigned size, uint32_t *val)
{
	struct virtio_device *vd = vd_of(dev);
	unsigned data = vd->cfgcap + CAP_EXTRA;
	uint32_t boff;
	unsigned blen;
	if (!vd->cfgcap || off < data || off >= data + 4 || !cfgcap_target(vd, &boff, &blen))
		return;
	uint32_t v = (uint32_t)virtio_bar0_read(vd, boff, blen);
	*val = (uint32_t)((v >> (8 * (off - data))) & ones(size));
}

static void cfgcap_write(struct pci_device *dev, unsigned off, unsigned size, uint32_t val)
{
	struct virtio_device *vd = vd_of(dev);
	unsigned data = vd->cfgcap + CAP_EXTRA;
	uint32_t boff;
	unsigned blen;
	if (!vd->cfgcap || off != data || !cfgcap_target(vd, &boff, &blen) || size < blen)
		return;
	virtio_bar0_write(vd, boff, blen, val & ones(blen));
}

static const struct pci_device_ops virtio_pci_dev_ops = {
	.config_read = cfgcap_read,
	.config_write = cfgcap_write,
};

static unsigned add_vcap(struct virtio_device *vd, uint8_t type, unsigned len, uint8_t bar,
			 uint32_t off, uint32_t length)
{
	unsigned cap = pci_add_cap(&vd->pci, PCI_CAP_ID_VENDOR, len);
	if (!cap)
		return 0;
	uint8_t *c = vd->pci.cfg;
	c[cap + 2] = (uint8_t)len;
	c[cap + CAP_CFG_TYPE] = type;
	c[cap + CAP_BAR] = bar;
	pci_set_u32(c, cap + CAP_OFFSET, off);
	pci_set_u32(c, cap + CAP_LENGTH, length);
	return cap;
}

int virtio_pci_init(struct virtio_device *vd, const struct virtio_pci_params *p,
		    struct guest_mem *gm, struct vm_control *ctl, struct iothread *io,
		    struct pci_host *host, struct vmon_error *err)
{
	memset(vd, 0, sizeof(*vd));
	vd->notify_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vd->kick_fd[q] = -1;
	pthread_mutex_init(&vd->lock, NULL);
	pthread_cond_init(&vd->drained, NULL);
	if (p->nqueues == 0 || p->nqueues > VIRTIO_MAX_QUEUES || p->config_len > VIRTIO_DEVCFG_MAX)
		return err_setf(err, "%s: bad virtio parameters", p->name);
	vd->name = p->name;
	vd->ops = p->ops;
	vd->opaque = p->opaque;
	vd->gm = gm;
	vd->ctl = ctl;
	vd->nqueues = p->nqueues;
	vd->config = p->config;
	vd->config_len = p->config_len;
	vd->device_features = p->features | (1ULL << VIRTIO_F_VERSION_1) |
			      (1ULL << VIRTIO_F_INDIRECT_DESC) | (1ULL << VIRTIO_F_EVENT_IDX);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vd->qcfg[q].max_size = q < p->nqueues ? p->queue_max_size : 0;

	uint16_t id = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + p->device_type);
	pci_device_init(&vd->pci, p->name, VIRTIO_PCI_VENDOR, id, p->class_code, 1,
			VIRTIO_PCI_VENDOR, id, &virtio_pci_dev_ops, vd);
	if (pci_device_set_bar(&vd->pci, 0, VIRTIO_BAR0_SIZE, &bar0_ops, vd, err) < 0 ||
	    pci_device_set_bar(&vd->pci, VIRTIO_MSIX_BAR, VIRTIO_MSIX_BAR_SIZE, &bar1_ops, vd,
			       err) < 0 ||
	    pci_msix_init(&vd->pci, p->nqueues + 1, VIRTIO_MSIX_BAR, 0, VIRTIO_MSIX_PBA_OFF, err) <
		    0)
		return -1;
	unsigned ncap =
		add_vcap(vd, CFG_NOTIFY, 20, 0, VIRTIO_NOTIFY_OFF, VIRTIO_NOTIFY_MULT * p->nqueues);
	if (ncap)
		pci_set_u32(vd->pci.cfg, ncap + CAP_EXTRA, VIRTIO_NOTIFY_MULT);
	if (!add_vcap(vd, CFG_COMMON, 16, 0, VIRTIO_COMMON_OFF, VIRTIO_COMMON_LEN) || !ncap ||
	    !add_vcap(vd, CFG_ISR, 16, 0, VIRTIO_ISR_OFF, 1) ||
	    (p->config_len && !add_vcap(vd, CFG_DEVICE, 16, 0, VIRTIO_DEVCFG_OFF, p->config_len)))
		return err_setf(err, "%s: capabilities do not fit", p->name);
	vd->cfgcap = add_vcap(vd, CFG_PCI, 20, 0, 0, 0);
	if (vd->cfgcap) {
		vd->pci.wmask[vd->cfgcap + CAP_BAR] = 0xff;
		pci_set_u32(vd->pci.wmask, vd->cfgcap + CAP_OFFSET, 0xffffffffu);
		pci_set_u32(vd->pci.wmask, vd->cfgcap + CAP_LENGTH, 0xffffffffu);
		pci_set_u32(vd->pci.wmask, vd->cfgcap + CAP_EXTRA, 0xffffffffu);
	}
	pci_device_use_intx(&vd->pci);

	/* One eventfd per queue, all in one epoll set that the device's
	 * thread waits on (notify_fd); the backend may signal a queue's
	 * eventfd directly on a write to its notify address. */
	vd->notify_fd = epoll_create1(EPOLL_CLOEXEC);
	if (vd->notify_fd < 0)
		return err_setf(err, "%s: epoll_create1: %s", p->name, strerror(errno));
	for (unsigned q = 0; q < p->nqueues; q++) {
		vd->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = q};
		if (vd->kick_fd[q] < 0 ||
		    epoll_ctl(vd->notify_fd, EPOLL_CTL_ADD, vd->kick_fd[q], &ev) < 0)
			return err_setf(err, "%s: queue eventfd: %s", p->name, strerror(errno));
		/* Linux and the kit write the queue index as 16 bits; the
		 * address alone names the queue, so no data match (as on the
		 * exit path, which ignores the value). */
		if (pci_device_add_ioeventfd(&vd->pci, 0,
					     VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT * q, 2, false,
					     0, vd->kick_fd[q], err) < 0)
			return -1;
	}
	reset_locked(vd);
	if (io && iothread_add(io, vd->notify_fd, on_notify, vd, err) < 0)
		return -1;
	if (host && pci_host_add_device(host, &vd->pci, err) < 0)
		return -1;
	return 0;
}

void virtio_pci_fini(struct virtio_device *vd)
{
	/* The backend lets go of the eventfds before they close. */
	pci_device_release(&vd->pci);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (vd->kick_fd[q] >= 0)
			close(vd->kick_fd[q]);
		vd->kick_fd[q] = -1;
	}
	if (vd->notify_fd >= 0)
		close(vd->notify_fd);
	vd->notify_fd = -1;
	pthread_cond_destroy(&vd->drained);
	pthread_mutex_destroy(&vd->lock);
}
