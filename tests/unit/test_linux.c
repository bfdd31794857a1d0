/* SPDX-License-Identifier: MIT */
/* Unit tests for the Linux bzImage loader (src/boot/linux.c): synthetic
 * bzImages written to temporary files and loaded into real guest RAM, one
 * test per header check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/e820.h"
#include "boot/linux.h"

/* Where vmon's boot structures go when the image leaves the boot area's
 * first place free (every image here unless a test says otherwise). */
#define BOOT_INFO_GPA	 (BOOT_AREA_START + BOOT_OFF_INFO)
#define BOOT_CMDLINE_GPA (BOOT_AREA_START + BOOT_OFF_CMDLINE)
#define BOOT_GDT_GPA	 (BOOT_AREA_START + BOOT_OFF_GDT)
#define BOOT_PGTABLE_GPA (BOOT_AREA_START + BOOT_OFF_PGTABLE)

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)

static char tmpdir[64];

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmon-test-linux-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes a file in tmpdir; the returned path stays valid until the next
 * call with the same slot. */
static const char *tmp_write(int slot, const void *data, size_t len)
{
	static char paths[4][128];
	snprintf(paths[slot], sizeof(paths[slot]), "%s/file%d", tmpdir, slot);
	int fd = open(paths[slot], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (len)
		assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return paths[slot];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- synthetic bzImage ------------------------------------------------------ */

struct tbz {
	uint16_t version;
	uint8_t setup_sects;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t kernel_size; /* multiple of 16 */
	uint32_t init_size;
	uint64_t pref_address;
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint8_t header_len; /* byte at 0x201 */
	uint16_t boot_flag;
	size_t trailer; /* extra bytes after the kernel (a signature) */
};

/* A bzImage as Debian's 6.1 cloud kernel has it, scaled down. */
static struct tbz good(void)
{
	return (struct tbz){
		.version = 0x020f,
		.setup_sects = 3,
		.loadflags = LINUX_LOADED_HIGH | LINUX_CAN_USE_HEAP,
		.xloadflags = 0x7f,
		.kernel_size = 64 * KiB,
		.init_size = 4 * MiB,
		.pref_address = 16 * MiB,
		.kernel_alignment = 2 * MiB,
		.relocatable = 1,
		.initrd_addr_max = 0x7fffffff,
		.cmdline_size = 2047,
		.header_len = 0x6a, /* ends at 0x26c, like 2.15 */
		.boot_flag = 0xaa55,
		.trailer = 100,
	};
}

static size_t bz_size(const struct tbz *t)
{
	unsigned sects = t->setup_sects ? t->setup_sects : 4;
	return (sects + 1) * 512 + t->kernel_size + t->trailer;
}

/* Byte i of the kernel proper: a pattern the tests check in guest RAM. */
static uint8_t kbyte(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 8));
}

static uint8_t *bz_build(const struct tbz *t, size_t *size)
{
	unsigned sects = t->setup_sects ? t->setup_sects : 4;
	size_t setup = (sects + 1) * 512;
	*size = bz_size(t);
	uint8_t *d = calloc(1, *size > 0x1000 ? *size : 0x1000);
	assert_non_null(d);
	d[LINUX_SETUP_SECTS] = t->setup_sects;
	put32(d + LINUX_SYSSIZE, t->kernel_size / 16);
	put16(d + LINUX_BOOT_FLAG, t->boot_flag);
	d[LINUX_JUMP] = 0xeb;
	d[LINUX_JUMP + 1] = t->header_len;
	memcpy(d + LINUX_HEADER_MAGIC, "HdrS", 4);
	put16(d + LINUX_VERSION, t->version);
	d[LINUX_LOADFLAGS] = t->loadflags;
	put32(d + LINUX_CODE32_START, 0x100000);
	put32(d + LINUX_INITRD_ADDR_MAX, t->initrd_addr_max);
	put32(d + LINUX_KERNEL_ALIGNMENT, t->kernel_alignment);
	d[LINUX_RELOCATABLE] = t->relocatable;
	put16(d + LINUX_XLOADFLAGS, t->xloadflags);
	put32(d + LINUX_CMDLINE_SIZE, t->cmdline_size);
	put64(d + LINUX_PREF_ADDRESS, t->pref_address);
	put32(d + LINUX_INIT_SIZE, t->init_size);
	for (size_t i = 0; i < t->kernel_size && setup + i < *size; i++)
		d[setup + i] = kbyte(i);
	for (size_t i = 0; i < t->trailer; i++)
		d[setup + t->kernel_size + i] = 0xee;
	return d;
}

