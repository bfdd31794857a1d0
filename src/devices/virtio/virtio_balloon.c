/* SPDX-License-Identifier: MIT */
/* virtio-balloon; see virtio_balloon.h. */
#include "devices/virtio/virtio_balloon.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "core/ratelimit.h"
#include "devices/virtio/virtio_state.h"

#define VIRTIO_ID_BALLOON	     5
#define BALLOON_QUEUE_SIZE	     128
#define VIRTIO_BALLOON_F_STATS_VQ    1
#define VIRTIO_BALLOON_F_DEFLATE_OOM 2
#define VIRTIO_BALLOON_F_REPORTING   5
#define CFG_NUM_PAGES		     0
#define CFG_ACTUAL		     4
#define CFG_LEN			     8
#define PFN_CHUNK		     256   /* PFNs read from a buffer at a time */
#define STAT_ENTRY		     10	   /* le16 tag, le64 value */
#define MAX_PFNS_PER_BUF	     65536 /* Linux sends 256; more is ignored */
#define MAX_STATS_PER_BUF	     64

enum role { INFLATE, DEFLATE, STATS, REPORTING, NONE };

struct virtio_balloon {
	struct virtio_device vd; /* first */
	uint8_t config[CFG_LEN];
	struct virtio_balloon_spec spec;
	struct event_loop *loop;
	int timer; /* stats polling, -1 none */
	/* Under vd.lock: */
	uint64_t *bitmap; /* inflated pages, one bit per 4 KiB of [0, ram_end) */
	uint64_t npages;  /* pages the bitmap covers */
	uint32_t actual;
	struct balloon_stats stats;
	bool stats_held; /* the driver's stats buffer, kept until the next poll */
	uint16_t stats_head;
	uint64_t inflated, deflated, reported_pages, bad_pfns, discard_errors;
};

static void put_le32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static enum role role_of(const struct virtio_balloon *b, unsigned q)
{
	if (q < 2)
		return q == 0 ? INFLATE : DEFLATE;
	/* Linux numbers only the queues of negotiated features. */
	bool stats = b->vd.driver_features & (1ULL << VIRTIO_BALLOON_F_STATS_VQ);
	unsigned r = stats ? q : q + 1;
	if (r == 2)
		return STATS;
	if (r == 3 && (b->vd.driver_features & (1ULL << VIRTIO_BALLOON_F_REPORTING)))
		return REPORTING;
	return NONE;
}

/* ---- Pages (vd.lock held) ---- */

static bool test_and_set(struct virtio_balloon *b, uint64_t pfn, bool set)
{
	uint64_t *w = &b->bitmap[pfn / 64], bit = 1ULL << (pfn % 64);
	bool was = *w & bit;
	if (set)
		*w |= bit;
	else
		*w &= ~bit;
	return was;
}

static void one_pfn(struct virtio_balloon *b, uint32_t pfn, bool inflate)
{
	struct guest_mem *gm = b->vd.gm;
	uint64_t gpa = (uint64_t)pfn * GM_PAGE_SIZE;
	if (pfn >= b->npages || !gm_is_ram(gm, gpa, GM_PAGE_SIZE)) {
		b->bad_pfns++;
		guest_log("%s: PFN 0x%x is not guest RAM", b->vd.name, pfn);
		return;
	}
	if (inflate) {
		if (!test_and_set(b, pfn, true)) {
			b->actual++;
			b->inflated++;
		}
		if (gm_discard(gm, gpa, GM_PAGE_SIZE) < 0)
			b->discard_errors++;
	} else if (test_and_set(b, pfn, false)) {
		b->actual--;
		b->deflated++;
	}
}

static void pfn_buffer(struct virtio_balloon *b, const struct virtq_req *req, bool inflate)
{
	uint8_t buf[PFN_CHUNK * 4];
	uint64_t total = req->out_bytes - req->out_bytes % 4;
	if (total > MAX_PFNS_PER_BUF * 4) {
		guest_log("%s: %llu PFNs in one buffer, only the first %u used", b->vd.name,
			  (unsigned long long)(total / 4), MAX_PFNS_PER_BUF);
		total = MAX_PFNS_PER_BUF * 4;
	}
	for (uint64_t off = 0; off < total; off += sizeof(buf)) {
		uint64_t n = total - off < sizeof(buf) ? total - off : sizeof(buf);
		n = iov_to_buf(req->iov, req->nout, off, buf, n);
		for (uint64_t i = 0; i + 4 <= n; i += 4)
			one_pfn(b,
				(uint32_t)buf[i] | (uint32_t)buf[i + 1] << 8 |
					(uint32_t)buf[i + 2] << 16 | (uint32_t)buf[i + 3] << 24,
				inflate);
	}
	put_le32(b->config + CFG_ACTUAL, b->actual);
}

