/* SPDX-License-Identifier: MIT */
/* Unit tests for src/cpu/kvm/kvm_state_fit.c, which needs no /dev/kvm:
 * a saved vCPU state is checked against the CPUID a KVM vCPU has before
 * any SET ioctl. A Linux guest's state (CR4 with PKE, SMAP, SMEP,
 * FSGSBASE, PCIDE, OSXSAVE; EFER with NXE; x2APIC mode; TSC-deadline
 * timer; XCR0 with PKRU) fits a CPUID with those features and is refused,
 * naming the bit and the feature, by one without each; the CPUID words
 * are read from a KVM_SET_CPUID2 table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/kvm/kvm_state_fit.h"

#define CR4_PAE	     (1ULL << 5)
#define CR4_PGE	     (1ULL << 7)
#define CR4_OSFXSR   (1ULL << 9)
#define CR4_FSGSBASE (1ULL << 16)
#define CR4_PCIDE    (1ULL << 17)
#define CR4_OSXSAVE  (1ULL << 18)
#define CR4_SMEP     (1ULL << 20)
#define CR4_SMAP     (1ULL << 21)
#define CR4_PKE	     (1ULL << 22)
#define CR4_LA57     (1ULL << 12)

/* A 64-bit Linux guest's state on a CPU with every feature below. */
static struct cpu_state *linux_state(void)
{
	struct cpu_state *s = calloc(1, sizeof(*s));
	s->cr0 = 0x80050033;
	s->cr3 = 0x1000000;
	s->cr4 = CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_FSGSBASE | CR4_PCIDE | CR4_OSXSAVE |
		 CR4_SMEP | CR4_SMAP | CR4_PKE;
	s->efer = 0xd01;				   /* SCE, LME, LMA, NXE */
	s->xcr0 = 0x207;				   /* x87, SSE, AVX, PKRU */
	s->apic_base = 0xfee00000 | 0x800 | 0x400 | 0x100; /* EN, EXTD, BSP */
	s->lapic.lvt[0] = (2u << 17) | 0xec;		   /* TSC-deadline mode */
	return s;
}

static struct kvm_fit_cpuid full_cpuid(void)
{
	return (struct kvm_fit_cpuid){
		.l1_ecx = (1u << 17) | (1u << 21) | (1u << 24) | (1u << 26), /* pcid x2apic
									 tsc-deadline xsave */
		.l7_ebx = (1u << 0) | (1u << 7) | (1u << 20), /* fsgsbase smep smap */
		.l7_ecx = 1u << 3,			      /* pku */
		.e1_edx = (1u << 20) | (1u << 29),	      /* nx lm */
		.xcr0 = 0x207,
		.phys_bits = 40,
	};
}

static void refused(const struct cpu_state *s, const struct kvm_fit_cpuid *c, const char *want)
{
	char why[160] = "";
	assert_int_equal(kvm_fit_check(s, c, why, sizeof(why)), -1);
	if (!strstr(why, want))
		fail_msg("'%s' does not say '%s'", why, want);
}

static void test_fits(void **state)
{
	(void)state;
	struct cpu_state *s = linux_state();
	struct kvm_fit_cpuid c = full_cpuid();
	char why[160] = "";
	assert_int_equal(kvm_fit_check(s, &c, why, sizeof(why)), 0);
	/* A state that uses none of them fits a CPUID without them. */
	memset(s, 0, sizeof(*s));
	s->xcr0 = 1;
	struct kvm_fit_cpuid none = {.xcr0 = 1};
	assert_int_equal(kvm_fit_check(s, &none, why, sizeof(why)), 0);
	free(s);
}

