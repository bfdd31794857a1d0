/* SPDX-License-Identifier: MIT */
/*
 * The VM layer: builds one machine from a vm_config and runs it.
 *
 * Threads: the thread that calls vm_run becomes the event-loop thread
 * (console input, signals); each vCPU gets its own thread running
 * backend->vcpu_run(). The machine is stopped through machine.ctl from
 * anywhere; its on_stop hook kicks every vCPU and wakes the event loop. A
 * guest reset either reboots (backend re-created, image reloaded, devices
 * kept — like a PC whose RAM and CMOS survive a reset) or ends vmon with
 * --no-reboot. ctl_lock serializes the control plane's pause/resume and
 * counters with the reboot path, which replaces the backend and the vCPU
 * threads.
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
#include "boot/boot.h"
#include "boot/mptable.h"
#include "boot/reset_vector.h"
#include "core/event_loop.h"
#include "core/guest_mem_dirty.h"
#include "core/machine.h"
#include "core/ratelimit.h"
#include "core/seccomp.h"
#include "core/thread.h"
#include "cpu/cpu_backend.h"
#include "cpu/host_virt.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/pci.h"
#include "devices/virtio/virtio_blk.h"
#include "vm/vm_devices.h"
#include "vm/vm_migrate.h"
#include "vm/vm_snapshot.h"

/* How long vm_pause waits for the vCPUs to stand still. One blocked in a
 * device write (a serial client that does not read) parks as soon as the
 * write returns, before it runs another guest instruction. */
#define PAUSE_WAIT_MS 5000

struct vcpu_thread_arg {
	struct vm *vm;
	int index;
};

struct vm {
	struct machine m;
	struct vm_config cfg;
	struct event_loop *ev;
	struct vm_devices devs;
	struct vmon_thread threads[VMON_MAX_CPUS];
	struct vcpu_thread_arg args[VMON_MAX_CPUS];
	int nthreads;
	int sigfd;
	pthread_mutex_t ctl_lock;
	bool paused;		  /* under ctl_lock */
	struct vm_migration *mig; /* vm_migrate.c's, NULL before the first */
	bool mig_hold;		  /* under ctl_lock: a migration keeps it paused */
};

const struct cpu_backend *vm_backend_resolve(enum vm_backend_choice choice)
{
	switch (choice) {
	case VM_BACKEND_KVM: return &cpu_backend_kvm;
	case VM_BACKEND_EMU: return &cpu_backend_emu;
	case VM_BACKEND_AUTO: break;
	}
	char why[128];
	return host_has_hw_virt(why, sizeof(why)) ? &cpu_backend_kvm : &cpu_backend_emu;
}

