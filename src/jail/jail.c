/* SPDX-License-Identifier: MIT */
/*
 * The `vmon jail` sequence: check everything, build, launch, supervise,
 * clean up (see jail.h).
 */
#include "jail/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jail/args.h"
#include "jail/cgroup.h"
#include "jail/devices.h"
#include "jail/launch.h"
#include "jail/layout.h"
#include "jail/libs.h"
#include "jail/namespaces.h"
#include "jail/privileges.h"
#include "jail/run_args.h"

/* Everything the jailer holds; static: large, and one per process. */
static struct jail_state {
	struct jail_args args;
	struct jail_libs libs;
	struct jail_run run;
	struct jail_layout layout;
	struct jail_devices devices;
	struct jail_cgroup cg;
	bool built; /* layout and cgroup exist: undo removes them */
} st;

/* Takes away everything this jailer made. */
static void undo(void)
{
	if (!st.built)
		return;
	jail_cgroup_remove(&st.cg, true);
	jail_layout_remove(&st.layout);
	st.built = false;
}

static _Noreturn void fail(const struct vmon_error *err)
{
	undo();
	fprintf(stderr, "vmon: jail: %s\n", err->msg);
	exit(2);
}

/* Where the files vmon makes in the jail are, for the operator. */
static void report(FILE *f)
{
	for (int i = 0; i < st.run.nfiles; i++) {
		const struct jail_file *jf = &st.run.files[i];
		if (jf->kind == JAIL_FILE_SOCKET)
			fprintf(f, "vmon jail %s: %s socket at %s/%s\n", st.args.id, jf->option,
				st.layout.root, jf->name);
		else if (jf->kind == JAIL_FILE_OUTPUT)
			fprintf(f, "vmon jail %s: %s output in %s/%s\n", st.args.id, jf->option,
				st.layout.root, jf->name);
	}
	fflush(f);
}

/* --daemonize, front half: waits for the daemon's word ("P pid" or
 * "E message") and exits with it. */
static _Noreturn void daemon_front(int rfd)
{
	char msg[VMON_ERROR_MAX + 8];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(rfd, msg + len, sizeof(msg) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == sizeof(msg) - 1)
			break;
	}
	msg[len] = '\0';
	if (strncmp(msg, "P ", 2) == 0) {
		report(stderr);
		printf("%s\n", msg + 2);
		fflush(stdout);
		exit(0);
	}
	if (strncmp(msg, "E ", 2) == 0) {
		/* The daemon has undone the jail already. */
		fprintf(stderr, "vmon: jail: %s\n", msg + 2);
		exit(2);
	}
	struct vmon_error err;
	err_setf(&err, "the jailer's background process ended before vmon started");
	fail(&err);
}

/* --daemonize, back half: detaches. */
static int daemon_detach(struct vmon_error *err)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return err_setf(err, "cannot open /dev/null: %s", strerror(errno));
	if (setsid() < 0)
		return err_setf(err, "setsid: %s", strerror(errno));
	for (int fd = 0; fd < 3; fd++)
		if (dup2(null, fd) < 0)
			return err_setf(err, "cannot redirect to /dev/null: %s", strerror(errno));
	close(null);
	return 0;
}

static void daemon_say(int wfd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void daemon_say(int wfd, const char *fmt, ...)
{
	char buf[VMON_ERROR_MAX + 8];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	ssize_t w = write(wfd, buf, (size_t)n);
	(void)w;
	close(wfd);
}

static int open_exec_file(const char *test_exec, struct vmon_error *err)
{
	const char *path = test_exec ? test_exec : "/proc/self/exe";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_setf(err, "cannot open %s: %s", path, strerror(errno));
	struct stat s;
	if (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode) || !(s.st_mode & S_IXOTH)) {
		close(fd);
		return err_setf(err, "%s is not a regular file everyone may run", path);
	}
	return fd;
}

