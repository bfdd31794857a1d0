/* SPDX-License-Identifier: MIT */
/* Constants shared by boot.S and the C runtime. */
#ifndef RT_LAYOUT_H
#define RT_LAYOUT_H

#define GDT_CODE32 0x08
#define GDT_DATA 0x10
#define GDT_CODE64 0x18

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_U 0x4
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_PS 0x80

#define CR0_PE 0x1
#define CR0_WP 0x10000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define EFER_NXE 0x800

#define RT_MAX_CPUS 32
#define BSP_STACK_SIZE 16384
#define AP_STACK_SHIFT 13
#define AP_STACK_SIZE (1 << AP_STACK_SHIFT)

#endif
