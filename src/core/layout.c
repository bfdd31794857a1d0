/* SPDX-License-Identifier: MIT */
#include "core/layout.h"

#include <stdio.h>

_Static_assert(LAYOUT_VIRTIO_MMIO + LAYOUT_VIRTIO_MMIO_MAX * LAYOUT_VIRTIO_MMIO_SIZE <=
		       LAYOUT_PCI_MMIO,
	       "virtio-mmio windows end below the PCI window");
_Static_assert(LAYOUT_LOW_RAM_MAX <= LAYOUT_VIRTIO_MMIO, "low RAM ends below the MMIO devices");
_Static_assert(LAYOUT_GSI_VIRTIO_MMIO + LAYOUT_VIRTIO_MMIO_MAX <= LAYOUT_IOAPIC_PINS,
	       "every virtio-mmio window has an IOAPIC pin");
_Static_assert(LAYOUT_GSI_PCI_INTX + LAYOUT_GSI_PCI_INTX_LINES <= LAYOUT_GSI_VIRTIO_MMIO,
	       "PCI INTx lines and virtio-mmio GSIs do not overlap");

int layout_take_virtio_mmio(struct machine_layout *l, const char *owner, struct layout_window *out,
			    struct vmon_error *err)
{
	if (l->nvirtio_mmio >= LAYOUT_VIRTIO_MMIO_MAX)
		return err_setf(err, "%s: at most %d devices with transport=mmio", owner,
				LAYOUT_VIRTIO_MMIO_MAX);
	unsigned i = l->nvirtio_mmio++;
	struct layout_window *w = &l->virtio_mmio[i];
	w->base = LAYOUT_VIRTIO_MMIO + LAYOUT_VIRTIO_MMIO_SIZE * i;
	w->size = LAYOUT_VIRTIO_MMIO_SIZE;
	w->gsi = LAYOUT_GSI_VIRTIO_MMIO + i;
	snprintf(w->owner, sizeof(w->owner), "%s", owner);
	*out = *w;
	return 0;
}
