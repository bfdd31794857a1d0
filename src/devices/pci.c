/* SPDX-License-Identifier: MIT */
/*
 * PCI host bridge, configuration mechanism #1, BAR decoding in the MMIO
 * window, capabilities, MSI-X and INTx. See pci.h for the model.
 */
#include "devices/pci.h"

#include "core/state.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/device.h"

struct pci_host {
	/* Config space of every device and the BAR decode: written by config
	 * writes, read by every MMIO access to the window. */
	pthread_rwlock_t lock;
	uint32_t addr; /* the 0xcf8 latch */
	struct pci_device *slots[PCI_MAX_SLOTS];
	struct pci_device bridge;
	uint64_t next_mmio; /* BAR allocator */
	struct irq_router *router;
	struct ioeventfd_router *ioev; /* may be NULL */
	/* INTx: slots share PCI_INTX_LINES GSIs; each line's level is the
	 * OR of its devices' levels: how many assert it, and what the line
	 * is at. A leaf lock, taken inside a device's irq_lock. */
	pthread_mutex_t intx_lock;
	unsigned intx_count[PCI_INTX_LINES];
	bool intx_line[PCI_INTX_LINES];
};

static void ioev_sync_locked(struct pci_host *host);

static uint64_t ones(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* ---- INTx and MSI-X (irq_lock) ---- */

/* dev's own contribution to its INTx line changed to level: the line
 * follows the OR of every device wired to it. */
static void intx_drive_locked(struct pci_device *dev, bool level)
{
	struct pci_host *host = dev->host;
	if (!host) { /* not on a bus (tests): the line is the device's own */
		irq_line_set(&dev->intx, level);
		return;
	}
	unsigned i = dev->intx.gsi - PCI_INTX_GSI_BASE;
	if (i >= PCI_INTX_LINES)
		return;
	pthread_mutex_lock(&host->intx_lock);
	if (level)
		host->intx_count[i]++;
	else if (host->intx_count[i])
		host->intx_count[i]--;
	bool line = host->intx_count[i] > 0;
	if (line != host->intx_line[i]) {
		host->intx_line[i] = line;
		irq_line_set(&dev->intx, line);
	}
	pthread_mutex_unlock(&host->intx_lock);
}

static void intx_update_locked(struct pci_device *dev)
{
	bool level = dev->use_intx && dev->intx_request && !dev->intx_disabled;
	if (level != dev->intx_level) {
		dev->intx_level = level;
		if (level)
			atomic_fetch_add_explicit(&dev->stats.intx, 1, memory_order_relaxed);
		intx_drive_locked(dev, level);
	}
}

void pci_intx_set(struct pci_device *dev, bool level)
{
	pthread_mutex_lock(&dev->irq_lock);
	dev->intx_request = level;
	intx_update_locked(dev);
	pthread_mutex_unlock(&dev->irq_lock);
}

/* Unbinds vector vec's irqfd route and closes its eventfd. */
static void msix_unroute_locked(struct pci_device *dev, unsigned vec)
{
	struct pci_msix *x = &dev->msix;
	const struct irq_router *r = dev->router;
	if (x->route[vec] >= 0 && r && r->msi_route_del)
		r->msi_route_del(r->ctx, x->route[vec], x->irqfd[vec]);
	x->route[vec] = -1;
	if (x->irqfd[vec] >= 0)
		close(x->irqfd[vec]);
	x->irqfd[vec] = -1;
	x->route_failed[vec] = false;
}

/* Sends (addr, data) for vec through its irqfd, binding or re-aiming the
 * route first if needed. Returns false if the caller must use the msi
 * hook instead. */
static bool msix_irqfd_send_locked(struct pci_device *dev, unsigned vec, uint64_t addr,
				   uint32_t data)
{
	struct pci_msix *x = &dev->msix;
	const struct irq_router *r = dev->router;
	if (!r || !r->msi_route_add || !r->msi_route_set || !r->msi_route_del ||
	    x->route_failed[vec])
		return false;
	/* Guest-written: only a message a LAPIC takes becomes a route (the
	 * kernel may refuse a whole table over one odd entry). The rest goes
	 * the slow way, where the backend drops it. */
	if ((addr >> 20) != 0xfee)
		return false;
	if (x->irqfd[vec] < 0) {
		x->irqfd[vec] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (x->irqfd[vec] < 0) {
			x->route_failed[vec] = true;
			return false;
		}
	}
	if (x->route[vec] < 0) {
		x->route[vec] = r->msi_route_add(r->ctx, x->irqfd[vec], addr, data);
		if (x->route[vec] < 0) {
			msix_unroute_locked(dev, vec);
			x->route_failed[vec] = true;
			return false;
		}
	} else if (x->route_addr[vec] != addr || x->route_data[vec] != data) {
		if (r->msi_route_set(r->ctx, x->route[vec], addr, data) < 0) {
			msix_unroute_locked(dev, vec);
			x->route_failed[vec] = true;
			return false;
		}
	}
	x->route_addr[vec] = addr;
	x->route_data[vec] = data;
	uint64_t one = 1;
	/* Cannot fail short of a saturated counter, which only means an
	 * injection is pending already. */
	(void)!write(x->irqfd[vec], &one, sizeof(one));
	return true;
}

static void msix_send_locked(struct pci_device *dev, unsigned vec)
{
	const struct pci_msix_entry *e = &dev->msix.table[vec];
	uint64_t addr = ((uint64_t)e->addr_hi << 32) | e->addr_lo;
	uint32_t data = e->data;
	if (msix_irqfd_send_locked(dev, vec, addr, data)) {
		atomic_fetch_add_explicit(&dev->stats.msi_irqfd, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&dev->stats.msi_direct, 1, memory_order_relaxed);
	irq_router_msi(dev->router, addr, data);
}

/* Sends what became deliverable after an unmask or an enable. */
static void msix_flush_pending_locked(struct pci_device *dev)
{
	struct pci_msix *x = &dev->msix;
	if (!x->enabled || x->fmask)
		return;
	for (unsigned v = 0; v < x->nvec; v++) {
		uint64_t bit = 1ULL << (v % 64);
		if ((x->pba[v / 64] & bit) && !(x->table[v].ctrl & PCI_MSIX_MASKED)) {
			x->pba[v / 64] &= ~bit;
			msix_send_locked(dev, v);
		}
	}
}

bool pci_msix_enabled(struct pci_device *dev)
{
	pthread_mutex_lock(&dev->irq_lock);
	bool on = dev->msix.nvec && dev->msix.enabled;
	pthread_mutex_unlock(&dev->irq_lock);
	return on;
}

bool pci_msix_notify(struct pci_device *dev, unsigned vec)
{
	struct pci_msix *x = &dev->msix;
	pthread_mutex_lock(&dev->irq_lock);
	bool on = x->nvec && x->enabled;
	if (on && vec < x->nvec) {
		if (x->fmask || (x->table[vec].ctrl & PCI_MSIX_MASKED))
			x->pba[vec / 64] |= 1ULL << (vec % 64);
		else
			msix_send_locked(dev, vec);
	}
	pthread_mutex_unlock(&dev->irq_lock);
	return on;
}

/* Table and PBA accesses: dword or qword, naturally aligned (the spec's
 * rule for software); anything else reads all ones / is dropped. */
static uint64_t msix_table_read(struct pci_device *dev, uint64_t off, unsigned size)
{
	struct pci_msix *x = &dev->msix;
	if ((size != 4 && size != 8) || (off & (size - 1)))
		return ones(size);
	uint64_t v = 0;
	pthread_mutex_lock(&dev->irq_lock);
	for (unsigned i = 0; i < size / 4; i++) {
		uint64_t o = off + 4 * i;
		const struct pci_msix_entry *e = &x->table[o / PCI_MSIX_ENTRY_SIZE];
		const uint32_t fields[4] = {e->addr_lo, e->addr_hi, e->data, e->ctrl};
		v |= (uint64_t)fields[(o % PCI_MSIX_ENTRY_SIZE) / 4] << (32 * i);
	}
	pthread_mutex_unlock(&dev->irq_lock);
	return v;
}

static void msix_table_write(struct pci_device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pci_msix *x = &dev->msix;
	if ((size != 4 && size != 8) || (off & (size - 1)))
		return;
	pthread_mutex_lock(&dev->irq_lock);
	for (unsigned i = 0; i < size / 4; i++) {
		uint64_t o = off + 4 * i;
		struct pci_msix_entry *e = &x->table[o / PCI_MSIX_ENTRY_SIZE];
		uint32_t v = (uint32_t)(val >> (32 * i));
		switch ((o % PCI_MSIX_ENTRY_SIZE) / 4) {
		case 0: e->addr_lo = v & ~3u; break;
		case 1: e->addr_hi = v; break;
		case 2: e->data = v; break;
		default: e->ctrl = v & PCI_MSIX_MASKED; break;
		}
	}
	msix_flush_pending_locked(dev);
	pthread_mutex_unlock(&dev->irq_lock);
}

static uint64_t msix_pba_read(struct pci_device *dev, uint64_t off, unsigned size)
{
	if ((size != 4 && size != 8) || (off & (size - 1)))
		return ones(size);
	pthread_mutex_lock(&dev->irq_lock);
	uint64_t q = off / 8 < PCI_MSIX_MAX / 64 ? dev->msix.pba[off / 8] : 0;
	pthread_mutex_unlock(&dev->irq_lock);
	if (size == 4)
		q = (uint32_t)(q >> (off & 4 ? 32 : 0));
	return q;
}

static void msix_reset_locked(struct pci_device *dev)
{
	struct pci_msix *x = &dev->msix;
	for (unsigned v = 0; v < PCI_MSIX_MAX; v++)
		msix_unroute_locked(dev, v);
	x->enabled = x->fmask = false;
	memset(x->pba, 0, sizeof(x->pba));
	for (unsigned v = 0; v < PCI_MSIX_MAX; v++)
		x->table[v] = (struct pci_msix_entry){.ctrl = PCI_MSIX_MASKED};
}

/* ---- Configuration space (host lock held) ---- */

static uint32_t cfg_read_locked(struct pci_device *dev, unsigned off, unsigned size)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)dev->cfg[off + i] << (8 * i);
	/* Status.InterruptStatus reflects the device's INTx request. */
	if (off <= PCI_STATUS && off + size > PCI_STATUS) {
		pthread_mutex_lock(&dev->irq_lock);
		if (dev->intx_request)
			v |= (uint32_t)PCI_STATUS_INTX << (8 * (PCI_STATUS - off));
		pthread_mutex_unlock(&dev->irq_lock);
	}
	if (dev->ops && dev->ops->config_read)
		dev->ops->config_read(dev, off, size, &v);
	return v;
}

