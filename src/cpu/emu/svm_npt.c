/* SPDX-License-Identifier: MIT */
/*
 * SVM nested paging (svm.h): the second dimension of an SVM guest's
 * address translation. With NP_ENABLE every guest-physical address the
 * guest uses -- its page-table entries (mmu.c: pte_ptr) and the pages
 * its translations end in (mmu.c: mmu_lookup) -- goes through the host's
 * nested page table at n_CR3: 4-level long-mode format, 4 KiB, 2 MiB and
 * 1 GiB pages, accesses counted as user accesses (APM 15.25.5) and guest
 * page-table accesses as writes, NX with
 * the host's EFER.NXE, A and D bits set as the walk goes. A miss or a
 * permission fault is #VMEXIT(NPF): EXITINFO1 the #PF-style error code
 * (P, RW, US, RSVD, ID) with bit 32 for the final translation or bit 33
 * for a guest page-table access, EXITINFO2 the guest-physical address.
 */
#include "core/guest_mem.h"
#include "core/guest_mem_dirty.h"
#include "cpu/emu/cpu.h"
#include "cpu/emu/svm.h"

#define NPT_P	     0x1ULL
#define NPT_W	     0x2ULL
#define NPT_U	     0x4ULL
#define NPT_A	     0x20ULL
#define NPT_D	     0x40ULL
#define NPT_PS	     0x80ULL
#define NPT_NX	     (1ULL << 63)
#define NPT_ADDR     0x000ffffffffff000ULL
#define NPT_RSVD_HI  (((1ULL << 52) - 1) & ~((1ULL << EMU_MAXPHYADDR) - 1))
#define SVM_EXIT_NPF 0x400

uint64_t svm_npt_xlate(struct emu_cpu *c, uint64_t gpa, int acc, bool table, uint32_t *perm)
{
	/* Guest page-table accesses count as writes (the walk may set A/D
	 * bits there), as QEMU reports them too. */
	if (table)
		acc = 1;
	uint64_t info =
		4 | (acc == 1 ? 2 : 0) | (acc == 2 ? 0x10 : 0) | (table ? 1ULL << 33 : 1ULL << 32);
	uint64_t t = c->svm.n_cr3 & NPT_ADDR;
	bool w = true, x = true;
	for (int lvl = 4; lvl >= 1; lvl--) {
		int shift = 12 + 9 * (lvl - 1);
		uint64_t *pp = gm_ptr_nolog(&c->m->mem, t + ((gpa >> shift) & 511) * 8, 8);
		uint64_t e = pp ? __atomic_load_n(pp, __ATOMIC_RELAXED) : 0;
		if (!(e & NPT_P))
			goto fault;
		bool big = (e & NPT_PS) && (lvl == 2 || lvl == 3);
		if ((e & NPT_RSVD_HI) || ((e & NPT_NX) && !c->svm.host_nxe) ||
		    (lvl == 4 && (e & NPT_PS)) ||
		    (big && (e & ((1ULL << shift) - 1) & ~0x1fffULL))) {
			info |= 8 | 1;
			goto fault;
		}
		if (!(e & NPT_U))
			goto prot;
		w &= (e & NPT_W) != 0;
		x &= !(c->svm.host_nxe && (e & NPT_NX));
		if (lvl == 1 || big) {
			if ((acc == 1 && !w) || (acc == 2 && !x))
				goto prot;
			uint64_t set = NPT_A | (acc == 1 ? NPT_D : 0);
			if ((e & set) != set) {
				__atomic_fetch_or(pp, set, __ATOMIC_RELAXED);
				gm_dirty_mark_host(&c->m->mem, pp);
			}
			*perm = (w && (acc == 1 || (e & NPT_D)) ? 1u : 0u) | (x ? 2u : 0u);
			uint64_t mask = (1ULL << shift) - 1;
			return (e & NPT_ADDR & ~mask) | (gpa & mask);
		}
		if (!(e & NPT_A)) {
			__atomic_fetch_or(pp, NPT_A, __ATOMIC_RELAXED);
			gm_dirty_mark_host(&c->m->mem, pp);
		}
		t = e & NPT_ADDR;
	}
prot:
	info |= 1;
fault:
	svm_vmexit_jump(c, SVM_EXIT_NPF, info, gpa);
}
