/* SPDX-License-Identifier: MIT */
/*
 * String instructions: MOVS STOS LODS CMPS SCAS INS OUTS with REP, REPE
 * and REPNE, either direction, 16/32/64-bit addresses. A REP instruction
 * runs at most STRING_BATCH elements at a time and then leaves RIP on
 * itself, so interrupts and stop requests are seen between batches;
 * forward REP MOVS/STOS within RAM pages go a page at a time.
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_alu.h"

#define STRING_BATCH 65536

/* Everything about one string instruction's run. */
struct str_op {
	int kind; /* SK_* */
	unsigned size;
	int sseg;      /* the source segment (overridable) */
	int64_t step;  /* +size, or -size with DF */
	uint64_t amsk; /* the address size's mask */
};

/* REP STOS's n elements of size bytes (1, 2, 4, 8) from v at dp: one
 * 8-byte pattern stored a word at a time (memset when it is one byte
 * repeated, e.g. zero). Until 2026-12-07 a memcpy of `size` bytes per
 * element, which gcc made a REP MOVSQ per element: ~5% of a Linux boot's
 * host time went into REP STOSQ's element stores. */
static void fill(uint8_t *dp, uint64_t v, unsigned size, uint64_t n)
{
	uint64_t bytes = n * size;
	uint64_t pat = size == 8   ? v
		       : size == 4 ? (v & 0xffffffffULL) * 0x0000000100000001ULL
		       : size == 2 ? (v & 0xffffULL) * 0x0001000100010001ULL
				   : (v & 0xffULL) * 0x0101010101010101ULL;
	if (pat == (pat & 0xff) * 0x0101010101010101ULL) {
		memset(dp, (int)(pat & 0xff), bytes);
		return;
	}
	uint64_t i = 0;
	for (; i + 8 <= bytes; i += 8)
		memcpy(dp + i, &pat, 8);
	if (i < bytes) /* 2 or 4 bytes: the pattern still starts at an element */
		memcpy(dp + i, &pat, bytes - i);
}

/* Forward REP MOVS/STOS of cnt > 1 elements within one page of each side,
 * straight through host pointers. Returns the elements done (0: none,
 * the element loop takes over). */
static uint64_t rep_fast(struct emu_cpu *c, const struct str_op *s, uint64_t cnt, uint64_t si,
			 uint64_t di)
{
	unsigned size = s->size;
	uint64_t amsk = s->amsk;
	uint64_t dl = seg_lin(c, SEG_ES, di);
	uint64_t n = cnt;
	uint64_t room = (4096 - (dl & 0xfff)) / size;
	if (di + n * size - 1 > amsk) /* would wrap the address size */
		n = 1;
	if (n > room)
		n = room;
	uint64_t sl = 0;
	if (s->kind == SK_MOVS) {
		sl = seg_lin(c, s->sseg, si);
		uint64_t sroom = (4096 - (sl & 0xfff)) / size;
		if (n > sroom)
			n = sroom;
		if (si + n * size - 1 > amsk)
			n = 1;
	}
	if (n <= 1)
		return 0;
	/* Outside 64-bit mode the whole range must be within the limits and
	 * ES writable; else the element loop faults at the first element
	 * beyond one (or at the first). */
	if (c->cmode != 8 && (!seg_writable(c, SEG_ES) || !seg_in_limit(c, SEG_ES, di, n * size) ||
			      (s->kind == SK_MOVS && !seg_in_limit(c, s->sseg, si, n * size))))
		return 0;
	uint8_t *dp = lin_rmw_ptr(c, dl, (unsigned)(n * size) > 4096 ? 4096 : (unsigned)(n * size));
	const uint8_t *sp = NULL;
	if (s->kind == SK_MOVS && dp) {
		struct tlb_entry *e = mmu_lookup(c, sl, 0, c->cpl == 3);
		sp = e->host ? e->host + (sl & 0xfff) : NULL;
		/* Overlap where dst is just above src replicates bytes: leave
		 * that to the element loop. */
		if (sp && dp > sp && dp < sp + n * size)
			sp = NULL;
	}
	if (!dp || (s->kind != SK_STOS && !sp))
		return 0;
	if (s->kind == SK_STOS) {
		fill(dp, c->r[R_AX], size, n);
	} else {
		memmove(dp, sp, n * size);
	}
	c->r[R_DI] = (c->r[R_DI] & ~amsk) | ((di + n * size) & amsk);
	if (s->kind == SK_MOVS)
		c->r[R_SI] = (c->r[R_SI] & ~amsk) | ((si + n * size) & amsk);
	c->r[R_CX] = (c->r[R_CX] & ~amsk) | ((cnt - n) & amsk);
	return n;
}

