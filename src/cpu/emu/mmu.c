/* SPDX-License-Identifier: MIT */
/*
 * Memory management unit: page walks (32-bit, PAE, 4-level with 4 KiB,
 * 2/4 MiB and 1 GiB pages), the software TLB, and linear/physical
 * accesses, which end in guest RAM (through gm_ptr), the vCPU's LAPIC,
 * the IOAPIC, or the MMIO bus.
 *
 * TLB entries cache a linear page's host pointer and the permissions the
 * walk granted; write permission is only granted once the leaf's dirty bit
 * is set, so a first write always walks and sets D.
 *
 * Reserved bits (physical-address bits at or above EMU_MAXPHYADDR, the
 * unused low bits of a 2 MiB / 1 GiB / 4 MiB page's address, PS in a
 * PML4E, XD without EFER.NXE) end the walk with a #PF whose error code has
 * P and RSVD set, before any permission check, as on hardware. SMEP
 * (CR4.SMEP) makes a supervisor-mode instruction fetch from a user page a
 * #PF (P, I/D); the TLB hit path re-checks it, since entries do not depend
 * on CPL. SMAP (CR4.SMAP) makes a supervisor-mode data access to a user
 * page a #PF (P, W/R) unless EFLAGS.AC is set and the access is explicit
 * (CPL < 3); implicit accesses (descriptor tables, the TSS: MMU_IMPLICIT)
 * are checked whatever AC says. Under SMAP a user page's entry grants no
 * supervisor access (TLB_R and TLB_W clear), so every supervisor access to
 * it walks and the walk decides with the current AC: STAC/CLAC/POPF need
 * no flush. Protection keys (CR4.PKE, 4-level paging): a data access to a
 * user page whose key PKRU denies is a #PF with PK (bit 5) set; a page
 * whose key has any PKRU right cleared is not cached (the scratch entry),
 * so it walks on every access, and a PKRU change (WRPKRU, XRSTOR) flushes.
 *
 * Migration's dirty log (core/guest_mem_dirty.h): while it runs, a TLB
 * entry is writable only if it was filled by a write, and that fill marks
 * the page; a read fill drops the write permissions, so the first store
 * through it misses and fills again. Every store — the interpreter's and
 * the translator's compiled ones, which check the same permission bits —
 * therefore goes through a marking fill at least once per round: the
 * migration thread collects the bitmap, then has every vCPU flush its
 * TLB (emu_dirty_flush, backend_emu.c) before it reads the pages. The
 * walk's own A/D updates and physical writes mark their page directly.
 */
#include <stdio.h>
#include <string.h>

#include "core/ratelimit.h"
#include "cpu/emu/chip_ioapic.h"
#include "cpu/emu/chip_lapic.h"
#include "cpu/emu/fault.h"
#include "core/guest_mem_dirty.h"
#include "cpu/emu/mmu.h"
#include "cpu/emu/tlb.h"

#define PTE_P	  0x1ULL
#define PTE_W	  0x2ULL
#define PTE_U	  0x4ULL
#define PTE_A	  0x20ULL
#define PTE_D	  0x40ULL
#define PTE_PS	  0x80ULL
#define PTE_G	  0x100ULL
#define PTE_NX	  (1ULL << 63)
#define ADDR_MASK 0x000ffffffffff000ULL
/* Address bits of a PAE/4-level entry at or above MAXPHYADDR (up to bit
 * 51; bits 62:52 are ignored by the walk). */
#define PTE_RSVD_HIGH (((1ULL << 52) - 1) & ~((1ULL << EMU_MAXPHYADDR) - 1))
#define ERR_P	      0x1u
#define ERR_RSVD      0x8u
#define ERR_ID	      0x10u
#define ERR_PK	      0x20u

_Noreturn static void page_fault(struct emu_cpu *c, uint64_t lin, uint32_t err)
{
	if (__builtin_expect(c->svm.guest, 0) && (c->svm.icpt_exc & (1u << EXC_PF)))
		c->svm.pf_addr = lin; /* intercepted: CR2 stays (svm.c) */
	else
		c->cr2 = lin;
	emu_raise(c, EXC_PF, err, true);
}

