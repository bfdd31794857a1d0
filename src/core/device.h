/* SPDX-License-Identifier: MIT */
/*
 * The device object: the one interface through which the VM layer
 * creates, resets, destroys, counts and (with the snapshot step) saves
 * and restores every device of the machine — the legacy devices, the PCI
 * host, each virtio device, and, through the CPU backend, the interrupt
 * controllers and timers of each backend. The VM keeps a list of them
 * (src/vm/vm_devices.h) and every whole-machine operation is a loop over
 * that list.
 *
 * A device kind exports one `const struct device_ops` (designated
 * initialisers, next to the device's code) and a params struct, declared
 * in its header, that create() takes: what the VM layer decided for this
 * instance (ports and GSIs from core/layout.h, the host side from the
 * machine config, the event loop it is to subscribe to). The device's
 * state stays behind an opaque pointer.
 *
 * Saved state: save() writes the device's state as a blob that only the
 * device reads back, tagged with its kind and state_version; restore()
 * gets the blob and the version it was written with, and must check every
 * field (a state file is untrusted input, like the guest). A kind whose
 * save is NULL cannot be saved yet, and a snapshot of a machine holding
 * one is refused with a message naming it.
 *
 * Threads: create/destroy on the setup thread; reset with no vCPU
 * running; stats from any thread (counters are atomics or read under the
 * device's lock); save/restore with the vCPUs parked and the device's
 * event loop stopped.
 */
#ifndef VMON_CORE_DEVICE_H
#define VMON_CORE_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct guest_mem;
struct bus;
struct irq_router;
struct ioeventfd_router;
struct vm_control;
struct event_loop;
struct pci_host;
struct state_writer;
struct state_reader;

/* What every device may use, owned by the VM layer and outliving every
 * device. */
struct device_env {
	struct guest_mem *mem;
	struct bus *pio, *mmio;
	struct irq_router *irq;	       /* filled by the backend; devices keep the pointer */
	struct ioeventfd_router *ioev; /* likewise */
	struct vm_control *ctl;
	struct event_loop *main_loop; /* console input (the main thread) */
	struct pci_host *pci;	      /* the PCI host, once it exists (NULL before) */
};

/* Where stats() reports: one call per counter. Names are snake_case and
 * stable (metrics consumers key on them). */
struct stats_sink {
	void (*counter)(void *opaque, const char *name, uint64_t value);
	void *opaque;
};

static inline void stats_put(const struct stats_sink *s, const char *name, uint64_t value)
{
	s->counter(s->opaque, name, value);
}

struct device_ops {
	const char *kind;	/* "uart16550", "virtio-blk"...: names the saved state too */
	uint32_t state_version; /* of the blob save() writes */
	/* Creates an instance from params (the kind's own struct) and
	 * plugs it into env's buses. On failure *dev may be set (then
	 * destroy it). Backend devices have none: the backend creates them. */
	int (*create)(void **dev, const struct device_env *env, const void *params,
		      struct vmon_error *err);
	/* Power-on state for a guest reset. NULL: nothing to reset. */
	void (*reset)(void *dev);
	/* Frees, after every thread that could reach the device stopped. */
	void (*destroy)(void *dev);
	/* Reports counters. NULL: none. */
	void (*stats)(void *dev, const struct stats_sink *out);
	/* Writes the device's state. NULL: this kind cannot be saved yet. */
	int (*save)(void *dev, struct state_writer *w, struct vmon_error *err);
	/* Reads back what save wrote (version: the writer's state_version).
	 * Every value is checked; -1 with err on anything out of range. */
	int (*restore)(void *dev, struct state_reader *r, uint32_t version, struct vmon_error *err);
	/* Once the whole machine was restored (a snapshot or an incoming
	 * migration: every device, the interrupt controllers, the vCPUs),
	 * before the guest runs again: what a device does about having
	 * moved (virtio-net announces the guest on the network). NULL:
	 * nothing. On the setup thread; the device's loop may not run yet
	 * (a device kicks it to do work there). */
	void (*restored)(void *dev);
};

/* A device as lists hold it. */
struct device_ref {
	const char *id; /* "com1", "blk0"... unique in the machine */
	const struct device_ops *ops;
	void *dev;
};

#endif
