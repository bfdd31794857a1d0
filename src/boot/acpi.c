/* SPDX-License-Identifier: MIT */
/* ACPI tables (see acpi.h): byte layouts per the ACPI 6.0 specification,
 * built into a buffer with bounds checks, then copied to guest RAM. */
#include "boot/acpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OEM_ID	     "VMON  "	/* 6 bytes */
#define OEM_TABLE_ID "VMONVM  " /* 8 bytes */
#define CREATOR_ID   "VMON"

/* ---- a bounded byte buffer ------------------------------------------------- */

struct ab {
	uint8_t *p;
	size_t len, cap;
	bool full; /* something did not fit; the contents are incomplete */
};

static void emit(struct ab *b, const void *src, size_t n)
{
	if (b->full || n > b->cap - b->len) {
		b->full = true;
		return;
	}
	memmove(b->p + b->len, src, n); /* src may lie in the same buffer (PCI0 _CRS) */
	b->len += n;
}

static void e8(struct ab *b, uint8_t v)
{
	emit(b, &v, 1);
}

static void e16(struct ab *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	emit(b, x, 2);
}

static void e32(struct ab *b, uint32_t v)
{
	e16(b, (uint16_t)v);
	e16(b, (uint16_t)(v >> 16));
}

static void e64(struct ab *b, uint64_t v)
{
	e32(b, (uint32_t)v);
	e32(b, (uint32_t)(v >> 32));
}

static void pad_to(struct ab *b, size_t align)
{
	while (!b->full && b->len % align)
		e8(b, 0);
}

/* Writes v at offset off of what is already in b (patching a pointer or a
 * length). */
static void put_at(struct ab *b, size_t off, uint64_t v, unsigned n)
{
	if (b->full || off + n > b->len)
		return;
	for (unsigned i = 0; i < n; i++)
		b->p[off + i] = (uint8_t)(v >> (8 * i));
}

void acpi_describe_layout(struct acpi_config *cfg, const struct machine_layout *l)
{
	cfg->nvirtio_mmio = 0;
	for (unsigned i = 0; i < l->nvirtio_mmio && i < ACPI_MAX_VIRTIO_MMIO; i++) {
		cfg->virtio_mmio_base[i] = (uint32_t)l->virtio_mmio[i].base;
		cfg->virtio_mmio_gsi[i] = (uint8_t)l->virtio_mmio[i].gsi;
		cfg->nvirtio_mmio = i + 1;
	}
}

uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *q = p;
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + q[i]);
	return (uint8_t)-sum;
}

/* Generic Address Structure: an I/O port of width bytes. */
static void gas_io(struct ab *b, uint16_t port, unsigned width)
{
	e8(b, 1); /* SystemIO */
	e8(b, (uint8_t)(width * 8));
	e8(b, 0); /* bit offset */
	/* access size: 1 = byte, 2 = word, 3 = dword, 4 = qword */
	e8(b, width == 4 ? 3 : width == 8 ? 4 : (uint8_t)width);
	e64(b, port);
}

static void gas_none(struct ab *b)
{
	for (int i = 0; i < 12; i++)
		e8(b, 0);
}

/* Table header with length and checksum left 0; returns its offset. */
static size_t header(struct ab *b, const char sig[4], uint8_t revision)
{
	pad_to(b, 16);
	size_t at = b->len;
	emit(b, sig, 4);
	e32(b, 0); /* length, patched by finish() */
	e8(b, revision);
	e8(b, 0); /* checksum */
	emit(b, OEM_ID, 6);
	emit(b, OEM_TABLE_ID, 8);
	e32(b, 1); /* OEM revision */
	emit(b, CREATOR_ID, 4);
	e32(b, 1); /* creator revision */
	return at;
}

static void finish(struct ab *b, size_t at)
{
	if (b->full)
		return;
	size_t len = b->len - at;
	put_at(b, at + 4, len, 4);
	b->p[at + 9] = acpi_checksum(b->p + at, len);
}

