/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio (version 2) transport over the device core of virtio_dev.c.
 * See virtio_mmio.h.
 */
#include "devices/virtio/virtio_mmio.h"

#include <stdatomic.h>
#include <stdlib.h>

struct virtio_mmio {
	struct virtio_device *vd;
	uint64_t base;
	struct irq_line irq;
	struct ioeventfd_router *ioev; /* may be NULL */
	/* Each queue's KVM_IOEVENTFD registration, if made (and with which
	 * hooks, so it is undone through the backend that made it). */
	bool ioev_on[VIRTIO_MAX_QUEUES];
	atomic_ulong notify_writes, interrupts; /* VMON_STATS */
};

static struct virtio_mmio *mm_of(struct virtio_device *vd)
{
	return vd->tpriv;
}

/* ---- Transport hooks (vd->lock held) ---- */

static void mmio_interrupt(struct virtio_device *vd, uint16_t vector, uint8_t isr_bit)
{
	(void)vector;
	vd->isr |= isr_bit;
	atomic_fetch_add_explicit(&mm_of(vd)->interrupts, 1, memory_order_relaxed);
	irq_line_set(&mm_of(vd)->irq, true);
}

static void ioev_drop(struct virtio_mmio *mm, unsigned q)
{
	struct ioeventfd_router *r = mm->ioev;
	if (!mm->ioev_on[q])
		return;
	mm->ioev_on[q] = false;
	if (r && r->del)
		r->del(r->ctx, mm->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, true, q, mm->vd->kick_fd[q]);
}

static void mmio_reset(struct virtio_device *vd)
{
	struct virtio_mmio *mm = mm_of(vd);
	irq_line_set(&mm->irq, false); /* isr is 0 */
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		ioev_drop(mm, q);
}

static void mmio_queue_enabled(struct virtio_device *vd, unsigned q)
{
	struct virtio_mmio *mm = mm_of(vd);
	struct ioeventfd_router *r = mm->ioev;
	/* A refused registration only costs speed: the write then reaches
	 * mmio_write, which signals the same eventfd. */
	if (!mm->ioev_on[q] && r && r->add && r->del &&
	    r->add(r->ctx, mm->base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, true, q, vd->kick_fd[q]) == 0)
		mm->ioev_on[q] = true;
}

static void mmio_fini(struct virtio_device *vd)
{
	struct virtio_mmio *mm = mm_of(vd);
	if (!mm)
		return;
	pthread_mutex_lock(&vd->lock);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		ioev_drop(mm, q);
	pthread_mutex_unlock(&vd->lock);
	free(mm);
	vd->tpriv = NULL;
}

static void mmio_stats(struct virtio_device *vd, const struct stats_sink *out)
{
	struct virtio_mmio *mm = mm_of(vd);
	unsigned reg = 0;
	pthread_mutex_lock(&vd->lock);
	for (unsigned q = 0; q < vd->nqueues; q++)
		reg += mm->ioev_on[q];
	pthread_mutex_unlock(&vd->lock);
	stats_put(out, "mmio_base", mm->base);
	stats_put(out, "notify_exits", atomic_load(&mm->notify_writes));
	stats_put(out, "ioeventfds_registered", reg);
	stats_put(out, "ioeventfds", vd->nqueues);
	stats_put(out, "interrupts", atomic_load(&mm->interrupts));
}

static const struct virtio_transport_ops mmio_transport = {
	.interrupt = mmio_interrupt,
	.reset = mmio_reset,
	.queue_enabled = mmio_queue_enabled,
	.fini = mmio_fini,
	.stats = mmio_stats,
};

/* ---- Registers ---- */

static uint32_t reg_read(struct virtio_device *vd, uint64_t off)
{
	unsigned q = vd->queue_sel;
	bool qok = q < vd->nqueues;
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return vd->device_type;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEV_FEATURES: return virtio_core_device_features(vd, vd->dfselect);
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return qok ? vd->qcfg[q].max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY: return qok && vd->vq[q].enabled;
	case VIRTIO_MMIO_INT_STATUS: return vd->isr;
	case VIRTIO_MMIO_STATUS: return vd->status;
	case VIRTIO_MMIO_CONFIG_GEN: return vd->config_generation;
	default: return 0; /* write-only or reserved */
	}
}

/* Low or high half of a 64-bit ring address. */
static void set_half(uint64_t *addr, uint64_t off, uint32_t val)
{
	if (off & 4)
		*addr = (*addr & 0xffffffffULL) | (uint64_t)val << 32;
	else
		*addr = (*addr & ~0xffffffffULL) | val;
}

