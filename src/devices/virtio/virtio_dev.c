/* SPDX-License-Identifier: MIT */
/*
 * The transport-neutral virtio device core: feature negotiation, the
 * status state machine, queue setup, configuration reads, notifications
 * and interrupts. See virtio_dev.h.
 */
#include "devices/virtio/virtio_dev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_pci.h"

/* ---- Interrupts (vd->lock held) ---- */

static void raise_irq(struct virtio_device *vd, uint16_t vector, uint8_t isr_bit)
{
	/* While the VM stops (and during a reboot, until the devices are
	 * reset) the backend's interrupt router may be going away. */
	if (vd->ctl && vmctl_stopping(vd->ctl))
		return;
	vd->transport->interrupt(vd, vector, isr_bit);
}

void virtio_queue_interrupt(struct virtio_device *vd, unsigned q)
{
	if (q < vd->nqueues && virtq_need_interrupt(&vd->vq[q]))
		raise_irq(vd, vd->qcfg[q].msix, VIRTIO_ISR_QUEUE);
}

/* The first of each kind after a reset, within the device's budget. */
static void warn(struct virtio_device *vd, bool *warned, struct ratelimit *rl, const char *what,
		 const char *why)
{
	if (*warned)
		return;
	*warned = true;
	ratelimit_print(rl, stderr, "%s: %s: %s", vd->name, what, why);
}

