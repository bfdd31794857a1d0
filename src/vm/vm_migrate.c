/* SPDX-License-Identifier: MIT */
/*
 * Live migration, the sending side (vm_migrate.h; docs/migration.md has
 * the protocol and why it is safe).
 *
 * The thread's steps: connect; send the header, the guest's CPU
 * features and the machine record (config and features: the target
 * builds its machine from it before it answers), and wait for the
 * target to accept them; start the dirty log and have the backend
 * log and flush (every store from then on marks its page); round 0 sends
 * every non-zero page while the guest runs; each later round syncs the
 * backend's own log in (KVM's), collects the pages marked since the last
 * one, flushes again, and — unless what is
 * left fits the downtime budget at the rate the link has shown — sends
 * them. Then: a sync record, answered once the target has read all of
 * it (its backlog stays out of the downtime); pause, take the machine state (devices drain their
 * requests, disks flush), collect the last pages with every page a
 * device was given since the start (guest_mem_dirty.h: "sticky"), send
 * them and the state, drop the disks' locks, and wait for the target's
 * READY; answer GO and the source is committed: it ends its VM once the
 * target says it runs (or the connection goes). Anything failing before
 * GO — the target, the link, a cancel — takes the locks back, stops the
 * log and resumes the guest here.
 */
#include "vm/vm_migrate.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "core/guest_mem_dirty.h"
#include "core/machine.h"
#include "core/thread.h"
#include "cpu/cpu_backend.h"
#include "vm/vm.h"

#define DEFAULT_DOWNTIME_MS 300
#define MAX_ROUNDS	    30	/* then stop-and-copy whatever is left */
#define SEEN_WAIT_S	    10	/* for a follower to read "completed" */
#define LOCK_RETRIES	    100 /* 100 ms apart: the target exiting frees the disks */

struct vm_migration {
	struct vm *vm;
	struct vm_migrate_params p;
	struct vmon_thread thread;
	pthread_mutex_t lock; /* st, fd */
	struct vm_migrate_status st;
	int fd;		      /* conn's socket, for a cancel's shutdown */
	struct mig_conn conn; /* the thread's */
	struct mig_tls *tls;  /* with p.tls: loaded by vm_migrate_start */
	atomic_bool cancel;
	bool running; /* the thread has not finished */
	/* Whoever follows GET /migrate should see "completed" before this
	 * VM ends and its API with it (lock). */
	pthread_cond_t seen_cond;
	bool seen;
	/* The thread's own */
	ZSTD_CCtx *cctx; /* with p.compress */
	uint8_t *zin, *zout;
	size_t zcap;
	uint64_t *bitmap;
	uint64_t words, npages;
	uint8_t *machine; /* the machine record sent (its vmstate) */
	size_t machine_len;
	uint64_t t_start, paced_from, paced_bytes;
};

