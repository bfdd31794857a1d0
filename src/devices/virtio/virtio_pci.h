/* SPDX-License-Identifier: MIT */
/*
 * virtio 1.x over PCI, modern only (virtio spec 4.1): the transport every
 * vmon virtio device is built on.
 *
 * PCI function: vendor 0x1af4, device 0x1040 + the virtio device type,
 * revision 1, subsystem 0x1af4 / 0x1040 + type. BAR 0 (16 KiB) holds the
 * virtio structures, BAR 1 (4 KiB) the MSI-X table (offset 0) and PBA
 * (offset 0x800), one vector per queue plus one for configuration changes:
 *   0x0000 common configuration (cfg_type 1)
 *   0x1000 ISR status          (cfg_type 3; reading clears it and INTx)
 *   0x2000 device configuration (cfg_type 4)
 *   0x3000 notifications       (cfg_type 2; queue q at 0x3000 + 4q)
 * plus a PCI configuration access capability (cfg_type 5) that reaches
 * BAR 0 through configuration space. INTx (INTA#) is used while MSI-X is
 * off.
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
 * Threads: the BAR and config-space handlers run on vCPU threads. Each
 * queue has an eventfd (kick_fd) that a notify signals: on KVM the kernel
 * does it (the notify address is registered with KVM_IOEVENTFD through
 * the PCI host, and the write never leaves the guest); otherwise — the
 * software CPU, a write of another size, a failed registration — the
 * BAR 0 handler does it on the vCPU thread. notify_fd is an epoll set of
 * those eventfds: the device's thread waits on it and
 * virtio_process_notifications calls ops->queue_work for each queue whose
 * eventfd fired. One mutex per device
 * (vd->lock) guards the transport state, the queues and whatever the
 * device keeps beside them.
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_PCI_H
#define VMON_DEVICES_VIRTIO_VIRTIO_PCI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/guest_mem.h"
#include "core/vm_control.h"
#include "devices/pci.h"
#include "devices/virtio/virtqueue.h"

struct iothread;

#define VIRTIO_PCI_VENDOR	  0x1af4
#define VIRTIO_PCI_DEVICE_BASE	  0x1040
#define VIRTIO_MAX_QUEUES	  8
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

/* BAR 0 layout. */
#define VIRTIO_BAR0_SIZE     0x4000
#define VIRTIO_COMMON_OFF    0x0000
#define VIRTIO_COMMON_LEN    0x38
#define VIRTIO_ISR_OFF	     0x1000
#define VIRTIO_DEVCFG_OFF    0x2000
#define VIRTIO_DEVCFG_MAX    0x1000
#define VIRTIO_NOTIFY_OFF    0x3000
#define VIRTIO_NOTIFY_MULT   4
#define VIRTIO_MSIX_BAR	     1
#define VIRTIO_MSIX_BAR_SIZE 0x1000
#define VIRTIO_MSIX_PBA_OFF  0x800

struct virtio_device;

struct virtio_device_ops {
	/* On the I/O thread, without vd->lock: the driver notified queue q
	 * (or the device asked with virtio_kick). Takes vd->lock itself. */
	void (*queue_work)(struct virtio_device *vd, unsigned q);
	/* With vd->lock held, after a reset (guest status 0, or the VM's
	 * reset) has drained in-flight requests and reset the queues. */
	void (*reset)(struct virtio_device *vd);
};

struct virtio_queue_cfg {
	uint16_t size, max_size, msix;
	uint64_t desc, avail, used;
};

struct virtio_device {
	struct pci_device pci; /* first: the PCI hooks find vd from it */
	const char *name;
	const struct virtio_device_ops *ops;
	void *opaque;
	struct guest_mem *gm;
	struct vm_control *ctl; /* may be NULL (tests) */