static void *vcpu_thread(void *p)
{
	struct vcpu_thread_arg *a = p;
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
 * area below 1 MiB, and the reset-vector stub (boot/reset_vector.h).
 * Written before the image, so an image that loads over them wins;
 * rewritten on every reboot. They describe the layout the devices were
 * planned with (vm_devices_plan). */
static int write_firmware_tables(struct vm *vm, uint64_t *rsdp, struct vmon_error *err)
{
	struct machine *m = &vm->m;
	struct acpi_config acpi = {
		.ncpus = m->ncpus,
		.sleep_ctl_port = ACPI_PM_SLEEP_CTL_PORT,
		.sleep_sts_port = ACPI_PM_SLEEP_STS_PORT,
		.reset_port = ACPI_PM_RESET_PORT,
		.reset_value = ACPI_PM_RESET_VALUE,
		.pm_timer_port = ACPI_PM_TIMER_PORT,
		.pci_host = true,
		.pci_mmio_start = (uint32_t)LAYOUT_PCI_MMIO,
		.pci_mmio_end = (uint32_t)LAYOUT_PCI_MMIO_END,
		.pci_intx_gsi_base = LAYOUT_GSI_PCI_INTX,
		.pci_intx_lines =
			LAYOUT_GSI_PCI_INTX_LINES, /* pci.c: slot s INTA -> base + s % 4 */
		.com1_port = LAYOUT_PORT_COM1,
		.com1_irq = LAYOUT_GSI_COM1,
		.rtc_port = LAYOUT_PORT_RTC,
		.kbd_data_port = LAYOUT_PORT_I8042_DATA,
		.kbd_cmd_port = LAYOUT_PORT_I8042_CMD,
		.kbd_irq = LAYOUT_GSI_KBD,
	};
	acpi_describe_layout(&acpi, &vm->devs.layout);
	if (mptable_write(&m->mem, m->ncpus, err) < 0 ||
	    reset_vector_write(&m->mem, ACPI_PM_RESET_PORT, ACPI_PM_RESET_VALUE, err) < 0)
		return -1;
	return acpi_write(&m->mem, &acpi, rsdp, err);
}

static int load_image(struct vm *vm, struct vmon_error *err)
{
	const struct vm_boot_config *b = &vm->cfg.boot;
	struct boot_config boot = {
		.kernel_path = b->kernel,
		.initrd_path = b->initrd[0] ? b->initrd : NULL,
		.cmdline = b->cmdline,
		.has_load_addr = b->has_load_addr,
		.load_addr = b->load_addr,
	};
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
		vm->args[i] = (struct vcpu_thread_arg){.vm = vm, .index = i};
		char name[16];
		snprintf(name, sizeof(name), "vcpu%d", i);
		if (vmon_thread_start_on(&vm->threads[i], VMON_THREAD_VCPU, name,
					 cpu_affinity_of(&vm->cfg.machine.affinity, (unsigned)i),
					 vcpu_thread, &vm->args[i], err) < 0) {
			vmctl_request_stop(&vm->m.ctl, VM_STOP_HOST_ERROR, 1);
			for (int j = 0; j < vm->nthreads; j++)
				vmon_thread_join(&vm->threads[j]);
			vm->nthreads = 0;
			return -1;
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
		vmon_thread_join(&vm->threads[i]);
	vm->nthreads = 0;
}

/* Signals: SIGINT/SIGTERM/SIGHUP arrive through a signalfd on the event
 * loop; blocked in this thread (every thread vmon starts blocks them,
 * core/thread.h; vCPU threads unblock only their kick signal). */
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
	if (reason == VM_STOP_RESET)
		fprintf(stderr, "vmon: the guest reset the machine; exiting (--no-reboot)\n");
	/* Triple faults, guest and host errors: the backend already printed
	 * what happened. */
	return ctl->status;
}

/* An incoming migration's RAM, received already: the machine takes it
 * over (adopt is left empty). */
static int adopt_mem(struct machine *m, struct guest_mem *adopt, uint64_t size,
		     struct vmon_error *err)
{
	if (adopt->size != size)
		return err_setf(err, "the machine has %llu bytes of RAM, the stream sent %llu",
				(unsigned long long)size, (unsigned long long)adopt->size);
	m->mem = *adopt;
	memset(adopt, 0, sizeof(*adopt));
	adopt->memfd = -1;
	return 0;
}

/* Diff snapshots' tracking (track_dirty_pages): from before the image
 * loads (a first diff holds every page the VM wrote) and before the
 * backend is made (KVM's slots log from the start). RAM that came over a
 * migration stream (adopted) has no memory file under it: its first diff
 * must hold every page. */
static int start_tracking(struct machine *m, const struct vm_config *cfg, bool adopted,
			  struct vmon_error *err)
{
	if (!cfg->machine.track_dirty_pages)
		return 0;
	if (!m->backend->dirty_flush)
		return err_setf(err, "track_dirty_pages: the %s backend cannot track dirty pages",
				m->backend->name);
	if (gm_dirty_track_start(&m->mem, err) < 0)
		return -1;
	if (adopted)
		gm_dirty_mark_dev(&m->mem, 0, m->mem.size);
	return 0;
}

/* Builds the machine; with st, restored from a snapshot: RAM mapped from
 * mem_path instead of made and loaded, and st's state put into the
 * devices and vCPUs once they exist. */
static int create(struct vm **out, const struct vm_config *cfg, const struct vmstate *st,
		  const char *mem_path, struct guest_mem *adopt, struct vmon_error *err)
{
	*out = NULL;
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return err_setf(err, "out of memory");
	vm->cfg = *cfg;
	vm->sigfd = -1;
	pthread_mutex_init(&vm->ctl_lock, NULL);
	struct machine *m = &vm->m;
	vmctl_init(&m->ctl);
	m->ncpus = (int)cfg->machine.vcpus;
	m->backend = vm_backend_resolve(cfg->machine.backend);
	/* Before any thread starts: the vCPU threads' filter depends on it. */
	vmon_seccomp_set_vcpu_backend(strcmp(m->backend->name, "kvm") == 0);
	m->trace_unclaimed_io = cfg->trace_io;
	m->cpu_model = &vm->cfg.machine.cpu_model;
	m->nested = cfg->machine.nested;
	bus_init(&m->pio, "port I/O");
	bus_init(&m->mmio, "MMIO");

	/* Everything the user named first — the image, then the devices'
	 * files, sockets, chardevs and network back ends — so that each bad
	 * input is reported as such before anything about the host (such as
	 * /dev/kvm) can get in the way. Devices hold only pointers to the
	 * routers in struct machine, which the backend fills in later (as it
	 * does again on every reboot). */
	vm->ev = ev_create(err);
	if (!vm->ev ||
	    (adopt ? adopt_mem(m, adopt, cfg->machine.mem_size, err)
	     : st  ? gm_map_file(&m->mem, cfg->machine.mem_size, mem_path, err)
		   : gm_create(&m->mem, cfg->machine.mem_size, err)) < 0 ||
	    start_tracking(m, cfg, adopt != NULL || cfg->incoming, err) < 0 ||
	    vm_devices_plan(&vm->devs, m, vm->ev, &vm->cfg, err) < 0 ||
	    (!st && !cfg->incoming && load_image(vm, err) < 0) ||
	    vm_devices_create(&vm->devs, err) < 0)
		goto fail;
	/* Signals are blocked only now. No open() above may block (user files
	 * are opened non-blocking: a FIFO is refused, or must have a reader),
	 * but should one ever wait, Ctrl-C still ends vmon. */
	if (setup_signals(vm, err) < 0)
		goto fail;
	if (m->backend->create(m, err) < 0) {
		/* A restored guest keeps its CPU: say whose features those are. */
		const char *opt = "--cpu-features: ";
		if ((st || cfg->incoming) && strncmp(err->msg, opt, strlen(opt)) == 0) {
			char m2[sizeof(err->msg)];
			snprintf(m2, sizeof(m2), "%s", err->msg + strlen(opt));
			err_setf(err, "the snapshot's CPU: %s", m2);
		}
		goto fail;
	}
	bus_seal(&m->pio);
	bus_seal(&m->mmio);
	m->ctl.on_stop = on_stop;
	m->ctl.opaque = vm;
	if (create_vcpus(vm, err) < 0 || (st && vm_state_restore(m, &vm->devs, st, err) < 0))
		goto fail;
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return -1;
}

int vm_create(struct vm **out, const struct vm_config *cfg, struct vmon_error *err)
{
	return create(out, cfg, NULL, NULL, NULL, err);
}

int vm_create_restored(struct vm **out, const struct vm_config *cfg, const struct vmstate *st,
		       const char *mem_path, struct vmon_error *err)
{
	return create(out, cfg, st, mem_path, NULL, err);
}

int vm_create_incoming(struct vm **out, const struct vm_config *cfg, const struct vmstate *st,
		       struct guest_mem *mem, struct vmon_error *err)
{
	return create(out, cfg, st, NULL, mem, err);
}

int vm_build_incoming(struct vm **out, const struct vm_config *cfg, struct vmon_error *err)
{
	if (!cfg->incoming)
		return err_setf(err, "vm_build_incoming: the config is not an incoming one");
	return create(out, cfg, NULL, NULL, NULL, err);
}

struct guest_mem *vm_incoming_ram(struct vm *vm)
{
	return &vm->m.mem;
}

/* The target's disks after the end record: each image opened again and
 * locked (virtio_blk_take_over). */
static int disks_take_over(struct vm *vm, struct vmon_error *err)
{
	for (unsigned i = 0; i < vm->devs.ncreated; i++) {
		struct vm_device *v = &vm->devs.list[i];
		if (v->dev && strcmp(v->ops->kind, "virtio-blk") == 0 &&
		    virtio_blk_take_over(v->dev, err) < 0)
			return -1;
	}
	return 0;
}

int vm_incoming_load(struct vm *vm, const struct vmstate *st, struct vmon_error *err)
{
	/* The source flushed the images and dropped its locks before its
	 * end record: open them again (what the source wrote, on a file
	 * system that caches by open) and lock them before anything can
	 * write them. */
	if (disks_take_over(vm, err) < 0)
		return -1;
	pthread_mutex_lock(&vm->ctl_lock);
	int r = vm_state_restore(&vm->m, &vm->devs, st, err);
	pthread_mutex_unlock(&vm->ctl_lock);
	return r;
}

/* ---- For vm_migrate.c ---- */

struct machine *vm_machine(struct vm *vm)
{
	return &vm->m;
}

struct vm_migration **vm_migration_slot(struct vm *vm)
{
	return &vm->mig;
}

/* Why the log cannot be used now, or NULL. Under ctl_lock. */
static const char *dirty_refusal(struct vm *vm)
{
	if (!vm->m.backend->dirty_flush)
		return "this CPU backend cannot track dirty pages";
	return vmctl_stopping(&vm->m.ctl) ? "the VM is stopping" : NULL;
}

int vm_dirty_start(struct vm *vm, struct vmon_error *err)
{
	struct machine *m = &vm->m;
	pthread_mutex_lock(&vm->ctl_lock);
	const char *no = dirty_refusal(vm);
	bool was = gm_dirty_logging(&m->mem);
	int r = no ? err_setf(err, "%s", no) : gm_dirty_start(&m->mem, err);
	if (r == 0 && !was && m->backend->dirty_log && m->backend->dirty_log(m, true, err) < 0) {
		gm_dirty_stop(&m->mem);
		r = -1;
	}
	if (r == 0)
		r = m->backend->dirty_flush(m, err);
	pthread_mutex_unlock(&vm->ctl_lock);
	return r;
}

void vm_dirty_stop(struct vm *vm)
{
	struct machine *m = &vm->m;
	pthread_mutex_lock(&vm->ctl_lock);
	gm_dirty_stop(&m->mem);
	struct vmon_error e2 = {{0}};
	if (!gm_dirty_logging(&m->mem) && m->backend_priv && m->backend->dirty_log &&
	    m->backend->dirty_log(m, false, &e2) < 0)
		fprintf(stderr, "vmon: stopping the dirty log: %s\n", e2.msg);
	pthread_mutex_unlock(&vm->ctl_lock);
}

int vm_dirty_sync(struct vm *vm, struct vmon_error *err)
{
	struct machine *m = &vm->m;
	pthread_mutex_lock(&vm->ctl_lock);
	const char *no = dirty_refusal(vm);
	int r = no			 ? err_setf(err, "%s", no)
		: m->backend->dirty_sync ? m->backend->dirty_sync(m, err)
					 : 0;
	pthread_mutex_unlock(&vm->ctl_lock);
	return r;
}

int vm_dirty_flush(struct vm *vm, struct vmon_error *err)
{
	struct machine *m = &vm->m;
	pthread_mutex_lock(&vm->ctl_lock);
	const char *no = dirty_refusal(vm);
	int r = no ? err_setf(err, "%s", no) : m->backend->dirty_flush(m, err);
	pthread_mutex_unlock(&vm->ctl_lock);
	return r;
}

int vm_migrate_state(struct vm *vm, struct state_writer *w, struct vmon_error *err)
{
	struct machine *m = &vm->m;
	pthread_mutex_lock(&vm->ctl_lock);
	int r;
	if (!vm->paused)
		r = err_setf(err, "the VM must be paused");
	else if (vmctl_stopping(&m->ctl))
		r = err_setf(err, "the VM is stopping");
	else if (!vmctl_wait_parked(&m->ctl, (unsigned)vm->nthreads, PAUSE_WAIT_MS))
		r = err_setf(err, "a vCPU did not stop for the migration");
	else
		r = vm_state_build(m, &vm->devs, &vm->cfg, w, err);
	pthread_mutex_unlock(&vm->ctl_lock);
	return r;
}

int vm_migrate_machine(struct vm *vm, struct state_writer *w, struct vmon_error *err)
{
	pthread_mutex_lock(&vm->ctl_lock);
	int r = vmctl_stopping(&vm->m.ctl) ? err_setf(err, "the VM is stopping")
					   : vm_state_build_machine(&vm->m, &vm->cfg, w, err);
	pthread_mutex_unlock(&vm->ctl_lock);
	return r;
}

void vm_migrate_hold(struct vm *vm, bool hold)
{
	pthread_mutex_lock(&vm->ctl_lock);
	vm->mig_hold = hold;
	pthread_mutex_unlock(&vm->ctl_lock);
}

int vm_disks_hold(struct vm *vm, bool hold, struct vmon_error *err)
{
	int r = 0;
	for (unsigned i = 0; i < vm->devs.ncreated; i++) {
		struct vm_device *v = &vm->devs.list[i];
		if (v->dev && strcmp(v->ops->kind, "virtio-blk") == 0 &&
		    virtio_blk_hold_lock(v->dev, hold, err) < 0)
			r = -1;
	}
	return r;
}

int vm_snapshot(struct vm *vm, const char *vmstate_path, const char *mem_path, bool diff,
		struct vmon_error *err)
{
	struct machine *m = &vm->m;
	pthread_mutex_lock(&vm->ctl_lock);
	int r;
	if (!vm->paused)
		r = err_setf(err, "the VM must be paused for a snapshot");
	else if (vmctl_stopping(&m->ctl))
		r = err_setf(err, "the VM is stopping");
	else if (!vmctl_wait_parked(&m->ctl, (unsigned)vm->nthreads, PAUSE_WAIT_MS))
		r = err_setf(err, "a vCPU did not stop for the snapshot");
	else
		r = vm_state_save(m, &vm->devs, &vm->cfg, vmstate_path, mem_path, diff, err);
	pthread_mutex_unlock(&vm->ctl_lock);
	return r;
}

int vm_run(struct vm *vm, struct vmon_error *err)
{
	struct machine *m = &vm->m;
	/* The main thread's own filter, before the guest runs a first
	 * instruction; the vCPU threads it starts run under it too. */
	if (vmon_seccomp_enter(VMON_THREAD_MAIN, "vmon", err) < 0)
		return -1;
	for (;;) {
		pthread_mutex_lock(&vm->ctl_lock);
		int r = start_vcpus(vm, err);
		pthread_mutex_unlock(&vm->ctl_lock);
		if (r < 0)
			return -1;
		ev_run(vm->ev);
		pthread_mutex_lock(&vm->ctl_lock);
		join_vcpus(vm);
		if (atomic_load(&m->ctl.reason) != VM_STOP_RESET || vm->cfg.no_reboot) {
			pthread_mutex_unlock(&vm->ctl_lock);
			break;
		}
		/* Reboot: fresh CPUs and interrupt controllers, same RAM and
		 * devices, image loaded again. Devices first: I/O still
		 * completing must not raise an interrupt through a router
		 * that is being torn down. A pause stays in force: the new
		 * vCPUs park before their first instruction. */
		vm_devices_reset(&vm->devs);
		m->backend->destroy(m);
		atomic_store(&m->ctl.reason, VM_STOP_NONE);
		ev_rearm(vm->ev);
		r = (m->backend->create(m, err) < 0 || load_image(vm, err) < 0 ||
		     create_vcpus(vm, err) < 0)
			    ? -1
			    : 0;
		pthread_mutex_unlock(&vm->ctl_lock);
		if (r < 0)
			return -1;
	}
	int status = report_end(vm);
	const char *stats = getenv("VMON_STATS");
	if (stats && *stats && strcmp(stats, "0") != 0)
		vm_devices_print_stats(&vm->devs, stderr);
	return status;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	struct machine *m = &vm->m;
	vm_migrate_free(vm); /* its thread first: it uses everything below */
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
	vmctl_fini(&m->ctl);
	pthread_mutex_destroy(&vm->ctl_lock);
	free(vm);
}

const struct vm_config *vm_get_config(struct vm *vm)
{
	return &vm->cfg;
}

const char *vm_backend_name(struct vm *vm)
{
	return vm->m.backend->name;
}

int vm_pause(struct vm *vm, struct vmon_error *err)
{
	struct machine *m = &vm->m;
	pthread_mutex_lock(&vm->ctl_lock);
	if (vmctl_stopping(&m->ctl)) {
		pthread_mutex_unlock(&vm->ctl_lock);
		return err_setf(err, "the VM is stopping");
	}
	if (!vm->paused) {
		vm->paused = true;
		vmctl_set_pause(&m->ctl, true);
		for (int i = 0; i < vm->nthreads; i++)
			m->backend->vcpu_kick(m, i);
	}
	(void)vmctl_wait_parked(&m->ctl, (unsigned)vm->nthreads, PAUSE_WAIT_MS);
	pthread_mutex_unlock(&vm->ctl_lock);
	return 0;
}

int vm_resume(struct vm *vm, struct vmon_error *err)
{
	pthread_mutex_lock(&vm->ctl_lock);
	if (vm->mig_hold) {
		pthread_mutex_unlock(&vm->ctl_lock);
		return err_setf(err,
				"a live migration is handing the VM over (vmon migrate --cancel "
				"stops it)");
	}
	if (vm->paused) {
		vm->paused = false;
		vmctl_set_pause(&vm->m.ctl, false);
	}
	pthread_mutex_unlock(&vm->ctl_lock);
	return 0;
}

bool vm_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->ctl_lock);
	bool p = vm->paused;
	pthread_mutex_unlock(&vm->ctl_lock);
	return p;
}