/* Free page reporting: every writable range is free guest memory. The
 * ranges were checked to lie in RAM when the chain was popped; only the
 * whole pages inside each are discarded. */
static void report_buffer(struct virtio_balloon *b, const struct virtq_req *req)
{
	struct guest_mem *gm = b->vd.gm;
	for (unsigned i = req->nout; i < req->nout + req->nin; i++) {
		uint8_t *p = req->iov[i].iov_base;
		uint64_t len = req->iov[i].iov_len;
		uint64_t start = (uint64_t)(p - gm->base);
		uint64_t first = (start + GM_PAGE_SIZE - 1) & ~(GM_PAGE_SIZE - 1);
		uint64_t end = (start + len) & ~(GM_PAGE_SIZE - 1);
		if (end <= first)
			continue;
		/* Host offset -> guest-physical address, through the regions. */
		for (int r = 0; r < gm->nregions; r++) {
			const struct gm_region *rg = &gm->regions[r];
			if (first >= rg->offset && end <= rg->offset + rg->size) {
				if (gm_discard(gm, rg->gpa + (first - rg->offset), end - first) < 0)
					b->discard_errors++;
				else
					b->reported_pages += (end - first) / GM_PAGE_SIZE;
			}
		}
	}
}

static void stats_buffer(struct virtio_balloon *b, const struct virtq_req *req)
{
	uint8_t e[STAT_ENTRY];
	uint64_t end = req->out_bytes < MAX_STATS_PER_BUF * STAT_ENTRY
			       ? req->out_bytes
			       : MAX_STATS_PER_BUF * STAT_ENTRY;
	for (uint64_t off = 0; off + STAT_ENTRY <= end; off += STAT_ENTRY) {
		if (iov_to_buf(req->iov, req->nout, off, e, STAT_ENTRY) != STAT_ENTRY)
			break;
		unsigned tag = (unsigned)e[0] | (unsigned)e[1] << 8;
		uint64_t v = 0;
		for (int i = 0; i < 8; i++)
			v |= (uint64_t)e[2 + i] << (8 * i);
		if (tag < BALLOON_NSTATS) { /* unknown tags are skipped */
			b->stats.have[tag] = true;
			b->stats.val[tag] = v;
		}
	}
	b->stats_held = true;
	b->stats_head = req->head;
}

static void queue_work(struct virtio_device *vd, unsigned q)
{
	struct virtio_balloon *b = (struct virtio_balloon *)vd;
	pthread_mutex_lock(&vd->lock);
	enum role role = role_of(b, q);
	while (role != NONE && virtio_queue_live(vd, q)) {
		struct virtq_req req;
		enum virtq_pop_result r = virtq_pop(&vd->vq[q], &req);
		if (r == VIRTQ_EMPTY) {
			if (virtq_arm_notify(&vd->vq[q]))
				continue;
			break;
		}
		if (r == VIRTQ_BROKEN) {
			virtio_needs_reset(vd, "available ring corrupt");
			break;
		}
		if (r == VIRTQ_BAD_REQ) {
			virtio_fail_request(vd, q, req.head, "malformed descriptor chain");
			continue;
		}
		if (role == STATS) {
			if (b->stats_held) { /* a second buffer: give the older one back */
				virtq_push(&vd->vq[q], b->stats_head, 0);
				virtio_queue_interrupt(vd, q);
			}
			stats_buffer(b, &req);
			continue;
		}
		if (role == REPORTING)
			report_buffer(b, &req);
		else
			pfn_buffer(b, &req, role == INFLATE);
		virtq_push(&vd->vq[q], req.head, 0);
		virtio_queue_interrupt(vd, q);
	}
	pthread_mutex_unlock(&vd->lock);
}

static void balloon_reset(struct virtio_device *vd)
{
	struct virtio_balloon *b = (struct virtio_balloon *)vd;
	/* A reset driver starts with every page its own again. */
	memset(b->bitmap, 0, (b->npages + 63) / 64 * 8);
	b->actual = 0;
	put_le32(b->config + CFG_ACTUAL, 0);
	b->stats_held = false;
}

static const struct virtio_device_ops balloon_ops = {.queue_work = queue_work,
						     .reset = balloon_reset};

/* ---- Statistics polling ---- */

