/* SPDX-License-Identifier: MIT */
#include "devices/virtio/blk_aio.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/thread.h"

#define POOL_THREADS 4

struct blk_aio {
	enum blk_aio_kind kind;
	int fd;
	int efd; /* completion eventfd */
	/* io_uring */
	struct io_uring ring;
	bool ring_ok;
	unsigned inflight;     /* submitted, not reaped */
	unsigned fail_submits; /* tests */
	struct blk_aio_stats stats;
	/* pool and sync: finished requests (done), pool work queue (todo) */
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct blk_aio_req *todo_head, **todo_tail;
	struct blk_aio_req *done_head, **done_tail;
	unsigned busy; /* pool: requests queued or running */
	pthread_cond_t idle;
	bool stopping;
	struct vmon_thread threads[POOL_THREADS];
	int nthreads;
};

static void signal_efd(struct blk_aio *a)
{
	uint64_t one = 1;
	if (write(a->efd, &one, sizeof(one)) < 0) {
		/* saturated counter: a wakeup is pending anyway */
	}
}

/* Set once pwritev2 says RWF_DSYNC is not supported (kernels before 4.7). */
static _Atomic bool no_rwf_dsync;

/* Runs one request with plain system calls (pool and sync engines). */
static int64_t run_sync(int fd, struct blk_aio_req *r)
{
	switch (r->op) {
	case BLK_AIO_READ:
	case BLK_AIO_WRITE: {
		/* Loop over short transfers: advance through the iovecs. */
		uint64_t done = 0;
		int idx = 0;
		uint64_t skip = 0;
		while (done < r->len) {
			struct iovec cur[64];
			int n = 0;
			uint64_t s = skip;
			for (int i = idx; i < r->iovcnt && n < 64; i++) {
				cur[n].iov_base = (uint8_t *)r->iov[i].iov_base + s;
				cur[n].iov_len = r->iov[i].iov_len - s;
				s = 0;
				n++;
			}
			ssize_t k;
			if (r->op == BLK_AIO_READ)
				k = preadv(fd, cur, n, (off_t)(r->offset + done));
			else if (r->dsync && !no_rwf_dsync)
				k = pwritev2(fd, cur, n, (off_t)(r->offset + done), RWF_DSYNC);
			else
				k = pwritev(fd, cur, n, (off_t)(r->offset + done));
			if (k < 0 && errno == EOPNOTSUPP && r->op == BLK_AIO_WRITE && r->dsync &&
			    !no_rwf_dsync) {
				no_rwf_dsync = true; /* an old kernel: fdatasync below */
				continue;
			}
			if (k < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			if (k == 0)
				return -EIO; /* end of file inside the request */
			done += (uint64_t)k;
			uint64_t adv = (uint64_t)k + skip;
			while (idx < r->iovcnt && adv >= r->iov[idx].iov_len) {
				adv -= r->iov[idx].iov_len;
				idx++;
			}
			skip = adv;
		}
		if (r->op == BLK_AIO_WRITE && r->dsync && no_rwf_dsync && fdatasync(fd) < 0)
			return -errno;
		return (int64_t)done;
	}
	case BLK_AIO_FLUSH: return fdatasync(fd) < 0 ? -errno : 0;
	case BLK_AIO_DISCARD:
		return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r->offset,
				 (off_t)r->len) < 0
			       ? -errno
			       : 0;
	}
	return -EINVAL;
}

static void push_done(struct blk_aio *a, struct blk_aio_req *r)
{
	r->next = NULL;
	*a->done_tail = r;
	a->done_tail = &r->next;
}

static void *pool_main(void *p)
{
	struct blk_aio *a = p;
	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->todo_head && !a->stopping)
			pthread_cond_wait(&a->work, &a->lock);
		if (!a->todo_head)
			break;
		struct blk_aio_req *r = a->todo_head;
		a->todo_head = r->next;
		if (!a->todo_head)
			a->todo_tail = &a->todo_head;
		pthread_mutex_unlock(&a->lock);
		r->result = run_sync(a->fd, r);
		pthread_mutex_lock(&a->lock);
		push_done(a, r);
		if (--a->busy == 0)
			pthread_cond_broadcast(&a->idle);
		signal_efd(a);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static int ring_submit(struct blk_aio *a)
{
	if (a->fail_submits) {
		a->fail_submits--;
		return -EAGAIN;
	}
	return io_uring_submit(&a->ring);
}