/* ---- AML (the DSDT's definition block) --------------------------------------- */

/* PkgLength: the length of what follows the opcode, itself included. */
static void aml_pkglen(struct ab *b, size_t content)
{
	if (content + 1 <= 0x3f) {
		e8(b, (uint8_t)(content + 1));
		return;
	}
	size_t v;
	unsigned extra;
	if (content + 2 <= 0xfff) {
		extra = 1;
		v = content + 2;
	} else if (content + 3 <= 0xfffff) {
		extra = 2;
		v = content + 3;
	} else {
		extra = 3;
		v = content + 4;
	}
	e8(b, (uint8_t)(extra << 6 | (v & 0xf)));
	for (unsigned i = 0; i < extra; i++)
		e8(b, (uint8_t)(v >> (4 + 8 * i)));
}

/* op (one or two bytes), PkgLength, then inner's bytes. */
static void aml_wrap(struct ab *b, const uint8_t *op, size_t oplen, const struct ab *inner)
{
	if (inner->full) {
		b->full = true;
		return;
	}
	emit(b, op, oplen);
	aml_pkglen(b, inner->len);
	emit(b, inner->p, inner->len);
}

static void aml_integer(struct ab *b, uint32_t v)
{
	if (v == 0) {
		e8(b, 0x00); /* ZeroOp */
	} else if (v == 1) {
		e8(b, 0x01); /* OneOp */
	} else if (v <= 0xff) {
		e8(b, 0x0a);
		e8(b, (uint8_t)v);
	} else if (v <= 0xffff) {
		e8(b, 0x0b);
		e16(b, (uint16_t)v);
	} else {
		e8(b, 0x0c);
		e32(b, v);
	}
}

/* Name(seg, ...): the caller emits the value. */
static void aml_name(struct ab *b, const char seg[4])
{
	e8(b, 0x08); /* NameOp */
	emit(b, seg, 4);
}

/* Scratch buffers for nested AML objects. */
struct scratch {
	struct ab ab;
	uint8_t mem[4096];
};

static void scratch_init(struct scratch *s)
{
	s->ab = (struct ab){.p = s->mem, .cap = sizeof(s->mem)};
}

/* EISA id "PNP0A03" compressed: three 5-bit letters, then 4 hex digits,
 * stored big-endian. */
#define EISA_PNP0A03 0x030ad041u
#define EISA_PNP0501 0x0105d041u /* 16550A-compatible serial port */
#define EISA_PNP0B00 0x000bd041u /* AT real-time clock */
#define EISA_PNP0303 0x0303d041u /* IBM enhanced (101/102-key, PS/2) keyboard controller */

static void resource_word(struct ab *b, uint8_t type, uint8_t type_flags, uint16_t min,
			  uint16_t max)
{
	e8(b, 0x88); /* Word Address Space Descriptor */
	e16(b, 13);
	e8(b, type);
	e8(b, 0x0c); /* producer, positive decode, min and max fixed */
	e8(b, type_flags);
	e16(b, 0); /* granularity */
	e16(b, min);
	e16(b, max);
	e16(b, 0); /* translation */
	e16(b, (uint16_t)(max - min + 1));
}

static void pci_crs(struct ab *b, const struct acpi_config *cfg)
{
	resource_word(b, 2, 0, 0, 0xff); /* bus numbers 0-255 */
	/* I/O port descriptor: the configuration ports. */
	e8(b, 0x47);
	e8(b, 1); /* 16-bit decode */
	e16(b, 0xcf8);
	e16(b, 0xcf8);
	e8(b, 1);
	e8(b, 8);
	resource_word(b, 1, 3, 0x0000, 0x0cf7); /* I/O, entire range */
	resource_word(b, 1, 3, 0x0d00, 0xffff);
	/* DWord memory: the 32-bit window below the IOAPIC. */
	e8(b, 0x87);
	e16(b, 23);
	e8(b, 0);    /* memory */
	e8(b, 0x0c); /* producer, positive decode, min and max fixed */
	e8(b, 0x01); /* read/write, non-cacheable */
	e32(b, 0);
	e32(b, cfg->pci_mmio_start);
	e32(b, cfg->pci_mmio_end - 1);
	e32(b, 0);
	e32(b, cfg->pci_mmio_end - cfg->pci_mmio_start);
	e8(b, 0x79); /* end tag */
	e8(b, 0);
}

