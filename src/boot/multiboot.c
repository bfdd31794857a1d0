/* SPDX-License-Identifier: MIT */
/* Multiboot v1: ELF images loaded by their program headers, or any image
 * loaded by the header's address fields (the "a.out kludge"). */
#include "boot/multiboot.h"

#include <stdio.h>
#include <string.h>

#include "boot/boot_priv.h"
#include "boot/e820.h"

/* Returns the file offset of a valid header (magic + checksum) in the first
 * 8 KiB, 4-byte aligned, or -1. */
static int64_t find_header(const struct boot_image *img)
{
	uint64_t limit = img->size < MULTIBOOT_SEARCH ? img->size : MULTIBOOT_SEARCH;
	for (uint64_t off = 0; off + 12 <= limit; off += 4) {
		const uint8_t *p = img->data + off;
		uint32_t magic = elf_le32(p), flags = elf_le32(p + 4), sum = elf_le32(p + 8);
		if (magic == MULTIBOOT_HEADER_MAGIC && (uint32_t)(magic + flags + sum) == 0)
			return (int64_t)off;
	}
	return -1;
}

static int mb_probe(const struct boot_image *img, const struct boot_config *cfg,
		    struct vmon_error *why)
{
	return find_header(img) >= 0;
}

/* a.out kludge: the header's address fields say where the file goes. */
static int load_aout(struct guest_mem *gm, const struct boot_image *img, uint64_t hoff,
		     const struct multiboot_header *h, uint64_t *start, uint64_t *end,
		     uint64_t *entry, struct vmon_error *err)
{
	uint64_t header_addr = h->header_addr, load_addr = h->load_addr;
	if (header_addr < load_addr)
		return boot_errf(err, img, "multiboot header_addr 0x%llx is below load_addr 0x%llx",
				 (unsigned long long)header_addr, (unsigned long long)load_addr);
	if (header_addr - load_addr > hoff)
		return boot_errf(err, img,
				 "multiboot load_addr 0x%llx would start 0x%llx bytes before the "
				 "header, but the header is at file offset 0x%llx",
				 (unsigned long long)load_addr,
				 (unsigned long long)(header_addr - load_addr),
				 (unsigned long long)hoff);
	uint64_t load_off = hoff - (header_addr - load_addr);
	uint64_t avail = img->size - load_off; /* load_off <= hoff < size */
	uint64_t load_end;
	if (h->load_end_addr == 0) {
		load_end = load_addr + avail;
	} else {
		load_end = h->load_end_addr;
		if (load_end <= load_addr)
			return boot_errf(err, img,
					 "multiboot load_end_addr 0x%llx is not above load_addr "
					 "0x%llx",
					 (unsigned long long)load_end,
					 (unsigned long long)load_addr);
		if (load_end - load_addr > avail)
			return boot_errf(err, img,
					 "multiboot load_end_addr 0x%llx needs 0x%llx bytes from "
					 "file offset 0x%llx, but the file has only 0x%llx",
					 (unsigned long long)load_end,
					 (unsigned long long)(load_end - load_addr),
					 (unsigned long long)load_off, (unsigned long long)avail);
	}
	if (load_end > E820_4G)
		return boot_errf(err, img, "multiboot image [0x%llx-0x%llx) extends above 4 GiB",
				 (unsigned long long)load_addr, (unsigned long long)load_end);
	uint64_t bss_end = load_end;
	if (h->bss_end_addr != 0) {
		if (h->bss_end_addr < load_end)
			return boot_errf(
				err, img,
				"multiboot bss_end_addr 0x%x is below load_end_addr 0x%llx",
				h->bss_end_addr, (unsigned long long)load_end);
		bss_end = h->bss_end_addr;
	}
	if (h->entry_addr < load_addr || h->entry_addr >= bss_end)
		return boot_errf(err, img,
				 "multiboot entry_addr 0x%x lies outside the image [0x%llx-0x%llx)",
				 h->entry_addr, (unsigned long long)load_addr,
				 (unsigned long long)bss_end);
	if (boot_check_load_range(gm, img, "image", load_addr, bss_end - load_addr, err) < 0)
		return -1;
	uint8_t *dst = gm_ptr(gm, load_addr, bss_end - load_addr);
	if (!dst) /* checked above */
		return boot_errf(err, img, "image: not guest RAM");
	memcpy(dst, img->data + load_off, load_end - load_addr);
	memset(dst + (load_end - load_addr), 0, bss_end - load_end);
	*start = load_addr;
	*end = bss_end;
	*entry = h->entry_addr;
	return 0;
}

static int load_elf(struct guest_mem *gm, const struct boot_image *img, uint64_t *start,
		    uint64_t *end, uint64_t *entry, struct vmon_error *err)
{
	struct elf_file ef;
	struct vmon_error inner;
	if (!elf_is_elf(img->data, img->size))
		return boot_errf(err, img,
				 "multiboot header has no address fields (flag 16) and the file "
				 "is not ELF");
	if (elf_parse(&ef, img->data, img->size, &inner) < 0)
		return boot_errf(err, img, "%s", inner.msg);
	if (boot_load_elf_segments(gm, img, &ef, start, end, err) < 0)
		return -1;
	if (*end > E820_4G)
		return boot_errf(err, img,
				 "multiboot ELF image [0x%llx-0x%llx) extends above 4 GiB",
				 (unsigned long long)*start, (unsigned long long)*end);
	/* e_entry is a virtual address; translate it like the program headers
	 * translate their segments if it falls in a segment's virtual range. */
	uint64_t e = ef.entry;
	for (unsigned i = 0; i < ef.phnum; i++) {
		struct elf_phdr ph;
		if (elf_get_phdr(&ef, i, &ph, &inner) < 0)
			return boot_errf(err, img, "%s", inner.msg);
		if (ph.type == ELF_PT_LOAD && ph.vaddr != ph.paddr && e >= ph.vaddr &&
		    e - ph.vaddr < ph.memsz) {
			e = ph.paddr + (e - ph.vaddr);
			break;
		}
	}
	if (!boot_elf_paddr_loaded(&ef, e))
		return boot_errf(err, img,
				 "multiboot entry point 0x%llx is not inside a loaded segment",
				 (unsigned long long)e);
	if (e > UINT32_MAX)
		return boot_errf(err, img, "multiboot entry point 0x%llx is above 4 GiB",
				 (unsigned long long)e);
	*entry = e;
	return 0;
}

