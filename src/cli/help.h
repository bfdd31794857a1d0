/* SPDX-License-Identifier: MIT */
#ifndef VMON_CLI_HELP_H
#define VMON_CLI_HELP_H

#include <stdio.h>

void print_usage(FILE *f);   /* full help: vmon --help */
void print_version(FILE *f); /* vmon --version */

#endif
