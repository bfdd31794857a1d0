/* SPDX-License-Identifier: MIT */
/*
 * vmon's command line: `vmon run ...`, `vmon --help`, `vmon --version`.
 * Every bad input ends here with one line on stderr and status 2.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "cli/help.h"
#include "cli/parse.h"
#include "core/chardev.h"
#include "core/error.h"
#include "core/machine.h"
#include "cpu/cpu_backend.h"
#include "cpu/host_virt.h"
#include "jail/jail.h"
#include "vm/vm.h"
#include "vm/vm_devices.h"

#define DEFAULT_MEM (256ULL << 20)

/* The default guest (`make guest`): a directory beside the vmon binary
 * (build/guest for build/vmon), or $VMON_GUEST_DIR. */
#define GUEST_DIR_NAME	      "guest"
#define GUEST_KERNEL	      "bzImage"
#define GUEST_INITRD	      "initramfs.cpio.gz"
#define GUEST_DEFAULT_CMDLINE "console=ttyS0 quiet"

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEM,
	OPT_CPUS,
	OPT_BACKEND,
	OPT_CPU_FEATURES,
	OPT_SERIAL,
	OPT_LOAD_ADDR,
	OPT_DEBUG_EXIT,
	OPT_NO_REBOOT,
	OPT_OVERCOMMIT,
	OPT_TRACE_IO,
	OPT_DISK,
	OPT_NET,
	OPT_VSOCK,
	OPT_CONSOLE,
	OPT_HELP,
};

static const struct option run_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"mem", required_argument, NULL, OPT_MEM},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"backend", required_argument, NULL, OPT_BACKEND},
	{"cpu-features", required_argument, NULL, OPT_CPU_FEATURES},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"load-addr", required_argument, NULL, OPT_LOAD_ADDR},
	{"debug-exit", required_argument, NULL, OPT_DEBUG_EXIT},
	{"no-reboot", no_argument, NULL, OPT_NO_REBOOT},
	{"overcommit", no_argument, NULL, OPT_OVERCOMMIT},
	{"trace-io", no_argument, NULL, OPT_TRACE_IO},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"vsock", required_argument, NULL, OPT_VSOCK},
	{"console", required_argument, NULL, OPT_CONSOLE},
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

/* transport=pci|mmio (val) for a device of option name (whole argument
 * arg) that is not counted in cfg yet; *mmio is its flag. */
static void parse_transport(const struct vm_config *cfg, const char *name, const char *val,
			    const char *arg, bool *mmio)
{
	if (strcmp(val, "pci") == 0) {
		*mmio = false;
		return;
	}
	if (strcmp(val, "mmio") != 0)
		usage_error("%s: transport '%s' in '%s' is not pci or mmio", name, val, arg);
	if (!*mmio && vm_devices_mmio_count(cfg) >= VM_MAX_VIRTIO_MMIO)
		usage_error("%s: at most %d devices with transport=mmio", name, VM_MAX_VIRTIO_MMIO);
	*mmio = true;
}

/* Takes transport=pci|mmio elements out of a comma-separated option value
 * (after its first element) for a device not counted in cfg yet; returns
 * the rest, in a copy that lives as long as vmon. */
