/* SPDX-License-Identifier: MIT */
/*
 * Native runs of the software CPU (src/cpu/emu/native.c): guest code
 * compiled to host code must leave exactly the registers, flags and
 * memory the interpreter leaves -- through TLB hits, and through every
 * bail-out back to the interpreter (TLB miss, page crossing, a store into
 * a code page) -- and nothing that touches control flow or system state
 * may ever be compiled; the stack pointer only as PUSH/POP/PUSHFQ or as
 * an explicit RSP/ESP operand (run on a borrowed register), LOCK only on
 * a memory operand it writes (test_emu_native_ops.c runs those forms).
 * The snippets were assembled with GNU as (sources in the comments).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cpu_init.h"
#include "core/machine.h"
#include "cpu/cpu_backend.h"
#include "cpu/emu/cpu.h"
#include "cpu/emu/flags.h"
#include "cpu/emu/native.h"

#include "emu_harness.h"

/*
 * straight: every whitelisted form once, ending in a CMP so that every
 * arithmetic flag is defined:
 *   mov $0x123456789abcdef0,%rax; mov $0x0fedcba987654321,%rbx; mov $5,%ecx
 *   mov $-77,%rbp; mov $0x8000000000000001,%r9; mov $0x7fffffff,%r10d
 *   mov %rax,%rdx; add %rbx,%rdx; adc $7,%rdx; sub %rcx,%rax; sbb %rbx,%rcx
 *   imul %rbx,%rax; imul $37,%rdx,%rsi; mov %rax,%rdi; mul %rbx
 *   lea 8(%rax,%rbx,4),%r8; shl $3,%r8; shr %cl,%r8; sar $1,%r9
 *   rol $7,%r10d; ror %cl,%rbp; movzbl %al,%r11d; movsbq %bl,%r12
 *   movslq %eax,%r13; cmp %rdx,%rax; cmovb %rdx,%r14; setnz %r15b
 *   setl %ah; bswap %rdi; xchg %rsi,%r9; not %r10; neg %r11; inc %r12
 *   dec %r13d; bt $3,%rax; adc %rdi,%r14; bts %rcx,%rbx; sbb %r15,%r8
 *   cqo; cdqe; test %r8,%r9; cmovz %r8,%rsi; and $0x0ff0,%bx; or %r9,%rsi
 *   xor %ah,%bh; imul %r12d; cmp %rbx,%rax; out %al,$0xf4
 */
static const uint8_t code_straight[] = {
	0x48, 0xb8, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, 0x48, 0xbb, 0x21, 0x43, 0x65,
	0x87, 0xa9, 0xcb, 0xed, 0x0f, 0xb9, 0x05, 0x00, 0x00, 0x00, 0x48, 0xc7, 0xc5, 0xb3, 0xff,
	0xff, 0xff, 0x49, 0xb9, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x41, 0xba, 0xff,
	0xff, 0xff, 0x7f, 0x48, 0x89, 0xc2, 0x48, 0x01, 0xda, 0x48, 0x83, 0xd2, 0x07, 0x48, 0x29,
	0xc8, 0x48, 0x19, 0xd9, 0x48, 0x0f, 0xaf, 0xc3, 0x48, 0x6b, 0xf2, 0x25, 0x48, 0x89, 0xc7,
	0x48, 0xf7, 0xe3, 0x4c, 0x8d, 0x44, 0x98, 0x08, 0x49, 0xc1, 0xe0, 0x03, 0x49, 0xd3, 0xe8,
	0x49, 0xd1, 0xf9, 0x41, 0xc1, 0xc2, 0x07, 0x48, 0xd3, 0xcd, 0x44, 0x0f, 0xb6, 0xd8, 0x4c,
	0x0f, 0xbe, 0xe3, 0x4c, 0x63, 0xe8, 0x48, 0x39, 0xd0, 0x4c, 0x0f, 0x42, 0xf2, 0x41, 0x0f,
	0x95, 0xc7, 0x0f, 0x9c, 0xc4, 0x48, 0x0f, 0xcf, 0x49, 0x87, 0xf1, 0x49, 0xf7, 0xd2, 0x49,
	0xf7, 0xdb, 0x49, 0xff, 0xc4, 0x41, 0xff, 0xcd, 0x48, 0x0f, 0xba, 0xe0, 0x03, 0x49, 0x11,
	0xfe, 0x48, 0x0f, 0xab, 0xcb, 0x4d, 0x19, 0xf8, 0x48, 0x99, 0x48, 0x98, 0x4d, 0x85, 0xc1,
	0x49, 0x0f, 0x44, 0xf0, 0x66, 0x81, 0xe3, 0xf0, 0x0f, 0x4c, 0x09, 0xce, 0x30, 0xe7, 0x41,
	0xf7, 0xec, 0x48, 0x39, 0xd8, 0xe6, 0xf4};

