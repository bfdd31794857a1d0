/* SPDX-License-Identifier: MIT */
/* Firmware tables (src/boot/acpi.c, src/boot/mptable.c) byte by byte, and
 * the ACPI power-management ports (src/devices/acpi_pm.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "boot/acpi.h"
#include "boot/mptable.h"
#include "boot/reset_vector.h"
#include "core/bus.h"
#include "core/state.h"
#include "devices/acpi_pm.h"

#define MiB (1ULL << 20)

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static struct acpi_config config(int ncpus, bool pci)
{
	return (struct acpi_config){
		.ncpus = ncpus,
		.sleep_ctl_port = ACPI_PM_SLEEP_CTL_PORT,
		.sleep_sts_port = ACPI_PM_SLEEP_STS_PORT,
		.reset_port = ACPI_PM_RESET_PORT,
		.reset_value = ACPI_PM_RESET_VALUE,
		.pm_timer_port = ACPI_PM_TIMER_PORT,
		.pci_host = pci,
		.pci_mmio_start = 0xe0000000u,
		.pci_mmio_end = 0xfec00000u,
		.pci_intx_gsi_base = 16,
		.pci_intx_lines = 4,
	};
}

#define BASE 0xe0000ULL
#define CAP  0x10000

/* A table at gpa inside buf: checks signature, length and checksum. */
static const uint8_t *table(const uint8_t *buf, long n, uint64_t gpa, const char *sig)
{
	assert_true(gpa >= BASE && gpa + ACPI_HDR_LEN <= BASE + (uint64_t)n);
	const uint8_t *t = buf + (gpa - BASE);
	if (memcmp(t, sig, 4) != 0)
		fail_msg("table at 0x%llx is '%.4s', want '%s'", (unsigned long long)gpa, t, sig);
	uint32_t len = get32(t + 4);
	assert_true(len >= ACPI_HDR_LEN);
	assert_true(gpa + len <= BASE + (uint64_t)n);
	if (sum(t, len) != 0)
		fail_msg("%s checksum is wrong", sig);
	assert_memory_equal(t + 10, "VMON  ", 6);
	return t;
}

struct tables {
	const uint8_t *rsdp, *xsdt, *rsdt, *fadt, *madt, *dsdt;
};

static struct tables check_tables(const uint8_t *buf, long n)
{
	struct tables t;
	t.rsdp = buf;
	assert_memory_equal(t.rsdp, "RSD PTR ", 8);
	assert_int_equal(sum(t.rsdp, 20), 0);
	assert_int_equal(sum(t.rsdp, ACPI_RSDP_LEN), 0);
	assert_int_equal(t.rsdp[15], 2);
	assert_int_equal(get32(t.rsdp + 20), ACPI_RSDP_LEN);

	t.xsdt = table(buf, n, get64(t.rsdp + 24), "XSDT");
	t.rsdt = table(buf, n, get32(t.rsdp + 16), "RSDT");
	assert_int_equal(get32(t.xsdt + 4), ACPI_HDR_LEN + 16);
	assert_int_equal(get32(t.rsdt + 4), ACPI_HDR_LEN + 8);
	/* Both list the same FADT and MADT. */
	assert_int_equal(get64(t.xsdt + 36), get32(t.rsdt + 36));
	assert_int_equal(get64(t.xsdt + 44), get32(t.rsdt + 40));
	t.fadt = table(buf, n, get64(t.xsdt + 36), "FACP");
	t.madt = table(buf, n, get64(t.xsdt + 44), "APIC");
	assert_int_equal(get32(t.fadt + 4), ACPI_FADT_LEN);
	assert_int_equal(t.fadt[8], 6);
	assert_int_equal(get32(t.fadt + 40), get64(t.fadt + 140)); /* DSDT, X_DSDT */
	t.dsdt = table(buf, n, get64(t.fadt + 140), "DSDT");
	return t;
}

static void check_gas_io(const uint8_t *g, uint16_t port)
{
	assert_int_equal(g[0], 1); /* SystemIO */
	assert_int_equal(g[1], 8);
	assert_int_equal(g[3], 1);
	assert_int_equal(get64(g + 4), port);
}

