/* SPDX-License-Identifier: MIT */
/*
 * Live migration's sending side (docs/migration.md): a thread that
 * streams a running VM's RAM to another vmon (`vmon run --incoming`)
 * while the guest runs, then rounds of the pages dirtied meanwhile until
 * the rest fits the downtime budget, then pauses the VM, sends the rest
 * and the machine state, and once the target says it runs, ends this
 * VM (vmon exits with status 0). Cancelled or failed before that, the
 * VM goes on running here as if nothing had happened.
 *
 * Threads: vm_migrate_start/cancel/status from any thread (the API's);
 * one migration at a time per VM. vm_destroy joins a running one.
 */
#ifndef VMON_VM_VM_MIGRATE_H
#define VMON_VM_VM_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/state.h"
#include "vm/migrate_stream.h"

struct vm;
struct vm_migration;
struct machine;

struct vm_migrate_params {
	struct mig_endpoint to;
	char to_text[160];	  /* as the user wrote it, for messages */
	uint32_t max_downtime_ms; /* 0: the default (300) */
	uint64_t bandwidth;	  /* bytes per second, 0: unlimited */
	bool compress;		  /* zstd-compress page runs */
	struct mig_tls_files tls; /* all empty: plain (migrate_tls.h) */
};

enum vm_migrate_phase {
	MIG_NONE,      /* never started */
	MIG_SETUP,     /* connecting */
	MIG_ACTIVE,    /* pre-copy rounds, the guest running */
	MIG_DEVICE,    /* paused: the last pages and the machine state */
	MIG_COMPLETED, /* the target runs the guest; this VM ends */
	MIG_FAILED,    /* the VM runs on here; error says why */
	MIG_CANCELLED, /* the VM runs on here */
};
const char *vm_migrate_phase_name(enum vm_migrate_phase p);

struct vm_migrate_status {
	enum vm_migrate_phase phase;
	unsigned round;		       /* 0: the first full pass */
	uint64_t pages_sent;	       /* data pages, all rounds */
	uint64_t zero_pages;	       /* sent as zero records (later rounds) */
	uint64_t bytes_sent;	       /* stream bytes */
	uint64_t ram_pages;	       /* the guest's */
	uint64_t remaining_pages;      /* dirty at the last look */
	uint64_t dirty_rate;	       /* pages per second, last round */
	uint64_t expected_downtime_ms; /* the remaining pages at the measured rate */
	uint64_t downtime_ms;	       /* pause to the target's RUNNING (when done) */
	uint64_t total_ms;	       /* since the start */
	bool refused;		       /* failed: the target cannot give the guest's CPU */
	char error[512];
};

/* Starts migrating vm to p->to. Returns 0 once the thread runs (the
 * outcome is in vm_migrate_status), or -1 with err (one is running; the
 * backend cannot track dirty pages; the VM is not running; a TLS file
 * cannot be read or is not what it should be: they are read here, on the
 * caller's thread). */
__attribute__((warn_unused_result)) int
vm_migrate_start(struct vm *vm, const struct vm_migrate_params *p, struct vmon_error *err);
/* Asks a running migration to stop (-1 with err if none runs). The VM
 * keeps running here; the target gives up. */
int vm_migrate_cancel(struct vm *vm, struct vmon_error *err);
void vm_migrate_status(struct vm *vm, struct vm_migrate_status *out);
/* vm_destroy's: cancels and joins a running migration, frees it. */
void vm_migrate_free(struct vm *vm);

/* ---- vm.c's side, for vm_migrate.c only ---- */
struct machine *vm_machine(struct vm *vm);
struct vm_migration **vm_migration_slot(struct vm *vm);
/* The dirty log for a migration, under the VM's control lock
 * (cpu_backend.h's dirty hooks): start clears the migration's bitmaps
 * and has the backend log and flush; sync merges the backend's own log in
 * (before each gm_dirty_collect); flush re-arms (after each); stop ends
 * the migration's use (the backend logs on while diff-snapshot tracking
 * runs). */
__attribute__((warn_unused_result)) int vm_dirty_start(struct vm *vm, struct vmon_error *err);
__attribute__((warn_unused_result)) int vm_dirty_sync(struct vm *vm, struct vmon_error *err);
__attribute__((warn_unused_result)) int vm_dirty_flush(struct vm *vm, struct vmon_error *err);
void vm_dirty_stop(struct vm *vm);
/* The machine state of the paused VM (vm_state_build) into w. */
__attribute__((warn_unused_result)) int vm_migrate_state(struct vm *vm, struct state_writer *w,
							 struct vmon_error *err);
/* The machine record's vmstate (vm_state_build_machine: header, config,
 * CPU features) into w. */
__attribute__((warn_unused_result)) int vm_migrate_machine(struct vm *vm, struct state_writer *w,
							   struct vmon_error *err);
/* While held, vm_resume refuses (the migration's final phase: the
 * state and the last pages must not change). */
void vm_migrate_hold(struct vm *vm, bool hold);
/* Every disk's image lock dropped (hold false) or taken again. */
int vm_disks_hold(struct vm *vm, bool hold, struct vmon_error *err);

#endif
