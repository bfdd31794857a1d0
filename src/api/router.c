/* SPDX-License-Identifier: MIT */
/*
 * Request handling: route by method and path, parse the body, check the
 * VM's state, act through the api_ctl, answer. See api.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_priv.h"
#include "api/balloon_json.h"
#include "api/migrate_json.h"
#include "core/log.h"

#define PRE_BOOT_ONLY "the requested operation is not supported after starting the microVM"

struct req {
	struct api *a;
	const char *method, *path;
	json_t *body;	/* parsed, or NULL for requests without one */
	const char *id; /* the {id} of /drives/{id}, /network-interfaces/{id} */
	struct vmon_error err;
};

static void answer(struct api_response *out, unsigned status, json_t *body)
{
	out->status = status;
	out->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
}

/* Messages quote what the client sent (a path), which need not be UTF-8:
 * anything but printable ASCII becomes '?' so the answer is valid JSON. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static void fault(struct api_response *out, unsigned status, const char *msg)
{
	char m[VMON_ERROR_MAX];
	snprintf(m, sizeof(m), "%s", msg);
	printable(m);
	answer(out, status, json_pack("{s:s}", "fault_message", m));
}

/* ---- Configuration changes, pre-boot only ---- */

/* Each runs under the ctl's lock on its configuration (api_ctl_with_config). */
struct change {
	struct req *r;
	bool overcommit;
	union {
		struct vm_boot_config boot;
		struct vm_drive_config drive;
		struct vm_net_config net;
		struct vm_vsock_config vsock;
		struct chardev_spec serial;
		struct rl_config entropy_rl;
		struct vm_balloon_config balloon;
	} u;
	bool patch;
};

static int pre_boot(enum api_vm_state state, struct vmon_error *err)
{
	return state == API_NOT_STARTED ? 0 : err_setf(err, PRE_BOOT_ONLY);
}

static int apply_boot(struct vm_config *cfg, enum api_vm_state st, void *arg,
		      struct vmon_error *err)
{
	struct change *c = arg;
	if (pre_boot(st, err) < 0)
		return -1;
	cfg->boot = c->u.boot;
	return 0;
}

static int apply_machine(struct vm_config *cfg, enum api_vm_state st, void *arg,
			 struct vmon_error *err)
{
	struct change *c = arg;
	if (pre_boot(st, err) < 0)
		return -1;
	return api_json_machine(c->r->body, c->patch, c->overcommit, &cfg->machine, err);
}

static int apply_drive(struct vm_config *cfg, enum api_vm_state st, void *arg,
		       struct vmon_error *err)
{
	struct change *c = arg;
	return pre_boot(st, err) < 0 ? -1 : api_cfg_put_drive(cfg, &c->u.drive, err);
}

static int apply_net(struct vm_config *cfg, enum api_vm_state st, void *arg, struct vmon_error *err)
{
	struct change *c = arg;
	return pre_boot(st, err) < 0 ? -1 : api_cfg_put_net(cfg, &c->u.net, err);
}

static int apply_vsock(struct vm_config *cfg, enum api_vm_state st, void *arg,
		       struct vmon_error *err)
{
	struct change *c = arg;
	return pre_boot(st, err) < 0 ? -1 : api_cfg_put_vsock(cfg, &c->u.vsock, err);
}

static int apply_entropy(struct vm_config *cfg, enum api_vm_state st, void *arg,
			 struct vmon_error *err)
{
	struct change *c = arg;
	if (pre_boot(st, err) < 0)
		return -1;
	cfg->entropy = true;
	cfg->entropy_rl = c->u.entropy_rl;
	return 0;
}

static int apply_balloon(struct vm_config *cfg, enum api_vm_state st, void *arg,
			 struct vmon_error *err)
{
	struct change *c = arg;
	if (pre_boot(st, err) < 0)
		return -1;
	if ((uint64_t)c->u.balloon.amount_mib << 20 > cfg->machine.mem_size)
		return err_setf(
			err, "balloon: amount_mib %u is more than the guest's memory (%llu MiB)",
			c->u.balloon.amount_mib, (unsigned long long)(cfg->machine.mem_size >> 20));
	cfg->has_balloon = true;
	cfg->balloon = c->u.balloon;
	return 0;
}