/*
 * loop: a hot loop (3000 iterations) of register-only work between a
 * flag-producing ADD and the ADC that reads it:
 *   mov $3000,%ecx; mov $0x9e3779b97f4a7c15,%rbx; mov $1,%eax
 *   xor %esi,%esi; xor %edi,%edi
 * 1: imul %rbx,%rax; mov %rax,%rdx; shr $29,%rdx; xor %rdx,%rax
 *   add %rax,%rsi; adc $0,%rdi; rol $13,%rsi; lea 1(%rdi,%rsi,2),%r8
 *   cmp %r8,%rax; setb %r9b; movzbl %r9b,%r9d; add %r9,%rdi
 *   dec %ecx; jnz 1b; cmp %rsi,%rdi; out %al,$0xf4
 */
static const uint8_t code_loop[] = {
	0xb9, 0xb8, 0x0b, 0x00, 0x00, 0x48, 0xbb, 0x15, 0x7c, 0x4a, 0x7f, 0xb9, 0x79,
	0x37, 0x9e, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xf6, 0x31, 0xff, 0x48, 0x0f,
	0xaf, 0xc3, 0x48, 0x89, 0xc2, 0x48, 0xc1, 0xea, 0x1d, 0x48, 0x31, 0xd0, 0x48,
	0x01, 0xc6, 0x48, 0x83, 0xd7, 0x00, 0x48, 0xc1, 0xc6, 0x0d, 0x4c, 0x8d, 0x44,
	0x77, 0x01, 0x4c, 0x39, 0xc0, 0x41, 0x0f, 0x92, 0xc1, 0x45, 0x0f, 0xb6, 0xc9,
	0x4c, 0x01, 0xcf, 0xff, 0xc9, 0x75, 0xd0, 0x48, 0x39, 0xf7, 0xe6, 0xf4};

/*
 * mem: loads, stores and read-modify-writes through the TLB, a GS-based
 * operand, RSP- and RIP-based addresses, a store into the code page
 * (bails out: the interpreter must see it) and a page-crossing load:
 *   mov $0xc0000101,%ecx; mov $0x30000,%eax; xor %edx,%edx; wrmsr
 *   mov $0x20000,%rbx; mov $511,%ecx; xor %eax,%eax
 * 1: mov %rax,(%rbx,%rcx,8); add %rcx,%rax; imul $3,%rax,%rax
 *   addq $5,(%rbx,%rcx,8); mov (%rbx,%rcx,8),%rdx; xor %rdx,%rax
 *   movzbl 3(%rbx,%rcx,8),%esi; add %rsi,%rax; cmp %rax,(%rbx)
 *   adc %gs:8,%rax; addq $1,%gs:8; setb 7(%rbx,%rcx,8); dec %ecx; jnz 1b
 *   mov %rax,-8(%rsp); mov -8(%rsp),%r8; lea -16(%rsp),%r9
 *   lea data(%rip),%r10; mov data(%rip),%r11; add %r11,(%r10)
 *   mov (%r10),%r12; mov $0x20ffc,%r13; movq (%r13),%r14; mov %gs:8,%r15
 *   cmp %rax,%r8; out %al,$0xf4
 * data: .quad 0x1122334455667788
 */
