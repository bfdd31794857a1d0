/* SPDX-License-Identifier: MIT */
/*
 * The VM layer: builds one machine from a vm_config and runs it.
 *
 * Threads: the calling thread becomes the event-loop thread (console input,
 * signals); each vCPU gets its own thread running backend->vcpu_run(). The
 * machine is stopped through machine.ctl from anywhere; its on_stop hook
 * kicks every vCPU and wakes the event loop. A guest reset either reboots
 * (backend re-created, image reloaded, devices kept — like a PC whose RAM
 * and CMOS survive a reset) or ends vmon with --no-reboot.
 */
#include "vm/vm.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "boot/acpi.h"
#include "boot/mptable.h"
#include "boot/reset_vector.h"
#include "core/event_loop.h"
#include "core/machine.h"
#include "core/ratelimit.h"
#include "cpu/cpu_backend.h"
#include "devices/acpi_pm.h"
#include "devices/pci.h"
#include "vm/vm_devices.h"

struct vm {
	struct machine m;
	const struct vm_config *cfg;
	struct event_loop *ev;
	struct vm_devices devs;
	pthread_t threads[VMON_MAX_CPUS];
	int nthreads;
	int sigfd;
};

struct vcpu_thread_arg {
	struct vm *vm;
	int index;
};

static struct vcpu_thread_arg thread_args[VMON_MAX_CPUS];

static void *vcpu_thread(void *p)
{
	struct vcpu_thread_arg *a = p;
	char name[16];
	snprintf(name, sizeof(name), "vcpu%d", a->index);
	pthread_setname_np(pthread_self(), name);
	a->vm->m.backend->vcpu_run(&a->vm->m, a->index);
	/* A vCPU that returns without a stop request (it should not) must not
	 * leave the VM hanging. */
	if (!vmctl_stopping(&a->vm->m.ctl))
		vmctl_request_stop(&a->vm->m.ctl, VM_STOP_HOST_ERROR, 1);
	return NULL;
}

static void on_stop(void *opaque)
{
	struct vm *vm = opaque;
	ev_stop(vm->ev);
	for (int i = 0; i < vm->nthreads; i++)
		vm->m.backend->vcpu_kick(&vm->m, i);
}

static void on_signal(void *opaque, int fd, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;
	if (read(fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	fprintf(stderr, "vmon: %s received, stopping the VM\n", strsignal((int)si.ssi_signo));
	vmctl_request_stop(&vm->m.ctl, VM_STOP_USER_QUIT, 128 + (int)si.ssi_signo);
}

/* The firmware tables a guest finds its CPUs and interrupt routing in:
 * MP table and ACPI (RSDP, XSDT/RSDT, FADT, MADT, DSDT), in the reserved
 * area below 1 MiB, and the reset-vector stub (boot/reset_vector.h). Written before the image, so
 * an image that loads over them wins; rewritten on every reboot. */
static int write_firmware_tables(struct vm *vm, uint64_t *rsdp, struct vmon_error *err)
{
	struct machine *m = &vm->m;
	struct acpi_config acpi = {
		.ncpus = m->ncpus,
		.sleep_ctl_port = ACPI_PM_SLEEP_CTL_PORT,
		.sleep_sts_port = ACPI_PM_SLEEP_STS_PORT,
		.reset_port = ACPI_PM_RESET_PORT,
		.reset_value = ACPI_PM_RESET_VALUE,
		.pci_host = true,
		.pci_mmio_start = (uint32_t)PCI_MMIO_BASE,
		.pci_mmio_end = (uint32_t)PCI_MMIO_END,
		.pci_intx_gsi_base = PCI_INTX_GSI_BASE,
		.pci_intx_lines = 4, /* pci.c: slot s INTA -> base + s % 4 */
		.com1_port = COM1_PORT,
		.com1_irq = COM1_GSI,
		.rtc_port = RTC_PORT,
	};
	/* The virtio-mmio windows, as vm_devices_create assigned them. */
	unsigned nmmio = vm_devices_mmio_count(vm->cfg);
	for (unsigned n = 0; n < nmmio && n < VM_MAX_VIRTIO_MMIO; n++) {
		acpi.nvirtio_mmio = n + 1;
		acpi.virtio_mmio_base[n] = (uint32_t)(VM_VIRTIO_MMIO_BASE + 0x1000 * n);
		acpi.virtio_mmio_gsi[n] = (uint8_t)(VM_VIRTIO_MMIO_GSI + n);
	}
	if (mptable_write(&m->mem, m->ncpus, err) < 0 ||
	    reset_vector_write(&m->mem, ACPI_PM_RESET_PORT, ACPI_PM_RESET_VALUE, err) < 0)
		return -1;
	return acpi_write(&m->mem, &acpi, rsdp, err);
}

static int load_image(struct vm *vm, struct vmon_error *err)
{
	struct boot_config boot = vm->cfg->boot;
	struct boot_info info;
	if (write_firmware_tables(vm, &boot.acpi_rsdp, err) < 0)
		return -1;
	return boot_load(&vm->m.mem, &boot, &vm->m.boot, &info, err);
}

static int create_vcpus(struct vm *vm, struct vmon_error *err)
{
	struct machine *m = &vm->m;
	for (int i = 0; i < m->ncpus; i++)
		if (m->backend->vcpu_create(m, i, err) < 0)
			return -1;
	return 0;
}

static int start_vcpus(struct vm *vm, struct vmon_error *err)
{
	vm->nthreads = 0;
	for (int i = 0; i < vm->m.ncpus; i++) {
		thread_args[i] = (struct vcpu_thread_arg){.vm = vm, .index = i};
		int r = pthread_create(&vm->threads[i], NULL, vcpu_thread, &thread_args[i]);
		if (r != 0) {
			vmctl_request_stop(&vm->m.ctl, VM_STOP_HOST_ERROR, 1);
			for (int j = 0; j < vm->nthreads; j++)
				pthread_join(vm->threads[j], NULL);
			return err_setf(err, "cannot start vCPU thread %d: %s", i, strerror(r));
		}
		vm->nthreads++;
	}
	return 0;
}

static void join_vcpus(struct vm *vm)
{
	for (int i = 0; i < vm->nthreads; i++)
		vm->m.backend->vcpu_kick(&vm->m, i);
	for (int i = 0; i < vm->nthreads; i++)
		pthread_join(vm->threads[i], NULL);
	vm->nthreads = 0;
}

/* Signals: SIGINT/SIGTERM/SIGHUP arrive through a signalfd on the event
 * loop; blocked in every thread (the mask is inherited by vCPU threads,
 * which unblock only their kick signal). */
static int setup_signals(struct vm *vm, struct vmon_error *err)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1); /* vCPU kick signal: only vCPU threads take it */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGUSR1);
	vm->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->sigfd < 0)
		return err_setf(err, "signalfd: %s", strerror(errno));
	if (ev_add(vm->ev, vm->sigfd, EPOLLIN, on_signal, vm) < 0)
		return err_setf(err, "event loop: %s", strerror(errno));
	return 0;
}

