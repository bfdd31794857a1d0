/* SPDX-License-Identifier: MIT */
/* PCI host: configuration mechanism #1, BAR sizing and decoding in the MMIO
 * window, capabilities, MSI-X masking/pending, INTx. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/bus.h"
#include "devices/pci.h"

/* ---- A recording interrupt router ---- */
static int levels[32];
static int nmsi;
static uint64_t last_msi_addr;
static uint32_t last_msi_data;

static void rec_level(void *ctx, unsigned gsi, bool level)
{
	if (gsi < 32)
		levels[gsi] = level;
}

static void rec_msi(void *ctx, uint64_t addr, uint32_t data)
{
	nmsi++;
	last_msi_addr = addr;
	last_msi_data = data;
}

static struct irq_router router = {.set_level = rec_level, .msi = rec_msi};

/* ---- A test device: BAR0 16 KiB (records accesses), BAR2 4 KiB MSI-X ---- */
static uint64_t bar_last_off;
static unsigned bar_reads, bar_writes;
static uint64_t bar_last_val;

static uint64_t tbar_read(void *opaque, uint64_t off, unsigned size)
{
	bar_reads++;
	bar_last_off = off;
	return 0x1234;
}

static void tbar_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
	bar_writes++;
	bar_last_off = off;
	bar_last_val = v;
}

static const struct bus_ops tbar_ops = {.read = tbar_read, .write = tbar_write};

struct fixture {
	struct bus pio, mmio;
	struct pci_host *host;
	struct pci_device dev;
};

static struct fixture fx;

static int setup(void **state)
{
	memset(&fx, 0, sizeof(fx));
	memset(levels, 0, sizeof(levels));
	nmsi = 0;
	bar_reads = bar_writes = 0;
	struct vmon_error err;
	bus_init(&fx.pio, "pio");
	bus_init(&fx.mmio, "mmio");
	assert_int_equal(pci_host_create(&fx.host, &fx.pio, &fx.mmio, &router, &err), 0);
	pci_device_init(&fx.dev, "test", 0x1234, 0x5678, 0x018000, 3, 0x1af4, 0x42, NULL, NULL);
	assert_int_equal(pci_device_set_bar(&fx.dev, 0, 0x4000, &tbar_ops, NULL, &err), 0);
	assert_int_equal(pci_device_set_bar(&fx.dev, 2, 0x1000, &tbar_ops, NULL, &err), 0);
	assert_int_equal(pci_msix_init(&fx.dev, 3, 2, 0, 0x800, &err), 0);
	pci_device_use_intx(&fx.dev);
	assert_int_equal(pci_host_add_device(fx.host, &fx.dev, &err), 0);
	bus_seal(&fx.pio);
	bus_seal(&fx.mmio);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	pci_host_destroy(fx.host);
	bus_destroy(&fx.pio);
	bus_destroy(&fx.mmio);
	return 0;
}

static uint64_t io(unsigned port, unsigned size, bool write, uint64_t v)
{
	bus_access(&fx.pio, NULL, port, size, write, &v);
	return v;
}

static uint32_t cfg_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

/* Read through the ports, as a guest does. */
static uint32_t cfgr(unsigned dev, unsigned reg, unsigned size)
{
	io(0xcf8, 4, true, cfg_addr(0, dev, 0, reg));
	return (uint32_t)io(0xcfc + (reg & 3), size, false, 0);
}

static void cfgw(unsigned dev, unsigned reg, unsigned size, uint32_t v)
{
	io(0xcf8, 4, true, cfg_addr(0, dev, 0, reg));
	io(0xcfc + (reg & 3), size, true, v);
}

static uint64_t mmio(uint64_t addr, unsigned size, bool write, uint64_t v)
{
	bus_access(&fx.mmio, NULL, addr, size, write, &v);
	return v;
}

