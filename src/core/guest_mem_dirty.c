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

static struct gm_dirty_log *get_log(struct guest_mem *gm, struct vmon_error *err)
{
	struct gm_dirty_log *l = gm->dirty_alloc;
	if (l)
		return l;
	l = calloc(1, sizeof(*l));
	uint64_t n = gm_dirty_words(gm);
	if (l) {
		l->npages = gm->size / GM_PAGE_SIZE;
		l->nwords = n;
		l->round = calloc(n, sizeof(*l->round));
		l->sticky = calloc(n, sizeof(*l->sticky));
		l->snap = calloc(n, sizeof(*l->snap));
	}
	if (!l || !l->round || !l->sticky || !l->snap) {
		if (l) {
			free((void *)l->round);
			free((void *)l->sticky);
			free((void *)l->snap);
		}
		free(l);
		err_setf(err, "out of memory for the dirty-page log");
		return NULL;
	}
	gm->dirty_alloc = l;
	return l;
}

int gm_dirty_start(struct guest_mem *gm, struct vmon_error *err)
{
	struct gm_dirty_log *l = get_log(gm, err);
	if (!l)
		return -1;
	for (uint64_t i = 0; i < l->nwords; i++) {
		atomic_store_explicit(&l->round[i], 0, memory_order_relaxed);
		atomic_store_explicit(&l->sticky[i], 0, memory_order_relaxed);
	}
	l->migrating = true;
	atomic_store_explicit(&gm->dirty, l, memory_order_release);
	return 0;
}

void gm_dirty_stop(struct guest_mem *gm)
{
	struct gm_dirty_log *l = gm->dirty_alloc;
	if (!l)
		return;
	l->migrating = false;
	if (!l->tracking)
		atomic_store_explicit(&gm->dirty, NULL, memory_order_release);
}

int gm_dirty_track_start(struct guest_mem *gm, struct vmon_error *err)
{
	struct gm_dirty_log *l = get_log(gm, err);
	if (!l)
		return -1;
	for (uint64_t i = 0; i < l->nwords; i++)
		atomic_store_explicit(&l->snap[i], 0, memory_order_relaxed);
	l->tracking = true;
	atomic_store_explicit(&gm->dirty, l, memory_order_release);
	return 0;
}

uint64_t gm_dirty_take_snap(struct guest_mem *gm, uint64_t *out)
{
	struct gm_dirty_log *l = gm->dirty_alloc;
	uint64_t n = 0;
	if (!l || !l->tracking)
		return 0;
	for (uint64_t i = 0; i < l->nwords; i++) {
		out[i] |= atomic_exchange_explicit(&l->snap[i], 0, memory_order_acq_rel);
		n += (uint64_t)__builtin_popcountll(out[i]);
	}
	return n;
}

void gm_dirty_mark_bits(const struct guest_mem *gm, uint64_t first, const uint64_t *bits,
			uint64_t nbits)
{
	struct gm_dirty_log *l = atomic_load_explicit(&gm->dirty, memory_order_acquire);
	if (!l || first >= l->npages)
		return;
	if (nbits > l->npages - first)
		nbits = l->npages - first;
	for (uint64_t i = 0; i < nbits; i += 64) {
		uint64_t w = bits[i / 64];
		if (nbits - i < 64)
			w &= (1ULL << (nbits - i)) - 1;
		while (w) {
			/* Word-aligned runs (the usual case: slots start on a
			 * 64-page boundary) in one OR; others bit by bit. */
			uint64_t p = first + i;
			if (p % 64 == 0) {
				atomic_fetch_or_explicit(&l->round[p / 64], w,
							 memory_order_relaxed);
				atomic_fetch_or_explicit(&l->snap[p / 64], w, memory_order_relaxed);
				break;
			}
			int b = __builtin_ctzll(w);
			w &= w - 1;
			p += (uint64_t)b;
			atomic_fetch_or_explicit(&l->round[p / 64], 1ULL << (p % 64),
						 memory_order_relaxed);
			atomic_fetch_or_explicit(&l->snap[p / 64], 1ULL << (p % 64),
						 memory_order_relaxed);
		}
	}
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
	free((void *)l->snap);
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
		atomic_fetch_or_explicit(&l->snap[p / 64], bit, memory_order_relaxed);
	}
}
