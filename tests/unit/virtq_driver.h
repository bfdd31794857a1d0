/* SPDX-License-Identifier: MIT */
/*
 * A minimal virtio-pci split-queue driver for device unit tests: the
 * tests play the guest's driver against a device model through its BAR0
 * common configuration and a flat RAM buffer, with 8-entry rings laid out
 * at base (descriptors), base + 0x100 (available) and base + 0x200 (used).
 */
#ifndef VMON_TESTS_UNIT_VIRTQ_DRIVER_H
#define VMON_TESTS_UNIT_VIRTQ_DRIVER_H

#include <stdint.h>
#include <string.h>

#include "devices/virtio/virtio_pci.h"

/* Selects queue q, sizes it to 8, places its rings at base and enables it
 * (virtio 1.x common configuration offsets). */
static inline void vq_setup(struct virtio_device *vd, unsigned q, uint64_t base)
{
	virtio_bar0_write(vd, 0x16, 2, q);
	virtio_bar0_write(vd, 0x18, 2, 8);
	virtio_bar0_write(vd, 0x20, 8, base);
	virtio_bar0_write(vd, 0x28, 8, base + 0x100);
	virtio_bar0_write(vd, 0x30, 8, base + 0x200);
	virtio_bar0_write(vd, 0x1c, 2, 1);
}

/* Writes descriptor i of the table at table. */
static inline void vq_put_desc(uint8_t *ram, uint64_t table, unsigned i, uint64_t addr,
			       uint32_t len, uint16_t flags)
{
	uint8_t *d = ram + table + 16 * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memset(d + 14, 0, 2);
}

/* Makes the chain starting at head available. */
static inline void vq_post(uint8_t *ram, uint64_t avail, uint16_t head)
{
	uint16_t idx;
	memcpy(&idx, ram + avail + 2, 2);
	memcpy(ram + avail + 4 + 2 * (idx % 8), &head, 2);
	idx++;
	memcpy(ram + avail + 2, &idx, 2);
}

#endif