void virtio_needs_reset(struct virtio_device *vd, const char *why)
{
	if (vd->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	atomic_fetch_add_explicit(&vd->needs_resets, 1, memory_order_relaxed);
	warn(vd, &vd->warned_reset, &vd->rl_reset, "device needs reset", why);
	vd->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(vd, vd->config_msix, VIRTIO_ISR_CONFIG);
}

void virtio_config_changed(struct virtio_device *vd)
{
	vd->config_generation++;
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(vd, vd->config_msix, VIRTIO_ISR_CONFIG);
}

void virtio_fail_request(struct virtio_device *vd, unsigned q, uint16_t head, const char *why)
{
	warn(vd, &vd->warned_req, &vd->rl_req, "bad request", why);
	atomic_fetch_add_explicit(&vd->bad_requests, 1, memory_order_relaxed);
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

static void on_notify(void *opaque, int fd, uint32_t events)
{
	virtio_process_notifications(opaque);
}

/* ---- Reset (vd->lock held) ---- */

static void drain_locked(struct virtio_device *vd)
{
	/* Requests already handed to the host finish first: their buffers
	 * and used-ring slots belong to the old queues. */
	while (vd->inflight)
		pthread_cond_wait(&vd->drained, &vd->lock);
}

void virtio_core_reset_locked(struct virtio_device *vd)
{
	drain_locked(vd);
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
	vd->warned_reset = vd->warned_req = false;
	if (vd->transport && vd->transport->reset)
		vd->transport->reset(vd);
	if (vd->ops && vd->ops->reset)
		vd->ops->reset(vd);
}

void virtio_reset(struct virtio_device *vd)
{
	pthread_mutex_lock(&vd->lock);
	virtio_core_reset_locked(vd);
	pthread_mutex_unlock(&vd->lock);
}

/* ---- Registers, transport-independent (vd->lock held) ---- */

uint32_t virtio_core_device_features(struct virtio_device *vd, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(vd->device_features >> (32 * sel)) : 0;
}

uint32_t virtio_core_driver_features(struct virtio_device *vd, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(vd->driver_features >> (32 * sel)) : 0;
}

void virtio_core_set_driver_features(struct virtio_device *vd, uint32_t sel, uint32_t val)
{
	if (sel >= 2 || (vd->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	unsigned sh = 32 * sel;
	vd->driver_features =
		(vd->driver_features & ~(0xffffffffULL << sh)) | ((uint64_t)val << sh);
}

void virtio_core_set_status(struct virtio_device *vd, uint8_t val)
{
	if (val == 0) {
		virtio_core_reset_locked(vd);
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

void virtio_core_enable_queue(struct virtio_device *vd, unsigned q)
{
	if (q >= vd->nqueues || vd->vq[q].enabled)
		return;
	struct virtio_queue_cfg *c = &vd->qcfg[q];
	bool event_idx = vd->driver_features & (1ULL << VIRTIO_F_EVENT_IDX);
	bool indirect = vd->driver_features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	if (c->size > c->max_size || virtq_enable(&vd->vq[q], vd->gm, c->size, c->desc, c->avail,
						  c->used, event_idx, indirect) < 0) {
		char why[96];
		snprintf(why, sizeof(why), "queue %u: bad size or rings not in RAM", q);
		virtio_needs_reset(vd, why);
		return;
	}
	if (vd->transport->queue_enabled)
		vd->transport->queue_enabled(vd, q);
}

void virtio_core_disable_queue(struct virtio_device *vd, unsigned q)
{
	if (q >= vd->nqueues || !vd->vq[q].enabled)
		return;
	drain_locked(vd);
	virtq_reset(&vd->vq[q]);
}

uint64_t virtio_core_config_read(struct virtio_device *vd, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size && i < 8 && off + i < vd->config_len; i++)
		v |= (uint64_t)vd->config[off + i] << (8 * i);
	return v;
}

uint16_t virtio_core_vector(struct virtio_device *vd, uint16_t v)
{
	return vd->transport->vector_ok ? vd->transport->vector_ok(vd, v) : v;
}

/* ---- Life cycle ---- */

int virtio_core_init(struct virtio_device *vd, const struct virtio_params *p, struct guest_mem *gm,
		     struct vm_control *ctl, struct vmon_error *err)
{
	memset(vd, 0, sizeof(*vd));
	vd->notify_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vd->kick_fd[q] = -1;
	pthread_mutex_init(&vd->lock, NULL);
	pthread_cond_init(&vd->drained, NULL);
	ratelimit_init(&vd->rl_reset);
	ratelimit_init(&vd->rl_req);
	vd->name = p->name;
	if (p->nqueues == 0 || p->nqueues > VIRTIO_MAX_QUEUES ||
	    p->config_len > VIRTIO_CONFIG_MAX || p->legacy_nqueues >= p->nqueues ||
	    (p->legacy_missing & ~p->features))
		return err_setf(err, "%s: bad virtio parameters", p->name);
	vd->ops = p->ops;
	vd->opaque = p->opaque;
	vd->gm = gm;
	vd->ctl = ctl;
	vd->device_type = p->device_type;
	vd->nqueues = p->nqueues;
	vd->legacy_nqueues = p->legacy_nqueues;
	vd->legacy_missing = p->legacy_missing;
	vd->config = p->config;
	vd->config_len = p->config_len;
	vd->device_features = p->features | (1ULL << VIRTIO_F_VERSION_1) |
			      (1ULL << VIRTIO_F_INDIRECT_DESC) | (1ULL << VIRTIO_F_EVENT_IDX);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vd->qcfg[q].max_size = q < p->nqueues ? p->queue_max_size : 0;

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
	}
	return 0;
}

int virtio_core_start(struct virtio_device *vd, struct event_loop *loop, struct vmon_error *err)
{
	virtio_core_reset_locked(vd);
	if (loop && ev_add(loop, vd->notify_fd, EPOLLIN, on_notify, vd) < 0)
		return err_setf(err, "%s: event loop: %s", vd->name, strerror(errno));
	return 0;
}

void virtio_core_fini(struct virtio_device *vd)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (vd->kick_fd[q] >= 0)
			close(vd->kick_fd[q]);
		vd->kick_fd[q] = -1;
	}
	if (vd->notify_fd >= 0)
		close(vd->notify_fd);
	vd->notify_fd = -1;
	/* What the limiters held back is still worth one line each. */
	ratelimit_flush(&vd->rl_reset, stderr);
	ratelimit_flush(&vd->rl_req, stderr);
	pthread_mutex_destroy(&vd->rl_reset.lock);
	pthread_mutex_destroy(&vd->rl_req.lock);
	pthread_cond_destroy(&vd->drained);
	pthread_mutex_destroy(&vd->lock);
}

int virtio_device_init(struct virtio_device *vd, const struct virtio_params *p,
		       struct guest_mem *gm, struct vm_control *ctl, struct event_loop *loop,
		       const struct virtio_bus *at, struct vmon_error *err)
{
	if (at && at->kind == VIRTIO_TRANSPORT_MMIO)
		return virtio_mmio_init(vd, p, gm, ctl, loop, at, err);
	return virtio_pci_init(vd, p, gm, ctl, loop, at ? at->pci : NULL, err);
}

void virtio_device_fini(struct virtio_device *vd)
{
	/* The transport lets go of the eventfds (the backend's ioeventfds)
	 * before they close. */
	if (vd->transport && vd->transport->fini)
		vd->transport->fini(vd);
	vd->transport = NULL;
	virtio_core_fini(vd);
}

int virtio_bus_at(struct virtio_bus *out, const struct device_env *env,
		  const struct virtio_place *place, struct vmon_error *err)
{
	if (place->kind == VIRTIO_TRANSPORT_MMIO) {
		*out = (struct virtio_bus){
			.kind = VIRTIO_TRANSPORT_MMIO,
			.mmio = env->mmio,
			.mmio_base = place->mmio_base,
			.irq = {.router = env->irq, .gsi = place->gsi},
			.ioev = env->ioev,
		};
		return 0;
	}
	if (!env->pci)
		return err_setf(err, "a PCI virtio device needs the PCI host");
	*out = (struct virtio_bus){.kind = VIRTIO_TRANSPORT_PCI, .pci = env->pci};
	return 0;
}

void virtio_device_stats(struct virtio_device *vd, const struct stats_sink *out)
{
	if (vd->transport && vd->transport->stats)
		vd->transport->stats(vd, out);
	stats_put(out, "bad_requests", atomic_load(&vd->bad_requests));
	stats_put(out, "needs_resets", atomic_load(&vd->needs_resets));
}
