/* SPDX-License-Identifier: MIT */
/*
 * difftest: runs generated instruction snippets from a fixed initial state
 * and prints the final architectural state, so that CPU backends (vmon's
 * KVM and emu, QEMU, the host CPU) can be compared line by line.
 * tests/difftest/ generates the snippets and compares the outputs; the
 * harness, blob format and output are in difftest/harness.h.
 *
 * Input: PVH module 0 (--initrd / -initrd), a blob of tests. Without a
 * module the guest runs one built-in test, so the ELF boots and passes on
 * its own. The first line names the code and scratch addresses (the
 * native runner maps its buffers at the same ones, so address-valued
 * results compare equal).
 *
 * cmdline: dump=1 also prints the scratch page, 64 bytes a line.
 */
#include "rt.h"

#define DT_PRINTF(...) kprintf(__VA_ARGS__)
#define DT_FAIL(...) rt_fail(__VA_ARGS__)
#include "difftest/harness.h"

struct hvm_modlist_entry {
	u64 paddr, size, cmdline_paddr, reserved;
};

static u8 code_buf[CODE_MAX] __attribute__((aligned(4096)));
static u8 scratch[SCRATCH_SIZE] __attribute__((aligned(4096)));

/* The built-in test (no module given): a few flag-producing ALU
 * operations and a memory read-modify-write through R15. */
extern const char dt_builtin_start[], dt_builtin_end[];
__asm__(".text\n"
	"dt_builtin_start:\n"
	"	add %rbx, %rax\n"
	"	adc %ecx, %edx\n"
	"	sbb 8(%r15), %rsi\n"
	"	xor %di, 16(%r15)\n"
	"	imul $-7, %r8, %r9\n"
	"	shl $3, %r10b\n"
	"	rcr %r11\n"
	"	setc %r12b\n"
	"	cmovs %r13, %r14\n"
	"	neg %rbp\n"
	"	ret\n"
	"dt_builtin_end:\n");

static bool dt_hook(struct rt_frame *f, u64 cr2)
{
	(void)cr2;
	return dt_fault(f->vector, f->err, &f->rip);
}

static inline void write_cr0(u64 v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }

/* CR0.EM=0, CR0.MP=1, CR4.OSFXSR|OSXMMEXCPT: SSE and x87 usable, and
 * unmasked SIMD exceptions would raise #XM rather than #UD. Where CPUID
 * has them: CR4.OSXSAVE with x87, SSE and AVX state in XCR0 (*xcr0), and
 * CR4.FSGSBASE. Returns whether FSGSBASE is on. */
static long guest_xcr0 = 0;

static bool enable_fpu(void)
{
	u32 a, b, c, d, c7, d7, maxleaf, b7 = 0;
	write_cr0((read_cr0() & ~0x4ull) | 0x2ull);
	write_cr4(read_cr4() | (1ull << 9) | (1ull << 10));
	cpuid(0, 0, &maxleaf, &b, &c, &d);
	cpuid(1, 0, &a, &b, &c, &d);
	if (maxleaf >= 7)
		cpuid(7, 0, &a, &b7, &c7, &d7);
	if ((c >> 26) & 1) {
		write_cr4(read_cr4() | (1ull << 18));
		u32 xcr0 = 3 | (((c >> 28) & 1) ? 4 : 0);
		__asm__ volatile("xsetbv" : : "a"(xcr0), "d"(0), "c"(0));
		guest_xcr0 = xcr0;
	}
	if (b7 & 1)
		write_cr4(read_cr4() | (1ull << 16));
	return b7 & 1;
}

/* xorshift-seeded registers and scratch for the built-in test. */
static struct dt_rec builtin;

static void run_builtin(bool dump)
{
	u64 x = 0x9e3779b97f4a7c15ull;
	memcpy(builtin.name, "builtin", 8);
	for (int i = 0; i < 16; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		builtin.gpr[i] = x;
	}
	builtin.rflags = x & RFLAGS_TAKEN & ~0x400ull;
	for (int i = 0; i < SCRATCH_SIZE; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		builtin.scratch[i] = (u8)(x >> 32);
	}
	builtin.code_len = (u32)(dt_builtin_end - dt_builtin_start);
	dt_run_test(&builtin, 0, (const u8 *)dt_builtin_start, dump);
}

void kmain(void)
{
	bool dump = cmdline_get_u64("dump", 0) != 0;
	bool fsgsbase = enable_fpu();
	rt_set_exception_hook(dt_hook);
	dt_code_buf = code_buf;
	dt_scratch = scratch;
	kprintf("difftest: code=0x%lx scratch=0x%lx\n", (u64)(uintptr_t)code_buf,
		(u64)(uintptr_t)scratch);

	const struct hvm_start_info *si = rt_start_info();
	if (!si || si->nr_modules == 0 || !si->modlist_paddr) {
		kprintf("difftest: no module, built-in test\n");
		run_builtin(dump);
		rt_pass();
	}
	/* Only with a blob: the built-in test's output stays the same on
	 * every backend (tests/integration/difftest.sh compares it). */
	dt_features(fsgsbase, guest_xcr0);
	const struct hvm_modlist_entry *m =
		(const struct hvm_modlist_entry *)(uintptr_t)si->modlist_paddr;
	dt_run_blob((const u8 *)(uintptr_t)m->paddr, m->size, dump);
	rt_pass();
}
