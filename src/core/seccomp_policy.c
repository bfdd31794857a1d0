/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allowlists: which system calls (and arguments) each kind of
 * vmon thread may make once its filter is in. Everything not listed kills
 * vmon (or, with --seccomp log, is reported and then kills it).
 *
 * The lists come from reading the code paths each thread runs and from
 * strace -f of the test suites (tests/integration/seccomp.sh keeps
 * checking them against the calls actually made). The threat model is
 * Firecracker's: a vCPU thread runs guest-driven code and may be
 * compromised, so it gets least; device threads parse guest-written
 * queues and get their back end's calls; the API thread parses a local
 * client's requests; the main thread builds the machine again on a reboot
 * and starts the threads that reboot needs, and since filters stack (a
 * thread runs under every filter of the thread that started it), its
 * list holds the vCPU threads'; it also runs every device's teardown at
 * the end, which closes, joins and unlinks (main_calls says what else):
 * the device threads' lists are not its own.
 *
 * Arguments checked, where it matters:
 * - mmap/mprotect: never PROT_EXEC, but on the main thread with the
 *   software CPU (its native-code arena is mapped read+execute from a
 *   memfd when the vCPUs are made, again on every reboot);
 * - ioctl: KVM's vCPU-level and interrupt ioctls by number on vCPU
 *   threads of the KVM backend, the interrupt ones on device threads,
 *   only the terminal's restore (TCSETS on stdin, every thread) on a
 *   software-CPU vCPU; the main thread keeps KVM's
 *   whole ioctl type (it makes the VM again on a reboot) and the
 *   terminal's; the API thread KVM's snapshot reads and dirty log;
 * - socket: AF_INET/AF_INET6 for the user-mode network (slirp), AF_UNIX
 *   for vsock; no other thread makes sockets after the start;
 * - clone: threads only (CLONE_THREAD); clone3, whose flags live in
 *   memory a filter cannot read, fails with ENOSYS, and glibc falls
 *   back to clone;
 * - tgkill: only to vmon's own threads (the vCPU kick);
 * - madvise: freeing advice only, prctl: reading the thread's name only.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "core/seccomp_priv.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every thread: memory (malloc, thread stacks), locks, clocks and
 * sleeps (the vDSO's fallbacks), signal masks and handler returns (the
 * vCPU kick), log lines, its own end or the process's (exit() from any
 * thread), and raise()'s calls for a crash's core dump. */
static const int base_calls[] = {
	SCMP_SYS(write),
	SCMP_SYS(futex),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(brk),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(restart_syscall),
};

/* An event loop's thread (core/event_loop.c): epoll, its eventfds, its
 * timers (a rate limiter's wake-up, core/rate_limiter.c, is re-armed by
 * the thread that throttles). */
static const int loop_calls[] = {
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_ctl),	 SCMP_SYS(read),
	SCMP_SYS(close),      SCMP_SYS(timerfd_settime),
};

/* Disk requests run with plain system calls (devices/virtio/blk_aio.c:
 * the blocking pool without io_uring, and the synchronous engine); a
 * discard punches a hole (add_disk). */
static const int disk_calls[] = {
	SCMP_SYS(preadv),
	SCMP_SYS(pwritev),
	SCMP_SYS(pwritev2),
	SCMP_SYS(fdatasync),
};

/* libslirp's sockets (families below) and a tap fd. */
static const int net_calls[] = {
	SCMP_SYS(writev),     SCMP_SYS(recvfrom),    SCMP_SYS(recvmsg),	    SCMP_SYS(sendto),
	SCMP_SYS(shutdown),   SCMP_SYS(accept),	     SCMP_SYS(connect),	    SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(fcntl),
	SCMP_SYS(poll),
};

/* vsock's host connections (AF_UNIX, below). */
static const int vsock_calls[] = {
	SCMP_SYS(readv),   SCMP_SYS(recvfrom), SCMP_SYS(sendto),     SCMP_SYS(sendmsg),
	SCMP_SYS(accept4), SCMP_SYS(connect),  SCMP_SYS(getsockopt), SCMP_SYS(shutdown),
	SCMP_SYS(fcntl),   SCMP_SYS(poll),
};

