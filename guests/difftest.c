/* SPDX-License-Identifier: MIT */
/*
 * difftest: runs generated instruction snippets from a fixed initial state
 * and prints the final architectural state, so that two CPU backends (or
 * vmon and QEMU) can be compared line by line. tests/difftest/ generates
 * the snippets and compares the outputs.
 *
 * Input: PVH module 0 (--initrd / -initrd), a blob of test records (format
 * below, written by tests/difftest/gen.py). Without a module the guest runs
 * one built-in test, so the ELF boots and passes on its own.
 *
 * For each test the guest copies the code into an executable buffer and the
 * 4 KiB scratch image into the scratch page, loads every GPR but RSP (R15 is
 * forced to the scratch address: snippets address memory through it),
 * RFLAGS (only OF SF ZF AF PF CF DF are taken from the record), and, for
 * FPU tests, XMM0-15, MXCSR and the x87 control word after FNINIT. It calls
 * the code (which ends in RET and never touches RSP), then prints:
 *   test=NAME
 *   rax=... r15=... (RSP omitted), rflags=<raw pushfq value>
 *   exc=none | exc=<vector>@<code offset> err=<code>   (the test ends there)
 *   de=<#DE faults the record expected and skipped>
 *   mem=<FNV-1a 64 of the scratch page>   [memdump.OFF=... with dump=1]
 *   FPU tests: xmm0..15 (high qword first, stored with MOVDQA); from
 *   FXSAVE: mxcsr, fcw, fsw, ftw (abridged tag byte), st0..st7 (80-bit);
 *   fx_xmm=ok|bad (FXSAVE's XMM image equals what MOVDQA stored)
 *   endtest=NAME
 * then SUCCESS. tests/difftest/run.py decides which of these to compare
 * (undefined flags are masked there, not here: the guest prints raw state).
 *
 * cmdline: dump=1 also prints the scratch page, 64 bytes a line.
 */
#include "rt.h"

#define BLOB_MAGIC 0x31544444u /* "DDT1" */
#define SCRATCH_SIZE 4096
#define CODE_MAX (64 * 1024)
#define REC_FPU 0x1
#define RFLAGS_TAKEN 0xed5ull /* OF DF SF ZF AF PF CF */
#define TRAPS_MAX 256

struct blob_hdr {
	u32 magic, version, ntests, reserved;
};

/* One test record; followed by traps[ntraps][2] (fault offset, resume
 * offset, both relative to the code start), then the code, then padding
 * to 8 bytes. rec_size covers all of it. */
struct dt_rec {
	u32 rec_size;
	u32 flags;
	u32 code_len;
	u32 ntraps;
	u32 mxcsr;
	u32 fcw;
	char name[24];
	u64 gpr[16]; /* encoding order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
	u64 rflags;
	u64 xmm[32]; /* xmm0 low, xmm0 high, xmm1 low, ... */
	u8 scratch[SCRATCH_SIZE];
};

struct hvm_modlist_entry {
	u64 paddr, size, cmdline_paddr, reserved;
};

/* Shared with the assembly harness below. */
u64 dt_in_gpr[16], dt_in_rflags, dt_out_gpr[16], dt_out_rflags;
u64 dt_in_xmm[32] __attribute__((aligned(16)));
u64 dt_out_xmm[32] __attribute__((aligned(16)));
u8 dt_fx[512] __attribute__((aligned(16)));
u32 dt_in_mxcsr, dt_cur_mxcsr = 0x1f80; /* MXCSR's reset value */
u16 dt_in_fcw;
u64 dt_saved_rsp, dt_code_entry, dt_fpu;
void dt_enter(void);
extern const char dt_abort[], dt_enter_end[], dt_harness_abort[], dt_builtin_start[],
	dt_builtin_end[];

static u8 code_buf[CODE_MAX] __attribute__((aligned(4096)));
static u8 scratch[SCRATCH_SIZE] __attribute__((aligned(4096)));

static const u32 *trap_tab;
static u32 trap_count;
static u64 code_len;
static volatile u64 de_count, exc_vector, exc_off, exc_err, harness_vector, harness_rip;

/*
 * The harness: callee-saved registers and RSP are kept; everything else
 * is the test's. dt_abort is both the return point of the snippet and
 * where the exception hook resumes an unexpected fault (then RSP still
 * holds the snippet's return address, which the restore discards).
 * A fault in the harness itself (a backend without SSE/x87 faults on
 * FNINIT, MOVDQA or FXSAVE) resumes at dt_harness_abort, which returns
 * to C with whatever state the test got to.
 */
