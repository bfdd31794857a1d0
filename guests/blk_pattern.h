/* SPDX-License-Identifier: MIT */
/*
 * The sector patterns of the virtio-blk kit guests (virtio_blk, over PCI,
 * and virtio_mmio): the host's test image holds host_pattern in every
 * sector (tests/lib/blk_image.sh makes it and checks guest_pattern where
 * the guest wrote), the guest writes guest_pattern. Both sides must agree
 * byte for byte.
 */
#ifndef BLK_PATTERN_H
#define BLK_PATTERN_H

#include "rt.h"

static inline u8 host_pattern(u64 s, u64 i) { return (u8)((31 * s + i) & 0xff); }
static inline u8 guest_pattern(u64 s, u64 i) { return (u8)((7 * s + 3 * i) ^ 0x5a); }

/* rt_fail naming HOW at the first byte of the 512 at p that is not
 * host_pattern(sector). */
static inline void check_host_pattern(const u8 *p, u64 sector, const char *how)
{
	for (u64 i = 0; i < 512; i++)
		if (p[i] != host_pattern(sector, i))
			rt_fail("%s: sector %lu byte %lu is %x, want %x", how, sector, i, p[i],
				host_pattern(sector, i));
}

#endif