static int report_end(struct vm *vm)
{
	struct vm_control *ctl = &vm->m.ctl;
	enum vm_stop_reason reason = (enum vm_stop_reason)atomic_load(&ctl->reason);
	switch (reason) {
	case VM_STOP_RESET:
		fprintf(stderr, "vmon: the guest reset the machine; exiting (--no-reboot)\n");
		break;
	case VM_STOP_TRIPLE_FAULT:
	case VM_STOP_GUEST_ERROR:
	case VM_STOP_HOST_ERROR:
		/* the backend already printed what happened */
		break;
	default: break;
	}
	return ctl->status;
}

int vm_run(const struct vm_config *cfg, struct vmon_error *err)
{
	static struct vm vm_storage; /* one VM per process */
	struct vm *vm = &vm_storage;
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->sigfd = -1;
	struct machine *m = &vm->m;
	m->ncpus = cfg->ncpus;
	m->backend = cfg->backend;
	m->trace_unclaimed_io = cfg->trace_io;
	m->cpu_model = &cfg->cpu_model;
	bus_init(&m->pio, "port I/O");
	bus_init(&m->mmio, "MMIO");
	int status = -1;

	/* Everything the user named first — the image, then the devices'
	 * files, sockets, chardevs and network back ends — so that each bad
	 * input is reported as such before anything about the host (such as
	 * /dev/kvm) can get in the way. Devices hold only pointers to the
	 * routers in struct machine, which the backend fills in later (as it
	 * does again on every reboot). */
	if (gm_create(&m->mem, cfg->mem_size, err) < 0 || load_image(vm, err) < 0)
		goto out;
	vm->ev = ev_create(err);
	if (!vm->ev)
		goto out;
	if (vm_devices_create(&vm->devs, m, vm->ev, cfg, err) < 0)
		goto out;
	/* Signals are blocked only now. No open() above may block (user files
	 * are opened non-blocking: a FIFO is refused, or must have a reader),
	 * but should one ever wait, Ctrl-C still ends vmon. */
	if (setup_signals(vm, err) < 0)
		goto out;
	if (m->backend->create(m, err) < 0)
		goto out;
	bus_seal(&m->pio);
	bus_seal(&m->mmio);
	m->ctl.on_stop = on_stop;
	m->ctl.opaque = vm;
	if (create_vcpus(vm, err) < 0)
		goto out;

	for (;;) {
		if (start_vcpus(vm, err) < 0)
			goto out;
		ev_run(vm->ev);
		join_vcpus(vm);
		if (atomic_load(&m->ctl.reason) != VM_STOP_RESET || cfg->no_reboot)
			break;
		/* Reboot: fresh CPUs and interrupt controllers, same RAM and
		 * devices, image loaded again. */
		/* Devices first: I/O still completing must not raise an
		 * interrupt through a router that is being torn down. */
		vm_devices_reset(&vm->devs);
		m->backend->destroy(m);
		atomic_store(&m->ctl.reason, VM_STOP_NONE);
		ev_rearm(vm->ev);
		if (m->backend->create(m, err) < 0 || load_image(vm, err) < 0 ||
		    create_vcpus(vm, err) < 0)
			goto out;
	}
	status = report_end(vm);
	const char *stats = getenv("VMON_STATS");
	if (stats && *stats && strcmp(stats, "0") != 0)
		vm_devices_print_stats(&vm->devs, stderr);
out:
	if (vm->nthreads)
		join_vcpus(vm);
	vm_devices_destroy(&vm->devs);
	if (m->backend && m->backend_priv)
		m->backend->destroy(m);
	/* Counts of guest-caused messages the rate limits held back. */
	ratelimit_flush_all(stderr);
	if (vm->sigfd >= 0)
		close(vm->sigfd);
	ev_destroy(vm->ev);
	bus_destroy(&m->pio);
	bus_destroy(&m->mmio);
	/* Last: the devices are gone and their I/O engines have waited for
	 * every request in flight, so nothing reads or writes RAM any more. */
	gm_destroy(&m->mem);
	return status;
}
