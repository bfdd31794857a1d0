/* SPDX-License-Identifier: MIT */
/* Unit tests for the boot loaders (src/boot): synthetic PVH, multiboot and
 * flat images written to temporary files and loaded into real guest RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/e820.h"
#include "boot/elf.h"
#include "boot/gdt.h"
#include "boot/multiboot.h"
#include "boot/pvh.h"

/* Where vmon's boot structures go when the image leaves the boot area's
 * first place free (every image here unless a test says otherwise). */
#define BOOT_INFO_GPA	 (BOOT_AREA_START + BOOT_OFF_INFO)
#define BOOT_CMDLINE_GPA (BOOT_AREA_START + BOOT_OFF_CMDLINE)
#define BOOT_GDT_GPA	 (BOOT_AREA_START + BOOT_OFF_GDT)
#define BOOT_PGTABLE_GPA (BOOT_AREA_START + BOOT_OFF_PGTABLE)

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* ---- temporary files ---------------------------------------------------- */

static char tmpdir[64];
static char *tmpfiles[256];
static int ntmpfiles;

static const char *tmp_write(const char *name, const void *data, size_t len)
{
	char *path;
	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (len)
		assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	for (int i = 0; i < ntmpfiles; i++)
		if (strcmp(tmpfiles[i], path) == 0) {
			free(path);
			return tmpfiles[i];
		}
	assert_true(ntmpfiles < 256);
	tmpfiles[ntmpfiles++] = path;
	return path;
}

/* A sparse file of size bytes (for "too big" cases). */
static const char *tmp_sparse(const char *name, uint64_t size)
{
	const char *path = tmp_write(name, "x", 1);
	assert_int_equal(truncate(path, (off_t)size), 0);
	return path;
}

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmon-test-boot-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	for (int i = 0; i < ntmpfiles; i++) {
		unlink(tmpfiles[i]);
		free(tmpfiles[i]);
	}
	rmdir(tmpdir);
	return 0;
}

/* ---- little-endian writers ---------------------------------------------- */

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
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- synthetic ELF images ----------------------------------------------- */

enum { NOTE_NONE, NOTE_SEGMENT, NOTE_SECTION };

struct tseg {
	uint32_t type; /* 0 means PT_LOAD */
	uint64_t vaddr, paddr, filesz, memsz;
	uint8_t fill;
	const uint8_t *bytes; /* copied at the start of the segment's file data */
	size_t nbytes;
};

struct telf {
	int cls; /* 32 or 64 */
	uint64_t entry;
	int nseg;
	struct tseg seg[6];
	int note;
	uint32_t note_descsz; /* 0: 4 for ELF32, 8 for ELF64 */
	uint64_t note_value;
};

struct img {
	uint8_t *data;
	size_t size;
	size_t phoff, phentsize, note_off;
	size_t seg_off[6];
};

static size_t align16(size_t v)
{
	return (v + 15) & ~(size_t)15;
}

static struct img build_elf(const struct telf *t)
{
	struct img im = {0};
	bool e64 = t->cls == 64;
	size_t ehsize = e64 ? 64 : 52;
	im.phentsize = e64 ? 56 : 32;
	int nph = t->nseg + (t->note == NOTE_SEGMENT);
	uint32_t descsz = t->note_descsz ? t->note_descsz : (e64 ? 8 : 4);

	size_t cap = 0x1000 + 256;
	for (int i = 0; i < t->nseg; i++)
		cap += align16(t->seg[i].filesz);
	cap += 64 + descsz + 2 * 64;
	im.data = calloc(1, cap);
	assert_non_null(im.data);

	size_t cur = 0x1000;
	for (int i = 0; i < t->nseg; i++) {
		im.seg_off[i] = cur;
		memset(im.data + cur, t->seg[i].fill, t->seg[i].filesz);
		if (t->seg[i].nbytes)
			memcpy(im.data + cur, t->seg[i].bytes, t->seg[i].nbytes);
		cur += align16(t->seg[i].filesz);
	}
	size_t note_off = cur, note_size = 0;
	if (t->note != NOTE_NONE) {
		uint8_t *n = im.data + cur;
		put32(n, 4);
		put32(n + 4, descsz);
		put32(n + 8, XEN_ELFNOTE_PHYS32_ENTRY);
		memcpy(n + 12, "Xen", 4);
		if (descsz == 8)
			put64(n + 16, t->note_value);
		else if (descsz >= 4)
			put32(n + 16, (uint32_t)t->note_value);
		note_size = 16 + ((descsz + 3) & ~3u);
		cur = align16(cur + note_size);
	}
	im.note_off = note_off;
	size_t shoff = 0;
	if (t->note == NOTE_SECTION) {
		shoff = cur;
		uint8_t *s = im.data + shoff + (e64 ? 64 : 40); /* section 1 */
		put32(s + 4, 7);				/* SHT_NOTE */
		if (e64) {
			put64(s + 24, note_off);
			put64(s + 32, note_size);
			put64(s + 48, 4);
		} else {
			put32(s + 16, (uint32_t)note_off);
			put32(s + 20, (uint32_t)note_size);
			put32(s + 32, 4);
		}
		cur += 2 * (e64 ? 64 : 40);
	}
	im.size = cur;

	uint8_t *h = im.data;
	memcpy(h, "\177ELF", 4);
	h[4] = e64 ? 2 : 1;
	h[5] = 1;
	h[6] = 1;
	put16(h + 16, 2);
	put16(h + 18, e64 ? 62 : 3);
	put32(h + 20, 1);
	im.phoff = ehsize;
	if (e64) {
		put64(h + 24, t->entry);
		put64(h + 32, ehsize);
		put64(h + 40, shoff);
		put16(h + 52, 64);
		put16(h + 54, 56);
		put16(h + 56, (uint16_t)nph);
		put16(h + 58, 64);
		put16(h + 60, shoff ? 2 : 0);
	} else {
		put32(h + 24, (uint32_t)t->entry);
		put32(h + 28, (uint32_t)ehsize);
		put32(h + 32, (uint32_t)shoff);
		put16(h + 40, 52);
		put16(h + 42, 32);
		put16(h + 44, (uint16_t)nph);
		put16(h + 46, 40);
		put16(h + 48, shoff ? 2 : 0);
	}
	for (int i = 0; i < nph; i++) {
		uint8_t *p = h + ehsize + (size_t)i * im.phentsize;
		uint32_t type;
		uint64_t off, va, pa, fsz, msz, align;
		if (i < t->nseg) {
			const struct tseg *s = &t->seg[i];
			type = s->type ? s->type : 1;
			off = im.seg_off[i];
			va = s->vaddr ? s->vaddr : s->paddr;
			pa = s->paddr;
			fsz = s->filesz;
			msz = s->memsz;
			align = 0x1000;
		} else {
			type = 4;
			off = note_off;
			va = pa = 0;
			fsz = msz = note_size;
			align = 4;
		}
		if (e64) {
			put32(p, type);
			put32(p + 4, 5);
			put64(p + 8, off);
			put64(p + 16, va);
			put64(p + 24, pa);
			put64(p + 32, fsz);
			put64(p + 40, msz);
			put64(p + 48, align);
		} else {
			put32(p, type);
			put32(p + 4, (uint32_t)off);
			put32(p + 8, (uint32_t)va);
			put32(p + 12, (uint32_t)pa);
			put32(p + 16, (uint32_t)fsz);
			put32(p + 20, (uint32_t)msz);
			put32(p + 24, 5);
			put32(p + 28, (uint32_t)align);
		}
	}
	return im;
}

