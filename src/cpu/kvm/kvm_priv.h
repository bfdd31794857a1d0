/* SPDX-License-Identifier: MIT */
/*
 * Private state of the KVM backend. Only src/cpu/kvm/ includes this.
 */
#ifndef VMON_CPU_KVM_PRIV_H
#define VMON_CPU_KVM_PRIV_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/bus.h"
#include "core/device.h"
#include "core/layout.h"
#include "core/machine.h"
#include "cpu/cpu_model.h"
#include "cpu/cpu_state.h"

#define KVM_EXIT_STATS 48

/* Addresses KVM needs in the MMIO hole below 4 GiB (Intel VMX keeps its
 * real-mode TSS and identity-map page there; 4 pages, unused by devices). */
#define KVM_IDENTITY_MAP_GPA LAYOUT_KVM_IDENTITY_MAP
#define KVM_TSS_GPA	     LAYOUT_KVM_TSS

struct kvm_vcpu_state {
	int index;
	int fd;
	struct kvm_run *run; /* mmap of the vCPU fd, run_size bytes */
	pthread_t thread;
	atomic_bool thread_known; /* thread is valid for pthread_kill */
	struct bus_hint pio_hint;
	struct bus_hint mmio_hint;
	/* Exits by reason (KVM_EXIT_*; the last slot counts larger codes). */
	_Atomic uint64_t exits[KVM_EXIT_STATS];
};

/* MSI routes for irqfds: GSIs from KVM_MSI_GSI_BASE up (0-23 are the
 * PIC/IOAPIC pins of KVM's default routing, which vmon keeps). */
#define KVM_MSI_GSI_BASE   24
#define KVM_MSI_ROUTES_MAX 1024

struct kvm_msi_route {
	bool used;
	uint32_t addr_lo, addr_hi, data;
};

struct kvm_vm_state {
	int sys_fd; /* /dev/kvm */
	int vm_fd;
	size_t run_size;
	int max_vcpus;
	struct kvm_cpuid2 *cpuid; /* supported CPUID, filtered; per-vCPU copies patch APIC ids */
	bool cpu_amd;		  /* CPUID vendor AuthenticAMD or HygonGenuine */
	uint32_t *msr_index;	  /* KVM_GET_MSR_INDEX_LIST */
	uint32_t nmsrs;
	/* kvm_snapshot.c: what it needs from this KVM (probed at create) */
	bool snap_ok;		 /* VCPU_EVENTS, DEBUGREGS, ADJUST_CLOCK */
	const char *snap_lack;	 /* the first capability missing, if not */
	bool has_xcrs;		 /* KVM_CAP_XCRS (the host has XSAVE) */
	bool has_tsc_khz;	 /* KVM_CAP_GET_TSC_KHZ */
	bool has_tsc_control;	 /* KVM_CAP_TSC_CONTROL: KVM_SET_TSC_KHZ */
	uint64_t supported_xcr0; /* CPUID 0xd.0 as the guest sees it */
	/* kvm_mem.c: the RAM slots' dirty log */
	bool manual_protect; /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled */
	bool logging;	     /* the slots carry KVM_MEM_LOG_DIRTY_PAGES */
	uint64_t *dirty_buf; /* KVM_GET_DIRTY_LOG's bitmap, dirty_words words */
	uint64_t dirty_words;
	struct kvm_vcpu_state vcpus[VMON_MAX_CPUS];
	atomic_bool warned_unclaimed;
	/* kvm_irq.c: the GSI routing table vmon owns once it adds an MSI
	 * route (KVM_SET_GSI_ROUTING replaces the whole table). */
	pthread_mutex_t route_lock;
	unsigned nroutes; /* usable entries of routes[] (by KVM_CAP_IRQ_ROUTING) */
	struct kvm_msi_route routes[KVM_MSI_ROUTES_MAX];
	struct kvm_irq_routing *route_buf; /* scratch for commits, under route_lock */
	/* kvm_irq.c: the level of GSIs 0-31 as last given to KVM_IRQ_LINE,
	 * so a line already at the level asked for is not set again. */
	pthread_mutex_t line_lock;
	uint32_t line_level; /* bit n: GSI n asserted; under line_lock */
};

