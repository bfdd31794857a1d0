/* SPDX-License-Identifier: MIT */
/*
 * The difftest harness, shared by the kit guest (guests/difftest.c) and the
 * native runner (tests/difftest/native.c): the blob format, the assembly
 * that loads a test's state, calls its code and saves the final state, the
 * fault policy, and the output. Include it once per program, after
 * defining:
 *   u8 u16 u32 u64       fixed-width types
 *   DT_PRINTF(fmt, ...)  formatted output (%s %u %lu %lx %x, widths)
 *   DT_FAIL(fmt, ...)    report a malformed blob and stop
 * and, before running a blob, set dt_code_buf (CODE_MAX bytes, executable)
 * and dt_scratch (SCRATCH_SIZE bytes), and call dt_features() once the
 * CPU is set up (the guest enables XSAVE, AVX and FSGSBASE where CPUID has
 * them): it prints the features line and decides whether AVX tests can
 * load YMM registers.
 *
 * Blob (written by tests/difftest/gen.py): struct blob_hdr, then ntests
 * records: struct dt_rec, traps[ntraps][2] (fault offset, resume offset,
 * relative to the code start), the code (ends in RET), padding to 8 bytes;
 * rec_size covers all of it.
 *
 * For each test: the code goes to dt_code_buf, the scratch image to
 * dt_scratch; every GPR but RSP is loaded (R15 is forced to dt_scratch:
 * snippets address memory through it), RFLAGS (only OF SF ZF AF PF CF DF
 * are taken from the record), and for FPU tests, after FNINIT, the x87
 * control word, MXCSR and XMM0-15 (YMM0-15 for a REC_AVX test on a CPU
 * with AVX enabled). After the code returns it prints:
 *   test=NAME
 *   rax=... r15=... (RSP omitted), rflags=<raw pushfq value>
 *   exc=none | exc=<vector>@<code offset> err=<code>   (the test ends there)
 *   [harness_exc=<vector> at <rip>]  (a fault in the harness: e.g. a CPU
 *                                     without SSE faults on FNINIT)
 *   de=<#DE faults the record expected and skipped>
 *   mem=<FNV-1a 64 of the scratch page>   [memdump.OFF=... with dump]
 *   FPU tests: xmm0..15 (high qword first, stored with MOVDQA);
 *   REC_AVX tests: ymmh0..15 (bits 255:128, stored with VMOVDQU); from
 *   FXSAVE: mxcsr, mxcsr_mask, fcw, fsw, ftw (abridged tag byte),
 *   st0..st7 (80-bit);
 *   fx_xmm=ok|bad (FXSAVE's XMM image equals what MOVDQA stored)
 *   endtest=NAME
 * Which of these to compare is the runner's business (undefined flags are
 * masked there): the harness prints raw state. Before the tests, one line
 * "difftest: features=a,b,..." names the instruction-set features the
 * CPU reports and the harness could enable (tests/difftest/gen.py:
 * CLASS_NEEDS says which classes need which).
 */
#ifndef DIFFTEST_HARNESS_H
#define DIFFTEST_HARNESS_H

#define BLOB_MAGIC 0x31544444u /* "DDT1" */
#define BLOB_VERSION 2
#define SCRATCH_SIZE 4096
#define CODE_MAX (64 * 1024)
#define REC_FPU 0x1
#define REC_AVX 0x2 /* also YMM0-15's upper halves in and out */
#define RFLAGS_TAKEN 0xed5ull /* OF DF SF ZF AF PF CF */
#define TRAPS_MAX 256

struct blob_hdr {
	u32 magic, version, ntests, reserved;
};

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
	u64 xmm[32];  /* xmm0 low, xmm0 high, xmm1 low, ... */
	u64 ymmh[32]; /* bits 255:128 of ymm0 (low qword first), ymm1, ... */
	u8 scratch[SCRATCH_SIZE];
};