static bool contains(const uint8_t *p, size_t len, const char *s)
{
	return memmem(p, len, s, strlen(s)) != NULL;
}

static void test_acpi_tables(void **state)
{
	static uint8_t buf[CAP];
	int counts[] = {1, 2, 4, 64, 255};
	for (unsigned c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		int ncpus = counts[c];
		struct acpi_config cfg = config(ncpus, false);
		struct vmon_error err = {.msg = ""};
		long n = acpi_build(&cfg, BASE, buf, sizeof(buf), &err);
		if (n < 0)
			fail_msg("acpi_build(%d): %s", ncpus, err.msg);
		struct tables t = check_tables(buf, n);

		/* FADT: hardware-reduced, reset and sleep registers on the
		 * acpi_pm ports. */
		uint32_t flags = get32(t.fadt + 112);
		assert_true(flags & (1u << 20)); /* HW_REDUCED_ACPI */
		assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
		check_gas_io(t.fadt + 116, ACPI_PM_RESET_PORT);
		assert_int_equal(t.fadt[128], ACPI_PM_RESET_VALUE);
		check_gas_io(t.fadt + 244, ACPI_PM_SLEEP_CTL_PORT);
		check_gas_io(t.fadt + 256, ACPI_PM_SLEEP_STS_PORT);
		/* The PM timer: PM_TMR_BLK, PM_TMR_LEN 4, X_PM_TMR_BLK (a
		 * 32-bit SystemIO register), 24 bits (TMR_VAL_EXT clear). */
		assert_int_equal(get32(t.fadt + 76), ACPI_PM_TIMER_PORT);
		assert_int_equal(t.fadt[91], 4);
		const uint8_t *x_tmr = t.fadt + 208;
		assert_int_equal(x_tmr[0], 1);
		assert_int_equal(x_tmr[1], 32);
		assert_int_equal(x_tmr[3], 3); /* dword access */
		assert_int_equal(get64(x_tmr + 4), ACPI_PM_TIMER_PORT);
		assert_int_equal(flags & (1u << 8), 0);
		for (int g = 0; g < 8; g++) /* the other X_ blocks: none */
			if (g != 5)
				for (int i = 0; i < 12; i++)
					assert_int_equal(t.fadt[148 + 12 * g + i], 0);
		assert_int_equal(get16(t.fadt + 109) & 2, 0); /* no 8042 */

		/* MADT: a LAPIC per vCPU, the IOAPIC, IRQ0 -> GSI 0, LINT1 NMI. */
		uint32_t len = get32(t.madt + 4);
		assert_int_equal(len, 44 + 8 * ncpus + 12 + 10 + 6);
		assert_int_equal(get32(t.madt + 36), 0xfee00000);
		assert_int_equal(get32(t.madt + 40), 1);
		const uint8_t *e = t.madt + 44;
		int lapics = 0, ioapics = 0, isos = 0, nmis = 0;
		while (e < t.madt + len) {
			assert_true(e[1] >= 2 && e + e[1] <= t.madt + len);
			switch (e[0]) {
			case 0:
				assert_int_equal(e[1], 8);
				assert_int_equal(e[2], lapics); /* UID */
				assert_int_equal(e[3], lapics); /* APIC id */
				assert_int_equal(get32(e + 4), 1);
				lapics++;
				break;
			case 1:
				assert_int_equal(e[1], 12);
				assert_int_equal(e[2], ncpus & 0xff);
				assert_int_equal(get32(e + 4), 0xfec00000);
				assert_int_equal(get32(e + 8), 0);
				ioapics++;
				break;
			case 2:
				assert_int_equal(e[1], 10);
				assert_int_equal(e[3], 0);
				assert_int_equal(get32(e + 4), 0);
				isos++;
				break;
			case 4:
				assert_int_equal(e[1], 6);
				assert_int_equal(e[2], 0xff);
				assert_int_equal(e[5], 1);
				nmis++;
				break;
			default: fail_msg("unexpected MADT entry type %d", e[0]);
			}
			e += e[1];
		}
		assert_int_equal(lapics, ncpus);
		assert_int_equal(ioapics, 1);
		assert_int_equal(isos, 1);
		assert_int_equal(nmis, 1);

		/* DSDT: \_S5 only. */
		uint32_t dlen = get32(t.dsdt + 4);
		assert_true(contains(t.dsdt, dlen, "\\_S5_"));
		assert_false(contains(t.dsdt, dlen, "PCI0"));
		/* Everything fits below the MP table's high area. */
		assert_true(BASE + (uint64_t)n <= ACPI_TABLES_END);
	}
}

