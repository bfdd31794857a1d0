/* SPDX-License-Identifier: MIT */
/*
 * PCI: one host bridge, bus 0, configuration mechanism #1, and the small
 * framework PCI devices are written against.
 *
 * Configuration space. Ports 0xcf8 (address: enable bit 31, bus 23:16,
 * device 15:11, function 10:8, register 7:2; 32-bit accesses only, other
 * sizes read all ones and are dropped) and 0xcfc-0xcff (data, any size
 * that stays inside the dword). Bus 0 only, function 0 only; anything
 * else, or the enable bit clear, reads all ones and drops writes. Each
 * function has the 256-byte type-0 header space (no extended space).
 * 00:00.0 is the host bridge: vendor 0x1b36 device 0x0008 (the id Red Hat
 * set aside for a generic virtual host bridge: Linux has no quirks for
 * it), class 06/00/00. Devices take slots 1..31 in the order they are
 * added.
 *
 * Writes go through per-byte masks: a write changes only the bits a
 * device declared writable (pci_device.wmask), so BAR size probing works
 * by construction: writing all ones to a BAR reads back ~(size - 1) plus
 * the type bits.
 *
 * BARs: 32-bit, non-prefetchable memory BARs, power-of-two sizes >= 4 KiB.
 * vmon plays firmware: pci_host_add_device() assigns each BAR an address
 * in the PCI MMIO window [PCI_MMIO_BASE, PCI_MMIO_END), inside the 3-4 GiB
 * hole below the IOAPIC. Decoding: the machine's MMIO bus is sealed
 * before the guest runs, so instead of registering and unregistering
 * ranges the host registers the whole window once, and each access looks
 * up, under a read lock, which device has Command.Memory (bit 1) set and
 * a BAR whose current value covers the address. A BAR the guest moves
 * takes effect on the next access; a BAR moved outside the window is not
 * decoded (as behind a bridge whose window does not include it);
 * accesses that hit no BAR read all ones and are dropped. Overlapping
 * BARs: the device in the lower slot wins.
 *
 * Interrupts. INTx: a device using it gets Interrupt Pin INTA#, and slot s
 * is wired to GSI PCI_INTX_GSI_BASE + (s % 4) (the usual swizzle; these
 * are IOAPIC pins 16-19, level-triggered, active low: the ACPI/MP tables
 * must say so), which Interrupt Line reports. Command bit 10 masks it and
 * Status bit 3 shows the device's request. Slots share the four lines:
 * a line is asserted while any device wired to it asserts (wired-OR, as
 * on a real board), so one device lowering its request cannot hide
 * another's. MSI-X (pci_msix_init): table
 * and PBA in one of the device's BARs, vectors masked after reset; a
 * masked or function-masked vector sets its pending bit and fires when
 * unmasked. Messages go to the irq_router's msi hook, or — where the
 * backend offers MSI routes fed by eventfds (KVM irqfd) — through one
 * eventfd per vector that pci.c creates and binds on the vector's first
 * message. The binding is lazy: a table entry the guest rewrites is
 * re-aimed (msi_route_set) the next time the vector fires unmasked, so a
 * guest reprogramming masked vectors costs nothing and an address that is
 * not an interrupt (outside 0xfee00000-0xfeefffff, or with upper bits)
 * never becomes a route. Masked vectors never write their eventfd: they
 * set the pending bit as before. A device reset (and pci_host_reset)
 * unbinds every route. INTx always goes through irq_line.
 *
 * Eventfd notifies (pci_device_add_ioeventfd): a device can name writes
 * in its BARs that only signal an eventfd (virtio queue notifies). While
 * the BAR decodes at an address inside the window — Command.Memory set,
 * the BAR's current value, no lower slot's BAR over it — the host keeps
 * that address registered with the backend's ioeventfd_router
 * (pci_host_set_ioeventfd); it re-registers after every config write to
 * Command or a BAR and drops the registrations on reset. The BAR's own
 * write handler still sees writes the backend did not catch and must
 * treat them the same way.
 *
 * Locks (outer to inner): the host's rwlock (config space, BAR decode) ->
 * a device's own lock -> the device's irq_lock (INTx and MSI-X state) ->
 * the host's intx_lock (the shared lines' levels, a leaf). Device code may raise interrupts while
 * holding its own lock; it never takes the host lock. BAR handlers are called without the host
 * lock.
 */
