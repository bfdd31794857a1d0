/* SPDX-License-Identifier: MIT */
/*
 * The compiled forms that need more than their re-encoded bytes
 * (src/cpu/emu/native_emit_ops.c, native_check.c): RSP as a register
 * operand (run on a borrowed host register loaded from r[RSP]), DIV/IDIV
 * behind the check that bails out before the host could fault, and
 * LOCKed read-modify-writes, BT* on memory and XCHG with memory as host
 * atomics; CALL by a register ending a translated block; PUSHFQ; CLI. Each snippet runs interpreted
 * (VMON_EMU_NATIVE=0), with native runs only (VMON_EMU_CHAIN=0), compiled once hot and compiled on
 * first sight, and must leave the same registers, RIP, flags, memory and instruction count as the
 * interpreter -- through #DE (a zero divisor, a quotient that does not fit, INT64_MIN / -1) whose
 * frame must see the DIV's own RIP and RFLAGS. The snippets were assembled with GNU as (sources in
 * the comments).
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
 * ops: one loop (200 iterations) of every new form, flags read after
 * each where the form sets them, and across each DIV, which keeps them
 * (the host's DIV changes SF, ZF and PF on AMD); the last IDIV bails out
 * by design (RDX is not RAX's sign: the interpreter divides):
 * start:
 * mov $200, %r12d
 * xor %r13d, %r13d
 * mov $0x20000, %ebx
 * 1: mov %rsp, %rbp
 * sub $0x48, %rsp
 * and $-16, %rsp
 * mov %rsp, %rax
 * add %rax, %r13
 * lea -8(%rbp), %rsp
 * cmp %rbp, %rsp
 * adc $0, %r13
 * mov %esp, %eax
 * xor %rax, %r13
 * mov %rbp, %rsp
 * add $8, %rsp
 * sub %r12, %rsp
 * setb %cl
 * add %r12, %rsp
 * movzbl %cl, %ecx
 * add %rcx, %r13
 * mov %r12, %rax
 * imul $0x12345, %rax, %rax
 * xor %edx, %edx
 * lea 7(%r12), %rcx
 * cmp %rcx, %rdx
 * div %rcx
 * cmovs %r12, %rdx
 * adc %rdx, %r13
 * mov %r12, %rax
 * neg %rax
 * cqo
 * mov $-7, %r8
 * idiv %r8
 * cmovs %r12, %rdx
 * add %rax, %r13
 * add %rdx, %r13
 * mov %r12d, %eax
 * xor %edx, %edx
 * mov $3, %r9d
 * div %r9d
 * cmovz %r12, %rax
 * add %rax, %r13
 * add %rdx, %r13
 * mov %r12, 8(%rbx)
 * mov $1000000, %eax
 * mov %r12, %rdx
 * shr $5, %rdx
 * divq 8(%rbx)
 * cmovz %r12, %rdx
 * add %rax, %r13
 * add %rdx, %r13
 * mov %r12, %rax
 * test $1, %r12b
 * cmovnz (%rbx), %rax
 * lock cmpxchg %r13, (%rbx)
 * setz %cl
 * movzbl %cl, %ecx
 * add %rcx, %r13
 * add %rax, %r13
 * mov %r12, %r14
 * lock xadd %r14, 16(%rbx)
 * add %r14, %r13
 * lock btsq $5, 24(%rbx)
 * adc $0, %r13
 * lock btcq $3, 24(%rbx)
 * adc $0, %r13
 * btq $3, 24(%rbx)
 * adc $0, %r13
 * mov %r13, %r15
 * xchg %r15, 32(%rbx)
 * add %r15, %r13
 * lock addq $3, 40(%rbx)
 * lock incl 48(%rbx)
 * lock subq %r12, 56(%rbx)
 * sbb %r13, %r10
 * mov $-1, %rax
 * xor %edx, %edx
 * mov $3, %ecx
 * idiv %rcx
 * add %rax, %r13
 * mov %rbp, %rsp
 * dec %r12d
 * jnz 1b
 * out %al, $0xf4
 */