/* The DSDT's AML, decoded just far enough to check its structure. */
static size_t pkglen(const uint8_t *p, size_t *nbytes)
{
	unsigned extra = p[0] >> 6;
	size_t v = extra ? (p[0] & 0xf) : (p[0] & 0x3f);
	for (unsigned i = 0; i < extra; i++)
		v |= (size_t)p[1 + i] << (4 + 8 * i);
	*nbytes = 1 + extra;
	return v;
}

static void test_dsdt_pci(void **state)
{
	static uint8_t buf[CAP];
	struct acpi_config cfg = config(2, true);
	struct vmon_error err = {.msg = ""};
	long n = acpi_build(&cfg, BASE, buf, sizeof(buf), &err);
	assert_true(n > 0);
	struct tables t = check_tables(buf, n);
	uint32_t dlen = get32(t.dsdt + 4);
	const uint8_t *aml = t.dsdt + ACPI_HDR_LEN, *end = t.dsdt + dlen;

	/* Name(\_S5_, Package(4) {5, 5, 0, 0}) */
	static const uint8_t s5[] = {0x08, '\\', '_',  'S',  '5',  '_',	 0x12, 0x08,
				     0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
	assert_memory_equal(aml, s5, sizeof(s5));
	aml += sizeof(s5);

	/* Scope(\_SB_) { Device(PCI0) {...} } spans exactly the rest. */
	assert_int_equal(aml[0], 0x10);
	size_t nb, len = pkglen(aml + 1, &nb);
	assert_int_equal(aml + 1 + len, end);
	assert_memory_equal(aml + 1 + nb, "\\_SB_", 5);
	const uint8_t *dev = aml + 1 + nb + 5;
	assert_int_equal(dev[0], 0x5b);
	assert_int_equal(dev[1], 0x82);
	len = pkglen(dev + 2, &nb);
	assert_int_equal(dev + 2 + len, end);
	assert_memory_equal(dev + 2 + nb, "PCI0", 4);
	const uint8_t *body = dev + 2 + nb + 4;
	static const uint8_t hid[] = {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03};
	assert_memory_equal(body, hid, sizeof(hid));

	/* _CRS: a buffer of resource descriptors ending in an end tag. */
	const uint8_t *crs = memmem(body, (size_t)(end - body), "_CRS", 4);
	assert_non_null(crs);
	assert_int_equal(crs[4], 0x11);
	len = pkglen(crs + 5, &nb);
	const uint8_t *res = crs + 5 + nb;
	assert_int_equal(res[0], 0x0a); /* BytePrefix size */
	size_t rlen = res[1];
	res += 2;
	assert_int_equal(res[rlen - 2], 0x79);
	assert_int_equal(res + rlen, crs + 5 + len);
	assert_int_equal(res[0], 0x88); /* bus numbers first */
	assert_true(memmem(res, rlen, "\x47\x01\xf8\x0c\xf8\x0c", 6) != NULL);

	/* _PRT: 128 packages; slot 3 INTB -> acpi_pci_intx_gsi(cfg, 3, 1). */
	const uint8_t *prt = memmem(body, (size_t)(end - body), "_PRT", 4);
	assert_non_null(prt);
	assert_int_equal(prt[4], 0x12);
	len = pkglen(prt + 5, &nb);
	assert_int_equal(prt + 5 + len, end);
	assert_int_equal(prt[5 + nb], 128);
	uint8_t want[] = {0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff,
			  0x03, 0x00, 0x01, 0x00, 0x0a, (uint8_t)acpi_pci_intx_gsi(&cfg, 3, 1)};
	assert_non_null(memmem(prt, (size_t)(end - prt), want, sizeof(want)));
	/* The swizzle devices/pci.c wires: slot s INTA -> 16 + s % 4. */
	assert_int_equal(acpi_pci_intx_gsi(&cfg, 3, 1), 16);
	assert_int_equal(acpi_pci_intx_gsi(&cfg, 5, 0), 17);
	assert_int_equal(acpi_pci_intx_gsi(&cfg, 31, 3), 18);
	/* The memory window is the PCI host's. */
	assert_non_null(memmem(res, rlen, "\x00\x00\x00\xe0\xff\xff\xbf\xfe", 8));
}

/* COM1 and the RTC as ACPI devices: Linux has no 8259 under
 * hardware-reduced ACPI, so ISA IRQs reach its drivers only this way. */
static void test_dsdt_isa_devices(void **state)
{
	static uint8_t buf[CAP];
	struct acpi_config cfg = config(1, true);
	cfg.com1_port = 0x3f8;
	cfg.com1_irq = 4;
	cfg.rtc_port = 0x70;
	struct vmon_error err = {.msg = ""};
	long n = acpi_build(&cfg, BASE, buf, sizeof(buf), &err);
	assert_true(n > 0);
	struct tables t = check_tables(buf, n);
	uint32_t dlen = get32(t.dsdt + 4);
	const uint8_t *aml = t.dsdt + ACPI_HDR_LEN, *end = t.dsdt + dlen;
	aml += 15; /* \_S5_ */
	/* Scope(\_SB_) { Device(COM1) {...} Device(RTC_) {...} }, then PCI0's. */
	assert_int_equal(aml[0], 0x10);
	size_t nb, len = pkglen(aml + 1, &nb);
	const uint8_t *scope_end = aml + 1 + len;
	assert_true(scope_end < end);
	assert_int_equal(scope_end[0], 0x10);
	assert_memory_equal(aml + 1 + nb, "\\_SB_", 5);
	const uint8_t *dev = aml + 1 + nb + 5;
	assert_int_equal(dev[0], 0x5b);
	assert_int_equal(dev[1], 0x82);
	len = pkglen(dev + 2, &nb);
	assert_memory_equal(dev + 2 + nb, "COM1", 4);
	static const uint8_t com1_hid[] = {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01};
	assert_memory_equal(dev + 2 + nb + 4, com1_hid, sizeof(com1_hid));
	/* IO(Decode16, 0x3f8, 0x3f8, 1, 8), IRQNoFlags() {4}, end tag */
	static const uint8_t com1_res[] = {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01,
					   0x08, 0x22, 0x10, 0x00, 0x79, 0x00};
	assert_non_null(memmem(dev, 2 + len, com1_res, sizeof(com1_res)));
	const uint8_t *rtc = dev + 2 + len;
	assert_int_equal(rtc[0], 0x5b);
	assert_int_equal(rtc[1], 0x82);
	len = pkglen(rtc + 2, &nb);
	assert_int_equal(rtc + 2 + len, scope_end);
	assert_memory_equal(rtc + 2 + nb, "RTC_", 4);
	static const uint8_t rtc_hid[] = {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0b, 0x00};
	assert_memory_equal(rtc + 2 + nb + 4, rtc_hid, sizeof(rtc_hid));
	static const uint8_t rtc_res[] = {0x47, 0x01, 0x70, 0x00, 0x70,
					  0x00, 0x01, 0x02, 0x79, 0x00};
	assert_non_null(memmem(rtc, 2 + len, rtc_res, sizeof(rtc_res)));
}

static void test_dsdt_virtio_mmio(void **state)
{
	static uint8_t buf[CAP];
	struct acpi_config cfg = config(2, true);
	cfg.nvirtio_mmio = 2;
	cfg.virtio_mmio_base[0] = 0xd0000000;
	cfg.virtio_mmio_gsi[0] = 20;
	cfg.virtio_mmio_base[1] = 0xd0001000;
	cfg.virtio_mmio_gsi[1] = 21;
	struct vmon_error err = {.msg = ""};
	long n = acpi_build(&cfg, BASE, buf, sizeof(buf), &err);
	assert_true(n > 0);
	struct tables t = check_tables(buf, n);
	uint32_t dlen = get32(t.dsdt + 4);
	const uint8_t *aml = t.dsdt + ACPI_HDR_LEN, *end = t.dsdt + dlen;
	aml += 15; /* \_S5_ */
	/* Scope(\_SB_) { Device(VM00) {...} Device(VM01) {...} }, then PCI0's. */
	assert_int_equal(aml[0], 0x10);
	size_t nb, len = pkglen(aml + 1, &nb);
	const uint8_t *scope_end = aml + 1 + len;
	assert_true(scope_end < end);
	assert_memory_equal(aml + 1 + nb, "\\_SB_", 5);
	const uint8_t *dev = aml + 1 + nb + 5;
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(dev[0], 0x5b);
		assert_int_equal(dev[1], 0x82);
		len = pkglen(dev + 2, &nb);
		char name[5];
		snprintf(name, sizeof(name), "VM%02u", i);
		assert_memory_equal(dev + 2 + nb, name, 4);
		/* Name(_HID, "LNRO0005"), Name(_UID, i) */
		static const uint8_t hid[] = {0x08, '_', 'H', 'I', 'D', 0x0d, 'L', 'N',
					      'R',  'O', '0', '0', '0', '5',  0x00};
		assert_memory_equal(dev + 2 + nb + 4, hid, sizeof(hid));
		const uint8_t uid[] = {0x08, '_', 'U', 'I', 'D', (uint8_t)(i ? 0x01 : 0x00)};
		assert_memory_equal(dev + 2 + nb + 4 + sizeof(hid), uid, sizeof(uid));
		/* Memory32Fixed(ReadWrite, base, 0x1000), Interrupt(ResourceConsumer,
		 * Level, ActiveHigh, Exclusive) {gsi}, end tag */
		uint32_t base = cfg.virtio_mmio_base[i];
		const uint8_t res[] = {0x86,
				       0x09,
				       0x00,
				       0x01,
				       0x00,
				       (uint8_t)(base >> 8),
				       (uint8_t)(base >> 16),
				       (uint8_t)(base >> 24),
				       0x00,
				       0x10,
				       0x00,
				       0x00,
				       0x89,
				       0x06,
				       0x00,
				       0x01,
				       0x01,
				       cfg.virtio_mmio_gsi[i],
				       0x00,
				       0x00,
				       0x00,
				       0x79,
				       0x00};
		assert_non_null(memmem(dev, 2 + len, res, sizeof(res)));
		dev += 2 + len;
	}
	assert_int_equal(dev, scope_end);
}

