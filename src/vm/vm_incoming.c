/* SPDX-License-Identifier: MIT */
/*
 * The target of a live migration, between the connection and the
 * handshake (vm_incoming.h). What runs when, for a version-3 stream:
 *
 *   open    header, CPU record (checked: refused at once), machine record
 *   build   the machine from it (+ the front end's changes), then 'A':
 *           the source starts round 0 only now
 *   rest    the pages, straight into the built machine's RAM; the sync
 *           record answered; the state; the end
 *   load    the state's machine must be the record's; the disks' locks
 *           (the source let them go before its end record); device,
 *           interrupt-controller and vCPU state
 *
 * so that inside the guest's downtime only "load" is left, not the
 * build. Signals: the VM's build blocks SIGINT, SIGTERM and SIGHUP on
 * this thread (vm_run takes them from a signalfd); while the pages come
 * the thread's mask from before the build is back, so that a target
 * waiting on a stalled source is stopped as it was before version 3
 * (`vmon run --incoming`: their default action; `vmon api`: its own
 * signalfd, once the VM is built).
 */
#include "vm/vm_incoming.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "vm/vm.h"
#include "vm/vm_snapshot.h"

static int offer_check(void *opaque, const struct cpu_featureset *guest, struct vmon_error *err)
{
	return vm_cpu_offer_check(opaque, guest, err);
}

static int conn_write(void *opaque, const void *buf, size_t n, struct vmon_error *err)
{
	return mig_conn_write(opaque, buf, n, err);
}

struct mig_conn *vm_incoming_conn(struct vm_incoming *in)
{
	return in->conn;
}

void vm_incoming_refuse(struct vm_incoming *in, const char *why)
{
	/* Before the opening's answer (v3), the refusal is that answer. */
	if (in->rx && mig_recv_answer(in->rx, why))
		mig_conn_close(in->conn);
	else
		migrate_incoming_refuse(in->conn, why);
}

int vm_incoming_open(struct vm_incoming *in, struct mig_conn *conn,
		     const struct vm_cpu_offer *offer, struct vm_config *cfg,
		     struct vmon_error *err)
{
	memset(in, 0, sizeof(*in));
	in->mem.memfd = -1;
	in->conn = conn;
	in->src = (struct mig_source){.read = mig_conn_read, .write = conn_write, .opaque = conn};
	in->gate = (struct mig_cpu_gate){.check = offer_check, .opaque = (void *)offer};
	if (mig_recv_open(&in->rx, &in->src, &in->gate, MIG_MAX_RAM, &in->machine, NULL, err) < 0)
		return -1;
	in->early = mig_rx_version(in->rx) >= MIG_VERSION_EARLY;
	if (in->early) {
		if (vm_restore_machine_config(&in->machine, cfg, err) < 0) {
			vm_incoming_refuse(in, err->msg);
			return -1;
		}
		cfg->incoming = true;
		return 0;
	}
	/* An older source: the machine is known once the state is in. */
	if (gm_create(&in->mem, mig_rx_ram(in->rx), err) < 0 ||
	    mig_recv_rest(in->rx, &in->mem, &in->st, &in->pages, err) < 0)
		return -1;
	if (vm_restore_config(&in->st, cfg, err) < 0) {
		vm_incoming_refuse(in, err->msg);
		return -1;
	}
	return 0;
}

/* The rest of a v3 stream into the built vm, then its state; the
 * thread's signal mask is before's meanwhile. */
static int receive_into(struct vm_incoming *in, struct vm *vm, const struct vm_config *cfg,
			const sigset_t *before, struct vmon_error *err)
{
	sigset_t built;
	pthread_sigmask(SIG_SETMASK, before, &built);
	int r = mig_recv_rest(in->rx, vm_incoming_ram(vm), &in->st, &in->pages, err);
	pthread_sigmask(SIG_SETMASK, &built, NULL);
	if (r < 0)
		return -1; /* the source sees the connection close */
	if (vm_state_same_machine(&in->machine, &in->st, err) < 0 ||
	    vm_state_cpus_match(&in->st, cfg, err) < 0 || vm_incoming_load(vm, &in->st, err) < 0) {
		vm_incoming_refuse(in, err->msg);
		return -1;
	}
	return 0;
}

int vm_incoming_build(struct vm_incoming *in, struct vm **out, const struct vm_config *cfg,
		      struct vmon_error *err)
{
	*out = NULL;
	struct vm *vm = NULL;
	if (!in->early) {
		if (vm_create_incoming(&vm, cfg, &in->st, &in->mem, err) < 0) {
			vm_incoming_refuse(in, err->msg);
			return -1;
		}
		*out = vm;
		return 0;
	}
	sigset_t before;
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	if (vm_build_incoming(&vm, cfg, err) < 0) {
		vm_incoming_refuse(in, err->msg);
		return -1;
	}
	(void)mig_recv_answer(in->rx, NULL);
	if (receive_into(in, vm, cfg, &before, err) < 0) {
		vm_destroy(vm);
		return -1;
	}
	*out = vm;
	return 0;
}

void vm_incoming_free(struct vm_incoming *in)
{
	mig_rx_free(in->rx);
	in->rx = NULL;
	vmstate_free(&in->machine);
	vmstate_free(&in->st);
	gm_destroy(&in->mem);
}
