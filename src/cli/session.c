/* SPDX-License-Identifier: MIT */
#include "cli/session.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "cli/registry.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "vm/migrate_stream.h"
#include "vm/vm.h"
#include "vm/vm_cpu_offer.h"
#include "vm/vm_incoming.h"
#include "vm/vm_snapshot.h"

struct session {
	char dir[REG_PATH_MAX];
	char id[VM_ID_MAX];
	char sock[REG_PATH_MAX];
	bool registered;
	pthread_mutex_t reg_lock; /* entry, and the file's rewrites */
	struct reg_entry entry;
	struct api_ctl *ctl;
	struct api *api;
	int listen_fd;
	/* Waiting for InstanceStart */
	struct vm *vm;
	int signo;
	struct event_loop *ev; /* wait_for_start's */
};

/* PUT /migrate/incoming's receiving side (the main thread's). */
static struct {
	struct mig_incoming_params p;
	struct vm_cpu_offer offer;
	struct mig_tls *tls;
	struct mig_conn conn;
	int lfd;
	struct vm_config api_cfg; /* the API's: its serial port and backend */
	struct vm_incoming in;
	bool received;
} inc = {.lfd = -1};

static void free_incoming(void)
{
	if (inc.received)
		vm_incoming_free(&inc.in);
	mig_tls_free(inc.tls);
	inc.tls = NULL;
}

static void cleanup(struct session *s)
{
	api_destroy(s->api); /* before the ctl it uses; removes the socket */
	s->api = NULL;
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->sock);
		s->listen_fd = -1;
	}
	if (s->registered)
		registry_remove(s->dir, s->id);
	s->registered = false;
	api_ctl_destroy(s->ctl);
	s->ctl = NULL;
}