static void test_acpi_errors(void **state)
{
	static uint8_t buf[CAP];
	struct vmon_error err = {.msg = ""};
	struct acpi_config cfg = config(0, false);
	assert_int_equal(acpi_build(&cfg, BASE, buf, sizeof(buf), &err), -1);
	assert_non_null(strstr(err.msg, "0 CPUs"));
	cfg = config(256, false);
	assert_int_equal(acpi_build(&cfg, BASE, buf, sizeof(buf), &err), -1);
	cfg = config(4, true);
	assert_int_equal(acpi_build(&cfg, BASE, buf, 200, &err), -1);
	assert_non_null(strstr(err.msg, "do not fit"));
	cfg.pci_intx_lines = 0;
	assert_int_equal(acpi_build(&cfg, BASE, buf, sizeof(buf), &err), -1);
	assert_non_null(strstr(err.msg, "PCI host"));
}

static void test_acpi_write(void **state)
{
	struct guest_mem gm;
	struct vmon_error err = {.msg = ""};
	assert_int_equal(gm_create(&gm, 16 * MiB, &err), 0);
	struct acpi_config cfg = config(2, false);
	uint64_t rsdp = 1;
	assert_int_equal(acpi_write(&gm, &cfg, &rsdp, &err), 0);
	assert_int_equal(rsdp, ACPI_RSDP_GPA);
	const uint8_t *p = gm_ptr(&gm, ACPI_RSDP_GPA, CAP);
	check_tables(p, CAP);
	gm_destroy(&gm);

	/* A guest whose RAM ends below the BIOS area gets no tables. */
	assert_int_equal(gm_create(&gm, 512 * 1024, &err), 0);
	rsdp = 1;
	assert_int_equal(acpi_write(&gm, &cfg, &rsdp, &err), 0);
	assert_int_equal(rsdp, 0);
	assert_int_equal(mptable_write(&gm, 2, &err), 0);
	const uint8_t *low = gm_ptr(&gm, 0, 512 * 1024);
	for (size_t i = 0; i < 512 * 1024; i++)
		assert_int_equal(low[i], 0);
	gm_destroy(&gm);
}

