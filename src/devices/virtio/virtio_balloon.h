/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon (virtio 1.2, 5.5; device ID 5): the host asks the guest
 * to give memory back.
 *
 * Queues: 0 inflate, 1 deflate, 2 stats (VIRTIO_BALLOON_F_STATS_VQ, always
 * offered), then reporting_vq (VIRTIO_BALLOON_F_REPORTING, when free page
 * reporting is on). Features also: DEFLATE_ON_OOM when asked (the guest
 * may take pages back under memory pressure). FREE_PAGE_HINT and
 * PAGE_POISON are not offered. The configuration holds num_pages (the
 * target, set by the host) and actual (what the device counts as
 * inflated; the driver's writes to it are ignored, the device keeps it).
 *
 * Inflate: each buffer is an array of le32 page frame numbers (4 KiB);
 * every PFN is checked (RAM, not the MMIO hole) and its page given back to
 * the host (core/guest_mem.h gm_discard: the RAM memfd is punched, so the
 * host's resident memory drops). A bitmap records inflated pages, so a
 * PFN inflated twice counts once and deflate only counts pages that were
 * in the balloon. Deflate needs nothing from the host: a discarded page
 * reads zeros and is backed again when the guest touches it. Reporting:
 * each buffer's writable ranges are free guest pages, discarded likewise.
 * Stats: the driver's first buffer is kept; every stats_interval_s seconds
 * (0: never) the device returns it and the driver sends fresh values.
 *
 * Threads: queues on the device's loop; set_target / stats reads / the
 * stats interval from any thread (the API's), under vd.lock.
 */
#ifndef VMON_DEVICES_VIRTIO_VIRTIO_BALLOON_H
#define VMON_DEVICES_VIRTIO_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "core/device.h"
#include "core/error.h"
#include "devices/virtio/virtio_dev.h"

struct event_loop;
struct virtio_balloon;

#define BALLOON_NSTATS 10 /* virtio 1.2's tags 0..9 */

struct virtio_balloon_spec {
	uint32_t target_pages; /* 4 KiB pages the guest should give back */
	bool deflate_on_oom;
	bool free_page_reporting;
	unsigned stats_interval_s; /* 0: no statistics polling */
};

struct virtio_balloon_params {
	struct virtio_balloon_spec spec;
	struct virtio_place place;
	struct event_loop *loop;
};
extern const struct device_ops virtio_balloon_device;

struct balloon_stats {
	uint32_t target_pages, actual_pages;
	bool have[BALLOON_NSTATS]; /* the guest reported this tag */
	uint64_t val[BALLOON_NSTATS];
};

/* Creates the device on at (virtio_dev.h; NULL: PCI without a host, for
 * tests) with loop (NULL: no statistics timer; tests drive the queues with
 * virtio_process_notifications). Returns 0, or -1 with err (then destroy). */
__attribute__((warn_unused_result)) int
virtio_balloon_create(struct virtio_balloon **out, const struct virtio_balloon_spec *spec,
		      struct guest_mem *gm, struct vm_control *ctl, struct event_loop *loop,
		      const struct virtio_bus *at, struct vmon_error *err);
struct virtio_device *virtio_balloon_transport(struct virtio_balloon *b);
/* NULL is a no-op; after the loop stopped. */
void virtio_balloon_destroy(struct virtio_balloon *b);

/* Firecracker's names of the stats tags: "swap_in", ... "hugetlb_failures". */
const char *virtio_balloon_stat_name(unsigned tag);

/* A new target (PUT/PATCH /balloon): config change interrupt. */
void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages);
void virtio_balloon_get_stats(struct virtio_balloon *b, struct balloon_stats *out);
/* A new polling interval; 0 turns polling off. Returns 0, or -1 with err. */
int virtio_balloon_set_interval(struct virtio_balloon *b, unsigned seconds, struct vmon_error *err);

#endif