static bool touches(unsigned off, unsigned size, unsigned reg, unsigned reg_len)
{
	return off < reg + reg_len && reg < off + size;
}

static void cfg_write_locked(struct pci_device *dev, unsigned off, unsigned size, uint32_t val)
{
	for (unsigned i = 0; i < size; i++) {
		uint8_t m = dev->wmask[off + i];
		uint8_t b = (uint8_t)(val >> (8 * i));
		dev->cfg[off + i] = (uint8_t)((dev->cfg[off + i] & ~m) | (b & m));
	}
	if (touches(off, size, PCI_COMMAND, 2)) {
		pthread_mutex_lock(&dev->irq_lock);
		dev->intx_disabled = pci_get_u16(dev->cfg, PCI_COMMAND) & PCI_CMD_INTX_OFF;
		intx_update_locked(dev);
		pthread_mutex_unlock(&dev->irq_lock);
	}
	if (dev->msix.nvec && touches(off, size, dev->msix.cap + PCI_MSIX_CTRL, 2)) {
		uint16_t ctrl = pci_get_u16(dev->cfg, dev->msix.cap + PCI_MSIX_CTRL);
		pthread_mutex_lock(&dev->irq_lock);
		dev->msix.enabled = ctrl & PCI_MSIX_ENABLE;
		dev->msix.fmask = ctrl & PCI_MSIX_FMASK;
		msix_flush_pending_locked(dev);
		pthread_mutex_unlock(&dev->irq_lock);
	}
	if (dev->ops && dev->ops->config_write)
		dev->ops->config_write(dev, off, size, val);
	/* Decode changed: any device's registrations may move (a BAR moved
	 * over another's notify address, or away from it). */
	if (dev->host &&
	    (touches(off, size, PCI_COMMAND, 2) || touches(off, size, PCI_BAR0, 4 * PCI_NUM_BARS)))
		ioev_sync_locked(dev->host);
}

