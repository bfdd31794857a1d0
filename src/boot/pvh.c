/* SPDX-License-Identifier: MIT */
/* PVH: an ELF with a Xen PHYS32_ENTRY note, entered in 32-bit protected
 * mode with EBX = hvm_start_info. */
#include "boot/pvh.h"

#include <string.h>

#include "boot/boot_priv.h"
#include "boot/e820.h"

/* Finds the PVH entry note. Returns 1 (and *desc, *descsz), 0 if absent,
 * -1 with err set (no file prefix) if the ELF or its notes are malformed. */
static int find_pvh_note(const struct boot_image *img, struct elf_file *ef, const uint8_t **desc,
			 uint32_t *descsz, struct vmon_error *err)
{
	if (elf_parse(ef, img->data, img->size, err) < 0)
		return -1;
	return elf_find_note(ef, PVH_NOTE_NAME, XEN_ELFNOTE_PHYS32_ENTRY, desc, descsz, err);
}

static int pvh_probe(const struct boot_image *img, const struct boot_config *cfg,
		     struct vmon_error *why)
{
	if (!elf_is_elf(img->data, img->size))
		return 0;
	struct elf_file ef;
	const uint8_t *desc;
	uint32_t descsz;
	struct vmon_error inner;
	int r = find_pvh_note(img, &ef, &desc, &descsz, &inner);
	if (r < 0) {
		boot_errf(why, img, "%s", inner.msg);
		return 0;
	}
	if (r == 0) {
		boot_errf(why, img,
			  "ELF has no PVH entry note (Xen XEN_ELFNOTE_PHYS32_ENTRY) and no "
			  "multiboot header");
		return 0;
	}
	return 1;
}

static int pvh_load(struct guest_mem *gm, const struct boot_config *cfg,
		    const struct boot_image *img, struct boot_cpu_state *cpu,
		    struct boot_info *info, struct vmon_error *err)
{
	struct elf_file ef;
	const uint8_t *desc;
	uint32_t descsz;
	struct vmon_error inner;

	int r = find_pvh_note(img, &ef, &desc, &descsz, &inner);
	if (r < 0)
		return boot_errf(err, img, "%s", inner.msg);
	if (r == 0)
		return boot_errf(err, img, "ELF has no PVH entry note");
	uint64_t entry;
	if (descsz == 4)
		entry = elf_le32(desc);
	else if (descsz == 8)
		entry = elf_le64(desc);
	else
		return boot_errf(err, img,
				 "PVH entry note has a %u-byte descriptor (expected 4 or 8)",
				 descsz);
	if (entry > UINT32_MAX)
		return boot_errf(err, img, "PVH entry point 0x%llx is above 4 GiB",
				 (unsigned long long)entry);

	uint64_t start, end;
	if (boot_load_elf_segments(gm, img, &ef, &start, &end, err) < 0)
		return -1;
	if (!boot_elf_paddr_loaded(&ef, entry))
		return boot_errf(err, img, "PVH entry point 0x%llx is not inside a loaded segment",
				 (unsigned long long)entry);
	if (boot_area_place(gm, img, err) < 0 || boot_write_cmdline(gm, cfg, img, err) < 0)
		return -1;

	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = HVM_START_VERSION,
		.flags = 0,
		.cmdline_paddr = boot_gpa(img, BOOT_OFF_CMDLINE),
		.rsdp_paddr = cfg->acpi_rsdp,
		.memmap_paddr = boot_gpa(img, BOOT_OFF_MEMMAP),
	};

	if (cfg->initrd_path) {
		uint64_t gpa, size;
		if (boot_load_initrd(gm, cfg, end, E820_4G, &gpa, &size, err) < 0)
			return -1;
		struct hvm_modlist_entry mod = {.paddr = gpa, .size = size};
		if (gm_write(gm, boot_gpa(img, BOOT_OFF_MODLIST), &mod, sizeof(mod)) < 0)
			return err_setf(err, "cannot write the PVH module list");
		si.nr_modules = 1;
		si.modlist_paddr = boot_gpa(img, BOOT_OFF_MODLIST);
		info->initrd_start = gpa;
		info->initrd_size = size;
	}

	struct e820_entry map[E820_MAX_ENTRIES];
	int n = e820_build(gm, map);
	struct hvm_memmap_table_entry mm[E820_MAX_ENTRIES];
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_table_entry){
			.addr = map[i].addr, .size = map[i].size, .type = map[i].type};
	si.memmap_entries = (uint32_t)n;
	if (gm_write(gm, boot_gpa(img, BOOT_OFF_MEMMAP), mm, (uint64_t)n * sizeof(mm[0])) < 0 ||
	    gm_write(gm, boot_gpa(img, BOOT_OFF_INFO), &si, sizeof(si)) < 0)
		return err_setf(err, "cannot write the PVH start info");

	cpu->mode = BOOT_MODE_PROT32;
	cpu->rip = entry;
	cpu->rbx = boot_gpa(img, BOOT_OFF_INFO);
	info->protocol = "pvh";
	info->image_start = start;
	info->image_end = end;
	return 0;
}

const struct boot_loader boot_loader_pvh = {
	.name = "pvh",
	.probe = pvh_probe,
	.load = pvh_load,
};