/* Field offsets of program header i, for tests that corrupt it. */
static uint8_t *ph_field(struct img *im, bool e64, int i, const char *field)
{
	uint8_t *p = im->data + im->phoff + (size_t)i * im->phentsize;
	if (strcmp(field, "offset") == 0)
		return p + (e64 ? 8 : 4);
	if (strcmp(field, "paddr") == 0)
		return p + (e64 ? 24 : 12);
	if (strcmp(field, "filesz") == 0)
		return p + (e64 ? 32 : 16);
	if (strcmp(field, "memsz") == 0)
		return p + (e64 ? 40 : 20);
	fail_msg("unknown field %s", field);
	return NULL;
}

/* The standard PVH test kernel: text at 1 MiB (with bss), data at 2 MiB. */
static struct telf pvh_kernel(int cls)
{
	struct telf t = {
		.cls = cls,
		.entry = 0xffffffff81000000ULL,
		.nseg = 2,
		.seg =
			{
				{.paddr = 0x100000,
				 .vaddr = 0xffffffff81000000ULL,
				 .filesz = 0x2000,
				 .memsz = 0x3000,
				 .fill = 0x11},
				{.paddr = 0x200000,
				 .vaddr = 0xffffffff81100000ULL,
				 .filesz = 0x800,
				 .memsz = 0x800,
				 .fill = 0x22},
			},
		.note = NOTE_SEGMENT,
		.note_value = 0x100010,
	};
	if (cls == 32) {
		t.entry = 0x100000;
		t.seg[0].vaddr = 0;
		t.seg[1].vaddr = 0;
	}
	return t;
}

/* ---- helpers -------------------------------------------------------------- */

static void gm_new(struct guest_mem *gm, uint64_t size)
{
	struct vmon_error err;
	if (gm_create(gm, size, &err) < 0)
		fail_msg("gm_create: %s", err.msg);
}

static const char *write_img(const char *name, struct img *im)
{
	const char *p = tmp_write(name, im->data, im->size);
	free(im->data);
	im->data = NULL;
	return p;
}

static void load_ok(struct guest_mem *gm, const struct boot_config *cfg, struct boot_cpu_state *cpu,
		    struct boot_info *info)
{
	struct vmon_error err = {.msg = ""};
	int r = boot_load(gm, cfg, cpu, info, &err);
	if (r != 0)
		fail_msg("boot_load failed: %s", err.msg);
}

/* Expects boot_load to fail with a one-line message containing want (and
 * the kernel path, unless the problem is with something else). */
static void load_fails_gm(struct guest_mem *gm, const struct boot_config *cfg, const char *want,
			  bool names_kernel)
{
	struct boot_cpu_state cpu;
	struct boot_info info;
	struct vmon_error err = {.msg = ""};
	int r = boot_load(gm, cfg, &cpu, &info, &err);
	if (r != -1)
		fail_msg("boot_load accepted %s (protocol %s), expected '%s'", cfg->kernel_path,
			 info.protocol, want);
	if (!strstr(err.msg, want))
		fail_msg("error '%s' does not contain '%s'", err.msg, want);
	if (names_kernel && !strstr(err.msg, cfg->kernel_path))
		fail_msg("error '%s' does not name the file", err.msg);
	assert_null(strchr(err.msg, '\n'));
	assert_null(info.protocol);
}

static void load_fails(const struct boot_config *cfg, uint64_t ram, const char *want)
{
	struct guest_mem gm;
	gm_new(&gm, ram);
	load_fails_gm(&gm, cfg, want, true);
	gm_destroy(&gm);
}

static uint8_t *gpa(struct guest_mem *gm, uint64_t addr, uint64_t len)
{
	uint8_t *p = gm_ptr(gm, addr, len);
	assert_non_null(p);
	return p;
}

