/* SPDX-License-Identifier: MIT */
/*
 * KVM backend, VM scope: /dev/kvm checks, VM creation (with no guest PMU:
 * kvm_pmu.c), guest RAM slots (kvm_mem.c), the in-kernel irqchip and PIT, and the
 * interrupt router devices use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/guest_mem_dirty.h"
#include "cpu/cpu_backend.h"
#include "cpu/kvm/kvm_priv.h"

static const char *kvm_device_path(void)
{
	const char *p = getenv("VMON_KVM_DEVICE");
	return p && *p ? p : "/dev/kvm";
}

static int open_kvm(struct vmon_error *err)
{
	const char *path = kvm_device_path();
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return err_setf(
				err, "cannot open %s: no such device (is the kvm module loaded?)",
				path);
		if (errno == EACCES || errno == EPERM)
			return err_setf(err,
					"cannot open %s: permission denied (add yourself to the "
					"'kvm' group, or use --backend emu)",
					path);
		return err_setf(err, "cannot open %s: %s", path, strerror(errno));
	}
	int version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		close(fd);
		return err_setf(err, "%s speaks KVM API version %d; vmon needs %d", path, version,
				KVM_API_VERSION);
	}
	return fd;
}

static bool kvm_available(struct vmon_error *err)
{
	int fd = open_kvm(err);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Capabilities vmon cannot run without, with the reason it needs them. */
static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP (in-kernel LAPIC/IOAPIC/PIC)"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2 (in-kernel PIT)"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT (prompt vCPU kicks)"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE (INIT/SIPI)"},
	{KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI (PCI MSI-X)"},
	/* api.rst, KVM_IRQ_LINE: userspace should not present interrupts as
	 * active-low (as vmon's ACPI and MP tables do for PCI INTx) unless
	 * KVM ignores the polarity. */
	{KVM_CAP_IOAPIC_POLARITY_IGNORED, "KVM_CAP_IOAPIC_POLARITY_IGNORED (active-low PCI INTx)"},
};