__asm__(".text\n"
	".globl dt_enter, dt_abort\n"
	"dt_enter:\n"
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	mov %rsp, dt_saved_rsp(%rip)\n"
	"	cmpq $0, dt_fpu(%rip)\n"
	"	je 1f\n"
	/* FLDCW and LDMXCSR only when the value differs from what FNINIT
	 * and the last load left: KVM's instruction emulator here has no
	 * FLDCW/LDMXCSR, and SSE integer tests need neither. */
	"	fninit\n"
	"	cmpw $0x37f, dt_in_fcw(%rip)\n"
	"	je 3f\n"
	"	fldcw dt_in_fcw(%rip)\n"
	"3:	mov dt_in_mxcsr(%rip), %eax\n"
	"	cmp dt_cur_mxcsr(%rip), %eax\n"
	"	je 4f\n"
	"	ldmxcsr dt_in_mxcsr(%rip)\n"
	"	mov %eax, dt_cur_mxcsr(%rip)\n"
	"4:\n"
	"	movdqa dt_in_xmm+0(%rip), %xmm0\n"
	"	movdqa dt_in_xmm+16(%rip), %xmm1\n"
	"	movdqa dt_in_xmm+32(%rip), %xmm2\n"
	"	movdqa dt_in_xmm+48(%rip), %xmm3\n"
	"	movdqa dt_in_xmm+64(%rip), %xmm4\n"
	"	movdqa dt_in_xmm+80(%rip), %xmm5\n"
	"	movdqa dt_in_xmm+96(%rip), %xmm6\n"
	"	movdqa dt_in_xmm+112(%rip), %xmm7\n"
	"	movdqa dt_in_xmm+128(%rip), %xmm8\n"
	"	movdqa dt_in_xmm+144(%rip), %xmm9\n"
	"	movdqa dt_in_xmm+160(%rip), %xmm10\n"
	"	movdqa dt_in_xmm+176(%rip), %xmm11\n"
	"	movdqa dt_in_xmm+192(%rip), %xmm12\n"
	"	movdqa dt_in_xmm+208(%rip), %xmm13\n"
	"	movdqa dt_in_xmm+224(%rip), %xmm14\n"
	"	movdqa dt_in_xmm+240(%rip), %xmm15\n"
	"1:	pushq dt_in_rflags(%rip)\n"
	"	popfq\n"
	"	mov dt_in_gpr+0(%rip), %rax\n"
	"	mov dt_in_gpr+8(%rip), %rcx\n"
	"	mov dt_in_gpr+16(%rip), %rdx\n"
	"	mov dt_in_gpr+24(%rip), %rbx\n"
	"	mov dt_in_gpr+40(%rip), %rbp\n"
	"	mov dt_in_gpr+48(%rip), %rsi\n"
	"	mov dt_in_gpr+56(%rip), %rdi\n"
	"	mov dt_in_gpr+64(%rip), %r8\n"
	"	mov dt_in_gpr+72(%rip), %r9\n"
	"	mov dt_in_gpr+80(%rip), %r10\n"
	"	mov dt_in_gpr+88(%rip), %r11\n"
	"	mov dt_in_gpr+96(%rip), %r12\n"
	"	mov dt_in_gpr+104(%rip), %r13\n"
	"	mov dt_in_gpr+112(%rip), %r14\n"
	"	mov dt_in_gpr+120(%rip), %r15\n"
	"	call *dt_code_entry(%rip)\n"
	"dt_abort:\n"
	"	pushfq\n"
	"	popq dt_out_rflags(%rip)\n"
	"	cld\n"
	"	mov %rax, dt_out_gpr+0(%rip)\n"
	"	mov %rcx, dt_out_gpr+8(%rip)\n"
	"	mov %rdx, dt_out_gpr+16(%rip)\n"
	"	mov %rbx, dt_out_gpr+24(%rip)\n"
	"	mov %rbp, dt_out_gpr+40(%rip)\n"
	"	mov %rsi, dt_out_gpr+48(%rip)\n"
	"	mov %rdi, dt_out_gpr+56(%rip)\n"
	"	mov %r8, dt_out_gpr+64(%rip)\n"
	"	mov %r9, dt_out_gpr+72(%rip)\n"
	"	mov %r10, dt_out_gpr+80(%rip)\n"
	"	mov %r11, dt_out_gpr+88(%rip)\n"
	"	mov %r12, dt_out_gpr+96(%rip)\n"
	"	mov %r13, dt_out_gpr+104(%rip)\n"
	"	mov %r14, dt_out_gpr+112(%rip)\n"
	"	mov %r15, dt_out_gpr+120(%rip)\n"
	"	mov dt_saved_rsp(%rip), %rsp\n"
	"	cmpq $0, dt_fpu(%rip)\n"
	"	je 2f\n"
	"	movdqa %xmm0, dt_out_xmm+0(%rip)\n"
	"	movdqa %xmm1, dt_out_xmm+16(%rip)\n"
	"	movdqa %xmm2, dt_out_xmm+32(%rip)\n"
	"	movdqa %xmm3, dt_out_xmm+48(%rip)\n"
	"	movdqa %xmm4, dt_out_xmm+64(%rip)\n"
	"	movdqa %xmm5, dt_out_xmm+80(%rip)\n"
	"	movdqa %xmm6, dt_out_xmm+96(%rip)\n"
	"	movdqa %xmm7, dt_out_xmm+112(%rip)\n"
	"	movdqa %xmm8, dt_out_xmm+128(%rip)\n"
	"	movdqa %xmm9, dt_out_xmm+144(%rip)\n"
	"	movdqa %xmm10, dt_out_xmm+160(%rip)\n"
	"	movdqa %xmm11, dt_out_xmm+176(%rip)\n"
	"	movdqa %xmm12, dt_out_xmm+192(%rip)\n"
	"	movdqa %xmm13, dt_out_xmm+208(%rip)\n"
	"	movdqa %xmm14, dt_out_xmm+224(%rip)\n"
	"	movdqa %xmm15, dt_out_xmm+240(%rip)\n"
	"	fxsave dt_fx(%rip)\n"
	"2:\n"
	"dt_harness_abort:\n"
	"	mov dt_saved_rsp(%rip), %rsp\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n"
	"dt_enter_end:\n"
	/* The built-in test (no module given): a few flag-producing ALU
	 * operations and a memory read-modify-write through R15. */
	".globl dt_builtin_start, dt_builtin_end\n"
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
	u64 base = (u64)(uintptr_t)code_buf;
	if (f->rip >= (u64)(uintptr_t)dt_enter && f->rip < (u64)(uintptr_t)dt_enter_end) {
		harness_vector = f->vector;
		harness_rip = f->rip;
		f->rip = (u64)(uintptr_t)dt_harness_abort;
		return true;
	}
	if (f->rip < base || f->rip >= base + code_len)
		return false;
	u64 off = f->rip - base;
	if (f->vector == 0) {
		for (u32 i = 0; i < trap_count; i++) {
			if (trap_tab[2 * i] == off) {
				de_count++;
				f->rip = base + trap_tab[2 * i + 1];
				return true;
			}
		}
	}
	exc_vector = f->vector;
	exc_off = off;
	exc_err = f->err;
	f->rip = (u64)(uintptr_t)dt_abort;
	return true;
}