static struct pci_device *slot_dev(struct pci_host *host, unsigned slot)
{
	return slot < PCI_MAX_SLOTS ? host->slots[slot] : NULL;
}

static bool cfg_access_ok(unsigned off, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && off < PCI_CFG_SIZE && (off & 3) + size <= 4;
}

uint32_t pci_config_read(struct pci_host *host, unsigned slot, unsigned off, unsigned size)
{
	if (!cfg_access_ok(off, size))
		return (uint32_t)ones(size);
	pthread_rwlock_rdlock(&host->lock);
	struct pci_device *dev = slot_dev(host, slot);
	uint32_t v = dev ? cfg_read_locked(dev, off, size) : (uint32_t)ones(size);
	pthread_rwlock_unlock(&host->lock);
	return v;
}

void pci_config_write(struct pci_host *host, unsigned slot, unsigned off, unsigned size,
		      uint32_t val)
{
	if (!cfg_access_ok(off, size))
		return;
	pthread_rwlock_wrlock(&host->lock);
	struct pci_device *dev = slot_dev(host, slot);
	if (dev)
		cfg_write_locked(dev, off, size, val);
	pthread_rwlock_unlock(&host->lock);
}

/* ---- Ports 0xcf8-0xcff ---- */

/* Decodes the latch for a data-port access at byte k (0-3) of 0xcfc:
 * returns the slot, or -1 if the access goes nowhere. */
static int decode_addr(uint32_t addr, unsigned k, unsigned *off)
{
	if (!(addr & 0x80000000u))
		return -1;
	unsigned bus = (addr >> 16) & 0xff, fn = (addr >> 8) & 7;
	if (bus != 0 || fn != 0)
		return -1;
	*off = (addr & 0xfc) + k;
	return (int)((addr >> 11) & 0x1f);
}

static uint64_t cfgio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_host *host = opaque;
	if (offset < 4) {
		if (offset != 0 || size != 4)
			return ones(size);
		return __atomic_load_n(&host->addr, __ATOMIC_RELAXED);
	}
	unsigned off;
	int slot = decode_addr(__atomic_load_n(&host->addr, __ATOMIC_RELAXED), (unsigned)offset - 4,
			       &off);
	if (slot < 0)
		return ones(size);
	return pci_config_read(host, (unsigned)slot, off, size);
}

