/* SPDX-License-Identifier: MIT */
/*
 * CPUID for KVM vCPUs: what KVM can virtualise (KVM_GET_SUPPORTED_CPUID),
 * minus what vmon does not model, plus per-vCPU topology (APIC ids).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpu/kvm/kvm_priv.h"

#define CPUID_MAX_ENTRIES 1024

/* Feature bits hidden from guests because vmon provides no device, MSR or
 * behaviour behind them, or because they would expose host details. */
#define L1_ECX_HIDE                                                                                \
	((1u << 2) /* DTES64 */ | (1u << 3) /* MONITOR */ | (1u << 4) /* DS-CPL */ |               \
	 (1u << 5) /* VMX */ | (1u << 6) /* SMX */ | (1u << 7) /* EST */ | (1u << 8) /* TM2 */ |   \
	 (1u << 15) /* PDCM */)
#define L1_EDX_HIDE                                                                                \
	((1u << 21) /* DS */ | (1u << 22) /* ACPI thermal */ | (1u << 29) /* TM */ |               \
	 (1u << 31) /* PBE */)
#define L1_ECX_HYPERVISOR  (1u << 31)
#define L80000001_ECX_HIDE (1u << 2) /* SVM */

int kvm_cpuid_probe(struct kvm_vm_state *k, struct vmon_error *err)
{
	for (int n = 128; n <= CPUID_MAX_ENTRIES; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->entries[0]));
		if (!c)
			return err_setf(err, "out of memory");
		c->nent = (uint32_t)n;
		if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			k->cpuid = c;
			break;
		}
		int e = errno;
		free(c);
		if (e != E2BIG)
			return err_setf(err, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
	}
	if (!k->cpuid)
		return err_setf(err, "KVM_GET_SUPPORTED_CPUID: more than %d entries",
				CPUID_MAX_ENTRIES);

	for (uint32_t i = 0; i < k->cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &k->cpuid->entries[i];
		switch (e->function) {
		case 1:
			e->ecx &= ~L1_ECX_HIDE;
			e->ecx |= L1_ECX_HYPERVISOR;
			e->edx &= ~L1_EDX_HIDE;
			break;
		case 6:	  /* thermal and power management: not modelled */
		case 0xa: /* architectural PMU: not exposed */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0x80000001: e->ecx &= ~L80000001_ECX_HIDE; break;
		default: break;
		}
	}
	return 0;
}

static unsigned bits_for(int n)
{
	unsigned s = 0;
	while ((1 << s) < n)
		s++;
	return s;
}

int kvm_cpuid_set(struct kvm_vm_state *k, int vcpu_fd, int index, int ncpus, struct vmon_error *err)
{
	size_t sz = sizeof(*k->cpuid) + k->cpuid->nent * sizeof(k->cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	if (!c)
		return err_setf(err, "out of memory");
	memcpy(c, k->cpuid, sz);
	uint32_t apic_id = (uint32_t)index;
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			/* Initial APIC id, and the logical-processor count that
			 * goes with the HTT bit. */
			e->ebx = (e->ebx & 0x0000ffffu) | (apic_id << 24) |
				 ((uint32_t)(ncpus > 255 ? 255 : ncpus) << 16);
			if (ncpus > 1)
				e->edx |= 1u << 28; /* HTT */
			break;
		case 4:
			/* Deterministic cache parameters: cores per package. */
			e->eax = (e->eax & 0x03ffffffu) | ((uint32_t)(ncpus - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			/* One thread per core, ncpus cores in one package. */
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = bits_for(ncpus);
				e->ebx = (uint32_t)ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			e->edx = apic_id;
			break;
		default: break;
		}
	}
	int r = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
	int saved = errno;
	free(c);
	if (r < 0)
		return err_setf(err, "KVM_SET_CPUID2 (vCPU %d): %s", index, strerror(saved));
	return 0;
}
