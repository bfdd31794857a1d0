/* SPDX-License-Identifier: MIT */
/*
 * Giving guest RAM back to the host (virtio-balloon's inflated and
 * reported pages): the pages' backing in the RAM memfd is punched out, so
 * the host frees them at once (RssShmem drops); the guest reads zeros
 * there the next time it touches them, and the host allocates again then.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "core/guest_mem.h"

int gm_discard(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa % GM_PAGE_SIZE || len % GM_PAGE_SIZE)
		return -1;
	uint8_t *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -1;
	/* The mapping covers the memfd from offset 0 (guest_mem.c). */
	off_t off = (off_t)(p - gm->base);
	if (gm->memfd >= 0 &&
	    fallocate(gm->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t)len) == 0)
		return 0;
	return madvise(p, len, MADV_DONTNEED) == 0 ? 0 : -1;
}
