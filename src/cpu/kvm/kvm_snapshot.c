/* SPDX-License-Identifier: MIT */
/*
 * KVM backend, snapshots: each vCPU's and the VM's interrupt controllers'
 * state read with KVM's GET ioctls and put back with its SET ioctls, in
 * the neutral form of cpu/cpu_state.h (the conversions are
 * kvm_state_conv.c). Called with every vCPU parked out of KVM_RUN after
 * its pending I/O was completed (kvm_run.c), or created and not yet run.
 *
 * Order on save: MP state first (KVM_GET_MP_STATE takes a pending INIT or
 * SIPI in, which can change the registers), then the rest.
 * Order on restore (Documentation/virt/kvm/api.rst and what it implies):
 * the TSC rate before anything reads the TSC; REGS (which drops a
 * pending exception) before VCPU_EVENTS (which sets it again); SREGS
 * (APIC_BASE: the LAPIC's mode) before LAPIC; LAPIC before the MSRs (the
 * TSC-deadline MSR only takes once LVTT is in deadline mode, and is set
 * last); VCPU_EVENTS then MP_STATE last. KVM_SET_MSRS returns how many
 * it set: fewer is an error naming the first one refused.
 *
 * The state comes from a file: vm/vmstate_cpu.c checked its ranges, and
 * this file refuses what the KVM of this host cannot take (an MSR it does
 * not know with a value, XCR0 bits it does not offer, control bits whose
 * feature the vCPU's CPUID lacks: kvm_state_fit.c) before any ioctl;
 * any refusal by KVM itself is one line naming the ioctl.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "cpu/cpu_backend.h"
#include "cpu/kvm/kvm_priv.h"
#include "cpu/kvm/kvm_state_conv.h"
#include "cpu/kvm/kvm_state_fit.h"

static bool msr_known(const struct kvm_vm_state *k, uint32_t index)
{
	for (uint32_t i = 0; i < k->nmsrs; i++)
		if (k->msr_index[i] == index)
			return true;
	return false;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int vcpu_ioctl(int fd, unsigned long req, void *arg, const char *name, int index,
		      struct vmon_error *err)
{
	if (ioctl(fd, req, arg) < 0)
		return err_setf(err, "vCPU %d: %s: %s", index, name, strerror(errno));
	return 0;
}

#define VCPU_IOCTL(fd, req, arg, i, err) vcpu_ioctl(fd, req, arg, #req, i, err)

/* Every MSR the neutral form carries that this KVM knows: the named ones
 * (IA32_TSC last of them), then the extra list in its order (the TSC
 * deadline last of all: KVM_SET_MSRS sets in list order, after the LAPIC
 * and the TSC). */
static uint32_t msr_list(const struct kvm_vm_state *k, uint32_t *out, uint32_t max)
{
	static const uint32_t named[] = {
		KVM_MSR_SYSENTER_CS, KVM_MSR_SYSENTER_ESP,   KVM_MSR_SYSENTER_EIP,
		KVM_MSR_STAR,	     KVM_MSR_LSTAR,	     KVM_MSR_CSTAR,
		KVM_MSR_SFMASK,	     KVM_MSR_KERNEL_GS_BASE, KVM_MSR_PAT,
		KVM_MSR_MISC_ENABLE, KVM_MSR_TSC_AUX,	     KVM_MSR_TSC_ADJUST,
		KVM_MSR_TSC,
	};
	uint32_t n = 0;
	for (unsigned i = 0; i < sizeof(named) / sizeof(named[0]) && n < max; i++)
		if (msr_known(k, named[i]))
			out[n++] = named[i];
	for (unsigned r = 0; kvm_conv_extra_msr_at(r) && n < max; r++)
		if (msr_known(k, kvm_conv_extra_msr_at(r)))
			out[n++] = kvm_conv_extra_msr_at(r);
	return n;
}