static const uint8_t code_ops[] = {
	0x41, 0xbc, 0xc8, 0x00, 0x00, 0x00, 0x45, 0x31, 0xed, 0xbb, 0x00, 0x00, 0x02, 0x00, 0x48,
	0x89, 0xe5, 0x48, 0x83, 0xec, 0x48, 0x48, 0x83, 0xe4, 0xf0, 0x48, 0x89, 0xe0, 0x49, 0x01,
	0xc5, 0x48, 0x8d, 0x65, 0xf8, 0x48, 0x39, 0xec, 0x49, 0x83, 0xd5, 0x00, 0x89, 0xe0, 0x49,
	0x31, 0xc5, 0x48, 0x89, 0xec, 0x48, 0x83, 0xc4, 0x08, 0x4c, 0x29, 0xe4, 0x0f, 0x92, 0xc1,
	0x4c, 0x01, 0xe4, 0x0f, 0xb6, 0xc9, 0x49, 0x01, 0xcd, 0x4c, 0x89, 0xe0, 0x48, 0x69, 0xc0,
	0x45, 0x23, 0x01, 0x00, 0x31, 0xd2, 0x49, 0x8d, 0x4c, 0x24, 0x07, 0x48, 0x39, 0xca, 0x48,
	0xf7, 0xf1, 0x49, 0x0f, 0x48, 0xd4, 0x49, 0x11, 0xd5, 0x4c, 0x89, 0xe0, 0x48, 0xf7, 0xd8,
	0x48, 0x99, 0x49, 0xc7, 0xc0, 0xf9, 0xff, 0xff, 0xff, 0x49, 0xf7, 0xf8, 0x49, 0x0f, 0x48,
	0xd4, 0x49, 0x01, 0xc5, 0x49, 0x01, 0xd5, 0x44, 0x89, 0xe0, 0x31, 0xd2, 0x41, 0xb9, 0x03,
	0x00, 0x00, 0x00, 0x41, 0xf7, 0xf1, 0x49, 0x0f, 0x44, 0xc4, 0x49, 0x01, 0xc5, 0x49, 0x01,
	0xd5, 0x4c, 0x89, 0x63, 0x08, 0xb8, 0x40, 0x42, 0x0f, 0x00, 0x4c, 0x89, 0xe2, 0x48, 0xc1,
	0xea, 0x05, 0x48, 0xf7, 0x73, 0x08, 0x49, 0x0f, 0x44, 0xd4, 0x49, 0x01, 0xc5, 0x49, 0x01,
	0xd5, 0x4c, 0x89, 0xe0, 0x41, 0xf6, 0xc4, 0x01, 0x48, 0x0f, 0x45, 0x03, 0xf0, 0x4c, 0x0f,
	0xb1, 0x2b, 0x0f, 0x94, 0xc1, 0x0f, 0xb6, 0xc9, 0x49, 0x01, 0xcd, 0x49, 0x01, 0xc5, 0x4d,
	0x89, 0xe6, 0xf0, 0x4c, 0x0f, 0xc1, 0x73, 0x10, 0x4d, 0x01, 0xf5, 0xf0, 0x48, 0x0f, 0xba,
	0x6b, 0x18, 0x05, 0x49, 0x83, 0xd5, 0x00, 0xf0, 0x48, 0x0f, 0xba, 0x7b, 0x18, 0x03, 0x49,
	0x83, 0xd5, 0x00, 0x48, 0x0f, 0xba, 0x63, 0x18, 0x03, 0x49, 0x83, 0xd5, 0x00, 0x4d, 0x89,
	0xef, 0x4c, 0x87, 0x7b, 0x20, 0x4d, 0x01, 0xfd, 0xf0, 0x48, 0x83, 0x43, 0x28, 0x03, 0xf0,
	0xff, 0x43, 0x30, 0xf0, 0x4c, 0x29, 0x63, 0x38, 0x4d, 0x19, 0xea, 0x48, 0xc7, 0xc0, 0xff,
	0xff, 0xff, 0xff, 0x31, 0xd2, 0xb9, 0x03, 0x00, 0x00, 0x00, 0x48, 0xf7, 0xf9, 0x49, 0x01,
	0xc5, 0x48, 0x89, 0xec, 0x41, 0xff, 0xcc, 0x0f, 0x85, 0xd5, 0xfe, 0xff, 0xff, 0xe6, 0xf4,
};