static void pci_prt(struct ab *b, const struct acpi_config *cfg)
{
	struct scratch list, entry;
	scratch_init(&list);
	e8(&list.ab, 32 * 4); /* NumElements */
	for (unsigned slot = 0; slot < 32; slot++)
		for (unsigned pin = 0; pin < 4; pin++) {
			scratch_init(&entry);
			e8(&entry.ab, 4);
			aml_integer(&entry.ab, slot << 16 | 0xffff); /* any function */
			aml_integer(&entry.ab, pin);
			aml_integer(&entry.ab, 0); /* source: a GSI, not a link device */
			aml_integer(&entry.ab, acpi_pci_intx_gsi(cfg, slot, pin));
			static const uint8_t package_op = 0x12;
			aml_wrap(&list.ab, &package_op, 1, &entry.ab);
		}
	static const uint8_t package_op = 0x12;
	aml_name(b, "_PRT");
	aml_wrap(b, &package_op, 1, &list.ab);
}

/* Device(name) { _HID, _UID, _CRS: one or two I/O ranges (len2 0: one)
 * and, if irq >= 0, an edge-triggered active-high ISA IRQ } appended to
 * scope. */
static void isa_device(struct ab *scope, const char name[4], uint32_t hid, uint16_t port,
		       uint8_t len, uint16_t port2, uint8_t len2, int irq)
{
	static const uint8_t buffer_op = 0x11, device_op[2] = {0x5b, 0x82};
	struct scratch *dev = malloc(sizeof(*dev)), *crs = malloc(sizeof(*crs));
	if (!dev || !crs) {
		scope->full = true;
		goto out;
	}
	scratch_init(dev);
	scratch_init(crs);
	emit(&dev->ab, name, 4);
	aml_name(&dev->ab, "_HID");
	aml_integer(&dev->ab, hid);
	aml_name(&dev->ab, "_UID");
	aml_integer(&dev->ab, 1);
	uint8_t res[24];
	size_t n = 0;
	for (int r = 0; r < 2; r++) {
		uint16_t p = r ? port2 : port;
		uint8_t l = r ? len2 : len;
		if (!l)
			continue;
		res[n++] = 0x47; /* I/O port descriptor, 16-bit decode */
		res[n++] = 1;
		res[n++] = (uint8_t)p;
		res[n++] = (uint8_t)(p >> 8);
		res[n++] = (uint8_t)p;
		res[n++] = (uint8_t)(p >> 8);
		res[n++] = 1; /* alignment */
		res[n++] = l;
	}
	if (irq >= 0 && irq < 16) {
		res[n++] = 0x22; /* IRQ descriptor, no flags: edge, active high */
		res[n++] = (uint8_t)(1u << irq);
		res[n++] = (uint8_t)((1u << irq) >> 8);
	}
	res[n++] = 0x79; /* end tag */
	res[n++] = 0;
	aml_integer(&crs->ab, (uint32_t)n);
	emit(&crs->ab, res, n);
	aml_name(&dev->ab, "_CRS");
	aml_wrap(&dev->ab, &buffer_op, 1, &crs->ab);
	aml_wrap(scope, device_op, 2, &dev->ab);
out:
	free(dev);
	free(crs);
}