/* Reads a paging-structure entry; NULL if the table is not in RAM. */
static void *pte_ptr(struct emu_cpu *c, uint64_t gpa, unsigned size)
{
	if (__builtin_expect(c->svm.npt, 0)) { /* SVM nested paging (svm_npt.c) */
		uint32_t np;
		gpa = svm_npt_xlate(c, gpa, 0, true, &np);
	}
	return gm_ptr_nolog(&c->m->mem, gpa, size);
}

/* A/D updates are stores into the table's page: the dirty log sees them. */
static void set_bits64_at(struct emu_cpu *c, void *p, uint64_t bits)
{
	__atomic_fetch_or((uint64_t *)p, bits, __ATOMIC_RELAXED);
	gm_dirty_mark_host(&c->m->mem, p);
}

static void set_bits32_at(struct emu_cpu *c, void *p, uint32_t bits)
{
	__atomic_fetch_or((uint32_t *)p, bits, __ATOMIC_RELAXED);
	gm_dirty_mark_host(&c->m->mem, p);
}
#define set_bits64(p, bits) set_bits64_at(c, p, bits)
#define set_bits32(p, bits) set_bits32_at(c, p, bits)

struct walk {
	uint64_t gpa_page;
	unsigned shift; /* the leaf's page size */
	bool rw, us, nx, dirty;
	bool global; /* the leaf's G bit (counts with CR4.PGE: tlb.c) */
	uint8_t pk;  /* PKRU's AD (1) and WD (2) bits for the leaf's key; 0 without PKE */
};

/* Walks the page tables for lin. Returns 0 on success, or a #PF error code
 * (always with bit 0 meaning "present") with the fault flag set. */
static bool do_walk(struct emu_cpu *c, uint64_t lin, int acc, bool user, bool implicit,
		    struct walk *w, uint32_t *perr)
{
	/* I/D is reported only where fetches can fault on their own: with
	 * EFER.NXE or CR4.SMEP. */
	bool id = acc == 2 && ((c->efer & EFER_NXE) || (c->cr4 & CR4_SMEP));
	uint32_t err = (acc == 1 ? 2 : 0) | (user ? 4 : 0) | (id ? ERR_ID : 0);
	w->rw = w->us = true;
	w->nx = w->global = false;
	w->pk = 0;
	bool nxe = c->efer & EFER_NXE;

	if (!(c->cr4 & CR4_PAE)) {
		/* 32-bit paging */
		uint32_t l = (uint32_t)lin;
		uint64_t a = (c->cr3 & 0xfffff000ULL) + ((l >> 22) << 2);
		uint32_t *pde = pte_ptr(c, a, 4);
		uint32_t e = pde ? __atomic_load_n(pde, __ATOMIC_RELAXED) : 0;
		if (!(e & PTE_P))
			goto fault;
		w->rw &= !!(e & PTE_W);
		w->us &= !!(e & PTE_U);
		if ((e & PTE_PS) && (c->cr4 & CR4_PSE)) {
			/* PSE-36: bits 20:13 are address bits 39:32, bit 21 is
			 * reserved (MAXPHYADDR 40). */
			if (e & (1u << 21)) {
				err |= ERR_RSVD | ERR_P;
				goto fault_err;
			}
			uint32_t set = PTE_A;
			if (acc == 1)
				set |= PTE_D;
			if ((e & set) != set)
				set_bits32(pde, set);
			w->dirty = (e & PTE_D) || acc == 1;
			w->global = (e & PTE_G) != 0;
			uint64_t base = (e & 0xffc00000ULL) | ((uint64_t)(e >> 13) & 0xff) << 32;
			w->gpa_page = base | (l & 0x3ff000);
			w->shift = 22;
			goto check;
		}
		if (!(e & PTE_A))
			set_bits32(pde, PTE_A);
		a = (e & 0xfffff000ULL) + (((l >> 12) & 0x3ff) << 2);
		uint32_t *pte = pte_ptr(c, a, 4);
		e = pte ? __atomic_load_n(pte, __ATOMIC_RELAXED) : 0;
		if (!(e & PTE_P))
			goto fault;
		w->rw &= !!(e & PTE_W);
		w->us &= !!(e & PTE_U);
		uint32_t set = PTE_A | (acc == 1 ? PTE_D : 0);
		if ((e & set) != set)
			set_bits32(pte, set);
		w->dirty = (e & PTE_D) || acc == 1;
		w->global = (e & PTE_G) != 0;
		w->gpa_page = e & 0xfffff000ULL;
		w->shift = 12;
		goto check;
	}

