/* SPDX-License-Identifier: MIT */
/*
 * The machine's interrupt router on the software CPU (core/irq.h): GSI n
 * goes to PIC pin n (n < 16) and IOAPIC pin n (n < 24), as KVM's default
 * routing; MSI messages go to the LAPICs as the write to 0xfee00000 would.
 * Any thread.
 */
#ifndef VMON_CPU_EMU_CHIP_IRQ_H
#define VMON_CPU_EMU_CHIP_IRQ_H

#include <stdbool.h>
#include <stdint.h>

void emu_set_irq(void *ctx, unsigned gsi, bool level);
void emu_msi(void *ctx, uint64_t addr, uint32_t data);

#endif
