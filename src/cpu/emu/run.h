/* SPDX-License-Identifier: MIT */
/*
 * The vCPU run loop: blocks of decoded instructions dispatched to their
 * handlers (threaded), native runs entered in between, and everything
 * that happens between blocks (interrupt acceptance, timers, halt and
 * sleep, INIT/SIPI, exception delivery and nesting). Runs on the vCPU's
 * own thread until the machine stops.
 */
#ifndef VMON_CPU_EMU_RUN_H
#define VMON_CPU_EMU_RUN_H

#include "cpu/emu/cpu.h"

void emu_cpu_run(struct emu_cpu *c);

/* VMON_EMU_STATS (run_stats.c): turn the counters on from the
 * environment, print them when the vCPU stops, free them. */
void emu_stats_init(struct emu_cpu *c);
void emu_stats_print(const struct emu_cpu *c, double secs);
void emu_stats_free(struct emu_cpu *c);

#endif