static int apply_serial(struct vm_config *cfg, enum api_vm_state st, void *arg,
			struct vmon_error *err)
{
	struct change *c = arg;
	if (pre_boot(st, err) < 0)
		return -1;
	cfg->serial = c->u.serial;
	return 0;
}

/* Pre-boot state check first (so a started VM answers that, not a file
 * error), then the body, then the change. */
static int configure(struct req *r, int (*parse)(struct req *r, struct change *c),
		     int (*apply)(struct vm_config *, enum api_vm_state, void *,
				  struct vmon_error *))
{
	if (pre_boot(api_ctl_state(r->a->ctl), &r->err) < 0)
		return -1;
	struct change *c = calloc(1, sizeof(*c));
	if (!c)
		return err_setf(&r->err, "out of memory");
	c->r = r;
	c->overcommit = api_ctl_overcommit(r->a->ctl);
	c->patch = strcmp(r->method, "PATCH") == 0;
	int ret =
		(parse && parse(r, c) < 0) ? -1 : api_ctl_with_config(r->a->ctl, apply, c, &r->err);
	free(c);
	return ret;
}

static int parse_boot(struct req *r, struct change *c)
{
	return api_json_boot_source(r->body, &c->u.boot, &r->err);
}

static int parse_drive(struct req *r, struct change *c)
{
	return api_json_drive(r->body, r->id, &c->u.drive, &r->err);
}

static int parse_net(struct req *r, struct change *c)
{
	return api_json_net(r->body, r->id, &c->u.net, &r->err);
}

static int parse_vsock(struct req *r, struct change *c)
{
	return api_json_vsock(r->body, &c->u.vsock, &r->err);
}

static int parse_entropy(struct req *r, struct change *c)
{
	return api_json_entropy(r->body, &c->u.entropy_rl, &r->err);
}

static int parse_balloon(struct req *r, struct change *c)
{
	return api_json_balloon(r->body, &c->u.balloon, &r->err);
}

static int parse_serial(struct req *r, struct change *c)
{
	return api_json_serial(r->body, &c->u.serial, &r->err);
}

/* ---- Reads ---- */

static int read_machine(struct vm_config *cfg, enum api_vm_state st, void *arg,
			struct vmon_error *err)
{
	*(json_t **)arg = api_json_machine_out(&cfg->machine);
	return 0;
}

struct full_read {
	struct api *a;
	json_t *out;
};

static int read_full(struct vm_config *cfg, enum api_vm_state st, void *arg, struct vmon_error *err)
{
	struct full_read *f = arg;
	struct api *a = f->a;
	pthread_mutex_lock(&a->log_lock);
	struct api_logger_cfg logger = a->logger;
	bool has_logger = a->has_logger;
	pthread_mutex_unlock(&a->log_lock);
	f->out = api_json_full_config(cfg, has_logger ? &logger : NULL,
				      a->has_metrics ? &a->metrics : NULL);
	return 0;
}

static int read_balloon(struct vm_config *cfg, enum api_vm_state st, void *arg,
			struct vmon_error *err)
{
	if (!cfg->has_balloon)
		return err_setf(err, "balloon: no balloon device is configured");
	*(json_t **)arg = api_json_balloon_out(&cfg->balloon);
	return 0;
}

static int read_balloon_interval(struct vm_config *cfg, enum api_vm_state st, void *arg,
				 struct vmon_error *err)
{
	if (!cfg->has_balloon)
		return err_setf(err, "balloon: no balloon device is configured");
	if (!cfg->balloon.stats_interval_s)
		return err_setf(err, "balloon: statistics are not enabled "
				     "(stats_polling_interval_s is 0)");
	return 0;
}

/* GET /balloon/statistics: statistics must be on (Firecracker). */
static unsigned get_balloon_stats(struct req *r, json_t **reply)
{
	struct balloon_stats s;
	if (api_ctl_with_config(r->a->ctl, read_balloon_interval, NULL, &r->err) < 0 ||
	    api_ctl_balloon_stats(r->a->ctl, &s, &r->err) < 0)
		return 400;
	*reply = api_json_balloon_stats_out(&s);
	return 200;
}

static int do_balloon_patch(struct req *r)
{
	uint32_t mib;
	if (api_json_balloon_update(r->body, &mib, &r->err) < 0)
		return -1;
	return api_ctl_balloon_target(r->a->ctl, mib, &r->err);
}

