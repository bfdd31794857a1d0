/* SPDX-License-Identifier: MIT */
/*
 * The dirty-page log of guest RAM, for live migration (docs/migration.md):
 * which pages may have changed since the sender last looked.
 *
 * Two bitmaps over RAM's pages (indexed by offset in the RAM memfd, as
 * the memory file and the migration stream lay RAM out):
 *   - "round": every write the log has seen since the last collect;
 *   - "sticky": every page handed out by gm_ptr() since the log started.
 * A CPU backend marks its own guest stores in "round" (gm_dirty_mark: the
 * software CPU on the fill of a writable TLB entry). gm_ptr() marks both:
 * devices write through the pointer it returns, sometimes later (an
 * asynchronous disk read lands when the I/O completes), so a round that
 * sent the page may have come before the write. "sticky" is therefore
 * only collected on the last round, when the VM is paused and every
 * device has drained its requests (their state was saved): every page a
 * device could have written since the log began is sent again then.
 *
 * Threads: mark from any thread (atomic OR); start, collect and stop from
 * one thread (the migration's).
 */
#ifndef VMON_CORE_GUEST_MEM_DIRTY_H
#define VMON_CORE_GUEST_MEM_DIRTY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/guest_mem.h"

struct gm_dirty_log {
	uint64_t npages;
	uint64_t nwords;
	_Atomic uint64_t *round;
	_Atomic uint64_t *sticky;
};

/* Starts (or restarts) the log with both bitmaps clear. Returns 0, or -1
 * with err (out of memory). */
__attribute__((warn_unused_result)) int gm_dirty_start(struct guest_mem *gm,
						       struct vmon_error *err);
/* Stops marking; the bitmaps stay allocated until gm_destroy. */
void gm_dirty_stop(struct guest_mem *gm);
static inline bool gm_dirty_logging(const struct guest_mem *gm)
{
	return atomic_load_explicit(&gm->dirty, memory_order_acquire) != NULL;
}
/* ORs the pages marked since the last collect into out (nwords words,
 * one bit per page) and clears them; with sticky, also every page
 * gm_ptr() gave out since the start. Returns the number of set bits in
 * out afterwards. */
uint64_t gm_dirty_collect(struct guest_mem *gm, uint64_t *out, bool sticky);
/* Words of a bitmap over gm's pages. */
uint64_t gm_dirty_words(const struct guest_mem *gm);
/* gm_destroy's. */
void gm_dirty_free(struct guest_mem *gm);

/* Marks len bytes at RAM offset off in both bitmaps (gm_ptr's). */
void gm_dirty_mark_dev(const struct guest_mem *gm, uint64_t off, uint64_t len);

/* Marks the RAM page holding guest-physical gpa (a CPU's store) in the
 * round bitmap, if the log runs. Cheap when it does not. */
static inline void gm_dirty_mark(const struct guest_mem *gm, uint64_t gpa)
{
	struct gm_dirty_log *l = atomic_load_explicit(&gm->dirty, memory_order_acquire);
	if (__builtin_expect(l == NULL, 1))
		return;
	for (int i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size) {
			uint64_t pfn = (r->offset + (gpa - r->gpa)) / GM_PAGE_SIZE;
			atomic_fetch_or_explicit(&l->round[pfn / 64], 1ULL << (pfn % 64),
						 memory_order_relaxed);
			return;
		}
	}
}

/* The same for a host pointer into RAM (from gm_ptr_nolog). */
static inline void gm_dirty_mark_host(const struct guest_mem *gm, const void *p)
{
	struct gm_dirty_log *l = atomic_load_explicit(&gm->dirty, memory_order_acquire);
	if (__builtin_expect(l == NULL, 1))
		return;
	uint64_t pfn = (uint64_t)((const uint8_t *)p - gm->base) / GM_PAGE_SIZE;
	if (pfn < l->npages)
		atomic_fetch_or_explicit(&l->round[pfn / 64], 1ULL << (pfn % 64),
					 memory_order_relaxed);
}

#endif