void vm_request_stop(struct vm *vm, int status)
{
	vmctl_request_stop(&vm->m.ctl, VM_STOP_USER_QUIT, status);
}

int vm_send_ctrl_alt_del(struct vm *vm, struct vmon_error *err)
{
	struct vm_device *d = vm_devices_find(&vm->devs, "i8042");
	if (!d || d->ops != &i8042_device)
		return err_setf(err, "the machine has no i8042 keyboard controller");
	switch (i8042_send_ctrl_alt_del(d->dev)) {
	case I8042_KEYS_QUEUED: return 0;
	case I8042_KEYS_FULL:
		return err_setf(err, "the i8042 keyboard buffer is full (the guest is not "
				     "reading its keyboard)");
	case I8042_KEYS_DISABLED: break;
	}
	return err_setf(err, "the guest has its keyboard disabled (no key can reach it)");
}

int vm_set_drive_path(struct vm *vm, const char *id, const char *path, struct vmon_error *err)
{
	int i = vm_config_find_drive(&vm->cfg, id);
	struct vm_device *d = vm_devices_find(&vm->devs, id);
	if (i < 0 || !d || d->ops != &virtio_blk_device)
		return err_setf(err, "no drive '%s'", id);
	if (strlen(path) >= sizeof(vm->cfg.drives[i].path))
		return err_setf(err, "path_on_host is too long");
	if (virtio_blk_set_path(d->dev, path, err) < 0)
		return -1;
	pthread_mutex_lock(&vm->ctl_lock);
	snprintf(vm->cfg.drives[i].path, sizeof(vm->cfg.drives[i].path), "%s", path);
	pthread_mutex_unlock(&vm->ctl_lock);
	return 0;
}

