/* SPDX-License-Identifier: MIT */
/*
 * Interrupt lines from devices to the interrupt controllers.
 *
 * The controllers belong to the CPU backend (KVM's in-kernel irqchip, or
 * the software CPU's own PIC/IOAPIC), so a device holds only a GSI number
 * and a router the backend installs. Levels follow the ISA convention:
 * set_level(gsi, true) asserts the line, false deasserts it; an edge is a
 * raise followed by a lower.
 *
 * Message-signalled interrupts (PCI MSI-X) bypass the IOAPIC: a device
 * hands the router the message address and data the guest programmed, and
 * the backend delivers them as the LAPICs would see a memory write to
 * 0xfee00000. A backend without MSI support leaves msi NULL; devices then
 * fall back to their INTx line.
 */
#ifndef VMON_CORE_IRQ_H
#define VMON_CORE_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct irq_router {
	void (*set_level)(void *ctx, unsigned gsi, bool level);
	/* Delivers one MSI message; any thread. NULL: no MSI on this backend. */
	void (*msi)(void *ctx, uint64_t addr, uint32_t data);
	void *ctx;
};

struct irq_line {
	struct irq_router *router;
	unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *line, bool level)
{
	if (line->router && line->router->set_level)
		line->router->set_level(line->router->ctx, line->gsi, level);
}

static inline void irq_line_pulse(const struct irq_line *line)
{
	irq_line_set(line, true);
	irq_line_set(line, false);
}

/* Sends one MSI message through router; returns false if the backend has
 * no MSI support (the caller may use INTx instead). */
static inline bool irq_router_msi(const struct irq_router *router, uint64_t addr, uint32_t data)
{
	if (!router || !router->msi)
		return false;
	router->msi(router->ctx, addr, data);
	return true;
}

#endif
