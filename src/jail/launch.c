/* SPDX-License-Identifier: MIT */
#include "jail/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/namespaces.h"
#include "jail/privileges.h"

extern char **environ;

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP};
#define NFORWARDED ((int)(sizeof(forwarded) / sizeof(forwarded[0])))

static volatile sig_atomic_t child_for_signals;

static void forward_signal(int sig)
{
	pid_t pid = child_for_signals;
	if (pid > 0)
		kill(pid, sig);
}

/* The child's last words: one line to the parent, then out. */
static _Noreturn void child_fail(int fd, const struct vmon_error *err)
{
	size_t len = strnlen(err->msg, sizeof(err->msg));
	ssize_t n = write(fd, err->msg, len);
	(void)n;
	_exit(2);
}

/* VMON_* (vmon's tuning and test switches) minus the two the jailer has
 * already used, and where the jail's libraries are. */
static char **jail_environment(const struct jail_libs *libs, struct vmon_error *err)
{
	int n = 0;
	for (char **e = environ; *e; e++)
		n++;
	char **env = calloc((size_t)n + 2, sizeof(*env));
	char *ldpath = calloc((size_t)libs->n + 1, PATH_MAX);
	if (!env || !ldpath) {
		err_setf(err, "out of memory");
		return NULL;
	}
	int k = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "VMON_", 5) == 0 && strncmp(*e, "VMON_KVM_DEVICE=", 16) != 0 &&
		    strncmp(*e, "VMON_GUEST_DIR=", 15) != 0)
			env[k++] = *e;
	strcpy(ldpath, "LD_LIBRARY_PATH=");
	for (int i = 0; i < libs->n; i++) {
		const char *slash = strrchr(libs->path[i], '/');
		size_t dlen = (size_t)(slash - libs->path[i]);
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%.*s", (int)(dlen ? dlen : 1), libs->path[i]);
		bool seen = false;
		for (const char *p = ldpath + 16; *p && !seen;) {
			size_t len = strcspn(p, ":");
			seen = len == strlen(dir) && strncmp(p, dir, len) == 0;
			p += len;
			if (*p == ':')
				p++;
		}
		if (!seen) {
			if (ldpath[16])
				strcat(ldpath, ":");
			strcat(ldpath, dir);
		}
	}
	env[k++] = ldpath;
	env[k] = NULL;
	return env;
}

static _Noreturn void jail_child(const struct jail_plan *p, int go_fd, int err_fd)
{
	struct vmon_error err = {{0}};
	for (int i = 0; i < NFORWARDED; i++)
		signal(forwarded[i], SIG_DFL);

	char go;
	if (read(go_fd, &go, 1) != 1)
		_exit(2); /* the jailer is gone */
	close(go_fd);

	const char *root = p->layout->root;
	if (p->netns_fd >= 0) {
		if (jail_ns_enter_netns(p->netns_fd, &err) < 0)
			child_fail(err_fd, &err);
		close(p->netns_fd);
	}
	if (jail_ns_bind_root(root, &err) < 0 ||
	    jail_devices_make(root, p->devices, p->args->uid, p->args->gid, p->userns, &err) < 0 ||
	    jail_ns_pivot_root(root, &err) < 0 || jail_priv_rlimits(p->args, &err) < 0)
		child_fail(err_fd, &err);
	char **env = jail_environment(p->libs, &err);
	if (!env || jail_priv_cloexec_fds(&err) < 0 ||
	    jail_priv_drop(p->args->uid, p->args->gid, p->userns, &err) < 0)
		child_fail(err_fd, &err);
	execve("/" JAIL_EXEC_NAME, p->run->argv, env);
	err_setf(&err, "cannot run /%s in the jail: %s", JAIL_EXEC_NAME, strerror(errno));
	child_fail(err_fd, &err);
}

pid_t jail_launch(const struct jail_plan *p, struct vmon_error *err)
{
	int go[2], ef[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return err_setf(err, "pipe: %s", strerror(errno));
	if (pipe2(ef, O_CLOEXEC) < 0) {
		close(go[0]);
		close(go[1]);
		return err_setf(err, "pipe: %s", strerror(errno));
	}
	struct sigaction sa = {.sa_handler = forward_signal};
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < NFORWARDED; i++)
		sigaction(forwarded[i], &sa, NULL);

	pid_t pid = jail_ns_clone(jail_ns_clone_flags(p->args->new_pid_ns, p->userns));
	if (pid < 0) {
		int e = errno;
		close(go[0]);
		close(go[1]);
		close(ef[0]);
		close(ef[1]);
		return err_setf(err, "cannot make the jail's namespaces: %s%s", strerror(e),
				p->userns && e == EPERM
					? " (unprivileged user namespaces may be disabled here)"
					: "");
	}
	if (pid == 0) {
		close(go[1]);
		close(ef[0]);
		jail_child(p, go[0], ef[1]);
	}
	child_for_signals = pid;
	close(go[0]);
	close(ef[1]);

	int rc = 0;
	if (p->userns)
		rc = jail_ns_write_idmaps(pid, p->args->uid, p->args->gid, geteuid(), getegid(),
					  err);
	if (rc == 0)
		rc = jail_cgroup_attach(p->cg, pid, err);
	if (rc == 0)
		rc = jail_layout_write_pid(p->layout, pid, err);
	if (rc == 0 && write(go[1], "g", 1) != 1)
		rc = err_setf(err, "cannot start the jail's process: %s", strerror(errno));
	close(go[1]);
	if (rc < 0)
		kill(pid, SIGKILL);

	/* End of file and nothing read: vmon has been exec'd. */
	char msg[VMON_ERROR_MAX];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(ef[0], msg + len, sizeof(msg) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == sizeof(msg) - 1)
			break;
	}
	close(ef[0]);
	msg[len] = '\0';
	if (rc == 0 && len == 0)
		return pid;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	child_for_signals = 0;
	if (rc == 0)
		err_setf(err, "%s", msg);
	return -1;
}

int jail_supervise(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 2;
	child_for_signals = 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		fprintf(stderr, "vmon: jail: vmon (pid %d) was killed by signal %d (%s)\n",
			(int)pid, sig, strsignal(sig));
		return 128 + sig;
	}
	return 2;
}
