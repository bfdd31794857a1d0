/* SPDX-License-Identifier: MIT */
/*
 * --balloon SIZE[,deflate_on_oom=on|off][,stats=SECONDS][,free_page_reporting=on|off]:
 * a virtio-balloon whose target is SIZE (as --mem: a plain number is MiB;
 * whole MiB), Firecracker's balloon object on the command line.
 */
#ifndef VMON_CLI_BALLOON_SPEC_H
#define VMON_CLI_BALLOON_SPEC_H

#include "core/error.h"
#include "vm/vm_config.h"

/* Returns 0, or -1 with one line in err. */
__attribute__((warn_unused_result)) int
balloon_spec_parse(const char *arg, struct vm_balloon_config *out, struct vmon_error *err);

/* A balloon size (SIZE above) into whole MiB. */
__attribute__((warn_unused_result)) int balloon_size_parse(const char *opt, const char *s,
							   uint32_t *mib, struct vmon_error *err);

#endif
