/* SPDX-License-Identifier: MIT */
/*
 * vmon's command line: `vmon run ...`, `vmon --help`, `vmon --version`.
 * Every bad input ends here with one line on stderr and status 2.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "cli/help.h"
#include "cli/parse.h"
#include "core/chardev.h"
#include "core/error.h"
#include "core/machine.h"
#include "cpu/cpu_backend.h"
#include "cpu/host_virt.h"
#include "vm/vm.h"

#define DEFAULT_MEM (256ULL << 20)

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEM,
	OPT_CPUS,
	OPT_BACKEND,
	OPT_SERIAL,
	OPT_LOAD_ADDR,
	OPT_DEBUG_EXIT,
	OPT_NO_REBOOT,
	OPT_OVERCOMMIT,
	OPT_TRACE_IO,
	OPT_HELP,
};

static const struct option run_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"mem", required_argument, NULL, OPT_MEM},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"backend", required_argument, NULL, OPT_BACKEND},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"load-addr", required_argument, NULL, OPT_LOAD_ADDR},
	{"debug-exit", required_argument, NULL, OPT_DEBUG_EXIT},
	{"no-reboot", no_argument, NULL, OPT_NO_REBOOT},
	{"overcommit", no_argument, NULL, OPT_OVERCOMMIT},
	{"trace-io", no_argument, NULL, OPT_TRACE_IO},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

__attribute__((format(printf, 1, 2))) static _Noreturn void usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("vmon: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see vmon --help)\n", stderr);
	exit(VMON_EXIT_USAGE);
}

static void check_or_die(int r, const struct vmon_error *err)
{
	if (r < 0)
		die_status(VMON_EXIT_USAGE, "%s", err->msg);
}

static const struct cpu_backend *choose_backend(const char *name)
{
	if (strcmp(name, "kvm") == 0)
		return &cpu_backend_kvm;
	if (strcmp(name, "emu") == 0)
		return &cpu_backend_emu;
	if (strcmp(name, "auto") == 0) {
		char why[128];
		if (!host_has_hw_virt(why, sizeof(why)))
			return &cpu_backend_emu;
		return &cpu_backend_kvm;
	}
	die_status(VMON_EXIT_USAGE, "--backend: '%s' is not kvm, emu or auto", name);
}

static int cmd_run(int argc, char **argv)
{
	struct vm_config cfg = {
		.mem_size = DEFAULT_MEM,
		.ncpus = 1,
		.serial = "stdio",
		.debug_exit = DEBUG_EXIT_PLAIN,
	};
	const char *backend = "auto";
	bool overcommit = false;
	struct vmon_error err = {{0}};

	opterr = 0; /* we print our own one-line messages */
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", run_options, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL: cfg.boot.kernel_path = optarg; break;
		case OPT_INITRD: cfg.boot.initrd_path = optarg; break;
		case OPT_CMDLINE: cfg.boot.cmdline = optarg; break;
		case OPT_MEM:
			check_or_die(parse_mem_size("--mem", optarg, &cfg.mem_size, &err), &err);
			break;
		case OPT_CPUS: {
			long n;
			check_or_die(parse_int_range("--cpus", optarg, 1, VMON_MAX_CPUS, &n, &err),
				     &err);
			cfg.ncpus = (int)n;
			break;
		}
		case OPT_BACKEND: backend = optarg; break;
		case OPT_SERIAL: cfg.serial = optarg; break;
		case OPT_LOAD_ADDR:
			check_or_die(parse_u64("--load-addr", optarg, &cfg.boot.load_addr, &err),
				     &err);
			cfg.boot.has_load_addr = true;
			break;
		case OPT_DEBUG_EXIT:
			if (strcmp(optarg, "plain") == 0)
				cfg.debug_exit = DEBUG_EXIT_PLAIN;
			else if (strcmp(optarg, "qemu") == 0)
				cfg.debug_exit = DEBUG_EXIT_QEMU;
			else
				usage_error("--debug-exit: '%s' is not plain or qemu", optarg);
			break;
		case OPT_NO_REBOOT: cfg.no_reboot = true; break;
		case OPT_OVERCOMMIT: overcommit = true; break;
		case OPT_TRACE_IO: cfg.trace_io = true; break;
		case OPT_HELP: print_usage(stdout); return 0;
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default: usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!cfg.boot.kernel_path)
		usage_error("no --kernel given");

	struct sysinfo si;
	if (!overcommit && sysinfo(&si) == 0) {
		uint64_t host = (uint64_t)si.totalram * si.mem_unit;
		if (cfg.mem_size > host)
			die_status(VMON_EXIT_USAGE,
				   "--mem: %llu MiB is more than this host's %llu MiB (use "
				   "--overcommit to allow it)",
				   (unsigned long long)(cfg.mem_size >> 20),
				   (unsigned long long)(host >> 20));
	}
	cfg.backend = choose_backend(backend);

	int status = vm_run(&cfg, &err);
	if (status < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
	return status;
}

/* A crash must not leave the user's terminal in raw mode: restore it, then
 * let the default action (core dump) happen. */
static void on_fatal_signal(int sig)
{
	chardev_restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_fatal_handlers(void)
{
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], on_fatal_signal);
}

int main(int argc, char **argv)
{
	install_fatal_handlers();
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
	fprintf(stderr, "vmon: unknown command '%s' (see vmon --help)\n", cmd);
	return VMON_EXIT_USAGE;
}
