/* SPDX-License-Identifier: MIT */
/*
 * KVM backend, vCPU setup: fd, kvm_run mapping, CPUID, MSRs, LAPIC wiring,
 * and the boot vCPU's registers from the loader's struct boot_cpu_state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "cpu/kvm/kvm_priv.h"

#define MSR_IA32_TSC	      0x10
#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_DEF_ENABLE_WB	0x806ULL /* E bit + default type write-back */

#define APIC_LVT_LINT0	   0x350
#define APIC_LVT_LINT1	   0x360
#define APIC_MODE_EXTINT   0x700u
#define APIC_MODE_NMI	   0x400u
#define APIC_LVT_MODE_MASK 0x700u

static bool msr_supported(const struct kvm_vm_state *k, uint32_t index)
{
	for (uint32_t i = 0; i < k->nmsrs; i++)
		if (k->msr_index[i] == index)
			return true;
	return false;
}

static int setup_msrs(struct kvm_vm_state *k, int fd, struct vmon_error *err)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} boot_msrs[] = {
		{MSR_IA32_SYSENTER_CS, 0},
		{MSR_IA32_SYSENTER_ESP, 0},
		{MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},
		{MSR_LSTAR, 0},
		{MSR_CSTAR, 0},
		{MSR_SYSCALL_MASK, 0},
		{MSR_KERNEL_GS_BASE, 0},
		{MSR_IA32_TSC, 0},
		{MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
		{MSR_MTRR_DEF_TYPE, MTRR_DEF_ENABLE_WB},
	};
	enum { N = sizeof(boot_msrs) / sizeof(boot_msrs[0]) };
	/* struct kvm_msrs ends in a flexible array: allocate it with room
	 * for every entry (a struct embedding it is a GNU extension). */
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + N * sizeof(struct kvm_msr_entry));
	if (!msrs)
		return err_setf(err, "KVM_SET_MSRS: out of memory");
	uint32_t n = 0;
	for (int i = 0; i < N; i++) {
		if (!msr_supported(k, boot_msrs[i].index))
			continue;
		msrs->entries[n].index = boot_msrs[i].index;
		msrs->entries[n].data = boot_msrs[i].value;
		n++;
	}
	msrs->nmsrs = n;
	int r = ioctl(fd, KVM_SET_MSRS, msrs);
	free(msrs);
	if (r < 0 || (uint32_t)r != n)
		return err_setf(err, "KVM_SET_MSRS: set %d of %u MSRs", r, n);
	return 0;
}

/* LINT0 as ExtINT and LINT1 as NMI: the PC "virtual wire" wiring that
 * lets 8259 interrupts reach the CPU through the LAPIC. */
static int setup_lapic(int fd, struct vmon_error *err)
{
	struct kvm_lapic_state lapic;
	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return err_setf(err, "KVM_GET_LAPIC: %s", strerror(errno));
	uint32_t lint0, lint1;
	memcpy(&lint0, &lapic.regs[APIC_LVT_LINT0], 4);
	memcpy(&lint1, &lapic.regs[APIC_LVT_LINT1], 4);
	lint0 = (lint0 & ~APIC_LVT_MODE_MASK) | APIC_MODE_EXTINT;
	lint1 = (lint1 & ~APIC_LVT_MODE_MASK) | APIC_MODE_NMI;
	memcpy(&lapic.regs[APIC_LVT_LINT0], &lint0, 4);
	memcpy(&lapic.regs[APIC_LVT_LINT1], &lint1, 4);
	if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0)
		return err_setf(err, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code64 ? 0 : 1,
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

#define CR0_PE		  (1ULL << 0)
#define CR0_MP		  (1ULL << 1)
#define CR0_ET		  (1ULL << 4)
#define CR0_NE		  (1ULL << 5)
#define CR0_WP		  (1ULL << 16)
#define CR0_PG		  (1ULL << 31)
#define CR4_PAE		  (1ULL << 5)
#define EFER_LME	  (1ULL << 8)
#define EFER_LMA	  (1ULL << 10)
#define SEG_TYPE_CODE_XRA 0xb /* execute/read, accessed */
#define SEG_TYPE_DATA_RWA 0x3 /* read/write, accessed */

static int setup_boot_regs(struct machine *m, int fd, struct vmon_error *err)
{
	const struct boot_cpu_state *b = &m->boot;
	struct kvm_sregs sregs;
	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return err_setf(err, "KVM_GET_SREGS: %s", strerror(errno));

	switch (b->mode) {
	case BOOT_MODE_REAL16:
		sregs.cs.selector = b->real_cs;
		sregs.cs.base = (uint64_t)b->real_cs << 4;
		sregs.ds.selector = sregs.es.selector = sregs.ss.selector = 0;
		sregs.ds.base = sregs.es.base = sregs.ss.base = 0;
		break;
	case BOOT_MODE_PROT32:
	case BOOT_MODE_LONG64: {
		bool lm = b->mode == BOOT_MODE_LONG64;
		flat_segment(&sregs.cs, lm ? BOOT_SEL_CODE64 : BOOT_SEL_CODE32, SEG_TYPE_CODE_XRA,
			     lm);
		flat_segment(&sregs.ds, BOOT_SEL_DATA, SEG_TYPE_DATA_RWA, false);
		sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
		sregs.gdt.base = b->gdt_base;
		sregs.gdt.limit = b->gdt_limit;
		sregs.cr0 = CR0_PE | CR0_ET;
		if (lm) {
			sregs.cr0 |= CR0_MP | CR0_NE | CR0_WP | CR0_PG;
			sregs.cr3 = b->cr3;
			sregs.cr4 |= CR4_PAE;
			sregs.efer |= EFER_LME | EFER_LMA;
		}
		break;
	}
	}
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		return err_setf(err, "KVM_SET_SREGS: %s", strerror(errno));

	struct kvm_regs regs = {
		.rip = b->rip,
		.rsp = b->rsp,
		.rax = b->rax,
		.rbx = b->rbx,
		.rsi = b->rsi,
		.rflags = 0x2, /* bit 1 is always set; interrupts off */
	};
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return err_setf(err, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

int kvm_vcpu_setup(struct machine *m, int index, struct vmon_error *err)
{
	struct kvm_vm_state *k = kvm_state(m);
	struct kvm_vcpu_state *v = &k->vcpus[index];
	v->index = index;
	v->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0)
		return err_setf(err, "KVM_CREATE_VCPU %d: %s", index, strerror(errno));
	void *run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED)
		return err_setf(err, "mmap of vCPU %d's kvm_run: %s", index, strerror(errno));
	v->run = run;

	if (kvm_cpuid_set(k, v->fd, index, m->ncpus, err) < 0 || setup_msrs(k, v->fd, err) < 0 ||
	    setup_lapic(v->fd, err) < 0)
		return -1;

	if (index == 0)
		return setup_boot_regs(m, v->fd, err);

	/* Application processors wait for INIT/SIPI from the guest. */
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_UNINITIALIZED};
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return err_setf(err, "KVM_SET_MP_STATE (vCPU %d): %s", index, strerror(errno));
	return 0;
}
