/* SPDX-License-Identifier: MIT */
/*
 * Saved state of the transport-neutral virtio core (virtio_state.h):
 * feature negotiation, status, ISR, the selectors, and each queue's
 * setup (size, MSI-X vector, ring addresses, enable) and positions
 * (next available slot, next used slot, EVENT_IDX bookkeeping). The
 * transports' own state is elsewhere: the PCI config space and MSI-X
 * table with the PCI host (pci_state.c), the MMIO window has none beyond
 * this.
 *
 * Restoring treats every value as hostile: the device must be of the
 * same type with the same queues and offered features (or be the older
 * form the device names: fewer queues, fewer features, the rest left
 * reset — virtio-net before its control queue), the driver's
 * features a subset of those, the status only known bits, each enabled
 * queue a power-of-two size up to its maximum with its rings aligned and
 * wholly in RAM (virtq_enable's checks), vectors as the transport allows.
 */
#include "devices/virtio/virtio_state.h"

#include <string.h>

#define STATUS_KNOWN                                                                               \
	(VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK |                      \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)

void virtio_state_save(struct virtio_device *vd, struct state_writer *w)
{
	pthread_mutex_lock(&vd->lock);
	/* Requests handed to the host finish first (a disk's writes land,
	 * their used entries are in the ring the memory file holds). */
	while (vd->inflight)
		pthread_cond_wait(&vd->drained, &vd->lock);
	state_put_u16(w, vd->device_type);
	state_put_u32(w, vd->nqueues);
	state_put_u64(w, vd->device_features);
	state_put_u64(w, vd->driver_features);
	state_put_u32(w, vd->dfselect);
	state_put_u32(w, vd->gfselect);
	state_put_u8(w, vd->status);
	state_put_u8(w, vd->isr);
	state_put_u8(w, vd->config_generation);
	state_put_u16(w, vd->config_msix);
	state_put_u16(w, vd->queue_sel);
	for (unsigned q = 0; q < vd->nqueues; q++) {
		const struct virtio_queue_cfg *c = &vd->qcfg[q];
		const struct virtq *v = &vd->vq[q];
		state_put_u16(w, c->size);
		state_put_u16(w, c->msix);
		state_put_u64(w, c->desc);
		state_put_u64(w, c->avail);
		state_put_u64(w, c->used);
		state_put_u8(w, v->enabled);
		state_put_u16(w, v->last_avail);
		state_put_u16(w, v->used_idx);
		state_put_u16(w, v->signalled_used);
		state_put_u8(w, v->signalled_valid);
	}
	pthread_mutex_unlock(&vd->lock);
}

struct saved_queue {
	uint16_t size, msix, last_avail, used_idx, signalled_used;
	uint64_t desc, avail, used;
	bool enabled, signalled_valid;
};

static int read_queue(struct virtio_device *vd, unsigned q, struct state_reader *r,
		      struct saved_queue *s, struct vmon_error *err)
{
	s->size = state_get_u16(r);
	s->msix = state_get_u16(r);
	s->desc = state_get_u64(r);
	s->avail = state_get_u64(r);
	s->used = state_get_u64(r);
	s->enabled = state_get_u8(r) != 0;
	s->last_avail = state_get_u16(r);
	s->used_idx = state_get_u16(r);
	s->signalled_used = state_get_u16(r);
	s->signalled_valid = state_get_u8(r) != 0;
	if (r->failed)
		return err_setf(err, "%s: saved state is truncated", vd->name);
	if (s->size == 0 || s->size > vd->qcfg[q].max_size || (s->size & (s->size - 1)))
		return err_setf(err, "%s: queue %u: bad size %u (a power of two up to %u)",
				vd->name, q, s->size, vd->qcfg[q].max_size);
	return 0;
}

/* Applies one queue (vd->lock held, the core freshly reset). */
static int apply_queue(struct virtio_device *vd, unsigned q, const struct saved_queue *s,
		       struct vmon_error *err)
{
	struct virtio_queue_cfg *c = &vd->qcfg[q];
	c->size = s->size;
	c->msix = virtio_core_vector(vd, s->msix);
	c->desc = s->desc;
	c->avail = s->avail;
	c->used = s->used;
	if (!s->enabled)
		return 0;
	bool event_idx = vd->driver_features & (1ULL << VIRTIO_F_EVENT_IDX);
	bool indirect = vd->driver_features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	struct virtq *v = &vd->vq[q];
	if (virtq_enable(v, vd->gm, c->size, c->desc, c->avail, c->used, event_idx, indirect) < 0)
		return err_setf(err, "%s: queue %u: rings not aligned or not in guest RAM",
				vd->name, q);
	v->last_avail = s->last_avail;
	v->used_idx = s->used_idx;
	v->signalled_used = s->signalled_used;
	v->signalled_valid = s->signalled_valid;
	if (vd->transport->queue_enabled)
		vd->transport->queue_enabled(vd, q);
	return 0;
}