/* ---- MP table -------------------------------------------------------------------- */

static void check_mptable(struct guest_mem *gm, int ncpus, uint64_t want_config)
{
	const uint8_t *fp = gm_ptr(gm, MPTABLE_GPA, MPTABLE_FLOAT_LEN);
	assert_memory_equal(fp, "_MP_", 4);
	assert_int_equal(sum(fp, 16), 0);
	assert_int_equal(fp[8], 1);
	assert_int_equal(fp[9], 4);
	assert_int_equal(fp[11], 0); /* a configuration table follows */
	uint32_t config = get32(fp + 4);
	assert_int_equal(config, want_config);

	size_t size = mptable_config_size(ncpus);
	const uint8_t *c = gm_ptr(gm, config, size);
	assert_non_null(c);
	assert_memory_equal(c, "PCMP", 4);
	assert_int_equal(get16(c + 4), size);
	assert_int_equal(sum(c, size), 0);
	assert_int_equal(get32(c + 36), 0xfee00000);
	int count = get16(c + 34);
	assert_int_equal(count, ncpus + 1 + 1 + 16 + 2);

	const uint8_t *e = c + MPTABLE_HDR_LEN;
	int cpus = 0, irqs = 0, lints = 0, buses = 0, ioapics = 0;
	for (int i = 0; i < count; i++) {
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], cpus);
			assert_int_equal(e[2], 0x14);
			assert_int_equal(e[3], cpus == 0 ? 3 : 1);
			cpus++;
			e += 20;
			break;
		case 1:
			assert_memory_equal(e + 2, "ISA   ", 6);
			buses++;
			e += 8;
			break;
		case 2:
			assert_int_equal(e[1], ncpus);
			assert_int_equal(e[3], 1);
			assert_int_equal(get32(e + 4), 0xfec00000);
			ioapics++;
			e += 8;
			break;
		case 3:
			assert_int_equal(e[1], 0);     /* INT */
			assert_int_equal(e[5], irqs);  /* ISA IRQ n */
			assert_int_equal(e[6], ncpus); /* the IOAPIC */
			assert_int_equal(e[7], irqs);  /* -> pin n */
			irqs++;
			e += 8;
			break;
		case 4:
			assert_int_equal(e[1], lints == 0 ? 3 : 1); /* ExtINT, NMI */
			assert_int_equal(e[6], 0xff);
			assert_int_equal(e[7], lints);
			lints++;
			e += 8;
			break;
		default: fail_msg("MP entry type %d", e[0]);
		}
	}
	assert_int_equal(e, c + size);
	assert_int_equal(cpus, ncpus);
	assert_int_equal(buses, 1);
	assert_int_equal(ioapics, 1);
	assert_int_equal(irqs, 16);
	assert_int_equal(lints, 2);
}