static struct kvm_msrs *msrs_alloc(uint32_t n)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(struct kvm_msr_entry));
	if (m)
		m->nmsrs = n;
	return m;
}

static int get_msrs(struct kvm_vm_state *k, int fd, int index, struct cpu_state *s,
		    struct vmon_error *err)
{
	uint32_t list[CPU_STATE_MAX_MSRS + 16];
	uint32_t n = msr_list(k, list, sizeof(list) / sizeof(list[0]));
	struct kvm_msrs *m = msrs_alloc(n);
	if (!m)
		return err_setf(err, "out of memory");
	for (uint32_t i = 0; i < n; i++)
		m->entries[i].index = list[i];
	int r = ioctl(fd, KVM_GET_MSRS, m);
	if (r < 0 || (uint32_t)r != n) {
		int e = errno;
		uint32_t bad = r >= 0 && (uint32_t)r < n ? list[r] : 0;
		free(m);
		return r < 0 ? err_setf(err, "vCPU %d: KVM_GET_MSRS: %s", index, strerror(e))
			     : err_setf(err, "vCPU %d: KVM_GET_MSRS: KVM could not read MSR 0x%x",
					index, bad);
	}
	s->nmsrs = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t *f = kvm_conv_named_msr(s, m->entries[i].index);
		if (f)
			*f = m->entries[i].data;
		else if (s->nmsrs < CPU_STATE_MAX_MSRS)
			s->msrs[s->nmsrs++] = (struct cpu_msr_state){.index = m->entries[i].index,
								     .value = m->entries[i].data};
	}
	free(m);
	return 0;
}

int kvm_snapshot_vcpu_get(struct machine *m, int index, struct cpu_state *s, struct vmon_error *err)
{
	struct kvm_vm_state *k = kvm_state(m);
	int fd = k->vcpus[index].fd;
	const char *why;
	memset(s, 0, sizeof(*s));
	if (!k->snap_ok)
		return err_setf(err, "KVM on this host lacks %s, which snapshots need",
				k->snap_lack);
	struct kvm_mp_state mp;
	if (VCPU_IOCTL(fd, KVM_GET_MP_STATE, &mp, index, err) < 0)
		return -1;
	if (kvm_conv_mp_get(mp.mp_state, s, &why) < 0)
		return err_setf(err, "vCPU %d %s", index, why);

	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs = {0};
	struct kvm_debugregs dbg;
	struct kvm_vcpu_events ev;
	struct kvm_lapic_state *lapic = malloc(sizeof(*lapic));
	struct kvm_xsave *xs = malloc(sizeof(*xs));
	int r = -1;
	if (!lapic || !xs) {
		err_setf(err, "out of memory");
		goto out;
	}
	if (VCPU_IOCTL(fd, KVM_GET_REGS, &regs, index, err) < 0 ||
	    VCPU_IOCTL(fd, KVM_GET_SREGS, &sregs, index, err) < 0 ||
	    VCPU_IOCTL(fd, KVM_GET_XSAVE, xs, index, err) < 0 ||
	    (k->has_xcrs && VCPU_IOCTL(fd, KVM_GET_XCRS, &xcrs, index, err) < 0) ||
	    VCPU_IOCTL(fd, KVM_GET_LAPIC, lapic, index, err) < 0 ||
	    VCPU_IOCTL(fd, KVM_GET_DEBUGREGS, &dbg, index, err) < 0 ||
	    VCPU_IOCTL(fd, KVM_GET_VCPU_EVENTS, &ev, index, err) < 0 ||
	    get_msrs(k, fd, index, s, err) < 0)
		goto out;
	kvm_conv_regs_get(&regs, s);
	kvm_conv_sregs_get(&sregs, s);
	kvm_conv_xsave_get(xs, s);
	s->xcr0 = 1;
	for (uint32_t i = 0; k->has_xcrs && i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
		if (xcrs.xcrs[i].xcr == 0)
			s->xcr0 = xcrs.xcrs[i].value;
	kvm_conv_lapic_get(lapic, s);
	kvm_conv_debugregs_get(&dbg, s);
	if (kvm_conv_events_get(&ev, s, &why) < 0) {
		err_setf(err, "vCPU %d %s: cannot save it now", index, why);
		goto out;
	}
	if (k->has_tsc_khz) {
		int khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);
		s->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	}
	r = 0;
out:
	free(lapic);
	free(xs);
	return r;
}