static int do_balloon_stats_patch(struct req *r)
{
	unsigned s;
	if (api_json_balloon_stats_update(r->body, &s, &r->err) < 0 ||
	    api_ctl_with_config(r->a->ctl, read_balloon_interval, NULL, &r->err) < 0)
		return -1;
	if (s == 0)
		return err_setf(&r->err, "balloon statistics: polling cannot be turned off once "
					 "on (as in Firecracker)");
	return api_ctl_balloon_interval(r->a->ctl, s, &r->err);
}

/* ---- Handlers ---- */

static int do_actions(struct req *r)
{
	char action[32];
	if (api_json_action(r->body, action, sizeof(action), &r->err) < 0)
		return -1;
	struct api_ctl *ctl = r->a->ctl;
	if (strcmp(action, "InstanceStart") == 0)
		return api_ctl_start(ctl, &r->err);
	if (strcmp(action, "SendCtrlAltDel") == 0)
		return api_ctl_ctrl_alt_del(ctl, &r->err);
	if (strcmp(action, "FlushMetrics") == 0)
		return api_metrics_flush(r->a, &r->err);
	if (strcmp(action, "VmonStop") == 0)
		return api_ctl_stop(ctl, &r->err);
	return err_setf(&r->err,
			"actions: unknown action_type '%s' (InstanceStart, "
			"SendCtrlAltDel, FlushMetrics, VmonStop)",
			action);
}

static int do_vm(struct req *r)
{
	bool pause;
	if (api_json_vm_state(r->body, &pause, &r->err) < 0)
		return -1;
	return pause ? api_ctl_pause(r->a->ctl, &r->err) : api_ctl_resume(r->a->ctl, &r->err);
}

static int do_snapshot(struct req *r)
{
	static char state[VM_PATH_MAX], mem[VM_PATH_MAX]; /* the API thread's */
	bool diff;
	if (strcmp(r->path, "/snapshot/create") == 0)
		return api_json_snapshot_create(r->body, state, mem, sizeof(state), &diff,
						&r->err) < 0
			       ? -1
			       : api_ctl_snapshot(r->a->ctl, state, mem, diff, &r->err);
	bool resume, track;
	return api_json_snapshot_load(r->body, state, mem, sizeof(state), &resume, &track,
				      &r->err) < 0
		       ? -1
		       : api_ctl_load(r->a->ctl, state, mem, resume, track, &r->err);
}

static int do_migrate(struct req *r)
{
	struct vm_migrate_params p;
	return api_json_migrate(r->body, &p, &r->err) < 0 ? -1
							  : api_ctl_migrate(r->a->ctl, &p, &r->err);
}

static int do_migrate_incoming(struct req *r)
{
	static struct mig_incoming_params p; /* the API thread's */
	return api_json_migrate_incoming(r->body, &p, &r->err) < 0
		       ? -1
		       : api_ctl_incoming(r->a->ctl, &p, &r->err);
}

static int do_drive_patch(struct req *r)
{
	char path[VM_PATH_MAX];
	struct rl_update rl;
	if (api_json_drive_patch(r->body, r->id, path, sizeof(path), &rl, &r->err) < 0)
		return -1;
	if (api_ctl_state(r->a->ctl) == API_NOT_STARTED)
		return err_setf(&r->err, "drive: PATCH is for a started microVM (use PUT before "
					 "InstanceStart)");
	if (path[0] && api_ctl_set_drive_path(r->a->ctl, r->id, path, &r->err) < 0)
		return -1;
	if ((rl.has_bw || rl.has_ops) &&
	    api_ctl_set_drive_limits(r->a->ctl, r->id, &rl, &r->err) < 0)
		return -1;
	return 0;
}

static int do_net_patch(struct req *r)
{
	struct rl_update rx, tx;
	if (api_json_net_patch(r->body, r->id, &rx, &tx, &r->err) < 0)
		return -1;
	if (api_ctl_state(r->a->ctl) == API_NOT_STARTED)
		return err_setf(&r->err, "network-interface: PATCH is for a started microVM (use "
					 "PUT before InstanceStart)");
	return api_ctl_set_net_limits(r->a->ctl, r->id, (rx.has_bw || rx.has_ops) ? &rx : NULL,
				      (tx.has_bw || tx.has_ops) ? &tx : NULL, &r->err);
}