#ifndef VMON_DEVICES_PCI_H
#define VMON_DEVICES_PCI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/device.h"
#include "core/error.h"
#include "core/ioeventfd.h"
#include "core/irq.h"
#include "core/layout.h"

#define PCI_CONFIG_PORT	   LAYOUT_PORT_PCI_CONFIG
#define PCI_MMIO_BASE	   LAYOUT_PCI_MMIO
#define PCI_MMIO_END	   LAYOUT_PCI_MMIO_END
#define PCI_INTX_GSI_BASE  LAYOUT_GSI_PCI_INTX
#define PCI_INTX_LINES	   LAYOUT_GSI_PCI_INTX_LINES /* slot s: GSI PCI_INTX_GSI_BASE + s % 4 */
#define PCI_MAX_SLOTS	   32
#define PCI_CFG_SIZE	   256
#define PCI_NUM_BARS	   6
#define PCI_MSIX_MAX	   64
#define PCI_MAX_IOEVENTFDS 16
#define PCI_HOST_VENDOR_ID 0x1b36
#define PCI_HOST_DEVICE_ID 0x0008

/* Configuration header offsets and bits (type 0). */
#define PCI_VENDOR_ID	    0x00
#define PCI_DEVICE_ID	    0x02
#define PCI_COMMAND	    0x04
#define PCI_STATUS	    0x06
#define PCI_REVISION_ID	    0x08
#define PCI_CLASS_PROG	    0x09
#define PCI_HEADER_TYPE	    0x0e
#define PCI_BAR0	    0x10
#define PCI_SUBSYS_VENDOR   0x2c
#define PCI_SUBSYS_ID	    0x2e
#define PCI_CAP_PTR	    0x34
#define PCI_INTERRUPT_LINE  0x3c
#define PCI_INTERRUPT_PIN   0x3d
#define PCI_CMD_IO	    0x0001
#define PCI_CMD_MEMORY	    0x0002
#define PCI_CMD_MASTER	    0x0004
#define PCI_CMD_INTX_OFF    0x0400
#define PCI_STATUS_INTX	    0x0008
#define PCI_STATUS_CAPS	    0x0010
#define PCI_CAP_ID_VENDOR   0x09
#define PCI_CAP_ID_MSIX	    0x11
#define PCI_MSIX_CTRL	    2 /* offsets inside the MSI-X capability */
#define PCI_MSIX_TABLE	    4
#define PCI_MSIX_PBA	    8
#define PCI_MSIX_ENABLE	    0x8000
#define PCI_MSIX_FMASK	    0x4000
#define PCI_MSIX_ENTRY_SIZE 16
#define PCI_MSIX_MASKED	    1 /* vector control bit 0 */

struct pci_host;
struct pci_device;

struct pci_device_ops {
	/* Both optional. Called with the host lock held, after the generic
	 * handling of an access to [off, off+size) (size 1, 2 or 4, inside
	 * one dword): read may replace *val, write sees the value the guest
	 * wrote. They may take the device's own lock. */
	void (*config_read)(struct pci_device *dev, unsigned off, unsigned size, uint32_t *val);
	void (*config_write)(struct pci_device *dev, unsigned off, unsigned size, uint32_t val);
};

struct pci_bar {
	uint32_t size; /* 0: BAR not implemented */
	const struct bus_ops *ops;
	void *opaque;
};

struct pci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct pci_msix {
	unsigned nvec; /* 0: no MSI-X */
	/* An older form of the device with fewer vectors, whose saved state
	 * still restores (the vectors beyond stay masked); 0: none. */
	unsigned legacy_nvec;
	unsigned bar;
	uint32_t table_off, pba_off;
	uint8_t cap; /* config offset of the capability */
	bool enabled, fmask;
	struct pci_msix_entry table[PCI_MSIX_MAX];
	uint64_t pba[PCI_MSIX_MAX / 64];
	/* irqfd routes (see above): eventfd, backend handle (-1: none), the
	 * message the route was last aimed at, and whether binding failed
	 * (then the vector uses the msi hook until the next reset). */
	int irqfd[PCI_MSIX_MAX];
	int route[PCI_MSIX_MAX];
	uint64_t route_addr[PCI_MSIX_MAX];
	uint32_t route_data[PCI_MSIX_MAX];
	bool route_failed[PCI_MSIX_MAX];
};

