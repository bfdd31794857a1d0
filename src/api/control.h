/* SPDX-License-Identifier: MIT */
/*
 * The control plane's view of one VM: its id, its state (Not started,
 * Running, Paused, then stopped), the configuration the API builds before
 * the start, and the running VM after it. The API's request handlers
 * (api/router.h) read and change it; the process's main thread owns the
 * VM's life (vm_create, vm_run, vm_destroy) and hands the VM over here.
 *
 * Start handshake (PUT /actions InstanceStart, or a config given up
 * front): the handler checks the configuration, asks for a start
 * (api_ctl_request_start) and waits; the main thread, woken by the start
 * eventfd, takes the configuration (api_ctl_take_start), builds the VM and
 * reports (api_ctl_started / api_ctl_start_failed); the handler answers
 * with the outcome. A failed start leaves the VM "Not started" with its
 * configuration, as Firecracker does, so the client can fix it and retry.
 *
 * Threads: every function may be called from any thread; one mutex
 * guards the struct. The handlers run on the API thread; the main thread
 * only uses the start functions and api_ctl_stopped.
 */
#ifndef VMON_API_CONTROL_H
#define VMON_API_CONTROL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "vm/vm.h"
#include "vm/vm_config.h"

enum api_vm_state { API_NOT_STARTED, API_RUNNING, API_PAUSED, API_STOPPED };

/* "Not started", "Running", "Paused" (Firecracker's names), "Stopped". */
const char *api_state_name(enum api_vm_state s);

struct api_ctl;

/* Called (under no lock of the caller's, with the ctl's lock released)
 * after every state change; the registry uses it. */
typedef void (*api_state_fn)(void *opaque, enum api_vm_state state);

struct api_ctl_params {
	const char *id;		     /* VM id (vm_id_valid) */
	const struct vm_config *cfg; /* initial configuration (copied) */
	bool allow_overcommit;	     /* machine-config may exceed the host's memory */
	api_state_fn on_state;	     /* may be NULL */
	void *opaque;
};

__attribute__((warn_unused_result)) int
api_ctl_create(struct api_ctl **out, const struct api_ctl_params *p, struct vmon_error *err);
void api_ctl_destroy(struct api_ctl *c);

const char *api_ctl_id(struct api_ctl *c);
/* The VM's state as GET /, the metrics and `vmon ps` show it: Paused also
 * while the VM layer holds a running VM paused by itself (a live
 * migration's final phase, and a migrated-away source until it ends). */
enum api_vm_state api_ctl_state(struct api_ctl *c);
/* Milliseconds since the VM started (0 before). */
uint64_t api_ctl_uptime_ms(struct api_ctl *c);
bool api_ctl_overcommit(struct api_ctl *c);

/* Runs fn on the configuration under the lock: pre-boot edits (fn may
 * refuse with -1 and err; the caller makes the change on a copy first,
 * so a refusal changes nothing) and reads. Returns fn's result. */
int api_ctl_with_config(struct api_ctl *c,
			int (*fn)(struct vm_config *cfg, enum api_vm_state state, void *arg,
				  struct vmon_error *err),
			void *arg, struct vmon_error *err);

/* ---- Start handshake ---- */

/* API thread: checks the configuration and asks the main thread to start
 * the VM; waits for the outcome. Returns 0 (Running), or -1 with err. */
int api_ctl_start(struct api_ctl *c, struct vmon_error *err);
/* Readable when a start was asked for (main thread's loop). */
int api_ctl_start_fd(struct api_ctl *c);
/* Main thread: takes the pending start request's configuration into
 * *cfg. Returns false if there is none. */
bool api_ctl_take_start(struct api_ctl *c, struct vm_config *cfg);
/* Main thread: the VM is built (it runs as soon as vm_run is called) or
 * could not be. */
void api_ctl_started(struct api_ctl *c, struct vm *vm);
void api_ctl_start_failed(struct api_ctl *c, const struct vmon_error *err);
/* Main thread: the VM has ended (vm_run returned): the state is Stopped,
 * its counters can still be read (the last metrics). */
void api_ctl_ended(struct api_ctl *c);
/* Main thread: the VM is about to be destroyed; later requests that need
 * it answer that it stopped. */