static void apply_update(struct rl_config *c, const struct rl_update *u)
{
	if (u->has_bw)
		c->bw = u->cfg.bw;
	if (u->has_ops)
		c->ops = u->cfg.ops;
}

int vm_set_drive_limits(struct vm *vm, const char *id, const struct rl_update *u,
			struct vmon_error *err)
{
	int i = vm_config_find_drive(&vm->cfg, id);
	struct vm_device *d = vm_devices_find(&vm->devs, id);
	if (i < 0 || !d || d->ops != &virtio_blk_device)
		return err_setf(err, "no drive '%s'", id);
	virtio_blk_set_rate_limiter(d->dev, u);
	pthread_mutex_lock(&vm->ctl_lock);
	apply_update(&vm->cfg.drives[i].rl, u);
	pthread_mutex_unlock(&vm->ctl_lock);
	return 0;
}

int vm_set_net_limits(struct vm *vm, const char *id, const struct rl_update *rx,
		      const struct rl_update *tx, struct vmon_error *err)
{
	int i = vm_config_find_net(&vm->cfg, id);
	struct vm_device *d = vm_devices_find(&vm->devs, id);
	if (i < 0 || !d || d->ops != &virtio_net_device)
		return err_setf(err, "no network interface '%s'", id);
	virtio_net_update_limits(d->dev, rx, tx);
	pthread_mutex_lock(&vm->ctl_lock);
	if (rx)
		apply_update(&vm->cfg.nets[i].rx_rl, rx);
	if (tx)
		apply_update(&vm->cfg.nets[i].tx_rl, tx);
	pthread_mutex_unlock(&vm->ctl_lock);
	return 0;
}

