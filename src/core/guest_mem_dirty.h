/* SPDX-License-Identifier: MIT */
/*
 * The dirty-page log of guest RAM, for live migration (docs/migration.md)
 * and diff snapshots (docs/snapshot.md): which pages may have changed
 * since the sender, or the last snapshot, last looked.
 *
 * Three bitmaps over RAM's pages (indexed by offset in the RAM memfd, as
 * the memory file and the migration stream lay RAM out):
 *   - "round": every write the log has seen since the last collect;
 *   - "sticky": every page handed out by gm_ptr() since the log started;
 *   - "snap": every write since the last snapshot (gm_dirty_take_snap).
 * Two users can run the log, each on its own bitmaps: a migration
 * (gm_dirty_start/stop: round and sticky) and diff-snapshot tracking
 * (gm_dirty_track_start, for the VM's life: snap). Every mark goes to all
 * three, so neither user's collect takes pages from the other; the log
 * marks while either runs.
 * A CPU backend marks its own guest stores in "round" (gm_dirty_mark: the
 * software CPU on the fill of a writable TLB entry). gm_ptr() marks both:
 * devices write through the pointer it returns, sometimes later (an
 * asynchronous disk read lands when the I/O completes), so a round that
 * sent the page may have come before the write. "sticky" is therefore
 * only collected on the last round, when the VM is paused and every
 * device has drained its requests (their state was saved): every page a
 * device could have written since the log began is sent again then.
 *
 * Threads: mark from any thread (atomic OR); start and stop under the
 * VM's control lock (vm.c's vm_dirty_start/stop); a migration collects
 * from its thread, a snapshot takes snap from the API thread (both atomic
 * exchanges, so they may overlap).
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
	_Atomic uint64_t *snap;
	bool migrating, tracking; /* its users (start/stop's thread) */
};

/* A migration starts (or restarts) the log with round and sticky clear.
 * Returns 0, or -1 with err (out of memory). */
__attribute__((warn_unused_result)) int gm_dirty_start(struct guest_mem *gm,
						       struct vmon_error *err);
/* The migration stops; the log marks on while tracking runs. The bitmaps
 * stay allocated until gm_destroy. */
void gm_dirty_stop(struct guest_mem *gm);
/* Diff snapshots' tracking starts (snap clear), for as long as gm lives.
 * Returns 0, or -1 with err (out of memory). */
__attribute__((warn_unused_result)) int gm_dirty_track_start(struct guest_mem *gm,
							     struct vmon_error *err);
static inline bool gm_dirty_tracking(const struct guest_mem *gm)
{
	return gm->dirty_alloc && gm->dirty_alloc->tracking;
}
/* ORs the pages written since the last take (or the tracking's start)
 * into out (gm_dirty_words words) and clears them. Returns the number of
 * set bits in out afterwards; 0 without tracking. */
uint64_t gm_dirty_take_snap(struct guest_mem *gm, uint64_t *out);
/* Marks the pages whose bits are set in bits (nbits bits; bit i is RAM
 * page first + i) in every bitmap but sticky: a CPU backend's own log
 * (KVM_GET_DIRTY_LOG) merged in. Bits past RAM are ignored. */
void gm_dirty_mark_bits(const struct guest_mem *gm, uint64_t first, const uint64_t *bits,
			uint64_t nbits);
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

/* Marks len bytes at RAM offset off in every bitmap (gm_ptr's). */
void gm_dirty_mark_dev(const struct guest_mem *gm, uint64_t off, uint64_t len);

/* Marks the RAM page holding guest-physical gpa (a CPU's store) in the
 * round and snap bitmaps, if the log runs. Cheap when it does not. */
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
			atomic_fetch_or_explicit(&l->snap[pfn / 64], 1ULL << (pfn % 64),
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
	if (pfn < l->npages) {
		atomic_fetch_or_explicit(&l->round[pfn / 64], 1ULL << (pfn % 64),
					 memory_order_relaxed);
		atomic_fetch_or_explicit(&l->snap[pfn / 64], 1ULL << (pfn % 64),
					 memory_order_relaxed);
	}
}

#endif