static void test_mptable(void **state)
{
	struct guest_mem gm;
	struct vmon_error err = {.msg = ""};
	assert_int_equal(gm_create(&gm, 16 * MiB, &err), 0);
	int counts[] = {1, 2, 8, 40};
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		assert_int_equal(mptable_write(&gm, counts[i], &err), 0);
		check_mptable(&gm, counts[i], MPTABLE_GPA + 16);
		assert_true(MPTABLE_GPA + 16 + mptable_config_size(counts[i]) <= 0xa0000);
	}
	/* 41 and more do not fit in the KiB below 640 KiB. */
	assert_int_equal(mptable_write(&gm, 41, &err), 0);
	check_mptable(&gm, 41, MPTABLE_HIGH_GPA);
	assert_int_equal(mptable_write(&gm, 255, &err), 0);
	check_mptable(&gm, 255, MPTABLE_HIGH_GPA);
	assert_int_equal(mptable_write(&gm, 0, &err), -1);
	assert_non_null(strstr(err.msg, "0 CPUs"));
	/* The high MP area does not overlap the ACPI tables. */
	assert_true(MPTABLE_HIGH_GPA >= ACPI_TABLES_END);
	gm_destroy(&gm);
}

/* ---- acpi_pm device ---------------------------------------------------------------- */

