/* SPDX-License-Identifier: MIT */
/*
 * vmon's subcommands, one file each (cmd_*.c). Each takes argv from its
 * own name on and returns the process's exit status; bad input ends in
 * one line on stderr and status 2 (usage_error, die_status).
 */
#ifndef VMON_CLI_COMMANDS_H
#define VMON_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);

/* Prints "vmon: <message> (see vmon --help)" and exits with status 2. */
__attribute__((format(printf, 1, 2))) _Noreturn void usage_error(const char *fmt, ...);

#endif
