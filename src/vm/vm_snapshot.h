/* SPDX-License-Identifier: MIT */
/*
 * Snapshot and restore of a machine's state: vm.c's vm_snapshot and
 * restored-VM creation use these on the pieces of struct vm
 * (vm_snapshot.c explains the order of things and why).
 *
 * Threads: the caller holds the VM's control lock; every vCPU is parked
 * (save) or created and not yet started (restore).
 */
#ifndef VMON_VM_VM_SNAPSHOT_H
#define VMON_VM_VM_SNAPSHOT_H

#include <stdbool.h>

#include "core/error.h"
#include "core/machine.h"
#include "vm/vm_config.h"
#include "vm/vm_devices.h"
#include "vm/vmstate.h"

/* Writes the memory file, then the vmstate file. Refuses (naming it) a
 * device or backend that cannot be saved. With diff, the memory file
 * holds only the pages written since the last snapshot (or the start),
 * the others holes (core/guest_mem_diff.h); that needs the dirty log's
 * tracking (gm_dirty_track_start), and every snapshot, full or diff,
 * taken while it runs starts the next diff's set afresh. */
__attribute__((warn_unused_result)) int
vm_state_save(struct machine *m, struct vm_devices *d, const struct vm_config *cfg,
	      const char *vmstate_path, const char *mem_path, bool diff, struct vmon_error *err);
/* The vmstate's sections (config, devices, CPUs; no checksum yet) into
 * w, without RAM: a snapshot's first half, a migration's last record. */
__attribute__((warn_unused_result)) int vm_state_build(struct machine *m, struct vm_devices *d,
						       const struct vm_config *cfg,
						       struct state_writer *w,
						       struct vmon_error *err);
/* Only the vmstate's header, config and CPU features (no checksum
 * yet): what a version-3 migration's target builds its machine from,
 * before the pages (its machine record). */
__attribute__((warn_unused_result)) int vm_state_build_machine(struct machine *m,
							       const struct vm_config *cfg,
							       struct state_writer *w,
							       struct vmon_error *err);
/* Whether two vmstates describe the same machine: the same config and
 * CPU-feature sections (byte for byte), RAM size and vCPU count. 0, or
 * -1 with err naming what differs. */
__attribute__((warn_unused_result)) int
vm_state_same_machine(const struct vmstate *a, const struct vmstate *b, struct vmon_error *err);
/* Loads st's device, interrupt-controller and vCPU state into the
 * machine built from its config. Every value is checked. */
__attribute__((warn_unused_result)) int vm_state_restore(struct machine *m, struct vm_devices *d,
							 const struct vmstate *st,
							 struct vmon_error *err);
/* The config to rebuild st's machine with: the saved one (serial on
 * stdio), the CPU pinned to the saved features. Front ends may then
 * change host-side paths (disk images, chardevs) and the backend. */
__attribute__((warn_unused_result)) int
vm_restore_config(const struct vmstate *st, struct vm_config *out, struct vmon_error *err);
/* Its two halves: the config and CPU features alone (a migration's
 * machine record has no vCPU state yet), and whether st holds one vCPU
 * state per vCPU of cfg. */
__attribute__((warn_unused_result)) int
vm_restore_machine_config(const struct vmstate *st, struct vm_config *out, struct vmon_error *err);
__attribute__((warn_unused_result)) int
vm_state_cpus_match(const struct vmstate *st, const struct vm_config *cfg, struct vmon_error *err);

#endif
