/* SPDX-License-Identifier: MIT */
/*
 * cpu_backend_emu: vmon's own x86-64 CPU behind the cpu_backend contract
 * (src/cpu/cpu_backend.h). Creates the shared state (decoders, code-page
 * tracking, PIC/PIT/IOAPIC) and one struct emu_cpu per vCPU; the VM
 * layer's threads run them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include <time.h>

#include "cpu/cpu_backend.h"
#include "cpu/emu/cache.h"
#include "cpu/emu/decode.h"
#include "cpu/emu/chip_ioapic.h"
#include "cpu/emu/chip_irq.h"
#include "cpu/emu/chip_lapic.h"
#include "cpu/emu/chip_pic.h"
#include "cpu/emu/chip_pit.h"
#include "cpu/emu/chip_ports.h"
#include "cpu/emu/native.h"
#include "cpu/emu/run.h"
#include "cpu/emu/state_emu.h"
#include "cpu/emu/sys.h"

static bool emu_available(struct vmon_error *err)
{
	return true;
}

static int emu_create(struct machine *m, struct vmon_error *err)
{
	struct emu_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_setf(err, "emu: out of memory");
	if (m->nested) {
		free(vm);
		return err_setf(err, "--nested: the software CPU's SVM is experimental and offered "
				     "only with --cpu-features +svm; nesting Linux's KVM needs "
				     "--backend kvm on a host whose KVM allows it");
	}
	vm->m = m;
	vm->tsc_base = __builtin_ia32_rdtsc();
	emu_tsc_hz_start(); /* measured by the time a guest asks (cpu.h) */
	if (emu_decode_init(vm)) {
		free(vm);
		return err_setf(err, "emu: cannot initialise the Zydis decoder");
	}
	if (emu_model_init(vm, m->cpu_model, err) < 0) {
		free(vm);
		return -1;
	}
	pthread_mutex_init(&vm->chip_lock, NULL);
	ioapic_init(&vm->ioapic);
	vm->eoi_broadcast = ioapic_eoi;
	m->backend_priv = vm;
	if (pic_register(vm, err) || pit_register(vm, err)) {
		emu_ports_detach(vm);
		m->backend_priv = NULL;
		free(vm);
		return -1;
	}
	m->irq.set_level = emu_set_irq;
	m->irq.msi = emu_msi;
	m->irq.ctx = vm;
	/* No irqfd routes or ioeventfds: MSIs are delivered in process, and
	 * an MMIO write to a queue notify already is a function call that
	 * signals the device's eventfd (the in-process ioeventfd). */
	m->irq.msi_route_add = NULL;
	m->irq.msi_route_set = NULL;
	m->irq.msi_route_del = NULL;
	m->ioev = (struct ioeventfd_router){0};
	return 0;
}

static void emu_cpu_free_caches(struct emu_cpu *c)
{
	emu_cache_free(c);
	emu_native_destroy(c);
	emu_stats_free(c);
}

static int emu_vcpu_create(struct machine *m, int index, struct vmon_error *err)
{
	struct emu_vm *vm = m->backend_priv;
	if (index < 0 || index >= VMON_MAX_CPUS)
		return err_setf(err, "emu: vCPU index %d out of range", index);
	struct emu_cpu *c = calloc(1, sizeof(*c));
	if (!c)
		return err_setf(err, "emu: out of memory for vCPU %d", index);
	if (!emu_cache_init(c)) {
		emu_cpu_free_caches(c);
		free(c);
		return err_setf(err, "emu: out of memory for vCPU %d's decoded-block cache", index);
	}
	if (!vm->code_pages) {
		/* Reserved up to the highest guest-physical page of RAM; only
		 * the pages of it that code lives in are ever touched. */
		uint64_t top = 0;
		for (int i = 0; i < m->mem.nregions; i++) {
			uint64_t end = m->mem.regions[i].gpa + m->mem.regions[i].size;
			if (end > top)
				top = end;
		}
		uint64_t len = (top >> 12) + 1;
		void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (map == MAP_FAILED) {
			emu_cpu_free_caches(c);
			free(c);
			return err_setf(err, "emu: out of memory for the code-page map");
		}
		vm->code_pages = map;
		vm->code_pages_len = len;
	}
	/* Without it (VMON_EMU_NATIVE=0, or no memfd/exec mapping allowed)
	 * every instruction is interpreted. */
	emu_native_init(c);
	emu_stats_init(c);
	/* VMON_EMU_PAUSE_YIELD=N: yield the host CPU after N PAUSEs in a
	 * row (0: never; insn_mov.c: h_pause). */
	const char *py = getenv("VMON_EMU_PAUSE_YIELD");
	long pyn = py ? strtol(py, NULL, 10) : -1;
	c->pause_yield_run = pyn >= 0 && pyn <= 1000000 ? (uint32_t)pyn : EMU_PAUSE_YIELD_RUN;
	c->index = index;
	c->m = m;
	c->vm = vm;
	c->code_epoch = 1;
	c->tsc_offset = -vm->tsc_base;
	pthread_mutex_init(&c->sleep_lock, NULL);
	/* sleep_until_event's deadlines are CLOCK_MONOTONIC, as the timers
	 * are: a default (CLOCK_REALTIME) condvar would take them as long
	 * past and spin a halted vCPU. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->sleep_cond, &ca);
	pthread_condattr_destroy(&ca);
	emu_reset(c);
	lapic_reset(c, index == 0);
	c->apic.id = (uint32_t)index;
	if (index == 0)
		emu_load_boot_state(c, &m->boot);
	else
		c->wait_sipi = true;
	vm->cpus[index] = c;
	if (index + 1 > vm->ncpus)
		vm->ncpus = index + 1;
	return 0;
}

static void emu_vcpu_run(struct machine *m, int index)
{
	struct emu_vm *vm = m->backend_priv;
	if (index < 0 || index >= vm->ncpus || !vm->cpus[index])
		return;
	struct emu_cpu *c = vm->cpus[index];
	uint64_t t0 = emu_now_ns();
	emu_cpu_run(c);
	emu_stats_print(c, (double)(emu_now_ns() - t0) / 1e9); /* VMON_EMU_STATS=1 */
}