/* Device(VMMn) { _HID "LNRO0005", _UID n, _CRS: Memory32Fixed(RW, base,
 * 4 KiB) and an Extended Interrupt (consumer, level, active high,
 * exclusive) at gsi } appended to scope. */
static void virtio_mmio_device(struct ab *scope, unsigned n, uint32_t base, uint32_t gsi)
{
	static const uint8_t buffer_op = 0x11, device_op[2] = {0x5b, 0x82};
	struct scratch *dev = malloc(sizeof(*dev)), *crs = malloc(sizeof(*crs));
	if (!dev || !crs || n > 99) {
		scope->full = true;
		goto out;
	}
	scratch_init(dev);
	scratch_init(crs);
	char name[5];
	snprintf(name, sizeof(name), "VM%02u", n);
	emit(&dev->ab, name, 4);
	aml_name(&dev->ab, "_HID");
	e8(&dev->ab, 0x0d); /* StringPrefix */
	emit(&dev->ab, "LNRO0005", 9);
	aml_name(&dev->ab, "_UID");
	aml_integer(&dev->ab, n);
	uint8_t res[32];
	size_t k = 0;
	res[k++] = 0x86; /* Memory32Fixed, length 9 */
	res[k++] = 9;
	res[k++] = 0;
	res[k++] = 1; /* read/write */
	for (unsigned i = 0; i < 4; i++)
		res[k++] = (uint8_t)(base >> (8 * i));
	for (unsigned i = 0; i < 4; i++)
		res[k++] = (uint8_t)(0x1000u >> (8 * i));
	res[k++] = 0x89; /* Extended Interrupt, length 6 */
	res[k++] = 6;
	res[k++] = 0;
	res[k++] = 0x01; /* consumer; level; active high; exclusive */
	res[k++] = 1;	 /* one interrupt */
	for (unsigned i = 0; i < 4; i++)
		res[k++] = (uint8_t)(gsi >> (8 * i));
	res[k++] = 0x79; /* end tag */
	res[k++] = 0;
	aml_integer(&crs->ab, (uint32_t)k);
	emit(&crs->ab, res, k);
	aml_name(&dev->ab, "_CRS");
	aml_wrap(&dev->ab, &buffer_op, 1, &crs->ab);
	aml_wrap(scope, device_op, 2, &dev->ab);
out:
	free(dev);
	free(crs);
}