static int mb_load(struct guest_mem *gm, const struct boot_config *cfg,
		   const struct boot_image *img, struct boot_cpu_state *cpu, struct boot_info *info,
		   struct vmon_error *err)
{
	int64_t hoff = find_header(img);
	if (hoff < 0)
		return boot_errf(err, img, "no multiboot header");
	struct multiboot_header h;
	memset(&h, 0, sizeof(h));
	uint64_t avail = img->size - (uint64_t)hoff;
	memcpy(&h, img->data + hoff, avail < sizeof(h) ? avail : sizeof(h));

	uint32_t unsupported = h.flags & MB_HDR_REQUIRED_MASK & ~MB_HDR_SUPPORTED;
	if (unsupported)
		return boot_errf(err, img,
				 "multiboot header requires features vmon lacks (flags 0x%x)",
				 unsupported);

	uint64_t start = 0, end = 0, entry = 0;
	bool aout = h.flags & MB_HDR_AOUT_KLUDGE;
	if (aout) {
		if (avail < 32)
			return boot_errf(
				err, img,
				"multiboot header at file offset 0x%llx is truncated (address "
				"fields missing)",
				(unsigned long long)hoff);
		if (load_aout(gm, img, (uint64_t)hoff, &h, &start, &end, &entry, err) < 0)
			return -1;
	} else if (load_elf(gm, img, &start, &end, &entry, err) < 0) {
		return -1;
	}
	if (boot_area_place(gm, img, err) < 0 || boot_write_cmdline(gm, cfg, img, err) < 0)
		return -1;

	struct multiboot_info mbi;
	memset(&mbi, 0, sizeof(mbi));
	mbi.flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MEM_MAP |
		    MB_INFO_BOOT_LOADER_NAME;
	mbi.mem_lower = (uint32_t)(e820_lower_ram(gm) >> 10);
	uint64_t upper = e820_upper_ram(gm) >> 10;
	mbi.mem_upper = upper > UINT32_MAX ? UINT32_MAX : (uint32_t)upper;
	mbi.cmdline = (uint32_t)boot_gpa(img, BOOT_OFF_CMDLINE);
	mbi.mods_addr = (uint32_t)boot_gpa(img, BOOT_OFF_MODLIST);

	if (cfg->initrd_path) {
		size_t slen = strlen(cfg->initrd_path);
		if (slen >= BOOT_MODSTR_MAX)
			return err_setf(err, "initrd path is too long (%zu bytes)", slen);
		uint64_t gpa, size;
		if (boot_load_initrd(gm, cfg, end, E820_4G, &gpa, &size, err) < 0)
			return -1;
		struct multiboot_mod mod = {
			.mod_start = (uint32_t)gpa,
			.mod_end = (uint32_t)(gpa + size),
			.string = (uint32_t)boot_gpa(img, BOOT_OFF_MODSTR),
		};
		if (gm_write(gm, boot_gpa(img, BOOT_OFF_MODSTR), cfg->initrd_path, slen + 1) < 0 ||
		    gm_write(gm, boot_gpa(img, BOOT_OFF_MODLIST), &mod, sizeof(mod)) < 0)
			return err_setf(err, "cannot write the multiboot module list");
		mbi.mods_count = 1;
		info->initrd_start = gpa;
		info->initrd_size = size;
	}

	struct e820_entry map[E820_MAX_ENTRIES];
	int n = e820_build(gm, map);
	struct multiboot_mmap_entry mm[E820_MAX_ENTRIES];
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < n; i++)
		mm[i] = (struct multiboot_mmap_entry){.size = sizeof(mm[0]) - 4,
						      .addr = map[i].addr,
						      .len = map[i].size,
						      .type = map[i].type};
	mbi.mmap_addr = (uint32_t)boot_gpa(img, BOOT_OFF_MEMMAP);
	mbi.mmap_length = (uint32_t)((size_t)n * sizeof(mm[0]));
	mbi.boot_loader_name = (uint32_t)boot_gpa(img, BOOT_OFF_LOADER_NAME);

	static const char name[] = "vmon";
	if (gm_write(gm, boot_gpa(img, BOOT_OFF_MEMMAP), mm, mbi.mmap_length) < 0 ||
	    gm_write(gm, boot_gpa(img, BOOT_OFF_LOADER_NAME), name, sizeof(name)) < 0 ||
	    gm_write(gm, boot_gpa(img, BOOT_OFF_INFO), &mbi, sizeof(mbi)) < 0)
		return err_setf(err, "cannot write the multiboot information");

	cpu->mode = BOOT_MODE_PROT32;
	cpu->rip = entry;
	cpu->rax = MULTIBOOT_BOOTLOADER_MAGIC;
	cpu->rbx = boot_gpa(img, BOOT_OFF_INFO);
	info->protocol = aout ? "multiboot-aout" : "multiboot";
	info->image_start = start;
	info->image_end = end;
	return 0;
}

const struct boot_loader boot_loader_multiboot = {
	.name = "multiboot",
	.probe = mb_probe,
	.load = mb_load,
};
