/* SPDX-License-Identifier: MIT */
/*
 * ring3: what the CPU enforces on user-mode (CPL 3) code, run from small
 * code snippets copied into a user page:
 *   - UMIP: SGDT, SIDT, SLDT, STR and SMSW run at CPL 3 without CR4.UMIP
 *     and raise #GP(0) with it (when CPUID.7.ECX[2] offers it);
 *   - the TSS's I/O permission bitmap with IOPL 0: a port whose bit is
 *     clear (0x80) is allowed; a set bit (0x81), a word access that
 *     covers a set bit, and a port beyond the TSS limit raise #GP(0);
 *     with IOPL 3 the bitmap is not consulted;
 *   - SYSENTER/SYSEXIT (when CPUID.1.EDX[11] offers them): from 32-bit
 *     compatibility mode and from 64-bit mode into the IA32_SYSENTER_*
 *     entry point, back with SYSEXIT (32- and 64-bit forms), with the
 *     selectors, stack and RIP the SDM gives.
 *   - SMAP and protection keys from user mode (when CPUID.7 offers them):
 *     STAC is #UD at CPL 3; CR4.SMAP leaves user accesses alone; with
 *     CR4.PKE and the user region's key 1, PKRU's AD makes a user read a
 *     #PF with P, U/S and PK, WD a user write one with W/R too; RDPKRU and
 *     WRPKRU work at CPL 3 and WRPKRU's rights apply to the next access.
 *   - segment privilege (SDM vol. 3 5.10): at CPL 3, MOV DS and MOV SS of
 *     the kernel's data segment (DPL 0) are #GP(selector), MOV DS of a
 *     user data segment loads; IRETQ to CPL 3 leaves DS and ES null when
 *     they held the DPL 0 segment.
 * A snippet ends with HLT, which at CPL 3 is a #GP(0): the handler records
 * the fault and returns to ring 0. Runs on the software CPU (kit_backends:
 * KVM on an AMD host cannot run SYSENTER in long mode).
 */
#include "rt.h"

/* A 2 MiB identity-mapped region opened to user mode for the snippets
 * (below 4 GiB, so 32-bit code reaches it). Needs --mem 64M or more. */
#define USER_BASE     0x1000000ul
#define USER_CODE     USER_BASE
#define USER_STACK    (USER_BASE + 0x100000)
#define USER_PDE      (USER_BASE >> 21)
#define CR4_UMIP      (1ull << 11)
#define CR4_SMAP      (1ull << 21)
#define CR4_PKE	      (1ull << 22)
#define SEL_KCODE     0x18
#define SEL_KDATA     0x10
#define SEL_UCODE32   0x2b
#define SEL_UDATA32   0x33
#define SEL_UCODE64   0x3b
#define SEL_UDATA64   0x43
#define SEL_TSS	      0x48
#define MSR_SYSENTER_CS	 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define IOMAP_OFF     0x68
#define IOMAP_BYTES   32 /* ports 0..255, then the 0xff byte */

/* GDT: the runtime's three descriptors at the same selectors, then what
 * SYSENTER/SYSEXIT expect after IA32_SYSENTER_CS = 0x18 (+8 kernel
 * stack, +16/+24 32-bit user code/stack, +32/+40 64-bit user code/stack),
 * then the TSS. */
static u64 gdt[11] __attribute__((aligned(16))) = {
	0,
	0x00cf9a000000ffffull, /* 0x08 code32 */
	0x00cf92000000ffffull, /* 0x10 data */
	0x00af9a000000ffffull, /* 0x18 code64 */
	0x00cf92000000ffffull, /* 0x20 data (SYSENTER's SS) */
	0x00cffa000000ffffull, /* 0x28 user code32 */
	0x00cff2000000ffffull, /* 0x30 user data */
	0x00affa000000ffffull, /* 0x38 user code64 */
	0x00cff2000000ffffull, /* 0x40 user data */
	0,		       /* 0x48 TSS, filled in */
	0,
};
static struct {
	u16 limit;
	u64 base;
} __attribute__((packed)) gdt_desc;
static u8 tss[IOMAP_OFF + IOMAP_BYTES + 1] __attribute__((aligned(16)));
static u8 kstack[4096] __attribute__((aligned(16)));
static u8 sysenter_stack[4096] __attribute__((aligned(16)));