	pthread_mutex_t lock;
	pthread_cond_t drained; /* signalled when inflight drops to 0 */
	unsigned inflight;	/* requests the device has taken, not yet pushed */
	uint64_t device_features, driver_features;
	uint32_t dfselect, gfselect;
	uint8_t status, isr, config_generation;
	uint16_t config_msix, queue_sel;
	unsigned nqueues;
	struct virtio_queue_cfg qcfg[VIRTIO_MAX_QUEUES];
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint8_t *config; /* device configuration bytes, read-only to the guest */
	uint32_t config_len;
	bool warned;	 /* one message per reset about a misbehaving guest */
	unsigned cfgcap; /* config offset of the PCI cfg access capability */

	/* notify_fd: epoll set of kick_fd[0..nqueues); poll it for POLLIN,
	 * never read() it: virtio_process_notifications drains it. */
	int notify_fd;
	int kick_fd[VIRTIO_MAX_QUEUES];
};

struct virtio_pci_params {
	const char *name;     /* for messages: "virtio-blk (disk.img)" */
	uint16_t device_type; /* 2 block, 4 entropy... */
	uint32_t class_code;
	uint64_t features; /* device-specific bits */
	unsigned nqueues;
	uint16_t queue_max_size;
	uint8_t *config; /* owned by the device; config_len <= VIRTIO_DEVCFG_MAX */
	uint32_t config_len;
	const struct virtio_device_ops *ops;
	void *opaque;
};

/* Initialises vd (embedded in the device's struct), adds it to host's
 * bus 0 and registers its notify eventfd with io. gm, ctl, io and host
 * must outlive it. Returns 0, or -1 with err (then virtio_pci_fini). */
__attribute__((warn_unused_result)) int
virtio_pci_init(struct virtio_device *vd, const struct virtio_pci_params *p, struct guest_mem *gm,
		struct vm_control *ctl, struct iothread *io, struct pci_host *host,
		struct vmon_error *err);

/* Transport reset as if the driver wrote status 0 (waits for in-flight
 * requests). Any thread but the I/O thread; takes vd->lock. */
void virtio_reset(struct virtio_device *vd);

/* Frees what init allocated. The I/O thread must be gone. */
void virtio_pci_fini(struct virtio_device *vd);

/* ---- For device implementations; all with vd->lock held ---- */

/* The queue may be used: DRIVER_OK, no NEEDS_RESET, queue enabled. */
bool virtio_queue_live(struct virtio_device *vd, unsigned q);

/* After pushing used buffers on q: interrupts the driver if it wants. */
void virtio_queue_interrupt(struct virtio_device *vd, unsigned q);

/* Sets DEVICE_NEEDS_RESET, tells the driver (configuration interrupt)
 * and prints why on stderr (once per reset). */
void virtio_needs_reset(struct virtio_device *vd, const char *why);

/* Completes a malformed request with length 0 (prints why, once per
 * reset). */
void virtio_fail_request(struct virtio_device *vd, unsigned q, uint16_t head, const char *why);

/* Takes the next chain from a device-writable queue (a receive queue) into
 * req: malformed chains, chains with a device-readable part and chains of
 * fewer than min_in writable bytes are failed and skipped; a corrupt ring
 * marks the device NEEDS_RESET. Returns true with a usable chain in req,
 * false when the queue is empty (notification re-armed), dead or broken.
 * vd->lock held. */
bool virtio_pop_writable(struct virtio_device *vd, unsigned q, struct virtq_req *req,
			 uint64_t min_in);

/* Makes the I/O thread call queue_work(q) again. Any thread, any lock. */
void virtio_kick(struct virtio_device *vd, unsigned q);

/* BAR 0 access, as the MMIO window does it (for tests and fuzzing). */
uint64_t virtio_bar0_read(struct virtio_device *vd, uint64_t off, unsigned size);
void virtio_bar0_write(struct virtio_device *vd, uint64_t off, unsigned size, uint64_t val);

/* Drains notify_fd and runs queue_work for every queue notified since
 * the last call, on the calling thread (the device's thread after
 * notify_fd polled readable; tests and fuzzing directly). */
void virtio_process_notifications(struct virtio_device *vd);

#endif