/* The API thread's requests: its socket (libmicrohttpd), the image and
 * the files a request names (opened, probed, locked with OFD locks), the
 * registry and the logger and metrics outputs, their timers, the host's
 * memory for machine-config; a snapshot's files (guest RAM written
 * sparse with pwrite, sized, synced; the vmstate renamed into place) and
 * the flush of the disks it saves. */
static const int api_calls[] = {
	SCMP_SYS(openat),	  SCMP_SYS(newfstatat),	     SCMP_SYS(lseek),
	SCMP_SYS(rename),	  SCMP_SYS(unlink),	     SCMP_SYS(fcntl),
	SCMP_SYS(sysinfo),	  SCMP_SYS(accept4),	     SCMP_SYS(recvfrom),
	SCMP_SYS(sendto),	  SCMP_SYS(sendmsg),	     SCMP_SYS(shutdown),
	SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime), SCMP_SYS(pwrite64),
	SCMP_SYS(ftruncate),	  SCMP_SYS(fsync),	     SCMP_SYS(fdatasync),
};

/* The main thread only, after its filter: a reboot (the backend made
 * again: /dev/kvm and its fds, or the software CPU's code arena in a
 * memfd; the kernel and initrd opened and read again; its threads
 * started), console input (its event loop: the serial port's and
 * virtio-console's input, the next client of a unix: console socket,
 * accept4), the end: the registry's state file rewritten and removed
 * (openat, rename, unlink), sockets removed, threads joined, a disk's
 * OFD lock and ring given up (fcntl, io_uring_enter: waiting for what is
 * in flight), the API server's connections and a migration still under
 * way cut (shutdown; a TLS session's goodbye, sendmsg). Every device,
 * its threads, sockets, rings and timers were made before the filter
 * and live across reboots, so the main thread never moves disk data,
 * never makes a socket, a timer or a snapshot file, and never touches
 * the network back ends but to close them. */
