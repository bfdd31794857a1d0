/* SPDX-License-Identifier: MIT */
/* Linux bzImage through the 64-bit entry of the x86 boot protocol (see
 * linux.h for the layout). Every header field is checked against the file
 * and guest RAM before anything is written. */
#include "boot/linux.h"

#include <stdbool.h>
#include <string.h>

#include "boot/boot_priv.h"
#include "boot/e820.h"

_Static_assert(BOOT_OFF_PGTABLE + LINUX_PT_SIZE <= BOOT_AREA_SIZE,
	       "page tables fit in the boot area");
_Static_assert(BOOT_OFF_INFO + LINUX_BP_SIZE <= BOOT_OFF_CMDLINE, "zero page fits");

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
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

/* The facts the loader uses, read once from the image and checked. */
struct linux_image {
	uint16_t version;
	uint32_t hdr_end;    /* offset just past the setup header */
	uint64_t setup_size; /* bytes of real-mode setup before the kernel */
	uint64_t kernel_size;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint64_t load_addr;
	uint64_t init_size;
};

static bool has_magic(const struct boot_image *img)
{
	return img->size >= LINUX_HEADER_MAGIC + 4 &&
	       le32(img->data + LINUX_HEADER_MAGIC) == LINUX_HDRS_MAGIC;
}

static int linux_probe(const struct boot_image *img, const struct boot_config *cfg,
		       struct vmon_error *why)
{
	return has_magic(img);
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Reads and checks the setup header; picks the load address. */
static int parse(const struct boot_image *img, const struct guest_mem *gm, struct linux_image *li,
		 struct vmon_error *err)
{
	const uint8_t *d = img->data;
	memset(li, 0, sizeof(*li));
	if (!has_magic(img))
		return boot_errf(err, img, "is not a Linux bzImage (no \"HdrS\" at 0x202)");
	/* Every field read below lies before LINUX_HDR_MIN_END: the file must
	 * hold all of it before any is read (a file cut right after "HdrS"
	 * is hostile input too). */
	if (img->size < LINUX_HDR_MIN_END)
		return boot_errf(err, img,
				 "bzImage setup header is truncated (the file has %llu bytes; "
				 "the header needs 0x%x)",
				 (unsigned long long)img->size, LINUX_HDR_MIN_END);
	li->version = le16(d + LINUX_VERSION);
	if (li->version < LINUX_MIN_VERSION)
		return boot_errf(err, img,
				 "Linux boot protocol %u.%02u is too old: vmon needs 2.12 or later "
				 "(the 64-bit entry point)",
				 li->version >> 8, li->version & 0xff);
	li->hdr_end = LINUX_HEADER_MAGIC + d[LINUX_JUMP + 1];
	if (li->hdr_end < LINUX_HDR_MIN_END || li->hdr_end > img->size)
		return boot_errf(err, img,
				 "bzImage setup header is corrupt or truncated (it ends at 0x%x; "
				 "the file has %llu bytes)",
				 li->hdr_end, (unsigned long long)img->size);
	if (le16(d + LINUX_BOOT_FLAG) != LINUX_BOOT_FLAG_MAGIC)
		return boot_errf(err, img,
				 "bzImage boot_flag is 0x%04x, not 0xaa55 (corrupt image)",
				 le16(d + LINUX_BOOT_FLAG));
	if (!(d[LINUX_LOADFLAGS] & LINUX_LOADED_HIGH))
		return boot_errf(err, img,
				 "is a zImage (loadflags lacks LOADED_HIGH); vmon boots only "
				 "bzImages");
	if (!(le16(d + LINUX_XLOADFLAGS) & LINUX_XLF_KERNEL_64))
		return boot_errf(err, img,
				 "bzImage has no 64-bit entry point (xloadflags lacks "
				 "XLF_KERNEL_64): a 32-bit kernel?");

	unsigned sects = d[LINUX_SETUP_SECTS] ? d[LINUX_SETUP_SECTS] : 4;
	li->setup_size = (uint64_t)(sects + 1) * 512;
	li->kernel_size = (uint64_t)le32(d + LINUX_SYSSIZE) * 16;
	if (li->kernel_size <= LINUX_ENTRY64_OFFSET)
		return boot_errf(err, img, "bzImage syssize (%llu bytes) is too small for a kernel",
				 (unsigned long long)li->kernel_size);
	if (li->setup_size > img->size || li->kernel_size > img->size - li->setup_size)
		return boot_errf(err, img,
				 "bzImage is truncated: %u setup sectors and a %llu-byte kernel "
				 "need %llu bytes, the file has %llu",
				 sects, (unsigned long long)li->kernel_size,
				 (unsigned long long)(li->setup_size + li->kernel_size),
				 (unsigned long long)img->size);

