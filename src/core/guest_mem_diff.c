/* SPDX-License-Identifier: MIT */
/*
 * Diff memory files (docs/snapshot.md, "Diff snapshots"): guest RAM's
 * pages written since the last snapshot, at their offsets in a file of
 * RAM's size, every other page a hole; and the merge of such a file onto
 * the full memory file it follows (Firecracker's layered snapshots).
 *
 * The holes are the format: a page present in the diff (even all zero)
 * is allocated data, a page absent is a hole. The writer checks, after
 * writing, that the filesystem kept exactly that map (one that allocates
 * in blocks larger than a page, or drops zero blocks, cannot hold a diff:
 * refused with one line rather than merged wrong later), and the merge
 * copies exactly the diff's data extents, which must fall on pages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "core/guest_mem_diff.h"

static bool bit(const uint64_t *b, uint64_t p)
{
	return b[p / 64] >> (p % 64) & 1;
}

static int write_all_at(int fd, const uint8_t *p, uint64_t n, uint64_t off)
{
	for (uint64_t done = 0; done < n;) {
		ssize_t k = pwrite(fd, p + done, n - done, (off_t)(off + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = ENOSPC;
			return -1;
		}
		done += (uint64_t)k;
	}
	return 0;
}

/* Whether the file's data extents are exactly the pages set in pages. */
static int check_map(int fd, uint64_t size, const uint64_t *pages, const char *path,
		     struct vmon_error *err)
{
	uint64_t pos = 0;
	while (pos < size) {
		off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
		uint64_t data = d < 0 ? size : (uint64_t)d;
		if (d < 0 && errno != ENXIO)
			return err_setf(err, "%s: SEEK_DATA: %s", path, strerror(errno));
		off_t h = data < size ? lseek(fd, (off_t)data, SEEK_HOLE) : (off_t)size;
		if (h < 0)
			return err_setf(err, "%s: SEEK_HOLE: %s", path, strerror(errno));
		uint64_t hole = (uint64_t)h > size ? size : (uint64_t)h;
		for (uint64_t p = pos / GM_PAGE_SIZE; p * GM_PAGE_SIZE < hole; p++) {
			bool in_data = p * GM_PAGE_SIZE >= data;
			if (in_data != bit(pages, p))
				return err_setf(err,
						"%s: this filesystem does not keep a diff's holes "
						"page by page (page %llu is %s): write diff "
						"snapshots to a filesystem with 4 KiB blocks "
						"(ext4, xfs, tmpfs)",
						path, (unsigned long long)p,
						in_data ? "allocated but not in the diff"
							: "in the diff but a hole");
		}
		pos = hole;
	}
	return 0;
}

int gm_save_diff(const struct guest_mem *gm, const char *path, const uint64_t *pages,
		 struct vmon_error *err)
{
	/* A new file renamed over path, as gm_save does (VMs restored from
	 * an older file at path keep it). */
	char tmp[4200];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return err_setf(err, "%s: path too long", path);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_setf(err, "%s: %s", tmp, strerror(errno));
	uint64_t npages = gm->size / GM_PAGE_SIZE;
	int r = 0;
	for (uint64_t p = 0; p < npages && r == 0;) {
		if (!bit(pages, p)) {
			p++;
			continue;
		}
		uint64_t run = 1;
		while (p + run < npages && bit(pages, p + run) && run < 2048)
			run++;
		if (write_all_at(fd, gm->base + p * GM_PAGE_SIZE, run * GM_PAGE_SIZE,
				 p * GM_PAGE_SIZE) < 0)
			r = err_setf(err, "%s: %s", tmp, strerror(errno));
		p += run;
	}
	if (r == 0 && (ftruncate(fd, (off_t)gm->size) < 0 || fsync(fd) < 0))
		r = err_setf(err, "%s: %s", tmp, strerror(errno));
	if (r == 0)
		r = check_map(fd, gm->size, pages, path, err);
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = err_setf(err, "%s: %s", path, strerror(errno));
	if (r < 0)
		unlink(tmp);
	return r;
}

int gm_diff_merge(const char *base_path, const char *diff_path, struct vmon_error *err)
{
	int r = -1;
	uint8_t *buf = NULL;
	int bfd = -1, dfd = open(diff_path, O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		return err_setf(err, "%s: %s", diff_path, strerror(errno));
	bfd = open(base_path, O_WRONLY | O_CLOEXEC);
	struct stat ds, bs;
	if (bfd < 0) {
		err_setf(err, "%s: %s", base_path, strerror(errno));
		goto out;
	}
	if (fstat(dfd, &ds) < 0 || fstat(bfd, &bs) < 0) {
		err_setf(err, "%s: %s", diff_path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(ds.st_mode) || !S_ISREG(bs.st_mode)) {
		err_setf(err, "%s and %s must both be regular files", base_path, diff_path);
		goto out;
	}
	if (ds.st_size != bs.st_size || ds.st_size <= 0 ||
	    (uint64_t)ds.st_size % GM_PAGE_SIZE != 0) {
		err_setf(err,
			 "%s (%lld bytes) and %s (%lld bytes) are not memory files of the "
			 "same guest",
			 base_path, (long long)bs.st_size, diff_path, (long long)ds.st_size);
		goto out;
	}
	if (ds.st_dev == bs.st_dev && ds.st_ino == bs.st_ino) {
		err_setf(err, "%s and %s are the same file", base_path, diff_path);
		goto out;
	}
	uint64_t size = (uint64_t)ds.st_size, chunk = 8u << 20;
	buf = malloc(chunk);
	if (!buf) {
		err_setf(err, "out of memory");
		goto out;
	}
	for (uint64_t pos = 0; pos < size;) {
		off_t d = lseek(dfd, (off_t)pos, SEEK_DATA);
		if (d < 0 && errno == ENXIO)
			break;
		off_t h = d < 0 ? -1 : lseek(dfd, d, SEEK_HOLE);
		if (d < 0 || h < 0) {
			err_setf(err, "%s: SEEK_DATA/SEEK_HOLE: %s", diff_path, strerror(errno));
			goto out;
		}
		uint64_t data = (uint64_t)d, hole = (uint64_t)h > size ? size : (uint64_t)h;
		if (data % GM_PAGE_SIZE || hole % GM_PAGE_SIZE) {
			err_setf(err,
				 "%s: data at bytes %llu-%llu does not fall on 4 KiB pages: "
				 "not a diff memory file (or copied without its holes)",
				 diff_path, (unsigned long long)data, (unsigned long long)hole);
			goto out;
		}
		for (uint64_t o = data; o < hole;) {
			uint64_t n = hole - o < chunk ? hole - o : chunk;
			ssize_t k = pread(dfd, buf, n, (off_t)o);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				err_setf(err, "%s: %s", diff_path,
					 k < 0 ? strerror(errno) : "shorter than it says");
				goto out;
			}
			if (write_all_at(bfd, buf, (uint64_t)k, o) < 0) {
				err_setf(err, "%s: %s", base_path, strerror(errno));
				goto out;
			}
			o += (uint64_t)k;
		}
		pos = hole;
	}
	if (fsync(bfd) < 0) {
		err_setf(err, "%s: %s", base_path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	free(buf);
	if (bfd >= 0)
		close(bfd);
	close(dfd);
	return r;
}
