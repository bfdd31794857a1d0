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
 */
#include <stdio.h>
#include <string.h>

#include "core/ratelimit.h"
#include "cpu/emu/chip_ioapic.h"
#include "cpu/emu/chip_lapic.h"
#include "cpu/emu/fault.h"
#include "cpu/emu/mmu.h"

#define PTE_P	  0x1ULL
#define PTE_W	  0x2ULL
#define PTE_U	  0x4ULL
#define PTE_A	  0x20ULL
#define PTE_D	  0x40ULL
#define PTE_PS	  0x80ULL
#define PTE_NX	  (1ULL << 63)
#define ADDR_MASK 0x000ffffffffff000ULL

void tlb_flush(struct emu_cpu *c)
{
	for (int i = 0; i < TLB_SIZE; i++)
		c->tlb[i].vpn = 0;
	c->fetch_vpn = 0;
	emu_jcache_clear(c);
}

void tlb_flush_page(struct emu_cpu *c, uint64_t lin)
{
	struct tlb_entry *e = &c->tlb[(lin >> 12) & (TLB_SIZE - 1)];
	if (e->vpn == (lin >> 12) + 1)
		e->vpn = 0;
	c->fetch_vpn = 0;
	emu_jcache_clear(c); /* its entries are spread over the table */
}

_Noreturn static void page_fault(struct emu_cpu *c, uint64_t lin, uint32_t err)
{
	c->cr2 = lin;
	emu_raise(c, EXC_PF, err, true);
}

/* Reads a paging-structure entry; NULL if the table is not in RAM. */
static void *pte_ptr(struct emu_cpu *c, uint64_t gpa, unsigned size)
{
	return gm_ptr(&c->m->mem, gpa, size);
}

static void set_bits64(void *p, uint64_t bits)
{
	__atomic_fetch_or((uint64_t *)p, bits, __ATOMIC_RELAXED);
}

static void set_bits32(void *p, uint32_t bits)
{
	__atomic_fetch_or((uint32_t *)p, bits, __ATOMIC_RELAXED);
}

struct walk {
	uint64_t gpa_page;
	bool rw, us, nx, dirty;
};

/* Walks the page tables for lin. Returns 0 on success, or a #PF error code
 * (always with bit 0 meaning "present") with the fault flag set. */
static bool do_walk(struct emu_cpu *c, uint64_t lin, int acc, bool user, struct walk *w,
		    uint32_t *perr)
{
	uint32_t err =
		(acc == 1 ? 2 : 0) | (user ? 4 : 0) | (acc == 2 && (c->efer & EFER_NXE) ? 0x10 : 0);
	w->rw = w->us = true;
	w->nx = false;
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
			uint32_t set = PTE_A;
			if (acc == 1)
				set |= PTE_D;
			if ((e & set) != set)
				set_bits32(pde, set);
			w->dirty = (e & PTE_D) || acc == 1;
			uint64_t base = (e & 0xffc00000ULL) | ((uint64_t)(e >> 13) & 0xff) << 32;
			w->gpa_page = base | (l & 0x3ff000);
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
		w->gpa_page = e & 0xfffff000ULL;
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
		levels = 2;
		table = e & ADDR_MASK;
	}
	for (int lvl = levels; lvl >= 1; lvl--) {
		int shift = 12 + 9 * (lvl - 1);
		uint64_t *pp = pte_ptr(c, table + ((lin >> shift) & 511) * 8, 8);
		uint64_t e = pp ? __atomic_load_n(pp, __ATOMIC_RELAXED) : 0;
		if (!(e & PTE_P))
			goto fault;
		if ((e & PTE_NX) && !nxe) {
			err |= 8 | 1; /* reserved bit */
			goto fault_err;
		}
		w->rw &= !!(e & PTE_W);
		w->us &= !!(e & PTE_U);
		w->nx |= nxe && (e & PTE_NX);
		bool leaf = lvl == 1 || ((e & PTE_PS) && (lvl == 2 || lvl == 3));
		if (lvl == 4 && (e & PTE_PS)) {
			err |= 8 | 1;
			goto fault_err;
		}
		if (leaf) {
			uint64_t set = PTE_A | (acc == 1 ? PTE_D : 0);
			if ((e & set) != set)
				set_bits64(pp, set);
			w->dirty = (e & PTE_D) || acc == 1;
			uint64_t mask = (1ULL << shift) - 1;
			w->gpa_page = ((e & ADDR_MASK & ~mask) | (lin & mask)) & ~0xfffULL;
			goto check;
		}
		if (!(e & PTE_A))
			set_bits64(pp, PTE_A);
		table = e & ADDR_MASK;
	}
