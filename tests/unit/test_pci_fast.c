/* SPDX-License-Identifier: MIT */
/* The PCI host's fast paths, against recording backends: which notify
 * addresses it registers with the ioeventfd router as the guest programs
 * Command and BARs (and what it drops on reset and release), and how
 * MSI-X vectors bind, re-aim and give up irqfd routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/bus.h"
#include "devices/pci.h"

/* ---- Recording ioeventfd router: the set of live registrations ---- */
#define MAX_REG 8
static struct reg {
	uint64_t gpa;
	unsigned len;
	int fd;
} regs[MAX_REG];
static int nreg, nadd, ndel;
static bool fail_add;

static int rec_add(void *ctx, uint64_t gpa, unsigned len, bool match, uint64_t data, int fd)
{
	nadd++;
	if (fail_add || nreg == MAX_REG)
		return -1;
	for (int i = 0; i < nreg; i++)
		assert_false(regs[i].gpa == gpa && regs[i].len == len); /* KVM: EEXIST */
	regs[nreg++] = (struct reg){gpa, len, fd};
	return 0;
}

static void rec_del(void *ctx, uint64_t gpa, unsigned len, bool match, uint64_t data, int fd)
{
	ndel++;
	for (int i = 0; i < nreg; i++)
		if (regs[i].gpa == gpa && regs[i].len == len && regs[i].fd == fd) {
			regs[i] = regs[--nreg];
			return;
		}
	fail_msg("del of an address that is not registered: 0x%llx", (unsigned long long)gpa);
}

static uint64_t registered_at(int fd)
{
	for (int i = 0; i < nreg; i++)
		if (regs[i].fd == fd)
			return regs[i].gpa;
	return 0;
}

static struct ioeventfd_router ioev = {.add = rec_add, .del = rec_del};

/* ---- Recording interrupt router with irqfd routes ---- */
#define MAX_ROUTES 4
static struct route {
	bool used;
	int fd;
	uint64_t addr;
	uint32_t data;
} routes[MAX_ROUTES];
static int nmsi, nroute_add, nroute_set;
static bool fail_route;

static void rec_level(void *ctx, unsigned gsi, bool level)
{
}

static void rec_msi(void *ctx, uint64_t addr, uint32_t data)
{
	nmsi++;
}

static int rt_add(void *ctx, int fd, uint64_t addr, uint32_t data)
{
	nroute_add++;
	if (fail_route)
		return -1;
	for (int i = 0; i < MAX_ROUTES; i++)
		if (!routes[i].used) {
			routes[i] = (struct route){true, fd, addr, data};
			return i;
		}
	return -1;
}

static int rt_set(void *ctx, int h, uint64_t addr, uint32_t data)
{
	nroute_set++;
	assert_true(h >= 0 && h < MAX_ROUTES && routes[h].used);
	routes[h].addr = addr;
	routes[h].data = data;
	return 0;
}

static void rt_del(void *ctx, int h, int fd)
{
	assert_true(h >= 0 && h < MAX_ROUTES && routes[h].used && routes[h].fd == fd);
	/* The fd must still be open when the backend lets go of it. */
	assert_true(fcntl(fd, F_GETFD) >= 0);
	routes[h].used = false;
}

static int live_routes(void)
{
	int n = 0;
	for (int i = 0; i < MAX_ROUTES; i++)
		n += routes[i].used;
	return n;
}