/* An acpi_pm device on a fresh, sealed port bus. */
static struct acpi_pm *pm_make(struct bus *pio, struct vm_control *ctl, struct vmon_error *err)
{
	bus_init(pio, "pio");
	memset(ctl, 0, sizeof(*ctl));
	struct acpi_pm *pm = NULL;
	assert_int_equal(acpi_pm_create(&pm, pio, ctl, err), 0);
	bus_seal(pio);
	return pm;
}

static void pm_run(uint16_t port, unsigned size, uint64_t value, enum vm_stop_reason want)
{
	struct bus pio;
	struct vm_control ctl;
	struct vmon_error err = {.msg = ""};
	struct acpi_pm *pm = pm_make(&pio, &ctl, &err);
	uint64_t v = 0x1234;
	assert_true(bus_access(&pio, NULL, port, 1, false, &v));
	assert_int_equal(v, 0);
	v = value;
	assert_true(bus_access(&pio, NULL, port, size, true, &v));
	assert_int_equal(ctl.reason, want);
	assert_int_equal(ctl.status, 0);
	acpi_pm_destroy(pm);
	bus_destroy(&pio);
}

/* The reset-vector stub: 16-bit code at F000:FFF0 that writes the ACPI
 * reset value to the reset port and halts; refused without RAM there. */
static void test_reset_vector(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct vmon_error err = {0};
	assert_int_equal(gm_create(&gm, 16 * MiB, &err), 0);
	assert_int_equal(reset_vector_write(&gm, 0x602, 0x0f, &err), 0);
	const uint8_t *p = gm_ptr(&gm, RESET_VECTOR_GPA, 16);
	assert_non_null(p);
	const uint8_t want[] = {0xba, 0x02, 0x06, 0xb0, 0x0f, 0xee, 0xf4, 0xeb, 0xfd};
	assert_memory_equal(p, want, sizeof(want));
	for (int i = sizeof(want); i < 16; i++)
		assert_int_equal(p[i], 0xf4);
	/* jmp rel8 -3 from the end of the jmp (offset 9) lands on the hlt */
	assert_int_equal(9 + (int8_t)p[8], 6);
	gm_destroy(&gm);

	assert_int_equal(gm_create(&gm, 512 * 1024, &err), 0);
	assert_int_equal(reset_vector_write(&gm, 0x602, 0x0f, &err), -1);
	assert_non_null(strstr(err.msg, "reset vector"));
	gm_destroy(&gm);
}

static void test_acpi_pm(void **state)
{
	uint8_t s5 = ACPI_PM_SLP_EN | ACPI_PM_SLP_TYP_S5 << ACPI_PM_SLP_TYP_SHIFT;
	assert_int_equal(s5, 0x34);
	pm_run(ACPI_PM_SLEEP_CTL_PORT, 1, s5, VM_STOP_POWEROFF);
	pm_run(ACPI_PM_SLEEP_CTL_PORT, 1, s5 | 0x80, VM_STOP_POWEROFF);
	pm_run(ACPI_PM_SLEEP_CTL_PORT, 1, ACPI_PM_SLP_TYP_S5 << 2, VM_STOP_NONE); /* no SLP_EN */
	pm_run(ACPI_PM_SLEEP_CTL_PORT, 1, ACPI_PM_SLP_EN | 3 << 2,
	       VM_STOP_NONE); /* S3: not offered */
	pm_run(ACPI_PM_SLEEP_STS_PORT, 1, 0xff, VM_STOP_NONE);
	pm_run(ACPI_PM_RESET_PORT, 1, ACPI_PM_RESET_VALUE, VM_STOP_RESET);
	pm_run(ACPI_PM_RESET_PORT, 1, 0x06, VM_STOP_NONE);
}

/* The PM timer: 3.579545 MHz from the host clock, 24 bits, read-only,
 * any width; a snapshot's count continues after a restore. */
static uint64_t pm_in(struct bus *pio, uint16_t port, unsigned size)
{
	uint64_t v = 0;
	assert_true(bus_access(pio, NULL, port, size, false, &v));
	return v;
}