/* Set by the handler / the SYSENTER entry, read by the checks. */
volatile u64 kern_rsp, user_resume;
volatile u64 seen_vector, seen_err, seen_rip, seen_cs, seen_count;
volatile u64 landed_rsp, landed_cs, landed_ss, landed_count, sysexit64;
static unsigned failures;

/* ---- Snippets (copied to USER_CODE; position-independent) ---- */
#define SNIPPET(name, body)                                                                        \
	__asm__(".pushsection .rodata\n\t.globl " #name "\n" #name ":\n\t" body                    \
		"\n\t.globl " #name "_end\n" #name "_end:\n\t.popsection");                        \
	extern const u8 name[], name##_end[];
SNIPPET(u_sgdt, "sgdt -16(%rsp)\n\thlt")
SNIPPET(u_sidt, "sidt -16(%rsp)\n\thlt")
SNIPPET(u_sldt, "sldt %eax\n\thlt")
SNIPPET(u_str, "str %eax\n\thlt")
SNIPPET(u_smsw, "smsw %eax\n\thlt")
SNIPPET(u_in80, "in $0x80, %al\n\thlt")
SNIPPET(u_in81, "mov $0x81, %dx\n\tin (%dx), %al\n\thlt")
SNIPPET(u_inw80, "mov $0x80, %dx\n\tin (%dx), %ax\n\thlt")
SNIPPET(u_in3f8, "mov $0x3f8, %dx\n\tin (%dx), %al\n\thlt")
SNIPPET(u_sysenter32, ".code32\n\tsysenter\n\thlt\n\t.code64")
SNIPPET(u_sysenter64, "sysenter\n\thlt")
SNIPPET(u_stac, "stac\n\thlt")
SNIPPET(u_read, "mov (%rsp), %rax\n\thlt")
SNIPPET(u_write, "mov %rax, (%rsp)\n\thlt")
SNIPPET(u_ld_ds_k, "mov $0x10, %eax\n\tmov %eax, %ds\n\thlt")
SNIPPET(u_ld_ss_k, "mov $0x10, %eax\n\tmov %eax, %ss\n\thlt")
SNIPPET(u_ld_ds_u, "mov $0x43, %eax\n\tmov %eax, %ds\n\thlt")
/* HLT (a #GP) if DS and ES are null, else UD2 (a #UD). */
SNIPPET(u_ds_es_null, "mov %ds, %eax\n\tmov %es, %ecx\n\tor %ecx, %eax\n\tjnz 1f\n\thlt\n1:\tud2")
/* HLT (a #GP) if RDPKRU gives 8 (WD for key 1), else UD2 (a #UD). */
SNIPPET(u_rdpkru, "xor %ecx, %ecx\n\trdpkru\n\tcmp $8, %eax\n\tjne 1f\n\thlt\n1:\tud2")
/* WRPKRU AD for key 1, then a read of the (key-1) stack. */
SNIPPET(u_wrpkru, "xor %ecx, %ecx\n\txor %edx, %edx\n\tmov $4, %eax\n\twrpkru\n\t"
		  "mov (%rsp), %rax\n\thlt")

/* The SYSENTER entry point: records where it landed, then SYSEXITs to
 * the HLT after the snippet's SYSENTER (EDX/RDX) on the user stack
 * (ECX/RCX). */
__asm__(".text\n\t.globl sysenter_entry\nsysenter_entry:\n\t"
	"mov %rsp, landed_rsp(%rip)\n\t"
	"movq $0, %rax\n\tmov %cs, %ax\n\tmov %rax, landed_cs(%rip)\n\t"
	"mov %ss, %ax\n\tmov %rax, landed_ss(%rip)\n\t"
	"incq landed_count(%rip)\n\t"
	"mov $0x1000002, %edx\n\t" /* USER_CODE + 2: the HLT after SYSENTER */
	"mov $0x1100000, %ecx\n\t" /* USER_STACK */
	"cmpq $0, sysexit64(%rip)\n\tjne 1f\n\t"
	"sysexit\n"
	"1:\tsysexitq");
extern const u8 sysenter_entry[];

static bool hook(struct rt_frame *f, u64 cr2)
{
	(void)cr2;
	if (!user_resume || (f->cs & 3) != 3)
		return false;
	seen_count++;
	seen_vector = f->vector;
	seen_err = f->err;
	seen_rip = f->rip;
	seen_cs = f->cs;
	/* Back to ring 0, after run_user's IRETQ, on its stack. */
	f->rip = user_resume;
	f->cs = SEL_KCODE;
	f->ss = SEL_KDATA;
	f->rsp = kern_rsp;
	f->rflags = 0x2;
	user_resume = 0;
	return true;
}

/* Runs code at CPL 3 until it faults; callee-saved registers survive. */
static void run_user(u64 rip, u64 cs, u64 ss, u64 rflags)
{
	seen_count = 0;
	seen_vector = seen_err = seen_rip = seen_cs = ~0ull;
	__asm__ volatile("push %%rbx\n\tpush %%rbp\n\tpush %%r12\n\tpush %%r13\n\t"
			 "push %%r14\n\tpush %%r15\n\t"
			 "lea 1f(%%rip), %%rax\n\tmov %%rax, user_resume(%%rip)\n\t"
			 "mov %%rsp, kern_rsp(%%rip)\n\t"
			 "pushq %[ss]\n\tpushq %[sp]\n\tpushq %[fl]\n\tpushq %[cs]\n\tpushq %[ip]\n\t"
			 "iretq\n"
			 "1:\n\tpop %%r15\n\tpop %%r14\n\tpop %%r13\n\tpop %%r12\n\t"
			 "pop %%rbp\n\tpop %%rbx"
			 :
			 : [ss] "r"(ss), [sp] "r"(USER_STACK), [fl] "r"(rflags), [cs] "r"(cs),
			   [ip] "r"(rip)
			 : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
}

static void wrpkru0(u32 v)
{
	__asm__ volatile("wrpkru" : : "a"(v), "c"(0), "d"(0) : "memory");
}

/* PKRU while a snippet runs (>= 0, CR4.PKE set): 0 while it is copied. */
static long snippet_pkru = -1;

/* Copies a snippet to the user page and runs it in 64-bit user mode
 * (IOPL from rflags); the fault's RIP is returned as an offset. */
static u64 run_snippet(const u8 *start, const u8 *end, u64 cs, u64 ss, u64 rflags)
{
	/* With EFLAGS.AC set, for CR4.SMAP (POPF: STAC needs SMAP). */
	u64 fl;
	__asm__ volatile("pushfq; pop %0" : "=r"(fl));
	__asm__ volatile("push %0; popfq" : : "r"(fl | (1ull << 18)) : "memory", "cc");
	memcpy((void *)USER_CODE, start, (size_t)(end - start));
	__asm__ volatile("push %0; popfq" : : "r"(fl) : "memory", "cc");
	if (snippet_pkru >= 0)
		wrpkru0((u32)snippet_pkru);
	run_user(USER_CODE, cs, ss, rflags);
	if (snippet_pkru >= 0)
		wrpkru0(0);
	return seen_rip - USER_CODE;
}

static void expect(const char *name, bool ok)
{
	kprintf("%s: %s (vector=%lu err=0x%lx rip=+0x%lx cs=0x%lx)\n", ok ? "ok  " : "BAD ", name,
		seen_vector, seen_err, seen_rip - USER_CODE, seen_cs);
	if (!ok)
		failures++;
}

/* The snippet faulted with #GP(0) at offset off (0: its first
 * instruction; the HLT's offset: it ran through). */
static bool gp_at(u64 off)
{
	return seen_count == 1 && seen_vector == 13 && seen_err == 0 && seen_rip == USER_CODE + off;
}

#define RUN64(s, fl) run_snippet(s, s##_end, SEL_UCODE64, SEL_UDATA64, fl)
#define HLT_OFF(s)   ((u64)(s##_end - s) - 1)

static void setup(void)
{
	u64 base = (u64)(uintptr_t)tss, limit = sizeof(tss) - 1;
	*(u64 *)(tss + 4) = (u64)(uintptr_t)(kstack + sizeof(kstack)); /* RSP0 */
	*(u16 *)(tss + 0x66) = IOMAP_OFF;
	for (int i = 0; i < IOMAP_BYTES; i++)
		tss[IOMAP_OFF + i] = 0xff; /* every port denied ... */
	tss[IOMAP_OFF + 0x80 / 8] = 0xfe; /* ... but 0x80 */
	tss[IOMAP_OFF + IOMAP_BYTES] = 0xff;
	gdt[SEL_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
			   ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	gdt_desc.limit = sizeof(gdt) - 1;
	gdt_desc.base = (u64)(uintptr_t)gdt;
	__asm__ volatile("lgdt %0\n\tltr %w1" : : "m"(gdt_desc), "r"(SEL_TSS) : "memory");
	rt_pml4[0] |= PTE_U;
	rt_pdpt[0] |= PTE_U;
	rt_pd[USER_PDE] |= PTE_U;
	write_cr3(read_cr3());
}

static void umip_checks(bool offered)
{
	static const struct {
		const char *name;
		const u8 *s, *e;
	} ins[] = {
		{"SGDT", u_sgdt, u_sgdt_end}, {"SIDT", u_sidt, u_sidt_end},
		{"SLDT", u_sldt, u_sldt_end}, {"STR", u_str, u_str_end},
		{"SMSW", u_smsw, u_smsw_end},
	};
	u64 cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	for (unsigned i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		run_snippet(ins[i].s, ins[i].e, SEL_UCODE64, SEL_UDATA64, 0x2);
		kprintf("     %s at CPL 3 without UMIP:\n", ins[i].name);
		expect("runs", gp_at((u64)(ins[i].e - ins[i].s) - 1));
		if (!offered)
			continue;
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_UMIP));
		run_snippet(ins[i].s, ins[i].e, SEL_UCODE64, SEL_UDATA64, 0x2);
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
		kprintf("     %s at CPL 3 with UMIP:\n", ins[i].name);
		expect("#GP(0)", gp_at(0));
	}
}

static void iopb_checks(void)
{
	RUN64(u_in80, 0x2);
	expect("IN 0x80, its bit clear: allowed", gp_at(HLT_OFF(u_in80)));
	RUN64(u_in81, 0x2);
	expect("IN 0x81, its bit set: #GP(0)", gp_at(4)); /* after the 4-byte MOV */
	RUN64(u_inw80, 0x2);
	expect("IN word at 0x80 (0x81's bit set): #GP(0)", gp_at(4));
	RUN64(u_in3f8, 0x2);
	expect("IN 0x3f8, beyond the TSS limit: #GP(0)", gp_at(4));
	RUN64(u_in81, 0x3002);
	expect("IN 0x81 with IOPL 3: allowed", gp_at(HLT_OFF(u_in81)));
}

/* #PF at offset off with error code err (CR2 not checked). */
static bool pf_at(u64 off, u64 err)
{
	return seen_count == 1 && seen_vector == 14 && seen_err == err && seen_rip == USER_CODE + off;
}

static void smap_pku_checks(bool smap, bool pku)
{
	u64 cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	if (smap) {
		RUN64(u_stac, 0x2);
		expect("STAC at CPL 3: #UD", seen_count == 1 && seen_vector == 6 && seen_rip == USER_CODE);
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_SMAP));
		RUN64(u_read, 0x2);
		expect("CR4.SMAP: a user read of a user page runs", gp_at(HLT_OFF(u_read)));
		RUN64(u_write, 0x2);
		expect("CR4.SMAP: a user write of a user page runs", gp_at(HLT_OFF(u_write)));
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
	}
	if (!pku)
		return;
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_PKE));
	rt_pd[USER_PDE] |= 1ull << 59; /* key 1 for the user region */
	write_cr3(read_cr3());
	snippet_pkru = 1u << 2; /* AD for key 1 */
	RUN64(u_read, 0x2);
	expect("PKRU AD for key 1: user read is #PF P|U|PK", pf_at(0, 0x25));
	snippet_pkru = 1u << 3; /* WD for key 1 */
	RUN64(u_read, 0x2);
	expect("PKRU WD for key 1: user read runs", gp_at(HLT_OFF(u_read)));
	RUN64(u_write, 0x2);
	expect("PKRU WD for key 1: user write is #PF P|W|U|PK", pf_at(0, 0x27));
	RUN64(u_rdpkru, 0x2);
	expect("RDPKRU at CPL 3 reads WD for key 1", gp_at(HLT_OFF(u_rdpkru) - 2));
	snippet_pkru = 0;
	RUN64(u_wrpkru, 0x2);
	expect("WRPKRU at CPL 3: AD for key 1, the next read is #PF", pf_at(12, 0x25));
	snippet_pkru = -1;
	rt_pd[USER_PDE] &= ~(15ull << 59);
	write_cr3(read_cr3());
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
}

