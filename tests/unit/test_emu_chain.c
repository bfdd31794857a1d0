/* SPDX-License-Identifier: MIT */
/*
 * Translated blocks of the software CPU (src/cpu/emu/native_chain.c):
 * whole blocks compiled to host code and chained to each other must leave
 * what the interpreter leaves, through the cases chaining makes special:
 * a loop whose bail-outs let the interpreter leave it, code that patches
 * a chained loop, a page fault in the middle of a chained loop (the
 * exception sees its own instruction), an instruction straddling a page
 * between two compiled blocks, a storm of timer interrupts during a
 * chained hot loop, and a translated self-loop that only an interrupt
 * ends (its flags in the interrupt's frame) or that reads its own flags. Each snippet runs
 * interpreted (VMON_EMU_NATIVE=0), with native runs only (VMON_EMU_CHAIN=0), compiled once hot and
 * compiled on first sight. The snippets were assembled with GNU as
 * (sources in the comments).
 */
#include <pthread.h>
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
#include "cpu/emu/mmu.h"

#include "emu_harness.h"

/*
 * .org 0
 * start:
 * lea handler(%rip), %rax
 * movw %ax, 0x300e0
 * movw $0x08, 0x300e2
 * movw $0x8e00, 0x300e4
 * shr $16, %rax
 * movw %ax, 0x300e6
 * shr $16, %rax
 * movl %eax, 0x300e8
 * movl $0, 0x300ec
 * lidt idtr(%rip)
 * xor %ecx, %ecx
 * xor %eax, %eax
 * mov $0x20000, %rsi
 * mov $0x40000000, %rdi
 * 1: add (%rsi), %rax
 * add %rcx, %rax
 * add $1, %rcx
 * cmp $300, %rcx
 * cmove %rdi, %rsi
 * jmp 1b
 * handler:
 * mov %cr2, %rdx
 * pop %r8
 * pop %r9
 * out %al, $0xf4
 * .p2align 3
 * idtr: .word 0xfff
 * .quad 0x30000
 */