static void cfgio_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_host *host = opaque;
	if (offset < 4) {
		/* Only dword writes reach the latch (byte writes to 0xcf9
		 * are a chipset reset register on PCs; not modelled). */
		if (offset == 0 && size == 4)
			__atomic_store_n(&host->addr, (uint32_t)value & 0x80fffffcu,
					 __ATOMIC_RELAXED);
		return;
	}
	unsigned off;
	int slot = decode_addr(__atomic_load_n(&host->addr, __ATOMIC_RELAXED), (unsigned)offset - 4,
			       &off);
	if (slot >= 0)
		pci_config_write(host, (unsigned)slot, off, size, (uint32_t)value);
}

static const struct bus_ops cfgio_ops = {.read = cfgio_read, .write = cfgio_write};

/* ---- The MMIO window ---- */

enum bar_target { TARGET_NONE, TARGET_BAR, TARGET_MSIX_TABLE, TARGET_MSIX_PBA };

struct bar_hit {
	enum bar_target target;
	struct pci_device *dev;
	const struct pci_bar *bar;
	uint64_t off;
};

static struct bar_hit window_lookup_locked(struct pci_host *host, uint64_t addr, unsigned size)
{
	struct bar_hit hit = {.target = TARGET_NONE};
	for (unsigned s = 0; s < PCI_MAX_SLOTS && hit.target == TARGET_NONE; s++) {
		struct pci_device *dev = host->slots[s];
		if (!dev || !(pci_get_u16(dev->cfg, PCI_COMMAND) & PCI_CMD_MEMORY))
			continue;
		for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
			uint32_t bsize = dev->bar[b].size;
			if (!bsize)
				continue;
			uint64_t base = pci_get_u32(dev->cfg, PCI_BAR0 + 4 * b) & ~0xfu;
			if (addr < base || addr - base >= bsize || size > bsize - (addr - base))
				continue;
			hit = (struct bar_hit){.target = TARGET_BAR,
					       .dev = dev,
					       .bar = &dev->bar[b],
					       .off = addr - base};
			const struct pci_msix *x = &dev->msix;
			if (x->nvec && x->bar == b) {
				uint64_t tlen = (uint64_t)x->nvec * PCI_MSIX_ENTRY_SIZE;
				uint64_t plen = ((x->nvec + 63) / 64) * 8;
				if (hit.off >= x->table_off && hit.off - x->table_off < tlen) {
					hit.target = TARGET_MSIX_TABLE;
					hit.off -= x->table_off;
				} else if (hit.off >= x->pba_off && hit.off - x->pba_off < plen) {
					hit.target = TARGET_MSIX_PBA;
					hit.off -= x->pba_off;
				}
			}
			break;
		}
	}
	return hit;
}

static struct bar_hit window_lookup(struct pci_host *host, uint64_t addr, unsigned size)
{
	pthread_rwlock_rdlock(&host->lock);
	struct bar_hit hit = window_lookup_locked(host, addr, size);
	pthread_rwlock_unlock(&host->lock);
	return hit;
}

/* ---- Eventfd notifies (host lock held for writing) ---- */

/* Where entry e of dev decodes now, or 0 if a write there would not
 * reach it (decode off, BAR outside the window, another BAR on top). */
static uint64_t ioev_target_locked(struct pci_host *host, struct pci_device *dev,
				   const struct pci_ioeventfd *e)
{
	if (dev->released)
		return 0;
	/* The BAR value is the guest's: check the whole range against the
	 * window before anything is registered there (outside it sit the
	 * IOAPIC, the LAPIC and RAM). */
	uint64_t base = pci_get_u32(dev->cfg, PCI_BAR0 + 4 * e->bar) & ~0xfu;
	uint64_t gpa = base + e->off;
	if (gpa < PCI_MMIO_BASE || gpa > PCI_MMIO_END || e->len > PCI_MMIO_END - gpa)
		return 0;
	struct bar_hit h = window_lookup_locked(host, gpa, e->len);
	if (h.target != TARGET_BAR || h.dev != dev || h.bar != &dev->bar[e->bar] || h.off != e->off)
		return 0;
	return gpa;
}

static void ioev_sync_locked(struct pci_host *host)
{
	struct ioeventfd_router *r = host->ioev;
	bool can = r && r->add && r->del;
	uint64_t want[PCI_MAX_SLOTS][PCI_MAX_IOEVENTFDS];
	/* Two passes: every stale registration goes before any new one, so
	 * an address passing from one device to another (overlapping BARs)
	 * is never registered twice. */
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = host->slots[s];
		for (unsigned i = 0; dev && i < dev->nioev; i++) {
			struct pci_ioeventfd *e = &dev->ioev[i];
			want[s][i] = can ? ioev_target_locked(host, dev, e) : 0;
			if (e->gpa && e->gpa != want[s][i]) {
				if (can)
					r->del(r->ctx, e->gpa, e->len, e->match, e->data, e->fd);
				e->gpa = 0;
			}
		}
	}
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = host->slots[s];
		for (unsigned i = 0; dev && i < dev->nioev; i++) {
			struct pci_ioeventfd *e = &dev->ioev[i];
			/* A refused registration is retried at the next change;
			 * meanwhile the write reaches the BAR handler. */
			if (want[s][i] && !e->gpa &&
			    r->add(r->ctx, want[s][i], e->len, e->match, e->data, e->fd) == 0)
				e->gpa = want[s][i];
		}
	}
}

