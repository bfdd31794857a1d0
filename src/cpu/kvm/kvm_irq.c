/* SPDX-License-Identifier: MIT */
/*
 * KVM backend, interrupts and notifications: the irq_router devices raise
 * interrupts through (KVM_IRQ_LINE for INTx and ISA lines, KVM_SIGNAL_MSI
 * and irqfd-backed MSI routes for MSI-X) and the ioeventfd_router that
 * turns virtio queue notifies into eventfd signals inside the kernel
 * (KVM_IOEVENTFD).
 *
 * GSI routing. KVM_CREATE_IRQCHIP installs a default table: GSI 0-15 to
 * the PIC (master 0-7, slave 8-15) and to IOAPIC pins 0-15, GSI 16-23 to
 * IOAPIC pins 16-23. KVM_SET_GSI_ROUTING replaces the whole table, so
 * every commit here writes those 40 entries again, then one MSI entry
 * per route in use at GSI KVM_MSI_GSI_BASE + index. INTx keeps
 * KVM_IRQ_LINE (see route_add below for why).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/ratelimit.h"
#include "cpu/kvm/kvm_priv.h"

#define DEFAULT_ROUTES (16 * 2 + 8)

/*
 * A line is given to KVM only when its level changes: a device that
 * interrupts again while its line is still asserted (virtio-mmio raises on
 * every used buffer until the driver acknowledges) is no new event for a
 * level-triggered pin, and KVM's IOAPIC would otherwise take each such
 * KVM_IRQ_LINE as a fresh assertion and deliver again whenever the
 * redirection entry has no EOI pending (Remote IRR clear). The level it
 * keeps is one per GSI, as KVM's own for this source id: a GSI shared by
 * several devices carries the last level set, on both backends.
 */
static void kvm_set_irq_level(void *ctx, unsigned gsi, bool level)
{
	struct kvm_vm_state *k = ctx;
	struct kvm_irq_level irq = {.irq = gsi, .level = level ? 1 : 0};
	uint32_t bit = gsi < 32 ? 1u << gsi : 0;
	pthread_mutex_lock(&k->line_lock);
	if (bit && !!(k->line_level & bit) == level) {
		pthread_mutex_unlock(&k->line_lock);
		return;
	}
	/* Fails only for a GSI outside the routing table: a vmon bug, not a
	 * guest action; report once rather than crash. */
	if (ioctl(k->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		guest_log_once("KVM_IRQ_LINE gsi %u: %s", gsi, strerror(errno));
	else if (level)
		k->line_level |= bit;
	else
		k->line_level &= ~bit;
	pthread_mutex_unlock(&k->line_lock);
}

static void kvm_send_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct kvm_vm_state *k = ctx;
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data};
	/* The guest programs address and data; KVM ignores what no LAPIC
	 * accepts (returns 0). An error means the ioctl itself failed. */
	if (ioctl(k->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		guest_log_once("KVM_SIGNAL_MSI: %s", strerror(errno));
}

/* ---- MSI routes for irqfds (route_lock held) ---- */

static void fill_default(struct kvm_irq_routing_entry *e, unsigned *n)
{
	for (unsigned gsi = 0; gsi < 24; gsi++) {
		e[(*n)++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi}};
		if (gsi < 16)
			e[(*n)++] = (struct kvm_irq_routing_entry){
				.gsi = gsi,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = {.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
								 : KVM_IRQCHIP_PIC_SLAVE,
					      .pin = gsi % 8}};
	}
}

/* Writes the whole table: the defaults plus every route in use. */
static int commit_routes_locked(struct kvm_vm_state *k)
{
	struct kvm_irq_routing *t = k->route_buf;
	unsigned n = 0;
	fill_default(t->entries, &n);
	for (unsigned i = 0; i < k->nroutes; i++) {
		const struct kvm_msi_route *r = &k->routes[i];
		if (!r->used)
			continue;
		t->entries[n++] = (struct kvm_irq_routing_entry){.gsi = KVM_MSI_GSI_BASE + i,
								 .type = KVM_IRQ_ROUTING_MSI,
								 .u.msi = {.address_lo = r->addr_lo,
									   .address_hi = r->addr_hi,
									   .data = r->data}};
	}
	t->nr = n;
	t->flags = 0;
	return ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, t);
}

static void warn_route(const char *what)
{
	guest_log_once("%s: %s (MSI-X falls back to KVM_SIGNAL_MSI)", what, strerror(errno));
}

/*
 * Only MSI goes through irqfds. INTx stays on KVM_IRQ_LINE: it is a level
 * that vmon's device model raises on an interrupt and lowers when the
 * driver reads the ISR — an access that exits to vmon anyway — so an
 * irqfd would need KVM_IRQFD_FLAG_RESAMPLE and a resamplefd round trip on
 * every EOI to reassert a still-pending level, and with four GSIs shared
 * by all slots the line's level is the OR of several devices, which
 * KVM_IRQ_LINE (one source id, vmon computing each device's level) already
 * models exactly. MSI-X is what Linux and the kit drivers use.
 */
