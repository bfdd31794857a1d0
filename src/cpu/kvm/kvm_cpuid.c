/* SPDX-License-Identifier: MIT */
/*
 * CPUID for KVM vCPUs: what KVM can virtualise (KVM_GET_SUPPORTED_CPUID),
 * minus what vmon does not model and features whose needs KVM lacks,
 * masked by a pinned --cpu-features model (src/cpu/cpu_model.h: the one
 * the software CPU reports too), plus per-vCPU topology (APIC ids).
 *
 * Hidden: VMX/SVM unless --nested asks for them (SVM's feature leaf
 * 0x8000000a goes with it, or Linux would list npt, vgif... for a CPU
 * without svm; KVM reports either bit in KVM_GET_SUPPORTED_CPUID only
 * when its module's nested parameter is on, so the bit is the test),
 * the PMU on Intel (leaf 0xa, PDCM) and AMD (PERFCTR_CORE/NB/LLC, leaf
 * 0x80000022; KVM's side is kvm_pmu.c), MONITOR, debug store, thermal.
 * Topology (api.rst, "CPU topology"): KVM returns the host's or zeroes
 * for leaves 0xb, 0x1f and, on AMD, 0x8000001e; vmon gives every vCPU its
 * own: one thread per core, ncpus cores in one package, APIC id = index,
 * the same machine its software CPU reports in leaves 1 and 0xb. On AMD
 * leaf 0x80000008 ECX (cores per package, APIC id bits) says the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpu/cpu_model.h"
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
#define L1_ECX_HYPERVISOR   (1u << 31)
#define L1_ECX_VMX	    (1u << 5)
#define L1_ECX_TSC_DEADLINE (1u << 24)
#define L80000001_ECX_SVM   (1u << 2)
#define L80000001_ECX_HIDE                                                                         \
	((1u << 2) /* SVM */ | (1u << 23) /* PERFCTR_CORE */ | (1u << 24) /* PERFCTR_NB */ |       \
	 (1u << 28) /* PERFCTR_LLC */)

static uint32_t *entry_regs(struct kvm_cpuid_entry2 *e, uint32_t r[4])
{
	r[CPUID_EAX] = e->eax;
	r[CPUID_EBX] = e->ebx;
	r[CPUID_ECX] = e->ecx;
	r[CPUID_EDX] = e->edx;
	return r;
}

static struct kvm_cpuid_entry2 *find_entry(struct kvm_cpuid2 *c, uint32_t fn, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

/*
 * The model's features only: clears every instruction-set feature bit
 * outside set, and the XSAVE state components (leaf 0xd) that only those
 * features bring; the largest XSAVE area size follows what is left.
 */
static void apply_model(struct kvm_cpuid2 *c, const struct cpu_featureset *set)
{
	struct kvm_cpuid_entry2 *d0 = find_entry(c, 0xd, 0);
	uint64_t all = cpu_model_xcr0(&(struct cpu_featureset){{~0ULL, ~0ULL}});
	uint64_t keep = ~all | cpu_model_xcr0(set);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		uint32_t r[4];
		cpu_model_mask_cpuid(set, e->function, e->index, entry_regs(e, r));
		e->eax = r[CPUID_EAX];
		e->ebx = r[CPUID_EBX];
		e->ecx = r[CPUID_ECX];
		e->edx = r[CPUID_EDX];
		/* 0xd.i (i >= 2) describes user state component i: gone with it. */
		if (d0 && e->function == 0xd && e->index >= 2 && e->index < 64 &&
		    ((((uint64_t)d0->edx << 32 | d0->eax) >> e->index) & 1) &&
		    !((keep >> e->index) & 1))
			e->eax = e->ebx = e->ecx = e->edx = 0;
	}
	if (!d0)
		return;
	uint64_t xcr0 = ((uint64_t)d0->edx << 32 | d0->eax) & keep;
	d0->eax = (uint32_t)xcr0;
	d0->edx = (uint32_t)(xcr0 >> 32);
	/* ECX: the XSAVE area for every component XCR0 may enable. */
	uint32_t size = xcr0 ? 512 + 64 : 0;
	for (unsigned b = 2; b < 64; b++) {
		struct kvm_cpuid_entry2 *e = ((xcr0 >> b) & 1) ? find_entry(c, 0xd, b) : NULL;
		if (e && e->eax + e->ebx > size)
			size = e->eax + e->ebx;
	}
	d0->ecx = size;
	if (d0->ebx > size)
		d0->ebx = size;
}

/* Why KVM offers no SVM/VMX: its module's nested parameter, where /sys
 * says (a jail may have no /sys). */
static int nested_refused(bool amd, struct vmon_error *err)
{
	const char *mod = amd ? "kvm_amd" : "kvm_intel";
	char path[64], val[8] = "";
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/nested", mod);
	FILE *f = fopen(path, "re");
	if (f) {
		if (!fgets(val, sizeof(val), f))
			val[0] = 0;
		fclose(f);
		val[strcspn(val, "\n")] = 0;
	}
	if (val[0] == '0' || val[0] == 'N')
		return err_setf(err,
				"--nested: nesting is off in this host's %s module (nested=%s; "
				"load it with nested=1)",
				mod, val);
	return err_setf(err, "--nested: this host's KVM does not offer %s to its guests",
			amd ? "SVM" : "VMX");
}