void pci_host_set_ioeventfd(struct pci_host *host, struct ioeventfd_router *ioev)
{
	pthread_rwlock_wrlock(&host->lock);
	host->ioev = ioev;
	ioev_sync_locked(host);
	pthread_rwlock_unlock(&host->lock);
}

/* Counts a write that hit one of dev's eventfd ranges through the bus. */
static void count_notify_write(struct pci_device *dev, const struct pci_bar *bar, uint64_t off,
			       unsigned size)
{
	unsigned b = (unsigned)(bar - dev->bar);
	for (unsigned i = 0; i < dev->nioev; i++) {
		const struct pci_ioeventfd *e = &dev->ioev[i];
		if (e->bar == b && e->off == off && e->len == size) {
			atomic_fetch_add_explicit(&dev->stats.notify_writes, 1,
						  memory_order_relaxed);
			return;
		}
	}
}

static uint64_t window_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_host *host = opaque;
	struct bar_hit h = window_lookup(host, PCI_MMIO_BASE + offset, size);
	switch (h.target) {
	case TARGET_BAR:
		return h.bar->ops->read ? h.bar->ops->read(h.bar->opaque, h.off, size) : ones(size);
	case TARGET_MSIX_TABLE: return msix_table_read(h.dev, h.off, size);
	case TARGET_MSIX_PBA: return msix_pba_read(h.dev, h.off, size);
	default: return ones(size);
	}
}

static void window_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_host *host = opaque;
	struct bar_hit h = window_lookup(host, PCI_MMIO_BASE + offset, size);
	switch (h.target) {
	case TARGET_BAR:
		if (h.dev->nioev)
			count_notify_write(h.dev, h.bar, h.off, size);
		if (h.bar->ops->write)
			h.bar->ops->write(h.bar->opaque, h.off, size, value);
		break;
	case TARGET_MSIX_TABLE: msix_table_write(h.dev, h.off, size, value); break;
	default: break; /* the PBA is read-only */
	}
}

static const struct bus_ops window_ops = {.read = window_read, .write = window_write};

/* ---- Devices ---- */

void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
		     uint16_t subsys_id, const struct pci_device_ops *ops, void *opaque)
{
	memset(dev, 0, sizeof(*dev));
	dev->name = name;
	dev->ops = ops;
	dev->opaque = opaque;
	pthread_mutex_init(&dev->irq_lock, NULL);
	for (unsigned v = 0; v < PCI_MSIX_MAX; v++)
		dev->msix.irqfd[v] = dev->msix.route[v] = -1;
	pci_set_u16(dev->cfg, PCI_VENDOR_ID, vendor);
	pci_set_u16(dev->cfg, PCI_DEVICE_ID, device);
	pci_set_u8(dev->cfg, PCI_REVISION_ID, revision);
	pci_set_u8(dev->cfg, PCI_CLASS_PROG, (uint8_t)class_code);
	pci_set_u16(dev->cfg, PCI_CLASS_PROG + 1, (uint16_t)(class_code >> 8));
	pci_set_u16(dev->cfg, PCI_SUBSYS_VENDOR, subsys_vendor);
	pci_set_u16(dev->cfg, PCI_SUBSYS_ID, subsys_id);
	pci_set_u16(dev->wmask, PCI_COMMAND,
		    PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER | PCI_CMD_INTX_OFF);
	dev->cap_free = 0x40;
	msix_reset_locked(dev);
}

int pci_device_set_bar(struct pci_device *dev, unsigned idx, uint32_t size,
		       const struct bus_ops *ops, void *opaque, struct vmon_error *err)
{
	if (idx >= PCI_NUM_BARS || size < 4096 || size > (256u << 20) || (size & (size - 1)))
		return err_setf(err, "%s: bad BAR %u (size 0x%x)", dev->name, idx, size);
	dev->bar[idx] = (struct pci_bar){.size = size, .ops = ops, .opaque = opaque};
	/* Memory, 32-bit, not prefetchable: type bits 0. Only the address bits
	 * above the size are writable, which is what size probing reads. */
	pci_set_u32(dev->wmask, PCI_BAR0 + 4 * idx, ~(size - 1));
	return 0;
}

unsigned pci_add_cap(struct pci_device *dev, uint8_t id, unsigned len)
{
	unsigned off = (dev->cap_free + 3u) & ~3u;
	if (len < 2 || off + len > PCI_CFG_SIZE)
		return 0;
	dev->cfg[off] = id;
	dev->cfg[off + 1] = 0;
	if (dev->cap_last)
		dev->cfg[dev->cap_last + 1] = (uint8_t)off;
	else
		dev->cfg[PCI_CAP_PTR] = (uint8_t)off;
	dev->cap_last = (uint8_t)off;
	dev->cap_free = (uint8_t)(off + len < PCI_CFG_SIZE ? off + len : PCI_CFG_SIZE - 1);
	pci_set_u16(dev->cfg, PCI_STATUS, pci_get_u16(dev->cfg, PCI_STATUS) | PCI_STATUS_CAPS);
	return off;
}

