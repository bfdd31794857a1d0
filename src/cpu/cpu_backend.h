/* SPDX-License-Identifier: MIT */
/*
 * A CPU backend runs the vCPUs of a struct machine: KVM (src/cpu/kvm) or
 * vmon's software x86-64 CPU (src/cpu/emu). Everything else in the machine
 * is shared; the backend owns the interrupt controllers (it installs
 * machine->irq, with irqfd MSI routes where it has them, and
 * machine->ioev if MMIO writes can signal eventfds without reaching vmon)
 * and turns guest port/MMIO accesses into bus_access() calls. destroy()
 * zeroes both.
 *
 * Call order (from the VM layer, one thread):
 *   create() -> devices register on the buses -> vcpu_create(i) for each
 *   vCPU -> one thread per vCPU calls vcpu_run(i) -> when machine->ctl
 *   says stop, the VM layer calls vcpu_kick(i) for all -> threads return
 *   -> destroy().
 *
 * Pause: vcpu_run checks vmctl_pause_requested(&m->ctl) wherever it checks
 * for a stop and then calls vmctl_park() (core/vm_control.h); the VM
 * layer asks with vmctl_set_pause and vcpu_kick.
 */
#ifndef VMON_CPU_CPU_BACKEND_H
#define VMON_CPU_CPU_BACKEND_H

#include <stdbool.h>

#include "core/device.h"
#include "core/error.h"
#include "core/machine.h"
#include "cpu/cpu_model.h"
#include "cpu/cpu_state.h"

struct cpu_backend {
	const char *name; /* "kvm", "emu" */
	/* Whether this backend can run on this host; err says why not. */
	bool (*available)(struct vmon_error *err);
	/* After guest RAM exists and before devices register: set up the VM
	 * and install m->irq and m->ioev. */
	int (*create)(struct machine *m, struct vmon_error *err);
	/* After the boot state is known (m->boot). vCPU 0 is the boot CPU;
	 * others wait for INIT/SIPI. */
	int (*vcpu_create)(struct machine *m, int index, struct vmon_error *err);
	/* Runs vCPU index on the calling thread until the machine stops. A
	 * guest-caused failure is reported through m->ctl, never by exiting. */
	void (*vcpu_run)(struct machine *m, int index);
	/* From any thread: make vcpu_run notice m->ctl promptly. */
	void (*vcpu_kick)(struct machine *m, int index);
	void (*destroy)(struct machine *m);
	/* The backend's own device objects (core/device.h): its interrupt
	 * controllers and timers, from create() to destroy() (a reboot makes
	 * new ones). Fills out[] and returns how many (at most max). They
	 * have no create/destroy: the backend makes and frees them. */
	unsigned (*devices)(struct machine *m, struct device_ref *out, unsigned max);
	/* Counters of vCPU index (exits per reason on KVM, instructions on
	 * the software CPU). Any thread, while the vCPU exists. */
	void (*vcpu_stats)(struct machine *m, int index, const struct stats_sink *out);

	/* Snapshots, in the neutral form of cpu/cpu_state.h, so a snapshot
	 * taken on one backend restores on the other. Called with every
	 * vCPU parked (get) or created but not yet run (set); set gets a
	 * state the loader checked. NULL: this backend cannot save. */
	int (*vcpu_get_state)(struct machine *m, int index, struct cpu_state *out,
			      struct vmon_error *err);
	int (*vcpu_set_state)(struct machine *m, int index, const struct cpu_state *in,
			      struct vmon_error *err);
	/* The PIC pair, IOAPIC and PIT. */
	int (*chips_get)(struct machine *m, struct chip_state *out, struct vmon_error *err);
	int (*chips_set)(struct machine *m, const struct chip_state *in, struct vmon_error *err);
	/* The CPU features the guest sees (after create()). */
	void (*features)(struct machine *m, struct cpu_featureset *out);
	/* The CPU features this backend could give a guest on this host,
	 * before any VM exists (a migration target checks the guest's
	 * against them before the source pauses). NULL: it cannot tell
	 * early; creating the VM (cpu_model_resolve) is the only check.
	 * -1 with err where the backend cannot be reached (no /dev/kvm). */
	int (*offered)(struct cpu_featureset *out, struct vmon_error *err);
	/* The dirty log (core/guest_mem_dirty.h), for live migration and
	 * diff snapshots. All under the VM's control lock; any thread, the
	 * VM running or paused. NULL dirty_flush: this backend cannot track
	 * dirty pages. The user of the log calls, in this order:
	 *   dirty_log(on) when the log starts (gm_dirty_logging() true) or
	 *     stops (false): the backend starts or stops its own logging
	 *     (KVM: KVM_MEM_LOG_DIRTY_PAGES on the RAM slots). A backend
	 *     made while the log runs (a reboot) logs from the start; one
	 *     destroyed while it runs syncs first. NULL: nothing to do.
	 *   dirty_sync before every collect: merges the stores the backend
	 *     logged itself into the log (KVM_GET_DIRTY_LOG) and re-arms
	 *     them. NULL: its stores mark the log as they happen.
	 *   dirty_flush after every collect: returns once every guest store
	 *     from now on marks its page again (the software CPU flushes
	 *     every vCPU's TLB). */
	int (*dirty_log)(struct machine *m, bool on, struct vmon_error *err);
	int (*dirty_sync)(struct machine *m, struct vmon_error *err);
	int (*dirty_flush)(struct machine *m, struct vmon_error *err);
};

extern const struct cpu_backend cpu_backend_kvm;
extern const struct cpu_backend cpu_backend_emu;

#endif