/* One element at *si / *di, which advance. */
static void string_step(struct emu_cpu *c, const struct str_op *s, uint64_t *si, uint64_t *di)
{
	unsigned size = s->size;
	uint64_t a, b;
	switch (s->kind) {
	case SK_MOVS:
		a = lin_read(c, seg_lin_n(c, s->sseg, *si, size), size);
		lin_write(c, seg_lin_w(c, SEG_ES, *di, size), size, a);
		*si += s->step;
		*di += s->step;
		break;
	case SK_STOS:
		lin_write(c, seg_lin_w(c, SEG_ES, *di, size), size, c->r[R_AX]);
		*di += s->step;
		break;
	case SK_LODS:
		a = lin_read(c, seg_lin_n(c, s->sseg, *si, size), size);
		set_reg(c, R_AX, size, a);
		*si += s->step;
		break;
	case SK_CMPS:
		a = lin_read(c, seg_lin_n(c, s->sseg, *si, size), size);
		b = lin_read(c, seg_lin_n(c, SEG_ES, *di, size), size);
		alu(c, ZYDIS_MNEMONIC_CMP, size, a, b);
		*si += s->step;
		*di += s->step;
		break;
	case SK_SCAS:
		b = lin_read(c, seg_lin_n(c, SEG_ES, *di, size), size);
		alu(c, ZYDIS_MNEMONIC_CMP, size, c->r[R_AX] & szmask(size), b);
		*di += s->step;
		break;
	case SK_INS: {
		uint64_t dl = seg_lin_w(c, SEG_ES, *di, size);
		mmu_lookup(c, dl, 1, c->cpl == 3); /* fault before the port read */
		a = port_in(c, (uint16_t)c->r[R_DX], size);
		lin_write(c, dl, size, a);
		*di += s->step;
		break;
	}
	default: /* SK_OUTS */
		a = lin_read(c, seg_lin_n(c, s->sseg, *si, size), size);
		port_out(c, (uint16_t)c->r[R_DX], size, a);
		*si += s->step;
		break;
	}
}

/* Returns true when the instruction is complete (else RIP stays and it
 * resumes after pending events). */
static bool do_string(struct emu_cpu *c, const struct dinsn *d)
{
	struct str_op s = {
		.kind = insn_arg(d),
		.size = d->osize,
		.sseg = d->seg == SEG_NONE ? SEG_DS : d->seg,
		.amsk = szmask(d->asize),
	};
	s.step = (c->flags & F_DF) ? -(int64_t)s.size : (int64_t)s.size;
	bool rep = d->flags & (DI_REP | DI_REPNE);
	bool is_cmp = s.kind == SK_CMPS || s.kind == SK_SCAS;
	bool io = s.kind == SK_INS || s.kind == SK_OUTS;
	uint64_t amsk = s.amsk;
	if (io)
		io_port_check(c, (uint16_t)c->r[R_DX], s.size);
	for (unsigned iter = 0;; iter++) {
		uint64_t cnt = c->r[R_CX] & amsk;
		if (rep && !cnt)
			return true;
		if (rep && iter >= STRING_BATCH)
			return false;
		uint64_t si = c->r[R_SI] & amsk, di = c->r[R_DI] & amsk;
		if (rep && s.step > 0 && (s.kind == SK_STOS || s.kind == SK_MOVS) && cnt > 1 &&
		    !c->dbg_data) { /* host pointers would pass data breakpoints by */
			uint64_t n = rep_fast(c, &s, cnt, si, di);
			if (n) {
				iter += (unsigned)n;
				continue;
			}
		}
		string_step(c, &s, &si, &di);
		c->r[R_SI] = (c->r[R_SI] & ~amsk) | (si & amsk);
		c->r[R_DI] = (c->r[R_DI] & ~amsk) | (di & amsk);
		if (!rep)
			return true;
		c->r[R_CX] = (c->r[R_CX] & ~amsk) | ((cnt - 1) & amsk);
		if (is_cmp) {
			bool zf = get_flags(c) & F_ZF;
			if ((d->flags & DI_REP) && !zf)
				return true;
			if ((d->flags & DI_REPNE) && zf)
				return true;
		}
		if (io && vmctl_stopping(&c->m->ctl))
			return false;
	}
}

/* MOVS STOS LODS CMPS SCAS INS OUTS (arg: SK_*) */
void h_string(struct emu_cpu *c, const struct dinsn *d)
{
	if (!do_string(c, d))
		c->next_rip = c->rip;
}