int pci_msix_init(struct pci_device *dev, unsigned nvec, unsigned bar, uint32_t table_off,
		  uint32_t pba_off, struct vmon_error *err)
{
	if (nvec == 0 || nvec > PCI_MSIX_MAX || bar >= PCI_NUM_BARS || !dev->bar[bar].size ||
	    (table_off & 7) || (pba_off & 7) ||
	    table_off + nvec * PCI_MSIX_ENTRY_SIZE > dev->bar[bar].size ||
	    pba_off + 8 * ((nvec + 63) / 64) > dev->bar[bar].size)
		return err_setf(err, "%s: bad MSI-X layout", dev->name);
	unsigned cap = pci_add_cap(dev, PCI_CAP_ID_MSIX, 12);
	if (!cap)
		return err_setf(err, "%s: no room for the MSI-X capability", dev->name);
	dev->msix.nvec = nvec;
	dev->msix.bar = bar;
	dev->msix.table_off = table_off;
	dev->msix.pba_off = pba_off;
	dev->msix.cap = (uint8_t)cap;
	pci_set_u16(dev->cfg, cap + PCI_MSIX_CTRL, (uint16_t)(nvec - 1));
	pci_set_u16(dev->wmask, cap + PCI_MSIX_CTRL, PCI_MSIX_ENABLE | PCI_MSIX_FMASK);
	pci_set_u32(dev->cfg, cap + PCI_MSIX_TABLE, table_off | bar);
	pci_set_u32(dev->cfg, cap + PCI_MSIX_PBA, pba_off | bar);
	return 0;
}

int pci_device_add_ioeventfd(struct pci_device *dev, unsigned bar, uint32_t off, unsigned len,
			     bool match, uint64_t data, int fd, struct vmon_error *err)
{
	if (dev->nioev == PCI_MAX_IOEVENTFDS || bar >= PCI_NUM_BARS || fd < 0 ||
	    (len != 1 && len != 2 && len != 4 && len != 8) || off >= dev->bar[bar].size ||
	    len > dev->bar[bar].size - off)
		return err_setf(err, "%s: bad eventfd range (BAR %u offset 0x%x)", dev->name, bar,
				off);
	dev->ioev[dev->nioev++] = (struct pci_ioeventfd){
		.bar = bar, .off = off, .len = len, .match = match, .data = data, .fd = fd};
	return 0;
}

void pci_device_release(struct pci_device *dev)
{
	struct pci_host *host = dev->host;
	if (host) {
		pthread_rwlock_wrlock(&host->lock);
		struct ioeventfd_router *r = host->ioev;
		for (unsigned i = 0; i < dev->nioev; i++) {
			struct pci_ioeventfd *e = &dev->ioev[i];
			if (e->gpa && r && r->del)
				r->del(r->ctx, e->gpa, e->len, e->match, e->data, e->fd);
			e->gpa = 0;
		}
		/* Off the bus: the host must not look at dev again (it may be
		 * freed next, before other devices release theirs). What it
		 * hid may decode now. */
		dev->released = true;
		if (dev->slot < PCI_MAX_SLOTS && host->slots[dev->slot] == dev)
			host->slots[dev->slot] = NULL;
		ioev_sync_locked(host);
		pthread_rwlock_unlock(&host->lock);
	}
	pthread_mutex_lock(&dev->irq_lock);
	for (unsigned v = 0; v < PCI_MSIX_MAX; v++)
		msix_unroute_locked(dev, v);
	/* A device leaving the bus stops driving its shared INTx line. */
	dev->intx_request = false;
	intx_update_locked(dev);
	pthread_mutex_unlock(&dev->irq_lock);
}

void pci_device_stats(struct pci_device *dev, const struct stats_sink *out)
{
	unsigned reg = 0, slot = 0;
	struct pci_host *host = dev->host;
	if (host) {
		pthread_rwlock_rdlock(&host->lock);
		for (unsigned i = 0; i < dev->nioev; i++)
			reg += dev->ioev[i].gpa != 0;
		for (unsigned s = 0; s < PCI_MAX_SLOTS; s++)
			if (host->slots[s] == dev)
				slot = s;
		pthread_rwlock_unlock(&host->lock);
	}
	stats_put(out, "pci_slot", slot);
	stats_put(out, "notify_exits", atomic_load(&dev->stats.notify_writes));
	stats_put(out, "ioeventfds_registered", reg);
	stats_put(out, "ioeventfds", dev->nioev);
	stats_put(out, "msix_irqfd", atomic_load(&dev->stats.msi_irqfd));
	stats_put(out, "msix_message", atomic_load(&dev->stats.msi_direct));
	stats_put(out, "intx", atomic_load(&dev->stats.intx));
}

void pci_device_use_intx(struct pci_device *dev)
{
	dev->use_intx = true;
}