static void dsdt_body(struct ab *b, const struct acpi_config *cfg)
{
	static const uint8_t package_op = 0x12, buffer_op = 0x11, scope_op = 0x10;
	static const uint8_t device_op[2] = {0x5b, 0x82};

	/* Name(\_S5, Package(4) {SLP_TYPa, SLP_TYPb, 0, 0}) */
	struct scratch s5;
	scratch_init(&s5);
	e8(&s5.ab, 4);
	aml_integer(&s5.ab, ACPI_S5_SLP_TYP);
	aml_integer(&s5.ab, ACPI_S5_SLP_TYP);
	aml_integer(&s5.ab, 0);
	aml_integer(&s5.ab, 0);
	e8(b, 0x08);
	emit(b, "\\_S5_", 5);
	aml_wrap(b, &package_op, 1, &s5.ab);

	if (cfg->com1_port || cfg->rtc_port || cfg->kbd_data_port || cfg->nvirtio_mmio) {
		struct scratch *isa = malloc(sizeof(*isa));
		if (!isa) {
			b->full = true;
			return;
		}
		scratch_init(isa);
		emit(&isa->ab, "\\_SB_", 5);
		if (cfg->com1_port)
			isa_device(&isa->ab, "COM1", EISA_PNP0501, cfg->com1_port, 8, 0, 0,
				   cfg->com1_irq);
		if (cfg->rtc_port)
			isa_device(&isa->ab, "RTC_", EISA_PNP0B00, cfg->rtc_port, 2, 0, 0, -1);
		if (cfg->kbd_data_port)
			isa_device(&isa->ab, "KBD_", EISA_PNP0303, cfg->kbd_data_port, 1,
				   cfg->kbd_cmd_port, 1, cfg->kbd_irq);
		for (unsigned i = 0; i < cfg->nvirtio_mmio && i < ACPI_MAX_VIRTIO_MMIO; i++)
			virtio_mmio_device(&isa->ab, i, cfg->virtio_mmio_base[i],
					   cfg->virtio_mmio_gsi[i]);
		aml_wrap(b, &scope_op, 1, &isa->ab);
		free(isa);
	}

	if (!cfg->pci_host)
		return;
	struct scratch *dev = malloc(sizeof(*dev)), *crs = malloc(sizeof(*crs)),
		       *scope = malloc(sizeof(*scope));
	if (!dev || !crs || !scope) {
		b->full = true;
		goto out;
	}
	scratch_init(dev);
	scratch_init(crs);
	scratch_init(scope);
	emit(&dev->ab, "PCI0", 4);
	aml_name(&dev->ab, "_HID");
	aml_integer(&dev->ab, EISA_PNP0A03);
	aml_name(&dev->ab, "_UID");
	aml_integer(&dev->ab, 0);
	aml_name(&dev->ab, "_SEG");
	aml_integer(&dev->ab, 0);
	aml_name(&dev->ab, "_BBN");
	aml_integer(&dev->ab, 0);
	/* Name(_CRS, Buffer(n) {descriptors}) */
	struct ab res = {.p = crs->mem + 64, .cap = sizeof(crs->mem) - 64};
	pci_crs(&res, cfg);
	aml_integer(&crs->ab, (uint32_t)res.len);
	emit(&crs->ab, res.p, res.len);
	crs->ab.full |= res.full;
	aml_name(&dev->ab, "_CRS");
	aml_wrap(&dev->ab, &buffer_op, 1, &crs->ab);
	pci_prt(&dev->ab, cfg);

	emit(&scope->ab, "\\_SB_", 5);
	aml_wrap(&scope->ab, device_op, 2, &dev->ab);
	/* Scope's PkgLength covers the name and the device. */
	aml_wrap(b, &scope_op, 1, &scope->ab);
out:
	free(dev);
	free(crs);
	free(scope);
}

/* ---- the tables ---------------------------------------------------------------- */