/* Refuses, before any ioctl, what this KVM cannot take. */
static int check_for_kvm(struct kvm_vm_state *k, int index, const struct cpu_state *s,
			 struct vmon_error *err)
{
	if (!k->has_xcrs && s->xcr0 != 1)
		return err_setf(err,
				"vCPU %d: the snapshot's XCR0 is 0x%llx and this host's KVM cannot "
				"set XCR0 (no KVM_CAP_XCRS)",
				index, (unsigned long long)s->xcr0);
	if (s->xcr0 & ~k->supported_xcr0)
		return err_setf(err,
				"vCPU %d: the snapshot's XCR0 0x%llx has state components this "
				"host's KVM lacks (it offers 0x%llx)",
				index, (unsigned long long)s->xcr0,
				(unsigned long long)k->supported_xcr0);
	/* What KVM_SET_SREGS/XCRS/LAPIC check against the vCPU's CPUID
	 * (set at its creation, before any of them: api.rst), said here
	 * with the feature's name instead of EINVAL. k->cpuid is every
	 * vCPU's but for topology. */
	struct kvm_fit_cpuid fit;
	char why[160];
	kvm_fit_from_cpuid(k->cpuid, &fit);
	if (kvm_fit_check(s, &fit, why, sizeof(why)) < 0)
		return err_setf(err, "vCPU %d: the saved state cannot run on this CPU: %s", index,
				why);
	for (uint32_t i = 0; i < s->nmsrs; i++) {
		uint32_t idx = s->msrs[i].index;
		if (kvm_conv_extra_msr_rank(idx) < 0)
			return err_setf(err,
					"vCPU %d: the snapshot has MSR 0x%x, which vmon does "
					"not restore",
					index, idx);
		if (kvm_conv_find_extra(s, idx) != (int)i)
			return err_setf(err, "vCPU %d: the snapshot has MSR 0x%x twice", index,
					idx);
		if (!msr_known(k, idx) && s->msrs[i].value)
			return err_setf(err,
					"vCPU %d: this host's KVM lacks MSR 0x%x (the snapshot "
					"has it at 0x%llx)",
					index, idx, (unsigned long long)s->msrs[i].value);
	}
	return 0;
}

