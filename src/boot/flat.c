/* SPDX-License-Identifier: MIT */
/* Flat binary: the whole file at --load-addr, entered there in 32-bit
 * protected mode. No boot information beyond the command line in the
 * boot area. */
#include "boot/boot_priv.h"

static int flat_probe(const struct boot_image *img, const struct boot_config *cfg,
		      struct vmon_error *why)
{
	return cfg->has_load_addr;
}

static int flat_load(struct guest_mem *gm, const struct boot_config *cfg,
		     const struct boot_image *img, struct boot_cpu_state *cpu,
		     struct boot_info *info, struct vmon_error *err)
{
	uint64_t addr = cfg->load_addr;
	if (cfg->initrd_path)
		return boot_errf(err, img,
				 "a flat binary cannot take an initrd (no boot protocol "
				 "to pass it)");
	if (boot_check_load_range(gm, img, "image", addr, img->size, err) < 0)
		return -1;
	if (addr > UINT32_MAX)
		return boot_errf(err, img,
				 "load address 0x%llx is above 4 GiB (entry is in 32-bit "
				 "protected mode)",
				 (unsigned long long)addr);
	if (gm_write(gm, addr, img->data, img->size) < 0)
		return boot_errf(err, img, "image: not guest RAM");
	if (boot_area_place(gm, img, err) < 0 || boot_write_cmdline(gm, cfg, img, err) < 0)
		return -1;
	cpu->mode = BOOT_MODE_PROT32;
	cpu->rip = addr;
	info->protocol = "flat";
	info->image_start = addr;
	info->image_end = addr + img->size;
	return 0;
}

const struct boot_loader boot_loader_flat = {
	.name = "flat",
	.probe = flat_probe,
	.load = flat_load,
};