static int uring_submit(struct blk_aio *a, struct blk_aio_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);
	if (!sqe) {
		ring_submit(a);
		sqe = io_uring_get_sqe(&a->ring);
		if (!sqe)
			return -EBUSY;
	}
	switch (r->op) {
	case BLK_AIO_READ:
		io_uring_prep_readv(sqe, a->fd, r->iov, (unsigned)r->iovcnt, r->offset);
		break;
	case BLK_AIO_WRITE:
		io_uring_prep_writev(sqe, a->fd, r->iov, (unsigned)r->iovcnt, r->offset);
		if (r->dsync)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case BLK_AIO_FLUSH:
		io_uring_prep_fsync(sqe, a->fd, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_IO_DRAIN;
		break;
	case BLK_AIO_DISCARD:
		io_uring_prep_fallocate(sqe, a->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					r->offset, r->len);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
	int k = ring_submit(a);
	/* The kernel takes entries in order and ours is the last: anything
	 * left in the ring means it was not taken. It would go with the next
	 * submission, naming r — which the caller completes and reuses as
	 * soon as we say no. Turn it into a no-op that names no request
	 * (only this thread enters the ring, so the kernel has not read it). */
	if (k < 0 || io_uring_sq_ready(&a->ring) > 0) {
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, NULL);
		return k < 0 ? k : -EAGAIN;
	}
	a->inflight++;
	return 0;
}

int blk_aio_submit(struct blk_aio *a, struct blk_aio_req *r)
{
	r->result = 0;
	r->next = NULL;
	a->stats.writes += r->op == BLK_AIO_WRITE;
	a->stats.dsync_writes += r->op == BLK_AIO_WRITE && r->dsync;
	a->stats.flushes += r->op == BLK_AIO_FLUSH;
	switch (a->kind) {
	case BLK_AIO_URING: return uring_submit(a, r);
	case BLK_AIO_POOL:
		pthread_mutex_lock(&a->lock);
		*a->todo_tail = r;
		a->todo_tail = &r->next;
		a->busy++;
		pthread_cond_signal(&a->work);
		pthread_mutex_unlock(&a->lock);
		return 0;
	default:
		r->result = run_sync(a->fd, r);
		pthread_mutex_lock(&a->lock);
		push_done(a, r);
		pthread_mutex_unlock(&a->lock);
		signal_efd(a);
		return 0;
	}
}

void blk_aio_ack(struct blk_aio *a)
{
	uint64_t n;
	if (read(a->efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing new */
	}
}

struct blk_aio_req *blk_aio_reap(struct blk_aio *a)
{
	if (a->kind == BLK_AIO_URING) {
		struct io_uring_cqe *cqe;
		struct blk_aio_req *r = NULL;
		int res = 0;
		/* No-ops left by refused submissions name no request: skip. */
		while (!r) {
			if (io_uring_peek_cqe(&a->ring, &cqe) != 0 || !cqe)
				return NULL;
			r = io_uring_cqe_get_data(cqe);
			res = cqe->res;
			io_uring_cqe_seen(&a->ring, cqe);
		}
		a->inflight--;
		if (res >= 0 && (r->op == BLK_AIO_READ || r->op == BLK_AIO_WRITE) &&
		    (uint64_t)res != r->len)
			res = -EIO; /* short transfer: end of file or out of space */
		r->result = res;
		return r;
	}
	pthread_mutex_lock(&a->lock);
	struct blk_aio_req *r = a->done_head;
	if (r) {
		a->done_head = r->next;
		if (!a->done_head)
			a->done_tail = &a->done_head;
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

const char *blk_aio_name(const struct blk_aio *a)
{
	switch (a->kind) {
	case BLK_AIO_URING: return "io_uring";
	case BLK_AIO_POOL: return "thread pool";
	default: return "synchronous";
	}
}

int blk_aio_event_fd(const struct blk_aio *a)
{
	return a->efd;
}

static int pool_start(struct blk_aio *a, struct vmon_error *err)
{
	for (int i = 0; i < POOL_THREADS; i++) {
		if (vmon_thread_start(&a->threads[i], VMON_THREAD_BLK, "blkio", pool_main, a, err) <
		    0)
			return -1;
		a->nthreads++;
	}
	return 0;
}

/* The operations the ring may run, and the only submission flag used.
 * seccomp cannot see io_uring's work (kernel workers do it), so the ring
 * itself is pinned to what this file submits: once enabled, any other
 * opcode completes with -EACCES and no further registration is allowed
 * (IORING_REGISTER_RESTRICTIONS, Linux 5.10). */
static const uint8_t ring_ops[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				   IORING_OP_FALLOCATE, IORING_OP_NOP};

/* Registers the completion eventfd, the restrictions, then starts the
 * ring (created disabled, so nothing ran before it was restricted). */
static int ring_restrict(struct blk_aio *a, struct vmon_error *err)
{
	int r = io_uring_register_eventfd(&a->ring, a->efd);
	if (r < 0)
		return err_setf(err, "io_uring_register_eventfd: %s", strerror(-r));
	struct io_uring_restriction res[sizeof(ring_ops) + 1];
	memset(res, 0, sizeof(res));
	unsigned n = 0;
	for (; n < sizeof(ring_ops); n++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n].sqe_op = ring_ops[n];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n].sqe_flags = IOSQE_IO_DRAIN;
	n++;
	/* The system call itself: Debian's liburing 2.3 declares
	 * io_uring_register_restrictions/io_uring_enable_rings but its shared
	 * library does not export them. */
	if (syscall(__NR_io_uring_register, a->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res, n) <
	    0)
		return err_setf(err, "io_uring restrictions: %s", strerror(errno));
	if (syscall(__NR_io_uring_register, a->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) < 0)
		return err_setf(err, "io_uring enable: %s", strerror(errno));
	return 0;
}

int blk_aio_create(struct blk_aio **out, int fd, enum blk_aio_kind kind, unsigned depth,
		   struct vmon_error *err)
{
	*out = NULL;
	struct blk_aio *a = calloc(1, sizeof(*a));
	if (!a)
		return err_setf(err, "out of memory");
	a->fd = fd;
	a->todo_tail = &a->todo_head;
	a->done_tail = &a->done_head;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->idle, NULL);
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->efd < 0) {
		err_setf(err, "eventfd: %s", strerror(errno));
		goto fail;
	}
	const char *no_uring = getenv("VMON_NO_IO_URING");
	if (kind == BLK_AIO_AUTO)
		kind = no_uring && *no_uring && strcmp(no_uring, "0") != 0 ? BLK_AIO_POOL
									   : BLK_AIO_URING;
	if (kind == BLK_AIO_URING) {
		unsigned entries = depth < 8 ? 8 : depth;
		struct io_uring_params p = {.flags = IORING_SETUP_R_DISABLED};
		if (io_uring_queue_init_params(entries, &a->ring, &p) == 0) {
			a->ring_ok = true;
			if (ring_restrict(a, err) < 0)
				goto fail;
		} else {
			kind = BLK_AIO_POOL; /* io_uring unavailable here */
		}
	}
	a->kind = kind;
	if (kind == BLK_AIO_POOL && pool_start(a, err) < 0)
		goto fail;
	*out = a;
	return 0;
fail:
	blk_aio_destroy(a);
	return -1;
}

