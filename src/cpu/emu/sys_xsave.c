/* SPDX-License-Identifier: MIT */
/*
 * XSAVE's system side: the state components the software CPU offers (x87,
 * SSE, AVX: XCR0 bits 0-2), the layout of an XSAVE area holding them,
 * CPUID leaf 0xd that describes it, and XCR0 writes (XSETBV).
 *
 * With only these three components the standard and the compacted
 * formats agree on every offset: the legacy region (512 bytes, the FXSAVE
 * image), the XSAVE header (64 bytes), then AVX at 576 (256 bytes: YMM0-15
 * bits 255:128). The instructions are insn_xsave.c.
 */
#include "cpu/emu/fault.h"
#include "cpu/emu/sys.h"

uint32_t emu_xsave_size(uint64_t xcr0)
{
	return (xcr0 & 4) ? XSAVE_AVX_OFFSET + XSAVE_AVX_SIZE : 512 + 64;
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
		*b = emu_xsave_size(c->xcr0);
		break;
	case 2:
		if (mask & 4) {
			*a = XSAVE_AVX_SIZE;
			*b = XSAVE_AVX_OFFSET;
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
