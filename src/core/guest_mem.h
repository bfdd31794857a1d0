/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM and the guest-physical memory map.
 *
 * RAM is one memfd (so snapshot, migration and sharing can map it again),
 * mapped once into vmon. Below 4 GiB it fills [0, GM_LOW_RAM_END); whatever
 * does not fit there continues at 4 GiB, leaving [GM_LOW_RAM_END, 4 GiB) as
 * the MMIO hole (IOAPIC, LAPIC, later PCI).
 *
 * Every access to guest memory from vmon goes through gm_ptr() or the
 * copy helpers below: they check the whole (gpa, len) range with
 * overflow-safe arithmetic and never return a pointer that lets len bytes
 * run outside one RAM region. Values the guest controls are hostile.
 */
#ifndef VMON_CORE_GUEST_MEM_H
#define VMON_CORE_GUEST_MEM_H

#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define GM_LOW_RAM_END	  0xC0000000ULL /* 3 GiB: start of the MMIO hole */
#define GM_HIGH_RAM_START 0x100000000ULL
#define GM_MAX_REGIONS	  2
#define GM_PAGE_SIZE	  4096ULL

struct gm_region {
	uint64_t gpa;	 /* guest-physical start */
	uint64_t size;	 /* bytes */
	uint8_t *host;	 /* host address of gpa */
	uint64_t offset; /* offset in the memfd */
};

struct gm_dirty_log;

struct guest_mem {
	int memfd;
	uint8_t *base; /* whole mapping of the memfd */
	uint64_t size; /* total RAM bytes */
	int nregions;
	struct gm_region regions[GM_MAX_REGIONS];
	/* Dirty-page log while a migration or diff-snapshot tracking runs
	 * (guest_mem_dirty.c), else NULL. Read by every marker with an acquire load; the log itself
	 * is allocated once and lives until gm_destroy. */
	struct gm_dirty_log *_Atomic dirty;
	struct gm_dirty_log *dirty_alloc;
};

/* Creates size bytes of zeroed guest RAM. size must be a non-zero multiple
 * of 4 KiB. Returns 0, or -1 with err set. */
__attribute__((warn_unused_result)) int gm_create(struct guest_mem *gm, uint64_t size,
						  struct vmon_error *err);
/* Guest RAM from a snapshot's memory file, mapped MAP_PRIVATE: pages load
 * lazily on first touch, the guest's writes stay private to this VM, and
 * many VMs restored from one file share its unchanged pages. The file
 * must hold exactly size bytes. memfd is -1 for such RAM. */
__attribute__((warn_unused_result)) int gm_map_file(struct guest_mem *gm, uint64_t size,
						    const char *path, struct vmon_error *err);
/* The first offset at or after off (page-aligned) that may hold data,
 * and in *end where that data ends: RAM from gm_create skips the memfd's
 * holes (never-touched pages, reading which would allocate them);
 * other RAM is all data (returns off, *end = size). Returns size when
 * nothing but holes is left. */
uint64_t gm_next_data(const struct guest_mem *gm, uint64_t off, uint64_t *end);
/* Writes all of RAM to path (a snapshot's memory file; zero pages left
 * as holes). RAM must not change meanwhile (vCPUs parked, devices
 * quiet). */
__attribute__((warn_unused_result)) int gm_save(const struct guest_mem *gm, const char *path,
						struct vmon_error *err);
/* Internal to guest_mem.c: the regions for RAM mapped at p. */
void gm_set_layout(struct guest_mem *gm, uint8_t *p, uint64_t size);
void gm_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) if the whole range lies in one RAM
 * region, else NULL. len 0 is treated as 1 (the address must be RAM).
 * While a dirty log runs, the range is marked dirty (the caller may write
 * through the pointer, now or later: guest_mem_dirty.h). */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* gm_ptr without the dirty log's mark: for the software CPU, which
 * marks its own writes (guest_mem_dirty.h), and for pure reads. */
void *gm_ptr_nolog(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* True if [gpa, gpa+len) is RAM (within one region). */
bool gm_is_ram(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers: return 0, or -1 (nothing copied) if the range is not RAM. */
__attribute__((warn_unused_result)) int gm_read(const struct guest_mem *gm, void *dst, uint64_t gpa,
						uint64_t len);
__attribute__((warn_unused_result)) int gm_write(struct guest_mem *gm, uint64_t gpa,
						 const void *src, uint64_t len);

/* Gives [gpa, gpa+len) back to the host (guest_mem_discard.c): the range
 * must be page-aligned RAM in one region; it reads as zeros afterwards.
 * Returns 0, or -1 (nothing done). Any thread. */
int gm_discard(struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Highest guest-physical address + 1 of RAM below 4 GiB. */
uint64_t gm_low_ram_end(const struct guest_mem *gm);

#endif
