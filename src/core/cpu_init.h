/* SPDX-License-Identifier: MIT */
/*
 * The initial state of the boot vCPU: the contract between the boot
 * loaders (which decide it) and the CPU backends (which load it into their
 * registers). Application processors start in the reset state and wait for
 * INIT/SIPI from the guest.
 */
#ifndef VMON_CORE_CPU_INIT_H
#define VMON_CORE_CPU_INIT_H

#include <stdint.h>

/* GDT selectors vmon sets up for protected/long-mode entry. */
#define BOOT_SEL_CODE64 0x08
#define BOOT_SEL_CODE32 0x10
#define BOOT_SEL_DATA	0x18

enum boot_cpu_mode {
	BOOT_MODE_REAL16, /* CS:IP from real_cs/rip, all other segments 0 */
	BOOT_MODE_PROT32, /* flat 4 GiB CS/DS/ES/SS, CR0.PE, no paging */
	BOOT_MODE_LONG64, /* CR0.PG|PE, CR4.PAE, EFER.LME|LMA, CR3 = cr3 */
};

struct boot_cpu_state {
	enum boot_cpu_mode mode;
	uint64_t rip;
	uint64_t rsp;
	uint64_t rax, rbx, rsi;
	uint64_t cr3;	   /* LONG64 only */
	uint16_t real_cs;  /* REAL16 only */
	uint64_t gdt_base; /* PROT32/LONG64: GDT vmon wrote to guest RAM */
	uint16_t gdt_limit;
};

#endif