static const char *bz_write(const struct tbz *t)
{
	size_t size;
	uint8_t *d = bz_build(t, &size);
	const char *p = tmp_write(0, d, size);
	free(d);
	return p;
}

/* ---- helpers ------------------------------------------------------------------ */

static void gm_new(struct guest_mem *gm, uint64_t size)
{
	struct vmon_error err;
	if (gm_create(gm, size, &err) < 0)
		fail_msg("gm_create: %s", err.msg);
}

static uint8_t *gpa(struct guest_mem *gm, uint64_t addr, uint64_t len)
{
	uint8_t *p = gm_ptr(gm, addr, len);
	assert_non_null(p);
	return p;
}

static void load_ok(struct guest_mem *gm, const struct boot_config *cfg, struct boot_cpu_state *cpu,
		    struct boot_info *info)
{
	struct vmon_error err = {.msg = ""};
	if (boot_load(gm, cfg, cpu, info, &err) != 0)
		fail_msg("boot_load failed: %s", err.msg);
}

/* boot_load must fail with one line that contains want. */
static void fails(const struct boot_config *cfg, uint64_t ram, const char *want)
{
	struct guest_mem gm;
	gm_new(&gm, ram);
	struct boot_cpu_state cpu;
	struct boot_info info;
	struct vmon_error err = {.msg = ""};
	int r = boot_load(&gm, cfg, &cpu, &info, &err);
	if (r != -1)
		fail_msg("boot_load accepted the image, expected '%s'", want);
	if (!strstr(err.msg, want))
		fail_msg("error '%s' does not contain '%s'", err.msg, want);
	assert_null(strchr(err.msg, '\n'));
	assert_null(info.protocol);
	gm_destroy(&gm);
}

