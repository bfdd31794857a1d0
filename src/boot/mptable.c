/* SPDX-License-Identifier: MIT */
/* MP tables (see mptable.h); layouts per the MultiProcessor Specification
 * 1.4, chapter 4. */
#include "boot/mptable.h"

#include <string.h>

#include "boot/acpi.h" /* acpi_checksum: the same two's-complement sum */

enum {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_IOINT = 3,
	MP_LINT = 4,
};
enum { INT_INT = 0, INT_NMI = 1, INT_EXTINT = 3 };

#define PROCESSOR_LEN 20
#define ENTRY_LEN     8

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

size_t mptable_config_size(int ncpus)
{
	return MPTABLE_HDR_LEN + (size_t)ncpus * PROCESSOR_LEN +
	       (1 /* bus */ + 1 /* IOAPIC */ + MPTABLE_IRQS + 2 /* LINT0, LINT1 */) * ENTRY_LEN;
}

size_t mptable_build_config(uint8_t *buf, int ncpus)
{
	if (ncpus < 1 || ncpus > 255)
		return 0;
	size_t size = mptable_config_size(ncpus);
	memset(buf, 0, size);
	uint8_t *p = buf;
	memcpy(p, "PCMP", 4);
	put16(p + 4, (uint16_t)size);
	p[6] = 4; /* spec revision 1.4 */
	memcpy(p + 8, "VMON    ", 8);
	memcpy(p + 16, "VMON VM     ", 12);
	put16(p + 34, (uint16_t)(ncpus + 1 + 1 + MPTABLE_IRQS + 2));
	put32(p + 36, MPTABLE_LAPIC_ADDR);
	p += MPTABLE_HDR_LEN;

	for (int i = 0; i < ncpus; i++, p += PROCESSOR_LEN) {
		p[0] = MP_PROCESSOR;
		p[1] = (uint8_t)i; /* APIC id */
		p[2] = MPTABLE_APIC_VERSION;
		p[3] = (uint8_t)(1 | (i == 0 ? 2 : 0)); /* enabled, BSP */
		put32(p + 4, 0x600);			/* family 6 */
		put32(p + 8, 1u << 0 | 1u << 9);	/* FPU, APIC */
	}
	p[0] = MP_BUS;
	memcpy(p + 2, "ISA   ", 6);
	p += ENTRY_LEN;

	uint8_t ioapic_id = (uint8_t)ncpus;
	p[0] = MP_IOAPIC;
	p[1] = ioapic_id;
	p[2] = 0x11;
	p[3] = 1; /* enabled */
	put32(p + 4, MPTABLE_IOAPIC_ADDR);
	p += ENTRY_LEN;

	for (int irq = 0; irq < MPTABLE_IRQS; irq++, p += ENTRY_LEN) {
		p[0] = MP_IOINT;
		p[1] = INT_INT;
		/* flags 0: polarity and trigger conform to the ISA bus */
		p[4] = 0; /* source bus */
		p[5] = (uint8_t)irq;
		p[6] = ioapic_id;
		p[7] = (uint8_t)irq; /* IOAPIC pin */
	}
	for (int lint = 0; lint < 2; lint++, p += ENTRY_LEN) {
		p[0] = MP_LINT;
		p[1] = lint == 0 ? INT_EXTINT : INT_NMI;
		p[4] = 0;
		p[5] = 0;
		p[6] = 0xff; /* every local APIC */
		p[7] = (uint8_t)lint;
	}
	buf[7] = acpi_checksum(buf, size);
	return size;
}

void mptable_build_float(uint8_t buf[MPTABLE_FLOAT_LEN], uint32_t config_gpa)
{
	memset(buf, 0, MPTABLE_FLOAT_LEN);
	memcpy(buf, "_MP_", 4);
	put32(buf + 4, config_gpa);
	buf[8] = 1; /* length in 16-byte units */
	buf[9] = 4; /* spec revision 1.4 */
	/* feature byte 1 = 0: a configuration table is present; feature
	 * byte 2 = 0: no IMCR, virtual-wire mode */
	buf[10] = acpi_checksum(buf, MPTABLE_FLOAT_LEN);
}

int mptable_write(struct guest_mem *gm, int ncpus, struct vmon_error *err)
{
	if (ncpus < 1 || ncpus > 255)
		return err_setf(err, "MP table: %d CPUs (1 to 255 supported)", ncpus);
	if (gm_low_ram_end(gm) < 0x100000)
		return 0;
	size_t size = mptable_config_size(ncpus);
	uint64_t config = MPTABLE_GPA + MPTABLE_FLOAT_LEN;
	if (config + size > MPTABLE_AREA_END)
		config = MPTABLE_HIGH_GPA;
	uint8_t *cp = gm_ptr(gm, config, size);
	uint8_t *fp = gm_ptr(gm, MPTABLE_GPA, MPTABLE_FLOAT_LEN);
	if (!cp || !fp || config + size > MPTABLE_HIGH_END)
		return err_setf(err, "MP table for %d CPUs does not fit", ncpus);
	mptable_build_config(cp, ncpus);
	mptable_build_float(fp, (uint32_t)config);
	return 0;
}