static bool all_bytes(const uint8_t *p, uint8_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void check_gdt_at(struct guest_mem *gm, const struct boot_cpu_state *cpu, uint64_t at)
{
	assert_int_equal(cpu->gdt_base, at);
	assert_int_equal(cpu->gdt_limit, 31);
	uint8_t *g = gpa(gm, at, 32);
	assert_true(all_bytes(g, 0, 8));
	assert_int_equal(elf_le64(g + BOOT_SEL_CODE64), 0x00af9b000000ffffULL);
	assert_int_equal(elf_le64(g + BOOT_SEL_CODE32), 0x00cf9b000000ffffULL);
	assert_int_equal(elf_le64(g + BOOT_SEL_DATA), 0x00cf93000000ffffULL);
	assert_int_equal(boot_gdt_descriptor(BOOT_SEL_DATA), 0x00cf93000000ffffULL);
}

static void check_gdt(struct guest_mem *gm, const struct boot_cpu_state *cpu)
{
	check_gdt_at(gm, cpu, BOOT_GDT_GPA);
}

static void check_segments_loaded(struct guest_mem *gm)
{
	assert_true(all_bytes(gpa(gm, 0x100000, 0x2000), 0x11, 0x2000));
	assert_true(all_bytes(gpa(gm, 0x102000, 0x1000), 0x00, 0x1000)); /* bss */
	assert_true(all_bytes(gpa(gm, 0x200000, 0x800), 0x22, 0x800));
}

/* ---- e820 ------------------------------------------------------------------ */

static void test_e820_small(void **state)
{
	struct guest_mem gm;
	gm_new(&gm, 256 * MiB);
	struct e820_entry m[E820_MAX_ENTRIES];
	int n = e820_build(&gm, m);
	assert_int_equal(n, 4);
	assert_int_equal(m[0].addr, 0);
	assert_int_equal(m[0].size, 0x9fc00);
	assert_int_equal(m[0].type, E820_RAM);
	assert_int_equal(m[1].addr, 0x9fc00);
	assert_int_equal(m[1].size, 0x100000 - 0x9fc00);
	assert_int_equal(m[1].type, E820_RESERVED);
	assert_int_equal(m[2].addr, 0x100000);
	assert_int_equal(m[2].size, 255 * MiB);
	assert_int_equal(m[2].type, E820_RAM);
	assert_int_equal(m[3].addr, GM_LOW_RAM_END);
	assert_int_equal(m[3].size, 4 * GiB - GM_LOW_RAM_END);
	assert_int_equal(m[3].type, E820_RESERVED);
	assert_int_equal(e820_lower_ram(&gm), 0x9fc00);
	assert_int_equal(e820_upper_ram(&gm), 255 * MiB);
	gm_destroy(&gm);
}

static void test_e820_high(void **state)
{
	struct guest_mem gm;
	gm_new(&gm, 3 * GiB + 512 * MiB);
	struct e820_entry m[E820_MAX_ENTRIES];
	int n = e820_build(&gm, m);
	assert_int_equal(n, 5);
	assert_int_equal(m[2].addr, 0x100000);
	assert_int_equal(m[2].size, GM_LOW_RAM_END - MiB);
	assert_int_equal(m[3].type, E820_RESERVED);
	assert_int_equal(m[4].addr, 4 * GiB);
	assert_int_equal(m[4].size, 512 * MiB);
	assert_int_equal(m[4].type, E820_RAM);
	gm_destroy(&gm);
}

static void test_e820_tiny(void **state)
{
	struct guest_mem gm;
	gm_new(&gm, 512 * 1024);
	struct e820_entry m[E820_MAX_ENTRIES];
	int n = e820_build(&gm, m);
	assert_int_equal(n, 3);
	assert_int_equal(m[0].size, 512 * 1024);
	assert_int_equal(m[1].addr, 0x9fc00);
	assert_int_equal(m[2].addr, GM_LOW_RAM_END);
	assert_int_equal(e820_upper_ram(&gm), 0);
	gm_destroy(&gm);
}

/* ---- PVH ------------------------------------------------------------------- */

static void check_pvh_memmap(struct guest_mem *gm, const struct hvm_start_info *si)
{
	struct e820_entry m[E820_MAX_ENTRIES];
	int n = e820_build(gm, m);
	assert_int_equal(si->memmap_entries, n);
	const struct hvm_memmap_table_entry *mm = (const void *)gpa(
		gm, si->memmap_paddr, (uint64_t)n * sizeof(struct hvm_memmap_table_entry));
	for (int i = 0; i < n; i++) {
		assert_int_equal(mm[i].addr, m[i].addr);
		assert_int_equal(mm[i].size, m[i].size);
		assert_int_equal(mm[i].type, m[i].type);
		assert_int_equal(mm[i].reserved, 0);
	}
}

static void test_pvh_elf64(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("pvh64.elf", &im),
				  .cmdline = "console=ttyS0 quiet"};
	struct guest_mem gm;
	gm_new(&gm, 256 * MiB);
	memset(gpa(&gm, 0x100000, 0x3000), 0xaa, 0x3000); /* bss must be zeroed */
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);

	assert_int_equal(cpu.mode, BOOT_MODE_PROT32);
	assert_int_equal(cpu.rip, 0x100010);
	assert_int_equal(cpu.rbx, BOOT_INFO_GPA);
	check_gdt(&gm, &cpu);
	check_segments_loaded(&gm);
	assert_string_equal(info.protocol, "pvh");
	assert_int_equal(info.image_start, 0x100000);
	assert_int_equal(info.image_end, 0x200800);
	assert_int_equal(info.initrd_size, 0);

	struct hvm_start_info si;
	assert_int_equal(gm_read(&gm, &si, BOOT_INFO_GPA, sizeof(si)), 0);
	assert_int_equal(si.magic, 0x336ec578);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.flags, 0);
	assert_int_equal(si.nr_modules, 0);
	assert_int_equal(si.rsdp_paddr, 0);
	assert_int_equal(si.cmdline_paddr, BOOT_CMDLINE_GPA);
	assert_string_equal((char *)gpa(&gm, si.cmdline_paddr, 1), "console=ttyS0 quiet");
	assert_true(si.memmap_paddr >= BOOT_AREA_START && si.memmap_paddr < BOOT_CMDLINE_GPA);
	assert_int_equal(si.memmap_entries, 4);
	check_pvh_memmap(&gm, &si);
	gm_destroy(&gm);
}

static void test_pvh_elf32_initrd(void **state)
{
	struct telf t = pvh_kernel(32);
	t.note_value = 0x200000;
	struct img im = build_elf(&t);
	static uint8_t initrd[10000];
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 7);
	struct boot_config cfg = {.kernel_path = write_img("pvh32.elf", &im),
				  .initrd_path = tmp_write("initrd.img", initrd, sizeof(initrd))};
	struct guest_mem gm;
	gm_new(&gm, 256 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	assert_int_equal(cpu.rip, 0x200000);
	check_segments_loaded(&gm);

	/* As high as possible below the end of low RAM, page-aligned. */
	uint64_t want = (256 * MiB - sizeof(initrd)) & ~0xfffULL;
	assert_int_equal(info.initrd_start, want);
	assert_int_equal(info.initrd_size, sizeof(initrd));
	assert_memory_equal(gpa(&gm, want, sizeof(initrd)), initrd, sizeof(initrd));

	struct hvm_start_info si;
	assert_int_equal(gm_read(&gm, &si, BOOT_INFO_GPA, sizeof(si)), 0);
	assert_int_equal(si.nr_modules, 1);
	struct hvm_modlist_entry mod;
	assert_int_equal(gm_read(&gm, &mod, si.modlist_paddr, sizeof(mod)), 0);
	assert_int_equal(mod.paddr, want);
	assert_int_equal(mod.size, sizeof(initrd));
	assert_int_equal(mod.reserved, 0);
	/* No command line given: an empty string. */
	assert_string_equal((char *)gpa(&gm, si.cmdline_paddr, 1), "");
	check_pvh_memmap(&gm, &si);
	gm_destroy(&gm);
}

static void test_pvh_note_in_section(void **state)
{
	struct telf t = pvh_kernel(64);
	t.note = NOTE_SECTION;
	t.note_descsz = 4;
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("pvh-shnote.elf", &im)};
	struct guest_mem gm;
	gm_new(&gm, 64 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	assert_string_equal(info.protocol, "pvh");
	assert_int_equal(cpu.rip, 0x100010);
	gm_destroy(&gm);
}

static void test_pvh_high_ram(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	uint8_t initrd[100] = {1, 2, 3};
	struct boot_config cfg = {.kernel_path = write_img("pvh-high.elf", &im),
				  .initrd_path = tmp_write("small.img", initrd, sizeof(initrd))};
	struct guest_mem gm;
	gm_new(&gm, 4 * GiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	/* Below the MMIO hole, never in high RAM. */
	assert_int_equal(info.initrd_start, GM_LOW_RAM_END - 0x1000);
	struct hvm_start_info si;
	assert_int_equal(gm_read(&gm, &si, BOOT_INFO_GPA, sizeof(si)), 0);
	assert_int_equal(si.memmap_entries, 5);
	check_pvh_memmap(&gm, &si);
	gm_destroy(&gm);
}

static void test_pvh_bad_note_size(void **state)
{
	struct telf t = pvh_kernel(64);
	t.note_descsz = 2;
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("pvh-desc2.elf", &im)};
	load_fails(&cfg, 64 * MiB, "2-byte descriptor");
}