static void poll_stats(void *opaque)
{
	struct virtio_balloon *b = opaque;
	struct virtio_device *vd = &b->vd;
	pthread_mutex_lock(&vd->lock);
	for (unsigned q = 2; q < vd->nqueues; q++) {
		if (role_of(b, q) != STATS || !b->stats_held || !virtio_queue_live(vd, q))
			continue;
		b->stats_held = false;
		virtq_push(&vd->vq[q], b->stats_head, 0);
		virtio_queue_interrupt(vd, q);
	}
	pthread_mutex_unlock(&vd->lock);
}

int virtio_balloon_set_interval(struct virtio_balloon *b, unsigned seconds, struct vmon_error *err)
{
	if (!b->loop)
		return err_setf(err, "balloon: no event loop");
	ev_remove_timer(b->loop, b->timer);
	b->timer = -1;
	b->spec.stats_interval_s = seconds;
	if (seconds == 0)
		return 0;
	b->timer = ev_add_timer(b->loop, (uint64_t)seconds * 1000, poll_stats, b, err);
	return b->timer < 0 ? -1 : 0;
}

/* ---- Host side ---- */

static const char *const stat_names[BALLOON_NSTATS] = {
	"swap_in",	    "swap_out",	   "major_faults",
	"minor_faults",	    "free_memory", "total_memory",
	"available_memory", "disk_caches", "hugetlb_allocations",
	"hugetlb_failures"};

const char *virtio_balloon_stat_name(unsigned tag)
{
	return tag < BALLOON_NSTATS ? stat_names[tag] : "unknown";
}

void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages)
{
	pthread_mutex_lock(&b->vd.lock);
	b->spec.target_pages = pages;
	put_le32(b->config + CFG_NUM_PAGES, pages);
	virtio_config_changed(&b->vd);
	pthread_mutex_unlock(&b->vd.lock);
}

void virtio_balloon_get_stats(struct virtio_balloon *b, struct balloon_stats *out)
{
	pthread_mutex_lock(&b->vd.lock);
	*out = b->stats;
	out->target_pages = b->spec.target_pages;
	out->actual_pages = b->actual;
	pthread_mutex_unlock(&b->vd.lock);
}

static void balloon_destroy(void *dev)
{
	struct virtio_balloon *b = dev;
	if (!b)
		return;
	if (b->loop)
		ev_remove_timer(b->loop, b->timer);
	if (b->vd.name)
		virtio_device_fini(&b->vd);
	free(b->bitmap);
	free(b);
}

int virtio_balloon_create(struct virtio_balloon **out, const struct virtio_balloon_spec *spec,
			  struct guest_mem *gm, struct vm_control *ctl, struct event_loop *loop,
			  const struct virtio_bus *at, struct vmon_error *err)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	*out = b;
	if (!b)
		return err_setf(err, "out of memory");
	b->vd.notify_fd = -1;
	b->timer = -1;
	b->spec = *spec;
	b->loop = loop;
	/* The bitmap covers every guest-physical page up to the end of RAM. */
	const struct gm_region *last = &gm->regions[gm->nregions - 1];
	b->npages = (last->gpa + last->size) / GM_PAGE_SIZE;
	if (b->npages > UINT32_MAX + 1ULL)
		b->npages = UINT32_MAX + 1ULL; /* PFNs are 32 bits */
	b->bitmap = calloc((b->npages + 63) / 64, 8);
	if (!b->bitmap)
		return err_setf(err, "out of memory");
	put_le32(b->config + CFG_NUM_PAGES, spec->target_pages);
	uint64_t features = 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	if (spec->deflate_on_oom)
		features |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_OOM;
	if (spec->free_page_reporting)
		features |= 1ULL << VIRTIO_BALLOON_F_REPORTING;
	const struct virtio_params vp = {
		.name = "virtio-balloon",
		.device_type = VIRTIO_ID_BALLOON,
		.class_code = 0x05ff00, /* memory controller, other */
		.features = features,
		.nqueues = spec->free_page_reporting ? 4 : 3,
		.queue_max_size = BALLOON_QUEUE_SIZE,
		.config = b->config,
		.config_len = CFG_LEN,
		.ops = &balloon_ops,
		.opaque = b,
	};
	if (virtio_device_init(&b->vd, &vp, gm, ctl, loop, at, err) < 0)
		return -1;
	return spec->stats_interval_s && loop
		       ? virtio_balloon_set_interval(b, spec->stats_interval_s, err)
		       : 0;
}

struct virtio_device *virtio_balloon_transport(struct virtio_balloon *b)
{
	return &b->vd;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	balloon_destroy(b);
}