struct pci_ioeventfd {
	unsigned bar;
	uint32_t off;
	unsigned len;
	bool match;
	uint64_t data;
	int fd;	      /* the device's */
	uint64_t gpa; /* where it is registered now; 0: not registered */
};

/* Counters for VMON_STATS (relaxed atomics; any thread). */
struct pci_stats {
	_Atomic unsigned long notify_writes; /* writes to an eventfd range that reached vmon */
	_Atomic unsigned long msi_irqfd;     /* MSI-X messages sent by an irqfd write */
	_Atomic unsigned long msi_direct;    /* ... by the router's msi hook */
	_Atomic unsigned long intx;	     /* INTx assertions */
};

/* Embed in the device's own struct; fill it with pci_device_init() and the
 * helpers below before pci_host_add_device(). */
struct pci_device {
	const char *name;
	const struct pci_device_ops *ops;
	void *opaque;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	uint8_t poweron[PCI_CFG_SIZE]; /* cfg as vmon's "firmware" left it */
	struct pci_bar bar[PCI_NUM_BARS];
	uint8_t cap_last; /* config offset of the last capability, 0 if none */
	uint8_t cap_free; /* next free config offset for a capability */
	bool use_intx;
	/* Set by pci_host_add_device. */
	struct pci_host *host;
	unsigned slot;
	struct irq_line intx;
	struct irq_router *router;
	/* Under the host lock once added. */
	struct pci_ioeventfd ioev[PCI_MAX_IOEVENTFDS];
	unsigned nioev;
	bool released;
	struct pci_stats stats;
	/* irq_lock guards what follows (a leaf lock). */
	pthread_mutex_t irq_lock;
	bool intx_request; /* the device asserts INTx */
	bool intx_level;   /* what the line is at */
	bool intx_disabled;
	struct pci_msix msix;
};

/* Creates the host bridge: registers ports 0xcf8-0xcff on pio and the
 * MMIO window on mmio. router (MSI and INTx) must outlive the host. Call
 * during machine setup. Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int pci_host_create(struct pci_host **out, struct bus *pio,
							struct bus *mmio, struct irq_router *router,
							struct vmon_error *err);

/* The backend's ioeventfd hooks (machine->ioev; must outlive the host).
 * Without this call, or with NULL hooks, nothing is registered. */
void pci_host_set_ioeventfd(struct pci_host *host, struct ioeventfd_router *ioev);

/* The host as a device object (core/device.h): no params; it takes
 * env->pio, env->mmio, env->irq and env->ioev. */
extern const struct device_ops pci_host_device;

/* Reports a device's pci_stats (pci_slot, notify_exits,
 * ioeventfds_registered, ioeventfds, msix_irqfd, msix_message, intx).
 * Any thread. */
void pci_device_stats(struct pci_device *dev, const struct stats_sink *out);

/* Config space as after a PCI reset plus vmon's firmware setup (BARs at
 * their assigned addresses, decoding off, MSI-X off and masked, INTx
 * lowered). Devices reset their own state themselves. No vCPU may run. */
void pci_host_reset(struct pci_host *host);

/* Frees the host (not the devices, which their owners free). Call after
 * the vCPU threads have stopped. NULL is a no-op. */
void pci_host_destroy(struct pci_host *host);

/* Fills the header: ids, class (base << 16 | sub << 8 | prog-if),
 * revision, subsystem ids, header type 0; Command writable (I/O, memory,
 * bus master, INTx disable), no BARs, no capabilities. */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
		     uint16_t subsys_id, const struct pci_device_ops *ops, void *opaque);