static void test_pvh_note_overruns(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	put32(im.data + im.note_off + 4, 0xfffffff0); /* descsz */
	struct boot_config cfg = {.kernel_path = write_img("pvh-badnote.elf", &im)};
	load_fails(&cfg, 64 * MiB, "runs past its note area");
}

static void test_pvh_entry_high(void **state)
{
	struct telf t = pvh_kernel(64);
	t.note_value = 0x100000000ULL;
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("pvh-entryhigh.elf", &im)};
	load_fails(&cfg, 64 * MiB, "above 4 GiB");
}

static void test_pvh_entry_outside(void **state)
{
	struct telf t = pvh_kernel(64);
	t.note_value = 0x300000;
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("pvh-entryout.elf", &im)};
	load_fails(&cfg, 64 * MiB, "not inside a loaded segment");
}

/* ---- multiboot --------------------------------------------------------------- */

static void mb_header(uint8_t out[32], uint32_t flags, uint32_t header_addr, uint32_t load_addr,
		      uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
	put32(out, MULTIBOOT_HEADER_MAGIC);
	put32(out + 4, flags);
	put32(out + 8, (uint32_t)(0u - MULTIBOOT_HEADER_MAGIC - flags));
	put32(out + 12, header_addr);
	put32(out + 16, load_addr);
	put32(out + 20, load_end);
	put32(out + 24, bss_end);
	put32(out + 28, entry);
}

static struct telf mb_elf_kernel(uint32_t flags, uint8_t hdr[32])
{
	mb_header(hdr, flags, 0, 0, 0, 0, 0);
	struct telf t = pvh_kernel(32);
	t.note = NOTE_NONE;
	t.entry = 0x100020;
	t.seg[0].bytes = hdr;
	t.seg[0].nbytes = (flags & MB_HDR_AOUT_KLUDGE) ? 32 : 12;
	return t;
}

static void test_mb_elf32(void **state)
{
	uint8_t hdr[32];
	struct telf t = mb_elf_kernel(MB_HDR_PAGE_ALIGN | MB_HDR_MEMORY_INFO, hdr);
	struct img im = build_elf(&t);
	uint8_t initrd[5000];
	memset(initrd, 0x5a, sizeof(initrd));
	struct boot_config cfg = {.kernel_path = write_img("mb32.elf", &im),
				  .initrd_path = tmp_write("mb-initrd", initrd, sizeof(initrd)),
				  .cmdline = "root=/dev/vda"};
	struct guest_mem gm;
	gm_new(&gm, 256 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);

	assert_string_equal(info.protocol, "multiboot");
	assert_int_equal(cpu.mode, BOOT_MODE_PROT32);
	assert_int_equal(cpu.rax, 0x2BADB002);
	assert_int_equal(cpu.rbx, BOOT_INFO_GPA);
	assert_int_equal(cpu.rip, 0x100020);
	check_gdt(&gm, &cpu);
	assert_memory_equal(gpa(&gm, 0x100000, 12), hdr, 12);
	assert_true(all_bytes(gpa(&gm, 0x100000 + 12, 0x2000 - 12), 0x11, 0x2000 - 12));
	assert_true(all_bytes(gpa(&gm, 0x102000, 0x1000), 0, 0x1000));

	struct multiboot_info mbi;
	assert_int_equal(gm_read(&gm, &mbi, BOOT_INFO_GPA, sizeof(mbi)), 0);
	assert_int_equal(mbi.flags, MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS |
					    MB_INFO_MEM_MAP | MB_INFO_BOOT_LOADER_NAME);
	assert_int_equal(mbi.mem_lower, 639);
	assert_int_equal(mbi.mem_upper, 255 * 1024);
	assert_string_equal((char *)gpa(&gm, mbi.cmdline, 1), "root=/dev/vda");
	assert_string_equal((char *)gpa(&gm, mbi.boot_loader_name, 1), "vmon");

	assert_int_equal(mbi.mods_count, 1);
	struct multiboot_mod mod;
	assert_int_equal(gm_read(&gm, &mod, mbi.mods_addr, sizeof(mod)), 0);
	assert_int_equal(mod.mod_start % 4096, 0);
	assert_int_equal(mod.mod_start, (256 * MiB - sizeof(initrd)) & ~0xfffULL);
	assert_int_equal(mod.mod_end, mod.mod_start + sizeof(initrd));
	assert_int_equal(mod.reserved, 0);
	assert_string_equal((char *)gpa(&gm, mod.string, 1), cfg.initrd_path);
	assert_memory_equal(gpa(&gm, mod.mod_start, sizeof(initrd)), initrd, sizeof(initrd));
	assert_int_equal(info.initrd_start, mod.mod_start);
	assert_int_equal(info.initrd_size, sizeof(initrd));

	/* mmap: a size field of 20 before each 20-byte entry. */
	struct e820_entry m[E820_MAX_ENTRIES];
	int n = e820_build(&gm, m);
	assert_int_equal(mbi.mmap_length, n * 24);
	const uint8_t *mm = gpa(&gm, mbi.mmap_addr, mbi.mmap_length);
	for (int i = 0; i < n; i++) {
		const uint8_t *e = mm + i * 24;
		assert_int_equal(elf_le32(e), 20);
		assert_int_equal(elf_le64(e + 4), m[i].addr);
		assert_int_equal(elf_le64(e + 12), m[i].size);
		assert_int_equal(elf_le32(e + 20), m[i].type);
	}
	gm_destroy(&gm);
}

static void test_mb_elf_no_initrd_video(void **state)
{
	/* Bit 2 (video mode) is accepted and ignored: no VBE/framebuffer info. */
	uint8_t hdr[32];
	struct telf t = mb_elf_kernel(MB_HDR_VIDEO_MODE, hdr);
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("mb-video.elf", &im)};
	struct guest_mem gm;
	gm_new(&gm, 32 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	struct multiboot_info mbi;
	assert_int_equal(gm_read(&gm, &mbi, BOOT_INFO_GPA, sizeof(mbi)), 0);
	assert_int_equal(mbi.mods_count, 0);
	assert_int_equal(mbi.flags & ((1u << 11) | (1u << 12)), 0);
	assert_int_equal(mbi.mem_upper, 31 * 1024);
	assert_string_equal((char *)gpa(&gm, mbi.cmdline, 1), "");
	gm_destroy(&gm);
}

static void test_mb_elf_virtual_entry(void **state)
{
	/* Higher-half kernel: e_entry is virtual, translated via the segment. */
	uint8_t hdr[32];
	struct telf t = mb_elf_kernel(0, hdr);
	t.seg[0].vaddr = 0xc0100000;
	t.seg[1].vaddr = 0xc0200000;
	t.entry = 0xc0100040;
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("mb-higher.elf", &im)};
	struct guest_mem gm;
	gm_new(&gm, 32 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	assert_int_equal(cpu.rip, 0x100040);
	gm_destroy(&gm);
}

