/* SPDX-License-Identifier: MIT */
/*
 * `vmon run`: the command line turned into a vm_config (the option
 * grammars are parsed here and in specs.c), then the VM.
 */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/help.h"
#include "cli/balloon_spec.h"
#include "cli/parse.h"
#include "cli/rate_spec.h"
#include "cli/session.h"
#include "cli/specs.h"
#include "api/config_json.h"
#include "core/error.h"
#include "core/cpu_affinity.h"
#include "core/machine.h"
#include "core/seccomp.h"
#include "vm/vm.h"
#include "vm/vm_config.h"

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
	OPT_NESTED,
	OPT_TRACK_DIRTY,
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
	OPT_RNG,
	OPT_BALLOON,
	OPT_ID,
	OPT_API_SOCK,
	OPT_NO_API,
	OPT_RUNTIME_DIR,
	OPT_CONFIG_FILE,
	OPT_SECCOMP,
	OPT_CPU_AFFINITY,
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
	{"nested", no_argument, NULL, OPT_NESTED},
	{"track-dirty-pages", no_argument, NULL, OPT_TRACK_DIRTY},
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
	{"rng", required_argument, NULL, OPT_RNG},
	{"balloon", required_argument, NULL, OPT_BALLOON},
	{"id", required_argument, NULL, OPT_ID},
	{"api-sock", required_argument, NULL, OPT_API_SOCK},
	{"no-api", no_argument, NULL, OPT_NO_API},
	{"runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR},
	{"config-file", required_argument, NULL, OPT_CONFIG_FILE},
	{"seccomp", required_argument, NULL, OPT_SECCOMP},
	{"cpu-affinity", required_argument, NULL, OPT_CPU_AFFINITY},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

__attribute__((format(printf, 1, 2))) _Noreturn void usage_error(const char *fmt, ...)
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

/* Copies s into dst (size n) or dies naming the option. */
static void copy_arg(char *dst, size_t n, const char *opt, const char *s)
{
	if (strlen(s) >= n)
		usage_error("%s: '%.40s...' is too long", opt, s);
	memcpy(dst, s, strlen(s) + 1);
}

/* transport=pci|mmio (val) for a device of option name (whole argument
 * arg) that is not counted in cfg yet; *t is its transport. */
static void parse_transport(const struct vm_config *cfg, const char *name, const char *val,
			    const char *arg, enum vm_transport *t)
{
	if (strcmp(val, "pci") == 0) {
		*t = VM_TRANSPORT_PCI;
		return;
	}
	if (strcmp(val, "mmio") != 0)
		usage_error("%s: transport '%s' in '%s' is not pci or mmio", name, val, arg);
	if (*t != VM_TRANSPORT_MMIO && vm_config_mmio_count(cfg) >= VM_MAX_VIRTIO_MMIO)
		usage_error("%s: at most %d devices with transport=mmio", name, VM_MAX_VIRTIO_MMIO);
	*t = VM_TRANSPORT_MMIO;
}

/* Takes transport=pci|mmio elements out of a comma-separated option value
 * (after its first element) for a device not counted in cfg yet; returns
 * the rest in out (cap bytes). */
static void take_transport(const struct vm_config *cfg, const char *name, const char *arg,
			   enum vm_transport *t, char *out, size_t cap)
{
	if (strlen(arg) >= cap)
		usage_error("%s: '%.40s...' is too long", name, arg);
	size_t n = 0;
	const char *p = arg;
	for (bool first = true;; first = false) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (!first && strncmp(p, "transport=", 10) == 0) {
			char val[16];
			snprintf(val, sizeof(val), "%.*s", (int)(len - 10), p + 10);
			parse_transport(cfg, name, val, arg, t);
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
}

/* --disk PATH[,ro][,id=NAME][,transport=pci|mmio][,bw=...,ops=...] (rate
 * limits: cli/rate_spec.h): PATH may not contain a comma. The drive's id is NAME where NAME is a
 * valid id (it is also the serial the guest reads), driveN otherwise. */
static void parse_disk(struct vm_config *cfg, const char *arg)
{
	if (cfg->ndrives == VM_MAX_DISKS)
		usage_error("--disk: at most %d disks", VM_MAX_DISKS);
	struct vm_drive_config *d = &cfg->drives[cfg->ndrives];
	memset(d, 0, sizeof(*d));
	d->aio = BLK_AIO_AUTO;
	char copy[VM_PATH_MAX + 64];
	struct vmon_error err = {{0}};
	const struct rate_target rt = {"", &d->rl};
	check_or_die(rate_opts_take("--disk", arg, true, &rt, 1, copy, sizeof(copy), &err), &err);
	char *opt = strchr(copy, ',');
	if (opt)
		*opt++ = '\0';
	if (!*copy)
		usage_error("--disk: '%s' names no image file", arg);
	copy_arg(d->path, sizeof(d->path), "--disk", copy);
	while (opt) {
		char *next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (strcmp(opt, "ro") == 0) {
			d->ro = true;
		} else if (strncmp(opt, "id=", 3) == 0 && opt[3]) {
			if (strlen(opt + 3) > VIRTIO_BLK_ID_BYTES)
				usage_error("--disk %s: id '%s' is longer than %d bytes", d->path,
					    opt + 3, VIRTIO_BLK_ID_BYTES);
			snprintf(d->serial, sizeof(d->serial), "%s", opt + 3);
		} else if (strncmp(opt, "transport=", 10) == 0) {
			parse_transport(cfg, "--disk", opt + 10, arg, &d->transport);
		} else {
			usage_error("--disk: unknown suboption '%s' in '%s' (use ro, id=NAME, "
				    "transport=pci|mmio, bw=, ops=, bw_burst= or ops_burst=)",
				    opt, arg);
		}
		opt = next;
	}
	if (d->serial[0] && vm_id_valid(d->serial) && vm_config_find_drive(cfg, d->serial) < 0)
		memcpy(d->id, d->serial, strlen(d->serial) + 1); /* shorter than id */
	else
		snprintf(d->id, sizeof(d->id), "drive%u", cfg->ndrives);
	cfg->ndrives++;
}

static enum vm_backend_choice parse_backend(const char *name)
{
	if (strcmp(name, "kvm") == 0)
		return VM_BACKEND_KVM;
	if (strcmp(name, "emu") == 0)
		return VM_BACKEND_EMU;
	if (strcmp(name, "auto") == 0)
		return VM_BACKEND_AUTO;
	die_status(VMON_EXIT_USAGE, "--backend: '%s' is not kvm, emu or auto", name);
}

/* Fills in the default guest's kernel, initrd and command line where the
 * user gave none; exits with status 2 if it has not been built. */
static void use_default_guest(struct vm_config *cfg, bool has_cmdline)
{
	char dir[PATH_MAX];
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
	struct vm_boot_config *b = &cfg->boot;
	int k = snprintf(b->kernel, sizeof(b->kernel), "%s/%s", dir, GUEST_KERNEL);
	char initrd[VM_PATH_MAX];
	int i = snprintf(initrd, sizeof(initrd), "%s/%s", dir, GUEST_INITRD);
	struct stat st;
	if (k >= (int)sizeof(b->kernel) || i >= (int)sizeof(initrd) || stat(b->kernel, &st) < 0 ||
	    stat(initrd, &st) < 0)
		die_status(VMON_EXIT_USAGE,
			   "no --kernel given and no default guest in %s: run `make guest` to "
			   "build it",
			   dir);
	if (!b->initrd[0])
		memcpy(b->initrd, initrd, strlen(initrd) + 1);
	if (!has_cmdline)
		snprintf(b->cmdline, sizeof(b->cmdline), "%s", GUEST_DEFAULT_CMDLINE);
}

/* The options of `vmon run` into cfg (which may hold a config file's
 * settings already) and o. Exits with status 2 on bad input; returns
 * false for --help (usage printed). */
static bool parse_run_options(int argc, char **argv, struct vm_config *cfg, struct session_opts *o)
{
	struct vmon_error err = {{0}};
	bool has_kernel = cfg->boot.kernel[0], has_cmdline = cfg->boot.cmdline[0];
	opterr = 0; /* we print our own one-line messages */
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", run_options, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			copy_arg(cfg->boot.kernel, sizeof(cfg->boot.kernel), "--kernel", optarg);
			has_kernel = true;
			break;
		case OPT_INITRD:
			copy_arg(cfg->boot.initrd, sizeof(cfg->boot.initrd), "--initrd", optarg);
			break;
		case OPT_CMDLINE:
			copy_arg(cfg->boot.cmdline, sizeof(cfg->boot.cmdline), "--cmdline", optarg);
			has_cmdline = true;
			break;
		case OPT_MEM:
			check_or_die(parse_mem_size("--mem", optarg, &cfg->machine.mem_size, &err),
				     &err);
			break;
		case OPT_CPUS: {
			long n;
			check_or_die(parse_int_range("--cpus", optarg, 1, VMON_MAX_CPUS, &n, &err),
				     &err);
			cfg->machine.vcpus = (unsigned)n;
			break;
		}
		case OPT_BACKEND: cfg->machine.backend = parse_backend(optarg); break;
		case OPT_CPU_FEATURES:
			check_or_die(cpu_model_parse(optarg, &cfg->machine.cpu_model, &err), &err);
			copy_arg(cfg->machine.cpu_features, sizeof(cfg->machine.cpu_features),
				 "--cpu-features", optarg);
			break;
		case OPT_NESTED: cfg->machine.nested = true; break;
		case OPT_TRACK_DIRTY: cfg->machine.track_dirty_pages = true; break;
		case OPT_SERIAL:
			check_or_die(chardev_parse(optarg, &cfg->serial, &err), &err);
			break;
		case OPT_LOAD_ADDR:
			check_or_die(parse_u64("--load-addr", optarg, &cfg->boot.load_addr, &err),
				     &err);
			cfg->boot.has_load_addr = true;
			break;
		case OPT_DEBUG_EXIT:
			if (strcmp(optarg, "plain") == 0)
				cfg->debug_exit = DEBUG_EXIT_PLAIN;
			else if (strcmp(optarg, "qemu") == 0)
				cfg->debug_exit = DEBUG_EXIT_QEMU;
			else
				usage_error("--debug-exit: '%s' is not plain or qemu", optarg);
			break;
		case OPT_NO_REBOOT: cfg->no_reboot = true; break;
		case OPT_OVERCOMMIT: o->overcommit = true; break;
		case OPT_TRACE_IO: cfg->trace_io = true; break;
		case OPT_DISK: parse_disk(cfg, optarg); break;
		case OPT_NET: {
			if (cfg->nnets == VM_MAX_NICS)
				usage_error("--net: at most %d network devices", VM_MAX_NICS);
			struct vm_net_config *n = &cfg->nets[cfg->nnets];
			memset(n, 0, sizeof(*n));
			char rest[1024];
			take_transport(cfg, "--net", optarg, &n->transport, rest, sizeof(rest));
			char rest2[1024];
			const struct rate_target rt[] = {{"rx_", &n->rx_rl},
							 {"tx_", &n->tx_rl},
							 {"", &n->rx_rl},
							 {"", &n->tx_rl}};
			check_or_die(rate_opts_take("--net", rest, true, rt, 4, rest2,
						    sizeof(rest2), &err),
				     &err);
			check_or_die(net_spec_parse(rest2, &n->spec, &err), &err);
			snprintf(n->id, sizeof(n->id), "net%u", cfg->nnets);
			cfg->nnets++;
			break;
		}
		case OPT_BALLOON:
			check_or_die(balloon_spec_parse(optarg, &cfg->balloon, &err), &err);
			cfg->has_balloon = true;
			break;
		case OPT_RNG: {
			/* --rng bw=...,ops=...: the entropy device's rate limit. */
			char rest[64];
			memset(&cfg->entropy_rl, 0, sizeof(cfg->entropy_rl));
			const struct rate_target rt = {"", &cfg->entropy_rl};
			check_or_die(rate_opts_take("--rng", optarg, false, &rt, 1, rest,
						    sizeof(rest), &err),
				     &err);
			if (rest[0])
				usage_error("--rng: unknown suboption in '%s' (use bw=, ops=, "
					    "bw_burst= or ops_burst=)",
					    optarg);
			break;
		}
		case OPT_CONSOLE: {
			/* The last --console counts. */
			cfg->has_console = false;
			cfg->console.transport = VM_TRANSPORT_PCI;
			char rest[CHARDEV_PATH_MAX + 16];
			take_transport(cfg, "--console", optarg, &cfg->console.transport, rest,
				       sizeof(rest));
			check_or_die(chardev_parse(rest, &cfg->console.chr, &err), &err);
			cfg->has_console = true;
			break;
		}
		case OPT_VSOCK: {
			if (cfg->has_vsock)
				usage_error("--vsock: only one vsock device");
			char rest[VSOCK_PATH_MAX + 64];
			take_transport(cfg, "--vsock", optarg, &cfg->vsock.transport, rest,
				       sizeof(rest));
			check_or_die(vsock_spec_parse(rest, &cfg->vsock.spec, &err), &err);
			snprintf(cfg->vsock.id, sizeof(cfg->vsock.id), "vsock");
			cfg->has_vsock = true;
			break;
		}
		case OPT_ID: o->id = optarg; break;
		case OPT_API_SOCK: o->api_sock = optarg; break;
		case OPT_NO_API: o->no_api = true; break;
		case OPT_RUNTIME_DIR: o->runtime_dir = optarg; break;
		case OPT_CONFIG_FILE: break; /* read before the other options */
		case OPT_SECCOMP:
			check_or_die(vmon_seccomp_parse(optarg, &o->seccomp, &err), &err);
			break;
		case OPT_CPU_AFFINITY:
			check_or_die(cpu_affinity_parse(optarg, &cfg->machine.affinity, &err),
				     &err);
			break;
		case OPT_HELP: print_usage(stdout); return false;
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default: usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (cfg->has_console && cfg->console.chr.kind == CHARDEV_STDIO &&
	    cfg->serial.kind == CHARDEV_STDIO)
		usage_error("--console stdio needs --serial elsewhere (file:PATH or unix:PATH): "
			    "only one device can have the terminal");
	if (!has_kernel)
		use_default_guest(cfg, has_cmdline);
	return true;
}

/* --config-file FILE (or --config-file=FILE) anywhere in argv: read
 * first, so the other options add to it or override it. */
static const char *find_config_file(int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config-file") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config-file=", 14) == 0)
			path = argv[i] + 14;
	}
	return path;
}