/*
 * de: DIV/IDIV compiled in a hot loop whose divisors and dividends make
 * them fault now and then: by zero, a quotient too large, INT64_MIN / -1
 * (a CMP before each, so that every flag in the frame is defined).
 * The #DE handler counts, records the faulting RIP and adds the RFLAGS of
 * the frame, then skips the division:
 * start:
 * lea handler(%rip), %rax
 * movw %ax, 0x30000
 * movw $0x08, 0x30002
 * movw $0x8e00, 0x30004
 * shr $16, %rax
 * movw %ax, 0x30006
 * shr $16, %rax
 * movl %eax, 0x30008
 * movl $0, 0x3000c
 * lidt idtr(%rip)
 * mov $200, %r12d
 * xor %r13d, %r13d
 * movabs $0x8000000000000000, %r9
 * 1: mov %r12, %rcx
 * and $7, %ecx
 * mov %r12, %rdx
 * and $15, %edx
 * shr $1, %edx
 * mov %r12, %rax
 * imul $0x3779b9, %rax, %rax
 * cmp %r12, %rax
 * div %rcx
 * add %rax, %r13
 * add %rdx, %r13
 * mov %r12, %rax
 * imul $0x3779b9, %rax, %rax
 * test $31, %r12b
 * cmovz %r9, %rax
 * cqo
 * mov %r12, %rcx
 * and $3, %ecx
 * dec %rcx
 * cmp %r12, %rax
 * idiv %rcx
 * add %rax, %r13
 * sub %rdx, %r13
 * mov %r12d, %eax
 * xor %edx, %edx
 * mov %r12d, %ecx
 * and $1, %ecx
 * cmp %r12, %rax
 * div %ecx
 * add %rax, %r13
 * dec %r12d
 * jnz 1b
 * out %al, $0xf4
 * handler:
 * incq 0x31000
 * mov (%rsp), %r8
 * mov %r8, 0x31008
 * mov 16(%rsp), %r10
 * add %r10, 0x31010
 * cmpb $0x48, (%r8)
 * je 2f
 * addq $2, (%rsp)
 * iretq
 * 2: addq $3, (%rsp)
 * iretq
 * .p2align 3
 * idtr: .word 0xfff
 * .quad 0x30000
 */
