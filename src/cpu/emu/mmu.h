/* SPDX-License-Identifier: MIT */
/*
 * The MMU: page walks (32-bit, PAE, 4-level; 4 KiB to 1 GiB pages), the
 * per-vCPU software TLB (cpu.h: struct tlb_entry), and linear and
 * physical accesses, which end in guest RAM, the vCPU's LAPIC, the IOAPIC
 * or the MMIO bus. A failed translation raises #PF (or #GP for a
 * non-canonical address) through fault.h. Owning vCPU thread only.
 */
#ifndef VMON_CPU_EMU_MMU_H
#define VMON_CPU_EMU_MMU_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/emu/cpu.h"
#include "cpu/emu/tlb.h" /* tlb_flush & co., for the MMU's users */

/* acc's flag for an implicit supervisor-mode access (GDT, LDT, IDT, TSS):
 * SMAP checks it whatever EFLAGS.AC says. */
#define MMU_IMPLICIT 0x10
/* Translates; raises #PF on failure. acc: 0 read, 1 write, 2 fetch, with
 * MMU_IMPLICIT or'ed in for an implicit access (user false). A data
 * access to a page whose protection key PKRU restricts returns the
 * vCPU's scratch entry: use it at once, it is not in the TLB. */
struct tlb_entry *mmu_lookup(struct emu_cpu *c, uint64_t lin, int acc, bool user);
uint64_t lin_read(struct emu_cpu *c, uint64_t lin, unsigned size);
void lin_write(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v);
/* Implicit supervisor-mode accesses to system structures (descriptor
 * tables, the TSS), whatever the CPL. */
uint64_t lin_read_sys(struct emu_cpu *c, uint64_t lin, unsigned size);
void lin_write_sys(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v);
/* Event delivery's stack pushes: supervisor-mode, explicit from CPL < 3
 * (SMAP honours EFLAGS.AC, as QEMU), implicit from CPL 3. */
void lin_write_deliver(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v);
/* Host pointer for an aligned-enough RMW of size bytes within one page, or
 * NULL (MMIO or page-crossing: caller falls back to read+write). */
void *lin_rmw_ptr(struct emu_cpu *c, uint64_t lin, unsigned size);
uint64_t phys_read(struct emu_cpu *c, uint64_t gpa, unsigned size);
void phys_write(struct emu_cpu *c, uint64_t gpa, unsigned size, uint64_t v);

/* A store into a page marked as holding code (emu_note_write): ends the
 * running block if the page is its own, advances this vCPU's code epoch
 * if it holds code there, and tells the other vCPUs that do. */
void emu_code_written(struct emu_cpu *c, const uint8_t *page, uint64_t pfn);

/*
 * Called with the host page of every guest-RAM write the CPU makes: a
 * write into the page of the running block may change instructions the
 * block has yet to run (code that patches its next instruction), so the
 * block ends after this instruction and the next lookup re-checks bytes;
 * a write into a page where any vCPU holds code makes that vCPU compare
 * its blocks again (emu_code_written, only for pages marked in
 * emu_vm.code_pages).
 */
static inline void emu_note_write(struct emu_cpu *c, const uint8_t *page, uint64_t gpa)
{
	uint64_t pfn = gpa >> 12;
	if (__builtin_expect(pfn < c->vm->code_pages_len &&
				     __atomic_load_n(&c->vm->code_pages[pfn], __ATOMIC_RELAXED),
			     0))
		emu_code_written(c, page, pfn);
}

#endif