__attribute__((format(printf, 2, 3))) static _Noreturn void fail(struct session *s, const char *fmt,
								 ...)
{
	cleanup(s);
	va_list ap;
	fputs("vmon: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(VMON_EXIT_USAGE);
}

static uint64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The registration follows the VM's state (API thread or main thread). */
static void on_state(void *opaque, enum api_vm_state state)
{
	struct session *s = opaque;
	if (!s->registered)
		return;
	pthread_mutex_lock(&s->reg_lock);
	snprintf(s->entry.state, sizeof(s->entry.state), "%s", api_state_name(state));
	if ((state == API_RUNNING || state == API_PAUSED) && !s->entry.started_unix_ms) {
		const char *b = api_ctl_backend(s->ctl);
		snprintf(s->entry.backend, sizeof(s->entry.backend), "%s", b ? b : "");
		s->entry.started_unix_ms = unix_ms();
	}
	struct vmon_error err;
	if (registry_update(s->dir, &s->entry, &err) < 0)
		vlog(VLOG_WARNING, "%s", err.msg);
	pthread_mutex_unlock(&s->reg_lock);
}

static void on_signal(void *opaque, int fd, uint32_t events)
{
	struct session *s = opaque;
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		s->signo = (int)si.ssi_signo;
}

/* A VM restored from the snapshot at state_path: the saved machine, with
 * the API's serial port and backend. */
static int restore_vm(struct vm **vm, const struct vm_config *api_cfg, const char *state_path,
		      const char *mem_path, bool track, struct vmon_error *err)
{
	static struct vmstate st;
	static struct vm_config cfg;
	if (vmstate_load(&st, state_path, err) < 0)
		return -1;
	int r = vm_restore_config(&st, &cfg, err);
	if (r == 0) {
		cfg.serial = api_cfg->serial;
		cfg.machine.backend = api_cfg->machine.backend;
		/* Firecracker's rule: the load request says whether the
		 * restored VM tracks dirty pages (its diff is against the
		 * memory file it was loaded from). */
		cfg.machine.track_dirty_pages = track;
		r = vm_config_validate(&cfg, err) < 0
			    ? -1
			    : vm_create_restored(vm, &cfg, &st, mem_path, err);
	}
	vmstate_free(&st);
	return r;
}

/* The source connected: read its stream, build the VM as `vmon run
 * --incoming` does (the API's serial port and backend), hand over and run.
 * Any failure ends vmon with one line and status 2. */
static void on_incoming(void *opaque, int fd, uint32_t events)
{
	(void)events;
	struct session *s = opaque;
	struct vmon_error err = {{0}};
	const char *url = inc.p.url;
	ev_remove(s->ev, fd);
	inc.lfd = -1;
	int c = mig_accept_on(fd, &inc.p.ep, &err);
	if (c < 0)
		fail(s, "%s", err.msg);
	if (mig_conn_open(&inc.conn, c, inc.tls, true, NULL, "the migration source", &err) < 0)
		fail(s, "migrate/incoming %s: %s", url, err.msg);
	static struct vm_config cfg;
	if (vm_incoming_open(&inc.in, &inc.conn, &inc.offer, &cfg, &err) < 0) {
		mig_conn_close(&inc.conn);
		fail(s, "migrate/incoming %s: %s", url, err.msg);
	}
	inc.received = true;
	struct vm *vm = NULL;
	cfg.serial = inc.api_cfg.serial;
	cfg.machine.backend = inc.api_cfg.machine.backend;
	if (vm_config_validate(&cfg, &err) < 0 || vm_config_check_host(&cfg, &err) < 0) {
		vm_incoming_refuse(&inc.in, err.msg);
		fail(s, "%s", err.msg);
	}
	if (vm_incoming_build(&inc.in, &vm, &cfg, &err) < 0)
		fail(s, "%s", err.msg);
	if (migrate_incoming_handshake(&inc.conn, &err) < 0) {
		vm_destroy(vm);
		fail(s, "%s", err.msg);
	}
	s->vm = vm;
	if (s->registered) {
		pthread_mutex_lock(&s->reg_lock);
		s->entry.vcpus = vm_get_config(vm)->machine.vcpus;
		s->entry.mem_mib = vm_get_config(vm)->machine.mem_size >> 20;
		pthread_mutex_unlock(&s->reg_lock);
	}
	api_ctl_started(s->ctl, vm);
	migrate_incoming_running(&inc.conn);
}

/* PUT /migrate/incoming: check what the request asks, listen, answer it;
 * on_incoming takes the connection. */
static void start_incoming(struct session *s, const struct vm_config *api_cfg)
{
	struct vmon_error err = {{0}};
	struct cpu_model limit = {0};
	inc.api_cfg = *api_cfg;
	/* A request that failed before left nothing: this one's files. */
	mig_tls_free(inc.tls);
	inc.tls = NULL;
	int lfd = -1;
	if ((inc.p.cpu_limit[0] && cpu_model_parse(inc.p.cpu_limit, &limit, &err) < 0) ||
	    vm_cpu_offer_init(&inc.offer, api_cfg->machine.backend, &limit,
			      inc.p.cpu_limit[0] ? inc.p.cpu_limit : NULL, &err) < 0 ||
	    (mig_tls_wanted(&inc.p.tls) && mig_tls_load(&inc.tls, &inc.p.tls, &err) < 0) ||
	    (lfd = mig_listen(&inc.p.ep, &err)) < 0) {
		mig_tls_free(inc.tls);
		inc.tls = NULL;
		api_ctl_start_failed(s->ctl, &err);
		return;
	}
	if (ev_add(s->ev, lfd, EPOLLIN, on_incoming, s) < 0) {
		close(lfd);
		if (inc.p.ep.is_unix)
			unlink(inc.p.ep.path);
		mig_tls_free(inc.tls);
		inc.tls = NULL;
		err_setf(&err, "cannot wait for the migration source");
		api_ctl_start_failed(s->ctl, &err);
		return;
	}
	inc.lfd = lfd;
	api_ctl_incoming_listening(s->ctl);
}

static void on_start(void *opaque, int fd, uint32_t events)
{
	struct session *s = opaque;
	static struct vm_config cfg; /* large: not on the stack */
	if (!api_ctl_take_start(s->ctl, &cfg))
		return;
	if (api_ctl_take_incoming(s->ctl, &inc.p)) {
		start_incoming(s, &cfg);
		return;
	}
	struct vmon_error err = {{0}};
	struct vm *vm;
	static char state_path[VM_PATH_MAX], mem_path[VM_PATH_MAX];
	bool resume = true, track = false;
	int r = api_ctl_take_restore(s->ctl, state_path, mem_path, sizeof(state_path), &resume,
				     &track)
			? restore_vm(&vm, &cfg, state_path, mem_path, track, &err)
			: vm_create(&vm, &cfg, &err);
	if (r < 0) {
		api_ctl_start_failed(s->ctl, &err);
		return;
	}
	/* PUT /snapshot/load without resume_vm: the vCPUs park before their
	 * first instruction. */
	if (!resume)
		(void)vm_pause(vm, &err);
	s->vm = vm;
	if (s->registered) {
		pthread_mutex_lock(&s->reg_lock);
		s->entry.vcpus = vm_get_config(vm)->machine.vcpus;
		s->entry.mem_mib = vm_get_config(vm)->machine.mem_size >> 20;
		pthread_mutex_unlock(&s->reg_lock);
	}
	api_ctl_started(s->ctl, vm);
}

/* Waits for InstanceStart (or a signal, then *vm stays NULL). */
static struct vm *wait_for_start(struct session *s)
{
	struct vmon_error err = {{0}};
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	struct event_loop *ev = ev_create(&err);
	s->ev = ev;
	if (sfd < 0 || !ev || ev_add(ev, sfd, EPOLLIN, on_signal, s) < 0 ||
	    ev_add(ev, api_ctl_start_fd(s->ctl), EPOLLIN, on_start, s) < 0) {
		if (sfd >= 0)
			close(sfd);
		ev_destroy(ev);
		fail(s, "cannot wait for the API: %s", err.msg[0] ? err.msg : strerror(errno));
	}
	while (!s->vm && !s->signo)
		ev_run_once(ev, -1);
	if (inc.lfd >= 0) { /* a signal while it listened */
		ev_remove(ev, inc.lfd);
		close(inc.lfd);
		if (inc.p.ep.is_unix)
			unlink(inc.p.ep.path);
		inc.lfd = -1;
	}
	ev_destroy(ev);
	s->ev = NULL;
	close(sfd);
	/* A signal read here while the VM was being built is not lost. */
	if (s->vm && s->signo)
		vm_request_stop(s->vm, 128 + s->signo);
	return s->vm;
}

int session_run(const struct session_opts *o, const struct vm_config *cfg)
{
	static struct session ss;
	struct session *s = &ss;
	memset(s, 0, sizeof(*s));
	/* A metrics or log FIFO whose reader went away must fail a write
	 * (EPIPE), not end vmon: the threads vmon starts block SIGPIPE, the
	 * main thread ignores it. */
	signal(SIGPIPE, SIG_IGN);
	s->listen_fd = -1;
	struct vmon_error serr = {{0}};
	/* Before the first thread (the API server's) starts. */
	if (vmon_seccomp_configure(o->seccomp, &serr) < 0) {
		fprintf(stderr, "vmon: %s\n", serr.msg);
		return VMON_EXIT_USAGE;
	}
	pthread_mutex_init(&s->reg_lock, NULL);
	struct vmon_error err = {{0}};
	if (o->id)
		snprintf(s->id, sizeof(s->id), "%s", o->id);
	else
		registry_new_id(s->id, sizeof(s->id));
	if (!vm_id_valid(s->id))
		fail(s, "--id: '%.64s' is not a valid id (1 to %d letters, digits, '-' or '_')",
		     o->id, VM_ID_MAX - 1);

	if (!o->no_api) {
		if (registry_dir(o->runtime_dir, s->dir, sizeof(s->dir), &err) < 0)
			fail(s, "%s (use --runtime-dir DIR, or --no-api)", err.msg);
		int n = o->api_sock
				? snprintf(s->sock, sizeof(s->sock), "%s", o->api_sock)
				: snprintf(s->sock, sizeof(s->sock), "%s/%s.sock", s->dir, s->id);
		if (n < 0 || (size_t)n >= sizeof(s->sock))
			fail(s, "--api-sock: path too long");
		struct reg_entry *e = &s->entry;
		/* Both fit: the id is valid, the path was checked above. */
		memcpy(e->id, s->id, strlen(s->id) + 1);
		memcpy(e->api_sock, s->sock, strlen(s->sock) + 1);
		snprintf(e->state, sizeof(e->state), "%s", api_state_name(API_NOT_STARTED));
		e->vcpus = cfg->machine.vcpus;
		e->mem_mib = cfg->machine.mem_size >> 20;
		if (registry_claim(s->dir, e, &err) < 0)
			fail(s, "%s", err.msg);
		s->registered = true;
		s->listen_fd = api_listen(s->sock, &err);
		if (s->listen_fd < 0)
			fail(s, "%s", err.msg);
	}
	const struct api_ctl_params cp = {.id = s->id,
					  .cfg = cfg,
					  .allow_overcommit = o->overcommit,
					  .on_state = on_state,
					  .opaque = s};
	if (api_ctl_create(&s->ctl, &cp, &err) < 0 || api_create(&s->api, s->ctl, &err) < 0 ||
	    (o->file && api_apply_file(s->api, o->file, &err) < 0))
		fail(s, "%s", err.msg);
	if (!o->no_api) {
		int fd = s->listen_fd;
		s->listen_fd = -1; /* the API's now */
		if (api_serve(s->api, fd, s->sock, &err) < 0)
			fail(s, "%s", err.msg);
	}

	struct vm *vm;
	if (o->start_now) {
		if ((o->incoming  ? vm_incoming_build(o->incoming, &vm, cfg, &err)
		     : o->restore ? vm_create_restored(&vm, cfg, o->restore, o->restore_mem, &err)
				  : vm_create(&vm, cfg, &err)) < 0)
			fail(s, "%s", err.msg);
		if (o->incoming &&
		    migrate_incoming_handshake(vm_incoming_conn(o->incoming), &err) < 0) {
			vm_destroy(vm);
			fail(s, "%s", err.msg);
		}
		if (o->restore_paused)
			(void)vm_pause(vm, &err);
		api_ctl_started(s->ctl, vm);
		/* Last before the guest runs: the source's downtime figure
		 * ends here (the registration above is inside it). */
		if (o->incoming)
			migrate_incoming_running(vm_incoming_conn(o->incoming));
	} else {
		vm = wait_for_start(s);
		if (!vm) {
			int status = 128 + s->signo;
			fprintf(stderr, "vmon: %s received, exiting\n", strsignal(s->signo));
			/* An InstanceStart waiting for us gets its answer before
			 * the API thread is stopped. */
			struct vmon_error why;
			err_setf(&why, "vmon is exiting (%s)", strsignal(s->signo));
			api_ctl_start_failed(s->ctl, &why);
			cleanup(s);
			return status;
		}
	}
	int status = vm_run(vm, &err);
	api_ctl_ended(s->ctl);
	api_shutdown(s->api); /* the last metrics, with the VM's counters */
	api_ctl_stopped(s->ctl);
	vm_destroy(vm);
	free_incoming();
	cleanup(s);
	if (status < 0) {
		fprintf(stderr, "vmon: %s\n", err.msg);
		return VMON_EXIT_USAGE;
	}
	return status;
}