static struct virtio_balloon *balloon(struct vm *vm, struct vmon_error *err)
{
	struct vm_device *d = vm_devices_find(&vm->devs, "balloon");
	if (!d || d->ops != &virtio_balloon_device || !d->dev) {
		err_setf(err, "balloon: the microVM has no balloon device");
		return NULL;
	}
	return d->dev;
}

int vm_balloon_set_target(struct vm *vm, uint32_t mib, struct vmon_error *err)
{
	struct virtio_balloon *b = balloon(vm, err);
	if (!b)
		return -1;
	if ((uint64_t)mib << 20 > vm->cfg.machine.mem_size)
		return err_setf(err,
				"balloon: amount_mib %u is more than the guest's memory (%llu MiB)",
				mib, (unsigned long long)(vm->cfg.machine.mem_size >> 20));
	virtio_balloon_set_target(b, mib * 256);
	pthread_mutex_lock(&vm->ctl_lock);
	vm->cfg.balloon.amount_mib = mib;
	pthread_mutex_unlock(&vm->ctl_lock);
	return 0;
}

int vm_balloon_get_stats(struct vm *vm, struct balloon_stats *out, struct vmon_error *err)
{
	struct virtio_balloon *b = balloon(vm, err);
	if (!b)
		return -1;
	virtio_balloon_get_stats(b, out);
	return 0;
}

