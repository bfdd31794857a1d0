/* SPDX-License-Identifier: MIT */
/*
 * `vmon cpu-features [--backend B] [--cpu-features SPEC]`: the CPU
 * features (outside the x86-64 baseline, by the names --cpu-features
 * takes) a backend gives on this host — all it offers, or, with SPEC,
 * what a guest started with --cpu-features SPEC gets (an error where it
 * cannot). A user picks a model both of two hosts give from their
 * outputs (docs/snapshot.md, "A guest that moves between emu and KVM");
 * the same SPEC printing the same line on both is a portable guest.
 * Asks the backend the question a migration target asks
 * (vm/vm_cpu_offer.h); no VM is made.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/help.h"
#include "core/error.h"
#include "cpu/cpu_model.h"
#include "vm/vm_cpu_offer.h"

int cmd_cpu_features(int argc, char **argv)
{
	enum { OPT_BACKEND = 1, OPT_SPEC, OPT_HELP };
	static const struct option opts[] = {
		{"backend", required_argument, NULL, OPT_BACKEND},
		{"cpu-features", required_argument, NULL, OPT_SPEC},
		{"help", no_argument, NULL, OPT_HELP},
		{0},
	};
	enum vm_backend_choice backend = VM_BACKEND_AUTO;
	const char *spec = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case OPT_BACKEND:
			if (strcmp(optarg, "kvm") == 0)
				backend = VM_BACKEND_KVM;
			else if (strcmp(optarg, "emu") == 0)
				backend = VM_BACKEND_EMU;
			else if (strcmp(optarg, "auto") == 0)
				backend = VM_BACKEND_AUTO;
			else
				usage_error("--backend: '%s' is not kvm, emu or auto", optarg);
			break;
		case OPT_SPEC: spec = optarg; break;
		case OPT_HELP: print_usage(stdout); return 0;
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default: usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		usage_error("cpu-features: vmon cpu-features [--backend B] [--cpu-features SPEC]");
	struct vmon_error err = {{0}};
	struct cpu_model model = {0};
	if (spec && cpu_model_parse(spec, &model, &err) < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
	static struct vm_cpu_offer offer;
	if (vm_cpu_offer_init(&offer, backend, &model, spec, &err) < 0)
		die_status(VMON_EXIT_USAGE, "cpu-features: %s", err.msg);
	if (!offer.known)
		die_status(VMON_EXIT_USAGE, "cpu-features: the %s backend cannot tell",
			   offer.backend);
	char names[4096];
	cpu_model_format(&offer.set, names, sizeof(names));
	printf("%s\n", names);
	return 0;
}