#ifdef __SANITIZE_ADDRESS__
/* make SANITIZE=1 only. The sanitizers read their options from
 * /proc/self/environ, and LeakSanitizer walks /proc/PID/task at exit: a
 * jailed vmon has no /proc, so it would end every run with a fatal
 * LeakSanitizer error. Where /proc is missing, leak checking is off (the
 * rest of AddressSanitizer still runs). Called by the ASan runtime before
 * main. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return access("/proc/self", F_OK) == 0 ? "" : "detect_leaks=0";
}
#endif

int cmd_jail(int argc, char **argv)
{
	/* Nothing the caller left open may reach the jail. */
	jail_priv_close_inherited();
	umask(022);
	struct vmon_error err = {{0}};
	struct jail_args *a = &st.args;

	/* 1. Check everything; make nothing. */
	if (jail_args_parse(argc, argv, a, &err) < 0)
		fail(&err);
	if (a->help) {
		jail_print_usage(stdout);
		return 0;
	}
	bool userns = geteuid() != 0;
	/* In a user namespace the jailed process has the caller's own host
	 * uid: only a PID namespace keeps it from signalling or tracing the
	 * caller's other processes. */
	if (userns)
		a->new_pid_ns = true;
	uid_t host_uid = userns ? geteuid() : a->uid;
	gid_t host_gid = userns ? getegid() : a->gid;
	if (jail_libs_list(&st.libs, &err) < 0)
		fail(&err);
	const char *reserved[JAIL_MAX_LIBS + 2] = {JAIL_EXEC_NAME, "dev"};
	int nreserved = 2;
	for (int i = 0; i < st.libs.ntop; i++)
		reserved[nreserved++] = st.libs.top[i];
	if (jail_layout_check(&st.layout, a->chroot_base, a->id, &err) < 0 ||
	    jail_run_prepare(a->run_argc, a->run_argv, reserved, nreserved, &st.run, &err) < 0 ||
	    jail_devices_check(&st.devices, &st.run, &err) < 0 ||
	    jail_cgroup_plan(&st.cg, a, userns, &err) < 0)
		fail(&err);
	int netns_fd = -1;
	if (a->netns && (netns_fd = jail_netns_open(a->netns, &err)) < 0)
		fail(&err);
	int exe_fd = open_exec_file(a->test_exec, &err);
	if (exe_fd < 0)
		fail(&err);

	/* 2. Build the jail and its cgroup. */
	st.built = true;
	if (jail_layout_create(&st.layout, host_uid, host_gid, &err) < 0 ||
	    jail_layout_add_program(&st.layout, exe_fd, &st.libs, &err) < 0 ||
	    jail_layout_add_images(&st.layout, &st.run, &err) < 0 ||
	    jail_layout_finish(&st.layout, &err) < 0 || jail_cgroup_create(&st.cg, a, &err) < 0)
		fail(&err);
	close(exe_fd);

	/* 3. Start vmon in it (from a detached process with --daemonize). */
	int say = -1;
	if (a->daemonize) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0) {
			err_setf(&err, "pipe: %s", strerror(errno));
			fail(&err);
		}
		fflush(NULL);
		pid_t d = fork();
		if (d < 0) {
			err_setf(&err, "fork: %s", strerror(errno));
			fail(&err);
		}
		if (d > 0) {
			close(p[1]);
			daemon_front(p[0]);
		}
		close(p[0]);
		say = p[1];
		if (daemon_detach(&err) < 0) {
			undo();
			daemon_say(say, "E %s", err.msg);
			_exit(2);
		}
	}
	struct jail_plan plan = {
		.args = a,
		.run = &st.run,
		.layout = &st.layout,
		.cg = &st.cg,
		.devices = &st.devices,
		.libs = &st.libs,
		.netns_fd = netns_fd,
		.userns = userns,
	};
	pid_t pid = jail_launch(&plan, &err);
	if (pid < 0) {
		if (say >= 0) {
			undo();
			daemon_say(say, "E %s", err.msg);
			_exit(2);
		}
		fail(&err);
	}
	if (netns_fd >= 0)
		close(netns_fd);
	if (say >= 0)
		daemon_say(say, "P %d", (int)pid);
	else
		report(stderr);

	/* 4. Stay with it; take the cgroup away when it ends. The jail
	 * directory stays: it may hold the guest's disk and output. */
	int status = jail_supervise(pid);
	jail_cgroup_remove(&st.cg, false);
	jail_layout_remove_pid(&st.layout);
	jail_layout_close(&st.layout);
	jail_run_free(&st.run);
	return status;
}
