/* SPDX-License-Identifier: MIT */
/*
 * Whether a saved vCPU state (cpu/cpu_state.h) fits the CPUID a KVM vCPU
 * was given, checked before any SET ioctl so that a restore or an
 * incoming migration refuses with one line naming the feature instead
 * of an ioctl's EINVAL, or a silently changed guest.
 *
 * KVM checks a state against the vCPU's CPUID (api.rst: KVM_SET_CPUID2
 * comes first, and the state ioctls validate against it): KVM_SET_SREGS
 * refuses CR4 bits whose feature the CPUID lacks (OSXSAVE, SMEP, SMAP,
 * FSGSBASE, PKE, LA57, UMIP, VMXE, PCIDE), a CR3 beyond its physical
 * address width in long mode, and IA32_APIC_BASE's x2APIC enable without
 * x2APIC; KVM_SET_XCRS refuses XCR0 bits outside CPUID 0xd.0; WRMSR
 * semantics refuse EFER bits without their feature; KVM_SET_LAPIC drops
 * the LVT timer's TSC-deadline mode without TSC-deadline.
 *
 * Pure functions over plain data (no ioctl, no /dev/kvm):
 * tests/unit/test_kvm_state.c checks them on any host.
 */
#ifndef VMON_CPU_KVM_STATE_FIT_H
#define VMON_CPU_KVM_STATE_FIT_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/cpu_state.h"

/* The CPUID words the check reads, as the vCPU sees them. */
struct kvm_fit_cpuid {
	uint32_t l1_ecx, l1_edx;	 /* leaf 1 */
	uint32_t l7_ebx, l7_ecx, l7_edx; /* leaf 7.0 */
	uint32_t e1_ecx, e1_edx;	 /* leaf 0x80000001 */
	uint64_t xcr0;			 /* leaf 0xd.0 EDX:EAX (x87 always) */
	uint8_t phys_bits;		 /* leaf 0x80000008 EAX[7:0]; 0: 36 */
};

/* Reads those words from a KVM_SET_CPUID2 table (missing leaves: 0). */
void kvm_fit_from_cpuid(const struct kvm_cpuid2 *c, struct kvm_fit_cpuid *out);

/* 0 if s fits c; -1 with one sentence in why (len bytes), naming the
 * register, the bit and the feature it needs, e.g. "CR4.PKE is set and
 * the vCPU's CPU has no pku". */
int kvm_fit_check(const struct cpu_state *s, const struct kvm_fit_cpuid *c, char *why, size_t len);

#endif