static const uint8_t code_de[] = {
	0x48, 0x8d, 0x05, 0xbf, 0x00, 0x00, 0x00, 0x66, 0x89, 0x04, 0x25, 0x00, 0x00, 0x03, 0x00,
	0x66, 0xc7, 0x04, 0x25, 0x02, 0x00, 0x03, 0x00, 0x08, 0x00, 0x66, 0xc7, 0x04, 0x25, 0x04,
	0x00, 0x03, 0x00, 0x00, 0x8e, 0x48, 0xc1, 0xe8, 0x10, 0x66, 0x89, 0x04, 0x25, 0x06, 0x00,
	0x03, 0x00, 0x48, 0xc1, 0xe8, 0x10, 0x89, 0x04, 0x25, 0x08, 0x00, 0x03, 0x00, 0xc7, 0x04,
	0x25, 0x0c, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0xb4, 0x00, 0x00,
	0x00, 0x41, 0xbc, 0xc8, 0x00, 0x00, 0x00, 0x45, 0x31, 0xed, 0x49, 0xb9, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x80, 0x4c, 0x89, 0xe1, 0x83, 0xe1, 0x07, 0x4c, 0x89, 0xe2, 0x83,
	0xe2, 0x0f, 0xd1, 0xea, 0x4c, 0x89, 0xe0, 0x48, 0x69, 0xc0, 0xb9, 0x79, 0x37, 0x00, 0x4c,
	0x39, 0xe0, 0x48, 0xf7, 0xf1, 0x49, 0x01, 0xc5, 0x49, 0x01, 0xd5, 0x4c, 0x89, 0xe0, 0x48,
	0x69, 0xc0, 0xb9, 0x79, 0x37, 0x00, 0x41, 0xf6, 0xc4, 0x1f, 0x49, 0x0f, 0x44, 0xc1, 0x48,
	0x99, 0x4c, 0x89, 0xe1, 0x83, 0xe1, 0x03, 0x48, 0xff, 0xc9, 0x4c, 0x39, 0xe0, 0x48, 0xf7,
	0xf9, 0x49, 0x01, 0xc5, 0x49, 0x29, 0xd5, 0x44, 0x89, 0xe0, 0x31, 0xd2, 0x44, 0x89, 0xe1,
	0x83, 0xe1, 0x01, 0x4c, 0x39, 0xe0, 0xf7, 0xf1, 0x49, 0x01, 0xc5, 0x41, 0xff, 0xcc, 0x75,
	0x9b, 0xe6, 0xf4, 0x48, 0xff, 0x04, 0x25, 0x00, 0x10, 0x03, 0x00, 0x4c, 0x8b, 0x04, 0x24,
	0x4c, 0x89, 0x04, 0x25, 0x08, 0x10, 0x03, 0x00, 0x4c, 0x8b, 0x54, 0x24, 0x10, 0x4c, 0x01,
	0x14, 0x25, 0x10, 0x10, 0x03, 0x00, 0x41, 0x80, 0x38, 0x48, 0x74, 0x07, 0x48, 0x83, 0x04,
	0x24, 0x02, 0x48, 0xcf, 0x48, 0x83, 0x04, 0x24, 0x03, 0x48, 0xcf, 0x0f, 0x1f, 0x44, 0x00,
	0x00, 0xff, 0x0f, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/*
 * icall: CALL by a register ending a translated block (the push of the
 * return address, then an exit to the register's value through the jump
 * cache), to a function in the next page and one that reads its return
 * address; the CMP's carry crosses f:
 * start:
 * mov $300, %r12d
 * xor %ebx, %ebx
 * lea f(%rip), %r8
 * lea g(%rip), %r9
 * 1: mov %r8, %rax
 * test $1, %r12b
 * cmovnz %r9, %rax
 * cmp $150, %r12d
 * call *%rax
 * adc $0, %rbx
 * dec %r12d
 * jnz 1b
 * out %al, $0xf4
 * .org 0x1000
 * f: lea 3(%rbx), %rbx
 * ret
 * g: mov %rsp, %rcx
 * add (%rcx), %rbx
 * lea 5(%rbx), %rbx
 * ret
 */
static const uint8_t code_icall[] = {
	0x41, 0xbc, 0x2c, 0x01, 0x00, 0x00, 0x31, 0xdb, 0x4c, 0x8d, 0x05, 0xf1, 0x0f, 0x00,
	0x00, 0x4c, 0x8d, 0x0d, 0xef, 0x0f, 0x00, 0x00, 0x4c, 0x89, 0xc0, 0x41, 0xf6, 0xc4,
	0x01, 0x49, 0x0f, 0x45, 0xc1, 0x41, 0x81, 0xfc, 0x96, 0x00, 0x00, 0x00, 0xff, 0xd0,
	0x48, 0x83, 0xd3, 0x00, 0x41, 0xff, 0xcc, 0x75, 0xe3, 0xe6, 0xf4,
};
static const uint8_t code_icall_f[] = {
	0x48, 0x8d, 0x5b, 0x03, 0xc3, 0x48, 0x89, 0xe1,
	0x48, 0x03, 0x19, 0x48, 0x8d, 0x5b, 0x05, 0xc3,
};

/*
 * pushf: PUSHFQ of flags the block set, did not set (they come from the
 * block before), twice in a row, with DF set by an STD before it, and
 * IF set by an STI (interpreted: it ends its block) and cleared by a CLI
 * (compiled as its block's last instruction):
 * start:
 * mov $200, %r12d
 * xor %ebx, %ebx
 * 1: sti
 * pushfq
 * pop %r9
 * cmp $100, %r12d
 * pushfq
 * pop %rax
 * add %rax, %rbx
 * add %r9, %rbx
 * mov %r12, %rcx
 * sub $77, %rcx
 * pushfq
 * pushfq
 * pop %rdx
 * pop %rsi
 * xor %rdx, %rbx
 * add %rsi, %rbx
 * test $7, %r12b
 * jnz 2f
 * std
 * 2: pushfq
 * pop %r8
 * add %r8, %rbx
 * cli
 * pushfq
 * pop %r10
 * add %r10, %rbx
 * cld
 * dec %r12d
 * jnz 1b
 * out %al, $0xf4
 */
static const uint8_t code_pushf[] = {
	0x41, 0xbc, 0xc8, 0x00, 0x00, 0x00, 0x31, 0xdb, 0xfb, 0x9c, 0x41, 0x59, 0x41, 0x83,
	0xfc, 0x64, 0x9c, 0x58, 0x48, 0x01, 0xc3, 0x4c, 0x01, 0xcb, 0x4c, 0x89, 0xe1, 0x48,
	0x83, 0xe9, 0x4d, 0x9c, 0x9c, 0x5a, 0x5e, 0x48, 0x31, 0xd3, 0x48, 0x01, 0xf3, 0x41,
	0xf6, 0xc4, 0x07, 0x75, 0x01, 0xfd, 0x9c, 0x41, 0x58, 0x4c, 0x01, 0xc3, 0xfa, 0x9c,
	0x41, 0x5a, 0x4c, 0x01, 0xd3, 0xfc, 0x41, 0xff, 0xcc, 0x75, 0xc5, 0xe6, 0xf4,
};

#define MEM_LO 0x20000
#define MEM_HI 0x32000

struct result {
	uint64_t r[16];
	uint64_t rip, flags;
	uint64_t runs, icount, native_insns;
	uint8_t mem[MEM_HI - MEM_LO];
};

enum mode { INTERP, RUNS, HOT, EAGER };

static void run_in(struct result *res, enum mode mode, const uint8_t *code, size_t len)
{
	setenv("VMON_EMU_NATIVE", mode == INTERP ? "0" : mode == EAGER ? "eager" : "1", 1);
	setenv("VMON_EMU_CHAIN", mode == RUNS ? "0" : "1", 1);
	setenv("VMON_EMU_NATIVE_VERIFY", "1", 1); /* vmon's own encodings against Zydis' */
	/* The host-code counts below assume a block compiled at its 16th
	 * entry (the default became 64 for restores' cold code: native.c). */
	setenv("VMON_EMU_HOT", "16", 1);
	struct emu_cpu *c = emu_run(BOOT_MODE_LONG64, code, len);
	memcpy(res->r, c->r, sizeof(res->r));
	res->rip = c->rip;
	res->flags = emu_flags(c) & F_ARITH;
	res->runs = c->native_runs;
	res->icount = c->icount;
	res->native_insns = c->native_insns;
	assert_int_equal(gm_read(&mach.mem, res->mem, MEM_LO, sizeof(res->mem)), 0);
	emu_finish();
	unsetenv("VMON_EMU_NATIVE");
	unsetenv("VMON_EMU_CHAIN");
	unsetenv("VMON_EMU_NATIVE_VERIFY");
	unsetenv("VMON_EMU_HOT");
}

static struct result ri, rn;

/* Every compiled mode against the interpreter; `hot` instructions at
 * least must have run as host code once compiled hot (so the forms were
 * compiled, not left to the interpreter). */
static void all_modes(const uint8_t *code, size_t len, uint64_t hot)
{
	uint64_t bad0, bad1;
	emu_native_encoding_check(&bad0);
	run_in(&ri, INTERP, code, len);
	assert_int_equal(ri.runs, 0);
	for (enum mode m = RUNS; m <= EAGER; m++) {
		run_in(&rn, m, code, len);
		for (int i = 0; i < 16; i++) {
			if (ri.r[i] != rn.r[i])
				print_error("mode %d r%d: interpreter %#llx, compiled %#llx\n", m,
					    i, (unsigned long long)ri.r[i],
					    (unsigned long long)rn.r[i]);
			assert_int_equal(ri.r[i], rn.r[i]);
		}
		assert_int_equal(ri.rip, rn.rip);
		assert_int_equal(ri.flags, rn.flags);
		assert_memory_equal(ri.mem, rn.mem, sizeof(ri.mem));
		assert_int_equal(ri.icount, rn.icount);
		assert_true(rn.runs > 0);
		if (m == HOT)
			assert_true(rn.native_insns >= hot);
	}
	emu_native_encoding_check(&bad1);
	assert_int_equal(bad1, bad0);
}

static uint64_t load64(const struct result *r, uint64_t addr)
{
	uint64_t v;
	memcpy(&v, r->mem + (addr - MEM_LO), 8);
	return v;
}

static void test_new_forms(void **state)
{
	/* 200 iterations of 80 instructions: all but the first 16 or so
	 * and the last IDIV's 3 after it (it bails out by design) as host
	 * code (13,800) */
	all_modes(code_ops, sizeof(code_ops), 150 * 76);
	assert_int_equal(ri.r[R_SP], 0x8000); /* every RSP form balanced */
	assert_int_equal(ri.r[12], 0);
	assert_int_equal(load64(&ri, 0x20000 + 40), 3 * 200);	       /* lock addq $3 */
	assert_int_equal(load64(&ri, 0x20000 + 48) & 0xffffffff, 200); /* lock incl */
	assert_int_equal(load64(&ri, 0x20000 + 16), 200 * 201 / 2);    /* lock xadd */
	assert_int_equal(load64(&ri, 0x20000 + 56), -(uint64_t)(200 * 201 / 2));
}

/* How many #DE the de snippet raises, from its source. */
static uint64_t de_expected(void)
{
	uint64_t n = 0;
	for (uint64_t i = 200; i > 0; i--) {
		uint64_t cx = i & 7, dx = (i & 15) >> 1;
		n += cx == 0 || dx >= cx;
		int64_t div = (int64_t)(i & 3) - 1;
		n += div == 0 || (div == -1 && (i & 31) == 0);
		n += (i & 1) == 0;
	}
	return n;
}

static void test_divide_errors(void **state)
{
	all_modes(code_de, sizeof(code_de), 150 * 20);
	assert_int_equal(load64(&ri, 0x31000), de_expected());
	assert_int_equal(ri.r[12], 0);
}

static void test_call_by_register(void **state)
{
	static uint8_t code[0x1000 + sizeof(code_icall_f)];
	memset(code, 0x90, sizeof(code));
	memcpy(code, code_icall, sizeof(code_icall));
	memcpy(code + 0x1000, code_icall_f, sizeof(code_icall_f));
	/* 300 iterations of 8 instructions and 2 or 4 in the callee: most as
	 * host code once hot (the CALL's block too) */
	all_modes(code, sizeof(code), 250 * 10);
	assert_int_equal(ri.r[R_SP], 0x8000);
	/* f adds 3, g 5 and the return address (0x102a); the CMP's carry
	 * reaches the ADC through f (r12 < 150, even) */
	uint64_t bx = 0;
	for (uint64_t i = 300; i > 0; i--)
		bx += (i & 1) ? 5 + 0x102a : 3 + (i < 150);
	assert_int_equal(ri.r[R_BX], bx);
}

static void test_pushf_cli(void **state)
{
	/* 200 iterations of 27-28 instructions, the blocks around STI, STD,
	 * CLD and the JNZ as host code once hot */
	all_modes(code_pushf, sizeof(code_pushf), 150 * 15);
	assert_int_equal(ri.r[R_SP], 0x8000);
	assert_int_equal(ri.r[8] & 0x600, 0x200); /* no STD in the last iteration; STI's IF */
	assert_int_equal(ri.r[10] & 0x200, 0);	  /* CLI's */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_forms),
		cmocka_unit_test(test_divide_errors),
		cmocka_unit_test(test_call_by_register),
		cmocka_unit_test(test_pushf_cli),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