static void emu_vcpu_kick(struct machine *m, int index)
{
	struct emu_vm *vm = m->backend_priv;
	if (vm && index >= 0 && index < vm->ncpus && vm->cpus[index])
		emu_wake(vm->cpus[index], EV_KICK);
}

/* Migration's dirty log (mmu.c): after the sender collected the bitmap,
 * every vCPU drops its TLB before the pages are read, so that no store
 * goes on through an entry whose page was marked in a bitmap already
 * collected. A vCPU flushes in its slow path (kicked there now), before
 * its next instruction; one parked (the VM paused) or whose thread ended
 * flushes before it runs again, so it counts as done. */
static int emu_dirty_flush(struct machine *m, struct vmon_error *err)
{
	struct emu_vm *vm = m->backend_priv;
	if (!vm)
		return err_setf(err, "the VM has no vCPUs");
	uint32_t gen = atomic_fetch_add(&vm->tlb_gen, 1) + 1;
	for (int i = 0; i < vm->ncpus; i++)
		if (vm->cpus[i])
			emu_wake(vm->cpus[i], EV_KICK);
	for (unsigned waited_us = 0;; waited_us += 200) {
		bool done = true;
		for (int i = 0; i < vm->ncpus && done; i++) {
			struct emu_cpu *c = vm->cpus[i];
			done = !c || atomic_load(&c->tlb_ack) == gen || atomic_load(&c->parked);
		}
		if (done)
			return 0;
		if (vmctl_stopping(&m->ctl))
			return err_setf(err, "the VM is stopping");
		if (waited_us >= 30u * 1000 * 1000)
			return err_setf(err, "a vCPU did not come back to flush its TLB");
		struct timespec ts = {.tv_nsec = 200 * 1000};
		nanosleep(&ts, NULL);
	}
}

static void emu_destroy(struct machine *m)
{
	struct emu_vm *vm = m->backend_priv;
	if (!vm)
		return;
	for (int i = 0; i < vm->ncpus; i++) {
		struct emu_cpu *c = vm->cpus[i];
		if (!c)
			continue;
		pthread_mutex_destroy(&c->sleep_lock);
		pthread_cond_destroy(&c->sleep_cond);
		emu_cpu_free_caches(c);
		free(c);
	}
	emu_ports_detach(vm);
	if (vm->code_pages)
		munmap(vm->code_pages, vm->code_pages_len);
	pthread_mutex_destroy(&vm->chip_lock);
	free(vm);
	m->backend_priv = NULL;
	m->irq.set_level = NULL;
	m->irq.msi = NULL;
	m->irq.ctx = NULL;
}

/* The software CPU's interrupt controllers and timer as device objects
 * (their state lives in struct emu_vm; saved and restored through these
 * once snapshots exist). The LAPICs are per vCPU and go with the vCPU. */
static const struct device_ops emu_pic_device = {.kind = "emu-pic"};
static const struct device_ops emu_ioapic_device = {.kind = "emu-ioapic"};
static const struct device_ops emu_pit_device = {.kind = "emu-pit"};

