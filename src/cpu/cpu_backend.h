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
 */
#ifndef VMON_CPU_CPU_BACKEND_H
#define VMON_CPU_CPU_BACKEND_H

#include <stdbool.h>

#include "core/error.h"
#include "core/machine.h"

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
};

extern const struct cpu_backend cpu_backend_kvm;
extern const struct cpu_backend cpu_backend_emu;

#endif