static const uint8_t code_mem[] = {
	0xb9, 0x01, 0x01, 0x00, 0xc0, 0xb8, 0x00, 0x00, 0x03, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0x48,
	0xc7, 0xc3, 0x00, 0x00, 0x02, 0x00, 0xb9, 0xff, 0x01, 0x00, 0x00, 0x31, 0xc0, 0x48, 0x89,
	0x04, 0xcb, 0x48, 0x01, 0xc8, 0x48, 0x6b, 0xc0, 0x03, 0x48, 0x83, 0x04, 0xcb, 0x05, 0x48,
	0x8b, 0x14, 0xcb, 0x48, 0x31, 0xd0, 0x0f, 0xb6, 0x74, 0xcb, 0x03, 0x48, 0x01, 0xf0, 0x48,
	0x39, 0x03, 0x65, 0x48, 0x13, 0x04, 0x25, 0x08, 0x00, 0x00, 0x00, 0x65, 0x48, 0x83, 0x04,
	0x25, 0x08, 0x00, 0x00, 0x00, 0x01, 0x0f, 0x92, 0x44, 0xcb, 0x07, 0xff, 0xc9, 0x75, 0xc2,
	0x48, 0x89, 0x44, 0x24, 0xf8, 0x4c, 0x8b, 0x44, 0x24, 0xf8, 0x4c, 0x8d, 0x4c, 0x24, 0xf0,
	0x4c, 0x8d, 0x15, 0x26, 0x00, 0x00, 0x00, 0x4c, 0x8b, 0x1d, 0x1f, 0x00, 0x00, 0x00, 0x4d,
	0x01, 0x1a, 0x4d, 0x8b, 0x22, 0x49, 0xc7, 0xc5, 0xfc, 0x0f, 0x02, 0x00, 0x4d, 0x8b, 0x75,
	0x00, 0x65, 0x4c, 0x8b, 0x3c, 0x25, 0x08, 0x00, 0x00, 0x00, 0x49, 0x39, 0xc0, 0xe6, 0xf4,
	0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};

/*
 * stack: PUSH/POP and runs that end in a taken or fall-through Jcc or a
 * JMP (both arms of the branch run):
 *   mov $100,%ecx; xor %eax,%eax; mov $7,%r15
 * 1: push %rcx; push %rax; push %r15; pop %rdx; pop %rbx; add %rbx,%rdx
 *   pop %r8; mov %rdx,%rax; cmp $50,%ecx; jae 2f; add %r8,%rax; jmp 3f
 * 2: sub $3,%rax; mov %rax,%r9; jmp 3f
 * 3: dec %ecx; jnz 1b; cmp %rax,%r9; out %al,$0xf4
 */
static const uint8_t code_stack[] = {
	0xb9, 0x64, 0x00, 0x00, 0x00, 0x31, 0xc0, 0x49, 0xc7, 0xc7, 0x07, 0x00, 0x00, 0x00,
	0x51, 0x50, 0x41, 0x57, 0x5a, 0x5b, 0x48, 0x01, 0xda, 0x41, 0x58, 0x48, 0x89, 0xd0,
	0x83, 0xf9, 0x32, 0x73, 0x05, 0x4c, 0x01, 0xc0, 0xeb, 0x09, 0x48, 0x83, 0xe8, 0x03,
	0x49, 0x89, 0xc1, 0xeb, 0x00, 0xff, 0xc9, 0x75, 0xdb, 0x49, 0x39, 0xc1, 0xe6, 0xf4};

struct result {
	uint64_t r[16];
	uint64_t flags;
	uint64_t native_runs, native_bails;
	uint8_t mem[0x31000 - 0x20000]; /* data pages the snippets use */
	uint8_t code[4096];
};

/* Runs code with VMON_EMU_NATIVE=mode ("0": interpreter only). */
static void run_with(struct result *res_out, const char *mode, const uint8_t *code, size_t len)
{
	setenv("VMON_EMU_NATIVE", mode, 1);
	struct emu_cpu *c = emu_run(BOOT_MODE_LONG64, code, len);
	struct result *res = res_out;
	memcpy(res->r, c->r, sizeof(res->r));
	res->flags = emu_flags(c) & F_ARITH;
	res->native_runs = c->native_runs;
	res->native_bails = c->native_bails;
	assert_int_equal(gm_read(&mach.mem, res->mem, 0x20000, sizeof(res->mem)), 0);
	assert_int_equal(gm_read(&mach.mem, res->code, 0x1000, sizeof(res->code)), 0);
	emu_finish();
	unsetenv("VMON_EMU_NATIVE");
}