static const int main_calls[] = {
	SCMP_SYS(memfd_create),
	SCMP_SYS(ftruncate),
	SCMP_SYS(eventfd2),
	SCMP_SYS(epoll_create1),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(sched_setaffinity),
	SCMP_SYS(seccomp),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(sched_yield),
	SCMP_SYS(openat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(rename),
	SCMP_SYS(unlink),
	SCMP_SYS(fcntl),
	SCMP_SYS(accept4),
	SCMP_SYS(shutdown),
	SCMP_SYS(sendmsg),
};

/* KVM ioctls a vCPU thread makes while the guest runs
 * (Documentation/virt/kvm/api.rst): KVM_RUN; the register reads of an
 * error report; the interrupt paths of the devices the vCPU drives
 * (serial, i8042, virtio on MMIO writes); the MSI-X route and ioeventfd
 * changes a guest's MSI-X table or queue writes cause. */
static const unsigned long kvm_vcpu_ioctls[] = {
	KVM_RUN,	KVM_GET_REGS,	     KVM_GET_SREGS, KVM_TRANSLATE, KVM_IRQ_LINE,
	KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING, KVM_IRQFD,	    KVM_IOEVENTFD,
};

/* A snapshot of a KVM VM (cpu/kvm/kvm_snapshot.c), taken on the API
 * thread with every vCPU parked: the vCPU and VM state reads. Only
 * reads (restoring happens on the main thread, which has KVM's whole
 * type). Allowed whatever the backend: `vmon api` starts this thread
 * before it knows which backend the VM will have. */
static const unsigned long kvm_snapshot_ioctls[] = {
	KVM_GET_MP_STATE, KVM_GET_REGS,	     KVM_GET_SREGS,	  KVM_GET_XSAVE, KVM_GET_XCRS,
	KVM_GET_LAPIC,	  KVM_GET_DEBUGREGS, KVM_GET_VCPU_EVENTS, KVM_GET_MSRS,	 KVM_GET_TSC_KHZ,
	KVM_GET_IRQCHIP,  KVM_GET_PIT2,	     KVM_GET_CLOCK,
};

/* The dirty log of a KVM VM's RAM (cpu/kvm/kvm_mem.c), on the API thread
 * and the migration thread it starts (a diff snapshot, a migration): the
 * slots' KVM_MEM_LOG_DIRTY_PAGES flag turned on and off, the log read and
 * re-protected. The vCPU threads never touch the log (KVM records their
 * stores itself); the main thread makes the slots and syncs before a
 * reboot's new VM under KVM's whole type. Allowed whatever the backend,
 * as the snapshot reads are. */
static const unsigned long kvm_dirty_ioctls[] = {
	KVM_SET_USER_MEMORY_REGION,
	KVM_GET_DIRTY_LOG,
	KVM_CLEAR_DIRTY_LOG,
};

/* Every thread that raises interrupts (the device threads, the API's
 * Ctrl-Alt-Del and drive changes, the vCPUs' devices): INTx lines, MSI
 * without an irqfd, and binding an MSI-X vector to an irqfd on its first
 * use (devices/pci.c: an eventfd, the GSI table, KVM_IRQFD; re-aimed
 * when the guest moves it); the user network asks how much a socket
 * holds. */
static const unsigned long device_ioctls[] = {KVM_IRQ_LINE, KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING,
					      KVM_IRQFD,    FIONREAD,	    FIONBIO};
static const int irq_calls[] = {SCMP_SYS(eventfd2)};

/* Checking what an API request names (a tap interface: opened and set up
 * as the device will; a block device's size), as the main thread also
 * does at setup. */
static const unsigned long setup_ioctls[] = {TUNSETIFF, TUNSETVNETHDRSZ, TUNSETOFFLOAD,
					     BLKGETSIZE64};

/* The terminal (main thread: console input, restoring it at the end). */
static const unsigned long tty_ioctls[] = {TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ};

/* Argument checks, every field set (libseccomp's SCMP_A* macros leave
 * datum_b to the compiler's zeroing, which clang's warnings refuse). */
static struct scmp_arg_cmp arg_eq(unsigned arg, scmp_datum_t v)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0};
}

static struct scmp_arg_cmp arg_masked(unsigned arg, scmp_datum_t mask, scmp_datum_t v)
{
	return (struct scmp_arg_cmp){
		.arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = v};
}

static int allow_all(scmp_filter_ctx f, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(f, SCMP_ACT_ALLOW, calls[i], 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static int allow_ioctls(scmp_filter_ctx f, const unsigned long *req, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					 arg_eq(1, (scmp_datum_t)(uint32_t)req[i]));
		if (r < 0)
			return r;
	}
	return 0;
}

/* The interrupt-raising set (above). */
static int add_irq(scmp_filter_ctx f)
{
	int r = allow_all(f, irq_calls, N(irq_calls));
	return r < 0 ? r : allow_ioctls(f, device_ioctls, N(device_ioctls));
}

static int allow_socket_family(scmp_filter_ctx f, int family)
{
	return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				arg_eq(0, (scmp_datum_t)family));
}

/* disk_calls, and fallocate only to punch a hole (a disk's discard, a
 * balloon's page given back to the RAM memfd). */
static int add_disk(scmp_filter_ctx f)
{
	int r = allow_all(f, disk_calls, N(disk_calls));
	if (r < 0)
		return r;
	return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(fallocate), 1,
				arg_eq(1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE));
}

/* mmap/mprotect without PROT_EXEC, freeing madvise, reading the
 * thread's name (log lines), signals to vmon's own threads (raise, the
 * vCPU kick), the terminal's restore. */