/* #GP(sel) at offset 5 (the MOV to the segment register). */
static bool gp_sel_at5(u64 sel)
{
	return seen_count == 1 && seen_vector == 13 && seen_err == sel && seen_rip == USER_CODE + 5;
}

static void segment_checks(void)
{
	run_snippet(u_ld_ds_k, u_ld_ds_k_end, SEL_UCODE64, SEL_UDATA64, 0x2);
	expect("MOV DS of a DPL 0 data segment at CPL 3: #GP(sel)", gp_sel_at5(SEL_KDATA));
	run_snippet(u_ld_ss_k, u_ld_ss_k_end, SEL_UCODE64, SEL_UDATA64, 0x2);
	expect("MOV SS of a DPL 0 data segment at CPL 3: #GP(sel)", gp_sel_at5(SEL_KDATA));
	run_snippet(u_ld_ds_u, u_ld_ds_u_end, SEL_UCODE64, SEL_UDATA64, 0x2);
	expect("MOV DS of a user data segment at CPL 3", gp_at(HLT_OFF(u_ld_ds_u)));
	/* DS and ES hold the kernel's data segment when IRETQ leaves. */
	__asm__ volatile("mov %0, %%ds\n\tmov %0, %%es" : : "r"((u32)SEL_KDATA) : "memory");
	run_snippet(u_ds_es_null, u_ds_es_null_end, SEL_UCODE64, SEL_UDATA64, 0x2);
	expect("IRETQ to CPL 3 nulls DS and ES holding a DPL 0 segment",
	       gp_at(HLT_OFF(u_ds_es_null) - 2));
	__asm__ volatile("mov %0, %%ds\n\tmov %0, %%es" : : "r"((u32)SEL_KDATA) : "memory");
}