	li->init_size = le32(d + LINUX_INIT_SIZE);
	if (li->init_size < li->kernel_size)
		return boot_errf(err, img,
				 "bzImage init_size (%llu bytes) is smaller than its kernel (%llu "
				 "bytes): corrupt header",
				 (unsigned long long)li->init_size,
				 (unsigned long long)li->kernel_size);
	li->initrd_addr_max = le32(d + LINUX_INITRD_ADDR_MAX);
	li->cmdline_size = le32(d + LINUX_CMDLINE_SIZE);

	/* Where the kernel goes. A relocatable kernel's 64-bit entry moves
	 * itself up to its own LOAD_PHYSICAL_ADDR (what pref_address says)
	 * before decompressing, so pref_address + init_size must be RAM
	 * either way: load it there. */
	uint64_t align = le32(d + LINUX_KERNEL_ALIGNMENT);
	bool relocatable = d[LINUX_RELOCATABLE] != 0;
	if (relocatable && !is_pow2(align))
		return boot_errf(err, img,
				 "bzImage kernel_alignment 0x%llx is not a power of two (corrupt "
				 "header)",
				 (unsigned long long)align);
	li->load_addr = le64(d + LINUX_PREF_ADDRESS);
	if (li->load_addr == 0)
		li->load_addr = LINUX_DEFAULT_LOAD;
	if (relocatable && (li->load_addr & (align - 1)))
		return boot_errf(err, img,
				 "bzImage pref_address 0x%llx is not aligned to kernel_alignment "
				 "0x%llx (corrupt header)",
				 (unsigned long long)li->load_addr, (unsigned long long)align);
	if (li->load_addr < BOOT_LEGACY_HOLE_END || li->load_addr >= GM_LOW_RAM_END)
		return boot_errf(err, img,
				 "bzImage pref_address 0x%llx is not between 1 MiB and 3 GiB",
				 (unsigned long long)li->load_addr);
	if (li->init_size > GM_LOW_RAM_END - li->load_addr) {
		char need[32];
		return boot_errf(
			err, img, "bzImage init_size (%s) does not fit below 3 GiB from 0x%llx",
			boot_fmt_size(need, li->init_size), (unsigned long long)li->load_addr);
	}
	uint64_t end = li->load_addr + li->init_size;
	if (end > gm_low_ram_end(gm)) {
		char need[32], have[32];
		uint64_t mib = (end + (1ULL << 20) - 1) >> 20;
		return boot_errf(
			err, img,
			"the kernel is too large for guest RAM (%s): loaded at 0x%llx with "
			"init_size %llu bytes it needs --mem %s or more",
			boot_fmt_size(have, gm->size), (unsigned long long)li->load_addr,
			(unsigned long long)li->init_size, boot_fmt_size(need, mib << 20));
	}
	return boot_check_load_range(gm, img, "kernel", li->load_addr, li->init_size, err);
}

/* Identity map of [0, 4 GiB) with 2 MiB pages: enough for the kernel, the
 * zero page, the command line and the initrd, all below 4 GiB. */
static int write_page_tables(struct guest_mem *gm, uint64_t pml4, struct vmon_error *err)
{
	uint8_t *pt = gm_ptr(gm, pml4, LINUX_PT_SIZE);
	if (!pt)
		return err_setf(err, "cannot write the boot page tables at 0x%llx: not guest RAM",
				(unsigned long long)pml4);
	enum { P = 1, RW = 2, PS = 0x80 };
	memset(pt, 0, LINUX_PT_SIZE);
	put64(pt, (pml4 + LINUX_PT_PDPT) | P | RW);
	uint8_t *pdpt = pt + LINUX_PT_PDPT;
	uint8_t *pd = pt + LINUX_PT_PD;
	for (uint64_t i = 0; i < 4; i++) {
		put64(pdpt + 8 * i, (pml4 + LINUX_PT_PD + i * 0x1000) | P | RW);
		for (uint64_t j = 0; j < 512; j++) {
			uint64_t addr = (i << 30) | (j << 21);
			put64(pd + i * 0x1000 + j * 8, addr | P | RW | PS);
		}
	}
	return 0;
}

static int linux_load(struct guest_mem *gm, const struct boot_config *cfg,
		      const struct boot_image *img, struct boot_cpu_state *cpu,
		      struct boot_info *info, struct vmon_error *err)
{
	struct linux_image li;
	if (parse(img, gm, &li, err) < 0)
		return -1;

	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t cmdlen = strlen(cmdline);
	if (cmdlen > li.cmdline_size)
		return boot_errf(err, img,
				 "the command line is %zu bytes long; this kernel takes at most %u "
				 "(cmdline_size)",
				 cmdlen, li.cmdline_size);

