/* SPDX-License-Identifier: MIT */
/*
 * The AuthenticAMD vendor of the software CPU (the model's "amd", asked
 * for with --cpu-features +amd; GenuineIntel otherwise): the CPUID leaves
 * AMD defines differently from Intel (AMD64 APM vol. 3, appendix E) and
 * the AMD-specific MSRs Linux reads unguarded on an AMD CPU. Linux's
 * kvm_amd loads only on an AMD (or Hygon) vendor, so this is what makes
 * the software CPU's SVM (svm.c) usable by Linux as a KVM host.
 *
 * The CPU presents itself as family 17h, model 31h, stepping 0 (a Zen 2
 * part, as AMD's EPYC 7002: AVX2, BMI, SVM with nested paging and NRIPS
 * are plausible there); the instruction-set features stay the model's.
 * Intel-only leaves (0x15, 0x16: the TSC and crystal clocks) are beyond
 * the highest basic leaf, as on AMD; Intel-only MSRs (FEATURE_CONTROL,
 * MISC_ENABLE) raise #GP, as on AMD (sys_ctl.c asks emu_amd_msr_absent).
 */
#include <stdbool.h>
#include <stdint.h>

#include "cpu/emu/sys.h"

#define AMD_SIGNATURE 0x00830f10u /* family 0xf + 0x8 = 17h, model 31h, stepping 0 */
#define AMD_MAX_BASIC 0xd	  /* 0x15 and 0x16 are Intel's */

/* "AuthenticAMD" in EBX, EDX, ECX order */
#define AMD_VENDOR_B 0x68747541u /* "Auth" */
#define AMD_VENDOR_D 0x69746e65u /* "enti" */
#define AMD_VENDOR_C 0x444d4163u /* "cAMD" */

/* AMD MSRs (APM vol. 2 appendix A; BKDG/PPR for family 17h) */
#define MSR_AMD_SYSCFG	0xc0010010u
#define MSR_AMD_HWCR	0xc0010015u
#define MSR_AMD_TOP_MEM 0xc001001au
#define MSR_AMD_NB_CFG	0xc001001fu
#define MSR_AMD_DE_CFG	0xc0011029u
/* Intel-only MSRs sys_ctl.c answers for the GenuineIntel model */
#define MSR_FEATURE_CONTROL 0x3au
#define MSR_MISC_ENABLE	    0x1a0u

/* HWCR: TscFreqSel (bit 24, read-only 1: the TSC counts at the P0
 * frequency, which Linux checks with an unguarded RDMSR). */
#define HWCR_VALUE (1ull << 24)
/* NB_CFG: EnableCf8ExtCfg (bit 46), which Linux sets with an unguarded
 * RDMSR/WRMSR on family 10h and later. The write is accepted and has no
 * effect (vmon's configuration ports decode no extended register
 * numbers: every device's space is 256 bytes), so it reads 0. */
#define NB_CFG_EXT_CFG (1ull << 46)
/* DE_CFG bit 1: LFENCE is dispatch-serializing (as firmware sets it). */
#define DE_CFG_LFENCE_SERIALIZE (1ull << 1)

bool emu_cpu_is_amd(const struct emu_cpu *c)
{
	return cpu_has(&c->vm->features, CPUF_AMD);
}

bool emu_amd_cpuid(struct emu_cpu *c, uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *cc,
		   uint32_t *d)
{
	if (!emu_cpu_is_amd(c))
		return false;
	switch (leaf) {
	case 0:
		*a = AMD_MAX_BASIC;
		*b = AMD_VENDOR_B;
		*d = AMD_VENDOR_D;
		*cc = AMD_VENDOR_C;
		return true;
	case 0x80000000:
		*a = cpu_has(&c->vm->features, CPUF_SVM) ? 0x8000000a : 0x80000008;
		*b = AMD_VENDOR_B;
		*d = AMD_VENDOR_D;
		*cc = AMD_VENDOR_C;
		return true;
	case 0x80000008: {
		/* EAX: address sizes; ECX: NC (cores in the package - 1)
		 * and ApicIdCoreIdSize (bits of the APIC ID that number the
		 * core), as leaf 0xb reports them. */
		uint32_t n = (uint32_t)c->vm->ncpus, shift = 0;
		while ((1u << shift) < n)
			shift++;
		*a = (48u << 8) | EMU_MAXPHYADDR;
		*cc = (shift << 12) | (n - 1);
		return true;
	}
	default: break;
	}
	if (leaf > AMD_MAX_BASIC && leaf < 0x80000000) {
		*a = *b = *cc = *d = 0; /* beyond the highest basic leaf */
		return true;
	}
	return false;
}

void emu_amd_cpuid_fixup(struct emu_cpu *c, uint32_t leaf, uint32_t *a, uint32_t *d)
{
	if (!emu_cpu_is_amd(c))
		return;
	if (leaf == 1) {
		*a = AMD_SIGNATURE;
	} else if (leaf == 0x80000001) {
		/* EAX: the signature again. EDX: AMD repeats leaf 1's EDX bits
		 * 0-9, 12-17, 23 and 24 here (FPU ... APIC, MTRR ... PSE36,
		 * MMX, FXSR); bit 11 is SYSCALL, not SEP. */
		uint32_t r1[4];
		emu_cpuid_regs(c, 1, 0, r1);
		uint32_t edx1 = r1[3];
		*a = AMD_SIGNATURE;
		*d |= edx1 & 0x0183f3ffu;
	}
}

bool emu_amd_msr_absent(const struct emu_cpu *c, uint32_t msr)
{
	return emu_cpu_is_amd(c) && (msr == MSR_FEATURE_CONTROL || msr == MSR_MISC_ENABLE);
}

bool emu_amd_rdmsr(struct emu_cpu *c, uint32_t msr, uint64_t *v)
{
	if (!emu_cpu_is_amd(c))
		return false;
	switch (msr) {
	case MSR_AMD_HWCR: *v = HWCR_VALUE; return true;
	case MSR_AMD_SYSCFG: *v = 0; return true;  /* no memory encryption, no MTRR extensions */
	case MSR_AMD_TOP_MEM: *v = 0; return true; /* no MTRRs: nothing to describe */
	case MSR_AMD_NB_CFG: *v = 0; return true;
	case MSR_AMD_DE_CFG: *v = DE_CFG_LFENCE_SERIALIZE; return true;
	default: return false;
	}
}

bool emu_amd_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v, bool *ok)
{
	if (!emu_cpu_is_amd(c))
		return false;
	switch (msr) {
	case MSR_AMD_HWCR:
		/* None of its controls is modelled: a write that keeps the
		 * read value is accepted, one that changes it is refused. */
		*ok = v == HWCR_VALUE;
		return true;
	case MSR_AMD_SYSCFG:
	case MSR_AMD_TOP_MEM: *ok = v == 0; return true;
	case MSR_AMD_NB_CFG: *ok = (v & ~NB_CFG_EXT_CFG) == 0; return true;
	case MSR_AMD_DE_CFG:
		/* Linux sets bit 1 (LFENCE serializing, already set) and, on
		 * Zen 2, bit 9 (a chicken bit with no effect here). */
		*ok = (v & ~((1ull << 9) | DE_CFG_LFENCE_SERIALIZE)) == 0 &&
		      (v & DE_CFG_LFENCE_SERIALIZE);
		return true;
	default: return false;
	}
}