static int add_base(scmp_filter_ctx f, const struct seccomp_policy_params *p)
{
	static const int advice[] = {MADV_DONTNEED, MADV_FREE};
	int r = allow_all(f, base_calls, N(base_calls));
	if (r < 0 ||
	    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				  arg_masked(2, PROT_EXEC, 0))) < 0 ||
	    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				  arg_masked(2, PROT_EXEC, 0))) < 0 ||
	    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, arg_eq(0, PR_GET_NAME))) <
		    0 ||
	    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				  arg_eq(0, (scmp_datum_t)p->pid))) < 0 ||
	    /* A crash or exit() on any thread gives the terminal back
	     * (chardev_restore_terminal: stdin, TCSETS). */
	    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2, arg_eq(0, STDIN_FILENO),
				  arg_eq(1, TCSETS))) < 0)
		return r;
	for (size_t i = 0; i < N(advice); i++)
		if ((r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(madvise), 1,
					  arg_eq(2, (scmp_datum_t)advice[i]))) < 0)
			return r;
	return 0;
}

/* A chardev's output (core/chardev.c: chardev_fd_write_all): write, or
 * send on a unix: socket, polling while the reader is slow. */
static const int chardev_out_calls[] = {SCMP_SYS(sendto), SCMP_SYS(poll)};

static int add_vcpu(scmp_filter_ctx f, const struct seccomp_policy_params *p)
{
	/* getrandom: the software CPU's RDRAND/RDSEED; sched_yield: its
	 * PAUSE in a spin loop (insn_mov.c: h_pause). The serial port's
	 * output is written from the vCPU thread. */
	int r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(getrandom), 0);
	if (r == 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(sched_yield), 0);
	if (r == 0)
		r = allow_all(f, chardev_out_calls, N(chardev_out_calls));
	if (r < 0 || !p->kvm_vcpu)
		return r;
	if ((r = allow_ioctls(f, kvm_vcpu_ioctls, N(kvm_vcpu_ioctls))) < 0)
		return r;
	return add_irq(f);
}

static int add_net(scmp_filter_ctx f)
{
	int r;
	if ((r = allow_all(f, net_calls, N(net_calls))) < 0 ||
	    (r = allow_socket_family(f, AF_INET)) < 0 || (r = allow_socket_family(f, AF_INET6)) < 0)
		return r;
	/* slirp reads /etc/resolv.conf when the guest first asks its DNS:
	 * read-only opens only. */
	return seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				arg_masked(2, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY));
}

/* Starting a thread (core/thread.c): clone for threads, never processes;
 * its name; its own filter. */
static int add_thread_start(scmp_filter_ctx f)
{
	int r;
	if ((r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				  arg_masked(0, CLONE_THREAD, CLONE_THREAD))) < 0 ||
	    (r = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
		return r;
	static const int names[] = {PR_SET_NAME, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP};
	for (size_t i = 0; i < N(names); i++)
		if ((r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
					  arg_eq(0, (scmp_datum_t)names[i]))) < 0)
			return r;
	static const int calls[] = {SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(seccomp)};
	return allow_all(f, calls, N(calls));
}

/* The main thread: the vCPUs' list (they start under this filter on a
 * reboot), what a reboot needs, and the teardown's closes (main_calls). */
static int add_main(scmp_filter_ctx f, const struct seccomp_policy_params *p)
{
	int r;
	if ((r = allow_all(f, loop_calls, N(loop_calls))) < 0 ||
	    (r = allow_all(f, main_calls, N(main_calls))) < 0 ||
	    (r = allow_all(f, chardev_out_calls, N(chardev_out_calls))) < 0 ||
	    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_enter), 0)) < 0 ||
	    (r = add_irq(f)) < 0 || (r = allow_ioctls(f, tty_ioctls, N(tty_ioctls))) < 0)
		return r;
	/* KVM's whole ioctl type (0xAE): the reboot makes the VM again. */
	if ((r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				  arg_masked(1, 0xff00, (scmp_datum_t)KVMIO << 8))) < 0)
		return r;
	if ((r = add_thread_start(f)) < 0)
		return r;
	/* Guest RAM's advice, when a reboot maps it again. */
	static const int advice[] = {MADV_DONTDUMP, MADV_HUGEPAGE};
	for (size_t i = 0; i < N(advice); i++)
		if ((r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(madvise), 1,
					  arg_eq(2, (scmp_datum_t)advice[i]))) < 0)
			return r;
	if ((r = add_vcpu(f, p)) < 0)
		return r;
	if (!p->kvm_vcpu) {
		/* The software CPU's code arena, made again on a reboot: a
		 * read+execute mapping of a memfd (never writable too). */
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 2,
				     arg_eq(2, PROT_READ | PROT_EXEC),
				     arg_masked(3, MAP_SHARED, MAP_SHARED));
	}
	return r;
}

