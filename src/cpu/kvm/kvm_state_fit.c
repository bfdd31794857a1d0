/* SPDX-License-Identifier: MIT */
/*
 * Does a saved vCPU state fit the CPUID of the KVM vCPU it goes into
 * (kvm_state_fit.h)? One table of "this control bit needs that CPUID
 * bit", the checks KVM itself makes on KVM_SET_SREGS, KVM_SET_XCRS and
 * KVM_SET_LAPIC, done first so the refusal names what is missing.
 */
#include "cpu/kvm/kvm_state_fit.h"

#include <stdio.h>

enum fit_word { W_L1_ECX, W_L1_EDX, W_L7_EBX, W_L7_ECX, W_L7_EDX, W_E1_ECX, W_E1_EDX };

static uint32_t word(const struct kvm_fit_cpuid *c, enum fit_word w)
{
	switch (w) {
	case W_L1_ECX: return c->l1_ecx;
	case W_L1_EDX: return c->l1_edx;
	case W_L7_EBX: return c->l7_ebx;
	case W_L7_ECX: return c->l7_ecx;
	case W_L7_EDX: return c->l7_edx;
	case W_E1_ECX: return c->e1_ecx;
	case W_E1_EDX: return c->e1_edx;
	}
	return 0;
}

enum fit_reg { R_CR4, R_EFER, R_APIC_BASE };

static const struct {
	enum fit_reg reg;
	uint8_t bit;	     /* in the register */
	const char *name;    /* the bit's name */
	enum fit_word w;     /* the CPUID word that has the feature */
	uint8_t cpuid_bit;   /* its bit there */
	const char *feature; /* /proc/cpuinfo's name (cpu_model.h's where it has one) */
} needs[] = {
	/* KVM's CR4 reserved bits by guest CPUID (x86.h __cr4_reserved_bits) */
	{R_CR4, 13, "CR4.VMXE", W_L1_ECX, 5, "vmx"},
	{R_CR4, 16, "CR4.FSGSBASE", W_L7_EBX, 0, "fsgsbase"},
	{R_CR4, 17, "CR4.PCIDE", W_L1_ECX, 17, "pcid"},
	{R_CR4, 18, "CR4.OSXSAVE", W_L1_ECX, 26, "xsave"},
	{R_CR4, 20, "CR4.SMEP", W_L7_EBX, 7, "smep"},
	{R_CR4, 21, "CR4.SMAP", W_L7_EBX, 20, "smap"},
	{R_CR4, 22, "CR4.PKE", W_L7_ECX, 3, "pku"},
	{R_CR4, 12, "CR4.LA57", W_L7_ECX, 16, "la57"},
	{R_CR4, 11, "CR4.UMIP", W_L7_ECX, 2, "umip"},
	/* EFER (SDM vol. 4 table 2-1; APM 24593 3.1.7) */
	{R_EFER, 8, "EFER.LME", W_E1_EDX, 29, "lm"},
	{R_EFER, 10, "EFER.LMA", W_E1_EDX, 29, "lm"},
	{R_EFER, 11, "EFER.NXE", W_E1_EDX, 20, "nx"},
	{R_EFER, 12, "EFER.SVME", W_E1_ECX, 2, "svm"},
	{R_EFER, 14, "EFER.FFXSR", W_E1_EDX, 25, "fxsr_opt"},
	/* IA32_APIC_BASE.EXTD: x2APIC mode */
	{R_APIC_BASE, 10, "IA32_APIC_BASE.EXTD (x2APIC mode)", W_L1_ECX, 21, "x2apic"},
};

#define LVT_TIMER_MODE	    (3u << 17)
#define LVT_TIMER_DEADLINE  (2u << 17)
#define L1_ECX_TSC_DEADLINE 24
#define CR0_PG		    (1ULL << 31)
#define EFER_LME	    (1ULL << 8)

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t i)
{
	for (uint32_t n = 0; n < c->nent; n++)
		if (c->entries[n].function == fn && c->entries[n].index == i)
			return &c->entries[n];
	return NULL;
}

void kvm_fit_from_cpuid(const struct kvm_cpuid2 *c, struct kvm_fit_cpuid *out)
{
	*out = (struct kvm_fit_cpuid){.xcr0 = 1};
	const struct kvm_cpuid_entry2 *e;
	if ((e = find(c, 1, 0))) {
		out->l1_ecx = e->ecx;
		out->l1_edx = e->edx;
	}
	if ((e = find(c, 7, 0))) {
		out->l7_ebx = e->ebx;
		out->l7_ecx = e->ecx;
		out->l7_edx = e->edx;
	}
	if ((e = find(c, 0x80000001, 0))) {
		out->e1_ecx = e->ecx;
		out->e1_edx = e->edx;
	}
	if ((e = find(c, 0xd, 0)))
		out->xcr0 |= (uint64_t)e->edx << 32 | e->eax;
	if ((e = find(c, 0x80000008, 0)))
		out->phys_bits = (uint8_t)e->eax;
}

int kvm_fit_check(const struct cpu_state *s, const struct kvm_fit_cpuid *c, char *why, size_t len)
{
	for (unsigned i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		uint64_t v = needs[i].reg == R_CR4    ? s->cr4
			     : needs[i].reg == R_EFER ? s->efer
						      : s->apic_base;
		if (((v >> needs[i].bit) & 1) &&
		    !((word(c, needs[i].w) >> needs[i].cpuid_bit) & 1)) {
			snprintf(why, len, "%s is set and the vCPU's CPU has no %s", needs[i].name,
				 needs[i].feature);
			return -1;
		}
	}
	if (s->xcr0 & ~c->xcr0) {
		snprintf(why, len,
			 "XCR0 0x%llx has state components the vCPU's CPU lacks (its CPUID "
			 "0xd offers 0x%llx)",
			 (unsigned long long)s->xcr0, (unsigned long long)c->xcr0);
		return -1;
	}
	unsigned phys = c->phys_bits ? c->phys_bits : 36;
	if ((s->efer & EFER_LME) && (s->cr0 & CR0_PG) && phys < 64 && (s->cr3 >> phys)) {
		snprintf(why, len, "CR3 0x%llx is beyond the vCPU's %u physical address bits",
			 (unsigned long long)s->cr3, phys);
		return -1;
	}
	if ((s->lapic.lvt[0] & LVT_TIMER_MODE) == LVT_TIMER_DEADLINE &&
	    !((c->l1_ecx >> L1_ECX_TSC_DEADLINE) & 1)) {
		snprintf(why, len,
			 "the LAPIC timer is in TSC-deadline mode and the vCPU's CPU has no "
			 "tsc_deadline_timer");
		return -1;
	}
	return 0;
}
