/* SPDX-License-Identifier: MIT */
/*
 * Local APIC, one per vCPU (xAPIC registers at 0xfee00000, reached through
 * mmu.c's physical accesses): IRR/ISR/TMR, TPR/PPR, EOI, SVR, LVTs, the
 * timer and IPIs incl. INIT/SIPI; apic_deliver() routes any interrupt
 * message (IPI, IOAPIC, MSI) to the LAPICs it names. The bottom chip: it
 * knows the vCPUs' state (cpu.h) and nothing above it; a level-triggered
 * EOI reaches the IOAPIC through emu_vm.eoi_broadcast.
 *
 * Threads: the owning vCPU for everything but lapic_accept() and
 * apic_deliver(), which any thread may call (IRR/TMR are atomics, the
 * target is woken with emu_wake).
 */
#ifndef VMON_CPU_EMU_CHIP_LAPIC_H
#define VMON_CPU_EMU_CHIP_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/emu/cpu.h"

void lapic_reset(struct emu_cpu *c, bool bsp);
uint32_t lapic_read(struct emu_cpu *c, uint32_t off);
void lapic_write(struct emu_cpu *c, uint32_t off, uint32_t v);
/* Highest deliverable vector, -2 when one is pending but masked by the
 * PPR, or -1 (does not acknowledge). */
int lapic_pending(struct emu_cpu *c);
void lapic_ack(struct emu_cpu *c, int vec);
void lapic_timer_check(struct emu_cpu *c, uint64_t now);
/* Snapshots: ns to the timer's next expiry (0: not armed); re-arming it
 * from the registers with remaining_ns left (0: stopped). */
uint64_t lapic_timer_remaining(const struct emu_cpu *c, uint64_t now);
void lapic_timer_resume(struct emu_cpu *c, uint64_t now, uint64_t remaining_ns);
bool lapic_enabled(const struct emu_cpu *c);
/* From any thread: set vector in IRR of c and wake it. */
void lapic_accept(struct emu_cpu *c, int vec, bool level);
/* Route an interrupt message (IOAPIC, IPI, MSI). dest_mode 0 physical, 1
 * logical; dmode the delivery mode; shorthand as in the ICR (0 none). */
void apic_deliver(struct emu_vm *vm, struct emu_cpu *from, uint32_t dest, int dest_mode, int dmode,
		  int vec, bool level, int shorthand);

#endif