static const uint8_t code_fault[] = {
	0x48, 0x8d, 0x05, 0x6e, 0x00, 0x00, 0x00, 0x66, 0x89, 0x04, 0x25, 0xe0, 0x00, 0x03,
	0x00, 0x66, 0xc7, 0x04, 0x25, 0xe2, 0x00, 0x03, 0x00, 0x08, 0x00, 0x66, 0xc7, 0x04,
	0x25, 0xe4, 0x00, 0x03, 0x00, 0x00, 0x8e, 0x48, 0xc1, 0xe8, 0x10, 0x66, 0x89, 0x04,
	0x25, 0xe6, 0x00, 0x03, 0x00, 0x48, 0xc1, 0xe8, 0x10, 0x89, 0x04, 0x25, 0xe8, 0x00,
	0x03, 0x00, 0xc7, 0x04, 0x25, 0xec, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f,
	0x01, 0x1d, 0x34, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x31, 0xc0, 0x48, 0xc7, 0xc6, 0x00,
	0x00, 0x02, 0x00, 0x48, 0xc7, 0xc7, 0x00, 0x00, 0x00, 0x40, 0x48, 0x03, 0x06, 0x48,
	0x01, 0xc8, 0x48, 0x83, 0xc1, 0x01, 0x48, 0x81, 0xf9, 0x2c, 0x01, 0x00, 0x00, 0x48,
	0x0f, 0x44, 0xf7, 0xeb, 0xe9, 0x0f, 0x20, 0xd2, 0x41, 0x58, 0x41, 0x59, 0xe6, 0xf4,
	0x66, 0x90, 0xff, 0x0f, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/*
 * xor %eax, %eax
 * mov $3, %r9d
 * 2: mov $100, %ecx
 * 1: add $1, %rax
 * dec %ecx
 * jnz 1b
 * movb $2, 1b+3(%rip)
 * dec %r9d
 * jnz 2b
 * out %al, $0xf4
 */
static const uint8_t code_smc[] = {
	0x31, 0xc0, 0x41, 0xb9, 0x03, 0x00, 0x00, 0x00, 0xb9, 0x64, 0x00, 0x00,
	0x00, 0x48, 0x83, 0xc0, 0x01, 0xff, 0xc9, 0x75, 0xf8, 0xc6, 0x05, 0xf4,
	0xff, 0xff, 0xff, 0x02, 0x41, 0xff, 0xc9, 0x75, 0xe7, 0xe6, 0xf4,
};

/*
 * mov $0x20000, %rdx
 * mov $0x200000, %rdi
 * xor %ebp, %ebp
 * mov $20, %r9d
 * 3: xor %ecx, %ecx
 * 1: mov %rdx, %rax
 * cmp $199, %rcx
 * cmove %rdi, %rax
 * mov %rcx, (%rax)
 * add %rcx, %rbp
 * add $1, %rcx
 * cmp $200, %rcx
 * jb 1b
 * add $0x1000, %rdi
 * add $7, %rbp
 * mov %rbp, %r10
 * dec %r9d
 * jnz 3b
 * out %al, $0xf4
 */
static const uint8_t code_bails[] = {
	0x48, 0xc7, 0xc2, 0x00, 0x00, 0x02, 0x00, 0x48, 0xc7, 0xc7, 0x00, 0x00, 0x20,
	0x00, 0x31, 0xed, 0x41, 0xb9, 0x14, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x48, 0x89,
	0xd0, 0x48, 0x81, 0xf9, 0xc7, 0x00, 0x00, 0x00, 0x48, 0x0f, 0x44, 0xc7, 0x48,
	0x89, 0x08, 0x48, 0x01, 0xcd, 0x48, 0x83, 0xc1, 0x01, 0x48, 0x81, 0xf9, 0xc8,
	0x00, 0x00, 0x00, 0x72, 0xdf, 0x48, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00, 0x48,
	0x83, 0xc5, 0x07, 0x49, 0x89, 0xea, 0x41, 0xff, 0xc9, 0x75, 0xca, 0xe6, 0xf4,
};

/*
 * lea handler(%rip), %rax
 * movw %ax, 0x30400
 * movw $0x08, 0x30402
 * movw $0x8e00, 0x30404
 * shr $16, %rax
 * movw %ax, 0x30406
 * shr $16, %rax
 * movl %eax, 0x30408
 * movl $0, 0x3040c
 * lidt idtr(%rip)
 * mov $0xc0000083, %eax
 * mov %rax, 0x11018
 * mov $0xfee00000, %ebx
 * movl $0x1ff, 0xf0(%rbx)
 * movl $0xb, 0x3e0(%rbx)
 * movl $0x20040, 0x320(%rbx)
 * movl $1000, 0x380(%rbx)
 * movabs $0x100000001b3, %r11
 * xor %eax, %eax
 * xor %ecx, %ecx
 * sti
 * 1: imul %r11, %rax
 * add %rcx, %rax
 * add $1, %rcx
 * jmp 2f
 * 2: cmpq $50, 0x31000
 * mov %rax, %rdx
 * jb 1b
 * cli
 * out %al, $0xf4
 * handler:
 * incq 0x31000
 * movl $0, 0xb0(%rbx)
 * add %r12, %r13
 * jmp 2f
 * 2: iretq
 * .p2align 3
 * idtr: .word 0xfff
 * .quad 0x30000
 */
static const uint8_t code_storm[] = {
	0x48, 0x8d, 0x05, 0xac, 0x00, 0x00, 0x00, 0x66, 0x89, 0x04, 0x25, 0x00, 0x04, 0x03, 0x00,
	0x66, 0xc7, 0x04, 0x25, 0x02, 0x04, 0x03, 0x00, 0x08, 0x00, 0x66, 0xc7, 0x04, 0x25, 0x04,
	0x04, 0x03, 0x00, 0x00, 0x8e, 0x48, 0xc1, 0xe8, 0x10, 0x66, 0x89, 0x04, 0x25, 0x06, 0x04,
	0x03, 0x00, 0x48, 0xc1, 0xe8, 0x10, 0x89, 0x04, 0x25, 0x08, 0x04, 0x03, 0x00, 0xc7, 0x04,
	0x25, 0x0c, 0x04, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0x84, 0x00, 0x00,
	0x00, 0xb8, 0x83, 0x00, 0x00, 0xc0, 0x48, 0x89, 0x04, 0x25, 0x18, 0x10, 0x01, 0x00, 0xbb,
	0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x83, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00, 0x00, 0xc7,
	0x83, 0xe0, 0x03, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0xc7, 0x83, 0x20, 0x03, 0x00, 0x00,
	0x40, 0x00, 0x02, 0x00, 0xc7, 0x83, 0x80, 0x03, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00, 0x49,
	0xbb, 0xb3, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x31, 0xc0, 0x31, 0xc9, 0xfb, 0x49,
	0x0f, 0xaf, 0xc3, 0x48, 0x01, 0xc8, 0x48, 0x83, 0xc1, 0x01, 0xeb, 0x00, 0x48, 0x83, 0x3c,
	0x25, 0x00, 0x10, 0x03, 0x00, 0x32, 0x48, 0x89, 0xc2, 0x72, 0xe5, 0xfa, 0xe6, 0xf4, 0x48,
	0xff, 0x04, 0x25, 0x00, 0x10, 0x03, 0x00, 0xc7, 0x83, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x4d, 0x01, 0xe5, 0xeb, 0x00, 0x48, 0xcf, 0x0f, 0x1f, 0x40, 0x00, 0xff, 0x0f,
	0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* cross: head (mov $500,%ecx; xor; xor; jmp to 0xff0) */
static const uint8_t cross_head[] = {
	0xb9, 0xf4, 0x01, 0x00, 0x00, 0x31, 0xc0, 0x31,
	0xdb, 0xe9, 0xe2, 0x0f, 0x00, 0x00, 0x00, 0x00,
};
/* cross: at 0xff0, the loop whose movabs straddles the page (see cross.s in the test) */
static const uint8_t cross_loop[] = {
	0x48, 0x01, 0xc8, 0x48, 0x6b, 0xc0, 0x03, 0x48, 0x83, 0xc3, 0x05,
	0x48, 0xba, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x48,
	0x31, 0xd3, 0x48, 0x01, 0xd8, 0xff, 0xc9, 0x75, 0xe1, 0xe6, 0xf4,
};
/*
 * A CALL into another page and the RET back, both translated (the RET
 * and the cross-page CALL through the jump cache), while the code at the
 * return site is rewritten half-way: the block after the RET must be the
 * new one, never the one the jump cache found before.
 *
 * start:
 * xor %ebx, %ebx
 * mov $200, %r12d
 * 2: call f
 * ret_site:
 * add $1, %rbx
 * cmp $100, %r12d
 * jne 3f
 * movb $5, ret_site+3(%rip)
 * 3: dec %r12d
 * jnz 2b
 * out %al, $0xf4
 * .org 0x1000
 * f: add $2, %rbx
 * ret
 */
static const uint8_t code_retpatch[] = {
	0x31, 0xdb, 0x41, 0xbc, 0xc8, 0x00, 0x00, 0x00, 0xe8, 0xf3, 0x0f, 0x00, 0x00,
	0x48, 0x83, 0xc3, 0x01, 0x41, 0x83, 0xfc, 0x64, 0x75, 0x07, 0xc6, 0x05, 0xf2,
	0xff, 0xff, 0xff, 0x05, 0x41, 0xff, 0xcc, 0x75, 0xe5, 0xe6, 0xf4,
};
static const uint8_t code_retpatch_f[] = {
	0x48, 0x83, 0xc3, 0x02, 0xc3,
};

/*
 * The same linear page mapped to other code: 4 KiB page tables at 0x40000
 * map linear 0x5000 to the code at physical 0x3000 (mov $1, %eax; ret),
 * and half-way to the code at 0x4000 (mov $2, %eax; ret) with a PTE
 * write and INVLPG. A CALL to 0x5000 goes through the jump cache, which
 * must forget the old translation with the TLB.
 *
 * start:
 * mov $0x43000, %edi
 * xor %ecx, %ecx
 * 1: lea 3(%rcx), %rax
 * mov %rax, (%rdi)
 * add $8, %rdi
 * add $0x1000, %rcx
 * cmp $0x200000, %rcx
 * jb 1b
 * movq $0x42003, 0x41000
 * movq $0x43003, 0x42000
 * movq $0x41003, 0x40000
 * movq $0x3003, 0x43028
 * mov $0x40000, %eax
 * mov %rax, %cr3
 * xor %ebx, %ebx
 * mov $200, %r12d
 * 2: call start + 0x4000
 * add %rax, %rbx
 * cmp $100, %r12d
 * jne 3f
 * movq $0x4003, 0x43028
 * invlpg 0x5000
 * 3: dec %r12d
 * jnz 2b
 * out %al, $0xf4
 */
static const uint8_t code_remap[] = {
	0xbf, 0x00, 0x30, 0x04, 0x00, 0x31, 0xc9, 0x48, 0x8d, 0x41, 0x03, 0x48, 0x89, 0x07,
	0x48, 0x83, 0xc7, 0x08, 0x48, 0x81, 0xc1, 0x00, 0x10, 0x00, 0x00, 0x48, 0x81, 0xf9,
	0x00, 0x00, 0x20, 0x00, 0x72, 0xe5, 0x48, 0xc7, 0x04, 0x25, 0x00, 0x10, 0x04, 0x00,
	0x03, 0x20, 0x04, 0x00, 0x48, 0xc7, 0x04, 0x25, 0x00, 0x20, 0x04, 0x00, 0x03, 0x30,
	0x04, 0x00, 0x48, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x04, 0x00, 0x03, 0x10, 0x04, 0x00,
	0x48, 0xc7, 0x04, 0x25, 0x28, 0x30, 0x04, 0x00, 0x03, 0x30, 0x00, 0x00, 0xb8, 0x00,
	0x00, 0x04, 0x00, 0x0f, 0x22, 0xd8, 0x31, 0xdb, 0x41, 0xbc, 0xc8, 0x00, 0x00, 0x00,
	0xe8, 0x99, 0x3f, 0x00, 0x00, 0x48, 0x01, 0xc3, 0x41, 0x83, 0xfc, 0x64, 0x75, 0x14,
	0x48, 0xc7, 0x04, 0x25, 0x28, 0x30, 0x04, 0x00, 0x03, 0x40, 0x00, 0x00, 0x0f, 0x01,
	0x3c, 0x25, 0x00, 0x50, 0x00, 0x00, 0x41, 0xff, 0xcc, 0x75, 0xd9, 0xe6, 0xf4,
};
static const uint8_t code_remap_one[] = {
	0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3,
};
static const uint8_t code_remap_two[] = {
	0xb8, 0x02, 0x00, 0x00, 0x00, 0xc3,
};

/*
 * A device rewrites code by DMA (a write into guest RAM through its host
 * pointer, which no store hook sees) while the guest makes no interrupt
 * or exception: a port write at 0xf5 patches f's `mov $1, %eax` to load 2
 * (as a virtio device completing a request the guest then polls for).
 * The code epoch, which no longer advances at every slow-path visit,
 * must still advance within 64 of them, so the guest sees the new code
 * long before its bound of iterations runs out.
 *
 * start:
 * mov $100, %ecx
 * 1: call f
 * dec %ecx
 * jnz 1b
 * out %al, $0xf5
 * mov $10000000, %r12d
 * 2: call f
 * cmp $2, %eax
 * je 3f
 * dec %r12d
 * jnz 2b
 * 3: out %al, $0xf4
 * .org 0x1000
 * f: mov $1, %eax
 * ret
 */
static const uint8_t code_dma[] = {
	0xb9, 0x64, 0x00, 0x00, 0x00, 0xe8, 0xf6, 0x0f, 0x00, 0x00, 0xff, 0xc9, 0x75,
	0xf7, 0xe6, 0xf5, 0x41, 0xbc, 0x80, 0x96, 0x98, 0x00, 0xe8, 0xe5, 0x0f, 0x00,
	0x00, 0x83, 0xf8, 0x02, 0x74, 0x05, 0x41, 0xff, 0xcc, 0x75, 0xf1, 0xe6, 0xf4,
};
static const uint8_t code_dma_f[] = {
	0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3,
};

/*
 * movl $0xf4e6, 0      (out %al, $0xf4 at address 0)
 * push %rax            (the stack's translation in the TLB)
 * pop %rax
 * jmp 1f
 * 1: xor %eax, %eax
 * push %rax
 * ret                  (to 0, through the jump cache when compiled)
 */
static const uint8_t code_ret_zero[] = {
	0xc7, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00, 0xe6, 0xf4, 0x00,
	0x00, 0x50, 0x58, 0xeb, 0x00, 0x31, 0xc0, 0x50, 0xc3,
};

/*
 * A translated self-loop (one block branching to its own start, register
 * operands only) that only the LAPIC timer's handler ends: the handler
 * records the RFLAGS and RIP of each interrupt and counts in r12. It
 * hangs (the harness' alarm ends the test) if a compiled self-loop never
 * takes its interrupt. The loop's CMP is run again to remake the flags at
 * its exit (native_chain.c: regen_insn): the frame must hold the CMP's
 * flags.
 *
 * start:
 * lea handler(%rip), %rax
 * movw %ax, 0x30400
 * movw $0x08, 0x30402
 * movw $0x8e00, 0x30404
 * shr $16, %rax
 * movw %ax, 0x30406
 * shr $16, %rax
 * movl %eax, 0x30408
 * movl $0, 0x3040c
 * lidt idtr(%rip)
 * mov $0xc0000083, %eax
 * mov %rax, 0x11018
 * mov $0xfee00000, %ebx
 * movl $0x1ff, 0xf0(%rbx)
 * movl $0xb, 0x3e0(%rbx)
 * movl $0x20040, 0x320(%rbx)
 * movl $1000, 0x380(%rbx)
 * mov $0x31000, %r14d
 * xor %r12d, %r12d
 * xor %eax, %eax
 * xor %ecx, %ecx
 * sti
 * 1: add %rcx, %rax        (at 0x1094)
 * add $1, %rcx
 * cmp $20, %r12
 * jb 1b
 * cli
 * out %al, $0xf4
 * handler:
 * mov 16(%rsp), %r13
 * mov %r13, (%r14,%r12,8)
 * mov (%rsp), %r13
 * mov %r13, 0x100(%r14,%r12,8)
 * inc %r12
 * movl $0, 0xb0(%rbx)
 * iretq
 * .p2align 3
 * idtr: .word 0xfff
 * .quad 0x30000
 */
static const uint8_t code_selfloop_irq[] = {
	0x48, 0x8d, 0x05, 0x9d, 0x00, 0x00, 0x00, 0x66, 0x89, 0x04, 0x25, 0x00, 0x04, 0x03, 0x00,
	0x66, 0xc7, 0x04, 0x25, 0x02, 0x04, 0x03, 0x00, 0x08, 0x00, 0x66, 0xc7, 0x04, 0x25, 0x04,
	0x04, 0x03, 0x00, 0x00, 0x8e, 0x48, 0xc1, 0xe8, 0x10, 0x66, 0x89, 0x04, 0x25, 0x06, 0x04,
	0x03, 0x00, 0x48, 0xc1, 0xe8, 0x10, 0x89, 0x04, 0x25, 0x08, 0x04, 0x03, 0x00, 0xc7, 0x04,
	0x25, 0x0c, 0x04, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0x7c, 0x00, 0x00,
	0x00, 0xb8, 0x83, 0x00, 0x00, 0xc0, 0x48, 0x89, 0x04, 0x25, 0x18, 0x10, 0x01, 0x00, 0xbb,
	0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x83, 0xf0, 0x00, 0x00, 0x00, 0xff, 0x01, 0x00, 0x00, 0xc7,
	0x83, 0xe0, 0x03, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0xc7, 0x83, 0x20, 0x03, 0x00, 0x00,
	0x40, 0x00, 0x02, 0x00, 0xc7, 0x83, 0x80, 0x03, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00, 0x41,
	0xbe, 0x00, 0x10, 0x03, 0x00, 0x45, 0x31, 0xe4, 0x31, 0xc0, 0x31, 0xc9, 0xfb, 0x48, 0x01,
	0xc8, 0x48, 0x83, 0xc1, 0x01, 0x49, 0x83, 0xfc, 0x14, 0x72, 0xf3, 0xfa, 0xe6, 0xf4, 0x4c,
	0x8b, 0x6c, 0x24, 0x10, 0x4f, 0x89, 0x2c, 0xe6, 0x4c, 0x8b, 0x2c, 0x24, 0x4f, 0x89, 0xac,
	0xe6, 0x00, 0x01, 0x00, 0x00, 0x49, 0xff, 0xc4, 0xc7, 0x83, 0xb0, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x48, 0xcf, 0xff, 0x0f, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/*
 * A self-loop that reads the flags its CMP left in the iteration before
 * (ADC's carry): 100,000 iterations, several budgets, each one's flags
 * remade by running the CMP again at the loop's head.
 *
 * xor %eax, %eax
 * xor %ecx, %ecx
 * xor %edx, %edx
 * stc
 * 1: adc $0, %rdx
 * add %rcx, %rax
 * add $1, %rcx
 * cmp $100000, %rcx
 * jb 1b
 * out %al, $0xf4
 */
static const uint8_t code_adc_loop[] = {
	0x31, 0xc0, 0x31, 0xc9, 0x31, 0xd2, 0xf9, 0x48, 0x83, 0xd2, 0x00, 0x48, 0x01, 0xc8, 0x48,
	0x83, 0xc1, 0x01, 0x48, 0x81, 0xf9, 0xa0, 0x86, 0x01, 0x00, 0x72, 0xec, 0xe6, 0xf4,
};

/*
 * Block A's exit is linked to block B, then B's code changes (INCB of
 * its immediate), four times: the first entry through the old link finds
 * B changed (its chained entry compares the bytes) and leaves; the run
 * loop must link A's exit to the new B, not come back through the old
 * link at every later iteration (each of those a byte comparison that
 * differs and a trip through C).
 *
 * xor %eax, %eax
 * mov $4, %r9d
 * outer: mov $1000, %ecx
 * loop: dec %ecx
 * jz next
 * blockb: add $1, %rax
 * jmp loop
 * next: incb blockb+3(%rip)
 * dec %r9d
 * jnz outer
 * out %al, $0xf4
 */
static const uint8_t code_relink[] = {
	0x31, 0xc0, 0x41, 0xb9, 0x04, 0x00, 0x00, 0x00, 0xb9, 0xe8, 0x03, 0x00,
	0x00, 0xff, 0xc9, 0x74, 0x06, 0x48, 0x83, 0xc0, 0x01, 0xeb, 0xf6, 0xfe,
	0x05, 0xf7, 0xff, 0xff, 0xff, 0x41, 0xff, 0xc9, 0x75, 0xe6, 0xe6, 0xf4,
};

/*
 * An endless translated self-loop: only a stop request from another
 * thread (the VM layer's vmctl_request_stop, then vcpu_kick) ends it. It
 * hangs (the harness' alarm ends the test) if a compiled self-loop never
 * looks at its event word.
 *
 * xor %ecx, %ecx
 * xor %edx, %edx
 * 1: add $1, %rax          (at 0x1004)
 * cmp %rcx, %rdx
 * je 1b
 * out %al, $0xf4
 */
static const uint8_t code_endless[] = {
	0x31, 0xc9, 0x31, 0xd2, 0x48, 0x83, 0xc0, 0x01, 0x48, 0x39, 0xca, 0x74, 0xf7, 0xe6, 0xf4,
};

#define MEM_LO 0x20000
#define MEM_HI 0x229000 /* the data the snippets write (bails: 0x200000..) */

struct result {
	uint64_t r[16];
	uint64_t rip, flags;
	uint64_t links, runs, icount, native_insns;
	uint64_t rechecks_differed; /* chained entries that found their block changed */
	uint8_t mem[MEM_HI - MEM_LO];
};

enum mode { INTERP, RUNS, HOT, EAGER };

static void run_in(struct result *res, enum mode mode, const uint8_t *code, size_t len)
{
	setenv("VMON_EMU_NATIVE", mode == INTERP ? "0" : mode == EAGER ? "eager" : "1", 1);
	setenv("VMON_EMU_CHAIN", mode == RUNS ? "0" : "1", 1);
	/* The loops here (20 and 40 iterations) were sized for blocks
	 * compiled at their 16th entry, the default until 2026-12-07. */
	setenv("VMON_EMU_HOT", "16", 1);
	struct emu_cpu *c = emu_run(BOOT_MODE_LONG64, code, len);
	memcpy(res->r, c->r, sizeof(res->r));
	res->rip = c->rip;
	res->flags = emu_flags(c) & F_ARITH;
	res->links = c->native_links;
	res->runs = c->native_runs;
	res->icount = c->icount;
	res->native_insns = c->native_insns;
	res->rechecks_differed = c->stat_rechecks[0];
	assert_int_equal(gm_read(&mach.mem, res->mem, MEM_LO, sizeof(res->mem)), 0);
	emu_finish();
	unsetenv("VMON_EMU_NATIVE");
	unsetenv("VMON_EMU_CHAIN");
	unsetenv("VMON_EMU_HOT");
}

static struct result ri, rn;

static void expect_same(const struct result *a, const struct result *b)
{
	for (int i = 0; i < 16; i++) {
		if (a->r[i] != b->r[i])
			print_error("r%d: interpreter %#llx, compiled %#llx\n", i,
				    (unsigned long long)a->r[i], (unsigned long long)b->r[i]);
		assert_int_equal(a->r[i], b->r[i]);
	}
	assert_int_equal(a->rip, b->rip);
	assert_int_equal(a->flags, b->flags);
	assert_memory_equal(a->mem, b->mem, sizeof(a->mem));
	assert_int_equal(a->icount, b->icount);
}

/* Runs code in every mode against the interpreter; the hot-compiled run
 * must have chained at least `links` exits. */
static void all_modes(const uint8_t *code, size_t len, uint64_t links)
{
	run_in(&ri, INTERP, code, len);
	assert_int_equal(ri.runs, 0);
	for (enum mode m = RUNS; m <= EAGER; m++) {
		run_in(&rn, m, code, len);
		expect_same(&ri, &rn);
		assert_true(rn.runs > 0);
		if (m == RUNS)
			assert_int_equal(rn.links, 0);
		else
			assert_true(rn.links >= links);
	}
}

/* The last iteration's store misses the TLB: the interpreter finishes
 * the loop, and the exit the loop chained through before must not be
 * linked to the block after it. */
static void test_loop_left_after_bailout(void **state)
{
	all_modes(code_bails, sizeof(code_bails), 1);
	assert_int_equal(ri.r[9], 0);
	assert_int_equal(ri.r[5], 20 * (199 * 200 / 2 + 7));
	assert_int_equal(ri.r[10], ri.r[5]);
}

static void test_patched_chained_loop(void **state)
{
	all_modes(code_smc, sizeof(code_smc), 0);
	assert_int_equal(ri.r[0], 100 + 200 + 200); /* the patched ADD ran as patched */
	/* compiled on first sight, the inner loop (900 instructions, looping
	 * inside its own code) ran as host code before and after the patch */
	assert_true(rn.native_insns >= 600);
}

static void test_fault_in_chained_loop(void **state)
{
	all_modes(code_fault, sizeof(code_fault), 0);
	assert_true(rn.native_insns >= 1000); /* eager: the loop looped in its own code */
	assert_int_equal(ri.r[R_CX], 300);
	assert_int_equal(ri.r[2], 0x40000000);	  /* CR2 */
	assert_int_equal(ri.r[8], 0);		  /* not present, read, supervisor */
	assert_int_equal(ri.r[9], 0x1000 + 0x5e); /* the faulting ADD's own RIP */
}

static void test_page_crossing_instruction(void **state)
{
	static uint8_t code[0xff0 + sizeof(cross_loop)];
	memset(code, 0x90, sizeof(code));
	memcpy(code, cross_head, sizeof(cross_head));
	memcpy(code + 0xff0, cross_loop, sizeof(cross_loop));
	all_modes(code, sizeof(code), 0);
	assert_int_equal(ri.r[R_CX], 0);
	/* The movabs at 0x1ffb straddles 0x2000: it ran 500 times. */
	assert_int_equal(ri.r[2], 0x1122334455667788ULL);
}

/* Timer interrupts every 200 µs while a loop of two chained blocks runs until the
 * handler has counted 50 of them: how many iterations that takes depends
 * on the host, so the loop's result is checked against its count. The
 * handler's first block is a translated block too: the loop's exit that
 * left for the interrupt must not be linked to it. */
static void test_interrupt_storm(void **state)
{
	for (enum mode m = INTERP; m <= EAGER; m++) {
		run_in(&rn, m, code_storm, sizeof(code_storm));
		uint64_t x = 0;
		for (uint64_t i = 0; i < rn.r[R_CX]; i++)
			x = x * 0x100000001b3ULL + i;
		assert_int_equal(rn.r[0], x);
		uint64_t ticks;
		memcpy(&ticks, rn.mem + (0x31000 - MEM_LO), 8);
		assert_true(ticks >= 50);
		assert_int_equal(rn.r[R_SP], 0x8000); /* every IRETQ balanced its frame */
		if (m == HOT || m == EAGER)
			assert_true(rn.links >= 1);
	}
}

static void test_ret_target_rewritten(void **state)
{
	static uint8_t code[0x1000 + sizeof(code_retpatch_f)];
	memset(code, 0x90, sizeof(code));
	memcpy(code, code_retpatch, sizeof(code_retpatch));
	memcpy(code + 0x1000, code_retpatch_f, sizeof(code_retpatch_f));
	all_modes(code, sizeof(code), 1);
	/* 200 calls adding 2, 101 return sites adding 1, then 99 adding 5 */
	assert_int_equal(ri.r[R_BX], 400 + 101 + 99 * 5);
	assert_true(rn.native_insns >= 1000); /* eager: the calls and returns ran as host code */
}

static void test_jcache_remapped_page(void **state)
{
	static uint8_t code[0x3000 + sizeof(code_remap_two)];
	memset(code, 0x90, sizeof(code));
	memcpy(code, code_remap, sizeof(code_remap));
	memcpy(code + 0x2000, code_remap_one, sizeof(code_remap_one));
	memcpy(code + 0x3000, code_remap_two, sizeof(code_remap_two));
	all_modes(code, sizeof(code), 1);
	/* 101 calls before the remap, 99 after */
	assert_int_equal(ri.r[R_BX], 101 * 1 + 99 * 2);
}

/* A translated block's RET to RIP 0 looks 0 up in the jump cache, whose
 * empty slots must not match it (they held RIP 0 and no entry once: a
 * jump to address 0 of the host). */
static void test_ret_to_zero(void **state)
{
	for (enum mode m = INTERP; m <= EAGER; m++) {
		run_in(&rn, m, code_ret_zero, sizeof(code_ret_zero));
		assert_int_equal(rn.rip, 2); /* after the OUT at 0 */
		assert_int_equal(rn.r[R_SP], 0x8000);
		if (m == EAGER)
			assert_true(rn.native_insns >= 3); /* the RET ran as host code */
	}
}

/*
 * Blocks longer than a native run may be (255 bytes) whose every
 * instruction is eligible and whose last is a CALL or a RET: the block is
 * split into runs, and the run holding the CALL or RET must not take it
 * (a plain run would jump without pushing the return address, or pop and
 * fall through past the RET: issue 16, an int3 after sock_init_data_uid's
 * RET). Built by long_tail() (GNU as gives the same bytes):
 *
 * .org 0
 * start:
 * xor %ebx, %ebx
 * mov $40, %r12d
 * 1: movabs $1, %rax      ... 26 of them, $1..$26 (10 bytes each)
 * call f                  (the block: 265 bytes, ends in the CALL)
 * add %rax, %rbx
 * dec %r12d
 * jnz 1b
 * out %al, $0xf4
 * .org 0x1000
 * f: movabs $100, %rcx    ... 26 of them, $100..$125
 * add %rcx, %rbx
 * ret                     (the block: 264 bytes, ends in the RET)
 */
#define LONG_MOVS 26
static uint8_t *movabs_run(uint8_t *p, uint8_t opcode, uint64_t first)
{
	for (uint64_t i = 0; i < LONG_MOVS; i++) {
		uint64_t v = first + i;
		*p++ = 0x48;
		*p++ = opcode;
		memcpy(p, &v, 8);
		p += 8;
	}
	return p;
}

static void test_long_block_call_ret_tail(void **state)
{
	static uint8_t code[0x1200];
	static const uint8_t head[] = {0x31, 0xdb, 0x41, 0xbc, 0x28, 0x00, 0x00, 0x00};
	static const uint8_t call_f[] = {0xe8, 0xef, 0x0e, 0x00, 0x00};
	static const uint8_t tail[] = {0x48, 0x01, 0xc3, 0x41, 0xff, 0xcc, 0x0f,
				       0x85, 0xeb, 0xfe, 0xff, 0xff, 0xe6, 0xf4};
	static const uint8_t f_end[] = {0x48, 0x01, 0xcb, 0xc3};
	memset(code, 0x90, sizeof(code));
	memcpy(code, head, sizeof(head));
	uint8_t *p = movabs_run(code + sizeof(head), 0xb8, 1);
	assert_int_equal(p - code, 0x10c);
	memcpy(p, call_f, sizeof(call_f));
	memcpy(p + sizeof(call_f), tail, sizeof(tail));
	p = movabs_run(code + 0x1000, 0xb9, 100);
	memcpy(p, f_end, sizeof(f_end));
	all_modes(code, sizeof(code), 0);
	assert_int_equal(ri.r[R_BX], 40 * (26 + 125));
	assert_int_equal(ri.r[R_SP], 0x8000);
	assert_true(rn.native_insns >= 20 * 2 * LONG_MOVS); /* eager: the runs ran as host code */
}

static uint64_t dma_read(void *opaque, uint64_t off, unsigned size)
{
	return 0;
}

static void dma_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
	struct machine *m = opaque;
	const uint8_t two = 2;
	assert_int_equal(gm_write(&m->mem, 0x2001, &two, 1), 0); /* f's immediate */
}

static const struct bus_ops dma_ops = {.read = dma_read, .write = dma_write};

static void dma_device(struct machine *m)
{
	struct vmon_error err = {{0}};
	assert_int_equal(bus_register(&m->pio, 0xf5, 1, &dma_ops, m, "dma", &err), 0);
}

static void test_code_written_by_dma(void **state)
{
	static uint8_t code[0x1000 + sizeof(code_dma_f)];
	memset(code, 0x90, sizeof(code));
	memcpy(code, code_dma, sizeof(code_dma));
	memcpy(code + 0x1000, code_dma_f, sizeof(code_dma_f));
	emu_harness_devices = dma_device;
	for (enum mode m = INTERP; m <= EAGER; m++) {
		run_in(&rn, m, code, sizeof(code));
		assert_int_equal(rn.r[R_AX], 2); /* the new code ran */
		assert_true(rn.r[12] != 0);	 /* before the bound */
	}
	emu_harness_devices = NULL;
}

/*
 * Cross-modifying code, precise per-page invalidation (mmu.c:
 * emu_code_written): vCPU 1 stores into the page of f, which vCPU 0 runs
 * compiled and chained (code_dma above, its port write at 0xf5 making
 * vCPU 1's store, through vCPU 1's own store path, while vCPU 0 is
 * stopped at the OUT, as if the two ran at once). vCPU 1 holds no code
 * there: its own code epoch must not move; vCPU 0 must be told (its
 * xwrites) and see the new code within one budget (16384 compiled
 * instructions, ~2700 iterations of the loop), so the loop's bound is cut
 * to 20000 iterations: the DMA bound alone (64 quiet slow-path visits,
 * ~170000 iterations compiled) would not meet it.
 */
static uint64_t xw_epoch_b, xw_told_a;

static void xwrite_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
	struct machine *m = opaque;
	struct emu_vm *vm = m->backend_priv;
	uint64_t before = vm->cpus[1]->code_epoch;
	lin_write(vm->cpus[1], 0x2001, 1, 2); /* f's immediate, by vCPU 1 (paging off) */
	xw_epoch_b = vm->cpus[1]->code_epoch - before;
	xw_told_a = atomic_load(&vm->cpus[0]->xwrites);
}

static const struct bus_ops xwrite_ops = {.read = dma_read, .write = xwrite_write};

static void xwrite_device(struct machine *m)
{
	struct vmon_error err = {{0}};
	assert_int_equal(bus_register(&m->pio, 0xf5, 1, &xwrite_ops, m, "xwrite", &err), 0);
}

static void second_vcpu(struct machine *m)
{
	struct vmon_error err = {{0}};
	m->ncpus = 2;
	assert_int_equal(cpu_backend_emu.vcpu_create(m, 1, &err), 0);
}

static void test_code_written_by_other_vcpu(void **state)
{
	static uint8_t code[0x1000 + sizeof(code_dma_f)];
	memset(code, 0x90, sizeof(code));
	memcpy(code, code_dma, sizeof(code_dma));
	memcpy(code + 0x1000, code_dma_f, sizeof(code_dma_f));
	const uint32_t bound = 20000; /* mov $bound, %r12d */
	assert_int_equal(code[0x10], 0x41);
	memcpy(code + 0x12, &bound, 4);
	emu_harness_devices = xwrite_device;
	emu_harness_before_run = second_vcpu;
	for (enum mode m = INTERP; m <= EAGER; m++) {
		xw_epoch_b = xw_told_a = 99;
		run_in(&rn, m, code, sizeof(code));
		assert_int_equal(rn.r[R_AX], 2); /* the new code ran */
		assert_true(rn.r[12] != 0);	 /* before the bound */
		assert_int_equal(xw_epoch_b, 0); /* no code of vCPU 1's there */
		assert_int_equal(xw_told_a, 1);	 /* vCPU 0's was */
	}
	emu_harness_devices = NULL;
	emu_harness_before_run = NULL;
}

/* The arithmetic flags of CMP a, b (64-bit). */
static uint64_t cmp_flags(uint64_t a, uint64_t b)
{
	uint64_t r = a - b, f = 0;
	f |= a < b ? F_CF : 0;
	f |= r == 0 ? F_ZF : 0;
	f |= r >> 63 ? F_SF : 0;
	f |= ((a ^ b) & (a ^ r)) >> 63 ? F_OF : 0;
	f |= (a ^ b ^ r) & F_AF;
	f |= __builtin_parity((unsigned)(r & 0xff)) ? 0 : F_PF;
	return f;
}

static void test_selfloop_takes_interrupts(void **state)
{
	for (enum mode m = INTERP; m <= EAGER; m++) {
		run_in(&rn, m, code_selfloop_irq, sizeof(code_selfloop_irq));
		assert_int_equal(rn.r[12], 20);
		assert_int_equal(rn.r[R_SP], 0x8000);
		uint64_t x = 0;
		for (uint64_t i = 0; i < rn.r[R_CX]; i++)
			x += i;
		assert_int_equal(rn.r[R_AX], x);
		unsigned in_loop = 0;
		for (uint64_t i = 0; i < 20; i++) {
			uint64_t fl, rip;
			memcpy(&fl, rn.mem + (0x31000 + 8 * i - MEM_LO), 8);
			memcpy(&rip, rn.mem + (0x31100 + 8 * i - MEM_LO), 8);
			if (rip != 0x1094)
				continue; /* e.g. right after STI's shadow */
			in_loop++;
			if ((fl & F_ARITH) != cmp_flags(i, 20))
				print_error("interrupt %u: flags %#llx, the CMP's %#llx\n",
					    (unsigned)i, (unsigned long long)(fl & F_ARITH),
					    (unsigned long long)cmp_flags(i, 20));
			assert_int_equal(fl & F_ARITH, cmp_flags(i, 20));
			assert_true(fl & F_IF);
		}
		assert_true(in_loop >= 15);
		if (m == HOT || m == EAGER) /* the loop ran as translated code */
			assert_true(rn.native_insns >= 10000);
	}
}

static void test_selfloop_flags_in(void **state)
{
	all_modes(code_adc_loop, sizeof(code_adc_loop), 0);
	assert_int_equal(ri.r[R_DX], 100000); /* every carry went in */
	assert_int_equal(ri.r[R_CX], 100000);
	assert_true(rn.native_insns >= 400000); /* eager: the loop looped in its own code */
}

static void test_changed_block_relinked(void **state)
{
	run_in(&ri, INTERP, code_relink, sizeof(code_relink));
	assert_int_equal(ri.r[R_AX], 999 * (1 + 2 + 3 + 4));
	for (enum mode m = HOT; m <= EAGER; m++) { /* (blocks too short for plain runs) */
		run_in(&rn, m, code_relink, sizeof(code_relink));
		expect_same(&ri, &rn);
		assert_true(rn.links >= 1);
		/* Hot: the old link is taken until the new B is compiled (16
		 * entries) and linked, after each of the 4 changes. Without
		 * the relink: ~1000 per change. */
		assert_true(rn.rechecks_differed <= 4 * 20);
	}
}

static void *stop_later(void *arg)
{
	struct machine *m = arg;
	usleep(200 * 1000);
	vmctl_request_stop(&m->ctl, VM_STOP_DEBUG_EXIT, 0);
	m->backend->vcpu_kick(m, 0);
	return NULL;
}

static pthread_t stopper;

static void start_stopper(struct machine *m)
{
	assert_int_equal(pthread_create(&stopper, NULL, stop_later, m), 0);
}

static void test_selfloop_stopped(void **state)
{
	emu_harness_before_run = start_stopper;
	for (enum mode m = INTERP; m <= EAGER; m++) {
		run_in(&rn, m, code_endless, sizeof(code_endless));
		pthread_join(stopper, NULL);
		assert_int_equal(rn.rip, 0x1004); /* between two iterations */
		assert_true(rn.r[R_AX] > 0);
		assert_int_equal(rn.flags & F_ZF, F_ZF); /* the loop CMP's flags */
		if (m == HOT || m == EAGER)
			assert_true(rn.native_insns > 0);
	}
	emu_harness_before_run = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_left_after_bailout),
		cmocka_unit_test(test_patched_chained_loop),
		cmocka_unit_test(test_fault_in_chained_loop),
		cmocka_unit_test(test_page_crossing_instruction),
		cmocka_unit_test(test_interrupt_storm),
		cmocka_unit_test(test_ret_target_rewritten),
		cmocka_unit_test(test_jcache_remapped_page),
		cmocka_unit_test(test_ret_to_zero),
		cmocka_unit_test(test_code_written_by_dma),
		cmocka_unit_test(test_code_written_by_other_vcpu),
		cmocka_unit_test(test_long_block_call_ret_tail),
		cmocka_unit_test(test_selfloop_takes_interrupts),
		cmocka_unit_test(test_selfloop_flags_in),
		cmocka_unit_test(test_changed_block_relinked),
		cmocka_unit_test(test_selfloop_stopped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