const char *vm_migrate_phase_name(enum vm_migrate_phase p)
{
	switch (p) {
	case MIG_NONE: return "none";
	case MIG_SETUP: return "setup";
	case MIG_ACTIVE: return "active";
	case MIG_DEVICE: return "device";
	case MIG_COMPLETED: return "completed";
	case MIG_FAILED: return "failed";
	case MIG_CANCELLED: return "cancelled";
	}
	return "?";
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_phase(struct vm_migration *mg, enum vm_migrate_phase ph)
{
	pthread_mutex_lock(&mg->lock);
	mg->st.phase = ph;
	pthread_mutex_unlock(&mg->lock);
}

static int cancelled(struct vm_migration *mg, struct vmon_error *err)
{
	if (atomic_load(&mg->cancel))
		return err_setf(err, "cancelled");
	return 0;
}

/* Writes n bytes, paced to the bandwidth limit; counts them. */
static int put(struct vm_migration *mg, const void *p, size_t n, struct vmon_error *err)
{
	if (cancelled(mg, err) < 0)
		return -1;
	struct vmon_error why = {{0}};
	if (mig_conn_write(&mg->conn, p, n, &why) < 0)
		return atomic_load(&mg->cancel)
			       ? err_setf(err, "cancelled")
			       : err_setf(err, "sending to %s: %s", mg->p.to_text, why.msg);
	pthread_mutex_lock(&mg->lock);
	mg->st.bytes_sent += n;
	pthread_mutex_unlock(&mg->lock);
	if (mg->p.bandwidth) {
		mg->paced_bytes += n;
		for (;;) {
			uint64_t due_ms = mg->paced_bytes * 1000 / mg->p.bandwidth;
			uint64_t el = now_ms() - mg->paced_from;
			if (el >= due_ms)
				break;
			if (cancelled(mg, err) < 0)
				return -1;
			uint64_t w = due_ms - el < 50 ? due_ms - el : 50;
			struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(w * 1000000)};
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

static int put_run(struct vm_migration *mg, uint32_t type, uint64_t first, uint32_t count,
		   struct vmon_error *err)
{
	uint8_t h[16];
	le32(h, type);
	le64(h + 4, first);
	le32(h + 12, count);
	if (put(mg, h, sizeof(h), err) < 0)
		return -1;
	if (type == MIG_REC_PAGES) {
		const uint8_t *src = vm_machine(mg->vm)->mem.base + first * GM_PAGE_SIZE;
		if (put(mg, src, (size_t)count * GM_PAGE_SIZE, err) < 0)
			return -1;
		pthread_mutex_lock(&mg->lock);
		mg->st.pages_sent += count;
		pthread_mutex_unlock(&mg->lock);
	} else {
		pthread_mutex_lock(&mg->lock);
		mg->st.zero_pages += count;
		pthread_mutex_unlock(&mg->lock);
	}
	return 0;
}

/* A run of data pages: compressed when asked and when that helps. */
static int put_data(struct vm_migration *mg, uint64_t first, uint32_t count, struct vmon_error *err)
{
	if (!mg->cctx)
		return put_run(mg, MIG_REC_PAGES, first, count, err);
	size_t n = (size_t)count * GM_PAGE_SIZE;
	/* A private copy: the guest may write the pages meanwhile, and the
	 * compressor must see bytes that hold still. */
	memcpy(mg->zin, vm_machine(mg->vm)->mem.base + first * GM_PAGE_SIZE, n);
	size_t c = ZSTD_compressCCtx(mg->cctx, mg->zout, mg->zcap, mg->zin, n, 1);
	if (ZSTD_isError(c) || c >= n)
		return put_run(mg, MIG_REC_PAGES, first, count, err);
	uint8_t h[20];
	le32(h, MIG_REC_PAGES_ZSTD);
	le64(h + 4, first);
	le32(h + 12, count);
	le32(h + 16, (uint32_t)c);
	if (put(mg, h, sizeof(h), err) < 0 || put(mg, mg->zout, c, err) < 0)
		return -1;
	pthread_mutex_lock(&mg->lock);
	mg->st.pages_sent += count;
	pthread_mutex_unlock(&mg->lock);
	return 0;
}

static int put_any(struct vm_migration *mg, int zero, uint64_t first, uint32_t count,
		   struct vmon_error *err)
{
	return zero ? put_run(mg, MIG_REC_ZERO, first, count, err)
		    : put_data(mg, first, count, err);
}

static bool page_is_zero(const uint8_t *p)
{
	/* Pages are page-aligned: read them a word at a time (memcpy keeps
	 * the compiler honest about alignment). */
	for (size_t i = 0; i < GM_PAGE_SIZE; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w)
			return false;
	}
	return true;
}

/* Sends every page set in the bitmap, in runs, and clears it. Zero pages
 * go as zero records, except in round 0 (the target's RAM starts zero). */
static int send_pages(struct vm_migration *mg, bool first_round, struct vmon_error *err)
{
	const struct guest_mem *mem = &vm_machine(mg->vm)->mem;
	const uint8_t *base = mem->base;
	uint64_t run_start = 0;
	uint32_t run_len = 0;
	int run_zero = 0;
	/* [data_from, data_end): RAM's current data extent. A page in a hole
	 * of the memfd (never touched, or given back by the balloon) is zero
	 * without reading it: a read would allocate it, and round 0 would
	 * make all of the source's RAM resident. A page written after the
	 * lookup is in the dirty log, so a later round sends it. */
	uint64_t data_from = 0, data_end = 0;
	for (uint64_t p = 0; p < mg->npages; p++) {
		bool set = mg->bitmap[p / 64] >> (p % 64) & 1;
		int zero = 0;
		if (set) {
			uint64_t off = p * GM_PAGE_SIZE;
			if (off >= data_end)
				data_from = gm_next_data(mem, off, &data_end);
			zero = off < data_from || page_is_zero(base + off);
		}
		bool extend = set && run_len && zero == run_zero && run_start + run_len == p &&
			      run_len < (zero ? MIG_MAX_ZERO_RUN : MIG_MAX_RUN);
		if (run_len && !extend) {
			if (!(run_zero && first_round) &&
			    put_any(mg, run_zero, run_start, run_len, err) < 0)
				return -1;
			run_len = 0;
		}
		if (set && !run_len) {
			run_start = p;
			run_zero = zero;
		}
		if (set)
			run_len++;
	}
	if (run_len && !(run_zero && first_round) &&
	    put_any(mg, run_zero, run_start, run_len, err) < 0)
		return -1;
	memset(mg->bitmap, 0, mg->words * sizeof(uint64_t));
	return 0;
}

/* Pre-copy: round 0 and the rounds after it, while the guest runs. Leaves
 * the last round's pages (not sent) in the bitmap. */
static int precopy(struct vm_migration *mg, struct vmon_error *err)
{
	struct guest_mem *mem = &vm_machine(mg->vm)->mem;
	uint64_t budget = mg->p.max_downtime_ms ? mg->p.max_downtime_ms : DEFAULT_DOWNTIME_MS;
	for (uint64_t i = 0; i < mg->npages; i++)
		mg->bitmap[i / 64] |= 1ULL << (i % 64);
	set_phase(mg, MIG_ACTIVE);
	uint64_t t_round = now_ms(), bytes_round = 0;
	pthread_mutex_lock(&mg->lock);
	bytes_round = mg->st.bytes_sent;
	pthread_mutex_unlock(&mg->lock);
	if (send_pages(mg, true, err) < 0)
		return -1;
	for (unsigned round = 1;; round++) {
		if (vm_dirty_sync(mg->vm, err) < 0)
			return -1;
		uint64_t n = gm_dirty_collect(mem, mg->bitmap, false);
		if (vm_dirty_flush(mg->vm, err) < 0)
			return -1;
		uint64_t t = now_ms(), el = t - t_round ? t - t_round : 1;
		pthread_mutex_lock(&mg->lock);
		uint64_t sent = mg->st.bytes_sent - bytes_round;
		bytes_round = mg->st.bytes_sent;
		/* Bytes per ms the link took in the last round (at least one
		 * page per ms when it sent too little to tell). */
		uint64_t rate = sent / el > GM_PAGE_SIZE ? sent / el : GM_PAGE_SIZE;
		uint64_t expected = n * GM_PAGE_SIZE / rate;
		mg->st.round = round;
		mg->st.remaining_pages = n;
		mg->st.dirty_rate = n * 1000 / el;
		mg->st.expected_downtime_ms = expected;
		mg->st.total_ms = t - mg->t_start;
		pthread_mutex_unlock(&mg->lock);
		t_round = t;
		if (expected <= budget || round >= MAX_ROUNDS || n == 0)
			return 0;
		if (send_pages(mg, false, err) < 0)
			return -1;
	}
}

static int get_byte(struct vm_migration *mg, uint8_t *b)
{
	struct vmon_error e = {{0}};
	return mig_conn_read(&mg->conn, b, 1, &e);
}

/* The target's refusal line after MIG_ACK_FAILED, printable, into msg. */
static void get_line(struct vm_migration *mg, char *msg, size_t cap)
{
	size_t n = 0;
	uint8_t b;
	while (n + 1 < cap && get_byte(mg, &b) == 0 && b != '\n')
		msg[n++] = (char)(b >= 32 && b < 127 ? b : '?');
	msg[n] = 0;
}

/* The machine record's vmstate (header, config, CPU features, CRC)
 * into w. */
static int build_machine(struct vm_migration *mg, struct state_writer *w, struct vmon_error *err)
{
	if (vm_migrate_machine(mg->vm, w, err) < 0)
		return -1;
	uint32_t crc = (uint32_t)crc32(0L, w->buf, (uInt)w->len);
	state_put_u32(w, crc);
	if (w->failed || w->len > MIG_MAX_MACHINE_BYTES)
		return err_setf(err, "the machine's config is too large or out of memory");
	return 0;
}

/* The machine record, which the target builds its machine from; kept,
 * for machine_unchanged. */
static int put_machine(struct vm_migration *mg, struct vmon_error *err)
{
	struct state_writer w = {0};
	uint8_t h[8];
	int r = build_machine(mg, &w, err);
	if (r == 0) {
		mig_put_machine_head(h, (uint32_t)w.len);
		r = put(mg, h, sizeof(h), err) < 0 || put(mg, w.buf, w.len, err) < 0 ? -1 : 0;
	}
	free(mg->machine);
	mg->machine = NULL;
	if (r == 0) {
		mg->machine = w.buf; /* the writer's buffer, now ours */
		mg->machine_len = w.len;
	} else {
		state_writer_free(&w);
	}
	return r;
}

/* Before the pause: a config changed since the machine record (PATCH
 * /drives, a rate limiter, the balloon's target) would make the target
 * refuse the state after the pause; fail now instead, the guest never
 * paused. (A change between here and the pause is still caught by the
 * target: the source then resumes.) */
static int machine_unchanged(struct vm_migration *mg, struct vmon_error *err)
{
	struct state_writer w = {0};
	int r = build_machine(mg, &w, err);
	if (r == 0 && (w.len != mg->machine_len || memcmp(w.buf, mg->machine, w.len) != 0))
		r = err_setf(err, "the VM's configuration changed during the migration (the "
				  "target built the machine it had): migrate it again");
	state_writer_free(&w);
	return r;
}

/* Before anything else (the dirty log, round 0): the guest's CPU
 * features and the machine, and the target's answer once it has built
 * that machine. A target that cannot give the CPU or build the machine
 * refuses here, while the guest runs on untouched. */
static int cpu_check(struct vm_migration *mg, struct vmon_error *err)
{
	struct machine *m = vm_machine(mg->vm);
	struct cpu_featureset f = {{0}};
	m->backend->features(m, &f);
	uint8_t rec[8 + MIG_MAX_CPU_BYTES];
	size_t n = mig_put_cpu(rec, sizeof(rec), &f);
	if (n == 0)
		return err_setf(err, "the guest's CPU features do not fit the stream");
	/* A target that refuses on the CPU record answers and closes without
	 * reading the machine record: sending that may then fail (EPIPE)
	 * while the answer waits in the socket, so it is read either way. */
	struct vmon_error send_err = {{0}};
	bool sent = put(mg, rec, n, &send_err) == 0 && put_machine(mg, &send_err) == 0;
	if (!sent && atomic_load(&mg->cancel))
		return err_setf(err, "%s", send_err.msg);
	uint8_t b;
	struct vmon_error why = {{0}};
	if (mig_conn_read(&mg->conn, &b, 1, &why) < 0) {
		if (cancelled(mg, err) < 0)
			return -1;
		if (!sent)
			return err_setf(err, "%s", send_err.msg);
		/* A plain close: an older target (a version-1 reader), or one
		 * that failed on its side; else why says it (a TLS alert). */
		if (strstr(why.msg, "ended early"))
			return err_setf(err, "the target closed the connection before it answered "
					     "the CPU features and machine (an older vmon, or it "
					     "failed: see its output)");
		return err_setf(err, "%s", why.msg);
	}
	if (b == MIG_ACK_ACCEPT)
		return 0;
	if (b != MIG_ACK_FAILED)
		return err_setf(err, "the target answered %#x to the CPU features", b);
	char msg[200];
	get_line(mg, msg, sizeof(msg));
	pthread_mutex_lock(&mg->lock);
	mg->st.refused = true;
	pthread_mutex_unlock(&mg->lock);
	return err_setf(err, "the target refused: %s", msg[0] ? msg : "(no reason given)");
}

/* Before the pause: the target has read everything sent so far (the
 * kernel's socket buffers hold megabytes of round 0 a busy target may
 * still be working through; that backlog would otherwise be part of the
 * downtime). The guest runs meanwhile: what it dirties goes with the
 * last pages. */
static int sync_target(struct vm_migration *mg, struct vmon_error *err)
{
	uint8_t h[4], b = 0;
	le32(h, MIG_REC_SYNC);
	if (put(mg, h, sizeof(h), err) < 0)
		return -1;
	if (get_byte(mg, &b) < 0 || b != MIG_ACK_SYNCED) {
		if (cancelled(mg, err) < 0)
			return -1;
		return err_setf(err, "the target did not answer the sync (it failed: see its "
				     "output)");
	}
	return 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Paused: the rest and the state; the handshake. Returns 1 once GO was
 * sent (committed), 0 never, -1 with err before that. t[] gets the
 * times (now_us) the state was taken, the last bytes sent, READY read. */
static int complete(struct vm_migration *mg, bool *disks_released, uint64_t t[3],
		    struct vmon_error *err)
{
	struct guest_mem *mem = &vm_machine(mg->vm)->mem;
	struct state_writer w = {0};
	if (vm_migrate_state(mg->vm, &w, err) < 0) {
		state_writer_free(&w);
		return -1;
	}
	/* After the devices drained: every page one was given. */
	if (vm_dirty_sync(mg->vm, err) < 0) {
		state_writer_free(&w);
		return -1;
	}
	(void)gm_dirty_collect(mem, mg->bitmap, true);
	t[0] = now_us();
	uint32_t crc = (uint32_t)crc32(0L, w.buf, (uInt)w.len);
	state_put_u32(&w, crc);
	if (w.failed || w.len > VMSTATE_MAX_BYTES) {
		state_writer_free(&w);
		return err_setf(err, "the machine state is too large or out of memory");
	}
	uint8_t h[8];
	le32(h, MIG_REC_STATE);
	le32(h + 4, (uint32_t)w.len);
	int r = send_pages(mg, false, err) < 0 || put(mg, h, sizeof(h), err) < 0 ||
				put(mg, w.buf, w.len, err) < 0
			? -1
			: 0;
	state_writer_free(&w);
	if (r < 0)
		return -1;
	/* The disks were flushed with the state: the target may take them. */
	(void)vm_disks_hold(mg->vm, false, err);
	*disks_released = true;
	le32(h, MIG_REC_END);
	if (put(mg, h, 4, err) < 0)
		return -1;
	t[1] = now_us();
	uint8_t b;
	if (get_byte(mg, &b) < 0)
		return err_setf(err, "the target closed the connection before it was ready");
	t[2] = now_us();
	if (b == MIG_ACK_FAILED) {
		char msg[200];
		get_line(mg, msg, sizeof(msg));
		return err_setf(err, "the target refused: %s", msg[0] ? msg : "(no reason given)");
	}
	if (b != MIG_ACK_READY)
		return err_setf(err, "the target answered %#x instead of ready", b);
	if (cancelled(mg, err) < 0)
		return -1;
	b = MIG_ACK_GO;
	struct vmon_error why = {{0}};
	if (mig_conn_write(&mg->conn, &b, 1, &why) < 0)
		return err_setf(err, "the target went away before it could run");
	return 1;
}

static void *migrate_thread(void *arg)
{
	struct vm_migration *mg = arg;
	struct vm *vm = mg->vm;
	struct guest_mem *mem = &vm_machine(vm)->mem;
	struct vmon_error err = {{0}};
	bool paused_here = false, disks_released = false, committed = false;
	uint64_t t_pause = 0;
	int fd = mig_connect(&mg->p.to, &err);
	pthread_mutex_lock(&mg->lock);
	mg->fd = fd;
	pthread_mutex_unlock(&mg->lock);
	/* The TLS handshake (when asked) before any byte of the stream: a
	 * target that fails it, or fails this end's, gets nothing. */
	if (fd >= 0 && mig_conn_open(&mg->conn, fd, mg->tls, false, mg->p.tls.hostname,
				     mg->p.to_text, &err) < 0) {
		pthread_mutex_lock(&mg->lock);
		mg->fd = fd = -1; /* closed by mig_conn_open */
		pthread_mutex_unlock(&mg->lock);
	}
	uint8_t hdr[MIG_HEADER_BYTES];
	mig_put_header(hdr, mem->size, mg->p.compress ? MIG_FLAG_ZSTD : 0);
	mg->paced_from = now_ms();
	if (fd < 0 || cancelled(mg, &err) < 0 || put(mg, hdr, sizeof(hdr), &err) < 0 ||
	    cpu_check(mg, &err) < 0 || vm_dirty_start(vm, &err) < 0 || precopy(mg, &err) < 0 ||
	    sync_target(mg, &err) < 0 || machine_unchanged(mg, &err) < 0)
		goto fail;
	t_pause = now_us();
	if (!vm_paused(vm)) {
		if (vm_pause(vm, &err) < 0)
			goto fail;
		paused_here = true;
	}
	vm_migrate_hold(vm, true);
	uint64_t t_parked = now_us(), t[3] = {0};
	set_phase(mg, MIG_DEVICE);
	int r = complete(mg, &disks_released, t, &err);
	if (r < 0)
		goto fail;
	committed = true;
	uint8_t b = 0;
	bool runs = get_byte(mg, &b) == 0 && b == MIG_ACK_RUNNING;
	/* The downtime: from before the pause to the target's word that the
	 * guest runs there (over loopback, its last hop is microseconds). */
	uint64_t t_run = now_us(), down_us = t_run - t_pause;
	vm_dirty_stop(vm);
	pthread_mutex_lock(&mg->lock);
	mg->st.phase = MIG_COMPLETED;
	mg->st.downtime_ms = (down_us + 500) / 1000;
	mg->st.total_ms = now_ms() - mg->t_start;
	mg->st.remaining_pages = 0;
	struct vm_migrate_status s = mg->st;
	/* The client following the migration (vmon migrate polls GET
	 * /migrate every 100 ms) gets to read the outcome before the API
	 * goes away with the VM: the VM ends once a GET has seen
	 * "completed", or SEEN_WAIT_S after. The guest already runs on the
	 * target; this one stays paused meanwhile. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SEEN_WAIT_S;
	while (!mg->seen && !atomic_load(&mg->cancel) &&
	       pthread_cond_timedwait(&mg->seen_cond, &mg->lock, &until) == 0)
		;
	mg->running = false;
	pthread_mutex_unlock(&mg->lock);
	fprintf(stderr,
		"vmon: migrated to %s: %u rounds, %llu pages sent, %llu bytes, downtime %llu ms, "
		"total %llu ms%s; downtime in us: pause %llu, state %llu, last pages and state "
		"sent %llu, target loads %llu, go to running %llu\n",
		mg->p.to_text, s.round, (unsigned long long)s.pages_sent,
		(unsigned long long)s.bytes_sent, (unsigned long long)s.downtime_ms,
		(unsigned long long)s.total_ms, runs ? "" : " (the target did not confirm it runs)",
		(unsigned long long)(t_parked - t_pause), (unsigned long long)(t[0] - t_parked),
		(unsigned long long)(t[1] - t[0]), (unsigned long long)(t[2] - t[1]),
		(unsigned long long)(t_run - t[2]));
	vm_request_stop(vm, 0);
	return NULL;
fail:
	(void)committed;
	vm_dirty_stop(vm);
	if (disks_released) {
		/* The target took the images' locks while it built its VM;
		 * it lets them go as it exits, having had no GO. */
		struct vmon_error e2 = {{0}};
		int held = -1;
		for (int i = 0; i < LOCK_RETRIES && held < 0; i++) {
			if (i) {
				struct timespec ts = {.tv_nsec = 100 * 1000 * 1000};
				nanosleep(&ts, NULL);
			}
			held = vm_disks_hold(vm, true, &e2);
		}
		if (held < 0)
			fprintf(stderr, "vmon: after the failed migration: %s\n", e2.msg);
	}
	vm_migrate_hold(vm, false);
	if (paused_here) {
		struct vmon_error e2 = {{0}};
		(void)vm_resume(vm, &e2);
	}
	bool was_cancel = atomic_load(&mg->cancel);
	pthread_mutex_lock(&mg->lock);
	mg->st.phase = was_cancel ? MIG_CANCELLED : MIG_FAILED;
	snprintf(mg->st.error, sizeof(mg->st.error), "%s", was_cancel ? "cancelled" : err.msg);
	mg->st.total_ms = now_ms() - mg->t_start;
	mig_conn_close(&mg->conn);
	mg->fd = -1;
	mg->running = false;
	pthread_mutex_unlock(&mg->lock);
	fprintf(stderr, "vmon: migration to %s %s%s%s; the VM runs on here\n", mg->p.to_text,
		was_cancel ? "cancelled" : "failed", was_cancel ? "" : ": ",
		was_cancel ? "" : err.msg);
	return NULL;
}

/* Joins a finished thread and closes its socket (under no lock). */
static void reap(struct vm_migration *mg)
{
	vmon_thread_join(&mg->thread);
	memset(&mg->thread, 0, sizeof(mg->thread));
	mig_conn_close(&mg->conn);
	mg->fd = -1;
	mig_tls_free(mg->tls);
	mg->tls = NULL;
	free(mg->bitmap);
	mg->bitmap = NULL;
	free(mg->machine);
	mg->machine = NULL;
	ZSTD_freeCCtx(mg->cctx);
	mg->cctx = NULL;
	free(mg->zin);
	free(mg->zout);
	mg->zin = mg->zout = NULL;
}

int vm_migrate_start(struct vm *vm, const struct vm_migrate_params *p, struct vmon_error *err)
{
	struct vm_migration **slot = vm_migration_slot(vm);
	struct vm_migration *mg = *slot;
	if (!vm_machine(vm)->backend->dirty_flush)
		return err_setf(err, "the %s backend cannot track dirty pages: no live migration",
				vm_machine(vm)->backend->name);
	if (!mg) {
		mg = calloc(1, sizeof(*mg));
		if (!mg)
			return err_setf(err, "out of memory");
		pthread_mutex_init(&mg->lock, NULL);
		pthread_cond_init(&mg->seen_cond, NULL);
		mg->fd = -1;
		mg->conn.fd = -1;
		mg->vm = vm;
		*slot = mg;
	}
	pthread_mutex_lock(&mg->lock);
	bool busy = mg->running;
	pthread_mutex_unlock(&mg->lock);
	if (busy)
		return err_setf(err, "a migration is already running (vmon migrate --cancel ID "
				     "stops it)");
	reap(mg);
	struct guest_mem *mem = &vm_machine(vm)->mem;
	mg->npages = mem->size / GM_PAGE_SIZE;
	mg->words = gm_dirty_words(mem);
	mg->bitmap = calloc(mg->words, sizeof(uint64_t));
	if (!mg->bitmap)
		return err_setf(err, "out of memory");
	if (p->compress) {
		mg->zcap = ZSTD_compressBound(MIG_MAX_RUN * GM_PAGE_SIZE);
		mg->cctx = ZSTD_createCCtx();
		mg->zin = malloc(MIG_MAX_RUN * GM_PAGE_SIZE);
		mg->zout = malloc(mg->zcap);
		if (!mg->cctx || !mg->zin || !mg->zout)
			return err_setf(err, "out of memory");
	}
	if (mig_tls_wanted(&p->tls) && mig_tls_load(&mg->tls, &p->tls, err) < 0)
		return -1;
	mg->p = *p;
	mg->st = (struct vm_migrate_status){.phase = MIG_SETUP, .ram_pages = mg->npages};
	mg->seen = false;
	atomic_store(&mg->cancel, false);
	mg->t_start = now_ms();
	mg->paced_bytes = 0;
	mg->running = true;
	if (vmon_thread_start(&mg->thread, VMON_THREAD_API, "migrate", migrate_thread, mg, err) <
	    0) {
		mg->running = false;
		return -1;
	}
	return 0;
}

int vm_migrate_cancel(struct vm *vm, struct vmon_error *err)
{
	struct vm_migration *mg = *vm_migration_slot(vm);
	if (!mg)
		return err_setf(err, "no migration is running");
	pthread_mutex_lock(&mg->lock);
	int r = 0;
	if (!mg->running || mg->st.phase == MIG_COMPLETED)
		r = err_setf(err, "no migration is running");
	else {
		atomic_store(&mg->cancel, true);
		/* Unblocks a send or a wait for the target. */
		if (mg->fd >= 0)
			shutdown(mg->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&mg->lock);
	return r;
}

void vm_migrate_status(struct vm *vm, struct vm_migrate_status *out)
{
	struct vm_migration *mg = *vm_migration_slot(vm);
	if (!mg) {
		*out = (struct vm_migrate_status){.phase = MIG_NONE};
		return;
	}
	pthread_mutex_lock(&mg->lock);
	*out = mg->st;
	if (mg->running && mg->st.phase != MIG_COMPLETED)
		out->total_ms = now_ms() - mg->t_start;
	if (mg->st.phase == MIG_COMPLETED) {
		mg->seen = true;
		pthread_cond_broadcast(&mg->seen_cond);
	}
	pthread_mutex_unlock(&mg->lock);
}

void vm_migrate_free(struct vm *vm)
{
	struct vm_migration *mg = *vm_migration_slot(vm);
	if (!mg)
		return;
	atomic_store(&mg->cancel, true);
	pthread_mutex_lock(&mg->lock);
	if (mg->fd >= 0 && mg->running)
		shutdown(mg->fd, SHUT_RDWR);
	pthread_cond_broadcast(&mg->seen_cond);
	pthread_mutex_unlock(&mg->lock);
	reap(mg);
	pthread_cond_destroy(&mg->seen_cond);
	pthread_mutex_destroy(&mg->lock);
	free(mg);
	*vm_migration_slot(vm) = NULL;
}