int seccomp_policy_add(scmp_filter_ctx f, enum vmon_thread_kind kind,
		       const struct seccomp_policy_params *p)
{
	int r = add_base(f, p);
	if (r < 0)
		return r;
	switch (kind) {
	case VMON_THREAD_MAIN: return add_main(f, p);
	case VMON_THREAD_VCPU: return add_vcpu(f, p);
	case VMON_THREAD_IO:
		/* virtio-blk and virtio-rng queues, io_uring completions, a
		 * drive with the synchronous engine (the API's "io_engine":
		 * "Sync": its requests run here, with the disk pool's calls);
		 * the balloon's pages given back (core/guest_mem_discard.c: a
		 * hole punched in the RAM memfd, MADV_DONTNEED in base). */
		if ((r = allow_all(f, loop_calls, N(loop_calls))) < 0 || (r = add_disk(f)) < 0 ||
		    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_enter), 0)) < 0 ||
		    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(getrandom), 0)) < 0)
			return r;
		return add_irq(f);
	case VMON_THREAD_BLK: return add_disk(f);
	case VMON_THREAD_NET:
		if ((r = allow_all(f, loop_calls, N(loop_calls))) < 0 || (r = add_net(f)) < 0)
			return r;
		return add_irq(f);
	case VMON_THREAD_VSOCK:
		if ((r = allow_all(f, loop_calls, N(loop_calls))) < 0 ||
		    (r = allow_all(f, vsock_calls, N(vsock_calls))) < 0 ||
		    (r = allow_socket_family(f, AF_UNIX)) < 0)
			return r;
		return add_irq(f);
	case VMON_THREAD_CONSOLE:
		if ((r = allow_all(f, loop_calls, N(loop_calls))) < 0 ||
		    (r = allow_all(f, chardev_out_calls, N(chardev_out_calls))) < 0)
			return r;
		return add_irq(f);
	case VMON_THREAD_API:
		/* Requests on its socket; drive swaps (open, lock, probe the
		 * new image); the metrics and log files; pause (vCPU kicks)
		 * and Ctrl-Alt-Del (the keyboard's interrupt); a KVM VM's
		 * snapshot. */
		if ((r = allow_all(f, loop_calls, N(loop_calls))) < 0 ||
		    (r = allow_all(f, api_calls, N(api_calls))) < 0 ||
		    (r = allow_ioctls(f, setup_ioctls, N(setup_ioctls))) < 0 ||
		    (r = allow_ioctls(f, kvm_snapshot_ioctls, N(kvm_snapshot_ioctls))) < 0 ||
		    (r = allow_ioctls(f, kvm_dirty_ioctls, N(kvm_dirty_ioctls))) < 0)
			return r;
		/* Live migration's sending thread (vm/vm_migrate.c), which
		 * PUT /migrate starts as an API thread: the start, and its
		 * connection to the target, a Unix or TCP socket; with TLS
		 * (vm/migrate_tls.c), GnuTLS's randomness for the keys and
		 * the handshake (getrandom: PUT /migrate loads the
		 * credentials, the thread does the handshake); its socket
		 * calls are the plain stream's (send, recv), and TCP_NODELAY on a TCP
		 * one (vm/migrate_stream.c says why). */
		if ((r = add_thread_start(f)) < 0 || (r = allow_socket_family(f, AF_UNIX)) < 0 ||
		    (r = allow_socket_family(f, AF_INET)) < 0 ||
		    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(connect), 0)) < 0 ||
		    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(getrandom), 0)) < 0 ||
		    (r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
					  arg_eq(1, IPPROTO_TCP), arg_eq(2, TCP_NODELAY))) < 0)
			return r;
		return add_irq(f);
	case VMON_THREAD_KINDS: break;
	}
	return -EINVAL;
}