static int balloon_create(void **out, const struct device_env *env, const void *params,
			  struct vmon_error *err)
{
	const struct virtio_balloon_params *p = params;
	struct virtio_bus at;
	*out = NULL;
	if (virtio_bus_at(&at, env, &p->place, err) < 0)
		return -1;
	return virtio_balloon_create((struct virtio_balloon **)out, &p->spec, env->mem, env->ctl,
				     p->loop, &at, err);
}

static void balloon_dev_reset(void *dev)
{
	virtio_reset(&((struct virtio_balloon *)dev)->vd);
}

static void balloon_stats(void *dev, const struct stats_sink *out)
{
	struct virtio_balloon *b = dev;
	pthread_mutex_lock(&b->vd.lock);
	uint64_t v[] = {b->actual,	   b->inflated, b->deflated,
			b->reported_pages, b->bad_pfns, b->discard_errors};
	pthread_mutex_unlock(&b->vd.lock);
	static const char *const names[] = {"actual_pages",   "inflated_pages", "deflated_pages",
					    "reported_pages", "bad_pfns",	"discard_errors"};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		stats_put(out, names[i], v[i]);
	virtio_device_stats(&b->vd, out);
}

/* Saved state: the virtio part, then the target and which pages are
 * inflated (their contents are not saved: they were given back, so they
 * read as zero and the sparse memory file holds nothing for them), and
 * the driver's held statistics buffer. */
static int balloon_save(void *dev, struct state_writer *w, struct vmon_error *err)
{
	(void)err;
	struct virtio_balloon *b = dev;
	virtio_state_save(&b->vd, w);
	pthread_mutex_lock(&b->vd.lock);
	state_put_bytes(w, b->config, CFG_LEN);
	state_put_u32(w, b->actual);
	state_put_u8(w, b->stats_held);
	state_put_u16(w, b->stats_head);
	state_put_u64(w, b->npages);
	for (uint64_t i = 0; i < (b->npages + 63) / 64; i++)
		state_put_u64(w, b->bitmap[i]);
	pthread_mutex_unlock(&b->vd.lock);
	return 0;
}

static int balloon_restore(void *dev, struct state_reader *r, uint32_t version,
			   struct vmon_error *err)
{
	struct virtio_balloon *b = dev;
	if (version != VIRTIO_STATE_VERSION)
		return err_setf(err, "%s: saved state version %u (this vmon reads %u)", b->vd.name,
				version, VIRTIO_STATE_VERSION);
	if (virtio_state_restore(&b->vd, r, err) < 0)
		return -1;
	uint8_t config[CFG_LEN];
	state_get_bytes(r, config, CFG_LEN);
	uint32_t actual = state_get_u32(r);
	bool held = state_get_u8(r) != 0;
	uint16_t head = state_get_u16(r);
	uint64_t npages = state_get_u64(r);
	if (npages != b->npages)
		return err_setf(err, "%s: saved for %llu pages of RAM, this machine has %llu",
				b->vd.name, (unsigned long long)npages,
				(unsigned long long)b->npages);
	uint64_t words = (npages + 63) / 64, set = 0;
	uint64_t *bitmap = calloc(words ? words : 1, 8);
	if (!bitmap)
		return err_setf(err, "%s: out of memory", b->vd.name);
	for (uint64_t i = 0; i < words; i++) {
		bitmap[i] = state_get_u64(r);
		if (i == words - 1 && npages % 64)
			bitmap[i] &= (1ULL << (npages % 64)) - 1;
		set += (uint64_t)__builtin_popcountll(bitmap[i]);
	}
	if (!state_reader_done(r) || set != actual || (held && head >= BALLOON_QUEUE_SIZE)) {
		free(bitmap);
		virtio_reset(&b->vd);
		return err_setf(err, "%s: saved state is truncated or inconsistent", b->vd.name);
	}
	pthread_mutex_lock(&b->vd.lock);
	memcpy(b->bitmap, bitmap, words * 8);
	memcpy(b->config, config, CFG_LEN);
	b->actual = actual;
	put_le32(b->config + CFG_ACTUAL, actual);
	b->stats_held = held;
	b->stats_head = head;
	pthread_mutex_unlock(&b->vd.lock);
	free(bitmap);
	return 0;
}

const struct device_ops virtio_balloon_device = {
	.kind = "virtio-balloon",
	.state_version = VIRTIO_STATE_VERSION,
	.create = balloon_create,
	.reset = balloon_dev_reset,
	.destroy = balloon_destroy,
	.stats = balloon_stats,
	.save = balloon_save,
	.restore = balloon_restore,
};
