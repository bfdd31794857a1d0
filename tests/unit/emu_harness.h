/* SPDX-License-Identifier: MIT */
/*
 * Shared by the software-CPU unit tests: a one-vCPU machine with 16 MiB of
 * RAM, a flat GDT at 0x500, long-mode page tables mapping the first GiB
 * (PML4 at 0x10000), the code at 0x1000, the stack at 0x8000, and port 0xf4
 * ending the run. emu_run() runs the snippet to its `out %al, $0xf4` (or to
 * whatever else stops the VM) and returns the vCPU for inspection;
 * emu_finish() frees the machine. emu_harness_trace_io sets the machine's
 * --trace-io for the next run, emu_harness_model its --cpu-features (NULL:
 * everything the software CPU offers), emu_harness_devices a hook that
 * adds devices.
 */
#ifndef VMON_TESTS_EMU_HARNESS_H
#define VMON_TESTS_EMU_HARNESS_H

static uint64_t stop_read(void *opaque, uint64_t off, unsigned size)
{
	return 0;
}

static void stop_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
	struct machine *m = opaque;
	vmctl_request_stop(&m->ctl, VM_STOP_DEBUG_EXIT, 0);
}

static const struct bus_ops stop_ops = {.read = stop_read, .write = stop_write};

static struct machine mach;
static int emu_harness_trace_io;
/* Called (if set) once the machine is built, just before the vCPU runs. */
static void (*emu_harness_before_run)(struct machine *m);
/* Called before the buses are sealed, to add a test's own devices. */
static void (*emu_harness_devices)(struct machine *m);
static const struct cpu_model *emu_harness_model;

static struct emu_cpu *emu_run(enum boot_cpu_mode mode, const uint8_t *code, size_t len)
{
	struct machine *m = &mach;
	struct vmon_error err = {{0}};
	memset(m, 0, sizeof(*m));
	assert_int_equal(gm_create(&m->mem, 16 << 20, &err), 0);
	bus_init(&m->pio, "pio");
	bus_init(&m->mmio, "mmio");
	m->ncpus = 1;
	m->trace_unclaimed_io = emu_harness_trace_io;
	m->cpu_model = emu_harness_model;
	m->backend = &cpu_backend_emu;
	static const uint64_t gdt[4] = {0, 0x00af9b000000ffffULL, 0x00cf9b000000ffffULL,
					0x00cf93000000ffffULL};
	assert_int_equal(gm_write(&m->mem, 0x500, gdt, sizeof(gdt)), 0);
	/* 64-bit: PML4 at 0x10000 -> PDPT at 0x11000 mapping the first GiB */
	uint64_t pml4e = 0x11000 | 3, pdpte = 0x83;
	assert_int_equal(gm_write(&m->mem, 0x10000, &pml4e, 8), 0);
	assert_int_equal(gm_write(&m->mem, 0x11000, &pdpte, 8), 0);
	assert_int_equal(gm_write(&m->mem, 0x1000, code, len), 0);
	m->boot.mode = mode;
	m->boot.rip = 0x1000;
	m->boot.rsp = 0x8000;
	m->boot.cr3 = 0x10000;
	m->boot.gdt_base = 0x500;
	m->boot.gdt_limit = sizeof(gdt) - 1;
	assert_int_equal(cpu_backend_emu.create(m, &err), 0);
	assert_int_equal(bus_register(&m->pio, 0xf4, 1, &stop_ops, m, "stop", &err), 0);
	if (emu_harness_devices)
		emu_harness_devices(m);
	bus_seal(&m->pio);
	bus_seal(&m->mmio);
	assert_int_equal(cpu_backend_emu.vcpu_create(m, 0, &err), 0);
	if (emu_harness_before_run)
		emu_harness_before_run(m);
	alarm(10); /* a CPU bug must not hang the test run */
	cpu_backend_emu.vcpu_run(m, 0);
	alarm(0);
	struct emu_vm *vm = m->backend_priv;
	return vm->cpus[0];
}

static void emu_finish(void)
{
	cpu_backend_emu.destroy(&mach);
	bus_destroy(&mach.pio);
	bus_destroy(&mach.mmio);
	gm_destroy(&mach.mem);
}

#endif