static void test_config_mechanism(void **state)
{
	/* The latch reads back, masked to its defined bits. */
	io(0xcf8, 4, true, 0xffffffff);
	assert_int_equal(io(0xcf8, 4, false, 0), 0x80fffffc);
	/* Sub-dword accesses to 0xcf8 do not touch the latch. */
	io(0xcf8, 4, true, 0x80000000);
	io(0xcfb, 1, true, 0x01);
	assert_int_equal(io(0xcf8, 4, false, 0), 0x80000000);
	assert_int_equal(io(0xcf8, 2, false, 0), 0xffff);
	/* Host bridge at 00:00.0. */
	assert_int_equal(cfgr(0, 0, 4), PCI_HOST_DEVICE_ID << 16 | PCI_HOST_VENDOR_ID);
	assert_int_equal(cfgr(0, 0x0b, 1), 0x06);
	/* Our device in slot 1, byte/word/dword reads at every offset. */
	assert_int_equal(cfgr(1, 0, 2), 0x1234);
	assert_int_equal(cfgr(1, 2, 2), 0x5678);
	assert_int_equal(cfgr(1, 1, 1), 0x12);
	assert_int_equal(cfgr(1, 3, 1), 0x56);
	assert_int_equal(cfgr(1, 8, 4), 0x01800003);
	assert_int_equal(cfgr(1, 0x2c, 4), 0x00421af4);
	/* Empty slot, other function, other bus, enable bit clear: all ones. */
	assert_int_equal(cfgr(2, 0, 4), 0xffffffff);
	io(0xcf8, 4, true, cfg_addr(0, 1, 1, 0));
	assert_int_equal(io(0xcfc, 4, false, 0), 0xffffffff);
	io(0xcf8, 4, true, cfg_addr(1, 1, 0, 0));
	assert_int_equal(io(0xcfc, 4, false, 0), 0xffffffff);
	io(0xcf8, 4, true, cfg_addr(0, 1, 0, 0) & 0x7fffffff);
	assert_int_equal(io(0xcfc, 4, false, 0), 0xffffffff);
	/* A dword at 0xcfd would cross the data port: unclaimed. */
	io(0xcf8, 4, true, cfg_addr(0, 1, 0, 0));
	uint64_t v = 0;
	assert_false(bus_access(&fx.pio, NULL, 0xcfd, 4, false, &v));
	/* Read-only fields ignore writes. */
	cfgw(1, 0, 4, 0);
	assert_int_equal(cfgr(1, 0, 4), 0x56781234);
	cfgw(0, 4, 2, 0);
	assert_int_equal(cfgr(0, 4, 2) & PCI_CMD_MEMORY, PCI_CMD_MEMORY);
}