static int set_tsc_khz(struct kvm_vm_state *k, int fd, int index, uint32_t khz,
		       struct vmon_error *err)
{
	if (!khz)
		return 0; /* unknown (a software-CPU snapshot): the host's */
	int now = k->has_tsc_khz ? ioctl(fd, KVM_GET_TSC_KHZ, 0) : -1;
	if (now > 0 && (uint32_t)now == khz)
		return 0;
	if (!k->has_tsc_control)
		return err_setf(err,
				"vCPU %d: the snapshot's TSC runs at %u kHz and this host's KVM "
				"cannot set a vCPU's TSC rate (no KVM_CAP_TSC_CONTROL)",
				index, khz);
	if (ioctl(fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0)
		return err_setf(err,
				"vCPU %d: KVM_SET_TSC_KHZ %u (the snapshot's TSC rate; this host's "
				"is %d kHz): %s",
				index, khz, now, strerror(errno));
	return 0;
}

/* The MSRs of s this KVM knows, the TSC deadline last. */
static int set_msrs(struct kvm_vm_state *k, int fd, int index, const struct cpu_state *s,
		    struct vmon_error *err)
{
	uint32_t list[CPU_STATE_MAX_MSRS + 16];
	uint32_t n = msr_list(k, list, sizeof(list) / sizeof(list[0]));
	struct kvm_msrs *m = msrs_alloc(n);
	if (!m)
		return err_setf(err, "out of memory");
	struct cpu_state *cs = (struct cpu_state *)s; /* kvm_conv_named_msr only reads here */
	uint32_t j = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint64_t *f = kvm_conv_named_msr(cs, list[i]);
		int x = f ? -1 : kvm_conv_find_extra(s, list[i]);
		if (!f && x < 0)
			continue; /* not in the snapshot (a software-CPU one): KVM's own */
		m->entries[j].index = list[i];
		m->entries[j].data = f ? *f : s->msrs[x].value;
		j++;
	}
	m->nmsrs = j;
	int r = ioctl(fd, KVM_SET_MSRS, m);
	int e = errno;
	uint32_t bad = r >= 0 && (uint32_t)r < j ? m->entries[r].index : 0;
	uint64_t val = r >= 0 && (uint32_t)r < j ? m->entries[r].data : 0;
	free(m);
	if (r < 0)
		return err_setf(err, "vCPU %d: KVM_SET_MSRS: %s", index, strerror(e));
	if ((uint32_t)r != j)
		return err_setf(err, "vCPU %d: KVM refused the snapshot's MSR 0x%x = 0x%llx", index,
				bad, (unsigned long long)val);
	return 0;
}

/* KVM_SET_SREGS; if KVM refuses, which register it refuses: a CR4 bit
 * without which it takes the rest, or a register whose fresh value (in
 * before, KVM's own) alone makes it take the rest.
 * The vCPU is then past use, but the restore fails anyway. */
static int set_sregs(int fd, int index, const struct kvm_sregs *want,
		     const struct kvm_sregs *before, struct vmon_error *err)
{
	if (ioctl(fd, KVM_SET_SREGS, want) == 0)
		return 0;
	int e = errno;
	/* One CR4 feature bit at a time (the low ones go with paging). */
	for (unsigned b = 11; e == EINVAL && b < 64; b++) {
		struct kvm_sregs t = *want;
		t.cr4 &= ~(1ULL << b);
		if (t.cr4 != want->cr4 && ioctl(fd, KVM_SET_SREGS, &t) == 0)
			return err_setf(err,
					"vCPU %d: KVM_SET_SREGS: KVM refused bit %u of the saved "
					"CR4 0x%llx",
					index, b, (unsigned long long)want->cr4);
	}
	static const struct {
		const char *name;
		size_t off;
	} regs[] = {
		{"EFER", offsetof(struct kvm_sregs, efer)},
		{"IA32_APIC_BASE", offsetof(struct kvm_sregs, apic_base)},
		{"CR0", offsetof(struct kvm_sregs, cr0)},
		{"CR3", offsetof(struct kvm_sregs, cr3)},
	};
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		struct kvm_sregs t = *want;
		uint64_t v;
		memcpy(&v, (const char *)want + regs[i].off, sizeof(v));
		memcpy((char *)&t + regs[i].off, (const char *)before + regs[i].off, sizeof(v));
		if (e == EINVAL && ioctl(fd, KVM_SET_SREGS, &t) == 0)
			return err_setf(err,
					"vCPU %d: KVM_SET_SREGS: KVM refused the saved %s 0x%llx",
					index, regs[i].name, (unsigned long long)v);
	}
	return err_setf(err,
			"vCPU %d: KVM_SET_SREGS: %s (CR0 0x%llx CR3 0x%llx CR4 0x%llx EFER 0x%llx "
			"IA32_APIC_BASE 0x%llx)",
			index, strerror(e), (unsigned long long)want->cr0,
			(unsigned long long)want->cr3, (unsigned long long)want->cr4,
			(unsigned long long)want->efer, (unsigned long long)want->apic_base);
}