int vm_balloon_set_interval(struct vm *vm, unsigned seconds, struct vmon_error *err)
{
	struct virtio_balloon *b = balloon(vm, err);
	if (!b || virtio_balloon_set_interval(b, seconds, err) < 0)
		return -1;
	pthread_mutex_lock(&vm->ctl_lock);
	vm->cfg.balloon.stats_interval_s = seconds;
	pthread_mutex_unlock(&vm->ctl_lock);
	return 0;
}

struct stats_adapter {
	const struct vm_stats_visitor *v;
	int vcpu;
};

static void device_stat(void *opaque, const struct vm_device *dev, const char *name, uint64_t value)
{
	const struct stats_adapter *a = opaque;
	a->v->device(a->v->opaque, dev->id, dev->ops->kind, name, value);
}

static void vcpu_stat(void *opaque, const char *name, uint64_t value)
{
	const struct stats_adapter *a = opaque;
	a->v->vcpu(a->v->opaque, a->vcpu, name, value);
}

struct backend_stat {
	const struct vm_stats_visitor *v;
	const struct device_ref *ref;
};

static void backend_stat(void *opaque, const char *name, uint64_t value)
{
	const struct backend_stat *b = opaque;
	b->v->device(b->v->opaque, b->ref->id, b->ref->ops->kind, name, value);
}