static inline void write_cr0(u64 v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline u64 read_cr4(void)
{
	u64 v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}
static inline void write_cr4(u64 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

/* CR0.EM=0, CR0.MP=1, CR4.OSFXSR|OSXMMEXCPT: SSE and x87 usable, and
 * unmasked SIMD exceptions would raise #XM rather than #UD. */
static void enable_fpu(void)
{
	write_cr0((read_cr0() & ~0x4ull) | 0x2ull);
	write_cr4(read_cr4() | (1ull << 9) | (1ull << 10));
}

static u64 fnv1a(const u8 *p, size_t n)
{
	u64 h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static const char *const gpr_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
					  "rsi", "rdi", "r8",  "r9",  "r10", "r11",
					  "r12", "r13", "r14", "r15"};

static void print_hex(const u8 *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		serial_putc(hex[p[i] >> 4]);
		serial_putc(hex[p[i] & 15]);
	}
}

static void run_test(const struct dt_rec *r, const u8 *code, bool dump)
{
	char name[sizeof(r->name) + 1];
	memcpy(name, r->name, sizeof(r->name));
	name[sizeof(r->name)] = 0;
	kprintf("test=%s\n", name);

	memcpy(code_buf, code, r->code_len);
	code_len = r->code_len;
	memcpy(scratch, r->scratch, SCRATCH_SIZE);
	for (int i = 0; i < 16; i++)
		dt_in_gpr[i] = r->gpr[i];
	dt_in_gpr[15] = (u64)(uintptr_t)scratch;
	dt_in_rflags = (r->rflags & RFLAGS_TAKEN) | 0x2;
	dt_code_entry = (u64)(uintptr_t)code_buf;
	dt_fpu = r->flags & REC_FPU;
	if (dt_fpu) {
		for (int i = 0; i < 32; i++)
			dt_in_xmm[i] = r->xmm[i];
		dt_in_mxcsr = r->mxcsr;
		dt_in_fcw = (u16)r->fcw;
	}
	memset(dt_out_gpr, 0, sizeof(dt_out_gpr));
	memset(dt_out_xmm, 0, sizeof(dt_out_xmm));
	memset(dt_fx, 0, sizeof(dt_fx));
	dt_out_rflags = 0;
	de_count = 0;
	exc_vector = harness_vector = ~0ull;
	dt_enter();

	for (int i = 0; i < 16; i++)
		if (i != 4)
			kprintf("%s=%016lx\n", gpr_names[i], dt_out_gpr[i]);
	kprintf("rflags=%016lx\n", dt_out_rflags);
	if (exc_vector != ~0ull)
		kprintf("exc=%lu@%lx err=%lx\n", exc_vector, exc_off, exc_err);
	else
		kprintf("exc=none\n");
	if (harness_vector != ~0ull)
		kprintf("harness_exc=%lu at 0x%lx\n", harness_vector, harness_rip);
	kprintf("de=%lu\n", de_count);
	kprintf("mem=%016lx\n", fnv1a(scratch, SCRATCH_SIZE));
	if (dump) {
		for (int off = 0; off < SCRATCH_SIZE; off += 64) {
			kprintf("memdump.%03x=", off);
			print_hex(scratch + off, 64);
			kputs("\n");
		}
	}
	if (dt_fpu) {
		for (int i = 0; i < 16; i++)
			kprintf("xmm%d=%016lx%016lx\n", i, dt_out_xmm[2 * i + 1], dt_out_xmm[2 * i]);
		kprintf("mxcsr=%08x\n", *(u32 *)(dt_fx + 24));
		kprintf("fcw=%04x\n", *(u16 *)(dt_fx + 0));
		kprintf("fsw=%04x\n", *(u16 *)(dt_fx + 2));
		kprintf("ftw=%02x\n", dt_fx[4]);
		for (int i = 0; i < 8; i++) {
			const u8 *st = dt_fx + 32 + 16 * i;
			kprintf("st%d=%04x%016lx\n", i, *(const u16 *)(st + 8), *(const u64 *)st);
		}
		bool ok = !memcmp(dt_fx + 160, dt_out_xmm, sizeof(dt_out_xmm));
		kprintf("fx_xmm=%s\n", ok ? "ok" : "bad");
	}
	kprintf("endtest=%s\n", name);
}

/* The built-in test: xorshift-seeded registers and scratch. */
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
	trap_tab = 0;
	trap_count = 0;
	run_test(&builtin, (const u8 *)dt_builtin_start, dump);
}