	int levels;
	uint64_t table;
	if (c->efer & EFER_LMA) {
		levels = 4;
		table = c->cr3 & ADDR_MASK;
	} else {
		/* PAE: the PDPTE is read here rather than cached at CR3 load. */
		uint64_t *pdpte = pte_ptr(c, (c->cr3 & 0xffffffe0ULL) + ((lin >> 30) & 3) * 8, 8);
		uint64_t e = pdpte ? *pdpte : 0;
		if (!(e & PTE_P))
			goto fault;
		if (e & PTE_RSVD_HIGH) {
			err |= ERR_RSVD | ERR_P;
			goto fault_err;
		}
		levels = 2;
		table = e & ADDR_MASK;
	}
	for (int lvl = levels; lvl >= 1; lvl--) {
		int shift = 12 + 9 * (lvl - 1);
		uint64_t *pp = pte_ptr(c, table + ((lin >> shift) & 511) * 8, 8);
		uint64_t e = pp ? __atomic_load_n(pp, __ATOMIC_RELAXED) : 0;
		if (!(e & PTE_P))
			goto fault;
		bool big = (e & PTE_PS) && (lvl == 2 || lvl == 3);
		/* Reserved: XD without NXE, address bits above MAXPHYADDR, PS in
		 * a PML4E, a large page's address bits below its alignment. */
		if (((e & PTE_NX) && !nxe) || (e & PTE_RSVD_HIGH) || (lvl == 4 && (e & PTE_PS)) ||
		    (big && (e & ((1ULL << shift) - 1) & ~0x1fffULL))) {
			err |= ERR_RSVD | ERR_P;
			goto fault_err;
		}
		w->rw &= !!(e & PTE_W);
		w->us &= !!(e & PTE_U);
		w->nx |= nxe && (e & PTE_NX);
		bool leaf = lvl == 1 || big;
		if (leaf) {
			uint64_t set = PTE_A | (acc == 1 ? PTE_D : 0);
			if ((e & set) != set)
				set_bits64(pp, set);
			w->dirty = (e & PTE_D) || acc == 1;
			w->global = (e & PTE_G) != 0;
			/* Protection keys: bits 62:59 of a 4-level leaf. */
			if (levels == 4 && (c->cr4 & CR4_PKE))
				w->pk = (uint8_t)((c->pkru >> (2 * ((e >> 59) & 15))) & 3);
			uint64_t mask = (1ULL << shift) - 1;
			w->gpa_page = ((e & ADDR_MASK & ~mask) | (lin & mask)) & ~0xfffULL;
			w->shift = (unsigned)shift;
			goto check;
		}
		if (!(e & PTE_A))
			set_bits64(pp, PTE_A);
		table = e & ADDR_MASK;
	}
check:
	/* A key PKRU restricts: AD denies data accesses, WD user writes and
	 * (with CR0.WP) supervisor writes. First, so PK is set whenever the
	 * key denies (as QEMU). */
	if (w->pk && w->us && acc != 2 &&
	    ((w->pk & 1) || (acc == 1 && (user || (c->cr0 & CR0_WP))))) {
		err |= ERR_PK;
		goto prot;
	}
	if (user && !w->us)
		goto prot;
	if (!user && w->us && acc != 2 && (c->cr4 & CR4_SMAP) && (implicit || !(c->flags & F_AC)))
		goto prot; /* SMAP */
	if (acc == 1 && !w->rw && (user || (c->cr0 & CR0_WP)))
		goto prot;
	if (acc == 2 && w->nx)
		goto prot;
	if (acc == 2 && !user && w->us && (c->cr4 & CR4_SMEP))
		goto prot;
	return true;
prot:
	err |= 1;
	goto fault_err;
fault:
fault_err:
	*perr = err;
	return false;
}