/* Declares BAR idx (0-5) as a 32-bit memory BAR of size bytes (a power of
 * two, 4 KiB to 256 MiB); accesses inside it go to ops with opaque and
 * the offset in the BAR. Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int pci_device_set_bar(struct pci_device *dev, unsigned idx,
							   uint32_t size, const struct bus_ops *ops,
							   void *opaque, struct vmon_error *err);

/* Appends a capability of len bytes (>= 2) with the given id to the
 * list; returns its config offset, or 0 if it does not fit. The caller
 * fills bytes 2.. and their wmask. */
unsigned pci_add_cap(struct pci_device *dev, uint8_t id, unsigned len);

/* Adds an MSI-X capability with nvec vectors (1..PCI_MSIX_MAX) whose table
 * and PBA live in BAR bar at table_off and pba_off (8-byte aligned; the
 * table takes nvec * 16 bytes, the PBA a multiple of 8). The host
 * intercepts those ranges; the rest of the BAR goes to the BAR's ops.
 * Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int pci_msix_init(struct pci_device *dev, unsigned nvec,
						      unsigned bar, uint32_t table_off,
						      uint32_t pba_off, struct vmon_error *err);

/* Declares that a write of len bytes (of value data only, if match) at
 * offset off of BAR bar only signals eventfd fd, which the device owns and
 * keeps open until pci_device_release. Before pci_host_add_device.
 * Returns 0, or -1 with err (too many, or outside the BAR). */
__attribute__((warn_unused_result)) int
pci_device_add_ioeventfd(struct pci_device *dev, unsigned bar, uint32_t off, unsigned len,
			 bool match, uint64_t data, int fd, struct vmon_error *err);

/* Takes dev off the bus and drops what the host and the backend hold for
 * it: its eventfd registrations and its MSI-X routes (and closes their
 * eventfds). Call
 * before freeing dev or closing the fds it declared, with no vCPU
 * running; the backend must still be the one that registered them (or
 * gone, with its hooks zeroed). */
void pci_device_release(struct pci_device *dev);

/* Enables INTx (pin INTA#) for the device. Before pci_host_add_device. */
void pci_device_use_intx(struct pci_device *dev);

/* Puts dev in the next free slot of bus 0, assigns its BARs in the MMIO
 * window and wires its INTx. dev must outlive the host's use of it (until
 * pci_host_destroy or the vCPUs have stopped). Returns 0, or -1 with err
 * (no free slot, window full). */
__attribute__((warn_unused_result)) int
pci_host_add_device(struct pci_host *host, struct pci_device *dev, struct vmon_error *err);

/* Whether the guest turned MSI-X on for dev. Any thread. */
bool pci_msix_enabled(struct pci_device *dev);

/* Signals MSI-X vector vec: sent now, or left pending while masked.
 * Vectors beyond the table are dropped. Returns false (nothing done) if
 * MSI-X is off. Any thread. */
bool pci_msix_notify(struct pci_device *dev, unsigned vec);

/* Asserts or deasserts the device's INTx request; the line follows it
 * unless Command.INTxDisable is set. Any thread. */
void pci_intx_set(struct pci_device *dev, bool level);

/* Direct configuration-space access to slot (function 0) of bus 0, as
 * the data port does it (for tests and for devices that reflect config
 * space elsewhere). size 1, 2 or 4 within one dword. Reads of an empty
 * slot return all ones. */
uint32_t pci_config_read(struct pci_host *host, unsigned slot, unsigned off, unsigned size);
void pci_config_write(struct pci_host *host, unsigned slot, unsigned off, unsigned size,
		      uint32_t val);

/* Little-endian helpers on config bytes. */
static inline void pci_set_u8(uint8_t *p, unsigned off, uint8_t v)
{
	p[off] = v;
}
static inline void pci_set_u16(uint8_t *p, unsigned off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}
static inline void pci_set_u32(uint8_t *p, unsigned off, uint32_t v)
{
	pci_set_u16(p, off, (uint16_t)v);
	pci_set_u16(p, off + 2, (uint16_t)(v >> 16));
}
static inline uint16_t pci_get_u16(const uint8_t *p, unsigned off)
{
	return (uint16_t)(p[off] | (p[off + 1] << 8));
}
static inline uint32_t pci_get_u32(const uint8_t *p, unsigned off)
{
	return (uint32_t)pci_get_u16(p, off) | ((uint32_t)pci_get_u16(p, off + 2) << 16);
}

#endif