void blk_aio_set_fd(struct blk_aio *a, int fd)
{
	pthread_mutex_lock(&a->lock);
	a->fd = fd;
	pthread_mutex_unlock(&a->lock);
}

void blk_aio_destroy(struct blk_aio *a)
{
	if (!a)
		return;
	if (a->nthreads) {
		pthread_mutex_lock(&a->lock);
		while (a->busy)
			pthread_cond_wait(&a->idle, &a->lock);
		a->stopping = true;
		pthread_cond_broadcast(&a->work);
		pthread_mutex_unlock(&a->lock);
		for (int i = 0; i < a->nthreads; i++)
			vmon_thread_join(&a->threads[i]);
	}
	if (a->ring_ok) {
		/* Closing the ring does not wait for what is in flight (an
		 * io-wq worker may still be copying into a buffer): wait for
		 * every request here, so none can touch guest RAM once the VM
		 * layer unmaps it. */
		while (a->inflight) {
			struct io_uring_cqe *cqe;
			int r = io_uring_wait_cqe(&a->ring, &cqe);
			if (r == -EINTR)
				continue;
			if (r < 0)
				break;
			if (io_uring_cqe_get_data(cqe))
				a->inflight--;
			io_uring_cqe_seen(&a->ring, cqe);
		}
		io_uring_queue_exit(&a->ring);
	}
	if (a->efd >= 0)
		close(a->efd);
	pthread_cond_destroy(&a->idle);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void blk_aio_get_stats(const struct blk_aio *a, struct blk_aio_stats *out)
{
	*out = a->stats;
}

void blk_aio_test_fail_submits(struct blk_aio *a, unsigned n)
{
	a->fail_submits = n;
}

int blk_aio_test_ring_op(struct blk_aio *a, uint8_t opcode)
{
	if (!a->ring_ok)
		return -ENOSYS;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);
	if (!sqe)
		return -EBUSY;
	/* A nop's shape with another opcode: fd -1, so an allowed op fails
	 * with EBADF at worst and never touches a file. */
	io_uring_prep_nop(sqe);
	sqe->opcode = opcode;
	sqe->fd = -1;
	io_uring_sqe_set_data(sqe, NULL);
	int r = io_uring_submit(&a->ring);
	if (r < 0)
		return r;
	struct io_uring_cqe *cqe;
	r = io_uring_wait_cqe(&a->ring, &cqe);
	if (r < 0)
		return r;
	int res = cqe->res;
	io_uring_cqe_seen(&a->ring, cqe);
	return res;
}
