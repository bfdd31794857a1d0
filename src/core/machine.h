/* SPDX-License-Identifier: MIT */
/*
 * The machine model shared by every CPU backend: RAM, the two buses, the
 * interrupt router the backend installs, the stop control, the vCPU count
 * and the boot vCPU's initial state. Devices see only the buses, memory,
 * an irq_line and vm_control; CPU backends see this struct.
 *
 * Ownership: the VM layer (src/vm) creates and destroys it; the backend
 * stores its private state in backend_priv.
 */
#ifndef VMON_CORE_MACHINE_H
#define VMON_CORE_MACHINE_H

#include "core/bus.h"
#include "core/cpu_init.h"
#include "core/guest_mem.h"
#include "core/ioeventfd.h"
#include "core/irq.h"
#include "core/vm_control.h"

#define VMON_MAX_CPUS 64

struct cpu_backend;
struct cpu_model; /* src/cpu/cpu_model.h */

struct machine {
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct irq_router irq; /* installed by the backend's create() */
	/* Installed by the backend's create() if it has the fast path;
	 * zeroed by its destroy(). */
	struct ioeventfd_router ioev;
	struct vm_control ctl;
	int ncpus;
	struct boot_cpu_state boot;
	const struct cpu_backend *backend;
	void *backend_priv;
	/* Print a line for every unclaimed port/MMIO access (--trace-io). */
	int trace_unclaimed_io;
	/* The guest-visible CPU features asked for (--cpu-features); NULL:
	 * everything the backend offers. Read by the backend's create(). */
	const struct cpu_model *cpu_model;
	/* --nested: offer the guest the host's virtualization extension
	 * (SVM or VMX) so it can run its own KVM guests. */
	bool nested;
};

#endif