/* How many times the route's eventfd was written since the last call. */
static uint64_t fired(int h)
{
	uint64_t n = 0;
	if (read(routes[h].fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static struct irq_router router = {.set_level = rec_level,
				   .msi = rec_msi,
				   .msi_route_add = rt_add,
				   .msi_route_set = rt_set,
				   .msi_route_del = rt_del};

/* ---- Two devices: BAR0 16 KiB with a notify at 0x3000, BAR2 MSI-X ---- */
static unsigned bar_writes;
static uint64_t tbar_read(void *opaque, uint64_t off, unsigned size)
{
	return 0;
}
static void tbar_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
	bar_writes++;
}
static const struct bus_ops tbar_ops = {.read = tbar_read, .write = tbar_write};

static struct {
	struct bus pio, mmio;
	struct pci_host *host;
	struct pci_device dev[2];
	int efd[2];
} fx;

static int setup(void **state)
{
	memset(&fx, 0, sizeof(fx));
	memset(regs, 0, sizeof(regs));
	memset(routes, 0, sizeof(routes));
	nreg = nadd = ndel = nmsi = nroute_add = nroute_set = 0;
	fail_add = fail_route = false;
	bar_writes = 0;
	struct vmon_error err;
	bus_init(&fx.pio, "pio");
	bus_init(&fx.mmio, "mmio");
	assert_int_equal(pci_host_create(&fx.host, &fx.pio, &fx.mmio, &router, &err), 0);
	for (int i = 0; i < 2; i++) {
		struct pci_device *d = &fx.dev[i];
		fx.efd[i] = eventfd(0, EFD_NONBLOCK);
		assert_true(fx.efd[i] >= 0);
		pci_device_init(d, "test", 0x1234, 0x5678, 0, 0, 0, 0, NULL, NULL);
		assert_int_equal(pci_device_set_bar(d, 0, 0x4000, &tbar_ops, NULL, &err), 0);
		assert_int_equal(pci_device_set_bar(d, 2, 0x1000, &tbar_ops, NULL, &err), 0);
		assert_int_equal(pci_msix_init(d, 2, 2, 0, 0x800, &err), 0);
		assert_int_equal(
			pci_device_add_ioeventfd(d, 0, 0x3000, 2, false, 0, fx.efd[i], &err), 0);
		assert_int_equal(pci_host_add_device(fx.host, d, &err), 0);
	}
	pci_host_set_ioeventfd(fx.host, &ioev);
	bus_seal(&fx.pio);
	bus_seal(&fx.mmio);
	return 0;
}

static int teardown(void **state)
{
	for (int i = 0; i < 2; i++) {
		pci_device_release(&fx.dev[i]);
		close(fx.efd[i]);
	}
	assert_int_equal(nreg, 0);
	assert_int_equal(live_routes(), 0);
	pci_host_destroy(fx.host);
	bus_destroy(&fx.pio);
	bus_destroy(&fx.mmio);
	return 0;
}

static void cfgw(unsigned slot, unsigned reg, unsigned size, uint32_t v)
{
	pci_config_write(fx.host, slot, reg, size, v);
}

static uint32_t cfgr(unsigned slot, unsigned reg, unsigned size)
{
	return pci_config_read(fx.host, slot, reg, size);
}

static void mmio_w(uint64_t addr, unsigned size, uint64_t v)
{
	bus_access(&fx.mmio, NULL, addr, size, true, &v);
}

static void test_bad_ranges(void **state)
{
	struct vmon_error err;
	struct pci_device d;
	pci_device_init(&d, "x", 1, 2, 0, 0, 0, 0, NULL, NULL);
	assert_int_equal(pci_device_set_bar(&d, 0, 0x1000, &tbar_ops, NULL, &err), 0);
	assert_int_equal(pci_device_add_ioeventfd(&d, 0, 0xfff, 2, false, 0, 3, &err), -1);
	assert_int_equal(pci_device_add_ioeventfd(&d, 1, 0, 2, false, 0, 3, &err), -1);
	assert_int_equal(pci_device_add_ioeventfd(&d, 0, 0, 3, false, 0, 3, &err), -1);
	assert_int_equal(pci_device_add_ioeventfd(&d, 0, 0, 2, false, 0, -1, &err), -1);
	assert_int_equal(pci_device_add_ioeventfd(&d, 0, 0xffe, 2, false, 0, 3, &err), 0);
}

static void test_follows_decode(void **state)
{
	uint32_t bar0 = cfgr(1, PCI_BAR0, 4);
	/* Decoding off after firmware setup: nothing registered. */
	assert_int_equal(nreg, 0);
	cfgw(1, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	assert_int_equal(registered_at(fx.efd[0]), bar0 + 0x3000);
	assert_int_equal(nreg, 1);
	/* Moving the BAR moves the registration. */
	cfgw(1, PCI_BAR0, 4, 0xf0000000);
	assert_int_equal(registered_at(fx.efd[0]), 0xf0003000);
	assert_int_equal(nreg, 1);
	/* Size probing (all ones) puts the BAR at 0xffffc000: outside the
	 * window (the LAPIC page is there), so nothing may be registered. */
	cfgw(1, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(nreg, 0);
	/* Below the window (RAM): neither. */
	cfgw(1, PCI_BAR0, 4, 0x10000000);
	assert_int_equal(nreg, 0);
	/* Just below the window's end, fully inside. */
	cfgw(1, PCI_BAR0, 4, (uint32_t)PCI_MMIO_END - 0x4000);
	assert_int_equal(registered_at(fx.efd[0]), PCI_MMIO_END - 0x1000);
	/* Decode off drops it. */
	cfgw(1, PCI_BAR0, 4, bar0);
	cfgw(1, PCI_COMMAND, 2, 0);
	assert_int_equal(nreg, 0);
	/* Reset drops everything. */
	cfgw(1, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	cfgw(2, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	assert_int_equal(nreg, 2);
	pci_host_reset(fx.host);
	assert_int_equal(nreg, 0);
}

static void test_overlap(void **state)
{
	/* Slot 2's BAR0 moved onto slot 1's: the lower slot decodes the
	 * address, so only its eventfd may be registered there. */
	uint32_t bar0 = cfgr(1, PCI_BAR0, 4);
	cfgw(2, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	uint32_t other = cfgr(2, PCI_BAR0, 4);
	assert_int_equal(registered_at(fx.efd[1]), other + 0x3000);
	cfgw(2, PCI_BAR0, 4, bar0);
	assert_int_equal(registered_at(fx.efd[1]), bar0 + 0x3000); /* slot 1 not decoding */
	cfgw(1, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	assert_int_equal(registered_at(fx.efd[0]), bar0 + 0x3000);
	assert_int_equal(registered_at(fx.efd[1]), 0);
	/* Slot 1 stops decoding: slot 2 gets the address back. */
	cfgw(1, PCI_COMMAND, 2, 0);
	assert_int_equal(registered_at(fx.efd[1]), bar0 + 0x3000);
	assert_int_equal(nreg, 1);
}

static void test_refused_and_counted(void **state)
{
	/* A refused registration leaves the write on the bus, where the
	 * device sees it (and the stats count it); the next change retries. */
	fail_add = true;
	cfgw(1, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	assert_int_equal(nreg, 0);
	uint32_t bar0 = cfgr(1, PCI_BAR0, 4);
	mmio_w(bar0 + 0x3000, 2, 0);
	assert_int_equal(bar_writes, 1);
	assert_int_equal(atomic_load(&fx.dev[0].stats.notify_writes), 1);
	/* Other sizes or offsets are not counted as notifies. */
	mmio_w(bar0 + 0x3000, 4, 0);
	mmio_w(bar0 + 0x3002, 2, 0);
	assert_int_equal(atomic_load(&fx.dev[0].stats.notify_writes), 1);
	fail_add = false;
	cfgw(1, PCI_COMMAND, 2, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	assert_int_equal(registered_at(fx.efd[0]), bar0 + 0x3000);
	/* Release drops it for good. */
	pci_device_release(&fx.dev[0]);
	assert_int_equal(nreg, 0);
	cfgw(1, PCI_BAR0, 4, 0xf0000000);
	assert_int_equal(nreg, 0);
}

/* Programs vector v of slot 1 and enables MSI-X; returns the table base. */
static uint32_t msix_setup(void)
{
	cfgw(1, PCI_COMMAND, 2, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	unsigned cap = fx.dev[0].msix.cap;
	cfgw(1, cap + 2, 2, PCI_MSIX_ENABLE);
	return cfgr(1, PCI_BAR0 + 8, 4);
}

static void test_irqfd_routes(void **state)
{
	uint32_t tbl = msix_setup();
	struct pci_device *d = &fx.dev[0];
	mmio_w(tbl + 0, 4, 0xfee00000);
	mmio_w(tbl + 8, 4, 0x41);
	/* Masked: pending, no route yet. */
	pci_msix_notify(d, 0);
	assert_int_equal(nroute_add, 0);
	/* Unmask: the pending message goes out through a new route. */
	mmio_w(tbl + 12, 4, 0);
	assert_int_equal(nroute_add, 1);
	assert_int_equal(live_routes(), 1);
	assert_int_equal(routes[0].addr, 0xfee00000);
	assert_int_equal(routes[0].data, 0x41);
	assert_int_equal(fired(0), 1);
	assert_int_equal(nmsi, 0);
	/* Again: same route, no backend call. */
	pci_msix_notify(d, 0);
	pci_msix_notify(d, 0);
	assert_int_equal(fired(0), 2);
	assert_int_equal(nroute_add + nroute_set, 1);
	/* The guest rewrites the entry (masked, as Linux does): nothing
	 * until the vector fires, then the route is re-aimed first. */
	mmio_w(tbl + 12, 4, 1);
	mmio_w(tbl + 0, 4, 0xfee01000);
	mmio_w(tbl + 8, 4, 0x42);
	assert_int_equal(nroute_set, 0);
	pci_msix_notify(d, 0);
	assert_int_equal(fired(0), 0);
	mmio_w(tbl + 12, 4, 0);
	assert_int_equal(nroute_set, 1);
	assert_int_equal(routes[0].addr, 0xfee01000);
	assert_int_equal(routes[0].data, 0x42);
	assert_int_equal(fired(0), 1);
	assert_int_equal(atomic_load(&d->stats.msi_irqfd), 4);
	/* An address that is not an interrupt never becomes a route. */
	mmio_w(tbl + 16 + 0, 4, 0xd0000000);
	mmio_w(tbl + 16 + 12, 4, 0);
	pci_msix_notify(d, 1);
	assert_int_equal(live_routes(), 1);
	assert_int_equal(nmsi, 1);
	mmio_w(tbl + 16 + 0, 4, 0xfee00000);
	mmio_w(tbl + 16 + 4, 4, 1); /* upper address bits: not for a LAPIC here */
	pci_msix_notify(d, 1);
	assert_int_equal(live_routes(), 1);
	assert_int_equal(nmsi, 2);
	/* Reset unbinds (teardown checks nothing is left). */
	pci_host_reset(fx.host);
	assert_int_equal(live_routes(), 0);
}

static void test_irqfd_refused(void **state)
{
	uint32_t tbl = msix_setup();
	struct pci_device *d = &fx.dev[0];
	fail_route = true;
	mmio_w(tbl + 0, 4, 0xfee00000);
	mmio_w(tbl + 12, 4, 0);
	pci_msix_notify(d, 0);
	pci_msix_notify(d, 0);
	/* Falls back to messages, and does not ask again until a reset. */
	assert_int_equal(nmsi, 2);
	assert_int_equal(nroute_add, 1);
	assert_int_equal(atomic_load(&d->stats.msi_direct), 2);
	fail_route = false;
	pci_host_reset(fx.host);
	tbl = msix_setup();
	mmio_w(tbl + 0, 4, 0xfee00000);
	mmio_w(tbl + 12, 4, 0);
	pci_msix_notify(d, 0);
	assert_int_equal(nroute_add, 2);
	assert_int_equal(live_routes(), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test_setup_teardown(test_follows_decode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_and_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqfd_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqfd_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
