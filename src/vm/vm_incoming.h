/* SPDX-License-Identifier: MIT */
/*
 * The target of a live migration (docs/migration.md), from the accepted
 * connection to the built machine, for both front ends (`vmon run
 * --incoming`, PUT /migrate/incoming): the stream's opening first
 * (vm_incoming_open: the config the machine is built from), then the
 * front end's host-side changes to that config, then vm_incoming_build,
 * then the handshake (migrate_incoming_handshake on vm_incoming_conn).
 *
 * A version-3 stream names its machine before any page: the machine is
 * built (devices, backend, vCPUs; disks unlocked) and accepted before
 * round 0, the pages land straight in its RAM, and after the end record
 * only the state is loaded and the disks locked. Older streams carry the
 * machine only in their state: read whole first, then built as before.
 *
 * Every failure is one line in err, the source told when it waits for
 * an answer (vm_incoming_refuse), nothing of the VM left behind.
 *
 * Threads: the front end's main thread (before the VM runs).
 */
#ifndef VMON_VM_VM_INCOMING_H
#define VMON_VM_VM_INCOMING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/guest_mem.h"
#include "vm/migrate_stream.h"
#include "vm/vm_config.h"
#include "vm/vm_cpu_offer.h"
#include "vm/vmstate.h"

struct vm;

struct vm_incoming {
	struct mig_conn *conn;
	struct mig_rx *rx;
	struct mig_source src;
	struct mig_cpu_gate gate;
	struct vmstate machine; /* v3: the machine record */
	struct vmstate st;	/* the state (v1, v2: from open on) */
	struct guest_mem mem;	/* v1, v2: the RAM received before the build */
	bool early;		/* v3: built before the pages */
	uint64_t pages;		/* pages received */
};

/* Reads the opening of the stream on conn (a v1 or v2 stream: all of
 * it), the CPU features checked against offer, into *cfg: the machine's
 * config as vm_restore_config gives it (cfg->incoming set for a v3
 * stream). Returns 0, or -1 with err (the source told when it waits). */
__attribute__((warn_unused_result)) int
vm_incoming_open(struct vm_incoming *in, struct mig_conn *conn, const struct vm_cpu_offer *offer,
		 struct vm_config *cfg, struct vmon_error *err);
/* Builds the VM from cfg (the front end's changes made), receives the
 * rest of a v3 stream into it and loads its state. Returns 0 with *out
 * (not running; the handshake is next), or -1 with err. */
__attribute__((warn_unused_result)) int vm_incoming_build(struct vm_incoming *in, struct vm **out,
							  const struct vm_config *cfg,
							  struct vmon_error *err);
/* Tells the source the machine cannot be had (why: one line) and closes
 * the connection: the front end's own checks failed between open and
 * build. */
void vm_incoming_refuse(struct vm_incoming *in, const char *why);
struct mig_conn *vm_incoming_conn(struct vm_incoming *in);
/* Frees what open and build kept (not the VM, nor the connection). */
void vm_incoming_free(struct vm_incoming *in);

#endif
