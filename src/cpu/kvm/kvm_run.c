/* SPDX-License-Identifier: MIT */
/*
 * KVM backend, the vCPU run loop: KVM_RUN, then one handler per exit
 * reason from a table. Guest-caused failures stop the VM through
 * m->ctl with a message that says what the guest was doing; they never
 * end vmon by themselves.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/ratelimit.h"
#include "cpu/insn_format.h"
#include "cpu/kvm/kvm_priv.h"

#define KICK_SIGNAL SIGUSR1

enum exit_action { EXIT_CONTINUE, EXIT_STOP };

typedef enum exit_action (*exit_handler)(struct machine *m, struct kvm_vcpu_state *v);

static const char *const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
	[KVM_EXIT_IO] = "KVM_EXIT_IO",
	[KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
	[KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
	[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
	[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
	[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
	[KVM_EXIT_SET_TPR] = "KVM_EXIT_SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "KVM_EXIT_TPR_ACCESS",
	[KVM_EXIT_S390_SIEIC] = "KVM_EXIT_S390_SIEIC",
	[KVM_EXIT_S390_RESET] = "KVM_EXIT_S390_RESET",
	[KVM_EXIT_DCR] = "KVM_EXIT_DCR",
	[KVM_EXIT_NMI] = "KVM_EXIT_NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
	[KVM_EXIT_OSI] = "KVM_EXIT_OSI",
	[KVM_EXIT_PAPR_HCALL] = "KVM_EXIT_PAPR_HCALL",
	[KVM_EXIT_S390_UCONTROL] = "KVM_EXIT_S390_UCONTROL",
	[KVM_EXIT_WATCHDOG] = "KVM_EXIT_WATCHDOG",
	[KVM_EXIT_S390_TSCH] = "KVM_EXIT_S390_TSCH",
	[KVM_EXIT_EPR] = "KVM_EXIT_EPR",
	[KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
	[KVM_EXIT_S390_STSI] = "KVM_EXIT_S390_STSI",
	[KVM_EXIT_IOAPIC_EOI] = "KVM_EXIT_IOAPIC_EOI",
	[KVM_EXIT_HYPERV] = "KVM_EXIT_HYPERV",
#ifdef KVM_EXIT_ARM_NISV
	[KVM_EXIT_ARM_NISV] = "KVM_EXIT_ARM_NISV",
#endif
#ifdef KVM_EXIT_X86_RDMSR
	[KVM_EXIT_X86_RDMSR] = "KVM_EXIT_X86_RDMSR",
	[KVM_EXIT_X86_WRMSR] = "KVM_EXIT_X86_WRMSR",
#endif
#ifdef KVM_EXIT_DIRTY_RING_FULL
	[KVM_EXIT_DIRTY_RING_FULL] = "KVM_EXIT_DIRTY_RING_FULL",
#endif
#ifdef KVM_EXIT_AP_RESET_HOLD
	[KVM_EXIT_AP_RESET_HOLD] = "KVM_EXIT_AP_RESET_HOLD",
#endif
#ifdef KVM_EXIT_X86_BUS_LOCK
	[KVM_EXIT_X86_BUS_LOCK] = "KVM_EXIT_X86_BUS_LOCK",
#endif
#ifdef KVM_EXIT_XEN
	[KVM_EXIT_XEN] = "KVM_EXIT_XEN",
#endif
#ifdef KVM_EXIT_RISCV_SBI
	[KVM_EXIT_RISCV_SBI] = "KVM_EXIT_RISCV_SBI",
#endif
#ifdef KVM_EXIT_NOTIFY
	[KVM_EXIT_NOTIFY] = "KVM_EXIT_NOTIFY",
#endif
};

const char *kvm_exit_name(uint32_t reason)
{
	if (reason < sizeof(exit_names) / sizeof(exit_names[0]) && exit_names[reason])
		return exit_names[reason];
	return "KVM_EXIT_(unnamed)";
}

static void kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN with EINTR */
}

void kvm_install_kick_signal(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigaction(KICK_SIGNAL, &sa, NULL);
}

