/* SPDX-License-Identifier: MIT */
/*
 * The neutral CPU sections of a vmstate file (cpu/cpu_state.h): one per
 * vCPU, the interrupt controllers and timer, and the guest's CPU features
 * by name. Writing is plain; reading checks every value a backend could
 * choke on (reserved bits, inconsistent modes, indices, vectors), since
 * the file is untrusted.
 */
#ifndef VMON_VM_VMSTATE_CPU_H
#define VMON_VM_VMSTATE_CPU_H

#include "core/error.h"
#include "core/state.h"
#include "cpu/cpu_model.h"
#include "cpu/cpu_state.h"

/* Version 2 (KVM snapshots) appends fields to both; version 1 still
 * reads (docs/snapshot.md). */
#define VMSTATE_CPU_VERSION   2
#define VMSTATE_CHIPS_VERSION 2
/* CPU features version 2: pcid, invpcid, smep, smap and umip are named
 * (cpu_model.h); a version-1 list left them to the backend, so a restore
 * gives them where the target offers them (vm_restore_machine_config).
 * Version 3: la57 is named too (versions 1 and 2 get it where offered). */
#define VMSTATE_CPUID_VERSION 3

void vmstate_cpu_put(struct state_writer *w, const struct cpu_state *s);
__attribute__((warn_unused_result)) int
vmstate_cpu_get(const void *data, size_t len, struct cpu_state *s, struct vmon_error *err);
/* The same for a section of an older version (1..VMSTATE_CPU_VERSION);
 * another version is refused with a line naming it. */
__attribute__((warn_unused_result)) int vmstate_cpu_get_v(const void *data, size_t len,
							  uint32_t version, struct cpu_state *s,
							  struct vmon_error *err);
void vmstate_chips_put(struct state_writer *w, const struct chip_state *s);
__attribute__((warn_unused_result)) int
vmstate_chips_get(const void *data, size_t len, struct chip_state *s, struct vmon_error *err);
/* Feature names, space separated. An unknown name is an error: this vmon
 * cannot promise the guest a feature it does not know. */
__attribute__((warn_unused_result)) int vmstate_chips_get_v(const void *data, size_t len,
							    uint32_t version, struct chip_state *s,
							    struct vmon_error *err);
void vmstate_cpuid_put(struct state_writer *w, const struct cpu_featureset *f);
__attribute__((warn_unused_result)) int
vmstate_cpuid_get(const void *data, size_t len, struct cpu_featureset *f, struct vmon_error *err);

#endif
