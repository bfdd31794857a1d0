/* SPDX-License-Identifier: MIT */
/*
 * The transport-neutral core of a virtio 1.x device: what every vmon
 * virtio device is built on, whichever transport (virtio_pci.h,
 * virtio_mmio.h) the guest reaches it through.
 *
 * The core owns feature negotiation, the status state machine (reset,
 * FEATURES_OK, DRIVER_OK, DEVICE_NEEDS_RESET), queue setup and checks,
 * device configuration reads, notifications and the decision to
 * interrupt. A transport maps its registers onto these and delivers the
 * interrupt the core asks for (MSI-X or INTx on PCI, a level-triggered
 * IOAPIC line on MMIO); a device sees only the functions below and never
 * learns which transport it sits on.
 *
 * Features: VIRTIO_F_VERSION_1 (required: FEATURES_OK stays clear without
 * it or with a bit the device did not offer), VIRTIO_F_INDIRECT_DESC,
 * VIRTIO_F_EVENT_IDX, plus the device's own. Status: writing 0 resets
 * (after waiting for the device's in-flight requests); DEVICE_NEEDS_RESET
 * is set by the device (virtio_needs_reset) and stays until a reset; the
 * device consumes buffers only while DRIVER_OK is set and NEEDS_RESET is
 * not. Enabling a queue whose rings are not wholly in RAM, misaligned or
 * of a size that is not a power of two up to the device's maximum sets
 * NEEDS_RESET.
 *
 * Threads: the transport's register handlers run on vCPU threads. Each
 * queue has an eventfd (kick_fd) that a notify signals: on KVM the kernel
 * does it (the transport registers the notify address with KVM_IOEVENTFD,
 * and the write never leaves the guest); otherwise — the software CPU, a
 * write of another size, a failed registration — the transport's handler
 * does it on the vCPU thread. notify_fd is an epoll set of those
 * eventfds: the device's thread waits on it and
 * virtio_process_notifications calls ops->queue_work for each queue whose
 * eventfd fired. One mutex per device (vd->lock) guards the transport
 * state, the queues and whatever the device keeps beside them.
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_DEV_H
#define VMON_DEVICES_VIRTIO_VIRTIO_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/device.h"
#include "core/error.h"
#include "core/guest_mem.h"
#include "core/ioeventfd.h"
#include "core/irq.h"
#include "core/ratelimit.h"
#include "core/vm_control.h"
#include "devices/virtio/virtqueue.h"

struct event_loop;
struct pci_host;

#define VIRTIO_MAX_QUEUES 8
_Static_assert(VIRTIO_MAX_QUEUES <= 8, "restored_kicks has a bit per queue");
#define VIRTIO_MSI_NO_VECTOR	  0xffff
#define VIRTIO_F_INDIRECT_DESC	  28
#define VIRTIO_F_EVENT_IDX	  29
#define VIRTIO_F_VERSION_1	  32
#define VIRTIO_STATUS_ACK	  1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80
#define VIRTIO_ISR_QUEUE	  1
#define VIRTIO_ISR_CONFIG	  2
#define VIRTIO_CONFIG_MAX	  0xf00 /* fits both transports' windows */

struct virtio_device;

struct virtio_device_ops {
	/* On the device's event-loop thread, without vd->lock: the driver notified queue q
	 * (or the device asked with virtio_kick). Takes vd->lock itself. */
	void (*queue_work)(struct virtio_device *vd, unsigned q);
	/* With vd->lock held, after a reset (guest status 0, or the VM's
	 * reset) has drained in-flight requests and reset the queues. */
	void (*reset)(struct virtio_device *vd);
};

/* What a transport does for the core. All with vd->lock held. */
struct virtio_transport_ops {
	/* Interrupt the driver: isr_bit is VIRTIO_ISR_QUEUE or _CONFIG,
	 * vector the MSI-X vector the driver chose for it (PCI). */
	void (*interrupt)(struct virtio_device *vd, uint16_t vector, uint8_t isr_bit);
	/* After the core reset its state (isr is 0): lower the interrupt,
	 * drop per-queue registrations. */
	void (*reset)(struct virtio_device *vd);
	/* Queue q was just enabled (its rings passed the checks). */
	void (*queue_enabled)(struct virtio_device *vd, unsigned q);
	/* A vector number as the driver wrote it -> what the device keeps
	 * (PCI: NO_VECTOR for one the MSI-X table does not have). NULL:
	 * kept as written. */
	uint16_t (*vector_ok)(struct virtio_device *vd, uint16_t vector);
	/* Frees the transport (vd->lock not held). */
	void (*fini)(struct virtio_device *vd);
	/* Reports the transport's counters (vd->lock not held). */
	void (*stats)(struct virtio_device *vd, const struct stats_sink *out);
};