int pci_host_add_device(struct pci_host *host, struct pci_device *dev, struct vmon_error *err)
{
	unsigned slot = 1;
	while (slot < PCI_MAX_SLOTS && host->slots[slot])
		slot++;
	if (slot == PCI_MAX_SLOTS)
		return err_setf(err, "PCI: no free slot for %s (at most %d devices)", dev->name,
				PCI_MAX_SLOTS - 1);
	for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
		uint32_t size = dev->bar[b].size;
		if (!size)
			continue;
		uint64_t base = (host->next_mmio + size - 1) & ~(uint64_t)(size - 1);
		if (base + size > PCI_MMIO_END)
			return err_setf(err, "PCI: the MMIO window is full (%s BAR %u)", dev->name,
					b);
		pci_set_u32(dev->cfg, PCI_BAR0 + 4 * b, (uint32_t)base);
		host->next_mmio = base + size;
	}
	dev->host = host;
	dev->slot = slot;
	dev->router = host->router;
	if (dev->use_intx) {
		unsigned gsi = PCI_INTX_GSI_BASE + slot % PCI_INTX_LINES;
		dev->intx = (struct irq_line){.router = host->router, .gsi = gsi};
		pci_set_u8(dev->cfg, PCI_INTERRUPT_PIN, 1);
		pci_set_u8(dev->cfg, PCI_INTERRUPT_LINE, (uint8_t)gsi);
		dev->wmask[PCI_INTERRUPT_LINE] = 0xff; /* scratch for the OS */
	}
	memcpy(dev->poweron, dev->cfg, sizeof(dev->cfg));
	host->slots[slot] = dev;
	return 0;
}

static void device_reset(struct pci_device *dev)
{
	memcpy(dev->cfg, dev->poweron, sizeof(dev->cfg));
	pthread_mutex_lock(&dev->irq_lock);
	msix_reset_locked(dev);
	dev->intx_request = false;
	dev->intx_disabled = false;
	intx_update_locked(dev);
	pthread_mutex_unlock(&dev->irq_lock);
}

void pci_host_reset(struct pci_host *host)
{
	pthread_rwlock_wrlock(&host->lock);
	host->addr = 0;
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++)
		if (host->slots[s])
			device_reset(host->slots[s]);
	/* Decoding is off again: this drops every registration, while the
	 * backend that made them is still there. */
	ioev_sync_locked(host);
	pthread_rwlock_unlock(&host->lock);
}

int pci_host_create(struct pci_host **out, struct bus *pio, struct bus *mmio,
		    struct irq_router *router, struct vmon_error *err)
{
	*out = NULL;
	struct pci_host *host = calloc(1, sizeof(*host));
	if (!host)
		return err_setf(err, "out of memory");
	pthread_rwlock_init(&host->lock, NULL);
	pthread_mutex_init(&host->intx_lock, NULL);
	host->router = router;
	host->next_mmio = PCI_MMIO_BASE;
	pci_device_init(&host->bridge, "host bridge", PCI_HOST_VENDOR_ID, PCI_HOST_DEVICE_ID,
			0x060000, 0, PCI_HOST_VENDOR_ID, 0, NULL, NULL);
	/* A host bridge decodes memory and masters on the CPU's behalf. */
	pci_set_u16(host->bridge.cfg, PCI_COMMAND, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	memset(host->bridge.wmask, 0, sizeof(host->bridge.wmask));
	memcpy(host->bridge.poweron, host->bridge.cfg, sizeof(host->bridge.cfg));
	host->bridge.host = host;
	host->slots[0] = &host->bridge;
	*out = host;
	if (bus_register(pio, PCI_CONFIG_PORT, 8, &cfgio_ops, host, "pci-config", err) < 0 ||
	    bus_register(mmio, PCI_MMIO_BASE, PCI_MMIO_END - PCI_MMIO_BASE, &window_ops, host,
			 "pci-mmio-window", err) < 0)
		return -1;
	return 0;
}

void pci_host_destroy(struct pci_host *host)
{
	if (!host)
		return;
	pthread_rwlock_destroy(&host->lock);
	pthread_mutex_destroy(&host->intx_lock);
	free(host);
}

/* ---- Device object (core/device.h) ---- */

static int pci_host_dev_create(void **out, const struct device_env *env, const void *params,
			       struct vmon_error *err)
{
	struct pci_host *host;
	int r = pci_host_create(&host, env->pio, env->mmio, env->irq, err);
	*out = host;
	if (r < 0)
		return -1;
	/* The backend's ioeventfd hooks, re-filled by each backend create()
	 * across reboots; the host registers notify addresses as the guest
	 * enables decoding. */
	pci_host_set_ioeventfd(host, env->ioev);
	return 0;
}

static void pci_host_dev_reset(void *dev)
{
	pci_host_reset(dev);
}

static void pci_host_dev_destroy(void *dev)
{
	pci_host_destroy(dev);
}

/* ---- Saved state ---- */

/* Per occupied slot but the host bridge's (which the guest cannot
 * change): the slot, the ids, the 256 config bytes, and the MSI-X table
 * and pending bits; 0xff ends the list. Restoring checks that the same
 * device sits in each slot and takes only the bits the guest can write
 * (wmask), so a file cannot change ids, capabilities or BAR sizes; the
 * derived state (INTx disable, MSI-X enable and mask, notify
 * registrations) follows from the result. */
static int pci_host_save(void *dev, struct state_writer *w, struct vmon_error *err)
{
	(void)err;
	struct pci_host *host = dev;
	pthread_rwlock_rdlock(&host->lock);
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *d = host->slots[s];
		if (!d)
			continue;
		state_put_u8(w, (uint8_t)s);
		state_put_bytes(w, d->cfg, PCI_CFG_SIZE);
		pthread_mutex_lock(&d->irq_lock);
		state_put_u32(w, d->msix.nvec);
		for (unsigned v = 0; v < d->msix.nvec; v++) {
			const struct pci_msix_entry *e = &d->msix.table[v];
			state_put_u32(w, e->addr_lo);
			state_put_u32(w, e->addr_hi);
			state_put_u32(w, e->data);
			state_put_u32(w, e->ctrl);
		}
		state_put_u64(w, d->msix.pba[0]);
		pthread_mutex_unlock(&d->irq_lock);
	}
	state_put_u8(w, 0xff);
	pthread_rwlock_unlock(&host->lock);
	return 0;
}