static void test_cr4_needs(void **state)
{
	(void)state;
	struct cpu_state *s = linux_state();
	struct kvm_fit_cpuid c = full_cpuid();
	c.l7_ecx &= ~(1u << 3);
	refused(s, &c, "CR4.PKE is set and the vCPU's CPU has no pku");
	c = full_cpuid();
	c.l7_ebx &= ~(1u << 20);
	refused(s, &c, "CR4.SMAP is set and the vCPU's CPU has no smap");
	c = full_cpuid();
	c.l7_ebx &= ~(1u << 7);
	refused(s, &c, "CR4.SMEP");
	c = full_cpuid();
	c.l7_ebx &= ~1u;
	refused(s, &c, "CR4.FSGSBASE");
	c = full_cpuid();
	c.l1_ecx &= ~(1u << 17);
	refused(s, &c, "CR4.PCIDE is set and the vCPU's CPU has no pcid");
	c = full_cpuid();
	c.l1_ecx &= ~(1u << 26);
	c.xcr0 = 1;
	refused(s, &c, "CR4.OSXSAVE is set and the vCPU's CPU has no xsave");
	c = full_cpuid();
	s->cr4 |= CR4_LA57;
	refused(s, &c, "CR4.LA57");
	free(s);
}

static void test_other_needs(void **state)
{
	(void)state;
	struct cpu_state *s = linux_state();
	struct kvm_fit_cpuid c = full_cpuid();
	c.e1_edx &= ~(1u << 20);
	refused(s, &c, "EFER.NXE is set and the vCPU's CPU has no nx");
	c = full_cpuid();
	c.l1_ecx &= ~(1u << 21);
	refused(s, &c, "x2APIC mode) is set and the vCPU's CPU has no x2apic");
	c = full_cpuid();
	c.l1_ecx &= ~(1u << 24);
	refused(s, &c, "TSC-deadline mode and the vCPU's CPU has no tsc_deadline_timer");
	c = full_cpuid();
	c.xcr0 = 0x7; /* no PKRU */
	refused(s, &c, "XCR0 0x207 has state components");
	c = full_cpuid();
	c.phys_bits = 24;
	refused(s, &c, "beyond the vCPU's 24 physical address bits");
	/* Outside long mode CR3 is not checked against the width. */
	s->efer = 0;
	s->cr4 &= ~CR4_PCIDE;
	assert_int_equal(kvm_fit_check(s, &c, (char[160]){0}, 160), 0);
	free(s);
}

static void test_from_cpuid(void **state)
{
	(void)state;
	struct kvm_cpuid2 *t = calloc(1, sizeof(*t) + 5 * sizeof(t->entries[0]));
	t->nent = 5;
	t->entries[0] = (struct kvm_cpuid_entry2){.function = 1, .ecx = 0x11, .edx = 0x22};
	t->entries[1] = (struct kvm_cpuid_entry2){
		.function = 7, .index = 0, .ebx = 0x33, .ecx = 0x44, .edx = 0x55};
	t->entries[2] = (struct kvm_cpuid_entry2){.function = 0x80000001, .ecx = 0x66, .edx = 0x77};
	t->entries[3] =
		(struct kvm_cpuid_entry2){.function = 0xd, .index = 0, .eax = 0x206, .edx = 1};
	t->entries[4] = (struct kvm_cpuid_entry2){.function = 0x80000008, .eax = 0x3028};
	struct kvm_fit_cpuid c;
	kvm_fit_from_cpuid(t, &c);
	assert_int_equal(c.l1_ecx, 0x11);
	assert_int_equal(c.l1_edx, 0x22);
	assert_int_equal(c.l7_ebx, 0x33);
	assert_int_equal(c.l7_ecx, 0x44);
	assert_int_equal(c.l7_edx, 0x55);
	assert_int_equal(c.e1_ecx, 0x66);
	assert_int_equal(c.e1_edx, 0x77);
	assert_int_equal(c.xcr0, 0x100000207ULL); /* x87 always */
	assert_int_equal(c.phys_bits, 0x28);
	/* No leaves: nothing offered, x87 only, the default width. */
	t->nent = 0;
	kvm_fit_from_cpuid(t, &c);
	assert_int_equal(c.l7_ecx, 0);
	assert_int_equal(c.xcr0, 1);
	assert_int_equal(c.phys_bits, 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_cr4_needs),
		cmocka_unit_test(test_other_needs),
		cmocka_unit_test(test_from_cpuid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