static void bz_fails(const struct tbz *t, uint64_t ram, const char *want)
{
	struct boot_config cfg = {.kernel_path = bz_write(t), .cmdline = "console=ttyS0"};
	fails(&cfg, ram, want);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_load(void **state)
{
	struct tbz t = good();
	struct boot_config cfg = {
		.kernel_path = bz_write(&t),
		.cmdline = "console=ttyS0 quiet",
		.acpi_rsdp = 0xe0000,
	};
	struct guest_mem gm;
	gm_new(&gm, 64 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);

	assert_string_equal(info.protocol, "linux");
	assert_int_equal(info.image_start, 16 * MiB);
	assert_int_equal(info.image_end, 20 * MiB);
	assert_int_equal(cpu.mode, BOOT_MODE_LONG64);
	assert_int_equal(cpu.rip, 16 * MiB + 0x200);
	assert_int_equal(cpu.rsi, BOOT_INFO_GPA);
	assert_int_equal(cpu.cr3, BOOT_PGTABLE_GPA);
	assert_int_equal(cpu.gdt_base, BOOT_GDT_GPA);

	/* The kernel proper, without the setup sectors or the trailer. */
	const uint8_t *k = gpa(&gm, 16 * MiB, t.kernel_size + 1);
	for (size_t i = 0; i < t.kernel_size; i++)
		if (k[i] != kbyte(i))
			fail_msg("kernel byte %zu is 0x%02x", i, k[i]);
	assert_int_equal(k[t.kernel_size], 0);

	/* boot_params: the header copied, loader fields filled in. */
	const uint8_t *bp = gpa(&gm, BOOT_INFO_GPA, LINUX_BP_SIZE);
	assert_memory_equal(bp + LINUX_HEADER_MAGIC, "HdrS", 4);
	assert_int_equal(bp[LINUX_SETUP_SECTS], 3);
	assert_int_equal(bp[LINUX_TYPE_OF_LOADER], 0xff);
	assert_true(bp[LINUX_LOADFLAGS] & LINUX_LOADED_HIGH);
	assert_int_equal(get32(bp + LINUX_CMD_LINE_PTR), BOOT_CMDLINE_GPA);
	assert_int_equal(get32(bp + LINUX_INIT_SIZE), 4 * MiB);
	assert_int_equal(get32(bp + LINUX_RAMDISK_IMAGE), 0);
	assert_int_equal(get64(bp + LINUX_BP_ACPI_RSDP_ADDR), 0xe0000);
	assert_int_equal(bp[LINUX_BP_SENTINEL], 0);
	assert_string_equal((const char *)gpa(&gm, BOOT_CMDLINE_GPA, 32), "console=ttyS0 quiet");

	/* e820: vmon's map, entry by entry. */
	struct e820_entry map[E820_MAX_ENTRIES];
	int n = e820_build(&gm, map);
	assert_int_equal(bp[LINUX_BP_E820_ENTRIES], n);
	for (int i = 0; i < n; i++) {
		const uint8_t *e = bp + LINUX_BP_E820_TABLE + i * LINUX_BP_E820_ENTRY_SIZE;
		assert_int_equal(get64(e), map[i].addr);
		assert_int_equal(get64(e + 8), map[i].size);
		assert_int_equal(get32(e + 16), map[i].type);
	}
	assert_int_equal(get64(bp + LINUX_BP_E820_TABLE + 16 * LINUX_BP_E820_ENTRY_SIZE), 0);

	/* Page tables: identity, 2 MiB pages, all of [0, 4 GiB). */
	const uint8_t *pt = gpa(&gm, BOOT_PGTABLE_GPA, LINUX_PT_SIZE);
	assert_int_equal(get64(pt), (BOOT_PGTABLE_GPA + LINUX_PT_PDPT) | 3);
	assert_int_equal(get64(pt + 8), 0);
	for (uint64_t va = 0; va < (4ULL << 30); va += 0x1234567) {
		uint64_t pdpte = get64(pt + LINUX_PT_PDPT + ((va >> 30) & 511) * 8);
		assert_true(pdpte & 1);
		uint64_t pde = get64(pt + ((pdpte & ~0xfffULL) - BOOT_PGTABLE_GPA) +
				     ((va >> 21) & 511) * 8);
		assert_int_equal(pde & 0x83, 0x83);
		assert_int_equal((pde & ~0x1fffffULL) | (va & 0x1fffff), va);
	}
	gm_destroy(&gm);
}

static void test_initrd(void **state)
{
	struct tbz t = good();
	t.initrd_addr_max = 40 * MiB - 1;
	uint8_t rd[10000];
	for (size_t i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i ^ 0x5a);
	struct boot_config cfg = {
		.kernel_path = bz_write(&t),
		.initrd_path = tmp_write(1, rd, sizeof(rd)),
	};
	struct guest_mem gm;
	gm_new(&gm, 128 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	/* As high as initrd_addr_max allows, page-aligned, after init_size. */
	assert_int_equal(info.initrd_size, sizeof(rd));
	assert_true(info.initrd_start >= 20 * MiB);
	assert_true(info.initrd_start + sizeof(rd) <= 40 * MiB);
	assert_int_equal(info.initrd_start % 4096, 0);
	assert_true(info.initrd_start + sizeof(rd) + 4096 > 40 * MiB);
	assert_memory_equal(gpa(&gm, info.initrd_start, sizeof(rd)), rd, sizeof(rd));
	const uint8_t *bp = gpa(&gm, BOOT_INFO_GPA, LINUX_BP_SIZE);
	assert_int_equal(get32(bp + LINUX_RAMDISK_IMAGE), info.initrd_start);
	assert_int_equal(get32(bp + LINUX_RAMDISK_SIZE), sizeof(rd));
	assert_int_equal(get32(bp + LINUX_BP_EXT_RAMDISK_IMG), 0);
	/* No RSDP given: none passed. */
	assert_int_equal(get64(bp + LINUX_BP_ACPI_RSDP_ADDR), 0);
	gm_destroy(&gm);

	/* RAM ends before initrd_addr_max: the initrd goes at the top of RAM. */
	t.initrd_addr_max = 0x7fffffff;
	cfg.kernel_path = bz_write(&t);
	gm_new(&gm, 32 * MiB);
	load_ok(&gm, &cfg, &cpu, &info);
	assert_true(info.initrd_start + sizeof(rd) <= 32 * MiB);
	assert_true(info.initrd_start + sizeof(rd) + 4096 > 32 * MiB);
	gm_destroy(&gm);
}

/* Protocol 2.12 (the oldest with a 64-bit entry) has no acpi_rsdp_addr;
 * setup_sects 0 means 4; pref_address 0 means 1 MiB aligned up. */
static void test_old_protocol_defaults(void **state)
{
	struct tbz t = good();
	t.version = 0x020c;
	t.setup_sects = 0;
	t.pref_address = 0;
	t.kernel_alignment = 1 * MiB;
	t.header_len = 0x64; /* ends at 0x266 */
	struct boot_config cfg = {.kernel_path = bz_write(&t), .acpi_rsdp = 0xe0000};
	struct guest_mem gm;
	gm_new(&gm, 16 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	assert_int_equal(cpu.rip, 1 * MiB + 0x200);
	const uint8_t *k = gpa(&gm, 1 * MiB, 16);
	assert_int_equal(k[5], kbyte(5));
	const uint8_t *bp = gpa(&gm, BOOT_INFO_GPA, LINUX_BP_SIZE);
	assert_int_equal(get64(bp + LINUX_BP_ACPI_RSDP_ADDR), 0);
	gm_destroy(&gm);
}

static void test_too_old(void **state)
{
	struct tbz t = good();
	t.version = 0x020b;
	bz_fails(&t, 64 * MiB, "protocol 2.11 is too old: vmon needs 2.12");
	t.version = 0x0201;
	bz_fails(&t, 64 * MiB, "too old");
}

static void test_corrupt(void **state)
{
	struct tbz t = good();
	t.boot_flag = 0x1234;
	bz_fails(&t, 64 * MiB, "boot_flag");

	t = good();
	t.header_len = 0x10; /* header too short to hold init_size */
	bz_fails(&t, 64 * MiB, "setup header is corrupt or truncated");

	t = good();
	t.init_size = 32 * KiB; /* smaller than the kernel */
	bz_fails(&t, 64 * MiB, "init_size");

	t = good();
	t.kernel_alignment = 3 * MiB;
	bz_fails(&t, 64 * MiB, "not a power of two");

	t = good();
	t.pref_address = 17 * MiB;
	bz_fails(&t, 64 * MiB, "not aligned");

	t = good();
	t.pref_address = 0x8000; /* on vmon's boot area */
	t.relocatable = 0;
	bz_fails(&t, 64 * MiB, "not between 1 MiB and 3 GiB");

	t = good();
	t.pref_address = 0xfee00000ULL; /* the MMIO hole */
	bz_fails(&t, 64 * MiB, "not between 1 MiB and 3 GiB");

	t = good();
	t.kernel_size = 0;
	bz_fails(&t, 64 * MiB, "too small");

	t = good();
	t.loadflags = 0;
	bz_fails(&t, 64 * MiB, "zImage");

	t = good();
	t.xloadflags = 0;
	bz_fails(&t, 64 * MiB, "XLF_KERNEL_64");
}

static void test_truncated(void **state)
{
	struct tbz t = good();
	size_t size;
	uint8_t *d = bz_build(&t, &size);
	/* Cut inside the kernel, inside the setup sectors, inside the header. */
	size_t cuts[] = {size - t.trailer - 1, 4 * 512 - 10, 0x250, 0x205};
	const char *want[] = {"truncated", "truncated", "truncated", "not a PVH ELF"};
	for (int i = 0; i < 4; i++) {
		struct boot_config cfg = {.kernel_path = tmp_write(0, d, cuts[i])};
		fails(&cfg, 64 * MiB, want[i]);
	}
	free(d);
}

static void test_too_large_for_mem(void **state)
{
	struct tbz t = good();
	t.init_size = 48 * MiB; /* 16 MiB + 48 MiB > 32 MiB of RAM */
	bz_fails(&t, 32 * MiB, "too large for guest RAM (32 MiB)");
	bz_fails(&t, 32 * MiB, "--mem 64 MiB");
	t.init_size = 0xfff00000u; /* would run past 3 GiB */
	bz_fails(&t, 64 * MiB, "does not fit below 3 GiB");
}

static void test_initrd_does_not_fit(void **state)
{
	struct tbz t = good();
	static uint8_t rd[8 * MiB];
	struct boot_config cfg = {
		.kernel_path = bz_write(&t),
		.initrd_path = tmp_write(1, rd, sizeof(rd)),
	};
	fails(&cfg, 24 * MiB, "does not fit"); /* 4 MiB free above the kernel */

	/* RAM enough, but initrd_addr_max is below the kernel's end. */
	t.initrd_addr_max = 18 * MiB;
	cfg.kernel_path = bz_write(&t);
	fails(&cfg, 128 * MiB, "does not fit");
}

static void test_cmdline_limit(void **state)
{
	struct tbz t = good();
	t.cmdline_size = 16;
	struct boot_config cfg = {.kernel_path = bz_write(&t), .cmdline = "0123456789abcdef"};
	struct guest_mem gm;
	gm_new(&gm, 64 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info); /* exactly cmdline_size: fine */
	gm_destroy(&gm);
	cfg.cmdline = "0123456789abcdefg";
	fails(&cfg, 64 * MiB, "at most 16 (cmdline_size)");
}

/* Random corruption of the header: never a crash, always one line. */
static void test_fuzz(void **state)
{
	struct guest_mem gm;
	gm_new(&gm, 64 * MiB);
	struct tbz t = good();
	t.kernel_size = 4 * KiB;
	size_t size;
	uint8_t *base = bz_build(&t, &size);
	uint8_t *d = malloc(size);
	assert_non_null(d);
	uint32_t s = 12345;
	int ok = 0, bad = 0;
	for (int iter = 0; iter < 2000; iter++) {
		memcpy(d, base, size);
		int flips = 1 + iter % 4;
		for (int i = 0; i < flips; i++) {
			s = s * 1103515245 + 12345;
			size_t off = 0x1f1 + (s >> 8) % (0x270 - 0x1f1);
			if (off >= LINUX_HEADER_MAGIC && off < LINUX_HEADER_MAGIC + 4)
				continue;
			d[off] = (uint8_t)(s >> 20);
		}
		s = s * 1103515245 + 12345;
		size_t len = (s >> 4) % 8 == 0 ? (s >> 8) % size + 1 : size;
		if (len < 0x206)
			len = 0x206;
		struct boot_config cfg = {.kernel_path = tmp_write(0, d, len), .cmdline = "x"};
		struct boot_cpu_state cpu;
		struct boot_info info;
		struct vmon_error err = {.msg = ""};
		if (boot_load(&gm, &cfg, &cpu, &info, &err) == 0) {
			ok++;
			assert_string_equal(info.protocol, "linux");
		} else {
			bad++;
			assert_true(err.msg[0] != 0);
			assert_null(strchr(err.msg, '\n'));
		}
	}
	assert_true(ok > 0);
	assert_true(bad > 0);
	free(d);
	free(base);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_initrd),
		cmocka_unit_test(test_old_protocol_defaults),
		cmocka_unit_test(test_too_old),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_too_large_for_mem),
		cmocka_unit_test(test_initrd_does_not_fit),
		cmocka_unit_test(test_cmdline_limit),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
