/* SPDX-License-Identifier: MIT */
/*
 * One virtual machine: wires a vm_config into guest RAM, buses, devices, a
 * CPU backend, one thread per vCPU and the main event loop, runs it until
 * the guest or the user ends it, and says how it ended. While it runs,
 * the control plane (the API server's thread) may pause and resume it,
 * stop it, press Ctrl-Alt-Del, swap a drive's image and read its
 * counters.
 *
 * Threads: vm_create, vm_run and vm_destroy on one thread — the process's
 * main thread, which becomes the VM's event loop (console input, signals)
 * inside vm_run. The control functions below may be called from any other
 * thread between vm_create and vm_destroy; they serialize among
 * themselves and with the reboot path.
 */
#ifndef VMON_VM_VM_H
#define VMON_VM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/device.h"
#include "core/error.h"
#include "devices/virtio/virtio_balloon.h"
#include "vm/vm_config.h"

struct cpu_backend;
struct vm;

/* The backend a choice means on this host (auto: see vm_config.h). */
const struct cpu_backend *vm_backend_resolve(enum vm_backend_choice choice);

/* Builds the machine described by cfg (copied): RAM, firmware tables and
 * image, devices and their threads, the backend and its vCPUs; nothing
 * runs the guest yet. Everything the user named is opened before the CPU
 * backend, so each bad input is reported as such first. Returns 0, or -1
 * with err (nothing left behind). */
__attribute__((warn_unused_result)) int vm_create(struct vm **out, const struct vm_config *cfg,
						  struct vmon_error *err);

/* Builds the machine a snapshot describes and loads its state: cfg is
 * vm_restore_config(st)'s (a front end may have changed host-side paths
 * and the backend), guest RAM is mem_path mapped MAP_PRIVATE (lazy,
 * shared by every VM restored from it). Then vm_run continues the guest
 * where it was saved. Returns 0, or -1 with err (a bad file, a device
 * or CPU feature this machine cannot give). */
struct vmstate;
__attribute__((warn_unused_result)) int
vm_create_restored(struct vm **out, const struct vm_config *cfg, const struct vmstate *st,
		   const char *mem_path, struct vmon_error *err);

/* Builds the machine a version-1 or 2 migration stream describes, once
 * it was read whole (st from the stream, cfg vm_restore_config(st)'s,
 * possibly changed as for a restore); mem is the RAM received, taken
 * over by the VM (left empty). A version-3 stream's machine is built
 * before its pages: vm_build_incoming below.
 * Returns 0, or -1 with err. Either way mem may then be gm_destroy()ed
 * (a no-op once the VM took it). */
struct guest_mem;
__attribute__((warn_unused_result)) int
vm_create_incoming(struct vm **out, const struct vm_config *cfg, const struct vmstate *st,
		   struct guest_mem *mem, struct vmon_error *err);

/* A version-3 migration stream's target: builds the machine before the
 * pages come, from cfg (vm_restore_config of the stream's machine
 * record, possibly changed as for a restore, with cfg->incoming set):
 * fresh RAM (zero), the disks opened without their image locks (the
 * source holds them until it has flushed), devices, the backend and the
 * vCPUs; no image is loaded and nothing runs. The stream's pages go
 * into vm_incoming_ram; nothing else writes it until vm_incoming_load,
 * which takes the disks' locks (-1 with err: another process holds one)
 * and loads st's device, interrupt-controller and vCPU state (every
 * value checked, as a restore's). Then vm_run continues the guest.
 * Return 0, or -1 with err (nothing left behind by the build). */
__attribute__((warn_unused_result)) int
vm_build_incoming(struct vm **out, const struct vm_config *cfg, struct vmon_error *err);
struct guest_mem *vm_incoming_ram(struct vm *vm);
__attribute__((warn_unused_result)) int vm_incoming_load(struct vm *vm, const struct vmstate *st,
							 struct vmon_error *err);

#define VM_DIFF_NEEDS_TRACKING                                                                     \
	"a Diff snapshot needs dirty-page tracking: start the VM with track_dirty_pages "          \
	"(machine-config, snapshot/load, or vmon run --track-dirty-pages), or take a \"Full\" "    \
	"one"

/* Writes a snapshot of a paused VM: the vmstate file and the memory file
 * (docs/snapshot.md), full or, with diff, only the pages written since
 * the last snapshot (needs cfg->machine.track_dirty_pages). Any thread
 * but the VM's own. Returns 0, or -1 with err (not paused; no tracking
 * for a diff; a device that cannot be saved; I/O errors). */
__attribute__((warn_unused_result)) int vm_snapshot(struct vm *vm, const char *vmstate_path,
						    const char *mem_path, bool diff,
						    struct vmon_error *err);

/* Runs the guest to its end (reboots included unless cfg->no_reboot).
 * Returns vmon's exit status (>= 0), or -1 with err when a reboot could
 * not set the machine up again. */
int vm_run(struct vm *vm, struct vmon_error *err);

/* Frees everything vm_create made. NULL is a no-op. */
void vm_destroy(struct vm *vm);

/* The config the VM was built from (never changes, but the drives' paths
 * vm_set_drive_path updates). */
const struct vm_config *vm_get_config(struct vm *vm);
const char *vm_backend_name(struct vm *vm);

/* Parks every vCPU and returns once they stand still (the guest runs no
 * instruction until vm_resume; device threads finish what they had).
 * Idempotent. Returns 0, or -1 with err (the VM is stopping). */
int vm_pause(struct vm *vm, struct vmon_error *err);
int vm_resume(struct vm *vm, struct vmon_error *err);
bool vm_paused(struct vm *vm);

/* Ends the VM as a user's quit would (vmon exits with status). */
void vm_request_stop(struct vm *vm, int status);

/* Presses Ctrl-Alt-Del on the i8042's keyboard. Returns 0, or -1 with
 * err (its buffer is full: the guest is not reading it). */
int vm_send_ctrl_alt_del(struct vm *vm, struct vmon_error *err);

/* Swaps the image of drive id (virtio_blk_set_path). Returns 0, or -1
 * with err (no such drive, bad image: nothing changed). */
int vm_set_drive_path(struct vm *vm, const char *id, const char *path, struct vmon_error *err);

/* Changes the rate limiter of drive id, or the receive/transmit limiters
 * of NIC id (NULL: unchanged), on the running VM. Returns 0, or -1 with
 * err (no such device). */
int vm_set_drive_limits(struct vm *vm, const char *id, const struct rl_update *u,
			struct vmon_error *err);
/* The balloon: a new target in MiB (at most the guest's memory), its
 * statistics, a new statistics interval. Return 0, or -1 with err (no
 * balloon, out of range). */
int vm_balloon_set_target(struct vm *vm, uint32_t mib, struct vmon_error *err);
int vm_balloon_get_stats(struct vm *vm, struct balloon_stats *out, struct vmon_error *err);
int vm_balloon_set_interval(struct vm *vm, unsigned seconds, struct vmon_error *err);
int vm_set_net_limits(struct vm *vm, const char *id, const struct rl_update *rx,
		      const struct rl_update *tx, struct vmon_error *err);

/* Counters for metrics: every device's (kind and id given), then every
 * vCPU's. Any thread. */
struct vm_stats_visitor {
	void (*device)(void *opaque, const char *id, const char *kind, const char *name,
		       uint64_t value);
	void (*vcpu)(void *opaque, int index, const char *name, uint64_t value);
	void *opaque;
};
void vm_stats(struct vm *vm, const struct vm_stats_visitor *v);

#endif