static void reg_write(struct virtio_device *vd, uint64_t off, uint32_t val)
{
	unsigned q = vd->queue_sel;
	struct virtio_queue_cfg *c = q < vd->nqueues ? &vd->qcfg[q] : NULL;
	bool qlocked = !c || vd->vq[q].enabled; /* a live queue's setup is fixed */
	switch (off) {
	case VIRTIO_MMIO_DEV_FEATURES_SEL: vd->dfselect = val; return;
	case VIRTIO_MMIO_DRV_FEATURES:
		virtio_core_set_driver_features(vd, vd->gfselect, val);
		return;
	case VIRTIO_MMIO_DRV_FEATURES_SEL: vd->gfselect = val; return;
	case VIRTIO_MMIO_QUEUE_SEL:
		/* Any value: QueueNumMax reads 0 for one past the last queue. */
		vd->queue_sel = val > 0xffff ? 0xffff : (uint16_t)val;
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
		/* Checked when the queue is enabled: a size above the maximum
		 * (or above 16 bits) then sets NEEDS_RESET. */
		if (!qlocked)
			c->size = val > 0xffff ? 0xffff : (uint16_t)val;
		return;
	case VIRTIO_MMIO_QUEUE_READY:
		if (c && val == 1)
			virtio_core_enable_queue(vd, q);
		else if (c && val == 0) {
			ioev_drop(mm_of(vd), q);
			virtio_core_disable_queue(vd, q);
		}
		return;
	case VIRTIO_MMIO_INT_ACK:
		vd->isr &= (uint8_t)~val;
		if (!vd->isr)
			irq_line_set(&mm_of(vd)->irq, false);
		return;
	case VIRTIO_MMIO_STATUS: virtio_core_set_status(vd, (uint8_t)val); return;
	case VIRTIO_MMIO_QUEUE_DESC:
	case VIRTIO_MMIO_QUEUE_DESC + 4:
		if (!qlocked)
			set_half(&c->desc, off, val);
		return;
	case VIRTIO_MMIO_QUEUE_DRIVER:
	case VIRTIO_MMIO_QUEUE_DRIVER + 4:
		if (!qlocked)
			set_half(&c->avail, off, val);
		return;
	case VIRTIO_MMIO_QUEUE_DEVICE:
	case VIRTIO_MMIO_QUEUE_DEVICE + 4:
		if (!qlocked)
			set_half(&c->used, off, val);
		return;
	default: return; /* read-only or reserved */
	}
}

uint64_t virtio_mmio_read(struct virtio_device *vd, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	if (off >= VIRTIO_MMIO_SIZE || size == 0 || size > 8)
		return 0;
	pthread_mutex_lock(&vd->lock);
	if (off >= VIRTIO_MMIO_CONFIG)
		v = virtio_core_config_read(vd, off - VIRTIO_MMIO_CONFIG, size);
	else if (size == 4 && !(off & 3))
		v = reg_read(vd, off);
	pthread_mutex_unlock(&vd->lock);
	return v;
}

void virtio_mmio_write(struct virtio_device *vd, uint64_t off, unsigned size, uint64_t val)
{
	if (off >= VIRTIO_MMIO_CONFIG || size != 4 || (off & 3))
		return; /* the configuration is read-only; registers are 32-bit */
	if (off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		/* No lock: a notify only signals the queue's eventfd, as the
		 * backend does itself where the write is registered with it. */
		atomic_fetch_add_explicit(&mm_of(vd)->notify_writes, 1, memory_order_relaxed);
		if (val < vd->nqueues)
			virtio_kick(vd, (unsigned)val);
		return;
	}
	pthread_mutex_lock(&vd->lock);
	reg_write(vd, off, (uint32_t)val);
	pthread_mutex_unlock(&vd->lock);
}

static uint64_t bus_read(void *opaque, uint64_t off, unsigned size)
{
	return virtio_mmio_read(opaque, off, size);
}

static void bus_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	virtio_mmio_write(opaque, off, size, val);
}

static const struct bus_ops mmio_ops = {.read = bus_read, .write = bus_write};

int virtio_mmio_init(struct virtio_device *vd, const struct virtio_params *p, struct guest_mem *gm,
		     struct vm_control *ctl, struct event_loop *loop, const struct virtio_bus *at,
		     struct vmon_error *err)
{
	if (virtio_core_init(vd, p, gm, ctl, err) < 0)
		return -1;
	struct virtio_mmio *mm = calloc(1, sizeof(*mm));
	if (!mm)
		return err_setf(err, "out of memory");
	mm->vd = vd;
	mm->base = at->mmio_base;
	mm->irq = at->irq;
	mm->ioev = at->ioev;
	vd->tpriv = mm;
	vd->transport = &mmio_transport;
	if (mm->base % VIRTIO_MMIO_SIZE)
		return err_setf(err, "%s: MMIO window 0x%llx is not 4 KiB aligned", p->name,
				(unsigned long long)mm->base);
	if (virtio_core_start(vd, loop, err) < 0)
		return -1;
	if (at->mmio &&
	    bus_register(at->mmio, mm->base, VIRTIO_MMIO_SIZE, &mmio_ops, vd, p->name, err) < 0)
		return -1;
	return 0;
}
