/* SPDX-License-Identifier: MIT */
/*
 * vmon test-guest kit: PVH entry, long-mode switch, AP entry, the AP
 * real-mode trampoline and the interrupt stubs.
 *
 * PVH entry state: 32-bit protected mode, paging off, flat CS/DS,
 * EBX = physical address of struct hvm_start_info.
 */
#include "layout.h"

/* ---- PVH ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18), owner "Xen" ---- */
	.section .note.Xen, "a"
	.balign 4
	.long 4			/* namesz ("Xen\0") */
	.long 8			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.quad pvh_entry		/* physical entry (fits in 32 bits) */
	.balign 4

/* ---- 32-bit entry ---- */
	.section .text.boot, "ax"
	.code32
	.globl pvh_entry
pvh_entry:
	cli
	cld
	movl %ebx, rt_start_info_paddr
	lgdt rt_gdt_desc
	ljmp $GDT_CODE32, $1f
1:	movw $GDT_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl $rt_boot_stack_top, %esp

	/* Zero .bss (page tables live there). */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	shrl $2, %ecx
	xorl %eax, %eax
	rep stosl

	/* PML4[0] -> PDPT; PDPT[0..3] -> 4 page directories of 2 MiB pages
	 * identity-mapping 0..4 GiB. 3..4 GiB (MMIO hole: IOAPIC, LAPIC,
	 * unclaimed MMIO) is mapped PCD|PWT. */
	movl $rt_pdpt, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, rt_pml4
	movl $rt_pd, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, rt_pdpt
	addl $4096, %eax
	movl %eax, rt_pdpt + 8
	addl $4096, %eax
	movl %eax, rt_pdpt + 16
	addl $4096, %eax
	movl %eax, rt_pdpt + 24

	movl $rt_pd, %edi
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $21, %eax
	orl $(PTE_P | PTE_W | PTE_PS), %eax
	cmpl $1536, %ecx
	jb 3f
	orl $(PTE_PWT | PTE_PCD), %eax
3:	movl %eax, (%edi,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jb 2b

	xorl %ebp, %ebp		/* 0: bootstrap processor */
	jmp enter_long

/* Application processors arrive here from the trampoline, CS = code32. */
	.globl rt_ap_entry32
rt_ap_entry32:
	movw $GDT_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl $1, %ebp		/* 1: application processor */

enter_long:
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $rt_pml4, %eax
	movl %eax, %cr3

	/* EFER.LME, plus NXE when CPUID says NX exists. */
	movl $EFER_LME, %edi
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb 4f
	movl $0x80000001, %eax
	cpuid
	btl $20, %edx
	jnc 4f
	orl $EFER_NXE, %edi
4:	movl $MSR_EFER, %ecx
	rdmsr
	orl %edi, %eax
	wrmsr

	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $GDT_CODE64, $long_entry

	.code64
long_entry:
	movw $GDT_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	testl %ebp, %ebp
	jnz ap_long

	movq $rt_boot_stack_top, %rsp
	xorl %ebp, %ebp
	call rt_bsp_entry
	jmp rt_halt_forever

ap_long:
	movl $1, %eax
	lock xaddl %eax, rt_ap_ticket(%rip)
	incl %eax			/* cpu index: 1, 2, ... */
	cmpl $RT_MAX_CPUS, %eax
	jae rt_halt_forever
	movl %eax, %edi
	movl %eax, %ecx
	shll $AP_STACK_SHIFT, %ecx	/* top of slot idx-1 */
	leaq rt_ap_stacks(%rip), %rsp
	addq %rcx, %rsp
	xorl %ebp, %ebp
	call rt_ap_entry
	/* fall through */
	.globl rt_halt_forever
rt_halt_forever:
	cli
	hlt
	jmp rt_halt_forever

/* ---- AP trampoline: copied below 1 MiB, entered in real mode with
 * CS = page >> 4, IP = 0. Position independent (uses CS). ---- */
	.code16
	.globl rt_tramp_start, rt_tramp_end
	.balign 16
rt_tramp_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdt_desc - rt_tramp_start
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $GDT_CODE32, $rt_ap_entry32
	.balign 8
tramp_gdt_desc:
	.word rt_gdt_end - rt_gdt - 1
	.long rt_gdt
rt_tramp_end:

/* ---- Interrupt stubs: 256 of them, 16 bytes apart ---- */
	.code64
	.text
	.balign 16
	.globl rt_isr_stubs
rt_isr_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	/* the CPU pushed an error code */
	.else
	pushq $0
	.endif
	pushq $vec
	jmp rt_isr_common
	.set vec, vec + 1
	.endr

rt_isr_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call rt_trap
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq

/* ---- Data ---- */
	.data
	.balign 16
	.globl rt_gdt, rt_gdt_end
rt_gdt:
	.quad 0				/* null */
	.quad 0x00cf9a000000ffff	/* 0x08: code32 */
	.quad 0x00cf92000000ffff	/* 0x10: data */
	.quad 0x00af9a000000ffff	/* 0x18: code64 */
rt_gdt_end:
	.balign 8
	.globl rt_gdt_desc
rt_gdt_desc:
	.word rt_gdt_end - rt_gdt - 1
	.long rt_gdt
	.long 0

	.globl rt_start_info_paddr
	.balign 8
rt_start_info_paddr:
	.quad 0
	.globl rt_ap_ticket
rt_ap_ticket:
	.long 0

/* Page tables (zeroed at entry). */
	.bss
	.balign 4096
	.globl rt_pml4, rt_pdpt, rt_pd
rt_pml4:
	.skip 4096
rt_pdpt:
	.skip 4096
rt_pd:
	.skip 4 * 4096

	.section .stack, "aw", @nobits
	.balign 4096
	.skip BSP_STACK_SIZE
	.globl rt_boot_stack_top
rt_boot_stack_top:
	.globl rt_ap_stacks
rt_ap_stacks:
	.skip (RT_MAX_CPUS - 1) * AP_STACK_SIZE

	.section .note.GNU-stack, "", @progbits
