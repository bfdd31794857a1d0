/* SPDX-License-Identifier: MIT */
/*
 * Diff memory files: a diff snapshot's RAM (guest_mem_diff.c has the
 * format and why it is checked).
 */
#ifndef VMON_CORE_GUEST_MEM_DIFF_H
#define VMON_CORE_GUEST_MEM_DIFF_H

#include <stdint.h>

#include "core/error.h"
#include "core/guest_mem.h"

/* Writes the RAM pages set in pages (one bit per page, gm_dirty_words
 * words) to path, every other page a hole, and checks the filesystem
 * kept that map. RAM must not change meanwhile (vCPUs parked, devices
 * quiet). Returns 0, or -1 with err (path is then left as it was). */
__attribute__((warn_unused_result)) int gm_save_diff(const struct guest_mem *gm, const char *path,
						     const uint64_t *pages, struct vmon_error *err);
/* Copies the pages of the diff memory file diff_path onto the memory
 * file base_path, in place (the same guest's: same size). No VM may be
 * running from base_path (its MAP_PRIVATE pages not yet touched would
 * change under it). Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int gm_diff_merge(const char *base_path, const char *diff_path,
						      struct vmon_error *err);

#endif
