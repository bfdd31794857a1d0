/* SPDX-License-Identifier: MIT */
/*
 * `vmon snapshot-merge BASE DIFF`: rebuilds a full memory file from a diff
 * snapshot's (docs/snapshot.md, "Diff snapshots"), as Firecracker's
 * rebase-snap does: DIFF's pages are copied onto BASE in place
 * (core/guest_mem_diff.h). Layers merge oldest first; BASE with the last
 * diff's vmstate then restores the VM. Offline: no vmon process is
 * involved.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/help.h"
#include "core/error.h"
#include "core/guest_mem_diff.h"

int cmd_snapshot_merge(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		print_usage(stdout);
		return 0;
	}
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
		usage_error("snapshot-merge: vmon snapshot-merge BASE-MEMORY DIFF-MEMORY");
	struct vmon_error err = {{0}};
	if (gm_diff_merge(argv[1], argv[2], &err) < 0)
		die_status(VMON_EXIT_USAGE, "snapshot-merge: %s", err.msg);
	return 0;
}