void vm_stats(struct vm *vm, const struct vm_stats_visitor *v)
{
	struct stats_adapter a = {.v = v};
	if (v->device)
		vm_devices_stats(&vm->devs, device_stat, &a);
	if (!v->vcpu)
		return;
	pthread_mutex_lock(&vm->ctl_lock); /* not while a reboot swaps the backend */
	struct machine *m = &vm->m;
	/* The backend's own devices (interrupt controllers, timers) are
	 * device objects too; they go with its vCPUs. */
	struct device_ref refs[8];
	unsigned n = m->backend_priv && m->backend->devices ? m->backend->devices(m, refs, 8) : 0;
	for (unsigned i = 0; i < n && v->device; i++) {
		if (!refs[i].ops->stats)
			continue;
		struct backend_stat bs = {.v = v, .ref = &refs[i]};
		const struct stats_sink bsink = {.counter = backend_stat, .opaque = &bs};
		refs[i].ops->stats(refs[i].dev, &bsink);
	}
	const struct stats_sink sink = {.counter = vcpu_stat, .opaque = &a};
	for (int i = 0; i < m->ncpus && m->backend_priv && m->backend->vcpu_stats; i++) {
		a.vcpu = i;
		m->backend->vcpu_stats(m, i, &sink);
	}
	pthread_mutex_unlock(&vm->ctl_lock);
}
