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

#endif