static int route_add(void *ctx, int fd, uint64_t addr, uint32_t data)
{
	struct kvm_vm_state *k = ctx;
	pthread_mutex_lock(&k->route_lock);
	unsigned i = 0;
	while (i < k->nroutes && k->routes[i].used)
		i++;
	if (i == k->nroutes) {
		pthread_mutex_unlock(&k->route_lock);
		errno = ENOSPC;
		warn_route("no free GSI for an MSI route");
		return -1;
	}
	k->routes[i] = (struct kvm_msi_route){.used = true,
					      .addr_lo = (uint32_t)addr,
					      .addr_hi = (uint32_t)(addr >> 32),
					      .data = data};
	if (commit_routes_locked(k) < 0) {
		warn_route("KVM_SET_GSI_ROUTING");
		k->routes[i].used = false;
		pthread_mutex_unlock(&k->route_lock);
		return -1;
	}
	struct kvm_irqfd irqfd = {.fd = (uint32_t)fd, .gsi = KVM_MSI_GSI_BASE + i};
	if (ioctl(k->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		warn_route("KVM_IRQFD");
		/* The stale entry goes with the next commit. */
		k->routes[i].used = false;
		pthread_mutex_unlock(&k->route_lock);
		return -1;
	}
	pthread_mutex_unlock(&k->route_lock);
	return (int)i;
}

static int route_set(void *ctx, int handle, uint64_t addr, uint32_t data)
{
	struct kvm_vm_state *k = ctx;
	if (handle < 0 || (unsigned)handle >= k->nroutes)
		return -1;
	pthread_mutex_lock(&k->route_lock);
	struct kvm_msi_route *r = &k->routes[handle];
	int rc = -1;
	if (r->used) {
		r->addr_lo = (uint32_t)addr;
		r->addr_hi = (uint32_t)(addr >> 32);
		r->data = data;
		rc = commit_routes_locked(k);
		if (rc < 0)
			warn_route("KVM_SET_GSI_ROUTING");
	}
	pthread_mutex_unlock(&k->route_lock);
	return rc < 0 ? -1 : 0;
}

static void route_del(void *ctx, int handle, int fd)
{
	struct kvm_vm_state *k = ctx;
	if (handle < 0 || (unsigned)handle >= k->nroutes)
		return;
	pthread_mutex_lock(&k->route_lock);
	struct kvm_irqfd irqfd = {.fd = (uint32_t)fd,
				  .gsi = KVM_MSI_GSI_BASE + (uint32_t)handle,
				  .flags = KVM_IRQFD_FLAG_DEASSIGN};
	if (ioctl(k->vm_fd, KVM_IRQFD, &irqfd) < 0)
		warn_route("KVM_IRQFD deassign");
	/* Without its irqfd the entry is unreachable; the next commit drops
	 * it, which saves a table replacement per vector on every reset. */
	k->routes[handle].used = false;
	pthread_mutex_unlock(&k->route_lock);
}

/* ---- ioeventfd ---- */

static int ioeventfd_ctl(struct kvm_vm_state *k, uint64_t gpa, unsigned len, bool match,
			 uint64_t data, int fd, bool del)
{
	struct kvm_ioeventfd io = {.datamatch = match ? data : 0,
				   .addr = gpa,
				   .len = len,
				   .fd = fd,
				   .flags = (match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0u) |
					    (del ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0u)};
	return ioctl(k->vm_fd, KVM_IOEVENTFD, &io);
}

static int ioev_add(void *ctx, uint64_t gpa, unsigned len, bool match, uint64_t data, int fd)
{
	if (ioeventfd_ctl(ctx, gpa, len, match, data, fd, false) == 0)
		return 0;
	/* ENOSPC: KVM's limit of devices on its MMIO bus. The write keeps
	 * exiting to vmon, which signals the same eventfd. */
	guest_log_once("KVM_IOEVENTFD at 0x%llx: %s (notifies exit to vmon instead)",
		       (unsigned long long)gpa, strerror(errno));
	return -1;
}

static void ioev_del(void *ctx, uint64_t gpa, unsigned len, bool match, uint64_t data, int fd)
{
	if (ioeventfd_ctl(ctx, gpa, len, match, data, fd, true) < 0)
		guest_log_once("KVM_IOEVENTFD deassign at 0x%llx: %s", (unsigned long long)gpa,
			       strerror(errno));
}

static bool env_set(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

int kvm_irq_setup(struct machine *m, struct vmon_error *err)
{
	struct kvm_vm_state *k = kvm_state(m);
	m->irq = (struct irq_router){.set_level = kvm_set_irq_level, .msi = kvm_send_msi, .ctx = k};
	m->ioev = (struct ioeventfd_router){0};

	/* VMON_NO_IRQFD=1 / VMON_NO_IOEVENTFD=1 keep the exit paths, to
	 * test them and to compare. */
	int gsis = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING);
	if (!env_set("VMON_NO_IRQFD") && gsis > KVM_MSI_GSI_BASE &&
	    ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0) {
		k->nroutes = (unsigned)gsis - KVM_MSI_GSI_BASE;
		if (k->nroutes > KVM_MSI_ROUTES_MAX)
			k->nroutes = KVM_MSI_ROUTES_MAX;
		k->route_buf = calloc(1, sizeof(*k->route_buf) +
						 (DEFAULT_ROUTES + k->nroutes) *
							 sizeof(struct kvm_irq_routing_entry));
		if (!k->route_buf)
			return err_setf(err, "out of memory");
		m->irq.msi_route_add = route_add;
		m->irq.msi_route_set = route_set;
		m->irq.msi_route_del = route_del;
	}
	if (!env_set("VMON_NO_IOEVENTFD") &&
	    ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0)
		m->ioev = (struct ioeventfd_router){.add = ioev_add, .del = ioev_del, .ctx = k};
	return 0;
}

void kvm_irq_teardown(struct machine *m)
{
	struct kvm_vm_state *k = kvm_state(m);
	/* Closing the VM fd releases the kernel's irqfds and ioeventfds. */
	m->irq = (struct irq_router){0};
	m->ioev = (struct ioeventfd_router){0};
	if (k) {
		free(k->route_buf);
		k->route_buf = NULL;
	}
}