/* A raw a.out-kludge image: header at file offset 0x40, loaded at 1 MiB. */
static const char *write_aout(const char *name, size_t size, uint32_t header_addr,
			      uint32_t load_addr, uint32_t load_end, uint32_t bss_end,
			      uint32_t entry)
{
	uint8_t *f = malloc(size);
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		f[i] = (uint8_t)(i ^ 0x5c);
	mb_header(f + 0x40, MB_HDR_AOUT_KLUDGE | MB_HDR_PAGE_ALIGN | MB_HDR_MEMORY_INFO,
		  header_addr, load_addr, load_end, bss_end, entry);
	const char *p = tmp_write(name, f, size);
	free(f);
	return p;
}

static void test_mb_aout(void **state)
{
	size_t size = 0x3000;
	struct boot_config cfg = {
		.kernel_path =
			write_aout("aout.bin", size, 0x100040, 0x100000, 0, 0x110000, 0x100080),
		.cmdline = "x",
	};
	struct guest_mem gm;
	gm_new(&gm, 16 * MiB);
	memset(gpa(&gm, 0x100000 + size, 0x10000 - size), 0xaa, 0x10000 - size);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	assert_string_equal(info.protocol, "multiboot-aout");
	assert_int_equal(cpu.rip, 0x100080);
	assert_int_equal(cpu.rax, 0x2BADB002);
	assert_int_equal(info.image_start, 0x100000);
	assert_int_equal(info.image_end, 0x110000);
	const uint8_t *g = gpa(&gm, 0x100000, 0x10000);
	assert_int_equal(elf_le32(g + 0x40), MULTIBOOT_HEADER_MAGIC);
	assert_int_equal(g[0x1234], (uint8_t)(0x1234 ^ 0x5c));
	assert_true(all_bytes(g + size, 0, 0x10000 - size));
	gm_destroy(&gm);
}

static void test_mb_aout_offset_and_load_end(void **state)
{
	/* Text starts 0x20 bytes before the header; only 0x1000 bytes loaded. */
	struct boot_config cfg = {
		.kernel_path =
			write_aout("aout2.bin", 0x3000, 0x200020, 0x200000, 0x201000, 0, 0x200000),
	};
	struct guest_mem gm;
	gm_new(&gm, 16 * MiB);
	memset(gpa(&gm, 0x201000, 0x10), 0xaa, 0x10);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	assert_int_equal(info.image_start, 0x200000);
	assert_int_equal(info.image_end, 0x201000);
	const uint8_t *g = gpa(&gm, 0x200000, 0x1010);
	assert_int_equal(g[0], (uint8_t)(0x20 ^ 0x5c)); /* file offset 0x20 */
	assert_int_equal(elf_le32(g + 0x20), MULTIBOOT_HEADER_MAGIC);
	assert_true(all_bytes(g + 0x1000, 0xaa, 0x10)); /* nothing past load_end */
	gm_destroy(&gm);
}