	/* Everything checked: now write guest RAM. */
	uint8_t *dst = gm_ptr(gm, li.load_addr, li.init_size);
	if (!dst) /* checked by parse() */
		return boot_errf(err, img, "0x%llx is not guest RAM",
				 (unsigned long long)li.load_addr);
	if (boot_area_place(gm, img, err) < 0)
		return -1;
	memcpy(dst, img->data + li.setup_size, li.kernel_size);
	if (boot_write_cmdline(gm, cfg, img, err) < 0)
		return -1;

	uint8_t bp[LINUX_BP_SIZE];
	memset(bp, 0, sizeof(bp));
	memcpy(bp + LINUX_HDR_START, img->data + LINUX_HDR_START, li.hdr_end - LINUX_HDR_START);
	bp[LINUX_TYPE_OF_LOADER] = LINUX_LOADER_TYPE;
	bp[LINUX_LOADFLAGS] &= (uint8_t)~LINUX_CAN_USE_HEAP; /* no real-mode heap */
	put16(bp + LINUX_HEAP_END_PTR, 0);
	put16(bp + LINUX_VID_MODE, 0xffff); /* "normal": no video mode was set */
	put32(bp + LINUX_CODE32_START, (uint32_t)li.load_addr);
	put32(bp + LINUX_CMD_LINE_PTR, (uint32_t)boot_gpa(img, BOOT_OFF_CMDLINE));
	put32(bp + LINUX_BP_EXT_CMD_LINE_PTR, 0);

	if (cfg->initrd_path) {
		/* initrd_addr_max is the highest byte the initrd may use. */
		uint64_t max_end = (uint64_t)li.initrd_addr_max + 1;
		uint64_t gpa, size;
		if (boot_load_initrd(gm, cfg, li.load_addr + li.init_size, max_end, &gpa, &size,
				     err) < 0)
			return -1;
		put32(bp + LINUX_RAMDISK_IMAGE, (uint32_t)gpa);
		put32(bp + LINUX_RAMDISK_SIZE, (uint32_t)size);
		put32(bp + LINUX_BP_EXT_RAMDISK_IMG, (uint32_t)(gpa >> 32));
		put32(bp + LINUX_BP_EXT_RAMDISK_SIZE, (uint32_t)(size >> 32));
		info->initrd_start = gpa;
		info->initrd_size = size;
	}

	struct e820_entry map[E820_MAX_ENTRIES];
	int n = e820_build(gm, map);
	_Static_assert(E820_MAX_ENTRIES <= LINUX_BP_E820_MAX, "e820 table room");
	bp[LINUX_BP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		uint8_t *e = bp + LINUX_BP_E820_TABLE + i * LINUX_BP_E820_ENTRY_SIZE;
		put64(e, map[i].addr);
		put64(e + 8, map[i].size);
		put32(e + 16, map[i].type);
	}
	uint64_t upper_k = e820_upper_ram(gm) >> 10;
	put32(bp + LINUX_BP_ALT_MEM_K, upper_k > UINT32_MAX ? UINT32_MAX : (uint32_t)upper_k);
	if (cfg->acpi_rsdp && li.version >= LINUX_VERSION_ACPI_RSDP)
		put64(bp + LINUX_BP_ACPI_RSDP_ADDR, cfg->acpi_rsdp);

	uint64_t zero_page = boot_gpa(img, BOOT_OFF_INFO), pml4 = boot_gpa(img, BOOT_OFF_PGTABLE);
	if (gm_write(gm, zero_page, bp, sizeof(bp)) < 0)
		return err_setf(err, "cannot write the Linux boot_params at 0x%llx",
				(unsigned long long)zero_page);
	if (write_page_tables(gm, pml4, err) < 0)
		return -1;

	cpu->mode = BOOT_MODE_LONG64;
	cpu->rip = li.load_addr + LINUX_ENTRY64_OFFSET;
	cpu->rsi = zero_page;
	cpu->rsp = pml4; /* the kernel sets its own stack at once */
	cpu->cr3 = pml4;
	info->protocol = "linux";
	info->image_start = li.load_addr;
	info->image_end = li.load_addr + li.init_size;
	return 0;
}

const struct boot_loader boot_loader_linux = {
	.name = "linux",
	.probe = linux_probe,
	.load = linux_load,
};
