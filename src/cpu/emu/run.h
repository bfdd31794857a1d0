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

/* What started a code epoch (emu_cpu.stat_epoch_why; run.c): an event
 * taken or interrupt delivered, a quiet slow-path visit (every 64th), a
 * visit after another vCPU wrote code, an exception. The vCPU's own
 * stores into code pages (mmu.h) and state loads are the rest. */
enum emu_epoch_why { EPOCH_SYNC, EPOCH_QUIET, EPOCH_XWRITE, EPOCH_EXC, EPOCH_WHY_COUNT };

/* VMON_EMU_STATS (run_stats.c): turn the counters on from the
 * environment, print them when the vCPU stops, free them. */
void emu_stats_init(struct emu_cpu *c);
void emu_stats_print(const struct emu_cpu *c, double secs);
void emu_stats_free(struct emu_cpu *c);
/* Stats: the instructions of block b up to end that the interpreter ran
 * (those outside its native runs) when b is hot and 64-bit, by table row:
 * what keeps hot code from being translated. */
void emu_stats_hot_interp(struct emu_cpu *c, const struct dblock *b, const struct dinsn *end);

#endif