struct virtio_queue_cfg {
	uint16_t size, max_size, msix;
	uint64_t desc, avail, used;
};

struct virtio_device {
	const char *name;
	const struct virtio_device_ops *ops;
	void *opaque;
	struct guest_mem *gm;
	struct vm_control *ctl; /* may be NULL (tests) */
	const struct virtio_transport_ops *transport;
	void *tpriv; /* the transport's own state */
	uint16_t device_type;

	pthread_mutex_t lock;
	pthread_cond_t drained; /* signalled when inflight drops to 0 */
	unsigned inflight;	/* requests the device has taken, not yet pushed */
	uint64_t device_features, driver_features;
	uint32_t dfselect, gfselect;
	uint8_t status, isr, config_generation;
	/* Set by a restore, done by virtio_dev_restored once the vCPUs and
	 * interrupt controllers are restored too (an interrupt raised
	 * before that would be overwritten by their saved state): the ISR
	 * bits to raise again and the queues to kick. */
	uint8_t restored_isr;
	uint8_t restored_kicks; /* a bit per queue */
	uint16_t config_msix, queue_sel;
	unsigned nqueues;
	/* An older form of this device whose saved state still restores
	 * (virtio_state.c): legacy_nqueues queues (0: none), offering
	 * device_features without legacy_missing. */
	unsigned legacy_nqueues;
	uint64_t legacy_missing;
	struct virtio_queue_cfg qcfg[VIRTIO_MAX_QUEUES];
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint8_t *config; /* device configuration bytes, read-only to the guest */
	uint32_t config_len;
	/* Messages about a misbehaving guest: at most one of each kind per
	 * reset, and over resets at most RL_BURST per window (a guest looping
	 * resets cannot flood the log); the rest are counted and reported at
	 * virtio_device_fini. */
	bool warned_reset, warned_req;
	struct ratelimit rl_reset, rl_req;
	/* Counters (stats): chains failed as malformed, NEEDS_RESET raised. */
	_Atomic uint64_t bad_requests, needs_resets;

	/* notify_fd: epoll set of kick_fd[0..nqueues); poll it for POLLIN,
	 * never read() it: virtio_process_notifications drains it. */
	int notify_fd;
	int kick_fd[VIRTIO_MAX_QUEUES];
};

struct virtio_params {
	const char *name;     /* for messages: "virtio-blk (disk.img)" */
	uint16_t device_type; /* 2 block, 4 entropy... */
	uint32_t class_code;  /* PCI only */
	uint64_t features;    /* device-specific bits */
	unsigned nqueues;
	uint16_t queue_max_size;
	/* Saved state of an older form of the device that still restores:
	 * with legacy_nqueues queues (fewer than nqueues; 0: no older form)
	 * and the features legacy_missing not offered; the queues it lacks
	 * stay reset (the driver never negotiated what uses them). */
	unsigned legacy_nqueues;
	uint64_t legacy_missing;
	uint8_t *config; /* owned by the device; config_len <= VIRTIO_CONFIG_MAX */
	uint32_t config_len;
	const struct virtio_device_ops *ops;
	void *opaque;
};

/* Where a device is plugged in: a PCI host's bus 0 (pci may be NULL for
 * tests: no bus, registers reached with virtio_bar0_*), or a fixed MMIO
 * window (virtio_mmio.h). */
enum virtio_transport_kind { VIRTIO_TRANSPORT_PCI, VIRTIO_TRANSPORT_MMIO };

struct virtio_bus {
	enum virtio_transport_kind kind;
	struct pci_host *pci;
	/* MMIO: the bus and base address of the 4 KiB register window, the
	 * level-triggered interrupt line and the backend's ioeventfd hooks
	 * (may be NULL; read at each registration, so a backend may refill
	 * them across reboots). */
	struct bus *mmio;
	uint64_t mmio_base;
	struct irq_line irq;
	struct ioeventfd_router *ioev;
};

/* Where a device object (core/device.h) is placed: bus 0 of env->pci, or
 * the MMIO window [mmio_base, +4 KiB) with IOAPIC line gsi (core/layout.h
 * hands both out). */
struct virtio_place {
	enum virtio_transport_kind kind;
	uint64_t mmio_base;
	unsigned gsi;
};

/* The virtio_bus a placement means in env. Returns 0, or -1 with err
 * (PCI without a PCI host). */
__attribute__((warn_unused_result)) int virtio_bus_at(struct virtio_bus *out,
						      const struct device_env *env,
						      const struct virtio_place *place,
						      struct vmon_error *err);

/* The counters every virtio device reports: the transport's (PCI slot or
 * MMIO window, notifies that reached vmon, ioeventfds, interrupts) and
 * bad_requests, needs_resets. Any thread. */
void virtio_device_stats(struct virtio_device *vd, const struct stats_sink *out);

