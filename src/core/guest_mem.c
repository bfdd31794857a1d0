/* SPDX-License-Identifier: MIT */
#include "core/guest_mem.h"

#include <errno.h>
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
	return 0;
}

void gm_destroy(struct guest_mem *gm)
{
	if (gm->base)
		munmap(gm->base, gm->size);
	if (gm->memfd >= 0)
		close(gm->memfd);
	gm->base = NULL;
	gm->memfd = -1;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
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
	const void *p = gm_ptr(gm, gpa, len);
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
