/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the boot loaders (not for use outside src/boot).
 *
 * boot.c reads the kernel file into a struct boot_image, asks each loader
 * in boot_loaders[] whether the image is its format (probe), and lets the
 * first one that says yes load it. A new format (Linux bzImage) adds a
 * struct boot_loader and one line in that table.
 */
#ifndef VMON_BOOT_BOOT_PRIV_H
#define VMON_BOOT_BOOT_PRIV_H

#include <stdint.h>

#include "boot/boot.h"
#include "boot/elf.h"

/* Kernel files larger than this are refused before reading them. */
#define BOOT_KERNEL_MAX_FILE (4ULL << 30)

/* Places inside the boot area, between the info structure and the
 * command line, for the tables that go with the info structure. */
#define BOOT_OFF_MEMMAP	     0x100ULL /* memory map (PVH memmap / multiboot mmap) */
#define BOOT_OFF_MODLIST     0x300ULL /* module list */
#define BOOT_OFF_LOADER_NAME 0x400ULL
#define BOOT_OFF_MODSTR	     0x800ULL /* module command line */
#define BOOT_MODSTR_MAX	     (BOOT_OFF_CMDLINE - BOOT_OFF_MODSTR)

/* Where the boot area may go, in order of preference. */
#define BOOT_AREA_CANDIDATES 2

/* The boot area of one load: which candidate places the image's ranges
 * took (boot_check_load_range records them), and, once the loader has
 * checked every range, the place chosen (boot_area_place). */
struct boot_area {
	bool taken[BOOT_AREA_CANDIDATES];
	bool placed;
	uint64_t base;
};

struct boot_image {
	const char *path;
	const uint8_t *data;
	uint64_t size;
	struct boot_area *area; /* this load's boot area (boot_load's) */
};

/* Chooses the boot area: the first candidate place that is RAM and that
 * no range checked so far overlaps. Loaders call it after checking every
 * range of the image and before writing any boot structure. */
__attribute__((warn_unused_result)) int
boot_area_place(const struct guest_mem *gm, const struct boot_image *img, struct vmon_error *err);

/* The guest-physical address of a place in the (placed) boot area. */
static inline uint64_t boot_gpa(const struct boot_image *img, uint64_t off)
{
	return img->area->base + off;
}

struct boot_loader {
	const char *name;
	/* Returns 1 if img is in this loader's format, else 0; may then leave
	 * a reason in why, reported if no loader takes the image. */
	int (*probe)(const struct boot_image *img, const struct boot_config *cfg,
		     struct vmon_error *why);
	/* Loads img (and cfg's initrd, command line) and fills cpu and info.
	 * The GDT is written by boot_load() afterwards. */
	int (*load)(struct guest_mem *gm, const struct boot_config *cfg,
		    const struct boot_image *img, struct boot_cpu_state *cpu,
		    struct boot_info *info, struct vmon_error *err);
};

extern const struct boot_loader boot_loader_pvh;
extern const struct boot_loader boot_loader_multiboot;
extern const struct boot_loader boot_loader_linux;
extern const struct boot_loader boot_loader_flat;

/* "kernel '<path>': <fmt>" into err; returns -1. */
int boot_errf(struct vmon_error *err, const struct boot_image *img, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Human-readable size ("256 MiB", "640 KiB", "17 bytes") in buf. */
const char *boot_fmt_size(char buf[32], uint64_t bytes);

/* Checks that [start, start + size) may receive part of the image: it is
 * guest RAM, overlaps neither the legacy hole nor the boot area if it is
 * placed already, and records which of the boot area's candidate places
 * it takes. what names the piece in messages ("segment 2", "image"). */
__attribute__((warn_unused_result)) int
boot_check_load_range(const struct guest_mem *gm, const struct boot_image *img, const char *what,
		      uint64_t start, uint64_t size, struct vmon_error *err);

/* Checks every PT_LOAD segment of ef, then copies them to their p_paddr and
 * zeroes their bss. Sets [*start, *end) to the extent of the segments.
 * Fails if there is no non-empty PT_LOAD segment. */
__attribute__((warn_unused_result)) int boot_load_elf_segments(struct guest_mem *gm,
							       const struct boot_image *img,
							       const struct elf_file *ef,
							       uint64_t *start, uint64_t *end,
							       struct vmon_error *err);

/* True if gpa lies inside the physical range of a non-empty PT_LOAD
 * segment of ef (already checked by boot_load_elf_segments). */
bool boot_elf_paddr_loaded(const struct elf_file *ef, uint64_t gpa);

/* Reads exactly size bytes from fd into dst. Returns 0, or -1 with errno
 * set (EIO if the file ended early). */
/* Opens a regular, non-empty file for reading; what is "kernel" or "initrd"
 * for the message. Returns the fd and its size, or -1 with err set. */
int boot_open_file(const char *what, const char *path, uint64_t *size, struct vmon_error *err);
int boot_read_fd(int fd, void *dst, uint64_t size);

/* Writes cfg's command line (or "") NUL-terminated in the boot area. */
__attribute__((warn_unused_result)) int boot_write_cmdline(struct guest_mem *gm,
							   const struct boot_config *cfg,
							   const struct boot_image *img,
							   struct vmon_error *err);

/* Loads cfg->initrd_path page-aligned as high as possible in low RAM, below
 * max_end and above both image_end and 1 MiB. Sets *gpa and *size. */
__attribute__((warn_unused_result)) int
boot_load_initrd(struct guest_mem *gm, const struct boot_config *cfg, uint64_t image_end,
		 uint64_t max_end, uint64_t *gpa, uint64_t *size, struct vmon_error *err);

#endif
