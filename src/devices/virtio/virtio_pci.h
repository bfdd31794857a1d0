/* SPDX-License-Identifier: MIT */
/*
 * virtio 1.x over PCI, modern only (virtio spec 4.1): one of the two
 * transports (virtio_mmio.h is the other) of the device core in
 * virtio_dev.h.
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
 * off. On KVM each queue's notify address is registered with
 * KVM_IOEVENTFD through the PCI host (as the guest enables decoding).
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_PCI_H
#define VMON_DEVICES_VIRTIO_VIRTIO_PCI_H

#include "devices/pci.h"
#include "devices/virtio/virtio_dev.h"

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040

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

/* Initialises vd (embedded in the device's struct) as a PCI function,
 * adds it to host's bus 0 (host may be NULL: tests) and registers its
 * notify eventfds with io. gm, ctl, io and host must outlive it. Returns
 * 0, or -1 with err (then virtio_pci_fini). */
__attribute__((warn_unused_result)) int
virtio_pci_init(struct virtio_device *vd, const struct virtio_params *p, struct guest_mem *gm,
		struct vm_control *ctl, struct event_loop *loop, struct pci_host *host,
		struct vmon_error *err);

/* The same as virtio_device_fini. */
void virtio_pci_fini(struct virtio_device *vd);

/* BAR 0 access, as the MMIO window does it (for tests and fuzzing); vd
 * must be on the PCI transport. */
uint64_t virtio_bar0_read(struct virtio_device *vd, uint64_t off, unsigned size);
void virtio_bar0_write(struct virtio_device *vd, uint64_t off, unsigned size, uint64_t val);

#endif