static struct result ra, rb;

static void expect_same(const struct result *interp, const struct result *native)
{
	for (int i = 0; i < 16; i++) {
		if (interp->r[i] != native->r[i])
			print_error("r%d: interpreter %#llx, native %#llx\n", i,
				    (unsigned long long)interp->r[i],
				    (unsigned long long)native->r[i]);
		assert_int_equal(interp->r[i], native->r[i]);
	}
	assert_int_equal(interp->flags, native->flags);
	assert_memory_equal(interp->mem, native->mem, sizeof(interp->mem));
	assert_memory_equal(interp->code, native->code, sizeof(interp->code));
	assert_int_equal(interp->native_runs, 0);
	assert_true(native->native_runs > 0); /* the native path really ran */
}

static void test_straight_line(void **state)
{
	run_with(&ra, "0", code_straight, sizeof(code_straight));
	run_with(&rb, "eager", code_straight, sizeof(code_straight));
	expect_same(&ra, &rb);
	assert_int_equal(ra.r[R_SP], 0x8000); /* RSP is never the host's */
}

static void test_hot_loop(void **state)
{
	run_with(&ra, "0", code_loop, sizeof(code_loop));
	run_with(&rb, "1", code_loop, sizeof(code_loop)); /* compiled once hot */
	expect_same(&ra, &rb);
	assert_int_equal(ra.r[R_CX], 0);
}

static void test_stack_and_branches(void **state)
{
	run_with(&ra, "0", code_stack, sizeof(code_stack));
	run_with(&rb, "1", code_stack, sizeof(code_stack));
	expect_same(&ra, &rb);
	run_with(&rb, "eager", code_stack, sizeof(code_stack));
	expect_same(&ra, &rb);
	assert_int_equal(ra.r[R_SP], 0x8000); /* balanced: r[RSP] moved by each PUSH/POP */
	assert_int_equal(ra.r[R_CX], 0);
	assert_int_equal(ra.r[8], 1); /* the last iteration's RCX, pushed first */
}

/* vmon's own encoder for prologues, epilogues and address checks gives
 * what Zydis' encoder gives, form for form (VMON_EMU_NATIVE_VERIFY). */
static void test_own_encoder(void **state)
{
	uint64_t bad0, bad1;
	uint64_t before = emu_native_encoding_check(&bad0);
	setenv("VMON_EMU_NATIVE_VERIFY", "1", 1);
	run_with(&rb, "eager", code_mem, sizeof(code_mem));
	run_with(&rb, "eager", code_stack, sizeof(code_stack));
	run_with(&rb, "eager", code_straight, sizeof(code_straight));
	unsetenv("VMON_EMU_NATIVE_VERIFY");
	uint64_t after = emu_native_encoding_check(&bad1);
	assert_true(after - before > 100);
	assert_int_equal(bad1, bad0);
	assert_int_equal(bad1, 0);
}

static void test_memory(void **state)
{
	run_with(&ra, "0", code_mem, sizeof(code_mem));
	for (int pass = 0; pass < 2; pass++) {
		run_with(&rb, pass ? "1" : "eager", code_mem, sizeof(code_mem));
		expect_same(&ra, &rb);
		/* Compiled on first sight (eager), the tail's store into the
		 * code page and its page-crossing load go back to the
		 * interpreter; compiled once hot, the loop's accesses all hit
		 * the TLB (495 iterations, no bail-out). */
		if (pass == 0)
			assert_true(rb.native_bails >= 2);
		else
			assert_int_equal(rb.native_bails, 0);
	}
	/* The snippet did what it says, on both paths. */
	uint64_t data;
	memcpy(&data, ra.code + sizeof(code_mem) - 8, 8);
	assert_int_equal(data, 2 * 0x1122334455667788ULL);
	assert_int_equal(ra.r[12], data);
	assert_int_equal(ra.r[9], 0x8000 - 16);
	assert_int_equal(ra.r[15], 511); /* addq $1,%gs:8 once per iteration */
	assert_int_equal(ra.r[R_CX], 0);
}