static int do_logger(struct req *r)
{
	struct api_logger_cfg l;
	return api_json_logger(r->body, &l, &r->err) < 0 ? -1 : api_logger_set(r->a, &l, &r->err);
}

static int do_metrics(struct req *r)
{
	struct api_metrics_cfg m;
	return api_json_metrics(r->body, &m, &r->err) < 0 ? -1 : api_metrics_set(r->a, &m, &r->err);
}

static json_t *instance_info(struct api *a)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "app_name", "vmon", "id", api_ctl_id(a->ctl),
			 "state", api_state_name(api_ctl_state(a->ctl)), "vmm_version",
			 VMON_VERSION);
}

/* "/drives/ID" -> ID (non-empty, no further slash), or NULL. */
static const char *path_id(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) != 0 || !path[n] || strchr(path + n, '/'))
		return NULL;
	return path + n;
}

static bool is(const struct req *r, const char *method, const char *path)
{
	return strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0;
}

/* Routes r. Returns the status, with *reply set for 200. */
static unsigned route(struct req *r, json_t **reply)
{
	const char *m = r->method;
	if (is(r, "GET", "/")) {
		*reply = instance_info(r->a);
		return 200;
	}
	if (is(r, "GET", "/version")) {
		*reply = json_pack("{s:s, s:s}", "firecracker_version", VMON_VERSION,
				   "vmon_version", VMON_VERSION);
		return 200;
	}
	if (is(r, "GET", "/machine-config")) {
		api_ctl_with_config(r->a->ctl, read_machine, reply, &r->err);
		return 200;
	}
	if (is(r, "GET", "/vm/config")) {
		struct full_read f = {.a = r->a};
		api_ctl_with_config(r->a->ctl, read_full, &f, &r->err);
		*reply = f.out;
		return 200;
	}
	if (is(r, "GET", "/balloon"))
		return api_ctl_with_config(r->a->ctl, read_balloon, reply, &r->err) < 0 ? 400 : 200;
	if (is(r, "GET", "/balloon/statistics"))
		return get_balloon_stats(r, reply);
	if (is(r, "GET", "/migrate")) {
		struct vm_migrate_status s;
		if (api_ctl_migrate_status(r->a->ctl, &s, &r->err) < 0)
			return 400;
		*reply = api_json_migrate_out(&s);
		return 200;
	}
	if (strcmp(m, "GET") == 0)
		goto unknown;
	/* Everything else acts, with a JSON body. */
	bool put = strcmp(m, "PUT") == 0, patch = strcmp(m, "PATCH") == 0;
	enum {
		NONE,
		BOOT,
		MACHINE,
		DRIVE_PUT,
		DRIVE_PATCH,
		NET_PUT,
		NET_PATCH,
		VSOCK,
		ENTROPY,
		SERIAL,
		LOGGER,
		METRICS,
		ACTIONS,
		VM,
		BALLOON_PUT,
		BALLOON_PATCH,
		BALLOON_STATS_PATCH,
		SNAPSHOT,
		MIGRATE,
		MIGRATE_CANCEL,
		MIGRATE_INCOMING
	} what = NONE;
	const char *id;
	if (put && strcmp(r->path, "/boot-source") == 0)
		what = BOOT;
	else if ((put || patch) && strcmp(r->path, "/machine-config") == 0)
		what = MACHINE;
	else if ((put || patch) && (id = path_id(r->path, "/drives/")))
		what = put ? DRIVE_PUT : DRIVE_PATCH;
	else if ((put || patch) && (id = path_id(r->path, "/network-interfaces/")))
		what = put ? NET_PUT : NET_PATCH;
	else if (put && strcmp(r->path, "/vsock") == 0)
		what = VSOCK;
	else if (put && strcmp(r->path, "/entropy") == 0)
		what = ENTROPY;
	else if (put && strcmp(r->path, "/serial") == 0)
		what = SERIAL;
	else if (put && strcmp(r->path, "/logger") == 0)
		what = LOGGER;
	else if (put && strcmp(r->path, "/metrics") == 0)
		what = METRICS;
	else if (put && strcmp(r->path, "/actions") == 0)
		what = ACTIONS;
	else if (patch && strcmp(r->path, "/vm") == 0)
		what = VM;
	else if ((put || patch) && strcmp(r->path, "/balloon") == 0)
		what = put ? BALLOON_PUT : BALLOON_PATCH;
	else if (patch && strcmp(r->path, "/balloon/statistics") == 0)
		what = BALLOON_STATS_PATCH;
	else if (put && (strcmp(r->path, "/snapshot/create") == 0 ||
			 strcmp(r->path, "/snapshot/load") == 0))
		what = SNAPSHOT;
	else if (put && strcmp(r->path, "/migrate") == 0)
		what = MIGRATE;
	else if (put && strcmp(r->path, "/migrate/cancel") == 0)
		what = MIGRATE_CANCEL;
	else if (put && strcmp(r->path, "/migrate/incoming") == 0)
		what = MIGRATE_INCOMING;
	if (what == NONE)
		goto unknown;
	if (!r->body)
		return err_setf(&r->err, "%s %s needs a JSON body", m, r->path), 400;
	r->id = (what == DRIVE_PUT || what == DRIVE_PATCH || what == NET_PUT || what == NET_PATCH)
			? id
			: NULL;
	int ret;
	switch (what) {
	case BOOT: ret = configure(r, parse_boot, apply_boot); break;
	case MACHINE: ret = configure(r, NULL, apply_machine); break;
	case DRIVE_PUT: ret = configure(r, parse_drive, apply_drive); break;
	case DRIVE_PATCH: ret = do_drive_patch(r); break;
	case NET_PUT: ret = configure(r, parse_net, apply_net); break;
	case NET_PATCH: ret = do_net_patch(r); break;
	case VSOCK: ret = configure(r, parse_vsock, apply_vsock); break;
	case ENTROPY: ret = configure(r, parse_entropy, apply_entropy); break;
	case SERIAL: ret = configure(r, parse_serial, apply_serial); break;
	case LOGGER: ret = do_logger(r); break;
	case METRICS: ret = do_metrics(r); break;
	case ACTIONS: ret = do_actions(r); break;
	case VM: ret = do_vm(r); break;
	case BALLOON_PUT: ret = configure(r, parse_balloon, apply_balloon); break;
	case BALLOON_PATCH: ret = do_balloon_patch(r); break;
	case BALLOON_STATS_PATCH: ret = do_balloon_stats_patch(r); break;
	case MIGRATE: ret = do_migrate(r); break;
	case MIGRATE_CANCEL: ret = api_ctl_migrate_cancel(r->a->ctl, &r->err); break;
	case MIGRATE_INCOMING: ret = do_migrate_incoming(r); break;
	default: ret = do_snapshot(r); break;
	}
	return ret < 0 ? 400 : 204;
unknown:
	err_setf(&r->err, "invalid request method and/or path: %.16s %.128s", m, r->path);
	return 400;
}