void api_ctl_stopped(struct api_ctl *c);

/* API thread: PUT /snapshot/load — like api_ctl_start, but the main
 * thread restores the VM from the snapshot (api_ctl_take_restore tells it
 * so) instead of building it from the configuration; paused after unless
 * resume. Only before the start. */
int api_ctl_load(struct api_ctl *c, const char *state_path, const char *mem_path, bool resume,
		 bool track, struct vmon_error *err);
/* Main thread, after api_ctl_take_start: whether the start asked for is
 * a restore, and from which files (cap bytes each); *track: the restored
 * VM tracks dirty pages (diff snapshots). */
bool api_ctl_take_restore(struct api_ctl *c, char *state_path, char *mem_path, size_t cap,
			  bool *resume, bool *track);

/* API thread: PUT /migrate/incoming (docs/migration.md) — like
 * api_ctl_load, but the main thread listens on p's endpoint for a live
 * migration. Returns 0 once it listens (the source may connect), or -1
 * with err (it cannot: nothing changed). From then on the VM is "Not
 * started" until the stream has arrived and the VM is built and runs
 * (api_ctl_started); a start, load or second incoming is refused
 * meanwhile; a bad stream or a refused guest ends vmon with one line, as
 * `vmon run --incoming` does. Only before the start. */
struct mig_incoming_params;
int api_ctl_incoming(struct api_ctl *c, const struct mig_incoming_params *p,
		     struct vmon_error *err);
/* Main thread, after api_ctl_take_start: whether the start asked for is
 * an incoming migration, and its parameters. */
bool api_ctl_take_incoming(struct api_ctl *c, struct mig_incoming_params *out);
/* Main thread: it listens; the request is answered (204). */
void api_ctl_incoming_listening(struct api_ctl *c);

/* ---- Running VM ---- */
/* PUT /snapshot/create: the VM must be paused (Firecracker's rule); a
 * diff needs the machine's track_dirty_pages. */
int api_ctl_snapshot(struct api_ctl *c, const char *state_path, const char *mem_path, bool diff,
		     struct vmon_error *err);

int api_ctl_pause(struct api_ctl *c, struct vmon_error *err);
int api_ctl_resume(struct api_ctl *c, struct vmon_error *err);
int api_ctl_stop(struct api_ctl *c, struct vmon_error *err);
int api_ctl_ctrl_alt_del(struct api_ctl *c, struct vmon_error *err);
int api_ctl_set_drive_path(struct api_ctl *c, const char *id, const char *path,
			   struct vmon_error *err);
/* PATCH /drives/{id}, /network-interfaces/{id}: rate limiters. */
int api_ctl_set_drive_limits(struct api_ctl *c, const char *id, const struct rl_update *u,
			     struct vmon_error *err);
int api_ctl_set_net_limits(struct api_ctl *c, const char *id, const struct rl_update *rx,
			   const struct rl_update *tx, struct vmon_error *err);
/* PATCH /balloon, GET and PATCH /balloon/statistics. */
int api_ctl_balloon_target(struct api_ctl *c, uint32_t mib, struct vmon_error *err);
int api_ctl_balloon_stats(struct api_ctl *c, struct balloon_stats *out, struct vmon_error *err);
int api_ctl_balloon_interval(struct api_ctl *c, unsigned seconds, struct vmon_error *err);
/* PUT /migrate, PUT /migrate/cancel, GET /migrate (vm/vm_migrate.h):
 * only while the VM runs (or is paused); the status also after it ended
 * by a completed migration. */
struct vm_migrate_params;
struct vm_migrate_status;
int api_ctl_migrate(struct api_ctl *c, const struct vm_migrate_params *p, struct vmon_error *err);
int api_ctl_migrate_cancel(struct api_ctl *c, struct vmon_error *err);
int api_ctl_migrate_status(struct api_ctl *c, struct vm_migrate_status *out,
			   struct vmon_error *err);

/* The running VM's counters (false, nothing called, before the start and
 * after the stop). */
bool api_ctl_stats(struct api_ctl *c, const struct vm_stats_visitor *v);
/* The backend running the VM ("kvm", "emu"), or NULL before the start. */
const char *api_ctl_backend(struct api_ctl *c);

#endif