void kvm_vcpu_kick(struct machine *m, int index)
{
	struct kvm_vm_state *k = kvm_state(m);
	if (!k)
		return;
	struct kvm_vcpu_state *v = &k->vcpus[index];
	/* immediate_exit covers the window just before KVM_RUN; the signal
	 * covers a vCPU already inside it (api.rst, KVM_CAP_IMMEDIATE_EXIT). */
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (atomic_load(&v->thread_known))
		pthread_kill(v->thread, KICK_SIGNAL);
}

/* ---- diagnostics ---------------------------------------------------- */

static const char *cpu_mode_name(const struct kvm_sregs *s, enum insn_mode *mode)
{
	if (!(s->cr0 & 1)) {
		*mode = INSN_MODE_16;
		return "real mode";
	}
	if (s->efer & (1ULL << 10)) {
		if (s->cs.l) {
			*mode = INSN_MODE_64;
			return "64-bit long mode";
		}
		*mode = s->cs.db ? INSN_MODE_32 : INSN_MODE_16;
		return "compatibility mode";
	}
	*mode = s->cs.db ? INSN_MODE_32 : INSN_MODE_16;
	return s->cs.db ? "32-bit protected mode" : "16-bit protected mode";
}

/* "RIP 0x.. CPL n, <mode>, insn <bytes> (<text>)" for vCPU v. */
static void describe_vcpu(struct machine *m, struct kvm_vcpu_state *v, char *out, size_t len)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(out, len, "(registers unavailable: %s)", strerror(errno));
		return;
	}
	enum insn_mode mode;
	const char *mode_name = cpu_mode_name(&sregs, &mode);
	uint64_t linear = sregs.cs.base + regs.rip;
	if (mode != INSN_MODE_64)
		linear &= 0xffffffffULL;
	char insn[256] = "unreadable";
	struct kvm_translation tr = {.linear_address = linear};
	if (ioctl(v->fd, KVM_TRANSLATE, &tr) == 0 && tr.valid) {
		uint8_t bytes[15];
		size_t n = 0;
		/* Stop at the end of the page or of RAM: both checked by gm_ptr. */
		while (n < sizeof(bytes)) {
			const uint8_t *p = gm_ptr(&m->mem, tr.physical_address + n, 1);
			if (!p || ((tr.physical_address + n) & 0xfff) == 0xfff) {
				if (p)
					bytes[n++] = *p;
				break;
			}
			bytes[n++] = *p;
		}
		if (n)
			insn_format(insn, sizeof(insn), bytes, n, mode, regs.rip);
	}
	snprintf(out, len, "RIP 0x%llx CPL %u, %s, CR0 0x%llx CR3 0x%llx, insn %s",
		 (unsigned long long)regs.rip, (unsigned)(sregs.cs.selector & 3), mode_name,
		 (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr3, insn);
}

static enum exit_action stop_guest(struct machine *m, struct kvm_vcpu_state *v,
				   enum vm_stop_reason reason, int status, const char *what)
{
	char desc[512];
	describe_vcpu(m, v, desc, sizeof(desc));
	/* Each vCPU says this at most once per boot, but a guest can reboot
	 * and many vCPUs can fail at once: rate-limited all the same. */
	guest_log("vCPU %d: %s; %s", v->index, what, desc);
	vmctl_request_stop(&m->ctl, reason, status);
	return EXIT_STOP;
}

/* ---- exit handlers -------------------------------------------------- */

static void note_unclaimed(struct machine *m, const char *bus, uint64_t addr, unsigned size,
			   bool write)
{
	/* The guest decides how often: even the trace is rate-limited. */
	if (m->trace_unclaimed_io)
		guest_log("unclaimed %s %s 0x%llx size %u", bus, write ? "write" : "read",
			  (unsigned long long)addr, size);
}