struct tlb_entry *mmu_lookup(struct emu_cpu *c, uint64_t lin, int acc, bool user)
{
	bool implicit = acc & MMU_IMPLICIT;
	acc &= 3;
	uint64_t vpn = lin >> 12;
	struct tlb_entry *e = &c->tlb[vpn & (TLB_SIZE - 1)];
	/* A global translation of another address space is one of this one
	 * too (tlb.c). */
	if (e->key == tlb_key(c, lin) || tlb_global_lookup(c, lin, e)) {
		uint32_t need = acc == 1   ? (user ? TLB_UW : TLB_W)
				: acc == 2 ? TLB_X
				: user	   ? 0
					   : TLB_R;
		if (user)
			need |= TLB_U;
		/* SMEP: a supervisor fetch from a user page walks (and faults). */
		bool smep = acc == 2 && !user && (e->perm & TLB_U) && (c->cr4 & CR4_SMEP);
		if ((e->perm & need) == need && !smep)
			return e;
	}
	if ((c->efer & EFER_LMA) && (uint64_t)((int64_t)(lin << 16) >> 16) != lin)
		emu_raise_gp(c, 0); /* non-canonical */
	c->stat_tlb_fills++;
	uint64_t gpa_page;
	uint32_t perm, shift = 12;
	bool global = false;
	if (!c->paging) {
		gpa_page = lin & ~0xfffULL;
		if (c->cmode != 8)
			gpa_page &= 0xffffffffULL;
		perm = TLB_W | TLB_U | TLB_X | TLB_UW | TLB_R;
	} else {
		struct walk w;
		uint32_t err;
		if (!do_walk(c, lin, acc, user, implicit, &w, &err))
			page_fault(c, lin, err);
		gpa_page = w.gpa_page;
		shift = w.shift;
		global = w.global && (c->cr4 & CR4_PGE);
		if (shift > 12)
			c->tlb_large = true;
		perm = 0;
		if (w.dirty && (w.rw || !(c->cr0 & CR0_WP)))
			perm |= TLB_W;
		if (w.us)
			perm |= TLB_U;
		if (w.us && w.rw && w.dirty)
			perm |= TLB_UW;
		if (!w.nx)
			perm |= TLB_X;
		/* SMAP: no supervisor data access to a user page without a
		 * walk (which looks at AC). */
		if (w.us && (c->cr4 & CR4_SMAP))
			perm &= ~(uint32_t)TLB_W;
		else
			perm |= TLB_R;
		/* A page whose key PKRU restricts walks on every access. */
		if (__builtin_expect(w.pk && w.us, 0))
			e = &c->tlb_scratch;
	}
	if (__builtin_expect(c->svm.npt, 0)) {
		/* SVM nested paging: the guest-physical page's host page, with
		 * the nested permissions (svm_npt.c); 4 KiB entries only. */
		uint32_t np;
		gpa_page = svm_npt_xlate(c, gpa_page | (lin & 0xfff), acc, false, &np) & ~0xfffULL;
		if (!(np & 1))
			perm &= ~(uint32_t)(TLB_W | TLB_UW);
		if (!(np & 2))
			perm &= ~(uint32_t)TLB_X;
		shift = 12;
	}
	/* With a data breakpoint armed every access comes here (nothing is
	 * cached for the inline paths), so each can be checked. */
	if (__builtin_expect(c->dbg_data, 0))
		e = &c->tlb_scratch;
	e->key = tlb_key(c, lin);
	e->gpa = gpa_page;
	e->host = gm_ptr_nolog(&c->m->mem, gpa_page, 4096);
	if (__builtin_expect(gm_dirty_logging(&c->m->mem), 0) && e->host) {
		if (acc == 1) /* a write the walk allowed: it happens */
			gm_dirty_mark(&c->m->mem, gpa_page);
		else
			perm &= ~(uint32_t)(TLB_W | TLB_UW);
	}
	e->perm = perm;
	e->page_shift = shift;
	if (global && e != &c->tlb_scratch)
		tlb_global_fill(c, lin, e);
	return e;
}

/* Data breakpoints (DR7 types 01 write, 11 read/write; lengths 1, 2, 4,
 * 8 aligned down): the ones an access touches, for the run loop to
 * report after the instruction (run.c: step_one). */
