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

#include "cpu/cpu_backend.h"
#include "cpu/emu/emu.h"

/* ISA IRQs go to the PIC and to the IOAPIC pin of the same number, as
 * KVM's default GSI routing does (GSI n -> PIC irq n and IOAPIC pin n). */
void emu_set_irq(void *ctx, unsigned gsi, bool level)
{
	struct emu_vm *vm = ctx;
	pthread_mutex_lock(&vm->chip_lock);
	if (gsi < 16)
		pic_set_irq(vm, gsi, level);
	if (gsi < 24)
		ioapic_set_irq(vm, gsi, level);
	pthread_mutex_unlock(&vm->chip_lock);
}

/*
 * A message-signalled interrupt (PCI MSI/MSI-X), any thread: the write a
 * device makes to [0xfee00000, 0xfef00000) as the LAPICs decode it.
 * Address: destination APIC id in bits 19:12, destination mode (logical)
 * in bit 2 (bit 3, redirection hint, only allows lowest priority).
 * Data: vector in bits 7:0, delivery mode in bits 10:8, trigger mode in
 * bit 15. MSIs are edge-triggered in practice; a level message is taken as
 * an edge, since no EOI can reach a PCI function here.
 */
void emu_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct emu_vm *vm = ctx;
	if ((addr >> 20) != 0xfee)
		return; /* not the interrupt range: dropped, as a bus would */
	uint32_t dest = (uint32_t)(addr >> 12) & 0xff;
	int dest_mode = (int)(addr >> 2) & 1;
	int dmode = (int)(data >> 8) & 7;
	int vec = (int)(data & 0xff);
	switch (dmode) {
	case 0: /* fixed */
	case 1: /* lowest priority */
	case 4: /* NMI */
	case 5: /* INIT */ break;
	default: return; /* SMI, ExtINT, reserved: nothing to deliver */
	}
	apic_deliver(vm, NULL, dest, dest_mode, dmode, vec, false, 0);
}

/*
 * The PIC and PIT ports stay registered on the sealed bus across a guest
 * reboot (destroy + create), so their opaque is a small block that lives
 * as long as the process and is re-pointed at the new emu_vm.
 */
struct emu_port_block {
	struct emu_port port;
	struct emu_port_block *next;
};
static struct emu_port_block *port_blocks;
static pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;

int emu_port_attach(struct emu_vm *vm, uint64_t base, uint64_t len, const struct bus_ops *ops,
		    int which, const char *name, struct vmon_error *err)
{
	const struct bus_range *r = bus_find(&vm->m->pio, NULL, base, 1);
	if (r && r->ops == ops && r->base == base) {
		struct emu_port *p = r->opaque;
		p->vm = vm;
		p->which = which;
		return 0;
	}
	struct emu_port_block *b = calloc(1, sizeof(*b));
	if (!b)
		return err_setf(err, "emu: out of memory");
	b->port.vm = vm;
	b->port.which = which;
	pthread_mutex_lock(&port_lock);
	b->next = port_blocks;
	port_blocks = b;
	pthread_mutex_unlock(&port_lock);
	return bus_register(&vm->m->pio, base, len, ops, &b->port, name, err);
}

static void emu_ports_detach(struct emu_vm *vm)
{
	pthread_mutex_lock(&port_lock);
	for (struct emu_port_block *b = port_blocks; b; b = b->next)
		if (b->port.vm == vm)
			b->port.vm = NULL;
	pthread_mutex_unlock(&port_lock);
}

static bool emu_available(struct vmon_error *err)
{
	return true;
}

static int emu_create(struct machine *m, struct vmon_error *err)
{
	struct emu_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_setf(err, "emu: out of memory");
	vm->m = m;
	vm->tsc_base = __builtin_ia32_rdtsc();
	if (emu_decode_init(vm)) {
		free(vm);
		return err_setf(err, "emu: cannot initialise the Zydis decoder");
	}
	pthread_mutex_init(&vm->chip_lock, NULL);
	ioapic_init(&vm->ioapic);
	emu_cpuid_init();
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
	if (c->btab && c->btab != MAP_FAILED)
		munmap(c->btab, sizeof(*c->btab) << BTAB_BITS);
	if (c->arena && c->arena != MAP_FAILED)
		munmap(c->arena, BLOCK_ARENA_BYTES);
	c->btab = NULL;
	c->arena = NULL;
	emu_native_destroy(c);
}

static int emu_vcpu_create(struct machine *m, int index, struct vmon_error *err)
{
	struct emu_vm *vm = m->backend_priv;
	if (index < 0 || index >= VMON_MAX_CPUS)
		return err_setf(err, "emu: vCPU index %d out of range", index);
	struct emu_cpu *c = calloc(1, sizeof(*c));
	if (!c)
		return err_setf(err, "emu: out of memory for vCPU %d", index);
	/* Reserved, not committed: pages are touched as blocks are built. */
	c->btab = mmap(NULL, sizeof(*c->btab) << BTAB_BITS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	c->arena = mmap(NULL, BLOCK_ARENA_BYTES, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c->btab == MAP_FAILED || c->arena == MAP_FAILED) {
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
	/* VMON_EMU_STATS=1: instructions executed and the rate, per vCPU. */
	const char *st = getenv("VMON_EMU_STATS");
	if (st && *st && *st != '0') {
		double secs = (double)(emu_now_ns() - t0) / 1e9;
		fprintf(stderr, "vmon: emu: cpu%d: %llu instructions in %.3f s (%.1f M/s)\n", index,
			(unsigned long long)c->icount, secs,
			secs > 0 ? (double)c->icount / secs / 1e6 : 0.0);
		fprintf(stderr,
			"vmon: emu: cpu%d: %llu blocks decoded, %llu cache flushes, %llu native "
			"runs "
			"(%llu left early to the interpreter), %llu code epochs; %.1f%% of "
			"instructions ran as host code\n",
			index, (unsigned long long)c->blocks_built,
			(unsigned long long)c->block_flushes, (unsigned long long)c->native_runs,
			(unsigned long long)c->native_bails, (unsigned long long)c->code_epoch,
			c->icount ? 100.0 * (double)c->native_insns / (double)c->icount : 0.0);
	}
}

static void emu_vcpu_kick(struct machine *m, int index)
{
	struct emu_vm *vm = m->backend_priv;
	if (vm && index >= 0 && index < vm->ncpus && vm->cpus[index])
		emu_wake(vm->cpus[index], EV_KICK);
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
};
