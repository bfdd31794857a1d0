/* SPDX-License-Identifier: MIT */
/*
 * The dirty-page log (guest_mem_dirty.h explains the two bitmaps).
 */
#include "core/guest_mem_dirty.h"

#include <stdlib.h>

uint64_t gm_dirty_words(const struct guest_mem *gm)
{
	return (gm->size / GM_PAGE_SIZE + 63) / 64;
}

int gm_dirty_start(struct guest_mem *gm, struct vmon_error *err)
{
	struct gm_dirty_log *l = gm->dirty_alloc;
	if (!l) {
		l = calloc(1, sizeof(*l));
		uint64_t n = gm_dirty_words(gm);
		if (l) {
			l->npages = gm->size / GM_PAGE_SIZE;
			l->nwords = n;
			l->round = calloc(n, sizeof(*l->round));
			l->sticky = calloc(n, sizeof(*l->sticky));
		}
		if (!l || !l->round || !l->sticky) {
			if (l) {
				free((void *)l->round);
				free((void *)l->sticky);
			}
			free(l);
			return err_setf(err, "out of memory for the dirty-page log");
		}
		gm->dirty_alloc = l;
	}
	for (uint64_t i = 0; i < l->nwords; i++) {
		atomic_store_explicit(&l->round[i], 0, memory_order_relaxed);
		atomic_store_explicit(&l->sticky[i], 0, memory_order_relaxed);
	}
	atomic_store_explicit(&gm->dirty, l, memory_order_release);
	return 0;
}

void gm_dirty_stop(struct guest_mem *gm)
{
	atomic_store_explicit(&gm->dirty, NULL, memory_order_release);
}

uint64_t gm_dirty_collect(struct guest_mem *gm, uint64_t *out, bool sticky)
{
	struct gm_dirty_log *l = gm->dirty_alloc;
	uint64_t n = 0;
	if (!l)
		return 0;
	for (uint64_t i = 0; i < l->nwords; i++) {
		uint64_t w = atomic_exchange_explicit(&l->round[i], 0, memory_order_acq_rel);
		if (sticky)
			w |= atomic_exchange_explicit(&l->sticky[i], 0, memory_order_acq_rel);
		out[i] |= w;
		n += (uint64_t)__builtin_popcountll(out[i]);
	}
	return n;
}

void gm_dirty_free(struct guest_mem *gm)
{
	struct gm_dirty_log *l = gm->dirty_alloc;
	atomic_store_explicit(&gm->dirty, NULL, memory_order_release);
	if (!l)
		return;
	free((void *)l->round);
	free((void *)l->sticky);
	free(l);
	gm->dirty_alloc = NULL;
}

void gm_dirty_mark_dev(const struct guest_mem *gm, uint64_t off, uint64_t len)
{
	struct gm_dirty_log *l = atomic_load_explicit(&gm->dirty, memory_order_acquire);
	if (!l || len == 0)
		return;
	uint64_t first = off / GM_PAGE_SIZE, last = (off + len - 1) / GM_PAGE_SIZE;
	for (uint64_t p = first; p <= last && p < l->npages; p++) {
		uint64_t bit = 1ULL << (p % 64);
		atomic_fetch_or_explicit(&l->round[p / 64], bit, memory_order_relaxed);
		atomic_fetch_or_explicit(&l->sticky[p / 64], bit, memory_order_relaxed);
	}
}
