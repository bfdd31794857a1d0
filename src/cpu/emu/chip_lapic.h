/* SPDX-License-Identifier: MIT */
/*
 * Local APIC, one per vCPU (xAPIC registers at 0xfee00000, reached through
 * mmu.c's physical accesses; in x2APIC mode MSRs 0x800-0x8ff instead,
 * chip_x2apic.c): IRR/ISR/TMR, TPR/PPR, EOI, SVR, LVTs, the timer
 * (one-shot, periodic, TSC-deadline) and IPIs incl. INIT/SIPI and NMI
 * (which the vCPU takes through EV_NMI, not the IRR); apic_deliver() routes any interrupt
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
/* An IPI from c's ICR (low word lo; dest an 8-bit xAPIC or, in x2APIC
 * mode, a 32-bit x2APIC destination). */
void lapic_send_icr(struct emu_cpu *c, uint32_t lo, uint32_t dest);
/* The LINT1 pin asserted: as its LVT says (NMI, fixed, masked). */
void lapic_lint1(struct emu_cpu *c);
/* In x2APIC mode: the logical ID the x2APIC ID implies (LDR). */
void lapic_derive_ldr(struct emu_cpu *c);
/* IA32_TSC_DEADLINE: reads 0 and ignores writes outside TSC-deadline
 * mode; a write arms (non-zero) or disarms (0) the timer. */
uint64_t lapic_tsc_deadline_read(const struct emu_cpu *c);
void lapic_tsc_deadline_write(struct emu_cpu *c, uint64_t v);

/* x2APIC (chip_x2apic.c). A WRMSR of IA32_APIC_BASE: false for a
 * reserved bit or a transition the SDM forbids (#GP). */
bool lapic_set_base(struct emu_cpu *c, uint64_t v);
/* MSRs 0x800-0x8ff: false for #GP (not in x2APIC mode, a reserved or
 * write-only register read, a read-only one written, reserved bits). */
bool x2apic_rdmsr(struct emu_cpu *c, uint32_t msr, uint64_t *v);
bool x2apic_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v);

#endif