/* One instruction each: what may and what must never be compiled. */
struct sample {
	const char *text;
	uint8_t len;
	uint8_t bytes[15];
};

static const struct sample accepted[] = {
	{"add %rbx,%rax", 3, {0x48, 0x01, 0xd8}},
	{"imul $5,%rcx,%rdx", 4, {0x48, 0x6b, 0xd1, 0x05}},
	{"setb %al", 3, {0x0f, 0x92, 0xc0}},
	{"cmovz %rcx,%rax", 4, {0x48, 0x0f, 0x44, 0xc1}},
	{"movzbl %ah,%eax", 3, {0x0f, 0xb6, 0xc4}},
	{"lea (%rax,%rbx,2),%rcx", 4, {0x48, 0x8d, 0x0c, 0x58}},
	{"nopw 0(%rax,%rax)", 6, {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00}},
	{"shl %cl,%rdx", 3, {0x48, 0xd3, 0xe2}},
	{"mul %rbx", 3, {0x48, 0xf7, 0xe3}},
	{"lea 8(%rsp),%rax", 5, {0x48, 0x8d, 0x44, 0x24, 0x08}},
	{"lea 0(%rip),%rax", 7, {0x48, 0x8d, 0x05, 0x00, 0x00, 0x00, 0x00}},
	{"mov (%rax),%rbx", 3, {0x48, 0x8b, 0x18}},
	{"add %rax,(%rbx)", 3, {0x48, 0x01, 0x03}},
	{"mov %fs:0,%rax", 9, {0x64, 0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00}},
	{"mov 8(%rsp),%rax", 5, {0x48, 0x8b, 0x44, 0x24, 0x08}},
	{"setb 7(%rbx,%rcx,8)", 5, {0x0f, 0x92, 0x44, 0xcb, 0x07}},
	{"push %rax", 1, {0x50}},
	{"pop %r12", 2, {0x41, 0x5c}},
	{"jmp .", 2, {0xeb, 0xfe}},
	{"jne .", 2, {0x75, 0xfe}},
	{"je .+6", 6, {0x0f, 0x84, 0x00, 0x00, 0x00, 0x00}},
	/* RSP as a register operand (on a borrowed register holding r[RSP]) */
	{"mov %rsp,%rax", 3, {0x48, 0x89, 0xe0}},
	{"add $8,%rsp", 4, {0x48, 0x83, 0xc4, 0x08}},
	{"mov %rbp,%rsp", 3, {0x48, 0x89, 0xec}},
	{"and $-16,%rsp", 4, {0x48, 0x83, 0xe4, 0xf0}},
	{"lea -16(%rbp),%rsp", 4, {0x48, 0x8d, 0x65, 0xf0}},
	{"mov %esp,%eax", 2, {0x89, 0xe0}},
	/* DIV/IDIV behind their check; LOCKed RMW as host atomics */
	{"div %rcx", 3, {0x48, 0xf7, 0xf1}},
	{"idiv %ecx", 2, {0xf7, 0xf9}},
	{"divq (%rbx)", 3, {0x48, 0xf7, 0x33}},
	{"lock add %eax,(%rbx)", 3, {0xf0, 0x01, 0x03}},
	{"lock incl (%rax)", 3, {0xf0, 0xff, 0x00}},
	{"lock orq $1,(%rax)", 5, {0xf0, 0x48, 0x83, 0x08, 0x01}},
	{"lock cmpxchg %rbx,(%rcx)", 5, {0xf0, 0x48, 0x0f, 0xb1, 0x19}},
	{"cmpxchg %rbx,(%rcx)", 4, {0x48, 0x0f, 0xb1, 0x19}},
	{"lock xadd %rax,(%rbx)", 5, {0xf0, 0x48, 0x0f, 0xc1, 0x03}},
	{"xadd %rbx,%rcx", 4, {0x48, 0x0f, 0xc1, 0xd9}},
	{"xchg %rax,(%rbx)", 3, {0x48, 0x87, 0x03}},
	{"lock btsq $3,(%rbx)", 6, {0xf0, 0x48, 0x0f, 0xba, 0x2b, 0x03}},
	{"btq $5,(%rbx)", 5, {0x48, 0x0f, 0xba, 0x23, 0x05}},
	{"pushfq", 1, {0x9c}},
	{"cli", 1, {0xfa}}, /* compiled in code for CPL 0 only */
	/* PUSH imm: vmon's store of the immediate; ENDBR64: a NOP (PAUSE
	 * stays interpreted: it may give up the host CPU) */
	{"push $1", 2, {0x6a, 0x01}},
	{"push $-0x1000", 5, {0x68, 0x00, 0xf0, 0xff, 0xff}},
	{"endbr64", 4, {0xf3, 0x0f, 0x1e, 0xfa}},
	/* PUSH RSP (vmon's store of r[RSP]); MOV r32/r64, Sreg (the selector
	 * read from c->seg) */
	{"push %rsp", 1, {0x54}},
	{"mov %ds,%eax", 2, {0x8c, 0xd8}},
	{"mov %ss,%r9", 3, {0x4c, 0x8c, 0xd1}},
	/* REP STOS/MOVS forward, a page at a time (native_emit_str.c) */
	{"rep stosq", 3, {0xf3, 0x48, 0xab}},
	{"rep stosb", 2, {0xf3, 0xaa}},
	{"rep stosw", 3, {0x66, 0xf3, 0xab}},
	{"rep movsq", 3, {0xf3, 0x48, 0xa5}},
	{"rep movsl", 2, {0xf3, 0xa5}},
	{"rep movsb", 2, {0xf3, 0xa4}},
};

