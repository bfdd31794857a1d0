/* SPDX-License-Identifier: MIT */
/*
 * vmon's command line: the subcommands (cli/commands.h), `vmon --help`,
 * `vmon --version`. Every bad input ends with one line on stderr and
 * status 2.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/help.h"
#include "core/chardev.h"
#include "core/error.h"
#include "jail/jail.h"

/* A crash must not leave the user's terminal in raw mode: restore it, then
 * let the default action (core dump) happen. The handler is reset to the
 * default as it is entered (SA_RESETHAND): no sigaction call on a thread
 * whose seccomp filter does not allow one. */
static void on_fatal_signal(int sig)
{
	chardev_restore_terminal();
	raise(sig);
}

static void install_fatal_handlers(void)
{
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
}

int main(int argc, char **argv)
{
	install_fatal_handlers();
	/* A closed pipe is an error to handle (EPIPE: the console is gone,
	 * core/chardev.h), not a silent death that skips the clean-up. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		print_usage(stderr);
		return VMON_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		print_usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		print_version(stdout);
		return 0;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "api") == 0)
		return cmd_api(argc - 1, argv + 1);
	if (strcmp(cmd, "ps") == 0)
		return cmd_ps(argc - 1, argv + 1);
	if (strcmp(cmd, "snapshot-merge") == 0)
		return cmd_snapshot_merge(argc - 1, argv + 1);
	if (strcmp(cmd, "snapshot") == 0)
		return cmd_snapshot(argc - 1, argv + 1);
	if (strcmp(cmd, "restore") == 0)
		return cmd_restore(argc - 1, argv + 1);
	if (strcmp(cmd, "migrate") == 0)
		return cmd_migrate(argc - 1, argv + 1);
	if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0 || strcmp(cmd, "stop") == 0)
		return cmd_vm_action(argc - 1, argv + 1);
	if (strcmp(cmd, "balloon") == 0)
		return cmd_balloon(argc - 1, argv + 1);
	if (strcmp(cmd, "cpu-features") == 0)
		return cmd_cpu_features(argc - 1, argv + 1);
	if (strcmp(cmd, "jail") == 0)
		return cmd_jail(argc - 1, argv + 1);
	fprintf(stderr, "vmon: unknown command '%s' (see vmon --help)\n", cmd);
	return VMON_EXIT_USAGE;
}