static void dbg_data_note(struct emu_cpu *c, uint64_t lin, unsigned size, bool write)
{
	static const uint8_t lens[4] = {1, 2, 8, 4};
	for (int i = 0; i < 4; i++) {
		unsigned type = (c->dr[7] >> (16 + 4 * i)) & 3;
		if (type != 3 && !(type == 1 && write))
			continue;
		uint64_t len = lens[(c->dr[7] >> (18 + 4 * i)) & 3];
		uint64_t a = c->dr[i] & ~(len - 1);
		if (lin < a + len && a < lin + size)
			c->dbg_hits |= (uint8_t)(1u << i);
	}
}

/* ---- Physical accesses that are not plain RAM -------------------------- */

static bool is_lapic(struct emu_cpu *c, uint64_t gpa)
{
	/* In x2APIC mode the page is not decoded: MSRs instead. */
	return (c->apic.apic_base & (APIC_BASE_EN | APIC_BASE_EXTD)) == APIC_BASE_EN &&
	       (gpa & ~0xfffULL) == (c->apic.apic_base & 0xffffff000ULL);
}

uint64_t phys_read(struct emu_cpu *c, uint64_t gpa, unsigned size)
{
	void *p = gm_ptr_nolog(&c->m->mem, gpa, size);
	if (p) {
		uint64_t v = 0;
		memcpy(&v, p, size);
		return v;
	}
	c->slow = true; /* a device access may have stopped the VM */
	if (is_lapic(c, gpa)) {
		uint32_t off = gpa & 0xfff;
		uint64_t v = lapic_read(c, off & ~3u);
		v >>= 8 * (off & 3);
		if (size == 8)
			v |= (uint64_t)lapic_read(c, (off & ~3u) + 4) << 32;
		return size >= 8 ? v : v & ((1ULL << (8 * size)) - 1);
	}
	if ((gpa & ~0xfffULL) == IOAPIC_BASE) {
		uint32_t off = gpa & 0xfff;
		uint64_t v = ioapic_read(c->vm, off & ~3u) >> (8 * (off & 3));
		return size >= 4 ? v : v & ((1ULL << (8 * size)) - 1);
	}
	uint64_t v = 0;
	if (!bus_access(&c->m->mmio, &c->mmio_hint, gpa, size, false, &v) &&
	    c->m->trace_unclaimed_io)
		guest_log("emu: unclaimed mmio read %#llx/%u", (unsigned long long)gpa, size);
	return v;
}

void phys_write(struct emu_cpu *c, uint64_t gpa, unsigned size, uint64_t v)
{
	void *p = gm_ptr_nolog(&c->m->mem, gpa, size);
	if (p) {
		memcpy(p, &v, size);
		gm_dirty_mark(&c->m->mem, gpa);
		if (((gpa + size - 1) ^ gpa) >> 12)
			gm_dirty_mark(&c->m->mem, gpa + size - 1);
		return;
	}
	c->slow = true;
	if (is_lapic(c, gpa)) {
		if ((gpa & 3) == 0)
			lapic_write(c, gpa & 0xfff, (uint32_t)v);
		return;
	}
	if ((gpa & ~0xfffULL) == IOAPIC_BASE) {
		if ((gpa & 3) == 0)
			ioapic_write(c->vm, gpa & 0xfff, (uint32_t)v);
		return;
	}
	if (!bus_access(&c->m->mmio, &c->mmio_hint, gpa, size, true, &v) &&
	    c->m->trace_unclaimed_io)
		guest_log("emu: unclaimed mmio write %#llx/%u", (unsigned long long)gpa, size);
}

/* ---- Linear accesses ------------------------------------------------- */

/* imp: 0, or MMU_IMPLICIT for an implicit supervisor access. */
static uint64_t read_priv(struct emu_cpu *c, uint64_t lin, unsigned size, bool user, int imp)
{
	unsigned off = lin & 0xfff;
	if (__builtin_expect(c->dbg_data, 0))
		dbg_data_note(c, lin, size, false);
	if (off + size <= 4096) {
		struct tlb_entry *e = mmu_lookup(c, lin, imp, user);
		if (e->host) {
			uint64_t v = 0;
			memcpy(&v, e->host + off, size);
			return v;
		}
		return phys_read(c, e->gpa | off, size);
	}
	unsigned n1 = 4096 - off;
	uint64_t lo = read_priv(c, lin, n1, user, imp);
	uint64_t hi = read_priv(c, lin + n1, size - n1, user, imp);
	return lo | hi << (8 * n1);
}