int kvm_snapshot_vcpu_set(struct machine *m, int index, const struct cpu_state *s,
			  struct vmon_error *err)
{
	struct kvm_vm_state *k = kvm_state(m);
	int fd = k->vcpus[index].fd;
	if (!k->snap_ok)
		return err_setf(err, "KVM on this host lacks %s, which snapshots need",
				k->snap_lack);
	if (check_for_kvm(k, index, s, err) < 0)
		return -1;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = s->xcr0}}};
	struct kvm_debugregs dbg;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp = {.mp_state = kvm_conv_mp_set(s, index == 0)};
	struct kvm_lapic_state *lapic = malloc(sizeof(*lapic));
	struct kvm_xsave *xs = malloc(sizeof(*xs));
	int r = -1;
	if (!lapic || !xs) {
		err_setf(err, "out of memory");
		goto out;
	}
	kvm_conv_regs_set(s, &regs);
	kvm_conv_xsave_set(s, k->supported_xcr0, xs);
	kvm_conv_debugregs_set(s, &dbg);
	kvm_conv_events_set(s, &ev);
	if (set_tsc_khz(k, fd, index, s->tsc_khz, err) < 0 ||
	    VCPU_IOCTL(fd, KVM_SET_REGS, &regs, index, err) < 0 ||
	    VCPU_IOCTL(fd, KVM_GET_SREGS, &sregs, index, err) < 0)
		goto out;
	struct kvm_sregs before = sregs;
	kvm_conv_sregs_set(s, &sregs);
	if (set_sregs(fd, index, &sregs, &before, err) < 0 ||
	    VCPU_IOCTL(fd, KVM_SET_XSAVE, xs, index, err) < 0 ||
	    (k->has_xcrs && VCPU_IOCTL(fd, KVM_SET_XCRS, &xcrs, index, err) < 0) ||
	    VCPU_IOCTL(fd, KVM_GET_LAPIC, lapic, index, err) < 0)
		goto out;
	kvm_conv_lapic_set(s, lapic);
	if (VCPU_IOCTL(fd, KVM_SET_LAPIC, lapic, index, err) < 0 ||
	    set_msrs(k, fd, index, s, err) < 0 ||
	    VCPU_IOCTL(fd, KVM_SET_DEBUGREGS, &dbg, index, err) < 0 ||
	    VCPU_IOCTL(fd, KVM_SET_VCPU_EVENTS, &ev, index, err) < 0 ||
	    VCPU_IOCTL(fd, KVM_SET_MP_STATE, &mp, index, err) < 0)
		goto out;
	r = 0;
out:
	free(lapic);
	free(xs);
	return r;
}

static int irqchip(struct kvm_vm_state *k, unsigned long req, struct kvm_irqchip *c,
		   const char *name, struct vmon_error *err)
{
	if (ioctl(k->vm_fd, req, c) < 0)
		return err_setf(err, "%s (chip %u): %s", name, c->chip_id, strerror(errno));
	return 0;
}

int kvm_snapshot_chips_get(struct machine *m, struct chip_state *s, struct vmon_error *err)
{
	struct kvm_vm_state *k = kvm_state(m);
	memset(s, 0, sizeof(*s));
	struct kvm_irqchip c[3];
	for (unsigned i = 0; i < 3; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].chip_id = i;
		if (irqchip(k, KVM_GET_IRQCHIP, &c[i], "KVM_GET_IRQCHIP", err) < 0)
			return -1;
	}
	kvm_conv_pic_get(&c[KVM_IRQCHIP_PIC_MASTER].chip.pic, &s->pic[0]);
	kvm_conv_pic_get(&c[KVM_IRQCHIP_PIC_SLAVE].chip.pic, &s->pic[1]);
	kvm_conv_ioapic_get(&c[KVM_IRQCHIP_IOAPIC].chip.ioapic, s);
	struct kvm_pit_state2 pit;
	if (ioctl(k->vm_fd, KVM_GET_PIT2, &pit) < 0)
		return err_setf(err, "KVM_GET_PIT2: %s", strerror(errno));
	kvm_conv_pit_get(&pit, monotonic_ns(), s);
	struct kvm_clock_data clk = {0};
	if (ioctl(k->vm_fd, KVM_GET_CLOCK, &clk) < 0)
		return err_setf(err, "KVM_GET_CLOCK: %s", strerror(errno));
	s->kvmclock_valid = true;
	s->kvmclock_ns = clk.clock;
	return 0;
}

