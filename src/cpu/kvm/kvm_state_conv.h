/* SPDX-License-Identifier: MIT */
/*
 * KVM's state structs <-> the backend-neutral form of a snapshot
 * (cpu/cpu_state.h). Pure functions over plain data, no ioctl and no
 * /dev/kvm, so that tests/unit/test_kvm_state.c checks them on any host;
 * kvm_snapshot.c makes the ioctls around them.
 *
 * The "to KVM" direction fills a struct that already holds KVM's current
 * state (read just before), overwriting what the neutral form describes
 * and keeping the rest (the PIC's ELCR mask, the IOAPIC's base, LAPIC
 * registers vmon does not carry...).
 *
 * Threads: plain data.
 */
#ifndef VMON_CPU_KVM_STATE_CONV_H
#define VMON_CPU_KVM_STATE_CONV_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu_state.h"

/* KVM's APIC timer counts at 1 GHz (api.rst, KVM_CAP_X86_APIC_BUS_CYCLES_NS:
 * one bus cycle per nanosecond unless that capability changed it). */
#define KVM_APIC_BUS_NS 1

/* MSR indices the neutral form names, or keeps in its extra list. */
#define KVM_MSR_TSC	       0x10
#define KVM_MSR_APIC_BASE      0x1b
#define KVM_MSR_TSC_ADJUST     0x3b
#define KVM_MSR_SYSENTER_CS    0x174
#define KVM_MSR_SYSENTER_ESP   0x175
#define KVM_MSR_SYSENTER_EIP   0x176
#define KVM_MSR_MISC_ENABLE    0x1a0
#define KVM_MSR_PAT	       0x277
#define KVM_MSR_TSC_DEADLINE   0x6e0
#define KVM_MSR_STAR	       0xc0000081
#define KVM_MSR_LSTAR	       0xc0000082
#define KVM_MSR_CSTAR	       0xc0000083
#define KVM_MSR_SFMASK	       0xc0000084
#define KVM_MSR_KERNEL_GS_BASE 0xc0000102
#define KVM_MSR_TSC_AUX	       0xc0000103
/* KVM's paravirtual MSRs (Documentation/virt/kvm/x86/msr.rst) */
#define KVM_MSR_PV_WALL_CLOCK	   0x11
#define KVM_MSR_PV_SYSTEM_TIME	   0x12
#define KVM_MSR_PV_WALL_CLOCK_NEW  0x4b564d00
#define KVM_MSR_PV_SYSTEM_TIME_NEW 0x4b564d01
#define KVM_MSR_PV_ASYNC_PF_EN	   0x4b564d02
#define KVM_MSR_PV_STEAL_TIME	   0x4b564d03
#define KVM_MSR_PV_EOI_EN	   0x4b564d04
#define KVM_MSR_PV_POLL_CONTROL	   0x4b564d05
#define KVM_MSR_PV_ASYNC_PF_INT	   0x4b564d06

/* The neutral form's named MSRs: a pointer into s for index, or NULL. */
uint64_t *kvm_conv_named_msr(struct cpu_state *s, uint32_t index);
/* Whether the extra list carries index (MTRRs, TSC deadline, KVM's
 * paravirtual MSRs), and its rank there: the order they are saved and
 * set in (the async-PF interrupt vector before async PF itself; the TSC
 * deadline last, once the LAPIC and the TSC are in). -1: not carried. */
int kvm_conv_extra_msr_rank(uint32_t index);
/* The extra list's MSR of that rank, 0 past its end. */
uint32_t kvm_conv_extra_msr_at(unsigned rank);
/* The extra-list index of s's first entry for index, or -1. */
int kvm_conv_find_extra(const struct cpu_state *s, uint32_t index);

void kvm_conv_regs_get(const struct kvm_regs *r, struct cpu_state *s);
void kvm_conv_regs_set(const struct cpu_state *s, struct kvm_regs *r);
void kvm_conv_sregs_get(const struct kvm_sregs *r, struct cpu_state *s);
void kvm_conv_sregs_set(const struct cpu_state *s, struct kvm_sregs *r);
void kvm_conv_debugregs_get(const struct kvm_debugregs *d, struct cpu_state *s);
void kvm_conv_debugregs_set(const struct cpu_state *s, struct kvm_debugregs *d);
/* The XSAVE image (standard format, 4096 bytes); setting keeps in
 * XSTATE_BV the components of s's XCR0 that supported (this KVM's XCR0
 * bits) has. */
void kvm_conv_xsave_get(const struct kvm_xsave *x, struct cpu_state *s);
void kvm_conv_xsave_set(const struct cpu_state *s, uint64_t supported, struct kvm_xsave *x);

void kvm_conv_lapic_get(const struct kvm_lapic_state *l, struct cpu_state *s);
void kvm_conv_lapic_set(const struct cpu_state *s, struct kvm_lapic_state *l);

/* Pending events. Returns 0, or -1 with what KVM holds that the neutral
 * form cannot (SMM, a latched INIT) in *why. */
int kvm_conv_events_get(const struct kvm_vcpu_events *e, struct cpu_state *s, const char **why);
void kvm_conv_events_set(const struct cpu_state *s, struct kvm_vcpu_events *e);
/* KVM_MP_STATE_*; -1 with *why for a state the neutral form has no name
 * for. */
int kvm_conv_mp_get(uint32_t mp_state, struct cpu_state *s, const char **why);
uint32_t kvm_conv_mp_set(const struct cpu_state *s, bool bsp);

/* The PIC pair and IOAPIC (KVM_GET_IRQCHIP chips 0, 1, 2). */
void kvm_conv_pic_get(const struct kvm_pic_state *k, struct chip_pic_state *p);
void kvm_conv_pic_set(const struct chip_pic_state *p, struct kvm_pic_state *k);
void kvm_conv_ioapic_get(const struct kvm_ioapic_state *k, struct chip_state *s);
void kvm_conv_ioapic_set(const struct chip_state *s, struct kvm_ioapic_state *k);
/* The PIT, now_ns on CLOCK_MONOTONIC (KVM's count_load_time clock). */
void kvm_conv_pit_get(const struct kvm_pit_state2 *k, uint64_t now_ns, struct chip_state *s);
void kvm_conv_pit_set(const struct chip_state *s, uint64_t now_ns, struct kvm_pit_state2 *k);

#endif