static void test_mb_aout_precedence_over_elf(void **state)
{
	/* An ELF whose multiboot header has address fields is loaded by them. */
	uint8_t hdr[32];
	struct telf t = mb_elf_kernel(MB_HDR_AOUT_KLUDGE, hdr);
	/* The header sits at file offset 0x1000; load the file from offset 0
	 * at 0x300000 (so header_addr = 0x301000). */
	mb_header(hdr, MB_HDR_AOUT_KLUDGE, 0x301000, 0x300000, 0, 0, 0x301000);
	struct img im = build_elf(&t);
	size_t size = im.size;
	struct boot_config cfg = {.kernel_path = write_img("mb-aout.elf", &im)};
	struct guest_mem gm;
	gm_new(&gm, 16 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	assert_string_equal(info.protocol, "multiboot-aout");
	assert_int_equal(cpu.rip, 0x301000);
	assert_int_equal(info.image_start, 0x300000);
	assert_int_equal(info.image_end, 0x300000 + size);
	assert_memory_equal(gpa(&gm, 0x300000, 4), "\177ELF", 4);
	/* The ELF program headers were not used. */
	assert_true(all_bytes(gpa(&gm, 0x100000, 16), 0, 16));
	gm_destroy(&gm);
}

static void test_mb_aout_inconsistent(void **state)
{
	struct {
		uint32_t header_addr, load_addr, load_end, bss_end, entry;
		const char *want;
	} cases[] = {
		{0x100040, 0x100080, 0, 0, 0x100080, "below load_addr"},
		{0x200040, 0x100000, 0, 0, 0x100080, "before the header"},
		{0x100040, 0x100000, 0x100000, 0, 0x100000, "not above load_addr"},
		{0x100040, 0x100000, 0x104000, 0, 0x100080, "the file has only"},
		{0x100040, 0x100000, 0x102000, 0x101000, 0x100080, "below load_end_addr"},
		{0x100040, 0x100000, 0, 0x110000, 0x110000, "outside the image"},
		{0x100040, 0x100000, 0, 0, 0xfff00, "outside the image"},
		{0x40, 0, 0, 0x9f000, 0x40, "leaves no room for vmon's boot area"},
		{0xfffff040, 0xfffff000, 0, 0, 0xfffff080, "extends above 4 GiB"},
		{0xffff0040, 0xffff0000, 0, 0, 0xffff0080, "lies outside guest RAM (16 MiB)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "aout-bad%zu.bin", i);
		struct boot_config cfg = {
			.kernel_path =
				write_aout(name, 0x3000, cases[i].header_addr, cases[i].load_addr,
					   cases[i].load_end, cases[i].bss_end, cases[i].entry),
		};
		load_fails(&cfg, 16 * MiB, cases[i].want);
	}
}

static void test_mb_unsupported_flags(void **state)
{
	uint8_t hdr[32];
	struct telf t = mb_elf_kernel(MB_HDR_MEMORY_INFO | (1u << 3), hdr);
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("mb-flag3.elf", &im)};
	load_fails(&cfg, 16 * MiB, "requires features vmon lacks (flags 0x8)");
}

static void test_mb_not_elf_without_aout(void **state)
{
	uint8_t f[256] = {0};
	mb_header(f + 16, 0, 0, 0, 0, 0, 0);
	struct boot_config cfg = {.kernel_path = tmp_write("mb-raw.bin", f, sizeof(f))};
	load_fails(&cfg, 16 * MiB, "is not ELF");
}

static void test_mb_header_not_found(void **state)
{
	/* Beyond the first 8 KiB, misaligned, or a bad checksum: not multiboot. */
	static uint8_t f[0x3000];
	memset(f, 0x90, sizeof(f));
	mb_header(f + 8192, MB_HDR_AOUT_KLUDGE, 0x102000, 0x100000, 0, 0, 0x100000);
	mb_header(f + 0x102, MB_HDR_AOUT_KLUDGE, 0x100102, 0x100000, 0, 0, 0x100000);
	mb_header(f + 0x200, MB_HDR_AOUT_KLUDGE, 0x100200, 0x100000, 0, 0, 0x100000);
	put32(f + 0x208, 0x12345678);
	struct boot_config cfg = {.kernel_path = tmp_write("mb-far.bin", f, sizeof(f))};
	load_fails(&cfg, 16 * MiB, "is not a PVH ELF, multiboot image");
}

static void test_mb_truncated_header(void **state)
{
	/* Address-fields flag, but the file ends 12 bytes after the magic. */
	uint8_t f[0x100 + 32];
	memset(f, 0, sizeof(f));
	mb_header(f + 0x100, MB_HDR_AOUT_KLUDGE, 0, 0, 0, 0, 0);
	struct boot_config cfg = {.kernel_path = tmp_write("mb-trunc.bin", f, 0x100 + 12)};
	load_fails(&cfg, 16 * MiB, "truncated");
}

/* ---- flat ------------------------------------------------------------------- */

static void test_flat(void **state)
{
	uint8_t f[3000];
	for (size_t i = 0; i < sizeof(f); i++)
		f[i] = (uint8_t)(i * 13);
	struct boot_config cfg = {.kernel_path = tmp_write("flat.bin", f, sizeof(f)),
				  .has_load_addr = true,
				  .load_addr = 0x100000,
				  .cmdline = "hello"};
	struct guest_mem gm;
	gm_new(&gm, 4 * MiB);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	assert_string_equal(info.protocol, "flat");
	assert_int_equal(cpu.mode, BOOT_MODE_PROT32);
	assert_int_equal(cpu.rip, 0x100000);
	assert_int_equal(info.image_start, 0x100000);
	assert_int_equal(info.image_end, 0x100000 + sizeof(f));
	assert_memory_equal(gpa(&gm, 0x100000, sizeof(f)), f, sizeof(f));
	assert_string_equal((char *)gpa(&gm, BOOT_CMDLINE_GPA, 1), "hello");
	check_gdt(&gm, &cpu);

	/* Below 1 MiB (outside the boot area and the legacy hole) is fine too. */
	cfg.load_addr = 0x10000;
	load_ok(&gm, &cfg, &cpu, &info);
	assert_int_equal(cpu.rip, 0x10000);
	gm_destroy(&gm);
}

/* An image below 64 KiB (a real-mode style test program at 0x8000): vmon
 * moves its boot structures to the boot area's other place. */
static void test_flat_low_image_moves_boot_area(void **state)
{
	uint8_t f[3000] = {0x90, 0xf4};
	struct boot_config cfg = {.kernel_path = tmp_write("flat-low.bin", f, sizeof(f)),
				  .has_load_addr = true,
				  .load_addr = 0x8000,
				  .cmdline = "low"};
	struct guest_mem gm;
	struct boot_cpu_state cpu;
	struct boot_info info;
	gm_new(&gm, 4 * MiB);
	load_ok(&gm, &cfg, &cpu, &info);
	assert_int_equal(cpu.rip, 0x8000);
	assert_memory_equal(gpa(&gm, 0x8000, sizeof(f)), f, sizeof(f));
	assert_int_equal(info.boot_area, LAYOUT_BOOT_AREA_ALT);
	assert_string_equal((char *)gpa(&gm, LAYOUT_BOOT_AREA_ALT + BOOT_OFF_CMDLINE, 4), "low");
	check_gdt_at(&gm, &cpu, LAYOUT_BOOT_AREA_ALT + BOOT_OFF_GDT);
	gm_destroy(&gm);
}

static void test_flat_rejections(void **state)
{
	uint8_t f[3000] = {1};
	struct boot_config cfg = {.kernel_path = tmp_write("flat2.bin", f, sizeof(f)),
				  .has_load_addr = true,
				  .load_addr = 0x2000};
	/* Over both places of the boot area. */
	static uint8_t big[0x90000];
	struct boot_config both = {.kernel_path = tmp_write("flat-big.bin", big, sizeof(big)),
				   .has_load_addr = true,
				   .load_addr = 0x8000};
	load_fails(&both, 4 * MiB,
		   "leaves no room for vmon's boot area (60 KiB of RAM at 0x1000 or 0x90000)");
	cfg.load_addr = 0x9f800;
	load_fails(&cfg, 4 * MiB, "overlaps the legacy VGA/BIOS hole");
	cfg.load_addr = 0x3ffc00;
	load_fails(&cfg, 4 * MiB, "does not fit in guest RAM (4 MiB); it needs at least 5 MiB");
	cfg.load_addr = 0xfee00000;
	load_fails(&cfg, 4 * MiB, "lies outside guest RAM (4 MiB)");
	cfg.load_addr = UINT64_MAX - 100;
	load_fails(&cfg, 4 * MiB, "wraps around");
	cfg.load_addr = 0x100000;
	cfg.initrd_path = tmp_write("flat-initrd", f, 10);
	load_fails(&cfg, 4 * MiB, "cannot take an initrd");
	/* Without --load-addr a blob is not a kernel. */
	cfg.initrd_path = NULL;
	cfg.has_load_addr = false;
	load_fails(&cfg, 4 * MiB,
		   "is not a PVH ELF, multiboot image or (with --load-addr) flat binary");
}

/* ---- rejections --------------------------------------------------------------- */

static void test_missing_file(void **state)
{
	struct boot_config cfg = {.kernel_path = "/nonexistent/vmon-kernel"};
	load_fails(&cfg, 16 * MiB, "kernel '/nonexistent/vmon-kernel': No such file or directory");
	cfg.kernel_path = tmpdir;
	load_fails(&cfg, 16 * MiB, "is a directory");
}

static void test_empty_file(void **state)
{
	struct boot_config cfg = {.kernel_path = tmp_write("empty", "", 0),
				  .has_load_addr = true,
				  .load_addr = 0x100000};
	load_fails(&cfg, 16 * MiB, "file is empty");
}

static void test_garbage_file(void **state)
{
	char junk[] = "this is not a kernel, just some text\n";
	struct boot_config cfg = {.kernel_path = tmp_write("garbage", junk, sizeof(junk))};
	load_fails(&cfg, 16 * MiB, "is not a PVH ELF, multiboot image");
}

static void test_elf_truncated(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = tmp_write("trunc30.elf", im.data, 30)};
	load_fails(&cfg, 16 * MiB, "ELF header truncated");
	cfg.kernel_path = tmp_write("trunc-ph.elf", im.data, 100); /* phdrs end at 64+3*56 */
	load_fails(&cfg, 16 * MiB, "program headers");
	cfg.kernel_path = tmp_write("trunc-seg.elf", im.data, 0x1800); /* first segment cut */
	load_fails(&cfg, 16 * MiB, "beyond the end of the file");
	free(im.data);
}

