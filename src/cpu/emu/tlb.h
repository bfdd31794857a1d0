/* SPDX-License-Identifier: MIT */
/*
 * The software TLB's invalidation (tlb.c): which translations a CR3
 * write, INVLPG, INVPCID or a control-register change drops. Entries are
 * tagged with the PCID they were made under (cpu.h: struct tlb_entry), so
 * Linux's PTI CR3 switches (bit 63 set: keep the PCID's translations) no
 * longer empty the TLB; global translations (PTE.G with CR4.PGE) outlive
 * non-global flushes. The page walk and the fills are mmu.c's. Owning
 * vCPU thread only.
 */
#ifndef VMON_CPU_EMU_TLB_H
#define VMON_CPU_EMU_TLB_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/emu/cpu.h"

/* Every translation, global ones included (CR0/CR4/EFER.NXE writes,
 * INVPCID type 2, reset, state restore, migration's dirty log). */
void tlb_flush(struct emu_cpu *c);
/* INVLPG: lin's translations (every PCID's, global ones too, the whole
 * page when it is a large one). */
void tlb_flush_page(struct emu_cpu *c, uint64_t lin);
/* After c->cr3 took v's address and PCID; keep: CR4.PCIDE and v's bit 63
 * (the new PCID's translations stay), else that PCID's non-global ones go. */
void tlb_cr3_written(struct emu_cpu *c, bool keep);
/* INVPCID of a checked type (0 address, 1 PCID, 2 all, 3 all but global). */
void tlb_invpcid(struct emu_cpu *c, unsigned type, uint16_t pcid, uint64_t lin);

/* A miss at e (lin's slot): the global translation of lin, copied into e
 * under the current tag, or NULL. */
struct tlb_entry *tlb_global_lookup(struct emu_cpu *c, uint64_t lin, struct tlb_entry *e);
/* e, just filled for lin from a global leaf: kept for other PCIDs too. */
void tlb_global_fill(struct emu_cpu *c, uint64_t lin, const struct tlb_entry *e);

#endif