static void test_bars(void **state)
{
	uint32_t bar0 = cfgr(1, PCI_BAR0, 4);
	uint32_t bar2 = cfgr(1, PCI_BAR0 + 8, 4);
	assert_int_equal(bar0, PCI_MMIO_BASE);
	assert_int_equal(bar2 & 0xfff, 0);
	assert_true(bar2 >= PCI_MMIO_BASE + 0x4000 && bar2 < PCI_MMIO_END);
	/* Unimplemented BARs read 0 and stay 0. */
	cfgw(1, PCI_BAR0 + 4, 4, 0xffffffff);
	assert_int_equal(cfgr(1, PCI_BAR0 + 4, 4), 0);
	/* Size probing. */
	cfgw(1, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(cfgr(1, PCI_BAR0, 4), 0xffffc000);
	cfgw(1, PCI_BAR0, 4, bar0);
	assert_int_equal(cfgr(1, PCI_BAR0, 4), bar0);

	/* Memory decoding off: nothing reaches the device. */
	assert_int_equal(mmio(bar0 + 0x10, 4, false, 0), 0xffffffff);
	assert_int_equal(bar_reads, 0);
	cfgw(1, PCI_COMMAND, 2, PCI_CMD_MEMORY);
	assert_int_equal(mmio(bar0 + 0x10, 4, false, 0), 0x1234);
	assert_int_equal(bar_last_off, 0x10);
	mmio(bar0 + 0x3ffc, 4, true, 7);
	assert_int_equal(bar_last_off, 0x3ffc);
	assert_int_equal(bar_last_val, 7);
	/* An access straddling the BAR's end is not decoded. */
	unsigned before = bar_reads;
	mmio(bar0 + 0x3ffe, 4, false, 0);
	assert_int_equal(bar_reads, before);

	/* Move BAR 0: the old address stops decoding, the new one works. */
	uint32_t moved = 0xf0000000;
	cfgw(1, PCI_BAR0, 4, moved);
	before = bar_reads;
	assert_int_equal(mmio(bar0 + 0x10, 4, false, 0), 0xffffffff);
	assert_int_equal(bar_reads, before);
	assert_int_equal(mmio(moved + 0x20, 4, false, 0), 0x1234);
	assert_int_equal(bar_last_off, 0x20);
	/* Outside the window: not decoded (and not registered on the bus). */
	cfgw(1, PCI_BAR0, 4, 0xd0000000);
	uint64_t v = 0;
	assert_false(bus_access(&fx.mmio, NULL, 0xd0000000, 4, false, &v));
	/* Decoding off again. */
	cfgw(1, PCI_BAR0, 4, moved);
	cfgw(1, PCI_COMMAND, 2, 0);
	assert_int_equal(mmio(moved + 0x20, 4, false, 0), 0xffffffff);

	/* Reset restores vmon's assignment, decoding off. */
	pci_host_reset(fx.host);
	assert_int_equal(cfgr(1, PCI_BAR0, 4), bar0);
	assert_int_equal(cfgr(1, PCI_COMMAND, 2), 0);
}

static void test_capabilities(void **state)
{
	assert_true(cfgr(1, PCI_STATUS, 2) & PCI_STATUS_CAPS);
	unsigned cap = cfgr(1, PCI_CAP_PTR, 1);
	assert_true(cap >= 0x40);
	assert_int_equal(cfgr(1, cap, 1), PCI_CAP_ID_MSIX);
	assert_int_equal(cfgr(1, cap + 1, 1), 0); /* last in the list */
	assert_int_equal(cfgr(1, cap + 2, 2), 2); /* 3 vectors, disabled */
	assert_int_equal(cfgr(1, cap + 4, 4), 0 | 2);
	assert_int_equal(cfgr(1, cap + 8, 4), 0x800 | 2);
	/* Only enable and function mask are writable. */
	cfgw(1, cap + 2, 2, 0xffff);
	assert_int_equal(cfgr(1, cap + 2, 2), 0xc002);
}

static void test_msix(void **state)
{
	unsigned cap = cfgr(1, PCI_CAP_PTR, 1);
	uint32_t tbl = cfgr(1, PCI_BAR0 + 8, 4);
	cfgw(1, PCI_COMMAND, 2, PCI_CMD_MEMORY | PCI_CMD_MASTER);
	/* Off: notify says so, nothing sent. */
	assert_false(pci_msix_notify(&fx.dev, 0));
	cfgw(1, cap + 2, 2, PCI_MSIX_ENABLE);
	assert_true(pci_msix_enabled(&fx.dev));
	/* Vectors start masked: the message is held pending. */
	assert_int_equal(mmio(tbl + 12, 4, false, 0), 1);
	mmio(tbl + 0, 4, true, 0xfee00000);
	mmio(tbl + 4, 4, true, 0);
	mmio(tbl + 8, 4, true, 0x41);
	assert_true(pci_msix_notify(&fx.dev, 0));
	assert_int_equal(nmsi, 0);
	assert_int_equal(mmio(tbl + 0x800, 8, false, 0), 1);
	/* Unmasking delivers it and clears the pending bit. */
	mmio(tbl + 12, 4, true, 0);
	assert_int_equal(nmsi, 1);
	assert_int_equal(last_msi_addr, 0xfee00000);
	assert_int_equal(last_msi_data, 0x41);
	assert_int_equal(mmio(tbl + 0x800, 8, false, 0), 0);
	/* Unmasked: immediate. */
	pci_msix_notify(&fx.dev, 0);
	assert_int_equal(nmsi, 2);
	/* Function mask holds it; clearing the mask delivers. */
	cfgw(1, cap + 2, 2, PCI_MSIX_ENABLE | PCI_MSIX_FMASK);
	pci_msix_notify(&fx.dev, 0);
	assert_int_equal(nmsi, 2);
	cfgw(1, cap + 2, 2, PCI_MSIX_ENABLE);
	assert_int_equal(nmsi, 3);
	/* A qword write of address; table reads back. */
	mmio(tbl + 16, 8, true, 0x00000001fee01000ULL);
	assert_int_equal(mmio(tbl + 16, 8, false, 0), 0x00000001fee01000ULL);
	/* Vectors beyond the table are dropped; odd sizes ignored. */
	pci_msix_notify(&fx.dev, 7);
	assert_int_equal(nmsi, 3);
	mmio(tbl + 1, 1, true, 0xff);
	assert_int_equal(mmio(tbl + 1, 1, false, 0), 0xff);
	assert_int_equal(mmio(tbl, 4, false, 0), 0xfee00000);
	/* The PBA is read-only. */
	mmio(tbl + 0x800, 8, true, ~0ULL);
	assert_int_equal(mmio(tbl + 0x800, 8, false, 0), 0);
	/* Outside table and PBA: the BAR's own handler. */
	mmio(tbl + 0x400, 4, false, 0);
	assert_int_equal(bar_last_off, 0x400);
}

static void test_intx(void **state)
{
	unsigned gsi = cfgr(1, PCI_INTERRUPT_LINE, 1);
	assert_int_equal(gsi, PCI_INTX_GSI_BASE + 1);
	assert_int_equal(cfgr(1, PCI_INTERRUPT_PIN, 1), 1);
	pci_intx_set(&fx.dev, true);
	assert_int_equal(levels[gsi], 1);
	assert_true(cfgr(1, PCI_STATUS, 2) & PCI_STATUS_INTX);
	/* Command.INTxDisable masks the line but not the status bit. */
	cfgw(1, PCI_COMMAND, 2, PCI_CMD_INTX_OFF);
	assert_int_equal(levels[gsi], 0);
	assert_true(cfgr(1, PCI_STATUS, 2) & PCI_STATUS_INTX);
	cfgw(1, PCI_COMMAND, 2, 0);
	assert_int_equal(levels[gsi], 1);
	pci_intx_set(&fx.dev, false);
	assert_int_equal(levels[gsi], 0);
	assert_false(cfgr(1, PCI_STATUS, 2) & PCI_STATUS_INTX);
	/* Interrupt Line is scratch for the OS. */
	cfgw(1, PCI_INTERRUPT_LINE, 1, 11);
	assert_int_equal(cfgr(1, PCI_INTERRUPT_LINE, 1), 11);
}

/* Slots 1 and 5 share a GSI (16 + s % 4): the line is the OR of both,
 * whatever order they raise and lower their requests in. */
static void test_intx_shared_line(void **state)
{
	static struct pci_device others[4]; /* slots 2..5 */
	struct vmon_error err;
	for (int i = 0; i < 4; i++) {
		pci_device_init(&others[i], "intx", 1, 2, 0, 0, 0, 0, NULL, NULL);
		pci_device_use_intx(&others[i]);
		assert_int_equal(pci_host_add_device(fx.host, &others[i], &err), 0);
	}
	struct pci_device *b = &others[3];
	unsigned gsi = cfgr(1, PCI_INTERRUPT_LINE, 1);
	assert_int_equal(cfgr(5, PCI_INTERRUPT_LINE, 1), gsi);
	pci_intx_set(&fx.dev, true);
	pci_intx_set(b, true);
	assert_int_equal(levels[gsi], 1);
	pci_intx_set(&fx.dev, false); /* b still asserts */
	assert_int_equal(levels[gsi], 1);
	pci_intx_set(b, false);
	assert_int_equal(levels[gsi], 0);
	/* The other order, and a device masking its INTx in between. */
	pci_intx_set(b, true);
	pci_intx_set(&fx.dev, true);
	cfgw(5, PCI_COMMAND, 2, PCI_CMD_INTX_OFF);
	assert_int_equal(levels[gsi], 1);
	pci_intx_set(&fx.dev, false);
	assert_int_equal(levels[gsi], 0);
	cfgw(5, PCI_COMMAND, 2, 0);
	assert_int_equal(levels[gsi], 1);
	/* A neighbour on another line does not touch this one. */
	pci_intx_set(&others[0], true); /* slot 2 */
	assert_int_equal(levels[PCI_INTX_GSI_BASE + 2], 1);
	pci_intx_set(b, false);
	assert_int_equal(levels[gsi], 0);
	assert_int_equal(levels[PCI_INTX_GSI_BASE + 2], 1);
	/* A device that leaves the bus stops driving the line; a reset lowers
	 * everything. */
	pci_intx_set(b, true);
	pci_intx_set(&fx.dev, true);
	pci_device_release(b);
	assert_int_equal(levels[gsi], 1);
	pci_host_reset(fx.host);
	assert_int_equal(levels[gsi], 0);
	assert_int_equal(levels[PCI_INTX_GSI_BASE + 2], 0);
	pci_intx_set(&fx.dev, true);
	assert_int_equal(levels[gsi], 1);
}

static void test_slots_full(void **state)
{
	static struct pci_device many[PCI_MAX_SLOTS];
	struct vmon_error err;
	int added = 0;
	for (int i = 0; i < PCI_MAX_SLOTS; i++) {
		pci_device_init(&many[i], "filler", 1, 2, 0, 0, 0, 0, NULL, NULL);
		if (pci_host_add_device(fx.host, &many[i], &err) < 0)
			break;
		added++;
	}
	assert_int_equal(added, PCI_MAX_SLOTS - 2); /* bridge + test device */
	assert_non_null(strstr(err.msg, "no free slot"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_mechanism, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx_shared_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_full, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
