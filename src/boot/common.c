/* SPDX-License-Identifier: MIT */
/* Helpers shared by the boot loaders: messages, range checks, ELF segment
 * loading, command line and initrd placement. */
#include "boot/boot_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/e820.h"

int boot_errf(struct vmon_error *err, const struct boot_image *img, const char *fmt, ...)
{
	if (!err)
		return -1;
	char msg[VMON_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_setf(err, "kernel '%s': %s", img->path, msg);
}

const char *boot_fmt_size(char buf[32], uint64_t bytes)
{
	if (bytes >= (1ULL << 30) && bytes % (1ULL << 30) == 0)
		snprintf(buf, 32, "%llu GiB", (unsigned long long)(bytes >> 30));
	else if (bytes >= (1ULL << 20) && bytes % (1ULL << 20) == 0)
		snprintf(buf, 32, "%llu MiB", (unsigned long long)(bytes >> 20));
	else if (bytes >= (1ULL << 10) && bytes % (1ULL << 10) == 0)
		snprintf(buf, 32, "%llu KiB", (unsigned long long)(bytes >> 10));
	else
		snprintf(buf, 32, "%llu bytes", (unsigned long long)bytes);
	return buf;
}

static bool overlaps(uint64_t a, uint64_t a_end, uint64_t b, uint64_t b_end)
{
	return a < b_end && b < a_end;
}

static const uint64_t area_candidates[BOOT_AREA_CANDIDATES] = {
	BOOT_AREA_START,
	LAYOUT_BOOT_AREA_ALT,
};
_Static_assert(LAYOUT_BOOT_AREA_ALT + BOOT_AREA_SIZE <= LAYOUT_EBDA,
	       "the other place of the boot area ends below the EBDA");

int boot_area_place(const struct guest_mem *gm, const struct boot_image *img,
		    struct vmon_error *err)
{
	struct boot_area *a = img->area;
	for (unsigned i = 0; i < BOOT_AREA_CANDIDATES; i++) {
		if (a->taken[i] || !gm_is_ram(gm, area_candidates[i], BOOT_AREA_SIZE))
			continue;
		a->base = area_candidates[i];
		a->placed = true;
		return 0;
	}
	return boot_errf(err, img,
			 "the image leaves no room for vmon's boot area (60 KiB of RAM at "
			 "0x%llx or 0x%llx)",
			 (unsigned long long)area_candidates[0],
			 (unsigned long long)area_candidates[1]);
}

int boot_check_load_range(const struct guest_mem *gm, const struct boot_image *img,
			  const char *what, uint64_t start, uint64_t size, struct vmon_error *err)
{
	char ram[32];
	if (size == 0)
		return 0;
	if (size > UINT64_MAX - start)
		return boot_errf(err, img,
				 "%s at 0x%llx (0x%llx bytes) wraps around the address space", what,
				 (unsigned long long)start, (unsigned long long)size);
	uint64_t end = start + size;
	const struct boot_area *a = img->area;
	if (a->placed && overlaps(start, end, a->base, a->base + BOOT_AREA_SIZE))
		return boot_errf(err, img,
				 "%s [0x%llx-0x%llx) overlaps vmon's boot area [0x%llx-0x%llx)",
				 what, (unsigned long long)start, (unsigned long long)end,
				 (unsigned long long)a->base,
				 (unsigned long long)(a->base + BOOT_AREA_SIZE));
	if (overlaps(start, end, BOOT_LEGACY_HOLE_START, BOOT_LEGACY_HOLE_END))
		return boot_errf(err, img,
				 "%s [0x%llx-0x%llx) overlaps the legacy VGA/BIOS hole "
				 "[0x%llx-0x%llx)",
				 what, (unsigned long long)start, (unsigned long long)end,
				 BOOT_LEGACY_HOLE_START, BOOT_LEGACY_HOLE_END);
	for (unsigned i = 0; i < BOOT_AREA_CANDIDATES; i++)
		if (overlaps(start, end, area_candidates[i], area_candidates[i] + BOOT_AREA_SIZE))
			img->area->taken[i] = true;
	if (gm_is_ram(gm, start, size))
		return 0;
	boot_fmt_size(ram, gm->size);
	if (end <= GM_LOW_RAM_END && gm->size < end) {
		char need[32];
		uint64_t mib = (end + (1ULL << 20) - 1) >> 20;
		return boot_errf(err, img,
				 "%s [0x%llx-0x%llx) does not fit in guest RAM (%s); it needs at "
				 "least %s",
				 what, (unsigned long long)start, (unsigned long long)end, ram,
				 boot_fmt_size(need, mib << 20));
	}
	return boot_errf(err, img, "%s [0x%llx-0x%llx) lies outside guest RAM (%s)", what,
			 (unsigned long long)start, (unsigned long long)end, ram);
}

int boot_load_elf_segments(struct guest_mem *gm, const struct boot_image *img,
			   const struct elf_file *ef, uint64_t *start, uint64_t *end,
			   struct vmon_error *err)
{
	struct vmon_error inner;
	uint64_t lo = UINT64_MAX, hi = 0;

	/* Pass 1: check everything before touching guest RAM. */
	for (unsigned i = 0; i < ef->phnum; i++) {
		struct elf_phdr ph;
		if (elf_get_phdr(ef, i, &ph, &inner) < 0)
			return boot_errf(err, img, "%s", inner.msg);
		if (ph.type != ELF_PT_LOAD || ph.memsz == 0)
			continue;
		char what[32];
		snprintf(what, sizeof(what), "segment %u", i);
		if (boot_check_load_range(gm, img, what, ph.paddr, ph.memsz, err) < 0)
			return -1;
		if (ph.paddr < lo)
			lo = ph.paddr;
		if (ph.paddr + ph.memsz > hi)
			hi = ph.paddr + ph.memsz;
	}
	if (hi == 0)
		return boot_errf(err, img, "ELF has no loadable (PT_LOAD) segment");

	/* Pass 2: copy and zero. Segments may overlap; later ones win. */
	for (unsigned i = 0; i < ef->phnum; i++) {
		struct elf_phdr ph;
		if (elf_get_phdr(ef, i, &ph, &inner) < 0)
			return boot_errf(err, img, "%s", inner.msg);
		if (ph.type != ELF_PT_LOAD || ph.memsz == 0)
			continue;
		uint8_t *dst = gm_ptr(gm, ph.paddr, ph.memsz);
		if (!dst) /* checked in pass 1 */
			return boot_errf(err, img, "segment %u: not guest RAM", i);
		memcpy(dst, ef->data + ph.offset, ph.filesz);
		memset(dst + ph.filesz, 0, ph.memsz - ph.filesz);
	}
	*start = lo;
	*end = hi;
	return 0;
}

bool boot_elf_paddr_loaded(const struct elf_file *ef, uint64_t gpa)
{
	for (unsigned i = 0; i < ef->phnum; i++) {
		struct elf_phdr ph;
		if (elf_get_phdr(ef, i, &ph, NULL) < 0)
			return false;
		if (ph.type == ELF_PT_LOAD && gpa >= ph.paddr && gpa - ph.paddr < ph.memsz)
			return true;
	}
	return false;
}

int boot_write_cmdline(struct guest_mem *gm, const struct boot_config *cfg,
		       const struct boot_image *img, struct vmon_error *err)
{
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t len = strlen(cmdline);
	if (len > BOOT_CMDLINE_MAX - 1)
		return err_setf(err, "kernel command line is %zu bytes long; at most %llu allowed",
				len, BOOT_CMDLINE_MAX - 1);
	uint64_t gpa = boot_gpa(img, BOOT_OFF_CMDLINE);
	if (gm_write(gm, gpa, cmdline, len + 1) < 0)
		return err_setf(err, "cannot write the command line at 0x%llx: not guest RAM",
				(unsigned long long)gpa);
	return 0;
}

static uint64_t page_up(uint64_t v)
{
	return v > UINT64_MAX - (GM_PAGE_SIZE - 1) ? UINT64_MAX & ~(GM_PAGE_SIZE - 1)
						   : (v + GM_PAGE_SIZE - 1) & ~(GM_PAGE_SIZE - 1);
}

static uint64_t page_down(uint64_t v)
{
	return v & ~(GM_PAGE_SIZE - 1);
}

/* Reads exactly size bytes from fd into dst. */
static int read_all(int fd, uint8_t *dst, uint64_t size)
{
	uint64_t done = 0;
	while (done < size) {
		size_t chunk = size - done > (1u << 30) ? (1u << 30) : (size_t)(size - done);
		ssize_t n = read(fd, dst + done, chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO; /* file shrank while we read it */
			return -1;
		}
		done += (uint64_t)n;
	}
	return 0;
}

int boot_read_fd(int fd, void *dst, uint64_t size)
{
	return read_all(fd, dst, size);
}

int boot_open_file(const char *what, const char *path, uint64_t *size, struct vmon_error *err)
{
	/* O_NONBLOCK: opening a FIFO (or a device) must not wait for a
	 * writer; only regular files get past the check below. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_setf(err, "%s '%s': %s", what, path, strerror(errno));
	struct stat st;
	const char *problem = NULL;
	if (fstat(fd, &st) < 0)
		problem = strerror(errno);
	else if (S_ISDIR(st.st_mode))
		problem = "is a directory";
	else if (S_ISFIFO(st.st_mode))
		problem = "is a FIFO, not a regular file";
	else if (!S_ISREG(st.st_mode))
		problem = "not a regular file";
	else if (st.st_size <= 0)
		problem = "file is empty";
	else if (fcntl(fd, F_SETFL, 0) < 0)
		problem = strerror(errno);
	if (problem) {
		close(fd);
		return err_setf(err, "%s '%s': %s", what, path, problem);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int boot_load_initrd(struct guest_mem *gm, const struct boot_config *cfg, uint64_t image_end,
		     uint64_t max_end, uint64_t *gpa, uint64_t *size, struct vmon_error *err)
{
	const char *path = cfg->initrd_path;
	char a[32], b[32];
	*gpa = 0;
	*size = 0;

	uint64_t len;
	int fd = boot_open_file("initrd", path, &len, err);
	if (fd < 0)
		return -1;

	uint64_t low = page_up(image_end > E820_BIOS_END ? image_end : E820_BIOS_END);
	uint64_t top = gm_low_ram_end(gm);
	if (max_end < top)
		top = max_end;
	top = page_down(top);
	if (top < low || len > top - low) {
		close(fd);
		return err_setf(err,
				"initrd '%s' (%s) does not fit in guest RAM (%s): only "
				"[0x%llx-0x%llx) is free above the kernel image",
				path, boot_fmt_size(a, len), boot_fmt_size(b, gm->size),
				(unsigned long long)low,
				(unsigned long long)(top > low ? top : low));
	}
	uint64_t where = page_down(top - len);
	uint8_t *dst = gm_ptr(gm, where, len);
	if (!dst) { /* cannot happen: [low, top) is low RAM */
		close(fd);
		return err_setf(err, "initrd '%s': 0x%llx is not guest RAM", path,
				(unsigned long long)where);
	}
	if (read_all(fd, dst, len) < 0) {
		int e = errno;
		close(fd);
		return err_setf(err, "initrd '%s': read failed: %s", path, strerror(e));
	}
	close(fd);
	*gpa = where;
	*size = len;
	return 0;
}