/* The saved device's queue count and offered features: this device's,
 * or those of its older form (virtio_dev.h: legacy_nqueues), whose state
 * restores with the queues it lacked left reset. */
static int read_header(struct virtio_device *vd, struct state_reader *r, unsigned *nq_out,
		       uint64_t *dev_f_out, struct vmon_error *err)
{
	uint16_t type = state_get_u16(r);
	uint32_t nq = state_get_u32(r);
	uint64_t dev_f = state_get_u64(r);
	if (r->failed)
		return err_setf(err, "%s: saved state is truncated", vd->name);
	bool legacy = vd->legacy_nqueues && nq == vd->legacy_nqueues;
	if (type != vd->device_type || (nq != vd->nqueues && !legacy))
		return err_setf(err, "%s: saved state is of another device (type %u, %u queues)",
				vd->name, type, nq);
	uint64_t want = legacy ? vd->device_features & ~vd->legacy_missing : vd->device_features;
	if (dev_f != want)
		return err_setf(err, "%s: saved with other offered features (0x%llx, now 0x%llx)",
				vd->name, (unsigned long long)dev_f, (unsigned long long)want);
	*nq_out = nq;
	*dev_f_out = dev_f;
	return 0;
}

int virtio_state_restore(struct virtio_device *vd, struct state_reader *r, struct vmon_error *err)
{
	unsigned nq = 0;
	uint64_t saved_f = 0;
	if (read_header(vd, r, &nq, &saved_f, err) < 0)
		return -1;
	uint64_t drv_f = state_get_u64(r);
	uint32_t dfsel = state_get_u32(r), gfsel = state_get_u32(r);
	uint8_t status = state_get_u8(r), isr = state_get_u8(r), gen = state_get_u8(r);
	uint16_t cfg_msix = state_get_u16(r), qsel = state_get_u16(r);
	if (r->failed)
		return err_setf(err, "%s: saved state is truncated", vd->name);
	if (drv_f & ~saved_f)
		return err_setf(err, "%s: saved driver features 0x%llx were not offered", vd->name,
				(unsigned long long)drv_f);
	if ((status & ~STATUS_KNOWN) || (isr & ~(VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG)))
		return err_setf(err, "%s: bad saved status 0x%x or ISR 0x%x", vd->name, status,
				isr);
	struct saved_queue sq[VIRTIO_MAX_QUEUES] = {{0}};
	for (unsigned q = 0; q < nq; q++)
		if (read_queue(vd, q, r, &sq[q], err) < 0)
			return -1;
	pthread_mutex_lock(&vd->lock);
	virtio_core_reset_locked(vd);
	vd->driver_features = drv_f;
	vd->dfselect = dfsel;
	vd->gfselect = gfsel;
	vd->status = status;
	vd->config_generation = gen;
	vd->config_msix = virtio_core_vector(vd, cfg_msix);
	vd->queue_sel = qsel;
	int ret = 0;
	for (unsigned q = 0; q < nq && ret == 0; q++)
		ret = apply_queue(vd, q, &sq[q], err);
	if (ret < 0) {
		virtio_core_reset_locked(vd);
	} else {
		/* Raised again and taken up in virtio_dev_restored, once the
		 * whole machine is restored. */
		vd->restored_isr = isr;
		vd->restored_kicks = 0;
		for (unsigned q = 0; q < nq; q++)
			if (sq[q].enabled)
				vd->restored_kicks |= (uint8_t)(1u << q);
	}
	pthread_mutex_unlock(&vd->lock);
	return ret;
}

void virtio_dev_restored(void *dev)
{
	struct virtio_device *vd = dev;
	pthread_mutex_lock(&vd->lock);
	uint8_t isr = vd->restored_isr, kicks = vd->restored_kicks;
	vd->restored_isr = 0;
	vd->restored_kicks = 0;
	if (isr)
		vd->transport->interrupt(vd, VIRTIO_MSI_NO_VECTOR, isr);
	pthread_mutex_unlock(&vd->lock);
	/* What the driver queued before the snapshot is taken up now. */
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (kicks & (1u << q))
			virtio_kick(vd, q);
}

int virtio_dev_save(void *dev, struct state_writer *w, struct vmon_error *err)
{
	(void)err;
	virtio_state_save(dev, w);
	return 0;
}

int virtio_dev_restore(void *dev, struct state_reader *r, uint32_t version, struct vmon_error *err)
{
	struct virtio_device *vd = dev;
	if (version != VIRTIO_STATE_VERSION)
		return err_setf(err, "%s: saved state version %u (this vmon reads %u)", vd->name,
				version, VIRTIO_STATE_VERSION);
	if (virtio_state_restore(vd, r, err) < 0)
		return -1;
	if (!state_reader_done(r))
		return err_setf(err, "%s: saved state is truncated or has stray bytes", vd->name);
	return 0;
}