check:
	if (user && !w->us)
		goto prot;
	if (acc == 1 && !w->rw && (user || (c->cr0 & CR0_WP)))
		goto prot;
	if (acc == 2 && w->nx)
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
	uint64_t vpn = lin >> 12;
	struct tlb_entry *e = &c->tlb[vpn & (TLB_SIZE - 1)];
	if (e->vpn == vpn + 1) {
		uint32_t need = acc == 1 ? (user ? TLB_UW : TLB_W) : acc == 2 ? TLB_X : 0;
		if (user)
			need |= TLB_U;
		if ((e->perm & need) == need)
			return e;
	}
	if ((c->efer & EFER_LMA) && (uint64_t)((int64_t)(lin << 16) >> 16) != lin)
		emu_raise_gp(c, 0); /* non-canonical */
	uint64_t gpa_page;
	uint32_t perm;
	if (!c->paging) {
		gpa_page = lin & ~0xfffULL;
		if (c->cmode != 8)
			gpa_page &= 0xffffffffULL;
		perm = TLB_W | TLB_U | TLB_X | TLB_UW;
	} else {
		struct walk w;
		uint32_t err;
		if (!do_walk(c, lin, acc, user, &w, &err))
			page_fault(c, lin, err);
		gpa_page = w.gpa_page;
		perm = 0;
		if (w.dirty && (w.rw || !(c->cr0 & CR0_WP)))
			perm |= TLB_W;
		if (w.us)
			perm |= TLB_U;
		if (w.us && w.rw && w.dirty)
			perm |= TLB_UW;
		if (!w.nx)
			perm |= TLB_X;
	}
	e->vpn = vpn + 1;
	e->gpa = gpa_page;
	e->perm = perm;
	e->host = gm_ptr(&c->m->mem, gpa_page, 4096);
	return e;
}

/* ---- Physical accesses that are not plain RAM -------------------------- */

static bool is_lapic(struct emu_cpu *c, uint64_t gpa)
{
	return (c->apic.apic_base & 0x800) &&
	       (gpa & ~0xfffULL) == (c->apic.apic_base & 0xffffff000ULL);
}

uint64_t phys_read(struct emu_cpu *c, uint64_t gpa, unsigned size)
{
	void *p = gm_ptr(&c->m->mem, gpa, size);
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
	void *p = gm_ptr(&c->m->mem, gpa, size);
	if (p) {
		memcpy(p, &v, size);
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

static uint64_t read_priv(struct emu_cpu *c, uint64_t lin, unsigned size, bool user)
{
	unsigned off = lin & 0xfff;
	if (off + size <= 4096) {
		struct tlb_entry *e = mmu_lookup(c, lin, 0, user);
		if (e->host) {
			uint64_t v = 0;
			memcpy(&v, e->host + off, size);
			return v;
		}
		return phys_read(c, e->gpa | off, size);
	}
	unsigned n1 = 4096 - off;
	uint64_t lo = read_priv(c, lin, n1, user);
	uint64_t hi = read_priv(c, lin + n1, size - n1, user);
	return lo | hi << (8 * n1);
}

static void write_priv(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v, bool user)
{
	unsigned off = lin & 0xfff;
	if (off + size <= 4096) {
		struct tlb_entry *e = mmu_lookup(c, lin, 1, user);
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
	mmu_lookup(c, lin, 1, user);
	mmu_lookup(c, lin + n1, 1, user);
	write_priv(c, lin, n1, v, user);
	write_priv(c, lin + n1, size - n1, v >> (8 * n1), user);
}

uint64_t lin_read(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	return read_priv(c, lin, size, c->cpl == 3);
}

void lin_write(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v)
{
	write_priv(c, lin, size, v, c->cpl == 3);
}

uint64_t lin_read_sys(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	return read_priv(c, lin, size, false);
}

void lin_write_sys(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v)
{
	write_priv(c, lin, size, v, false);
}

void *lin_rmw_ptr(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	unsigned off = lin & 0xfff;
	if (off + size > 4096)
		return NULL;
	struct tlb_entry *e = mmu_lookup(c, lin, 1, c->cpl == 3);
	if (!e->host)
		return NULL;
	emu_note_write(c, e->host, e->gpa); /* the caller writes through it */
	return e->host + off;
}