static const struct sample refused[] = {
	{"mov %spl,%al", 3, {0x40, 0x88, 0xe0}},
	{"mov %sp,%ax", 3, {0x66, 0x89, 0xe0}},
	{"lea 8(%rsp),%rsp", 5, {0x48, 0x8d, 0x64, 0x24, 0x08}},
	{"mov %rsp,(%rbx)", 3, {0x48, 0x89, 0x23}},
	{"div %cl", 2, {0xf6, 0xf1}},
	{"div %cx", 3, {0x66, 0xf7, 0xf1}},
	{"lock add %eax,%ebx", 3, {0xf0, 0x01, 0xc3}},
	{"pop %rsp", 1, {0x5c}},
	{"pushw %ax", 2, {0x66, 0x50}},
	{"pushq (%rax)", 2, {0xff, 0x30}},
	{"jmp *%rax", 2, {0xff, 0xe0}},
	{"jrcxz .", 2, {0xe3, 0xfe}},
	{"loop .", 2, {0xe2, 0xfe}},
	{"bts %rax,(%rbx)", 4, {0x48, 0x0f, 0xab, 0x03}},
	{"mov (%eax),%ebx", 3, {0x67, 0x8b, 0x18}},
	{"add 8(%rsp),%rsp", 5, {0x48, 0x03, 0x64, 0x24, 0x08}},
	{"rcl $1,%rax", 3, {0x48, 0xd1, 0xd0}},
	{"bsf %rcx,%rax", 4, {0x48, 0x0f, 0xbc, 0xc1}},
	{"cmpxchg %rbx,%rcx", 4, {0x48, 0x0f, 0xb1, 0xd9}},
	{"mov %eax,%cr0", 3, {0x0f, 0x22, 0xc0}},
	{"mov %ds,(%rax)", 2, {0x8c, 0x18}},
	{"mov %ds,%ax", 3, {0x66, 0x8c, 0xd8}},
	{"cpuid", 2, {0x0f, 0xa2}},
	{"syscall", 2, {0x0f, 0x05}},
	{"call .+5", 5, {0xe8, 0x00, 0x00, 0x00, 0x00}},
	{"ret", 1, {0xc3}},
	{"movsb", 1, {0xa4}},
	{"stosq", 2, {0x48, 0xab}},
	{"rep stosl (%edi)", 3, {0x67, 0xf3, 0xab}},
	{"rep movsq %fs:(%rsi)", 4, {0x64, 0xf3, 0x48, 0xa5}},
	{"repne stosb", 2, {0xf2, 0xaa}},
	{"rep lodsb", 2, {0xf3, 0xac}},
	{"rep cmpsb", 2, {0xf3, 0xa6}},
	{"rep insb", 2, {0xf3, 0x6c}},
	{"rep outsb", 2, {0xf3, 0x6e}},
	{"out %al,$0xf4", 2, {0xe6, 0xf4}},
	{"hlt", 1, {0xf4}},
	{"int3", 1, {0xcc}},
	{"pushfw", 2, {0x66, 0x9c}},
	{"sahf", 1, {0x9e}},
	{"std", 1, {0xfd}},
	{"rdtsc", 2, {0x0f, 0x31}},
	{"addps %xmm1,%xmm0", 3, {0x0f, 0x58, 0xc1}},
	{"fld1", 2, {0xd9, 0xe8}},
	{"(truncated) mov $imm64,%rax", 5, {0x48, 0xb8, 0x00, 0x00, 0x00}},
};

