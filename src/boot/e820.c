/* SPDX-License-Identifier: MIT */
#include "boot/e820.h"

static int add(struct e820_entry *map, int n, uint64_t addr, uint64_t end, uint32_t type)
{
	if (end <= addr || n >= E820_MAX_ENTRIES)
		return n;
	map[n] = (struct e820_entry){.addr = addr, .size = end - addr, .type = type};
	return n + 1;
}

int e820_build(const struct guest_mem *gm, struct e820_entry map[E820_MAX_ENTRIES])
{
	uint64_t low_end = gm_low_ram_end(gm);
	int n = 0;

	n = add(map, n, 0, low_end < E820_EBDA_START ? low_end : E820_EBDA_START, E820_RAM);
	n = add(map, n, E820_EBDA_START, E820_BIOS_END, E820_RESERVED);
	n = add(map, n, E820_BIOS_END, low_end, E820_RAM);
	n = add(map, n, GM_LOW_RAM_END, E820_4G, E820_RESERVED);
	for (int i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (r->gpa >= E820_4G)
			n = add(map, n, r->gpa, r->gpa + r->size, E820_RAM);
	}
	return n;
}

uint64_t e820_lower_ram(const struct guest_mem *gm)
{
	uint64_t low_end = gm_low_ram_end(gm);
	return low_end < E820_EBDA_START ? low_end : E820_EBDA_START;
}

uint64_t e820_upper_ram(const struct guest_mem *gm)
{
	uint64_t low_end = gm_low_ram_end(gm);
	return low_end > E820_BIOS_END ? low_end - E820_BIOS_END : 0;
}
