/* SPDX-License-Identifier: MIT */
/*
 * Installing the per-thread seccomp filters (seccomp.h), and the SIGSYS
 * handler of --seccomp log. The handler may run in any thread at any
 * point (inside malloc, holding a lock): it only reads tables made
 * beforehand and calls write(2) and _exit(2), which every list allows.
 */
#include "core/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/chardev.h"
#include "core/seccomp_priv.h"

#define NAMED_SYSCALLS 512
#define EXIT_SIGSYS    (128 + SIGSYS)

static enum vmon_seccomp_mode mode = VMON_SECCOMP_OFF;
static bool kvm_vcpus;
static pid_t self_pid;
static _Atomic int violate_kind = -1; /* VMON_SECCOMP_TEST_VIOLATE */
static const char *syscall_names[NAMED_SYSCALLS];
static _Thread_local char thread_label[40]; /* "vmon-io (io)" */

int vmon_seccomp_parse(const char *s, enum vmon_seccomp_mode *out, struct vmon_error *err)
{
	static const struct {
		const char *name;
		enum vmon_seccomp_mode mode;
	} names[] = {{"on", VMON_SECCOMP_ON}, {"log", VMON_SECCOMP_LOG}, {"off", VMON_SECCOMP_OFF}};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].mode;
			return 0;
		}
	return err_setf(err, "--seccomp: '%.40s' is not on, log or off", s);
}

const char *vmon_seccomp_mode_name(enum vmon_seccomp_mode m)
{
	return m == VMON_SECCOMP_LOG ? "log" : m == VMON_SECCOMP_OFF ? "off" : "on";
}

enum vmon_seccomp_mode vmon_seccomp_mode(void)
{
	return mode;
}

/* ---- the SIGSYS handler (--seccomp log) ---- */

static void put(char **p, char *end, const char *s)
{
	while (*s && *p < end)
		*(*p)++ = *s++;
}

static void put_num(char **p, char *end, unsigned long long v, unsigned base)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < (int)sizeof(tmp));
	if (base == 16)
		put(p, end, "0x");
	while (n > 0 && *p < end)
		*(*p)++ = tmp[--n];
}

static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
	const ucontext_t *uc = uc_;
	char buf[256], *p = buf, *end = buf + sizeof(buf) - 1;
	int nr = si->si_syscall;
	put(&p, end, "vmon: seccomp: thread ");
	put(&p, end, thread_label[0] ? thread_label : "vmon (main)");
	put(&p, end, " made a forbidden system call: ");
	put(&p, end, nr >= 0 && nr < NAMED_SYSCALLS && syscall_names[nr] ? syscall_names[nr] : "?");
	put(&p, end, " (");
	put_num(&p, end, (unsigned)nr, 10);
	put(&p, end, ", arguments ");
	static const int regs[] = {REG_RDI, REG_RSI, REG_RDX};
	for (unsigned i = 0; i < 3; i++) {
		if (i)
			put(&p, end, " ");
		put_num(&p, end, (unsigned long long)uc->uc_mcontext.gregs[regs[i]], 16);
	}
	put(&p, end, "); exiting\n");
	chardev_restore_terminal();
	ssize_t w = write(STDERR_FILENO, buf, (size_t)(p - buf));
	(void)w;
	_exit(EXIT_SIGSYS);
}

static int install_sigsys_handler(struct vmon_error *err)
{
	for (int nr = 0; nr < NAMED_SYSCALLS; nr++)
		syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return err_setf(err, "--seccomp log: sigaction(SIGSYS): %s", strerror(errno));
	return 0;
}

/* ---- configuring and installing ---- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

int vmon_seccomp_configure(enum vmon_seccomp_mode m, struct vmon_error *err)
{
	if (m == VMON_SECCOMP_DEFAULT) {
#ifdef SANITIZER_BUILD
		m = VMON_SECCOMP_OFF;
#else
		m = VMON_SECCOMP_ON;
#endif
	}
	mode = m;
	self_pid = getpid();
	const char *v = getenv("VMON_SECCOMP_TEST_VIOLATE");
	violate_kind = -1;
	for (int k = 0; v && k < VMON_THREAD_KINDS; k++)
		if (strcmp(v, vmon_thread_kind_name((enum vmon_thread_kind)k)) == 0)
			violate_kind = k;
	if (m == VMON_SECCOMP_OFF)
		return 0;
	/* Local time is read once here: later log lines need no file. */
	tzset();
	if (seccomp_api_get() < 3)
		return err_setf(err,
				"seccomp: this kernel or libseccomp cannot kill a process from "
				"a filter (libseccomp API level %u); use --seccomp off (unsafe)",
				seccomp_api_get());
	return m == VMON_SECCOMP_LOG ? install_sigsys_handler(err) : 0;
}

/* The other test hook: VMON_SECCOMP_EXPORT=DIR writes each kind's
 * filter as libseccomp's readable pseudo-code to DIR/KIND.pfc (the
 * allowlist test compares it with strace's record). */
static void export_pfc(scmp_filter_ctx f, const char *dir, enum vmon_thread_kind kind)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.pfc", dir, vmon_thread_kind_name(kind));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)seccomp_export_pfc(f, fd);
	close(fd);
}

void vmon_seccomp_set_vcpu_backend(bool kvm)
{
	kvm_vcpus = kvm;
	const char *dir = getenv("VMON_SECCOMP_EXPORT");
	if (mode == VMON_SECCOMP_OFF || !dir || !*dir)
		return;
	/* Now, on the main thread before its own filter: a filtered
	 * thread could not make the file (libseccomp's export dups). */
	const struct seccomp_policy_params params = {.kvm_vcpu = kvm, .pid = self_pid};
	for (int k = 0; k < VMON_THREAD_KINDS; k++) {
		scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
		if (f && seccomp_policy_add(f, (enum vmon_thread_kind)k, &params) == 0)
			export_pfc(f, dir, (enum vmon_thread_kind)k);
		if (f)
			seccomp_release(f);
	}
}

/* The test hook: a system call no list allows. */
static void violate(void)
{
	struct utsname u;
	syscall(SYS_uname, &u);
}

int vmon_seccomp_enter(enum vmon_thread_kind kind, const char *name, struct vmon_error *err)
{
	if (mode == VMON_SECCOMP_OFF)
		return 0;
	char *p = thread_label, *end = thread_label + sizeof(thread_label) - 1;
	put(&p, end, name);
	put(&p, end, " (");
	put(&p, end, vmon_thread_kind_name(kind));
	put(&p, end, ")");
	*p = 0;
	uint32_t action = mode == VMON_SECCOMP_LOG ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx f = seccomp_init(action);
	if (!f)
		return err_setf(err, "seccomp: cannot make the filter of %s", thread_label);
	const struct seccomp_policy_params params = {.kvm_vcpu = kvm_vcpus, .pid = self_pid};
	int r = seccomp_policy_add(f, kind, &params);
	/* The kernel logs a kill (audit: comm and syscall) even without
	 * this; with it, traps are logged too. */
	if (r == 0)
		r = seccomp_attr_set(f, SCMP_FLTATR_CTL_LOG, 1);
	if (r == 0)
		r = seccomp_load(f);
	seccomp_release(f);
	if (r < 0)
		return err_setf(err, "seccomp: cannot install the filter of %s: %s", thread_label,
				strerror(-r));
	int expected = (int)kind;
	if (atomic_compare_exchange_strong(&violate_kind, &expected, -1))
		violate();
	return 0;
}
