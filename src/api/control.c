/* SPDX-License-Identifier: MIT */
#include "api/control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "vm/migrate_stream.h"
#include "vm/vm_migrate.h"

struct api_ctl {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* start outcome */
	char id[VM_ID_MAX];
	bool overcommit;
	api_state_fn on_state;
	void *opaque;
	/* Under lock: */
	enum api_vm_state state;
	struct vm_config cfg;
	struct vm *vm;
	bool start_pending, start_taken, start_done;
	int start_result;
	struct vmon_error start_err;
	uint64_t started_ms;
	int start_fd; /* eventfd: a start is pending */
	/* The pending start is PUT /snapshot/load's: restore from these. */
	bool restore, restore_resume, restore_track;
	char restore_state[VM_PATH_MAX], restore_mem[VM_PATH_MAX];
	/* The pending start is PUT /migrate/incoming's; receiving: it
	 * listens (or receives) for one. */
	bool incoming, receiving;
	struct mig_incoming_params incoming_p;
};

const char *api_state_name(enum api_vm_state s)
{
	switch (s) {
	case API_NOT_STARTED: return "Not started";
	case API_RUNNING: return "Running";
	case API_PAUSED: return "Paused";
	case API_STOPPED: return "Stopped";
	}
	return "Unknown";
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int api_ctl_create(struct api_ctl **out, const struct api_ctl_params *p, struct vmon_error *err)
{
	*out = NULL;
	struct api_ctl *c = calloc(1, sizeof(*c));
	if (!c)
		return err_setf(err, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	snprintf(c->id, sizeof(c->id), "%s", p->id);
	c->overcommit = p->allow_overcommit;
	c->on_state = p->on_state;
	c->opaque = p->opaque;
	c->cfg = *p->cfg;
	c->state = API_NOT_STARTED;
	c->start_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->start_fd < 0) {
		int e = errno;
		api_ctl_destroy(c);
		return err_setf(err, "eventfd: %s", strerror(e));
	}
	*out = c;
	return 0;
}

void api_ctl_destroy(struct api_ctl *c)
{
	if (!c)
		return;
	if (c->start_fd >= 0)
		close(c->start_fd);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

/* Sets the state; the caller holds the lock and calls notify() after
 * releasing it. */
static void set_state(struct api_ctl *c, enum api_vm_state s)
{
	c->state = s;
}

static void notify(struct api_ctl *c, enum api_vm_state s)
{
	vlog(VLOG_INFO, "VM %s: %s", c->id, api_state_name(s));
	if (c->on_state)
		c->on_state(c->opaque, s);
}

const char *api_ctl_id(struct api_ctl *c)
{
	return c->id;
}

enum api_vm_state api_ctl_state(struct api_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	enum api_vm_state s = c->state;
	/* The migration thread pauses the VM through the VM layer, which
	 * cannot call up here: ask it. (Lock order: this lock, then the
	 * VM's, as api_ctl_pause takes them.) */
	if (s == API_RUNNING && c->vm && vm_paused(c->vm))
		s = API_PAUSED;
	pthread_mutex_unlock(&c->lock);
	return s;
}

uint64_t api_ctl_uptime_ms(struct api_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t t = c->started_ms ? now_ms() - c->started_ms : 0;
	pthread_mutex_unlock(&c->lock);
	return t;
}

bool api_ctl_overcommit(struct api_ctl *c)
{
	return c->overcommit;
}

int api_ctl_with_config(struct api_ctl *c,
			int (*fn)(struct vm_config *cfg, enum api_vm_state state, void *arg,
				  struct vmon_error *err),
			void *arg, struct vmon_error *err)
{
	pthread_mutex_lock(&c->lock);
	int r = fn(&c->cfg, c->state, arg, err);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* ---- Start handshake ---- */

enum start_kind { START_CONFIG, START_RESTORE, START_INCOMING };

/* Asks the main thread to start (from the configuration, a snapshot or
 * an incoming migration) and waits. */
static int start(struct api_ctl *c, enum start_kind kind, struct vmon_error *err)
{
	bool restore = kind != START_CONFIG;
	if (c->receiving) {
		pthread_mutex_unlock(&c->lock);
		return err_setf(err, "the microVM waits for an incoming migration (PUT "
				     "/migrate/incoming): it starts when that arrives");
	}
	if (c->state != API_NOT_STARTED || c->start_pending) {
		pthread_mutex_unlock(&c->lock);
		return err_setf(err, kind == START_INCOMING ? "a migration is received only by a "
							      "microVM not started yet"
				     : restore ? "a snapshot loads only into a microVM not started "
						 "yet"
					       : "the microVM is already running");
	}
	if (!restore &&
	    (vm_config_validate(&c->cfg, err) < 0 || vm_config_check_host(&c->cfg, err) < 0)) {
		pthread_mutex_unlock(&c->lock);
		return -1;
	}
	c->restore = kind == START_RESTORE;
	c->incoming = kind == START_INCOMING;
	c->start_pending = true;
	c->start_taken = false;
	c->start_done = false;
	uint64_t one = 1;
	if (write(c->start_fd, &one, sizeof(one)) < 0) {
		/* cannot fail for an eventfd below its maximum */
	}
	while (!c->start_done)
		pthread_cond_wait(&c->cond, &c->lock);
	c->start_pending = false;
	int r = c->start_result;
	if (r < 0)
		*err = c->start_err;
	enum api_vm_state s = c->state;
	c->restore = false;
	c->incoming = false;
	pthread_mutex_unlock(&c->lock);
	if (r == 0 && s != API_NOT_STARTED) /* an incoming VM comes later */
		notify(c, s);
	return r;
}

int api_ctl_start(struct api_ctl *c, struct vmon_error *err)
{
	pthread_mutex_lock(&c->lock);
	return start(c, START_CONFIG, err);
}

int api_ctl_load(struct api_ctl *c, const char *state_path, const char *mem_path, bool resume,
		 bool track, struct vmon_error *err)
{
	if (strlen(state_path) >= VM_PATH_MAX || strlen(mem_path) >= VM_PATH_MAX)
		return err_setf(err, "snapshot path too long");
	pthread_mutex_lock(&c->lock);
	if (c->state == API_NOT_STARTED && !c->start_pending) {
		snprintf(c->restore_state, sizeof(c->restore_state), "%s", state_path);
		snprintf(c->restore_mem, sizeof(c->restore_mem), "%s", mem_path);
		c->restore_resume = resume;
		c->restore_track = track;
	}
	return start(c, START_RESTORE, err);
}

int api_ctl_incoming(struct api_ctl *c, const struct mig_incoming_params *p, struct vmon_error *err)
{
	pthread_mutex_lock(&c->lock);
	if (c->state == API_NOT_STARTED && !c->start_pending && !c->receiving)
		c->incoming_p = *p;
	return start(c, START_INCOMING, err);
}

bool api_ctl_take_incoming(struct api_ctl *c, struct mig_incoming_params *out)
{
	pthread_mutex_lock(&c->lock);
	bool r = c->incoming;
	if (r)
		*out = c->incoming_p;
	pthread_mutex_unlock(&c->lock);
	return r;
}

void api_ctl_incoming_listening(struct api_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	c->receiving = true;
	c->start_result = 0;
	c->start_done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	vlog(VLOG_INFO, "VM %s: waiting for an incoming migration", c->id);
}

bool api_ctl_take_restore(struct api_ctl *c, char *state_path, char *mem_path, size_t cap,
			  bool *resume, bool *track)
{
	pthread_mutex_lock(&c->lock);
	bool r = c->restore;
	if (r) {
		snprintf(state_path, cap, "%s", c->restore_state);
		snprintf(mem_path, cap, "%s", c->restore_mem);
		*resume = c->restore_resume;
		*track = c->restore_track;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int api_ctl_start_fd(struct api_ctl *c)
{
	return c->start_fd;
}

bool api_ctl_take_start(struct api_ctl *c, struct vm_config *cfg)
{
	uint64_t v;
	if (read(c->start_fd, &v, sizeof(v)) < 0) {
		/* nothing pending: checked below */
	}
	pthread_mutex_lock(&c->lock);
	bool ok = c->start_pending && !c->start_taken;
	if (ok) {
		c->start_taken = true;
		*cfg = c->cfg;
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

void api_ctl_started(struct api_ctl *c, struct vm *vm)
{
	pthread_mutex_lock(&c->lock);
	c->vm = vm;
	c->receiving = false;
	c->cfg = *vm_get_config(vm);
	c->started_ms = now_ms();
	/* A snapshot loaded without resume_vm starts paused. */
	bool paused = vm_paused(vm);
	set_state(c, paused ? API_PAUSED : API_RUNNING);
	c->start_result = 0;
	c->start_done = true;
	bool waiter = c->start_pending;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (!waiter) /* started without a request: the command line's VM */
		notify(c, paused ? API_PAUSED : API_RUNNING);
}

void api_ctl_start_failed(struct api_ctl *c, const struct vmon_error *err)
{
	pthread_mutex_lock(&c->lock);
	c->start_result = -1;
	c->start_err = *err;
	c->start_done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	vlog(VLOG_ERROR, "VM %s: start failed: %s", c->id, err->msg);
}

void api_ctl_ended(struct api_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	bool changed = c->state != API_STOPPED;
	set_state(c, API_STOPPED);
	pthread_mutex_unlock(&c->lock);
	if (changed)
		notify(c, API_STOPPED);
}

void api_ctl_stopped(struct api_ctl *c)
{
	api_ctl_ended(c);
	pthread_mutex_lock(&c->lock);
	c->vm = NULL;
	pthread_mutex_unlock(&c->lock);
}

/* ---- Running VM ---- */

/* The running VM with the lock held, or NULL (lock released, err set). */
static struct vm *running(struct api_ctl *c, struct vmon_error *err)
{
	pthread_mutex_lock(&c->lock);
	if (c->vm && c->state != API_STOPPED)
		return c->vm;
	enum api_vm_state s = c->state;
	pthread_mutex_unlock(&c->lock);
	err_setf(err, s == API_NOT_STARTED ? "the microVM is not started yet"
					   : "the microVM has stopped");
	return NULL;
}

int api_ctl_snapshot(struct api_ctl *c, const char *state_path, const char *mem_path, bool diff,
		     struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = diff && !vm_get_config(vm)->machine.track_dirty_pages
			? err_setf(err, "%s", VM_DIFF_NEEDS_TRACKING)
		: c->state != API_PAUSED
			? err_setf(err, "the microVM must be paused to create a snapshot "
					"(PATCH /vm {\"state\": \"Paused\"} first)")
			: vm_snapshot(vm, state_path, mem_path, diff, err);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int api_ctl_migrate(struct api_ctl *c, const struct vm_migrate_params *p, struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_migrate_start(vm, p, err);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int api_ctl_migrate_cancel(struct api_ctl *c, struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_migrate_cancel(vm, err);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int api_ctl_migrate_status(struct api_ctl *c, struct vm_migrate_status *out, struct vmon_error *err)
{
	pthread_mutex_lock(&c->lock);
	if (!c->vm) {
		pthread_mutex_unlock(&c->lock);
		return err_setf(err, c->state == API_NOT_STARTED ? "the microVM is not started yet"
								 : "the microVM has stopped");
	}
	vm_migrate_status(c->vm, out);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int api_ctl_pause(struct api_ctl *c, struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_pause(vm, err);
	bool changed = r == 0 && c->state != API_PAUSED;
	if (r == 0)
		set_state(c, API_PAUSED);
	pthread_mutex_unlock(&c->lock);
	if (changed)
		notify(c, API_PAUSED);
	return r;
}

int api_ctl_resume(struct api_ctl *c, struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_resume(vm, err);
	bool changed = r == 0 && c->state != API_RUNNING;
	if (r == 0)
		set_state(c, API_RUNNING);
	pthread_mutex_unlock(&c->lock);
	if (changed)
		notify(c, API_RUNNING);
	return r;
}

int api_ctl_stop(struct api_ctl *c, struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	vlog(VLOG_INFO, "VM %s: stop requested through the API", c->id);
	vm_request_stop(vm, 0);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int api_ctl_ctrl_alt_del(struct api_ctl *c, struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_send_ctrl_alt_del(vm, err);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int api_ctl_set_drive_path(struct api_ctl *c, const char *id, const char *path,
			   struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_set_drive_path(vm, id, path, err);
	if (r == 0)
		c->cfg = *vm_get_config(vm);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int api_ctl_set_drive_limits(struct api_ctl *c, const char *id, const struct rl_update *u,
			     struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_set_drive_limits(vm, id, u, err);
	if (r == 0)
		c->cfg = *vm_get_config(vm);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int api_ctl_set_net_limits(struct api_ctl *c, const char *id, const struct rl_update *rx,
			   const struct rl_update *tx, struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_set_net_limits(vm, id, rx, tx, err);
	if (r == 0)
		c->cfg = *vm_get_config(vm);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int api_ctl_balloon_target(struct api_ctl *c, uint32_t mib, struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_balloon_set_target(vm, mib, err);
	if (r == 0)
		c->cfg = *vm_get_config(vm);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int api_ctl_balloon_stats(struct api_ctl *c, struct balloon_stats *out, struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_balloon_get_stats(vm, out, err);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int api_ctl_balloon_interval(struct api_ctl *c, unsigned seconds, struct vmon_error *err)
{
	struct vm *vm = running(c, err);
	if (!vm)
		return -1;
	int r = vm_balloon_set_interval(vm, seconds, err);
	if (r == 0)
		c->cfg = *vm_get_config(vm);
	pthread_mutex_unlock(&c->lock);
	return r;
}

bool api_ctl_stats(struct api_ctl *c, const struct vm_stats_visitor *v)
{
	pthread_mutex_lock(&c->lock);
	bool ok = c->vm != NULL;
	if (ok)
		vm_stats(c->vm, v);
	pthread_mutex_unlock(&c->lock);
	return ok;
}

const char *api_ctl_backend(struct api_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	const char *b = c->vm ? vm_backend_name(c->vm) : NULL;
	pthread_mutex_unlock(&c->lock);
	return b;
}