/* What --nested keeps: the virtualization bit KVM offers (SVM on AMD, VMX
 * on Intel), or an error saying why there is none. */
static int nested_probe(struct kvm_cpuid2 *c, bool amd, struct vmon_error *err)
{
	struct kvm_cpuid_entry2 *e = amd ? find_entry(c, 0x80000001, 0) : find_entry(c, 1, 0);
	uint32_t bit = amd ? 1u << 2 : 1u << 5;
	if (!e || !(e->ecx & bit))
		return nested_refused(amd, err);
	return 0;
}

int kvm_cpuid_probe(struct kvm_vm_state *k, const struct cpu_model *model, bool nested,
		    struct vmon_error *err)
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

	struct kvm_cpuid_entry2 *vendor = find_entry(k->cpuid, 0, 0);
	/* "AuthenticAMD", "HygonGenuine": EBX "Auth", "Hygo" */
	k->cpu_amd = vendor && (vendor->ebx == 0x68747541 || vendor->ebx == 0x6f677948);
	/* A pinned model naming svm (a snapshot or migration of a guest that
	 * had it: a --nested one, or the software CPU's +svm) needs what
	 * --nested gives. */
	if (model && model->pinned && !cpu_has(&model->remove, CPUF_SVM) &&
	    (cpu_has(&model->add, CPUF_SVM) ||
	     (!model->base_max && cpu_has(&model->base, CPUF_SVM))))
		nested = true;
	if (nested && nested_probe(k->cpuid, k->cpu_amd, err) < 0)
		return -1;
	/* api.rst, KVM_CAP_TSC_DEADLINE_TIMER: the in-kernel LAPIC (vmon's
	 * is always in the kernel) has the TSC-deadline timer, and userspace
	 * sets CPUID.1:ECX[24] itself (KVMs before 6.14 leave it out of
	 * KVM_GET_SUPPORTED_CPUID). The software CPU has it too: without it
	 * a snapshot or migration from there, whose model has it, could not
	 * land here. */
	bool deadline = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	for (uint32_t i = 0; i < k->cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &k->cpuid->entries[i];
		switch (e->function) {
		case 1:
			e->ecx &= ~(L1_ECX_HIDE & ~(nested ? L1_ECX_VMX : 0));
			e->ecx |= L1_ECX_HYPERVISOR | (deadline ? L1_ECX_TSC_DEADLINE : 0);
			e->edx &= ~L1_EDX_HIDE;
			break;
		case 0x8000000a: /* SVM features: go with SVM */
			if (nested)
				break;
			__attribute__((fallthrough));
		case 6:		 /* thermal and power management: not modelled */
		case 0xa:	 /* architectural PMU: not exposed */
		case 0x80000022: /* AMD PerfMonV2: not exposed */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0x80000001:
			e->ecx &= ~(L80000001_ECX_HIDE & ~(nested ? L80000001_ECX_SVM : 0));
			break;
		default: break;
		}
	}
	struct cpu_featureset offered = {{0}}, set;
	for (uint32_t i = 0; i < k->cpuid->nent; i++) {
		uint32_t r[4];
		struct kvm_cpuid_entry2 *e = &k->cpuid->entries[i];
		cpu_features_from_cpuid(e->function, e->index, entry_regs(e, r), &offered);
	}
	/* Without a pinned model: everything KVM offers but a feature whose
	 * needs it does not offer (a KVM nested under a CPU without XSAVE
	 * reports PKU, which a Linux guest then turns on with CR4.PKE). The
	 * guest's CPUID is then the set a snapshot records
	 * (kvm_snapshot_features) and a restore pins: a restored CR4 always
	 * has its features. */
	if (cpu_model_resolve(model && model->pinned ? model : NULL, &offered, "kvm", &set, err) <
	    0)
		return -1;
	if (nested) /* --nested keeps SVM whatever the model (cpu_model.h: svm) */
		cpu_set(&set, CPUF_SVM);
	apply_model(k->cpuid, &set);
	return 0;
}

static unsigned bits_for(int n)
{
	unsigned s = 0;
	while ((1 << s) < n)
		s++;
	return s;
}

void kvm_cpuid_features(const struct kvm_cpuid2 *c, struct cpu_featureset *out)
{
	struct cpu_featureset raw = {{0}};
	*out = raw;
	if (!c)
		return;
	for (uint32_t i = 0; i < c->nent; i++) {
		uint32_t r[4];
		struct kvm_cpuid_entry2 e = c->entries[i];
		cpu_features_from_cpuid(e.function, e.index, entry_regs(&e, r), &raw);
	}
	struct vmon_error err = {{0}};
	if (cpu_model_resolve(NULL, &raw, "kvm", out, &err) < 0)
		*out = raw; /* an unpinned request cannot fail */
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
		case 0x80000008:
			/* AMD: ECX[7:0] cores per package - 1, [15:12] APIC id
			 * bits for them (0 on Intel, where ECX is reserved). */
			if (k->cpu_amd)
				e->ecx = (e->ecx & ~0xf0ffu) | (bits_for(ncpus) << 12) |
					 (uint32_t)(ncpus - 1);
			break;
		case 0x8000001e:
			/* AMD extended APIC id; core id in EBX[7:0] with one
			 * thread per core (EBX[15:8] = 0); node 0 of 1 in ECX. */
			e->eax = apic_id;
			e->ebx = apic_id & 0xff;
			e->ecx = 0;
			e->edx = 0;
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