static inline struct kvm_vm_state *kvm_state(struct machine *m)
{
	return m->backend_priv;
}

/* kvm_vcpu.c */
int kvm_vcpu_setup(struct machine *m, int index, struct vmon_error *err);
/* kvm_pmu.c: no PMU for the guest (KVM_PMU_CAP_DISABLE where offered, and
 * an MSR filter denying the counter MSRs). After KVM_CREATE_VM, before any
 * vCPU. Returns 0, or -1 with err. */
int kvm_pmu_setup(struct kvm_vm_state *k, struct vmon_error *err);
/* kvm_cpuid.c */
/* Reads KVM_GET_SUPPORTED_CPUID, hides what vmon does not model and, for
 * a pinned --cpu-features model (cpu_model.h), every instruction-set
 * feature outside it (error if the model asks for one KVM lacks). */
int kvm_cpuid_probe(struct kvm_vm_state *k, const struct cpu_model *model, bool nested,
		    struct vmon_error *err);
int kvm_cpuid_set(struct kvm_vm_state *k, int vcpu_fd, int index, int ncpus,
		  struct vmon_error *err);
/* The features a probed CPUID (c, may be NULL: none) gives the guest, a
 * feature whose needs it lacks left out (cpu_model_resolve). */
void kvm_cpuid_features(const struct kvm_cpuid2 *c, struct cpu_featureset *out);
/* kvm_irq.c: installs m->irq (KVM_IRQ_LINE, KVM_SIGNAL_MSI and, where
 * the host has them, irqfd MSI routes) and m->ioev (KVM_IOEVENTFD).
 * After KVM_CREATE_IRQCHIP. Returns 0, or -1 with err. */
int kvm_irq_setup(struct machine *m, struct vmon_error *err);
void kvm_irq_teardown(struct machine *m);
/* kvm_snapshot.c: the cpu_backend snapshot hooks (cpu_backend.h). */
void kvm_snapshot_probe(struct kvm_vm_state *k);
int kvm_snapshot_vcpu_get(struct machine *m, int index, struct cpu_state *s,
			  struct vmon_error *err);
int kvm_snapshot_vcpu_set(struct machine *m, int index, const struct cpu_state *s,
			  struct vmon_error *err);
int kvm_snapshot_chips_get(struct machine *m, struct chip_state *s, struct vmon_error *err);
int kvm_snapshot_chips_set(struct machine *m, const struct chip_state *s, struct vmon_error *err);
void kvm_snapshot_features(struct machine *m, struct cpu_featureset *out);
/* kvm_mem.c: guest RAM's slots and their dirty log (the cpu_backend
 * dirty hooks). kvm_mem_probe after KVM_CREATE_VM, before the slots;
 * kvm_mem_slots (re)sets every slot, logging or not. */
void kvm_mem_probe(struct kvm_vm_state *k);
int kvm_mem_slots(struct machine *m, bool log, struct vmon_error *err);
int kvm_mem_dirty_log(struct machine *m, bool on, struct vmon_error *err);
int kvm_mem_dirty_sync(struct machine *m, struct vmon_error *err);
int kvm_mem_dirty_flush(struct machine *m, struct vmon_error *err);
/* kvm_run.c */
void kvm_vcpu_run(struct machine *m, int index);
void kvm_vcpu_kick(struct machine *m, int index);
void kvm_install_kick_signal(void);

/* Name of a KVM_EXIT_* code ("KVM_EXIT_IO"...), never NULL. */
const char *kvm_exit_name(uint32_t reason);
void kvm_vcpu_stats(struct machine *m, int index, const struct stats_sink *out);

#endif