struct saved_fn {
	uint8_t cfg[PCI_CFG_SIZE];
	unsigned nvec; /* the device's, or its older form's (legacy_nvec) */
	struct pci_msix_entry table[PCI_MSIX_MAX];
	uint64_t pba;
};

static int read_fn(struct pci_host *host, unsigned s, struct state_reader *r, struct saved_fn *f,
		   struct vmon_error *err)
{
	struct pci_device *d = host->slots[s];
	state_get_bytes(r, f->cfg, PCI_CFG_SIZE);
	uint32_t nvec = state_get_u32(r);
	if (r->failed)
		return err_setf(err, "pci-host: saved state is truncated");
	if (memcmp(f->cfg, d->cfg, 4) != 0 ||
	    (nvec != d->msix.nvec && (!d->msix.legacy_nvec || nvec != d->msix.legacy_nvec)))
		return err_setf(err, "pci-host: slot %u holds another device than was saved", s);
	f->nvec = nvec;
	for (unsigned v = 0; v < nvec; v++) {
		f->table[v].addr_lo = state_get_u32(r) & ~3u;
		f->table[v].addr_hi = state_get_u32(r);
		f->table[v].data = state_get_u32(r);
		f->table[v].ctrl = state_get_u32(r) & PCI_MSIX_MASKED;
	}
	f->pba = state_get_u64(r);
	if (nvec < 64)
		f->pba &= (1ULL << nvec) - 1;
	return 0;
}

static void apply_fn(struct pci_device *d, const struct saved_fn *f)
{
	for (unsigned i = 0; i < PCI_CFG_SIZE; i++)
		d->cfg[i] = (uint8_t)((d->cfg[i] & ~d->wmask[i]) | (f->cfg[i] & d->wmask[i]));
	pthread_mutex_lock(&d->irq_lock);
	d->intx_disabled = pci_get_u16(d->cfg, PCI_COMMAND) & PCI_CMD_INTX_OFF;
	if (d->msix.nvec) {
		/* An older form's fewer vectors: the rest keep their reset
		 * state (masked). */
		memcpy(d->msix.table, f->table, f->nvec * sizeof(f->table[0]));
		d->msix.pba[0] = f->pba;
		uint16_t ctrl = pci_get_u16(d->cfg, d->msix.cap + PCI_MSIX_CTRL);
		d->msix.enabled = ctrl & PCI_MSIX_ENABLE;
		d->msix.fmask = ctrl & PCI_MSIX_FMASK;
		msix_flush_pending_locked(d);
	}
	intx_update_locked(d);
	pthread_mutex_unlock(&d->irq_lock);
}

static int pci_host_restore(void *dev, struct state_reader *r, uint32_t version,
			    struct vmon_error *err)
{
	struct pci_host *host = dev;
	if (version != 1)
		return err_setf(err, "pci-host: saved state version %u (this vmon reads 1)",
				version);
	static struct saved_fn fns[PCI_MAX_SLOTS]; /* setup thread only */
	bool have[PCI_MAX_SLOTS] = {false};
	for (;;) {
		uint8_t s = state_get_u8(r);
		if (r->failed)
			return err_setf(err, "pci-host: saved state is truncated");
		if (s == 0xff)
			break;
		if (s == 0 || s >= PCI_MAX_SLOTS || !host->slots[s] || have[s])
			return err_setf(err, "pci-host: saved slot %u is not on this bus", s);
		have[s] = true;
		if (read_fn(host, s, r, &fns[s], err) < 0)
			return -1;
	}
	if (!state_reader_done(r))
		return err_setf(err, "pci-host: saved state has stray bytes");
	pthread_rwlock_wrlock(&host->lock);
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
		if (host->slots[s] && have[s])
			apply_fn(host->slots[s], &fns[s]);
	ioev_sync_locked(host);
	pthread_rwlock_unlock(&host->lock);
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
		if (host->slots[s] && !have[s])
			return err_setf(err, "pci-host: slot %u has no saved state", s);
	return 0;
}

const struct device_ops pci_host_device = {
	.kind = "pci-host",
	.state_version = 1,
	.save = pci_host_save,
	.restore = pci_host_restore,
	.create = pci_host_dev_create,
	.reset = pci_host_dev_reset,
	.destroy = pci_host_dev_destroy,
};
