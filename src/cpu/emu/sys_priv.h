/* SPDX-License-Identifier: MIT */
/*
 * Shared by the sys_*.c files (not for outside the system floor):
 * descriptors, segment-register loads for control transfers, and the
 * system-privileged stack accesses of delivery and returns.
 */
#ifndef VMON_CPU_EMU_SYS_PRIV_H
#define VMON_CPU_EMU_SYS_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/emu/cpu.h"

/* A segment descriptor as read from the GDT/LDT. */
struct desc {
	uint64_t raw;
	uint64_t base;
	uint32_t limit;
	uint16_t attr;
	uint64_t lin; /* where it lives */
};

/* Reads sel's descriptor; raises exc(sel) when it is outside the table. */
void read_desc(struct emu_cpu *c, uint16_t sel, struct desc *d, int exc);
/* Sets the accessed bit of d in the table (and in d). */
void mark_accessed(struct emu_cpu *c, struct desc *d);
/* A code segment's descriptor for a control transfer: #GP(err) for a null
 * selector, #GP/#NP for one that is not present code. */
void code_desc(struct emu_cpu *c, uint16_t sel, struct desc *d, uint32_t err);
/* Loads CS for a control transfer at privilege cpl (already checked). */
void load_cs(struct emu_cpu *c, uint16_t sel, const struct desc *d, int cpl);
void set_seg(struct seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint16_t attr);
/* Pushes/pops at SS base + *sp (wrapping in spmask) with CPL 0 access. */
void push_sys(struct emu_cpu *c, uint64_t *sp, unsigned size, uint64_t v, uint64_t ss_base,
	      uint64_t spmask);
uint64_t pop_sys(struct emu_cpu *c, uint64_t *sp, unsigned size, uint64_t ss_base, uint64_t spmask);

static inline bool canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v;
}

#endif