void api_handle(struct api *a, const char *method, const char *path, const char *body, size_t len,
		struct api_response *out)
{
	char shown[160]; /* the path as logs show it */
	snprintf(shown, sizeof(shown), "%s", path);
	printable(shown);
	struct req r = {.a = a, .method = method, .path = path};
	a->requests++;
	*out = (struct api_response){0};
	if (len > 0) {
		json_error_t je;
		r.body = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
		if (!r.body) {
			a->bad_requests++;
			char msg[256];
			snprintf(msg, sizeof(msg), "the body is not valid JSON: %s (at %d:%d)",
				 je.text, je.line, je.column);
			fault(out, 400, msg);
			vlog(VLOG_INFO, "API %.16s %s: 400 %s", method, shown, msg);
			return;
		}
	}
	json_t *reply = NULL;
	unsigned status = route(&r, &reply);
	json_decref(r.body);
	if (status == 400) {
		a->bad_requests++;
		json_decref(reply);
		fault(out, 400, r.err.msg);
		printable(r.err.msg);
		vlog(VLOG_INFO, "API %.16s %s: 400 %s", method, shown, r.err.msg);
		return;
	}
	if (status == 200 && !reply) {
		fault(out, 500, "out of memory");
		return;
	}
	answer(out, status, reply);
	vlog(VLOG_INFO, "API %.16s %s: %u", method, shown, status);
}