static void test_elf_huge_phnum(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	put16(im.data + 56, 0xfff0);
	struct boot_config cfg = {.kernel_path = tmp_write("phnum.elf", im.data, im.size)};
	load_fails(&cfg, 16 * MiB, "65520 program headers");
	put16(im.data + 56, 0xffff);
	cfg.kernel_path = tmp_write("phnum2.elf", im.data, im.size);
	load_fails(&cfg, 16 * MiB, "extended program header numbering");
	put16(im.data + 56, 1000); /* plausible count, table past the end */
	cfg.kernel_path = tmp_write("phnum3.elf", im.data, im.size);
	load_fails(&cfg, 16 * MiB, "extend beyond the end of the file");
	put16(im.data + 56, 3);
	put64(im.data + 32, UINT64_MAX - 8); /* e_phoff wraps */
	cfg.kernel_path = tmp_write("phoff.elf", im.data, im.size);
	load_fails(&cfg, 16 * MiB, "extend beyond the end of the file");
	free(im.data);
}

static void test_elf_offset_overflow(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	put64(ph_field(&im, true, 1, "offset"), 0xfffffffffffff000ULL);
	put64(ph_field(&im, true, 1, "filesz"), 0x2000);
	put64(ph_field(&im, true, 1, "memsz"), 0x2000);
	struct boot_config cfg = {.kernel_path = write_img("off-ovf.elf", &im)};
	load_fails(&cfg, 16 * MiB,
		   "segment 1 (file offset 0xfffffffffffff000, size 0x2000) extends beyond");
}

static void test_elf_paddr_overflow(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	put64(ph_field(&im, true, 1, "paddr"), 0xfffffffffffff000ULL);
	put64(ph_field(&im, true, 1, "memsz"), 0x2000);
	struct boot_config cfg = {.kernel_path = write_img("pa-ovf.elf", &im)};
	load_fails(&cfg, 16 * MiB, "overflows");
}

static void test_elf_filesz_gt_memsz(void **state)
{
	struct telf t = pvh_kernel(32);
	struct img im = build_elf(&t);
	put32(ph_field(&im, false, 0, "memsz"), 0x100);
	struct boot_config cfg = {.kernel_path = write_img("fsz.elf", &im)};
	load_fails(&cfg, 16 * MiB, "larger than its memory size");
}

static void test_elf_bad_ident(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	im.data[4] = 3;
	struct boot_config cfg = {.kernel_path = tmp_write("class.elf", im.data, im.size)};
	load_fails(&cfg, 16 * MiB, "unsupported ELF class 3");
	im.data[4] = 2;
	im.data[5] = 2;
	cfg.kernel_path = tmp_write("bigend.elf", im.data, im.size);
	load_fails(&cfg, 16 * MiB, "not little-endian");
	im.data[5] = 1;
	put16(im.data + 18, 40); /* EM_ARM */
	cfg.kernel_path = tmp_write("arm.elf", im.data, im.size);
	load_fails(&cfg, 16 * MiB, "not x86");
	put16(im.data + 18, 62);
	put16(im.data + 16, 1); /* ET_REL */
	cfg.kernel_path = tmp_write("rel.elf", im.data, im.size);
	load_fails(&cfg, 16 * MiB, "not an executable");
	free(im.data);
}

static void test_segment_outside_ram(void **state)
{
	struct telf t = pvh_kernel(64);
	t.seg[1].paddr = 0x20000000;
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("outside.elf", &im)};
	load_fails(&cfg, 256 * MiB,
		   "segment 1 [0x20000000-0x20000800) does not fit in guest RAM (256 MiB); it "
		   "needs at least 513 MiB");

	t.seg[1].paddr = 0xfec00000; /* MMIO hole */
	im = build_elf(&t);
	cfg.kernel_path = write_img("mmio.elf", &im);
	load_fails(&cfg, 256 * MiB,
		   "segment 1 [0xfec00000-0xfec00800) lies outside guest RAM (256 MiB)");

	t.seg[1].paddr = 0x200000000ULL; /* above 4 GiB, no high RAM */
	im = build_elf(&t);
	cfg.kernel_path = write_img("high.elf", &im);
	load_fails(&cfg, 256 * MiB, "lies outside guest RAM");
}

static void test_segment_overlaps_boot_area(void **state)
{
	struct telf t = pvh_kernel(64);
	t.seg[1].paddr = 0xf000;
	t.seg[1].memsz = 0x1800;
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("bootarea.elf", &im)};
	struct guest_mem gm;
	struct boot_cpu_state cpu;
	struct boot_info info;
	gm_new(&gm, 64 * MiB);
	load_ok(&gm, &cfg, &cpu, &info); /* the boot area moves out of its way */
	assert_int_equal(info.boot_area, LAYOUT_BOOT_AREA_ALT);
	assert_int_equal(cpu.rbx, LAYOUT_BOOT_AREA_ALT + BOOT_OFF_INFO);
	struct hvm_start_info si;
	assert_int_equal(gm_read(&gm, &si, cpu.rbx, sizeof(si)), 0);
	assert_int_equal(si.magic, HVM_START_MAGIC);
	assert_int_equal(si.cmdline_paddr, LAYOUT_BOOT_AREA_ALT + BOOT_OFF_CMDLINE);
	gm_destroy(&gm);

	t.seg[1].paddr = 0xff000;
	im = build_elf(&t);
	cfg.kernel_path = write_img("legacy.elf", &im);
	load_fails(&cfg, 64 * MiB,
		   "segment 1 [0xff000-0x100800) overlaps the legacy VGA/BIOS hole");
}

static void test_memory_too_small(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("small.elf", &im)};
	load_fails(&cfg, 2 * MiB,
		   "segment 1 [0x200000-0x200800) does not fit in guest RAM (2 MiB); it needs at "
		   "least 3 MiB");
}

static void test_no_pvh_no_multiboot(void **state)
{
	struct telf t = pvh_kernel(64);
	t.note = NOTE_NONE;
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("plain.elf", &im)};
	load_fails(
		&cfg, 16 * MiB,
		"ELF has no PVH entry note (Xen XEN_ELFNOTE_PHYS32_ENTRY) and no multiboot header");
}

static void test_no_loadable_segment(void **state)
{
	struct telf t = pvh_kernel(64);
	t.seg[0].type = 6; /* PT_PHDR */
	t.seg[1].type = 6;
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("noload.elf", &im)};
	load_fails(&cfg, 16 * MiB, "no loadable (PT_LOAD) segment");
}

