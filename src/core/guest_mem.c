/* SPDX-License-Identifier: MIT */
#include "core/guest_mem.h"

#include <stdlib.h>

#include "core/guest_mem_dirty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int gm_create(struct guest_mem *gm, uint64_t size, struct vmon_error *err)
{
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (size == 0 || size % GM_PAGE_SIZE)
		return err_setf(err, "guest memory size must be a non-zero multiple of 4 KiB");

	int fd = memfd_create("vmon-guest-ram", MFD_CLOEXEC);
	if (fd < 0)
		return err_setf(err, "memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		close(fd);
		return err_setf(err, "cannot size guest RAM to %llu bytes: %s",
				(unsigned long long)size, strerror(e));
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(fd);
		return err_setf(err, "cannot map %llu bytes of guest RAM: %s",
				(unsigned long long)size, strerror(e));
	}
	/* Guest RAM is large and only touched by the guest: keep it out of
	 * core dumps, and let the kernel back it with huge pages if it can. */
	madvise(p, size, MADV_DONTDUMP);
	madvise(p, size, MADV_HUGEPAGE);
	gm->memfd = fd;
	gm_set_layout(gm, p, size);
	return 0;
}

int gm_map_file(struct guest_mem *gm, uint64_t size, const char *path, struct vmon_error *err)
{
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (size == 0 || size % GM_PAGE_SIZE)
		return err_setf(err, "guest memory size must be a non-zero multiple of 4 KiB");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_setf(err, "%s: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return err_setf(err, "%s: not a regular file", path);
	}
	if ((uint64_t)sb.st_size != size) {
		close(fd);
		return err_setf(err, "%s: %llu bytes, but the snapshot's guest has %llu of RAM",
				path, (unsigned long long)sb.st_size, (unsigned long long)size);
	}
	/* Private: the guest's writes stay in this process (copy on write);
	 * pages load on first touch, so the cost does not grow with RAM, and
	 * every clone restored from the file shares its page cache. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return err_setf(err, "cannot map %s: %s", path, strerror(e));
	madvise(p, size, MADV_DONTDUMP);
	gm_set_layout(gm, p, size);
	return 0;
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[GM_PAGE_SIZE];
	return memcmp(p, zero, GM_PAGE_SIZE) == 0;
}

static int save_to(const struct guest_mem *gm, int fd, const char *path, struct vmon_error *err);

int gm_save(const struct guest_mem *gm, const char *path, struct vmon_error *err)
{
	/* Into a new file renamed over path: a memory file that VMs restored
	 * from it still map (this one, or clones) keeps its old contents;
	 * truncating it would pull their pages away. */
	char tmp[4200];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return err_setf(err, "%s: path too long", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_setf(err, "%s: %s", tmp, strerror(errno));
	if (save_to(gm, fd, tmp, err) < 0) {
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return err_setf(err, "%s: %s", path, strerror(e));
	}
	return 0;
}

uint64_t gm_next_data(const struct guest_mem *gm, uint64_t off, uint64_t *end)
{
	*end = gm->size;
	if (off >= gm->size || gm->memfd < 0)
		return off;
	off_t d = lseek(gm->memfd, (off_t)off, SEEK_DATA);
	if (d < 0)
		return errno == ENXIO ? gm->size : off; /* ENXIO: only holes left */
	off_t h = lseek(gm->memfd, d, SEEK_HOLE);
	if (h > d && (uint64_t)h < gm->size)
		*end = (uint64_t)h;
	return (uint64_t)d < gm->size ? (uint64_t)d : gm->size;
}

/* Writes RAM to fd (closed on return). */
static int save_to(const struct guest_mem *gm, int fd, const char *path, struct vmon_error *err)
{
	/* Zero pages are left as holes: a mostly idle guest saves sparse.
	 * Pages the guest never touched are not even read (reading a memfd
	 * hole would allocate it: the snapshot would make the whole of RAM
	 * resident, and take seconds to do it). */
	uint64_t end = 0;
	for (uint64_t off = gm_next_data(gm, 0, &end); off < gm->size; off += GM_PAGE_SIZE) {
		if (off >= end) {
			off = gm_next_data(gm, off, &end);
			if (off >= gm->size)
				break;
		}
		const uint8_t *pg = gm->base + off;
		if (page_is_zero(pg))
			continue;
		uint64_t run = GM_PAGE_SIZE;
		while (off + run < end && run < (8u << 20) && !page_is_zero(pg + run))
			run += GM_PAGE_SIZE;
		for (uint64_t done = 0; done < run;) {
			ssize_t k = pwrite(fd, pg + done, run - done, (off_t)(off + done));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				int e = k < 0 ? errno : ENOSPC;
				close(fd);
				return err_setf(err, "%s: %s", path, strerror(e));
			}
			done += (uint64_t)k;
		}
		off += run - GM_PAGE_SIZE;
	}
	if (ftruncate(fd, (off_t)gm->size) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		return err_setf(err, "%s: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

void gm_set_layout(struct guest_mem *gm, uint8_t *p, uint64_t size)
{
	gm->base = p;
	gm->size = size;
	uint64_t low = size < GM_LOW_RAM_END ? size : GM_LOW_RAM_END;
	gm->regions[0] = (struct gm_region){.gpa = 0, .size = low, .host = gm->base, .offset = 0};
	gm->nregions = 1;
	if (size > low) {
		gm->regions[1] = (struct gm_region){
			.gpa = GM_HIGH_RAM_START,
			.size = size - low,
			.host = gm->base + low,
			.offset = low,
		};
		gm->nregions = 2;
	}
}

void gm_destroy(struct guest_mem *gm)
{
	gm_dirty_free(gm);
	if (gm->base)
		munmap(gm->base, gm->size);
	if (gm->memfd >= 0)
		close(gm->memfd);
	gm->base = NULL;
	gm->memfd = -1;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	void *p = gm_ptr_nolog(gm, gpa, len);
	if (p &&
	    __builtin_expect(atomic_load_explicit(&gm->dirty, memory_order_relaxed) != NULL, 0))
		gm_dirty_mark_dev(gm, (uint64_t)((uint8_t *)p - gm->base), len ? len : 1);
	return p;
}

void *gm_ptr_nolog(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (int i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		/* gpa >= r->gpa, so off cannot wrap; compare lengths, never sums. */
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off >= r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

bool gm_is_ram(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	return gm_ptr(gm, gpa, len) != NULL;
}

int gm_read(const struct guest_mem *gm, void *dst, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return 0;
	const void *p = gm_ptr_nolog(gm, gpa, len); /* a read: nothing to log */
	if (!p)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	if (len == 0)
		return 0;
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -1;
	memcpy(p, src, len);
	return 0;
}

uint64_t gm_low_ram_end(const struct guest_mem *gm)
{
	return gm->regions[0].size;
}