static void sysenter_checks(void)
{
	wrmsr(MSR_SYSENTER_CS, SEL_KCODE);
	wrmsr(MSR_SYSENTER_ESP, (u64)(uintptr_t)(sysenter_stack + sizeof(sysenter_stack)));
	wrmsr(MSR_SYSENTER_EIP, (u64)(uintptr_t)sysenter_entry);
	u64 top = (u64)(uintptr_t)(sysenter_stack + sizeof(sysenter_stack));

	landed_count = 0;
	sysexit64 = 0;
	run_snippet(u_sysenter32, u_sysenter32_end, SEL_UCODE32, SEL_UDATA32, 0x2);
	bool ok = landed_count == 1 && landed_rsp == top && landed_cs == SEL_KCODE &&
		  landed_ss == SEL_KCODE + 8 && gp_at(2) && seen_cs == SEL_UCODE32;
	kprintf("     landed rsp=0x%lx cs=0x%lx ss=0x%lx count=%lu\n", landed_rsp, landed_cs,
		landed_ss, landed_count);
	expect("SYSENTER from compatibility mode, SYSEXIT back to it", ok);

	landed_count = 0;
	sysexit64 = 1;
	run_snippet(u_sysenter64, u_sysenter64_end, SEL_UCODE64, SEL_UDATA64, 0x2);
	ok = landed_count == 1 && landed_rsp == top && landed_cs == SEL_KCODE && gp_at(2) &&
	     seen_cs == SEL_UCODE64;
	expect("SYSENTER from 64-bit mode, SYSEXITQ back to it", ok);
}

void kmain(void)
{
	u32 a, b, c, d;
	cpuid(7, 0, &a, &b, &c, &d);
	bool umip = (c >> 2) & 1, pku = (c >> 3) & 1, smap = (b >> 20) & 1;
	cpuid(1, 0, &a, &b, &c, &d);
	bool sep = (d >> 11) & 1;
	kprintf("ring3: UMIP %s, SYSENTER %s\n", umip ? "offered" : "not offered",
		sep ? "offered" : "not offered");
	rt_set_exception_hook(hook);
	setup();
	umip_checks(umip);
	iopb_checks();
	if (sep)
		sysenter_checks();
	kprintf("ring3: SMAP %s, PKU %s\n", smap ? "offered" : "not offered",
		pku ? "offered" : "not offered");
	smap_pku_checks(smap, pku);
	segment_checks();
	rt_set_exception_hook(NULL);
	if (failures)
		rt_fail("%u ring-3 check(s) did not match", failures);
	rt_pass();
}