static void test_cmdline_limit(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	char *cmd = malloc(BOOT_CMDLINE_MAX + 1);
	memset(cmd, 'a', BOOT_CMDLINE_MAX);
	cmd[BOOT_CMDLINE_MAX] = 0;
	struct boot_config cfg = {.kernel_path = write_img("cmd.elf", &im), .cmdline = cmd};
	struct guest_mem gm;
	gm_new(&gm, 16 * MiB);
	load_fails_gm(&gm, &cfg, "command line is 4096 bytes long; at most 4095 allowed", false);
	cmd[BOOT_CMDLINE_MAX - 1] = 0; /* 4095 characters: fits */
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	const char *g = (const char *)gpa(&gm, BOOT_CMDLINE_GPA, BOOT_CMDLINE_MAX);
	assert_int_equal(strnlen(g, BOOT_CMDLINE_MAX), BOOT_CMDLINE_MAX - 1);
	assert_int_equal(g[BOOT_CMDLINE_MAX - 1], 0);
	free(cmd);
	gm_destroy(&gm);
}

static void test_initrd_rejections(void **state)
{
	struct telf t = pvh_kernel(64);
	struct img im = build_elf(&t);
	struct boot_config cfg = {.kernel_path = write_img("rd.elf", &im)};
	struct guest_mem gm;
	gm_new(&gm, 16 * MiB);

	cfg.initrd_path = tmp_sparse("big.img", 300 * MiB);
	load_fails_gm(&gm, &cfg, "(300 MiB) does not fit in guest RAM (16 MiB)", false);
	/* Exactly the free space [0x201000, 16 MiB) fits, one page more does not. */
	cfg.initrd_path = tmp_sparse("exact.img", 16 * MiB - 0x201000);
	struct boot_cpu_state cpu;
	struct boot_info info;
	load_ok(&gm, &cfg, &cpu, &info);
	assert_int_equal(info.initrd_start, 0x201000);
	cfg.initrd_path = tmp_sparse("exact1.img", 16 * MiB - 0x201000 + 1);
	load_fails_gm(&gm, &cfg, "does not fit in guest RAM", false);

	cfg.initrd_path = "/nonexistent/initrd";
	load_fails_gm(&gm, &cfg, "initrd '/nonexistent/initrd': No such file or directory", false);
	cfg.initrd_path = tmp_write("empty.img", "", 0);
	load_fails_gm(&gm, &cfg, "file is empty", false);
	gm_destroy(&gm);
}

static void test_ram_smaller_than_boot_area(void **state)
{
	uint8_t f[16] = {0};
	struct boot_config cfg = {.kernel_path = tmp_write("tiny.bin", f, sizeof(f)),
				  .has_load_addr = true,
				  .load_addr = 0x100};
	struct guest_mem gm;
	gm_new(&gm, 0x8000);
	load_fails_gm(&gm, &cfg, "too small", false);
	gm_destroy(&gm);
}

/* ---- fuzz ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random corruptions of valid PVH / multiboot images must never crash, and
 * a failure always leaves a message. */
static void test_fuzz(void **state)
{
	uint8_t hdr[32];
	struct telf kinds[3] = {pvh_kernel(64), pvh_kernel(32), mb_elf_kernel(0, hdr)};
	kinds[2].note = NOTE_NONE;
	struct telf sect = pvh_kernel(64);
	sect.note = NOTE_SECTION;
	struct guest_mem gm;
	gm_new(&gm, 8 * MiB);
	int ok = 0, failed = 0;
	for (int iter = 0; iter < 3000; iter++) {
		const struct telf *t = iter % 4 == 3 ? &sect : &kinds[iter % 3];
		struct img im = build_elf(t);
		int nflips = 1 + (int)(rng() % 8);
		for (int k = 0; k < nflips; k++) {
			/* Mostly headers and notes, sometimes anywhere. */
			size_t pos = rng() % 4 ? rng() % 0x140 : rng() % im.size;
			if (rng() % 3 == 0 && im.note_off + 32 <= im.size)
				pos = im.note_off + rng() % 32;
			if (pos >= im.size)
				continue;
			im.data[pos] = rng() % 2 ? (uint8_t)rng() : (uint8_t)(rng() % 2 ? 0xff : 0);
		}
		size_t size = rng() % 8 == 0 ? rng() % im.size : im.size;
		if (size == 0)
			size = 1;
		struct boot_config cfg = {
			.kernel_path = tmp_write("fuzz.elf", im.data, size),
			.has_load_addr = rng() % 8 == 0,
			.load_addr = 0x100000,
		};
		free(im.data);
		struct boot_cpu_state cpu;
		struct boot_info info;
		struct vmon_error err = {.msg = ""};
		if (boot_load(&gm, &cfg, &cpu, &info, &err) == 0) {
			ok++;
			assert_non_null(info.protocol);
		} else {
			failed++;
			assert_true(err.msg[0] != 0);
			assert_null(strchr(err.msg, '\n'));
		}
	}
	assert_true(ok > 0);
	assert_true(failed > 0);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_small),
		cmocka_unit_test(test_e820_high),
		cmocka_unit_test(test_e820_tiny),
		cmocka_unit_test(test_pvh_elf64),
		cmocka_unit_test(test_pvh_elf32_initrd),
		cmocka_unit_test(test_pvh_note_in_section),
		cmocka_unit_test(test_pvh_high_ram),
		cmocka_unit_test(test_pvh_bad_note_size),
		cmocka_unit_test(test_pvh_note_overruns),
		cmocka_unit_test(test_pvh_entry_high),
		cmocka_unit_test(test_pvh_entry_outside),
		cmocka_unit_test(test_mb_elf32),
		cmocka_unit_test(test_mb_elf_no_initrd_video),
		cmocka_unit_test(test_mb_elf_virtual_entry),
		cmocka_unit_test(test_mb_aout),
		cmocka_unit_test(test_mb_aout_offset_and_load_end),
		cmocka_unit_test(test_mb_aout_precedence_over_elf),
		cmocka_unit_test(test_mb_aout_inconsistent),
		cmocka_unit_test(test_mb_unsupported_flags),
		cmocka_unit_test(test_mb_not_elf_without_aout),
		cmocka_unit_test(test_mb_header_not_found),
		cmocka_unit_test(test_mb_truncated_header),
		cmocka_unit_test(test_flat),
		cmocka_unit_test(test_flat_low_image_moves_boot_area),
		cmocka_unit_test(test_flat_rejections),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_garbage_file),
		cmocka_unit_test(test_elf_truncated),
		cmocka_unit_test(test_elf_huge_phnum),
		cmocka_unit_test(test_elf_offset_overflow),
		cmocka_unit_test(test_elf_paddr_overflow),
		cmocka_unit_test(test_elf_filesz_gt_memsz),
		cmocka_unit_test(test_elf_bad_ident),
		cmocka_unit_test(test_segment_outside_ram),
		cmocka_unit_test(test_segment_overlaps_boot_area),
		cmocka_unit_test(test_memory_too_small),
		cmocka_unit_test(test_no_pvh_no_multiboot),
		cmocka_unit_test(test_no_loadable_segment),
		cmocka_unit_test(test_cmdline_limit),
		cmocka_unit_test(test_initrd_rejections),
		cmocka_unit_test(test_ram_smaller_than_boot_area),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
