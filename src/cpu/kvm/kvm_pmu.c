/* SPDX-License-Identifier: MIT */
/*
 * KVM backend: the guest has no performance-monitoring unit, as on vmon's
 * software CPU. kvm_cpuid.c says so in CPUID (leaf 0xa zero, PDCM off;
 * on AMD PERFCTR_CORE/NB/LLC off and leaf 0x80000022 zero); this file
 * makes KVM behave accordingly:
 *
 *  - KVM_CAP_PMU_CAPABILITY with KVM_PMU_CAP_DISABLE (api.rst 8.35, before
 *    any vCPU exists): KVM creates no host perf events for the guest.
 *    Where KVM's vPMU is off anyway (enable_pmu=0, e.g. a host without a
 *    PMU) the capability reads 0 and there is nothing to do.
 *  - KVM_X86_SET_MSR_FILTER (api.rst 4.97) denying guest RDMSR/WRMSR of
 *    the counter MSRs, so the guest gets #GP as from vmon's software CPU.
 *    An AMD CPU has no CPUID bit for its four legacy counters, so Linux
 *    probes them on every AMD guest (check_hw_exists: read EVNTSEL0-3,
 *    then write PERFCTR3 and read it back). With the vPMU off, KVM
 *    answers the reads with 0 and drops the write, logging
 *    "Unhandled WRMSR(0xc0010007) = 0xffff" in the host's kernel log for
 *    every VM. Denied by the filter, the first read faults and Linux says
 *    "PMU not available due to virtualization" without touching a
 *    counter, and the host log stays clean. Without KVM_CAP_X86_MSR_FILTER
 *    (kernels before 5.10) the guest sees KVM's default behaviour.
 *
 * The filter covers guest RDMSR/WRMSR only; vmon's own KVM_SET_MSRS is
 * not filtered (api.rst). MSR ranges (Intel SDM vol. 4, AMD APM vol. 2):
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpu/kvm/kvm_priv.h"

static const struct {
	uint32_t base, n;
} pmu_msrs[] = {
	{0x000000c1, 8},  /* Intel IA32_PMC0-7 (also P6 PERFCTR0-1) */
	{0x00000186, 8},  /* Intel IA32_PERFEVTSEL0-7 (also P6 EVNTSEL0-1) */
	{0x00000309, 4},  /* Intel IA32_FIXED_CTR0-3 */
	{0x00000345, 1},  /* Intel IA32_PERF_CAPABILITIES */
	{0x0000038d, 4},  /* Intel FIXED_CTR_CTRL, PERF_GLOBAL_STATUS/CTRL/OVF_CTRL */
	{0x000004c1, 8},  /* Intel IA32_A_PMC0-7 (full-width writes) */
	{0xc0000300, 4},  /* AMD PerfMonV2 PERF_CNTR_GLOBAL_STATUS/CTL/STATUS_CLR/SET */
	{0xc0010000, 8},  /* AMD K7 PERF_CTL0-3, PERF_CTR0-3 (legacy counters) */
	{0xc0010200, 12}, /* AMD PERF_CTL0-5/PERF_CTR0-5 (PerfCtrExtCore) */
};
enum { NRANGES = sizeof(pmu_msrs) / sizeof(pmu_msrs[0]) };

int kvm_pmu_setup(struct kvm_vm_state *k, struct vmon_error *err)
{
	int caps = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PMU_CAPABILITY);
	if (caps > 0 && (caps & KVM_PMU_CAP_DISABLE)) {
		struct kvm_enable_cap cap = {.cap = KVM_CAP_PMU_CAPABILITY,
					     .args = {KVM_PMU_CAP_DISABLE}};
		if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
			return err_setf(err, "KVM_ENABLE_CAP(KVM_CAP_PMU_CAPABILITY): %s",
					strerror(errno));
	}

	if (ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER) <= 0)
		return 0;
	_Static_assert(NRANGES <= KVM_MSR_FILTER_MAX_RANGES, "too many MSR filter ranges");
	/* All bits clear: every MSR of a range denied (2 bytes would do). */
	static const uint8_t deny[16];
	struct kvm_msr_filter f = {.flags = KVM_MSR_FILTER_DEFAULT_ALLOW};
	for (int i = 0; i < NRANGES; i++) {
		f.ranges[i] = (struct kvm_msr_filter_range){
			.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			.nmsrs = pmu_msrs[i].n,
			.base = pmu_msrs[i].base,
			.bitmap = (uint8_t *)deny,
		};
	}
	if (ioctl(k->vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0)
		return err_setf(err, "KVM_X86_SET_MSR_FILTER: %s", strerror(errno));
	return 0;
}