static unsigned emu_devices(struct machine *m, struct device_ref *out, unsigned max)
{
	struct emu_vm *vm = m->backend_priv;
	if (!vm)
		return 0;
	const struct device_ref devs[] = {
		{.id = "pic", .ops = &emu_pic_device, .dev = vm->pic},
		{.id = "ioapic", .ops = &emu_ioapic_device, .dev = &vm->ioapic},
		{.id = "pit", .ops = &emu_pit_device, .dev = vm->pit},
	};
	unsigned n = 0;
	for (; n < max && n < sizeof(devs) / sizeof(devs[0]); n++)
		out[n] = devs[n];
	return n;
}

static void emu_vcpu_stats(struct machine *m, int index, const struct stats_sink *out)
{
	struct emu_vm *vm = m->backend_priv;
	if (!vm || index < 0 || index >= vm->ncpus || !vm->cpus[index])
		return;
	/* The vCPU thread writes these without atomics; a relaxed read may
	 * be a moment old, which is all a counter needs. */
	struct emu_cpu *c = vm->cpus[index];
	stats_put(out, "instructions", __atomic_load_n(&c->icount, __ATOMIC_RELAXED));
	stats_put(out, "blocks_decoded", __atomic_load_n(&c->blocks_built, __ATOMIC_RELAXED));
	stats_put(out, "native_runs", __atomic_load_n(&c->native_runs, __ATOMIC_RELAXED));
}

static struct emu_cpu *emu_cpu_at(struct machine *m, int index, struct vmon_error *err)
{
	struct emu_vm *vm = m->backend_priv;
	if (!vm || index < 0 || index >= vm->ncpus || !vm->cpus[index]) {
		err_setf(err, "emu: no vCPU %d", index);
		return NULL;
	}
	return vm->cpus[index];
}

static int emu_vcpu_get_state(struct machine *m, int index, struct cpu_state *out,
			      struct vmon_error *err)
{
	struct emu_cpu *c = emu_cpu_at(m, index, err);
	if (!c)
		return -1;
	/* SVM's state (VM_HSAVE_PA, VM_CR, GIF, guest mode and the running
	 * VMCB) is not in the snapshot format: refused while in use. */
	if ((c->efer & EFER_SVME) || c->svm.guest || c->svm.gif_clear)
		return err_setf(err,
				"vCPU %d uses SVM (EFER.SVME set): the software CPU cannot "
				"snapshot or migrate SVM state",
				index);
	emu_state_get_cpu(c, out);
	return 0;
}

static int emu_vcpu_set_state(struct machine *m, int index, const struct cpu_state *in,
			      struct vmon_error *err)
{
	struct emu_cpu *c = emu_cpu_at(m, index, err);
	if (!c)
		return -1;
	return emu_state_set_cpu(c, in, err);
}

static int emu_chips_get(struct machine *m, struct chip_state *out, struct vmon_error *err)
{
	if (!m->backend_priv)
		return err_setf(err, "emu: no VM");
	emu_state_get_chips(m->backend_priv, out);
	return 0;
}

static int emu_chips_set(struct machine *m, const struct chip_state *in, struct vmon_error *err)
{
	if (!m->backend_priv)
		return err_setf(err, "emu: no VM");
	emu_state_set_chips(m->backend_priv, in);
	return 0;
}

static void emu_features(struct machine *m, struct cpu_featureset *out)
{
	struct emu_vm *vm = m->backend_priv;
	*out = vm ? vm->features : (struct cpu_featureset){0};
}

/* The software CPU gives the same on every host but for the host's
 * floating-point features (sys_cpuid.c). */
static int emu_offered(struct cpu_featureset *out, struct vmon_error *err)
{
	(void)err;
	emu_offered_features(out);
	return 0;
}

const struct cpu_backend cpu_backend_emu = {
	.name = "emu",
	.available = emu_available,
	.create = emu_create,
	.vcpu_create = emu_vcpu_create,
	.vcpu_run = emu_vcpu_run,
	.vcpu_kick = emu_vcpu_kick,
	.destroy = emu_destroy,
	.devices = emu_devices,
	.vcpu_stats = emu_vcpu_stats,
	.vcpu_get_state = emu_vcpu_get_state,
	.vcpu_set_state = emu_vcpu_set_state,
	.chips_get = emu_chips_get,
	.chips_set = emu_chips_set,
	.features = emu_features,
	.offered = emu_offered,
	.dirty_flush = emu_dirty_flush,
};