static void test_whitelist(void **state)
{
	for (size_t i = 0; i < sizeof(accepted) / sizeof(*accepted); i++) {
		if (!emu_native_accepts(accepted[i].bytes, accepted[i].len))
			print_error("refused: %s\n", accepted[i].text);
		assert_true(emu_native_accepts(accepted[i].bytes, accepted[i].len));
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		if (emu_native_accepts(refused[i].bytes, refused[i].len))
			print_error("accepted: %s\n", refused[i].text);
		assert_false(emu_native_accepts(refused[i].bytes, refused[i].len));
	}
}

/* Random byte strings: whatever is accepted never names RSP but as an
 * address base, never locks, and has at most one memory operand, with a
 * 64-bit address (checked again by decoding here); multi-byte NOPs are
 * accepted as nothing to run. */
static void test_random_bytes(void **state)
{
	ZydisDecoder dec;
	assert_true(ZYAN_SUCCESS(
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)));
	uint64_t x = 0x2545f4914f6cdd1dULL;
	unsigned accepted_count = 0;
	for (int i = 0; i < 200000; i++) {
		uint8_t b[15];
		for (int k = 0; k < 15; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			b[k] = (uint8_t)x;
		}
		if (!emu_native_accepts(b, sizeof(b)))
			continue;
		accepted_count++;
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		assert_true(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, b, sizeof(b), &in, ops)));
		if (in.mnemonic == ZYDIS_MNEMONIC_NOP)
			continue; /* nothing is emitted for it */
		if (in.mnemonic == ZYDIS_MNEMONIC_PUSHFQ) {
			/* 9C alone: RFLAGS pushed by vmon's own code */
			assert_int_equal(in.length, 1);
			continue;
		}
		if (in.meta.category == ZYDIS_CATEGORY_STRINGOP) {
			/* REP STOS/MOVS, 64-bit addresses, no override: vmon's
			 * own REP STOS/MOVS of the same size runs it */
			assert_true(in.mnemonic == ZYDIS_MNEMONIC_STOSB ||
				    in.mnemonic == ZYDIS_MNEMONIC_STOSW ||
				    in.mnemonic == ZYDIS_MNEMONIC_STOSD ||
				    in.mnemonic == ZYDIS_MNEMONIC_STOSQ ||
				    in.mnemonic == ZYDIS_MNEMONIC_MOVSB ||
				    in.mnemonic == ZYDIS_MNEMONIC_MOVSW ||
				    in.mnemonic == ZYDIS_MNEMONIC_MOVSD ||
				    in.mnemonic == ZYDIS_MNEMONIC_MOVSQ);
			assert_true(in.attributes & ZYDIS_ATTRIB_HAS_REP);
			assert_false(in.attributes & ZYDIS_ATTRIB_HAS_SEGMENT);
			assert_int_equal(in.address_width, 64);
			continue;
		}
		if (in.mnemonic == ZYDIS_MNEMONIC_ENDBR64)
			continue; /* nothing is emitted for it */
		if (in.mnemonic == ZYDIS_MNEMONIC_PUSH &&
		    ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
			/* vmon's own store of the immediate, sign-extended */
			assert_int_equal(in.operand_width, 64);
			continue;
		}
		if (in.mnemonic == ZYDIS_MNEMONIC_PUSH &&
		    ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ops[0].reg.value == ZYDIS_REGISTER_RSP) {
			assert_int_equal(in.operand_width, 64); /* vmon's store of r[RSP] */
			continue;
		}
		if (in.mnemonic == ZYDIS_MNEMONIC_MOV && in.opcode == 0x8c) {
			/* a selector into a 32/64-bit general register */
			assert_int_equal(ops[0].type, ZYDIS_OPERAND_TYPE_REGISTER);
			assert_true(in.operand_width == 32 || in.operand_width == 64);
			assert_int_equal(ZydisRegisterGetClass(ops[1].reg.value),
					 ZYDIS_REGCLASS_SEGMENT);
			continue;
		}
		if (in.mnemonic == ZYDIS_MNEMONIC_PUSH || in.mnemonic == ZYDIS_MNEMONIC_POP) {
			/* its own hidden RSP and stack slot; the register is
			 * a 64-bit one other than RSP */
			assert_int_equal(ops[0].type, ZYDIS_OPERAND_TYPE_REGISTER);
			assert_int_equal(ZydisRegisterGetClass(ops[0].reg.value),
					 ZYDIS_REGCLASS_GPR64);
			assert_int_not_equal(ops[0].reg.value, ZYDIS_REGISTER_RSP);
			continue;
		}
		if (in.meta.branch_type != ZYDIS_BRANCH_TYPE_NONE) {
			/* relative JMP/Jcc only: never indirect, call or return */
			assert_true(in.mnemonic == ZYDIS_MNEMONIC_JMP ||
				    in.meta.category == ZYDIS_CATEGORY_COND_BR);
			assert_int_equal(ops[0].type, ZYDIS_OPERAND_TYPE_IMMEDIATE);
			assert_true(ops[0].imm.is_relative);
			continue;
		}
		unsigned mems = 0, accesses = 0, rsps = 0;
		bool written = false;
		for (unsigned k = 0; k < in.operand_count; k++) {
			if (ops[k].type == ZYDIS_OPERAND_TYPE_MEMORY) {
				assert_int_equal(ops[k].visibility,
						 ZYDIS_OPERAND_VISIBILITY_EXPLICIT);
				assert_int_equal(in.address_width, 64);
				mems++;
				accesses += ops[k].mem.type != ZYDIS_MEMOP_TYPE_AGEN;
				written |= !!(ops[k].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE);
			}
			if (ops[k].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			    ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64,
							     ops[k].reg.value) ==
				    ZYDIS_REGISTER_RSP) {
				/* RSP: explicit, whole or ESP, once (a
				 * borrowed register takes its place) */
				assert_int_equal(ops[k].visibility,
						 ZYDIS_OPERAND_VISIBILITY_EXPLICIT);
				assert_true(ops[k].reg.value == ZYDIS_REGISTER_RSP ||
					    ops[k].reg.value == ZYDIS_REGISTER_ESP);
				rsps++;
			}
		}
		assert_true(mems <= 1);
		assert_true(rsps <= 1);
		if (rsps) /* no memory access beside it (a LEA's address: not on RSP) */
			assert_int_equal(accesses, 0);
		/* LOCK only on a memory operand it writes: a host atomic */
		if (in.attributes & ZYDIS_ATTRIB_HAS_LOCK)
			assert_true(accesses == 1 && written);
		if (in.mnemonic == ZYDIS_MNEMONIC_DIV || in.mnemonic == ZYDIS_MNEMONIC_IDIV)
			assert_true(in.operand_width == 32 || in.operand_width == 64);
	}
	assert_true(accepted_count > 1000); /* the loop did reach accepted forms */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_straight_line), cmocka_unit_test(test_hot_loop),
		cmocka_unit_test(test_memory),	      cmocka_unit_test(test_stack_and_branches),
		cmocka_unit_test(test_whitelist),     cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_own_encoder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
