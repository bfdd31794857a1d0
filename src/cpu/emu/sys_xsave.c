/* SPDX-License-Identifier: MIT */
/*
 * XSAVE's system side: the state components the software CPU offers (x87,
 * SSE, AVX, PKRU: XCR0 bits 0-2 and 9), the layout of an XSAVE area
 * holding them, CPUID leaf 0xd that describes it, and XCR0 writes
 * (XSETBV).
 *
 * The legacy region (512 bytes, the FXSAVE image), the XSAVE header (64
 * bytes), then AVX at 576 (256 bytes: YMM0-15 bits 255:128) in both
 * formats. PKRU (8 bytes) sits at 2688 in the standard format, Intel's
 * offset (QEMU's too; the space between is components this CPU lacks),
 * and right after the components before it in the compacted one (576, or
 * 832 after AVX). The instructions are insn_xsave.c.
 */
#include "cpu/emu/fault.h"
#include "cpu/emu/sys.h"

uint32_t emu_xsave_size(uint64_t xcr0)
{
	if (xcr0 & XSAVE_PKRU)
		return XSAVE_PKRU_OFFSET + XSAVE_PKRU_SIZE;
	return (xcr0 & 4) ? XSAVE_AVX_OFFSET + XSAVE_AVX_SIZE : 512 + 64;
}

uint32_t emu_xsave_pkru_compact(uint64_t comp)
{
	return (comp & 4) ? XSAVE_AVX_OFFSET + XSAVE_AVX_SIZE : XSAVE_AVX_OFFSET;
}

uint32_t emu_xsave_size_compact(uint64_t comp)
{
	return emu_xsave_pkru_compact(comp) + ((comp & XSAVE_PKRU) ? XSAVE_PKRU_SIZE : 0);
}

void emu_xsave_cpuid(struct emu_cpu *c, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *cc,
		     uint32_t *d)
{
	uint64_t mask = c->vm->xcr0_mask;
	if (!mask)
		return; /* no XSAVE: the leaf is all zero */
	switch (sub) {
	case 0:
		*a = (uint32_t)mask;	      /* XCR0 bits that may be set */
		*b = emu_xsave_size(c->xcr0); /* the area for XCR0 as it is */
		*cc = emu_xsave_size(mask);   /* ... for every offered one */
		*d = (uint32_t)(mask >> 32);
		break;
	case 1:
		/* EAX: XSAVEOPT, XSAVEC, XGETBV1 bits come from the model;
		 * EBX: the compacted area for XCR0 (no supervisor state:
		 * IA32_XSS is not offered, ECX/EDX 0). */
		*b = emu_xsave_size_compact(c->xcr0);
		break;
	case 2:
		if (mask & 4) {
			*a = XSAVE_AVX_SIZE;
			*b = XSAVE_AVX_OFFSET;
		}
		break;
	case 9: /* user state: ECX bit 0 clear; no 64-byte alignment (bit 1) */
		if (mask & XSAVE_PKRU) {
			*a = XSAVE_PKRU_SIZE;
			*b = XSAVE_PKRU_OFFSET;
		}
		break;
	default: break;
	}
}

void emu_write_xcr(struct emu_cpu *c, uint32_t idx, uint64_t v)
{
	if (idx != 0 || !(v & 1) || (v & ~c->vm->xcr0_mask) || ((v & 4) && !(v & 2)))
		emu_raise_gp(c, 0);
	c->xcr0 = v;
}