void load_config_file(const char *path, struct vm_config *cfg, bool overcommit,
		      struct api_file_config *x)
{
	struct vmon_error err = {{0}};
	if (api_config_file_load(path, cfg, overcommit, x, &err) < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
}

int cmd_run(int argc, char **argv)
{
	/* An incoming migration brings its machine: run it as a restore. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--incoming") == 0 || strncmp(argv[i], "--incoming=", 11) == 0)
			return cmd_restore(argc, argv);
	static struct vm_config cfg; /* large: not on the stack */
	static struct api_file_config file;
	vm_config_init(&cfg);
	struct session_opts o = {.start_now = true};
	struct vmon_error err = {{0}};
	const char *config_file = find_config_file(argc, argv);
	if (config_file) {
		load_config_file(config_file, &cfg, true, &file);
		o.file = &file;
	}
	cfg.entropy = true; /* every VM the command line starts has a virtio-rng */
	if (!parse_run_options(argc, argv, &cfg, &o))
		return 0;
	struct sysinfo si;
	if (!o.overcommit && sysinfo(&si) == 0) {
		uint64_t host = (uint64_t)si.totalram * si.mem_unit;
		if (cfg.machine.mem_size > host)
			die_status(VMON_EXIT_USAGE,
				   "--mem: %llu MiB is more than this host's %llu MiB (use "
				   "--overcommit to allow it)",
				   (unsigned long long)(cfg.machine.mem_size >> 20),
				   (unsigned long long)(host >> 20));
	}
	check_or_die(vm_config_validate(&cfg, &err), &err);
	check_or_die(vm_config_check_host(&cfg, &err), &err);
	return session_run(&o, &cfg);
}