static enum exit_action handle_io(struct machine *m, struct kvm_vcpu_state *v)
{
	struct kvm_run *run = v->run;
	struct kvm_vm_state *k = kvm_state(m);
	unsigned size = run->io.size;
	uint32_t count = run->io.count;
	uint64_t off = run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;
	/* The kernel fills these, but the data must stay inside the mapping. */
	if ((size != 1 && size != 2 && size != 4) || count == 0 || off >= k->run_size ||
	    (uint64_t)count * size > k->run_size - off)
		return stop_guest(m, v, VM_STOP_HOST_ERROR, 1, "malformed KVM_EXIT_IO");
	uint8_t *data = (uint8_t *)run + off;
	for (uint32_t i = 0; i < count; i++, data += size) {
		uint64_t val = 0;
		if (write)
			memcpy(&val, data, size);
		if (!bus_access(&m->pio, &v->pio_hint, run->io.port, size, write, &val))
			note_unclaimed(m, "port", run->io.port, size, write);
		if (!write)
			memcpy(data, &val, size);
	}
	return EXIT_CONTINUE;
}

static enum exit_action handle_mmio(struct machine *m, struct kvm_vcpu_state *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len;
	if (len == 0 || len > sizeof(run->mmio.data))
		return stop_guest(m, v, VM_STOP_HOST_ERROR, 1, "malformed KVM_EXIT_MMIO");
	uint64_t val = 0;
	bool write = run->mmio.is_write;
	if (write)
		memcpy(&val, run->mmio.data, len);
	if (!bus_access(&m->mmio, &v->mmio_hint, run->mmio.phys_addr, len, write, &val))
		note_unclaimed(m, "MMIO", run->mmio.phys_addr, len, write);
	if (!write)
		memcpy(run->mmio.data, &val, len);
	return EXIT_CONTINUE;
}

static enum exit_action handle_hlt(struct machine *m, struct kvm_vcpu_state *v)
{
	/* With the in-kernel LAPIC, HLT normally stays in the kernel; an exit
	 * here means the vCPU halted with nothing able to wake it. */
	return stop_guest(m, v, VM_STOP_GUEST_ERROR, 1,
			  "halted with no way to wake (KVM_EXIT_HLT)");
}

static enum exit_action handle_shutdown(struct machine *m, struct kvm_vcpu_state *v)
{
	return stop_guest(m, v, VM_STOP_TRIPLE_FAULT, 1, "triple fault (KVM_EXIT_SHUTDOWN)");
}

static enum exit_action handle_internal_error(struct machine *m, struct kvm_vcpu_state *v)
{
	struct kvm_run *run = v->run;
	char what[160];
	const char *sub = "unknown suberror";
	switch (run->internal.suberror) {
	case KVM_INTERNAL_ERROR_EMULATION: sub = "instruction emulation failed"; break;
	case KVM_INTERNAL_ERROR_SIMUL_EX: sub = "exception while delivering an exception"; break;
	case KVM_INTERNAL_ERROR_DELIVERY_EV: sub = "event delivery failed"; break;
#ifdef KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: sub = "unexpected hardware exit"; break;
#endif
	default: break;
	}
	snprintf(what, sizeof(what), "KVM_EXIT_INTERNAL_ERROR suberror %u (%s)",
		 run->internal.suberror, sub);
	return stop_guest(m, v, VM_STOP_GUEST_ERROR, 1, what);
}

static enum exit_action handle_fail_entry(struct machine *m, struct kvm_vcpu_state *v)
{
	char what[160];
	snprintf(what, sizeof(what),
		 "KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x%llx on host CPU %u",
		 (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason,
		 v->run->fail_entry.cpu);
	return stop_guest(m, v, VM_STOP_GUEST_ERROR, 1, what);
}

static enum exit_action handle_system_event(struct machine *m, struct kvm_vcpu_state *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vmctl_request_stop(&m->ctl, VM_STOP_POWEROFF, 0);
		return EXIT_STOP;
	case KVM_SYSTEM_EVENT_RESET:
		vmctl_request_stop(&m->ctl, VM_STOP_RESET, 0);
		return EXIT_STOP;
	case KVM_SYSTEM_EVENT_CRASH:
		return stop_guest(m, v, VM_STOP_GUEST_ERROR, 1, "guest reported a crash");
	default: {
		char what[96];
		snprintf(what, sizeof(what), "KVM_EXIT_SYSTEM_EVENT type %u",
			 v->run->system_event.type);
		return stop_guest(m, v, VM_STOP_GUEST_ERROR, 1, what);
	}
	}
}

