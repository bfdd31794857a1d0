/* SPDX-License-Identifier: MIT */
#include "boot/gdt.h"

#include "boot/boot.h"

/* base 0, limit 0xfffff pages; access: P, S, type (code 0xb = execute/read
 * accessed, data 0x3 = read/write accessed); flags: G, D/B or L. */
#define GDT_CODE64 0x00af9b000000ffffULL
#define GDT_CODE32 0x00cf9b000000ffffULL
#define GDT_DATA   0x00cf93000000ffffULL

uint64_t boot_gdt_descriptor(uint16_t selector)
{
	switch (selector & ~7u) {
	case BOOT_SEL_CODE64: return GDT_CODE64;
	case BOOT_SEL_CODE32: return GDT_CODE32;
	case BOOT_SEL_DATA: return GDT_DATA;
	default: return 0;
	}
}

int boot_gdt_setup(struct guest_mem *gm, uint64_t gpa, struct boot_cpu_state *cpu,
		   struct vmon_error *err)
{
	uint8_t gdt[BOOT_GDT_ENTRIES * 8];
	for (unsigned i = 0; i < BOOT_GDT_ENTRIES; i++) {
		uint64_t d = boot_gdt_descriptor((uint16_t)(i * 8));
		for (unsigned b = 0; b < 8; b++)
			gdt[i * 8 + b] = (uint8_t)(d >> (8 * b));
	}
	if (gm_write(gm, gpa, gdt, sizeof(gdt)) < 0)
		return err_setf(err, "cannot write the boot GDT at 0x%llx: not guest RAM",
				(unsigned long long)gpa);
	cpu->gdt_base = gpa;
	cpu->gdt_limit = sizeof(gdt) - 1;
	return 0;
}