static void write_priv(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v, bool user,
		       int imp)
{
	unsigned off = lin & 0xfff;
	if (__builtin_expect(c->dbg_data, 0))
		dbg_data_note(c, lin, size, true);
	if (off + size <= 4096) {
		struct tlb_entry *e = mmu_lookup(c, lin, 1 | imp, user);
		if (e->host) {
			memcpy(e->host + off, &v, size);
			emu_note_write(c, e->host, e->gpa);
			return;
		}
		phys_write(c, e->gpa | off, size, v);
		return;
	}
	unsigned n1 = 4096 - off;
	/* Check both pages before writing either. */
	mmu_lookup(c, lin, 1 | imp, user);
	mmu_lookup(c, lin + n1, 1 | imp, user);
	write_priv(c, lin, n1, v, user, imp);
	write_priv(c, lin + n1, size - n1, v >> (8 * n1), user, imp);
}

uint64_t lin_read(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	return read_priv(c, lin, size, c->cpl == 3, 0);
}

void lin_write(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v)
{
	write_priv(c, lin, size, v, c->cpl == 3, 0);
}

uint64_t lin_read_sys(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	return read_priv(c, lin, size, false, MMU_IMPLICIT);
}

void lin_write_sys(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v)
{
	write_priv(c, lin, size, v, false, MMU_IMPLICIT);
}

void lin_write_deliver(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v)
{
	write_priv(c, lin, size, v, false, c->cpl < 3 ? 0 : MMU_IMPLICIT);
}

void *lin_rmw_ptr(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	unsigned off = lin & 0xfff;
	if (off + size > 4096)
		return NULL;
	if (__builtin_expect(c->dbg_data, 0))
		dbg_data_note(c, lin, size, true);
	struct tlb_entry *e = mmu_lookup(c, lin, 1, c->cpl == 3);
	if (!e->host)
		return NULL;
	emu_note_write(c, e->host, e->gpa); /* the caller writes through it */
	return e->host + off;
}

/*
 * Precise per-page invalidation (issue 16). The page's mark has a bit per
 * vCPU (index & 7) that may hold a block confirmed in its current code
 * epoch there. The storing vCPU advances its own epoch only if its bit is
 * set, and clears it then: its blocks are all compared again before they
 * run, and the first that matches sets the bit again (cache.h:
 * dblock_current). Other vCPUs with their bit set are told through their
 * own counter and a hint of the page (their xwrites, xwrite_pfn), taken
 * at their next slow-path visit (run.c: take_xwrites), where they advance
 * their epoch and clear their own bit on the hinted pages. So a page that
 * once held code and is now data costs each vCPU one epoch, not one per
 * store (a 2-vCPU systemd boot: 460 K own-write epochs per vCPU before,
 * README "Precise invalidation"), and a store tells only the vCPUs with
 * code there. With more than 8 vCPUs a bit stands for several, so no bit
 * is cleared and every vCPU sharing one is told.
 */
void emu_code_written(struct emu_cpu *c, const uint8_t *page, uint64_t pfn)
{
	struct emu_vm *vm = c->vm;
	uint8_t *mark = &vm->code_pages[pfn];
	uint8_t m = __atomic_load_n(mark, __ATOMIC_RELAXED);
	uint8_t own = emu_code_bit(c);
	bool shared = vm->ncpus > 8;
	if (page == c->exec_page)
		c->slow = true;
	if (m & own) {
		c->code_epoch++;
		if (!shared)
			__atomic_fetch_and(mark, (uint8_t)~own, __ATOMIC_RELAXED);
	}
	if (!(m & ~own) && !shared)
		return;
	for (int i = 0; i < vm->ncpus; i++) {
		struct emu_cpu *t = vm->cpus[i];
		if (!t || t == c || !(m & emu_code_bit(t)))
			continue;
		/* Release: a vCPU that sees the count sees the store before it. */
		uint64_t n = atomic_fetch_add_explicit(&t->xwrites, 1, memory_order_release);
		atomic_store_explicit(&t->xwrite_pfn[n % EMU_XWRITE_HINTS], pfn + 1,
				      memory_order_relaxed);
	}
}