static enum exit_action handle_intr(struct machine *m, struct kvm_vcpu_state *v)
{
	return EXIT_CONTINUE; /* a signal: the loop re-checks m->ctl */
}

static enum exit_action handle_unexpected(struct machine *m, struct kvm_vcpu_state *v)
{
	char what[96];
	snprintf(what, sizeof(what), "unexpected exit %s (%u)", kvm_exit_name(v->run->exit_reason),
		 v->run->exit_reason);
	return stop_guest(m, v, VM_STOP_HOST_ERROR, 1, what);
}

static const exit_handler exit_handlers[] = {
	[KVM_EXIT_IO] = handle_io,
	[KVM_EXIT_MMIO] = handle_mmio,
	[KVM_EXIT_HLT] = handle_hlt,
	[KVM_EXIT_SHUTDOWN] = handle_shutdown,
	[KVM_EXIT_INTERNAL_ERROR] = handle_internal_error,
	[KVM_EXIT_FAIL_ENTRY] = handle_fail_entry,
	[KVM_EXIT_SYSTEM_EVENT] = handle_system_event,
	[KVM_EXIT_INTR] = handle_intr,
	[KVM_EXIT_IRQ_WINDOW_OPEN] = handle_intr,
};

void kvm_vcpu_run(struct machine *m, int index)
{
	struct kvm_vm_state *k = kvm_state(m);
	struct kvm_vcpu_state *v = &k->vcpus[index];
	v->thread = pthread_self();
	atomic_store(&v->thread_known, true);

	sigset_t unblock;
	sigemptyset(&unblock);
	sigaddset(&unblock, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);

	while (!vmctl_stopping(&m->ctl)) {
		if (vmctl_pause_requested(&m->ctl)) {
			/* An I/O or MMIO exit is complete only once KVM_RUN is
			 * entered again (api.rst, KVM_EXIT_IO): enter it with
			 * immediate_exit set, which finishes the instruction and
			 * returns EINTR without running the guest. Then the
			 * vCPU's state is whole (a snapshot may read it): park. */
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
			(void)ioctl(v->fd, KVM_RUN, 0);
			__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			vmctl_park(&m->ctl);
			continue;
		}
		int r = ioctl(v->fd, KVM_RUN, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			char what[128];
			snprintf(what, sizeof(what), "KVM_RUN failed: %s", strerror(errno));
			fprintf(stderr, "vmon: vCPU %d: %s\n", index, what);
			vmctl_request_stop(&m->ctl, VM_STOP_HOST_ERROR, 1);
			break;
		}
		uint32_t reason = v->run->exit_reason;
		atomic_fetch_add_explicit(
			&v->exits[reason < KVM_EXIT_STATS ? reason : KVM_EXIT_STATS - 1], 1,
			memory_order_relaxed);
		exit_handler h = reason < sizeof(exit_handlers) / sizeof(exit_handlers[0])
					 ? exit_handlers[reason]
					 : NULL;
		if ((h ? h : handle_unexpected)(m, v) == EXIT_STOP)
			break;
	}
	atomic_store(&v->thread_known, false);
}

void kvm_vcpu_stats(struct machine *m, int index, const struct stats_sink *out)
{
	struct kvm_vm_state *k = kvm_state(m);
	if (!k || index < 0 || index >= VMON_MAX_CPUS)
		return;
	struct kvm_vcpu_state *v = &k->vcpus[index];
	for (unsigned r = 0; r < KVM_EXIT_STATS; r++) {
		uint64_t n = atomic_load_explicit(&v->exits[r], memory_order_relaxed);
		if (!n)
			continue;
		/* "KVM_EXIT_IO" -> "exit_io" */
		char name[48] = "exit_";
		const char *kn = r == KVM_EXIT_STATS - 1 ? "KVM_EXIT_OTHER" : kvm_exit_name(r);
		size_t j = 5;
		for (const char *p = kn + (strncmp(kn, "KVM_EXIT_", 9) == 0 ? 9 : 0);
		     *p && j < sizeof(name) - 1; p++)
			name[j++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		name[j] = 0;
		stats_put(out, name, n);
	}
}
