/* SPDX-License-Identifier: MIT */
/*
 * The runtime directory where running VMs register, so `vmon ps`,
 * `vmon pause ID`... find them: $VMON_RUNTIME_DIR (or --runtime-dir), else
 * $XDG_RUNTIME_DIR/vmon, else /run/vmon as root and /tmp/vmon-UID
 * otherwise; created 0700.
 *
 * Each VM owns ID.json there — {"id", "pid", "pid_start" (the process's
 * start time in clock ticks since boot, so a recycled pid is not taken
 * for it), "api_sock", "backend", "vcpus", "mem_mib", "state",
 * "started_unix_ms"} — claimed with O_EXCL when the VM starts, rewritten
 * (write, then rename) on every state change and removed at exit. An
 * entry whose process is gone (killed, crashed) is stale: claiming its id
 * and listing the directory remove it.
 *
 * Threads: a registration belongs to its VM's process; updates are
 * serialized by the caller.
 */
#ifndef VMON_CLI_REGISTRY_H
#define VMON_CLI_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "vm/vm_config.h"

#define REG_PATH_MAX 4096

struct reg_entry {
	char id[VM_ID_MAX];
	pid_t pid;
	uint64_t pid_start;
	char api_sock[REG_PATH_MAX];
	char backend[16];
	unsigned vcpus;
	uint64_t mem_mib;
	char state[16];
	uint64_t started_unix_ms;
};

/* The runtime directory (flag may be NULL), created if missing. Returns 0
 * with the path in out, or -1 with err. */
int registry_dir(const char *flag, char *out, size_t cap, struct vmon_error *err);

/* A fresh id: "vm-" and the pid. */
void registry_new_id(char *out, size_t cap);

/* Claims dir/ID.json for this process with e's contents (pid and
 * pid_start filled in here). Fails if a live VM has the id. */
int registry_claim(const char *dir, struct reg_entry *e, struct vmon_error *err);
/* Rewrites the entry (after a state change). */
int registry_update(const char *dir, const struct reg_entry *e, struct vmon_error *err);
/* Removes it. */
void registry_remove(const char *dir, const char *id);

/* Reads the live entries (stale ones are removed), sorted by id. *out is
 * malloc'd (the caller frees it). Returns the count, or -1 with err. */
int registry_list(const char *dir, struct reg_entry **out, struct vmon_error *err);
/* The live entry with this id. Returns 0, or -1 with err. */
int registry_find(const char *dir, const char *id, struct reg_entry *out, struct vmon_error *err);

/* Whether e's process still runs (same pid, same start time). */
bool registry_alive(const struct reg_entry *e);

/* The start time of process pid (field 22 of /proc/PID/stat), 0 if gone. */
uint64_t registry_pid_start(pid_t pid);

#endif
