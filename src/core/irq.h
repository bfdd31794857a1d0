/* SPDX-License-Identifier: MIT */
/*
 * Interrupt lines from devices to the interrupt controllers.
 *
 * The controllers belong to the CPU backend (KVM's in-kernel irqchip, or
 * the software CPU's own PIC/IOAPIC), so a device holds only a GSI number
 * and a router the backend installs. Levels follow the ISA convention:
 * set_level(gsi, true) asserts the line, false deasserts it; an edge is a
 * raise followed by a lower.
 */
#ifndef VMON_CORE_IRQ_H
#define VMON_CORE_IRQ_H

#include <stdbool.h>

struct irq_router {
	void (*set_level)(void *ctx, unsigned gsi, bool level);
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

#endif