static const char *take_transport(const struct vm_config *cfg, const char *name, const char *arg,
				  bool *mmio)
{
	/* The copies stay reachable from this list (the parsed device specs
	 * may point into them), so leak checkers do not report them. */
	struct kept {
		struct kept *next;
		char s[];
	};
	static struct kept *kept;
	struct kept *k = malloc(sizeof(*k) + strlen(arg) + 1);
	if (!k)
		die_status(VMON_EXIT_USAGE, "out of memory");
	k->next = kept;
	kept = k;
	char *out = k->s;
	strcpy(out, arg);
	size_t n = 0;
	const char *p = arg;
	for (bool first = true;; first = false) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (!first && strncmp(p, "transport=", 10) == 0) {
			char *val = strndup(p + 10, len - 10);
			if (!val)
				die_status(VMON_EXIT_USAGE, "out of memory");
			parse_transport(cfg, name, val, arg, mmio);
			free(val);
		} else {
			if (!first)
				out[n++] = ',';
			memcpy(out + n, p, len);
			n += len;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	out[n] = '\0';
	return out;
}

/* --disk PATH[,ro][,id=NAME][,transport=pci|mmio]: PATH may not contain a
 * comma. */
static void parse_disk(struct vm_config *cfg, const char *arg)
{
	if (cfg->ndisks == VM_MAX_DISKS)
		usage_error("--disk: at most %d disks", VM_MAX_DISKS);
	char *copy = strdup(arg); /* freed by cmd_run after the VM (d->path) */
	if (!copy)
		die_status(VMON_EXIT_USAGE, "out of memory");
	struct virtio_blk_spec *d = &cfg->disks[cfg->ndisks];
	*d = (struct virtio_blk_spec){.path = copy, .aio = BLK_AIO_AUTO};
	char *opt = strchr(copy, ',');
	if (opt)
		*opt++ = '\0';
	if (!*copy)
		usage_error("--disk: '%s' names no image file", arg);
	while (opt) {
		char *next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (strcmp(opt, "ro") == 0)
			d->ro = true;
		else if (strncmp(opt, "id=", 3) == 0 && opt[3])
			d->id = opt + 3;
		else if (strncmp(opt, "transport=", 10) == 0)
			parse_transport(cfg, "--disk", opt + 10, arg, &cfg->disk_mmio[cfg->ndisks]);
		else
			usage_error("--disk: unknown suboption '%s' in '%s' (use ro, id=NAME or "
				    "transport=pci|mmio)",
				    opt, arg);
		opt = next;
	}
	cfg->ndisks++;
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

/* Fills in the default guest's kernel, initrd and command line where the
 * user gave none; exits with status 2 if it has not been built. */
static void use_default_guest(struct vm_config *cfg)
{
	static char dir[PATH_MAX], kernel[PATH_MAX + 32], initrd[PATH_MAX + 32];
	const char *env = getenv("VMON_GUEST_DIR");
	if (env && *env) {
		snprintf(dir, sizeof(dir), "%s", env);
	} else {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
		if (n <= 0)
			die_status(VMON_EXIT_USAGE, "no --kernel given, and cannot find vmon's "
						    "own directory to look for the default guest");
		dir[n] = 0;
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		size_t len = strlen(dir);
		snprintf(dir + len, sizeof(dir) - len, "/%s", GUEST_DIR_NAME);
	}
	snprintf(kernel, sizeof(kernel), "%s/%s", dir, GUEST_KERNEL);
	snprintf(initrd, sizeof(initrd), "%s/%s", dir, GUEST_INITRD);
	struct stat st;
	if (stat(kernel, &st) < 0 || stat(initrd, &st) < 0)
		die_status(VMON_EXIT_USAGE,
			   "no --kernel given and no default guest in %s: run `make guest` to "
			   "build it",
			   dir);
	cfg->boot.kernel_path = kernel;
	if (!cfg->boot.initrd_path)
		cfg->boot.initrd_path = initrd;
	if (!cfg->boot.cmdline)
		cfg->boot.cmdline = GUEST_DEFAULT_CMDLINE;
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
		case OPT_CPU_FEATURES:
			check_or_die(cpu_model_parse(optarg, &cfg.cpu_model, &err), &err);
			break;
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
		case OPT_DISK: parse_disk(&cfg, optarg); break;
		case OPT_NET:
			if (cfg.nnets == VM_MAX_NICS)
				usage_error("--net: at most %d network devices", VM_MAX_NICS);
			check_or_die(net_spec_parse(take_transport(&cfg, "--net", optarg,
								   &cfg.net_mmio[cfg.nnets]),
						    &cfg.nets[cfg.nnets], &err),
				     &err);
			cfg.nnets++;
			break;
		case OPT_CONSOLE: {
			struct chardev_spec cs;
			cfg.console = NULL; /* the last --console counts */
			cfg.console_mmio = false;
			cfg.console = take_transport(&cfg, "--console", optarg, &cfg.console_mmio);
			check_or_die(chardev_parse(cfg.console, &cs, &err), &err);
			break;
		}
		case OPT_VSOCK:
			if (cfg.has_vsock)
				usage_error("--vsock: only one vsock device");
			check_or_die(vsock_spec_parse(take_transport(&cfg, "--vsock", optarg,
								     &cfg.vsock_mmio),
						      &cfg.vsock, &err),
				     &err);
			cfg.has_vsock = true;
			break;
		case OPT_HELP: print_usage(stdout); return 0;
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default: usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg.console && strcmp(cfg.console, "stdio") == 0 && strcmp(cfg.serial, "stdio") == 0)
		usage_error("--console stdio needs --serial elsewhere (file:PATH or unix:PATH): "
			    "only one device can have the terminal");
	if (!cfg.boot.kernel_path)
		use_default_guest(&cfg);

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
	check_or_die(vm_devices_check(&cfg, &err), &err);
	cfg.backend = choose_backend(backend);

	int status = vm_run(&cfg, &err);
	for (int i = 0; i < cfg.ndisks; i++)
		free((char *)cfg.disks[i].path);
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
	if (strcmp(cmd, "jail") == 0)
		return cmd_jail(argc - 1, argv + 1);
	fprintf(stderr, "vmon: unknown command '%s' (see vmon --help)\n", cmd);
	return VMON_EXIT_USAGE;
}