static void test_acpi_pm_timer(void **state)
{
	(void)state;
	struct bus pio;
	struct vm_control ctl;
	struct vmon_error err = {.msg = ""};
	struct acpi_pm *pm = pm_make(&pio, &ctl, &err);

	/* The count at a given host time: 1 s is 3579545 ticks, modulo 2^24. */
	assert_int_equal(acpi_pm_timer_at(pm, 0), 0);
	assert_int_equal(acpi_pm_timer_at(pm, 1000000000ULL), 3579545);
	assert_int_equal(acpi_pm_timer_at(pm, 5000000000ULL), (5 * 3579545) & 0xffffff);
	assert_int_equal(acpi_pm_timer_at(pm, 279), 0); /* one tick is 279.4 ns */
	assert_int_equal(acpi_pm_timer_at(pm, 280), 1);

	/* Reads: 24 bits, moving forward (modulo the wrap) with the host clock;
	 * a byte or word at an offset is that part of the count. */
	uint64_t a = pm_in(&pio, ACPI_PM_TIMER_PORT, 4);
	assert_true(a <= ACPI_PM_TIMER_MASK);
	struct timespec ts = {0, 2000000}; /* 2 ms: ~7159 ticks */
	nanosleep(&ts, NULL);
	uint64_t b = pm_in(&pio, ACPI_PM_TIMER_PORT, 4);
	assert_true(((b - a) & ACPI_PM_TIMER_MASK) >= 7000);
	assert_true(pm_in(&pio, ACPI_PM_TIMER_PORT + 3, 1) == 0);
	assert_true(pm_in(&pio, ACPI_PM_TIMER_PORT, 2) <= 0xffff);
	uint64_t v = 0x55;
	assert_true(bus_access(&pio, NULL, ACPI_PM_TIMER_PORT, 4, true, &v)); /* ignored */
	assert_int_equal(ctl.reason, VM_STOP_NONE);

	/* Save, then restore into a fresh device: the count continues from
	 * the saved one. */
	struct state_writer w = {0};
	uint64_t saved_at = pm_in(&pio, ACPI_PM_TIMER_PORT, 4); /* just before */
	assert_int_equal(acpi_pm_device.save(pm, &w, &err), 0);
	assert_false(w.failed);
	size_t len = w.len;
	uint8_t *blob = w.buf;
	assert_int_equal(len, 8);
	uint64_t t;
	memcpy(&t, blob, 8);
	t += 1000000000ULL * 3600; /* as if saved an hour later */
	memcpy(blob, &t, 8);
	struct bus pio2;
	bus_init(&pio2, "pio");
	struct acpi_pm *pm2 = NULL;
	assert_int_equal(acpi_pm_create(&pm2, &pio2, &ctl, &err), 0);
	bus_seal(&pio2);
	struct state_reader r = state_reader_init(blob, len);
	assert_int_equal(acpi_pm_device.restore(pm2, &r, 2, &err), 0);
	uint64_t c = pm_in(&pio2, ACPI_PM_TIMER_PORT, 4);
	uint32_t want = (uint32_t)((3600ULL * 3579545 + saved_at) & 0xffffff);
	assert_true(((c - want) & ACPI_PM_TIMER_MASK) < 3579545 / 10); /* within 100 ms */
	/* Another version, or a short blob: refused. */
	r = state_reader_init(blob, len);
	assert_int_equal(acpi_pm_device.restore(pm2, &r, 1, &err), -1);
	r = state_reader_init(blob, 4);
	assert_int_equal(acpi_pm_device.restore(pm2, &r, 2, &err), -1);
	state_writer_free(&w);
	acpi_pm_destroy(pm2);
	bus_destroy(&pio2);
	acpi_pm_destroy(pm);
	bus_destroy(&pio);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acpi_tables),	 cmocka_unit_test(test_dsdt_pci),
		cmocka_unit_test(test_dsdt_isa_devices), cmocka_unit_test(test_dsdt_virtio_mmio),
		cmocka_unit_test(test_acpi_errors),	 cmocka_unit_test(test_acpi_write),
		cmocka_unit_test(test_mptable),		 cmocka_unit_test(test_acpi_pm),
		cmocka_unit_test(test_reset_vector),	 cmocka_unit_test(test_acpi_pm_timer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