/* Shared with the assembly below. */
u64 dt_in_gpr[16], dt_in_rflags, dt_out_gpr[16], dt_out_rflags;
u64 dt_in_xmm[32] __attribute__((aligned(16)));
u64 dt_out_xmm[32] __attribute__((aligned(16)));
u64 dt_in_ymm[64] __attribute__((aligned(32)));
u64 dt_out_ymm[64] __attribute__((aligned(32)));
u8 dt_fx[512] __attribute__((aligned(16)));
u32 dt_in_mxcsr, dt_cur_mxcsr = 0x1f80; /* MXCSR's reset value */
u16 dt_in_fcw;
u64 dt_saved_rsp, dt_code_entry, dt_fpu, dt_avx;
static bool dt_have_avx;
void dt_enter(void);
extern const char dt_abort[], dt_enter_end[], dt_harness_abort[];

static u8 *dt_code_buf, *dt_scratch;
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
	"	cmpq $0, dt_avx(%rip)\n"
	"	jne 5f\n"
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
	"	jmp 1f\n"
	"5:\n"
	"	vmovdqu dt_in_ymm+0(%rip), %ymm0\n"
	"	vmovdqu dt_in_ymm+32(%rip), %ymm1\n"
	"	vmovdqu dt_in_ymm+64(%rip), %ymm2\n"
	"	vmovdqu dt_in_ymm+96(%rip), %ymm3\n"
	"	vmovdqu dt_in_ymm+128(%rip), %ymm4\n"
	"	vmovdqu dt_in_ymm+160(%rip), %ymm5\n"
	"	vmovdqu dt_in_ymm+192(%rip), %ymm6\n"
	"	vmovdqu dt_in_ymm+224(%rip), %ymm7\n"
	"	vmovdqu dt_in_ymm+256(%rip), %ymm8\n"
	"	vmovdqu dt_in_ymm+288(%rip), %ymm9\n"
	"	vmovdqu dt_in_ymm+320(%rip), %ymm10\n"
	"	vmovdqu dt_in_ymm+352(%rip), %ymm11\n"
	"	vmovdqu dt_in_ymm+384(%rip), %ymm12\n"
	"	vmovdqu dt_in_ymm+416(%rip), %ymm13\n"
	"	vmovdqu dt_in_ymm+448(%rip), %ymm14\n"
	"	vmovdqu dt_in_ymm+480(%rip), %ymm15\n"
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
	"	cmpq $0, dt_avx(%rip)\n"
	"	je 2f\n"
	"	vmovdqu %ymm0, dt_out_ymm+0(%rip)\n"
	"	vmovdqu %ymm1, dt_out_ymm+32(%rip)\n"
	"	vmovdqu %ymm2, dt_out_ymm+64(%rip)\n"
	"	vmovdqu %ymm3, dt_out_ymm+96(%rip)\n"
	"	vmovdqu %ymm4, dt_out_ymm+128(%rip)\n"
	"	vmovdqu %ymm5, dt_out_ymm+160(%rip)\n"
	"	vmovdqu %ymm6, dt_out_ymm+192(%rip)\n"
	"	vmovdqu %ymm7, dt_out_ymm+224(%rip)\n"
	"	vmovdqu %ymm8, dt_out_ymm+256(%rip)\n"
	"	vmovdqu %ymm9, dt_out_ymm+288(%rip)\n"
	"	vmovdqu %ymm10, dt_out_ymm+320(%rip)\n"
	"	vmovdqu %ymm11, dt_out_ymm+352(%rip)\n"
	"	vmovdqu %ymm12, dt_out_ymm+384(%rip)\n"
	"	vmovdqu %ymm13, dt_out_ymm+416(%rip)\n"
	"	vmovdqu %ymm14, dt_out_ymm+448(%rip)\n"
	"	vmovdqu %ymm15, dt_out_ymm+480(%rip)\n"
	"2:\n"
	"dt_harness_abort:\n"
	"	mov dt_saved_rsp(%rip), %rsp\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n"
	"dt_enter_end:\n");