static void kvm_destroy(struct machine *m)
{
	struct kvm_vm_state *k = kvm_state(m);
	if (!k)
		return;
	for (int i = 0; i < VMON_MAX_CPUS; i++) {
		struct kvm_vcpu_state *v = &k->vcpus[i];
		if (v->run)
			munmap(v->run, k->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	if (k->vm_fd >= 0 && k->logging) {
		/* A reboot makes a new VM: what this one's slots logged goes
		 * to vmon's log first. */
		struct vmon_error e2 = {{0}};
		if (kvm_mem_dirty_sync(m, &e2) < 0)
			fprintf(stderr, "vmon: %s\n", e2.msg);
	}
	free(k->dirty_buf);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	kvm_irq_teardown(m);
	free(k->cpuid);
	free(k->msr_index);
	pthread_mutex_destroy(&k->route_lock);
	pthread_mutex_destroy(&k->line_lock);
	free(k);
	m->backend_priv = NULL;
}

static int kvm_probe_msrs(struct kvm_vm_state *k, struct vmon_error *err)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	/* The first call fails with E2BIG and reports the count. */
	if (ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return err_setf(err, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
	struct kvm_msr_list *list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	if (!list)
		return err_setf(err, "out of memory");
	list->nmsrs = probe.nmsrs;
	if (ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return err_setf(err, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
	}
	k->nmsrs = list->nmsrs;
	k->msr_index = malloc(list->nmsrs * sizeof(uint32_t) + 1);
	if (!k->msr_index) {
		free(list);
		return err_setf(err, "out of memory");
	}
	memcpy(k->msr_index, list->indices, list->nmsrs * sizeof(uint32_t));
	free(list);
	return 0;
}

static int kvm_create(struct machine *m, struct vmon_error *err)
{
	struct kvm_vm_state *k = calloc(1, sizeof(*k));
	if (!k)
		return err_setf(err, "out of memory");
	k->sys_fd = k->vm_fd = -1;
	pthread_mutex_init(&k->route_lock, NULL);
	pthread_mutex_init(&k->line_lock, NULL);
	for (int i = 0; i < VMON_MAX_CPUS; i++)
		k->vcpus[i].fd = -1;
	m->backend_priv = k;

	k->sys_fd = open_kvm(err);
	if (k->sys_fd < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(k->sys_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			err_setf(err, "KVM on this host lacks %s", required_caps[i].name);
			goto fail;
		}
	}
	k->max_vcpus = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (k->max_vcpus <= 0)
		k->max_vcpus = 4; /* api.rst: assume 4 if neither cap is there */
	if (m->ncpus > k->max_vcpus) {
		err_setf(err, "--cpus %d is more than KVM allows here (%d)", m->ncpus,
			 k->max_vcpus);
		goto fail;
	}
	int run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run)) {
		err_setf(err, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		goto fail;
	}
	k->run_size = (size_t)run_size;
	if (kvm_cpuid_probe(k, m->cpu_model, m->nested, err) < 0 || kvm_probe_msrs(k, err) < 0)
		goto fail;
	kvm_snapshot_probe(k);

	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		err_setf(err, "KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	if (kvm_pmu_setup(k, err) < 0)
		goto fail;
	/* Order matters on Intel: identity map and TSS before any vCPU. */
	uint64_t idmap = KVM_IDENTITY_MAP_GPA;
	if (ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0 ||
	    ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA) < 0) {
		err_setf(err, "KVM_SET_TSS_ADDR/IDENTITY_MAP_ADDR: %s", strerror(errno));
		goto fail;
	}
	/* A VM made while the dirty log runs (a reboot during a migration,
	 * or diff-snapshot tracking) logs from its first instruction. */
	kvm_mem_probe(k);
	if (kvm_mem_slots(m, gm_dirty_logging(&m->mem), err) < 0)
		goto fail;
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		err_setf(err, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		goto fail;
	}
	/* SPEAKER_DUMMY: the kernel also answers port 0x61, so channel 2's
	 * gate and output work the way Linux's PIT calibration expects. */
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		err_setf(err, "KVM_CREATE_PIT2: %s", strerror(errno));
		goto fail;
	}
	if (kvm_irq_setup(m, err) < 0)
		goto fail;
	kvm_install_kick_signal();
	return 0;
fail:
	kvm_destroy(m);
	return -1;
}

static int kvm_vcpu_create(struct machine *m, int index, struct vmon_error *err)
{
	return kvm_vcpu_setup(m, index, err);
}

/* The in-kernel interrupt controllers and timer as device objects: their
 * state is KVM's (KVM_GET_IRQCHIP, KVM_GET_PIT2), saved and restored
 * through the backend's chips_get/chips_set (kvm_snapshot.c);
 * KVM_CREATE_IRQCHIP/PIT2 make them and closing the VM fd frees them. */
static const struct device_ops kvm_irqchip_device = {.kind = "kvm-irqchip"};
static const struct device_ops kvm_pit_device = {.kind = "kvm-pit"};

static unsigned kvm_devices(struct machine *m, struct device_ref *out, unsigned max)
{
	const struct device_ref devs[] = {
		{.id = "irqchip", .ops = &kvm_irqchip_device, .dev = m->backend_priv},
		{.id = "pit", .ops = &kvm_pit_device, .dev = m->backend_priv},
	};
	unsigned n = 0;
	for (; n < max && n < sizeof(devs) / sizeof(devs[0]); n++)
		out[n] = devs[n];
	return n;
}

/* What KVM can give a guest on this host before any VM exists (a
 * migration target's early check, vm/vm_cpu_offer.c): the CPUID a VM made
 * now would get without a pinned model (kvm_cpuid_probe), as features,
 * with SVM/VMX where KVM can give them (as with --nested, which a pinned
 * model naming svm implies: a guest that had it gets it). */
static int kvm_offered(struct cpu_featureset *out, struct vmon_error *err)
{
	struct kvm_vm_state k = {.sys_fd = open_kvm(err), .vm_fd = -1};
	if (k.sys_fd < 0)
		return -1;
	struct vmon_error no_nesting = {{0}};
	int r = kvm_cpuid_probe(&k, NULL, true, &no_nesting);
	if (r < 0) { /* no SVM/VMX for guests here: the rest */
		free(k.cpuid);
		k.cpuid = NULL;
		r = kvm_cpuid_probe(&k, NULL, false, err);
	}
	if (r == 0)
		kvm_cpuid_features(k.cpuid, out);
	free(k.cpuid);
	close(k.sys_fd);
	return r;
}

const struct cpu_backend cpu_backend_kvm = {
	.name = "kvm",
	.available = kvm_available,
	.create = kvm_create,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.destroy = kvm_destroy,
	.devices = kvm_devices,
	.vcpu_stats = kvm_vcpu_stats,
	.vcpu_get_state = kvm_snapshot_vcpu_get,
	.vcpu_set_state = kvm_snapshot_vcpu_set,
	.chips_get = kvm_snapshot_chips_get,
	.chips_set = kvm_snapshot_chips_set,
	.features = kvm_snapshot_features,
	.offered = kvm_offered,
	.dirty_log = kvm_mem_dirty_log,
	.dirty_sync = kvm_mem_dirty_sync,
	.dirty_flush = kvm_mem_dirty_flush,
};
