/* SPDX-License-Identifier: MIT */
/*
 * Firecracker's JSON objects <-> vmon's vm_config: the bodies of the API's
 * PUT/PATCH requests and the sections of a config file (--config-file:
 * the same objects under "boot-source", "drives", "machine-config",
 * "network-interfaces", "vsock", "entropy", "serial", "logger",
 * "metrics"), and the JSON that GET /machine-config and GET /vm/config
 * return. docs/api.md lists the fields and vmon's additions (all named
 * vmon_*).
 *
 * Parsing is strict: a body that is not an object, an unknown field, a
 * field of the wrong type, a value out of range or a required field
 * missing is an error naming the field, and the output is not touched
 * (every parser fills a local copy first).
 *
 * Threads: pure functions (the file checks open files named in them).
 */
#ifndef VMON_API_CONFIG_JSON_H
#define VMON_API_CONFIG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/log.h"
#include "vm/vm_config.h"

/* PUT /logger */
struct api_logger_cfg {
	char path[VM_PATH_MAX];
	enum vlog_level level; /* Info by default */
	bool off;	       /* level "Off" */
	bool show_level, show_origin;
	char module[128]; /* only messages whose origin starts with it; "" all */
};

/* PUT /metrics */
struct api_metrics_cfg {
	char path[VM_PATH_MAX];
	bool emit_id;
	char properties[2048]; /* the "properties" object, serialized ("" none) */
	uint64_t interval_ms;  /* vmon_flush_interval_ms; Firecracker's 60 s by default */
};

/* A whole config file's worth. */
struct api_file_config {
	bool has_logger, has_metrics;
	struct api_logger_cfg logger;
	struct api_metrics_cfg metrics;
};

/* A MAC address "XX:XX:XX:XX:XX:XX", unicast only (the API's guest_mac
 * and the command line's mac=). Returns 0 or -1 (no message). */
int api_parse_mac(const char *s, uint8_t mac[6]);

/* ---- Request bodies into typed pieces (nothing written on error) ---- */

/* o must be an object whose keys are all in allowed (NULL-terminated);
 * else one line naming what and the first unknown key. */
int api_json_fields(const json_t *o, const char *what, const char *const *allowed,
		    struct vmon_error *err);

int api_json_boot_source(json_t *o, struct vm_boot_config *out, struct vmon_error *err);
/* path_id: the {drive_id} of the URL (NULL in a config file); the body's
 * drive_id must match it. */
int api_json_drive(json_t *o, const char *path_id, struct vm_drive_config *out,
		   struct vmon_error *err);
/* PATCH /drives/{id}: path_on_host (into path; "" if absent) and/or
 * rate_limiter (into rl). */
int api_json_drive_patch(json_t *o, const char *path_id, char *path, size_t cap,
			 struct rl_update *rl, struct vmon_error *err);
/* PATCH /network-interfaces/{id}: rx_rate_limiter and/or tx_rate_limiter. */
int api_json_net_patch(json_t *o, const char *path_id, struct rl_update *rx, struct rl_update *tx,
		       struct vmon_error *err);
/* PUT (patch false: vcpu_count and mem_size_mib required) or PATCH of
 * machine-config onto io. overcommit: memory may exceed the host's. */
int api_json_machine(json_t *o, bool patch, bool overcommit, struct vm_machine_config *io,
		     struct vmon_error *err);
int api_json_net(json_t *o, const char *path_id, struct vm_net_config *out, struct vmon_error *err);
int api_json_vsock(json_t *o, struct vm_vsock_config *out, struct vmon_error *err);
int api_json_entropy(json_t *o, struct rl_config *out, struct vmon_error *err);
int api_json_serial(json_t *o, struct chardev_spec *out, struct vmon_error *err);
int api_json_logger(json_t *o, struct api_logger_cfg *out, struct vmon_error *err);
int api_json_metrics(json_t *o, struct api_metrics_cfg *out, struct vmon_error *err);
/* PATCH /vm: "Paused" (*pause true) or "Resumed". */
int api_json_vm_state(json_t *o, bool *pause, struct vmon_error *err);
/* PUT /snapshot/create: snapshot_path and mem_file_path (cap bytes
 * each); snapshot_type "Full" (the default) or "Diff" (*diff). */
int api_json_snapshot_create(json_t *o, char *state, char *mem, size_t cap, bool *diff,
			     struct vmon_error *err);
/* PUT /snapshot/load: snapshot_path, and mem_backend {backend_type "File",
 * backend_path} or the older mem_file_path; resume_vm (false if absent);
 * track_dirty_pages (or the older enable_diff_snapshots) into *track. */
int api_json_snapshot_load(json_t *o, char *state, char *mem, size_t cap, bool *resume, bool *track,
			   struct vmon_error *err);
/* PUT /actions: the action_type. */
int api_json_action(json_t *o, char *action, size_t cap, struct vmon_error *err);

/* ---- Adding to a configuration (pre-boot) ---- */

/* Replaces the drive / NIC with the same id or appends it; refuses a
 * second root device, too many devices or virtio-mmio windows. */
int api_cfg_put_drive(struct vm_config *cfg, const struct vm_drive_config *d,
		      struct vmon_error *err);
int api_cfg_put_net(struct vm_config *cfg, const struct vm_net_config *n, struct vmon_error *err);
int api_cfg_put_vsock(struct vm_config *cfg, const struct vm_vsock_config *v,
		      struct vmon_error *err);

/* ---- Output ---- */

json_t *api_json_machine_out(const struct vm_machine_config *m);
/* GET /vm/config (Firecracker's FullVmConfiguration); logger and metrics
 * may be NULL. */
json_t *api_json_full_config(const struct vm_config *cfg, const struct api_logger_cfg *logger,
			     const struct api_metrics_cfg *metrics);

/* ---- Config files ---- */

/* Loads a config file (--config-file) into cfg (starting from what cfg
 * holds) and x. Returns 0, or -1 with one line in err naming the file. */
int api_config_file_load(const char *path, struct vm_config *cfg, bool overcommit,
			 struct api_file_config *x, struct vmon_error *err);

#endif