int kvm_snapshot_chips_set(struct machine *m, const struct chip_state *s, struct vmon_error *err)
{
	struct kvm_vm_state *k = kvm_state(m);
	struct kvm_irqchip c[3];
	for (unsigned i = 0; i < 3; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].chip_id = i;
		if (irqchip(k, KVM_GET_IRQCHIP, &c[i], "KVM_GET_IRQCHIP", err) < 0)
			return -1;
	}
	kvm_conv_pic_set(&s->pic[0], &c[KVM_IRQCHIP_PIC_MASTER].chip.pic);
	kvm_conv_pic_set(&s->pic[1], &c[KVM_IRQCHIP_PIC_SLAVE].chip.pic);
	kvm_conv_ioapic_set(s, &c[KVM_IRQCHIP_IOAPIC].chip.ioapic);
	for (unsigned i = 0; i < 3; i++)
		if (irqchip(k, KVM_SET_IRQCHIP, &c[i], "KVM_SET_IRQCHIP", err) < 0)
			return -1;
	struct kvm_pit_state2 pit;
	if (ioctl(k->vm_fd, KVM_GET_PIT2, &pit) < 0)
		return err_setf(err, "KVM_GET_PIT2: %s", strerror(errno));
	kvm_conv_pit_set(s, monotonic_ns(), &pit);
	if (ioctl(k->vm_fd, KVM_SET_PIT2, &pit) < 0)
		return err_setf(err, "KVM_SET_PIT2: %s", strerror(errno));
	if (s->kvmclock_valid) {
		/* The guest's kvmclock goes on from the saved reading: it
		 * stands still between snapshot and restore, as the TSC. */
		struct kvm_clock_data clk = {.clock = s->kvmclock_ns};
		if (ioctl(k->vm_fd, KVM_SET_CLOCK, &clk) < 0)
			return err_setf(err, "KVM_SET_CLOCK: %s", strerror(errno));
	}
	return 0;
}

/* The features the guest's CPUID shows, less those whose needs it lacks
 * (KVM may report AVX on a host without XSAVE): the set a pinned model
 * resolves to again on this host, as restore will ask. */
void kvm_snapshot_features(struct machine *m, struct cpu_featureset *out)
{
	struct kvm_vm_state *k = kvm_state(m);
	kvm_cpuid_features(k ? k->cpuid : NULL, out);
}

void kvm_snapshot_probe(struct kvm_vm_state *k)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS"},
		{KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS"},
		{KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK"},
	};
	k->snap_ok = true;
	for (unsigned i = 0; i < sizeof(caps) / sizeof(caps[0]) && k->snap_ok; i++)
		if (ioctl(k->sys_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			k->snap_ok = false;
			k->snap_lack = caps[i].name;
		}
	/* KVM_GET/SET_XSAVE work without XSAVE on the host (the FXSAVE
	 * image and an XSAVE header); XCR0 exists only with it. */
	k->has_xcrs = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	k->has_tsc_khz = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) > 0;
	k->has_tsc_control = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) > 0;
	k->supported_xcr0 = 0;
	for (uint32_t i = 0; k->cpuid && i < k->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &k->cpuid->entries[i];
		if (e->function == 0xd && e->index == 0)
			k->supported_xcr0 = (uint64_t)e->edx << 32 | e->eax;
	}
	k->supported_xcr0 |= 1; /* x87 */
}