static void fadt(struct ab *b, const struct acpi_config *cfg, uint64_t dsdt)
{
	size_t at = header(b, "FACP", 6);
	e32(b, 0);		/* FIRMWARE_CTRL: no FACS (hardware-reduced) */
	e32(b, (uint32_t)dsdt); /* DSDT */
	e8(b, 0);		/* reserved */
	e8(b, 0);		/* preferred PM profile: unspecified */
	e16(b, 0);		/* SCI_INT: none in hardware-reduced ACPI */
	e32(b, 0);		/* SMI_CMD: no SMM, always in ACPI mode */
	for (int i = 0; i < 4; i++)
		e8(b, 0); /* ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT */
	for (int i = 0; i < 5; i++)
		e32(b, 0);	    /* PM1a/b EVT, PM1a/b CNT, PM2 CNT */
	e32(b, cfg->pm_timer_port); /* PM_TMR_BLK */
	e32(b, 0);		    /* GPE0 */
	e32(b, 0);		    /* GPE1 */
	for (int i = 0; i < 3; i++)
		e8(b, 0);		   /* PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN */
	e8(b, cfg->pm_timer_port ? 4 : 0); /* PM_TMR_LEN */
	for (int i = 0; i < 4; i++)
		e8(b, 0); /* GPE0/1 lengths, GPE1_BASE, CST_CNT */
	e16(b, 0);	  /* P_LVL2_LAT */
	e16(b, 0);	  /* P_LVL3_LAT */
	e16(b, 0);	  /* FLUSH_SIZE */
	e16(b, 0);	  /* FLUSH_STRIDE */
	for (int i = 0; i < 5; i++)
		e8(b, 0); /* DUTY_OFFSET, DUTY_WIDTH, DAY_ALRM, MON_ALRM, CENTURY */
	e16(b, 1u << 2);  /* IAPC_BOOT_ARCH: VGA not present; no 8042 */
	e8(b, 0);
	uint32_t flags = 1u << 0     /* WBINVD works */
			 | 1u << 4   /* no fixed power button */
			 | 1u << 5   /* no fixed sleep button */
			 | 1u << 10  /* RESET_REG_SUP */
			 | 1u << 20; /* HW_REDUCED_ACPI */
	e32(b, flags);
	gas_io(b, cfg->reset_port, 1); /* RESET_REG */
	e8(b, cfg->reset_value);
	e16(b, 0); /* ARM_BOOT_ARCH */
	e8(b, 0);  /* FADT minor version (6.0) */
	e64(b, 0); /* X_FIRMWARE_CTRL */
	e64(b, dsdt);
	for (int i = 0; i < 5; i++)
		gas_none(b); /* X_PM1a_EVT .. X_PM2_CNT: none */
	/* X_PM_TMR_BLK. The ACPI specification has no PM timer in
	 * hardware-reduced ACPI, but Linux (x86) takes it from here (and
	 * PM_TMR_BLK) regardless, and needs it: on an AMD CPU model, the TSC's
	 * frequency is not in CPUID and the PM timer is the reference Linux
	 * calibrates against when the PIT loop fails (devices/acpi_pm.h). */
	if (cfg->pm_timer_port)
		gas_io(b, cfg->pm_timer_port, 4);
	else
		gas_none(b);
	gas_none(b); /* X_GPE0 */
	gas_none(b); /* X_GPE1 */
	gas_io(b, cfg->sleep_ctl_port, 1);
	gas_io(b, cfg->sleep_sts_port, 1);
	emit(b, "VMON    ", 8); /* hypervisor vendor identity */
	finish(b, at);
}

static void madt(struct ab *b, const struct acpi_config *cfg)
{
	size_t at = header(b, "APIC", 4);
	e32(b, ACPI_LAPIC_ADDR);
	e32(b, 1); /* PCAT_COMPAT: a dual 8259 is present */
	for (int i = 0; i < cfg->ncpus; i++) {
		e8(b, 0); /* Processor Local APIC */
		e8(b, 8);
		e8(b, (uint8_t)i); /* ACPI processor UID */
		e8(b, (uint8_t)i); /* APIC id */
		e32(b, 1);	   /* enabled */
	}
	e8(b, 1); /* I/O APIC */
	e8(b, 12);
	e8(b, (uint8_t)cfg->ncpus); /* id after the CPUs', as in the MP table */
	e8(b, 0);
	e32(b, ACPI_IOAPIC_ADDR);
	e32(b, 0); /* GSI base */
	/* ISA IRQ 0 (the PIT) is IOAPIC pin 0 here, not pin 2 as on most PCs:
	 * say so, rather than leave guests to guess. */
	e8(b, 2); /* Interrupt Source Override */
	e8(b, 10);
	e8(b, 0); /* ISA */
	e8(b, 0); /* IRQ 0 */
	e32(b, 0);
	e16(b, 0); /* conforms to the bus: edge, active high */
	e8(b, 4);  /* Local APIC NMI */
	e8(b, 6);
	e8(b, 0xff); /* all processors */
	e16(b, 0);
	e8(b, 1); /* LINT1 */
	finish(b, at);
}

