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
 *
 * MSI routes fed by an eventfd (KVM's irqfd) are an optional fast path:
 * a device binds an eventfd to a message once, and from then on a write
 * to the eventfd delivers that message inside the kernel, from any
 * thread, without an ioctl. A backend without it (the software CPU, or
 * KVM with VMON_NO_IRQFD=1) leaves the three hooks NULL; callers then use
 * msi(). Masking stays with the device: it simply does not write the
 * eventfd of a masked vector.
 */
#ifndef VMON_CORE_IRQ_H
#define VMON_CORE_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct irq_router {
	void (*set_level)(void *ctx, unsigned gsi, bool level);
	/* Delivers one MSI message; any thread. NULL: no MSI on this backend. */
	void (*msi)(void *ctx, uint64_t addr, uint32_t data);
	/* Optional, all three or none. msi_route_add binds eventfd fd to the
	 * message (addr, data) and returns a handle >= 0, or -1 if the
	 * backend cannot (out of routes, kernel refused): the caller keeps
	 * using msi(). msi_route_set re-aims a bound route at a new message
	 * (0, or -1: the route is unusable and the caller should delete it).
	 * msi_route_del unbinds it; fd must still be open. Any thread; the
	 * backend serialises them. */
	int (*msi_route_add)(void *ctx, int fd, uint64_t addr, uint32_t data);
	int (*msi_route_set)(void *ctx, int handle, uint64_t addr, uint32_t data);
	void (*msi_route_del)(void *ctx, int handle, int fd);
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