void kmain(void)
{
	bool dump = cmdline_get_u64("dump", 0) != 0;
	enable_fpu();
	rt_set_exception_hook(dt_hook);

	const struct hvm_start_info *si = rt_start_info();
	if (!si || si->nr_modules == 0 || !si->modlist_paddr) {
		kprintf("difftest: no module, built-in test\n");
		run_builtin(dump);
		rt_pass();
	}
	const struct hvm_modlist_entry *m =
		(const struct hvm_modlist_entry *)(uintptr_t)si->modlist_paddr;
	const u8 *blob = (const u8 *)(uintptr_t)m->paddr;
	u64 size = m->size;
	const struct blob_hdr *h = (const struct blob_hdr *)blob;
	if (size < sizeof(*h) || h->magic != BLOB_MAGIC || h->version != 1)
		rt_fail("module is not a difftest blob (size %lu)", size);
	kprintf("difftest: %u tests\n", h->ntests);

	u64 off = sizeof(*h);
	for (u32 t = 0; t < h->ntests; t++) {
		if (off + sizeof(struct dt_rec) > size)
			rt_fail("test %u: record past the end of the blob", t);
		const struct dt_rec *r = (const struct dt_rec *)(blob + off);
		u64 body = sizeof(*r) + (u64)r->ntraps * 8;
		if (r->rec_size > size - off || body + r->code_len > r->rec_size ||
		    r->code_len > CODE_MAX || r->ntraps > TRAPS_MAX)
			rt_fail("test %u: bad record sizes", t);
		trap_tab = (const u32 *)(blob + off + sizeof(*r));
		trap_count = r->ntraps;
		run_test(r, blob + off + body, dump);
		off += r->rec_size;
	}
	rt_pass();
}