long acpi_build(const struct acpi_config *cfg, uint64_t base, uint8_t *buf, size_t cap,
		struct vmon_error *err)
{
	if (cfg->ncpus < 1 || cfg->ncpus > 255)
		return err_setf(err, "ACPI tables: %d CPUs (1 to 255 supported)", cfg->ncpus);
	if (base % 16 || base > UINT32_MAX - cap)
		return err_setf(err, "ACPI tables: bad base address 0x%llx",
				(unsigned long long)base);
	if (cfg->pci_host &&
	    (cfg->pci_intx_lines == 0 || cfg->pci_intx_gsi_base + cfg->pci_intx_lines > 24 ||
	     cfg->pci_mmio_end <= cfg->pci_mmio_start))
		return err_setf(err, "ACPI tables: bad PCI host description");
	memset(buf, 0, cap);
	struct ab b = {.p = buf, .cap = cap};

	/* RSDP, then room for the XSDT (2 entries) and RSDT (2 entries). */
	size_t rsdp = b.len;
	emit(&b, "RSD PTR ", 8);
	e8(&b, 0); /* checksum of the first 20 bytes */
	emit(&b, OEM_ID, 6);
	e8(&b, 2);  /* revision: ACPI 2.0+ (has the XSDT) */
	e32(&b, 0); /* RSDT address */
	e32(&b, ACPI_RSDP_LEN);
	e64(&b, 0); /* XSDT address */
	e8(&b, 0);  /* extended checksum */
	e8(&b, 0);
	e16(&b, 0);

	size_t xsdt = header(&b, "XSDT", 1);
	e64(&b, 0);
	e64(&b, 0);
	finish(&b, xsdt);
	size_t rsdt = header(&b, "RSDT", 1);
	e32(&b, 0);
	e32(&b, 0);
	finish(&b, rsdt);

	size_t dsdt = header(&b, "DSDT", 2);
	dsdt_body(&b, cfg);
	finish(&b, dsdt);
	size_t facp = b.len + (16 - b.len % 16) % 16;
	fadt(&b, cfg, base + dsdt);
	size_t apic = b.len + (16 - b.len % 16) % 16;
	madt(&b, cfg);
	if (b.full)
		return err_setf(err, "ACPI tables do not fit in %zu bytes", cap);

	/* Pointers, then the checksums that cover them. */
	put_at(&b, xsdt + ACPI_HDR_LEN, base + facp, 8);
	put_at(&b, xsdt + ACPI_HDR_LEN + 8, base + apic, 8);
	b.p[xsdt + 9] = 0;
	b.p[xsdt + 9] = acpi_checksum(b.p + xsdt, ACPI_HDR_LEN + 16);
	put_at(&b, rsdt + ACPI_HDR_LEN, base + facp, 4);
	put_at(&b, rsdt + ACPI_HDR_LEN + 4, base + apic, 4);
	b.p[rsdt + 9] = 0;
	b.p[rsdt + 9] = acpi_checksum(b.p + rsdt, ACPI_HDR_LEN + 8);
	put_at(&b, rsdp + 16, base + rsdt, 4);
	put_at(&b, rsdp + 24, base + xsdt, 8);
	b.p[rsdp + 8] = acpi_checksum(b.p + rsdp, 20);
	b.p[rsdp + 32] = acpi_checksum(b.p + rsdp, ACPI_RSDP_LEN);
	return (long)b.len;
}

int acpi_write(struct guest_mem *gm, const struct acpi_config *cfg, uint64_t *rsdp,
	       struct vmon_error *err)
{
	*rsdp = 0;
	size_t cap = ACPI_TABLES_END - ACPI_RSDP_GPA;
	uint8_t *dst = gm_ptr(gm, ACPI_RSDP_GPA, cap);
	if (!dst)
		return 0; /* no RAM there: no ACPI */
	uint8_t *buf = malloc(cap);
	if (!buf)
		return err_setf(err, "out of memory building the ACPI tables");
	long n = acpi_build(cfg, ACPI_RSDP_GPA, buf, cap, err);
	if (n >= 0) {
		memcpy(dst, buf, (size_t)n);
		*rsdp = ACPI_RSDP_GPA;
	}
	free(buf);
	return n < 0 ? -1 : 0;
}