/*
 * The fault policy, for the platform's exception handler. rip is the
 * faulting instruction; on true the handler resumes at *rip (registers
 * and flags as they were at the fault). A #DE the record lists resumes
 * after the DIV; any other fault in the test code ends the test; a fault
 * in the harness abandons the test. Faults elsewhere are not ours (false).
 */
static bool dt_fault(u64 vector, u64 err, u64 *rip)
{
	u64 base = (u64)(uintptr_t)dt_code_buf;
	if (*rip >= (u64)(uintptr_t)dt_enter && *rip < (u64)(uintptr_t)dt_enter_end) {
		harness_vector = vector;
		harness_rip = *rip;
		*rip = (u64)(uintptr_t)dt_harness_abort;
		return true;
	}
	if (*rip < base || *rip >= base + code_len)
		return false;
	u64 off = *rip - base;
	if (vector == 0) {
		for (u32 i = 0; i < trap_count; i++) {
			if (trap_tab[2 * i] == off) {
				de_count++;
				*rip = base + trap_tab[2 * i + 1];
				return true;
			}
		}
	}
	exc_vector = vector;
	exc_off = off;
	exc_err = err;
	*rip = (u64)(uintptr_t)dt_abort;
	return true;
}

static u64 dt_fnv1a(const u8 *p, u64 n)
{
	u64 h = 0xcbf29ce484222325ull;
	for (u64 i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static const char *const dt_gpr_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
					     "rsi", "rdi", "r8",  "r9",  "r10", "r11",
					     "r12", "r13", "r14", "r15"};

/* Runs one test and prints its final state. */
static void dt_run_test(const struct dt_rec *r, const u32 *traps, const u8 *code, bool dump)
{
	char name[sizeof(r->name) + 1];
	memcpy(name, r->name, sizeof(r->name));
	name[sizeof(r->name)] = 0;
	DT_PRINTF("test=%s\n", name);

	trap_tab = traps;
	trap_count = r->ntraps;
	memcpy(dt_code_buf, code, r->code_len);
	code_len = r->code_len;
	memcpy(dt_scratch, r->scratch, SCRATCH_SIZE);
	for (int i = 0; i < 16; i++)
		dt_in_gpr[i] = r->gpr[i];
	dt_in_gpr[15] = (u64)(uintptr_t)dt_scratch;
	dt_in_rflags = (r->rflags & RFLAGS_TAKEN) | 0x2;
	dt_code_entry = (u64)(uintptr_t)dt_code_buf;
	dt_fpu = r->flags & REC_FPU;
	if (dt_fpu) {
		for (int i = 0; i < 32; i++)
			dt_in_xmm[i] = r->xmm[i];
		dt_in_mxcsr = r->mxcsr;
		dt_in_fcw = (u16)r->fcw;
	}
	dt_avx = dt_fpu && (r->flags & REC_AVX) && dt_have_avx;
	if (dt_avx) {
		for (int i = 0; i < 16; i++) {
			dt_in_ymm[4 * i] = r->xmm[2 * i];
			dt_in_ymm[4 * i + 1] = r->xmm[2 * i + 1];
			dt_in_ymm[4 * i + 2] = r->ymmh[2 * i];
			dt_in_ymm[4 * i + 3] = r->ymmh[2 * i + 1];
		}
	}
	memset(dt_out_gpr, 0, sizeof(dt_out_gpr));
	memset(dt_out_xmm, 0, sizeof(dt_out_xmm));
	memset(dt_out_ymm, 0, sizeof(dt_out_ymm));
	memset(dt_fx, 0, sizeof(dt_fx));
	dt_out_rflags = 0;
	de_count = 0;
	exc_vector = harness_vector = ~0ull;
	dt_enter();

	for (int i = 0; i < 16; i++)
		if (i != 4)
			DT_PRINTF("%s=%016lx\n", dt_gpr_names[i], (unsigned long)dt_out_gpr[i]);
	DT_PRINTF("rflags=%016lx\n", (unsigned long)dt_out_rflags);
	if (exc_vector != ~0ull)
		DT_PRINTF("exc=%lu@%lx err=%lx\n", (unsigned long)exc_vector,
			  (unsigned long)exc_off, (unsigned long)exc_err);
	else
		DT_PRINTF("exc=none\n");
	if (harness_vector != ~0ull)
		DT_PRINTF("harness_exc=%lu at 0x%lx\n", (unsigned long)harness_vector,
			  (unsigned long)harness_rip);
	DT_PRINTF("de=%lu\n", (unsigned long)de_count);
	DT_PRINTF("mem=%016lx\n", (unsigned long)dt_fnv1a(dt_scratch, SCRATCH_SIZE));
	if (dump) {
		for (int off = 0; off < SCRATCH_SIZE; off += 64) {
			DT_PRINTF("memdump.%03x=", off);
			for (int i = 0; i < 64; i++)
				DT_PRINTF("%02x", dt_scratch[off + i]);
			DT_PRINTF("\n");
		}
	}
	if (dt_fpu) {
		for (int i = 0; i < 16; i++)
			DT_PRINTF("xmm%d=%016lx%016lx\n", i, (unsigned long)dt_out_xmm[2 * i + 1],
				  (unsigned long)dt_out_xmm[2 * i]);
		u32 mxcsr;
		u16 fcw, fsw, se;
		u64 mant;
		memcpy(&mxcsr, dt_fx + 24, 4);
		dt_cur_mxcsr = mxcsr; /* sticky flags: the next test reloads it */
		memcpy(&fcw, dt_fx + 0, 2);
		memcpy(&fsw, dt_fx + 2, 2);
		DT_PRINTF("mxcsr=%08x\n", mxcsr);
		memcpy(&mxcsr, dt_fx + 28, 4);
		DT_PRINTF("mxcsr_mask=%08x\n", mxcsr);
		DT_PRINTF("fcw=%04x\n", fcw);
		DT_PRINTF("fsw=%04x\n", fsw);
		DT_PRINTF("ftw=%02x\n", dt_fx[4]);
		for (int i = 0; i < 8; i++) {
			memcpy(&mant, dt_fx + 32 + 16 * i, 8);
			memcpy(&se, dt_fx + 32 + 16 * i + 8, 2);
			DT_PRINTF("st%d=%04x%016lx\n", i, se, (unsigned long)mant);
		}
		bool ok = !memcmp(dt_fx + 160, dt_out_xmm, sizeof(dt_out_xmm));
		DT_PRINTF("fx_xmm=%s\n", ok ? "ok" : "bad");
	}
	if (dt_avx) {
		for (int i = 0; i < 16; i++)
			DT_PRINTF("ymmh%d=%016lx%016lx\n", i, (unsigned long)dt_out_ymm[4 * i + 3],
				  (unsigned long)dt_out_ymm[4 * i + 2]);
		bool ok = true;
		for (int i = 0; i < 16 && ok; i++)
			if (dt_out_ymm[4 * i] != dt_out_xmm[2 * i] ||
			    dt_out_ymm[4 * i + 1] != dt_out_xmm[2 * i + 1])
				ok = false;
		DT_PRINTF("ymm_xmm=%s\n", ok ? "ok" : "bad");
	}
	DT_PRINTF("endtest=%s\n", name);
}

static void dt_cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

/* Prints the features line: what CPUID reports, less what the harness or
 * the OS did not enable (AVX needs CR4.OSXSAVE and YMM state in XCR0;
 * FSGSBASE needs CR4.FSGSBASE, which only the caller knows: fsgsbase_on).
 * xcr0: what the caller set XCR0 to, or -1 to read it (XGETBV, which
 * KVM's instruction emulator here cannot run). */
static void dt_features(bool fsgsbase_on, long xcr0_set)
{
	u32 a, b, c, d, maxleaf;
	dt_cpuid(0, 0, &maxleaf, &b, &c, &d);
	u32 c1, d1, b7 = 0, c7 = 0, a_d1 = 0, c81 = 0;
	dt_cpuid(1, 0, &a, &b, &c1, &d1);
	if (maxleaf >= 7)
		dt_cpuid(7, 0, &a, &b7, &c7, &d);
	dt_cpuid(0x80000000u, 0, &a, &b, &c, &d);
	if (a >= 0x80000001u)
		dt_cpuid(0x80000001u, 0, &a, &b, &c81, &d);
	bool xsave_on = ((c1 >> 26) & 1) && ((c1 >> 27) & 1); /* XSAVE, OSXSAVE */
	if (xsave_on && maxleaf >= 0xd)
		dt_cpuid(0xd, 1, &a_d1, &b, &c, &d);
	u32 xcr0 = 0;
	if (xsave_on && xcr0_set >= 0)
		xcr0 = (u32)xcr0_set;
	else if (xsave_on)
		__asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(d) : "c"(0));
	dt_have_avx = xsave_on && ((c1 >> 28) & 1) && (xcr0 & 6) == 6;
	static const struct {
		const char *name;
		int word, bit; /* 0: 1.ECX, 1: 7.EBX, 2: 7.ECX, 3: 0xd.1.EAX, 4: 0x80000001.ECX */
	} f[] = {
		{"sse3", 0, 0},	     {"pclmulqdq", 0, 1}, {"ssse3", 0, 9},    {"fma", 0, 12},
		{"sse4_1", 0, 19},   {"sse4_2", 0, 20},	  {"movbe", 0, 22},   {"popcnt", 0, 23},
		{"aes", 0, 25},	     {"xsave", 0, 27},	  {"avx", 0, 28},     {"f16c", 0, 29},
		{"rdrand", 0, 30},   {"fsgsbase", 1, 0},  {"bmi1", 1, 3},     {"avx2", 1, 5},
		{"bmi2", 1, 8},	     {"rdseed", 1, 18},	  {"adx", 1, 19},     {"clflushopt", 1, 23},
		{"clwb", 1, 24},     {"rdpid", 2, 22},	  {"xsaveopt", 3, 0}, {"xsavec", 3, 1},
		{"xgetbv1", 3, 2},   {"abm", 4, 5},
	};
	u32 words[5] = {c1, b7, c7, a_d1, c81};
	DT_PRINTF("difftest: features=");
	bool first = true;
	for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!((words[f[i].word] >> f[i].bit) & 1))
			continue;
		if (f[i].word == 0 && (f[i].bit == 28 || f[i].bit == 12 || f[i].bit == 29) &&
		    !dt_have_avx)
			continue; /* AVX, FMA, F16C unusable without YMM state */
		if (f[i].word == 1 && f[i].bit == 5 && !dt_have_avx)
			continue;
		if (f[i].word == 1 && f[i].bit == 0 && !fsgsbase_on)
			continue;
		DT_PRINTF("%s%s", first ? "" : ",", f[i].name);
		first = false;
	}
	DT_PRINTF("\n");
}

/* Checks the blob's framing and runs every test in it. */
static void dt_run_blob(const u8 *blob, u64 size, bool dump)
{
	const struct blob_hdr *h = (const struct blob_hdr *)blob;
	if (size < sizeof(*h) || h->magic != BLOB_MAGIC || h->version != BLOB_VERSION)
		DT_FAIL("module is not a difftest blob (size %lu)", (unsigned long)size);
	DT_PRINTF("difftest: %u tests\n", h->ntests);
	u64 off = sizeof(*h);
	for (u32 t = 0; t < h->ntests; t++) {
		if (off + sizeof(struct dt_rec) > size)
			DT_FAIL("test %u: record past the end of the blob", t);
		const struct dt_rec *r = (const struct dt_rec *)(blob + off);
		u64 body = sizeof(*r) + (u64)r->ntraps * 8;
		if (r->rec_size > size - off || body + r->code_len > r->rec_size ||
		    r->code_len > CODE_MAX || r->ntraps > TRAPS_MAX)
			DT_FAIL("test %u: bad record sizes", t);
		dt_run_test(r, (const u32 *)(blob + off + sizeof(*r)), blob + off + body, dump);
		off += r->rec_size;
	}
}

#endif
