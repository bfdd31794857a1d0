/* SPDX-License-Identifier: MIT */
/*
 * vmon's subcommands, one file each (cmd_*.c). Each takes argv from its
 * own name on and returns the process's exit status; bad input ends in
 * one line on stderr and status 2 (usage_error, die_status).
 */
#ifndef VMON_CLI_COMMANDS_H
#define VMON_CLI_COMMANDS_H

#include <stdbool.h>

struct vm_config;
struct api_file_config;

int cmd_run(int argc, char **argv);
int cmd_api(int argc, char **argv);
int cmd_ps(int argc, char **argv);
/* `vmon pause|resume|stop ID` (argv[0] names which). */
int cmd_vm_action(int argc, char **argv);
int cmd_balloon(int argc, char **argv);

/* `vmon snapshot ID DIR`, `vmon restore DIR` (cmd_snapshot.c). */
int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv);
/* `vmon snapshot-merge BASE DIFF` (cmd_snapshot_merge.c). */
int cmd_snapshot_merge(int argc, char **argv);
/* `vmon migrate ID --to ...`, `vmon migrate --cancel ID` (cmd_migrate.c). */
int cmd_migrate(int argc, char **argv);
/* `vmon cpu-features [--backend B] [--cpu-features SPEC]` (cmd_cpu.c). */
int cmd_cpu_features(int argc, char **argv);
/* Loads a config file into cfg and x, or exits with status 2. */
void load_config_file(const char *path, struct vm_config *cfg, bool overcommit,
		      struct api_file_config *x);

/* Prints "vmon: <message> (see vmon --help)" and exits with status 2. */
__attribute__((format(printf, 1, 2))) _Noreturn void usage_error(const char *fmt, ...);

#endif