/* Initialises vd (embedded in the device's struct) on the transport at
 * names (NULL: PCI without a host, for tests). gm, ctl, io and the bus
 * must outlive it. Returns 0, or -1 with err (then virtio_device_fini). */
__attribute__((warn_unused_result)) int
virtio_device_init(struct virtio_device *vd, const struct virtio_params *p, struct guest_mem *gm,
		   struct vm_control *ctl, struct event_loop *loop, const struct virtio_bus *at,
		   struct vmon_error *err);

/* Frees what init allocated. The device's loop must not run any more. */
void virtio_device_fini(struct virtio_device *vd);

/* Transport reset as if the driver wrote status 0 (waits for in-flight
 * requests). Any thread but the device's loop thread; takes vd->lock. */
void virtio_reset(struct virtio_device *vd);

/* ---- For device implementations; all with vd->lock held ---- */

/* The queue may be used: DRIVER_OK, no NEEDS_RESET, queue enabled. */
bool virtio_queue_live(struct virtio_device *vd, unsigned q);

/* After pushing used buffers on q: interrupts the driver if it wants. */
void virtio_queue_interrupt(struct virtio_device *vd, unsigned q);

/* Sets DEVICE_NEEDS_RESET, tells the driver (configuration interrupt)
 * and prints why on stderr (once per reset, rate-limited). */
void virtio_needs_reset(struct virtio_device *vd, const char *why);

/* Completes a malformed request with length 0 (prints why, once per
 * reset, rate-limited). */
void virtio_fail_request(struct virtio_device *vd, unsigned q, uint16_t head, const char *why);

/* Takes the next chain from a device-writable queue (a receive queue) into
 * req: malformed chains, chains with a device-readable part and chains of
 * fewer than min_in writable bytes are failed and skipped; a corrupt ring
 * marks the device NEEDS_RESET. Returns true with a usable chain in req,
 * false when the queue is empty (notification re-armed), dead or broken.
 * vd->lock held. */
bool virtio_pop_writable(struct virtio_device *vd, unsigned q, struct virtq_req *req,
			 uint64_t min_in);

/* The device configuration changed (capacity...): bumps the generation
 * and sends a configuration-change interrupt if the driver is running.
 * vd->lock held. */
void virtio_config_changed(struct virtio_device *vd);

/* Makes the device's loop call queue_work(q) again. Any thread, any lock. */
void virtio_kick(struct virtio_device *vd, unsigned q);

/* Drains notify_fd and runs queue_work for every queue notified since
 * the last call, on the calling thread (the device's thread after
 * notify_fd polled readable; tests and fuzzing directly). */
void virtio_process_notifications(struct virtio_device *vd);

/* ---- For transports ---- */

/* The transport-independent half of init: checks p, fills vd, creates
 * the eventfds. vd->transport and tpriv are the caller's to set. */
__attribute__((warn_unused_result)) int
virtio_core_init(struct virtio_device *vd, const struct virtio_params *p, struct guest_mem *gm,
		 struct vm_control *ctl, struct vmon_error *err);
/* After the transport is set up: the initial reset, then io (may be
 * NULL) starts watching notify_fd. */
__attribute__((warn_unused_result)) int
virtio_core_start(struct virtio_device *vd, struct event_loop *loop, struct vmon_error *err);
/* Closes the eventfds and destroys the lock (after the transport let go). */
void virtio_core_fini(struct virtio_device *vd);

/* With vd->lock held: */
void virtio_core_reset_locked(struct virtio_device *vd);
void virtio_core_set_status(struct virtio_device *vd, uint8_t val);
/* 32 feature bits at word sel (0 or 1; others read 0 / are ignored);
 * driver features are fixed once FEATURES_OK is set. */
uint32_t virtio_core_device_features(struct virtio_device *vd, uint32_t sel);
uint32_t virtio_core_driver_features(struct virtio_device *vd, uint32_t sel);
void virtio_core_set_driver_features(struct virtio_device *vd, uint32_t sel, uint32_t val);
/* Enables the selected queue q < nqueues from its qcfg (NEEDS_RESET if
 * the setup is bad); a no-op if it is enabled already. */
void virtio_core_enable_queue(struct virtio_device *vd, unsigned q);
/* Disables queue q (after in-flight requests finish), as a driver may
 * by clearing QueueReady. */
void virtio_core_disable_queue(struct virtio_device *vd, unsigned q);
/* Little-endian device configuration bytes [off, off + size); bytes past
 * the end read 0. */
uint64_t virtio_core_config_read(struct virtio_device *vd, uint64_t off, unsigned size);
/* A driver-chosen interrupt vector, as the transport keeps it. */
uint16_t virtio_core_vector(struct virtio_device *vd, uint16_t v);

#endif
