/* SPDX-License-Identifier: MIT */
/*
 * `vmon api`: a VM that waits for its configuration and InstanceStart on
 * the API socket, as `firecracker --api-sock` does; with --config-file
 * naming a kernel it starts at once (and serves the API while it runs).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "api/config_json.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "cli/session.h"
#include "core/error.h"
#include "vm/vm_config.h"

/* Firecracker's default machine: 1 vCPU, 128 MiB. */
#define API_DEFAULT_MEM (128ULL << 20)

enum {
	OPT_API_SOCK = 256,
	OPT_CONFIG_FILE,
	OPT_ID,
	OPT_RUNTIME_DIR,
	OPT_OVERCOMMIT,
	OPT_SECCOMP,
	OPT_HELP
};

static const struct option api_options[] = {
	{"api-sock", required_argument, NULL, OPT_API_SOCK},
	{"config-file", required_argument, NULL, OPT_CONFIG_FILE},
	{"id", required_argument, NULL, OPT_ID},
	{"runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR},
	{"overcommit", no_argument, NULL, OPT_OVERCOMMIT},
	{"seccomp", required_argument, NULL, OPT_SECCOMP},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

int cmd_api(int argc, char **argv)
{
	static struct vm_config cfg; /* large: not on the stack */
	static struct api_file_config file;
	vm_config_init(&cfg);
	cfg.machine.mem_size = API_DEFAULT_MEM;
	struct session_opts o = {0};
	const char *config_file = NULL;
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", api_options, NULL)) != -1) {
		switch (c) {
		case OPT_API_SOCK: o.api_sock = optarg; break;
		case OPT_CONFIG_FILE: config_file = optarg; break;
		case OPT_ID: o.id = optarg; break;
		case OPT_RUNTIME_DIR: o.runtime_dir = optarg; break;
		case OPT_OVERCOMMIT: o.overcommit = true; break;
		case OPT_SECCOMP: {
			struct vmon_error err;
			if (vmon_seccomp_parse(optarg, &o.seccomp, &err) < 0)
				die_status(VMON_EXIT_USAGE, "%s", err.msg);
			break;
		}
		case OPT_HELP: print_usage(stdout); return 0;
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default: usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (config_file) {
		load_config_file(config_file, &cfg, o.overcommit, &file);
		o.file = &file;
		/* A file with a boot source starts the VM, as Firecracker's. */
		if (cfg.boot.kernel[0]) {
			struct vmon_error err = {{0}};
			if (vm_config_validate(&cfg, &err) < 0 ||
			    vm_config_check_host(&cfg, &err) < 0)
				die_status(VMON_EXIT_USAGE, "--config-file %s: %s", config_file,
					   err.msg);
			o.start_now = true;
		}
	}
	return session_run(&o, &cfg);
}
