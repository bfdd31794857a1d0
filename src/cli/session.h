/* SPDX-License-Identifier: MIT */
/*
 * One vmon process's VM with its control plane, as `vmon run` and
 * `vmon api` start it: the runtime-directory registration (registry.h),
 * the API server on its socket (api/api.h), and the VM's life on the main
 * thread — built at once (`run`, or `api` with a config file that names
 * a kernel) or when PUT /actions InstanceStart arrives — until it ends.
 *
 * Threads: the main thread; the API runs on its own.
 */
#ifndef VMON_CLI_SESSION_H
#define VMON_CLI_SESSION_H

#include <stdbool.h>

#include "api/config_json.h"
#include "core/seccomp.h"
#include "vm/migrate_tls.h"
#include "vm/vm_config.h"
#include "vm/vmstate.h"

struct vm_incoming;

struct session_opts {
	const char *id;		 /* NULL: a fresh one */
	const char *api_sock;	 /* NULL: ID.sock in the runtime directory */
	bool no_api;		 /* no API socket (and no registration) */
	const char *runtime_dir; /* NULL: registry_dir's default */
	bool start_now;		 /* build the VM at once (cfg must be complete) */
	bool overcommit;
	enum vmon_seccomp_mode seccomp;	    /* --seccomp (zero: on) */
	const struct api_file_config *file; /* logger and metrics from a config file */
	/* start_now from a snapshot (`vmon restore`): cfg is
	 * vm_restore_config's, RAM the memory file restore_mem. */
	const struct vmstate *restore;
	const char *restore_mem;
	bool restore_paused; /* the vCPUs wait for a resume (API or `vmon resume`) */
	/* start_now from an incoming migration (`vmon run --incoming`):
	 * its stream's opening read (vm_incoming_open; cfg from it), the VM
	 * is built, the rest received and the handshake made here. */
	struct vm_incoming *incoming;
};

/* Runs the session; returns vmon's exit status. Bad input ends the
 * process with one line on stderr and status 2, after removing what the
 * session had made. */
int session_run(const struct session_opts *o, const struct vm_config *cfg);

#endif
