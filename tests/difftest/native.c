/* SPDX-License-Identifier: MIT */
/*
 * difftest-native: runs a difftest blob on the host CPU, in a Linux
 * process, with the same harness as the kit guest (guests/difftest/
 * harness.h) and the same output. The snippets are unprivileged and
 * address memory only through R15, so real hardware can serve as a third
 * oracle beside QEMU and KVM, also for the SSE and x87 classes that KVM's
 * instruction emulator here cannot run.
 *
 * Usage: difftest-native BLOB CODE_ADDR SCRATCH_ADDR [dump]
 * CODE_ADDR and SCRATCH_ADDR are the guest's buffers (nm of the ELF), so
 * that results holding addresses (LEA, string pointers) compare equal.
 * Faults arrive as signals; the kernel's trap number and error code go to
 * the harness's fault policy, as the guest's IDT hook does.
 */
#define _GNU_SOURCE
#include <err.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define DT_PRINTF(...) printf(__VA_ARGS__)
#define DT_FAIL(...) errx(1, __VA_ARGS__)
#include "../../guests/difftest/harness.h"

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	(void)si;
	ucontext_t *uc = ucv;
	u64 rip = (u64)uc->uc_mcontext.gregs[REG_RIP];
	if (dt_fault((u64)uc->uc_mcontext.gregs[REG_TRAPNO], (u64)uc->uc_mcontext.gregs[REG_ERR],
		     &rip)) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)rip;
		return;
	}
	signal(sig, SIG_DFL); /* not ours: die of it when the handler returns */
}

static void *map_at(const char *arg, size_t len, int prot)
{
	char *end;
	unsigned long long a = strtoull(arg, &end, 0);
	if (*end || !a)
		errx(2, "bad address '%s'", arg);
	void *p = mmap((void *)(uintptr_t)a, len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED || p != (void *)(uintptr_t)a)
		err(2, "cannot map %zu bytes at 0x%llx", len, a);
	return p;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		errx(2, "usage: %s BLOB CODE_ADDR SCRATCH_ADDR [dump]", argv[0]);
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		err(2, "%s", argv[1]);
	u8 *blob = NULL;
	size_t size = 0, cap = 0, n;
	do {
		if (size == cap && !(blob = realloc(blob, cap = cap ? 2 * cap : 65536)))
			err(2, "realloc");
		n = fread(blob + size, 1, cap - size, f);
		size += n;
	} while (n);
	fclose(f);

	dt_code_buf = map_at(argv[2], CODE_MAX, PROT_READ | PROT_WRITE | PROT_EXEC);
	dt_scratch = map_at(argv[3], SCRATCH_SIZE, PROT_READ | PROT_WRITE);
	struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_NODEFER};
	sigemptyset(&sa.sa_mask);
	int sigs[] = {SIGFPE, SIGSEGV, SIGILL, SIGBUS, SIGTRAP};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL))
			err(2, "sigaction");

	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	printf("difftest: code=0x%lx scratch=0x%lx (native)\n", (unsigned long)(uintptr_t)dt_code_buf,
	       (unsigned long)(uintptr_t)dt_scratch);
	/* Linux turns CR4.FSGSBASE on where the CPU has it (5.9 and later). */
	dt_features(true, -1);
	dt_run_blob(blob, size, argc > 4 && !strcmp(argv[4], "dump"));
	printf("SUCCESS\n");
	free(blob);
	return 0;
}
