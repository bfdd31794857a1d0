/* SPDX-License-Identifier: MIT */
/*
 * svm: a tiny AMD SVM hypervisor. It sets EFER.SVME and VM_HSAVE_PA,
 * builds a VMCB for a flat 64-bit L2 guest that shares its page tables,
 * GDT and (identity-mapped) code, VMRUNs small guest snippets and checks
 * the #VMEXITs: exit code, EXITINFO1/2, nRIP and the guest state saved in
 * the VMCB, for CPUID, HLT, IOIO (port, size, direction; IOPM), MSR
 * (MSRPM, read and write), intercepted #UD, #GP and #PF with error code
 * and address, VMMCALL, a VMCB that fails VMRUN's checks
 * (VMEXIT_INVALID), EVENTINJ of an exception, VMLOAD/VMSAVE, STGI/CLGI
 * holding back a pending interrupt, INTR intercepts, V_IRQ delivery and
 * the VINTR intercept, a CPL-3 guest (VMRUN and HLT #GP before their
 * intercepts), nested paging and NPF exits; on the host side VMRUN
 * without EFER.SVME (#UD), with a misaligned VMCB (#GP) and VMMCALL
 * outside a guest (#UD).
 * Needs CPUID 0x80000001 ECX.SVM (vmon: --cpu-features +svm; QEMU:
 * -cpu max); without it checks that EFER.SVME cannot be set and
 * that VMRUN is #UD, then passes (cmdline nosvm=1 requires that case).
 * cmdline hold=1: sets EFER.SVME and VM_HSAVE_PA, then halts for good
 * (kit_backends.sh: a snapshot then is refused).
 */
#include "catch.h"
#include "rt.h"

#define MSR_VM_CR	0xc0010114
#define MSR_VM_HSAVE_PA 0xc0010117
#define EFER_SVME	(1ull << 12)
#define VEC_IPI		0x50
#define VEC_VIRQ	0x41
#define PF_VA		0x100000000ull /* outside the runtime's identity map */

static u8 vmcb[4096] __attribute__((aligned(4096)));
static u8 vmcb2[4096] __attribute__((aligned(4096)));
static u8 hsave[4096] __attribute__((aligned(4096)));
static u8 iopm[3 * 4096] __attribute__((aligned(4096)));
static u8 msrpm[2 * 4096] __attribute__((aligned(4096)));
static u8 gstack[4096] __attribute__((aligned(16)));
static u64 gidt[2 * 256] __attribute__((aligned(16)));
static unsigned failures;
/* NRIPS offered (nRIP checked); running on vmon (the checks where QEMU
 * 7.2's TCG, the reference, differs from the APM are vmon-only: it
 * leaves EXITINFO1's address-size and segment bits of IOIO clear, writes
 * VMEXIT_INVALID as a 32-bit -1, accepts reserved VM_CR bits and does
 * not take INT3's #BP through the exception intercept). */
static bool nrips, on_vmon;

/* GPRs the guest left (VMRUN does not switch them). */
volatile u64 g_rbx, g_rcx;
static volatile u64 ipi_count;

#define V64(off) (*(volatile u64 *)(vmcb + (off)))
#define V32(off) (*(volatile u32 *)(vmcb + (off)))
#define V16(off) (*(volatile u16 *)(vmcb + (off)))
#define V8(off)	 (*(volatile u8 *)(vmcb + (off)))

/* Guest snippets: CPL 0, 64-bit, on the host's page tables. */
#define GUEST(name, body)                                                                          \
	__asm__(".text\n\t.globl " #name "\n" #name ":\n\t" body);                                 \
	extern const u8 name[];
GUEST(g_cpuid, "xor %eax, %eax\n\tcpuid\n\thlt")
GUEST(g_hlt, "hlt")
GUEST(g_cr0_ts, "mov %cr0, %rax\n\txor $8, %rax\n\tmov %rax, %cr0\n\thlt")
GUEST(g_cr0_wp, "mov %cr0, %rax\n\txor $0x10000, %rax\n\tmov %rax, %cr0\n\thlt")
GUEST(g_outw, "mov $0x1234, %dx\n\tmov $0x55aa, %ax\n\toutw %ax, (%dx)\n\thlt")
GUEST(g_inb, "inb $0x80, %al\n\thlt")
GUEST(g_outsb, "mov $0x1235, %dx\n\tlea g_outsb(%rip), %rsi\n\tmov $2, %ecx\n\trep outsb\n\thlt")
GUEST(g_rdmsr, "mov $0xc0000080, %ecx\n\trdmsr\n\thlt")
GUEST(g_wrmsr, "mov $0xc0000102, %ecx\n\txor %eax, %eax\n\txor %edx, %edx\n\twrmsr\n\thlt")
GUEST(g_rdmsr_free, "mov $0x174, %ecx\n\trdmsr\n\tmov %rax, %rbx\n\thlt")
GUEST(g_ud2, "ud2\n\thlt")
GUEST(g_int3, "int3\n\thlt")
GUEST(g_gp, "mov $0x1230, %ax\n\tmov %eax, %ds\n\thlt")
GUEST(g_pf, "movabs $0x100000000, %rax\n\tmov (%rax), %rax\n\thlt")
GUEST(g_vmmcall, "vmmcall\n\thlt")
GUEST(g_sti_loop, "sti\n\tnop\n1:\tnop\n\tjmp 1b")
GUEST(g_loop, "1:\tnop\n\tjmp 1b")
GUEST(g_sti_hlt, "sti\n\tnop\n\tjmp 1f\n1:\tnop\n\thlt")
/* L2 IDT handlers: record and stop with HLT (intercepted). */
GUEST(g_exc_handler, "pop %rbx\n\tmov (%rsp), %rcx\n\thlt")
GUEST(g_virq_handler, "mov $0x41, %ebx\n\tmov (%rsp), %rcx\n\thlt")

static u64 rdmsr_(u32 m)
{
	return rdmsr(m);
}

static void set_gate(u64 *idt, int vec, const void *fn)
{
	u64 a = (u64)(uintptr_t)fn;
	idt[vec * 2] = (a & 0xffff) | ((u64)GDT_CODE64 << 16) | (0x8eull << 40) |
		       (((a >> 16) & 0xffff) << 48);
	idt[vec * 2 + 1] = a >> 32;
}

struct dtr {
	u16 limit;
	u64 base;
} __attribute__((packed));

static void seg(u32 off, u16 sel, u16 attr)
{
	V16(off) = sel;
	V16(off + 2) = attr;
	V32(off + 4) = 0xffffffff;
	V64(off + 8) = 0;
}

/* A fresh VMCB: the guest runs rip on gstack with the host's control
 * registers, GDT and an IDT of its own; only VMRUN and HLT intercepted. */
static void vmcb_init(const void *rip)
{
	memset(vmcb, 0, sizeof(vmcb));
	V32(0x010) = 1u << 0;  /* VMRUN */
	V32(0x00c) = 1u << 24; /* HLT */
	V64(0x040) = (u64)(uintptr_t)iopm;
	V64(0x048) = (u64)(uintptr_t)msrpm;
	V32(0x058) = 1; /* ASID */
	seg(0x400, GDT_DATA, 0xc93);
	seg(0x410, GDT_CODE64, 0xa9b);
	seg(0x420, GDT_DATA, 0xc93);
	seg(0x430, GDT_DATA, 0xc93);
	struct dtr g;
	__asm__ volatile("sgdt %0" : "=m"(g));
	V32(0x464) = g.limit;
	V64(0x468) = g.base;
	V32(0x484) = sizeof(gidt) - 1;
	V64(0x488) = (u64)(uintptr_t)gidt;
	V64(0x4d0) = rdmsr_(MSR_EFER);
	V64(0x548) = read_cr4();
	V64(0x550) = read_cr3();
	V64(0x558) = read_cr0();
	V64(0x560) = 0x400;
	V64(0x568) = 0xffff0ff0;
	V64(0x570) = 2;
	V64(0x578) = (u64)(uintptr_t)rip;
	V64(0x5d8) = (u64)(uintptr_t)(gstack + sizeof(gstack));
	memset(iopm, 0, sizeof(iopm));
	memset(msrpm, 0, sizeof(msrpm));
}

/* VMRUN: the callee-saved registers survive the guest; the guest's
 * RBX and RCX are recorded. GIF is 0 afterwards. */
static void vmrun(void *v)
{
	u64 a = (u64)(uintptr_t)v;
	__asm__ volatile("push %%rbp\n\tpush %%rbx\n\tpush %%r12\n\tpush %%r13\n\t"
			 "push %%r14\n\tpush %%r15\n\t"
			 "vmrun\n\t"
			 "mov %%rbx, g_rbx(%%rip)\n\tmov %%rcx, g_rcx(%%rip)\n\t"
			 "pop %%r15\n\tpop %%r14\n\tpop %%r13\n\tpop %%r12\n\t"
			 "pop %%rbx\n\tpop %%rbp"
			 : "+a"(a)
			 :
			 : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
}

static void stgi(void)
{
	__asm__ volatile("stgi" ::: "memory");
}

static void clgi(void)
{
	__asm__ volatile("clgi" ::: "memory");
}

static void expect(const char *name, bool ok)
{
	kprintf("%s: %s\n", ok ? "ok  " : "BAD ", name);
	if (!ok)
		failures++;
}

/* Runs the VMCB once and compares the exit. */
static void run_check(const char *name, u64 code, u64 info1, u64 info2, const void *rip,
		      u64 nrip)
{
	vmrun(vmcb);
	stgi();
	if (code == ~0ull && !on_vmon)
		code = 0xffffffffull;
	bool ok = V64(0x070) == code && V64(0x078) == info1 && V64(0x080) == info2 &&
		  (!rip || V64(0x578) == (u64)(uintptr_t)rip) &&
		  (nrip == ~0ull || !nrips || V64(0x0c8) == nrip);
	kprintf("%s: %s exitcode=0x%lx info1=0x%lx info2=0x%lx rip=+%ld nrip=+%ld (expected "
		"0x%lx 0x%lx 0x%lx +%ld +%ld)\n",
		ok ? "ok  " : "BAD ", name, V64(0x070), V64(0x078), V64(0x080),
		(long)(V64(0x578) - (u64)(uintptr_t)rip),
		nrip == ~0ull ? -1l : (long)(V64(0x0c8) - (u64)(uintptr_t)rip),
		code, info1, info2, 0l, nrip == ~0ull ? -1l : (long)(nrip - (u64)(uintptr_t)rip));
	if (!ok)
		failures++;
}

#define AT(sym, off) ((u64)(uintptr_t)(sym) + (off))
/* IOIO's EXITINFO1 bits 12:7 (address size, segment): vmon only. */
#define IO_VMON(bits) (on_vmon ? (u64)(bits) : 0)

static void exit_checks(void)
{
	vmcb_init(g_cpuid);
	V32(0x00c) |= 1u << 18;
	run_check("CPUID", 0x72, 0, 0, g_cpuid + 2, AT(g_cpuid, 4));

	vmcb_init(g_hlt);
	run_check("HLT", 0x78, 0, 0, g_hlt, AT(g_hlt, 1));

	/* The selective CR0 write intercept (vector 3 bit 5): a MOV to CR0
	 * that changes only TS does not exit, one that changes WP does
	 * (0x65); the plain CR0 write intercept comes first. */
	vmcb_init(g_cr0_ts);
	V32(0x00c) |= 1u << 5;
	run_check("CR0 selective: TS only", 0x78, 0, 0, g_cr0_ts + 10, AT(g_cr0_ts, 11));
	vmcb_init(g_cr0_wp);
	V32(0x00c) |= 1u << 5;
	run_check("CR0 selective: WP", 0x65, 0, 0, g_cr0_wp + 9, AT(g_cr0_wp, 12));
	vmcb_init(g_cr0_wp);
	V32(0x00c) |= 1u << 5;
	V32(0x000) |= 1u << 16;
	run_check("CR0 write before selective", 0x10, 0, 0, g_cr0_wp + 9,
		  AT(g_cr0_wp, 12));

	/* IOIO: port 0x1234 word out (bits of 0x1234 and 0x1235 set). */
	vmcb_init(g_outw);
	V32(0x00c) |= 1u << 27;
	iopm[0x1234 / 8] |= 1u << (0x1234 % 8);
	run_check("IOIO outw", 0x7b, 0x12340000ull | 0x20 | IO_VMON(0x200), AT(g_outw, 10), g_outw + 8,
		  AT(g_outw, 10));
	vmcb_init(g_inb);
	V32(0x00c) |= 1u << 27;
	iopm[0x80 / 8] |= 1u << (0x80 % 8);
	run_check("IOIO inb", 0x7b, 0x00800000ull | 0x10 | IO_VMON(0x200) | 1, AT(g_inb, 2), g_inb,
		  AT(g_inb, 2));
	/* A word access covering one intercepted port exits too. */
	vmcb_init(g_outw);
	V32(0x00c) |= 1u << 27;
	iopm[0x1235 / 8] |= 1u << (0x1235 % 8);
	run_check("IOIO outw, 2nd port", 0x7b, 0x12340000ull | 0x20 | IO_VMON(0x200), AT(g_outw, 10),
		  g_outw + 8, AT(g_outw, 10));
	/* Without the IOIO intercept the OUT happens: the guest reaches HLT. */
	vmcb_init(g_outw);
	iopm[0x1234 / 8] |= 1u << (0x1234 % 8);
	run_check("IOIO not intercepted", 0x78, 0, 0, g_outw + 10, AT(g_outw, 11));
	vmcb_init(g_outsb);
	V32(0x00c) |= 1u << 27;
	iopm[0x1235 / 8] |= 1u << (0x1235 % 8);
	run_check("IOIO rep outsb", 0x7b, 0x12350000ull | 0x10 | IO_VMON(0x200 | (3u << 10)) | 0x8 | 0x4,
		  AT(g_outsb, 18), g_outsb + 16, AT(g_outsb, 18));

	/* MSR: EFER read intercepted; KERNEL_GS_BASE write intercepted. */
	vmcb_init(g_rdmsr);
	V32(0x00c) |= 1u << 28;
	msrpm[0x800 + (0x80 * 2) / 8] |= 1u << ((0x80 * 2) % 8);
	run_check("RDMSR EFER", 0x7c, 0, 0, g_rdmsr + 5, AT(g_rdmsr, 7));
	vmcb_init(g_wrmsr);
	V32(0x00c) |= 1u << 28;
	msrpm[0x800 + (0x102 * 2 + 1) / 8] |= 1u << ((0x102 * 2 + 1) % 8);
	run_check("WRMSR KERNEL_GS_BASE", 0x7c, 1, 0, g_wrmsr + 9, AT(g_wrmsr, 11));
	/* Only the write bit set: a read of it does not exit. */
	vmcb_init(g_rdmsr_free);
	V32(0x00c) |= 1u << 28;
	msrpm[(0x174 * 2 + 1) / 8] |= 1u << ((0x174 * 2 + 1) % 8);
	wrmsr(0x174, 0x10);
	run_check("RDMSR not intercepted", 0x78, 0, 0, g_rdmsr_free + 10,
		  AT(g_rdmsr_free, 11));
	expect("RDMSR not intercepted: value", g_rbx == 0x10);

	/* Exceptions: #UD, #GP with the selector, #PF with error code and
	 * address. */
	vmcb_init(g_ud2);
	V32(0x008) = 1u << 6;
	run_check("#UD", 0x46, 0, 0, g_ud2, ~0ull);
	vmcb_init(g_gp);
	V32(0x008) = 1u << 13;
	run_check("#GP bad DS", 0x4d, 0x1230, 0, g_gp + 4, ~0ull);
	vmcb_init(g_pf);
	V32(0x008) = 1u << 14;
	V64(0x640) = 0xc2c2000; /* CR2: an intercepted #PF leaves it */
	run_check("#PF", 0x4e, 0, PF_VA, g_pf + 10, ~0ull);
	expect("#PF intercepted: the guest's CR2 unchanged", V64(0x640) == 0xc2c2000);
	/* INT3's #BP through the exception intercept (QEMU 7.2 delivers it
	 * to the guest instead). */
	if (on_vmon) {
		vmcb_init(g_int3);
		V32(0x008) = 1u << 3;
		run_check("#BP (INT3)", 0x43, 0, 0, g_int3, ~0ull);
	}

	/* VMMCALL: intercepted, or #UD in the guest. */
	vmcb_init(g_vmmcall);
	V32(0x010) |= 1u << 1;
	run_check("VMMCALL", 0x81, 0, 0, g_vmmcall, AT(g_vmmcall, 3));
	vmcb_init(g_vmmcall);
	V32(0x008) = 1u << 6;
	run_check("VMMCALL not intercepted: #UD", 0x46, 0, 0, g_vmmcall, ~0ull);

	/* VMRUN's checks: no VMRUN intercept; EFER.SVME clear; ASID 0. */
	vmcb_init(g_hlt);
	V32(0x010) = 0;
	run_check("VMRUN without its intercept", ~0ull, 0, 0, NULL, ~0ull);
	vmcb_init(g_hlt);
	V64(0x4d0) &= ~EFER_SVME;
	run_check("VMRUN guest SVME clear", ~0ull, 0, 0, NULL, ~0ull);
	vmcb_init(g_hlt);
	V32(0x058) = 0;
	run_check("VMRUN ASID 0", ~0ull, 0, 0, NULL, ~0ull);

	/* EVENTINJ: #GP with error code 0x55 through the guest's IDT; its
	 * handler pops the error code into RBX and halts. */
	vmcb_init(g_loop);
	V64(0x0a8) = 13 | (3u << 8) | (1u << 11) | (1u << 31) | (0x55ull << 32);
	run_check("EVENTINJ #GP", 0x78, 0, 0, g_exc_handler + 5, ~0ull);
	expect("EVENTINJ: error code and return RIP", g_rbx == 0x55 && g_rcx == AT(g_loop, 0));
	expect("EVENTINJ cleared", (V64(0x0a8) >> 31 & 1) == 0);
}

/* Nested paging: an identity nested table for 0-3 GiB (1 GiB pages but
 * for the first GiB, 2 MiB pages there with RO_GPA's read-only), user
 * accessible; 3-4 GiB is missing. */
#define RO_GPA 0x3000000ull
static u64 npt_pml4[512] __attribute__((aligned(4096)));
static u64 npt_pdpt[512] __attribute__((aligned(4096)));
static u64 npt_pd[512] __attribute__((aligned(4096)));
GUEST(g_npf_read, "mov $0xc0000000, %eax\n\tmov (%rax), %eax\n\thlt")
GUEST(g_npf_write, "mov $0x3000000, %eax\n\tmovl $1, (%rax)\n\thlt")
GUEST(g_npt_ok, "mov $0x3000000, %eax\n\tmov (%rax), %ebx\n\thlt")

static void npt_checks(void)
{
	npt_pml4[0] = (u64)(uintptr_t)npt_pdpt | 7;
	npt_pdpt[0] = (u64)(uintptr_t)npt_pd | 7;
	for (u64 i = 0; i < 512; i++)
		npt_pd[i] = (i << 21) | 0x87;
	npt_pd[RO_GPA >> 21] &= ~2ull;
	npt_pdpt[1] = (1ull << 30) | 0x87;
	npt_pdpt[2] = (2ull << 30) | 0x87;
	*(volatile u32 *)RO_GPA = 0x5a5a;

	vmcb_init(g_npt_ok);
	V64(0x090) = 1;
	V64(0x0b0) = (u64)(uintptr_t)npt_pml4;
	run_check("NPT: guest runs, reads a read-only page", 0x78, 0, 0, g_npt_ok + 7, ~0ull);
	expect("NPT: the value read", g_rbx == 0x5a5a);
	vmcb_init(g_npf_read);
	V64(0x090) = 1;
	V64(0x0b0) = (u64)(uintptr_t)npt_pml4;
	run_check("NPF: read, not present", 0x400, (1ull << 32) | 4, 0xc0000000ull,
		  g_npf_read + 5, ~0ull);
	vmcb_init(g_npf_write);
	V64(0x090) = 1;
	V64(0x0b0) = (u64)(uintptr_t)npt_pml4;
	run_check("NPF: write, read-only", 0x400, (1ull << 32) | 7, RO_GPA, g_npf_write + 5,
		  ~0ull);
	expect("NPF: nothing written", *(volatile u32 *)RO_GPA == 0x5a5a);
	/* EVENTINJ whose delivery meets an NPF (the guest's IDT outside the
	 * nested map): the event comes back in EXITINTINFO. */
	vmcb_init(g_loop);
	V64(0x090) = 1;
	V64(0x0b0) = (u64)(uintptr_t)npt_pml4;
	V64(0x488) = 0xc0000000ull;
	V64(0x0a8) = 13 | (3u << 8) | (1u << 11) | (1u << 31) | (0x55ull << 32);
	run_check("NPF while injecting #GP", 0x400, (1ull << 32) | 4, 0xc0000000ull + 13 * 16,
		  g_loop, ~0ull);
	expect("NPF while injecting: EXITINTINFO holds the event",
	       V64(0x088) == (13 | (3u << 8) | (1u << 11) | (1u << 31) | (0x55ull << 32)));
	/* The same for an exception the CPU raised in the guest (#UD). */
	vmcb_init(g_ud2);
	V64(0x090) = 1;
	V64(0x0b0) = (u64)(uintptr_t)npt_pml4;
	V64(0x488) = 0xc0000000ull;
	run_check("NPF while delivering #UD", 0x400, (1ull << 32) | 4, 0xc0000000ull + 6 * 16, g_ud2,
		  ~0ull);
	expect("NPF while delivering #UD: EXITINTINFO", V64(0x088) == (6 | (3u << 8) | (1u << 31)));
	/* The guest's page table itself outside the nested map. */
	vmcb_init(g_hlt);
	V64(0x090) = 1;
	V64(0x0b0) = (u64)(uintptr_t)npt_pml4;
	V64(0x550) = 0xc0001000ull;
	run_check("NPF: guest page-table walk", 0x400, (1ull << 33) | 6, 0xc0001000ull, g_hlt,
		  ~0ull);
}

/* A CPL-3 guest on page tables of its own (1 GiB, user): VMRUN and HLT
 * there are #GP before their intercepts (APM 15.7.1), CPUID exits. */
static u64 u_pml4[512] __attribute__((aligned(4096)));
static u64 u_pdpt[512] __attribute__((aligned(4096)));
GUEST(g_u_vmrun, "vmrun\n\thlt")
GUEST(g_u_cpuid, "cpuid\n\thlt")

static void user_guest(const void *rip)
{
	vmcb_init(rip);
	V64(0x550) = (u64)(uintptr_t)u_pml4;
	seg(0x410, 0x2b, 0xafb);
	seg(0x420, 0x33, 0xcf3);
	seg(0x400, 0x33, 0xcf3);
	seg(0x430, 0x33, 0xcf3);
	V8(0x4cb) = 3;
	V32(0x008) = 1u << 13;
}

/* A real-mode guest (CR0.PE clear; CS's hidden base at the snippet):
 * 16-bit OUT through the IOPM. */
GUEST(g_real, ".code16\n\tmov $0x12, %al\n\tout %al, $0x80\n\thlt\n\t.code64")

static void real_mode_checks(void)
{
	vmcb_init(g_real);
	u64 base = (u64)(uintptr_t)g_real & ~0xfull;
	V64(0x4d0) = EFER_SVME;
	V64(0x548) = 0;
	V64(0x550) = 0;
	V64(0x558) = 0x10;
	seg(0x410, (u16)(base >> 4), 0x09b);
	V64(0x418) = base;
	V32(0x414) = 0xffff;
	for (u32 off = 0x400; off <= 0x430; off += 0x10) {
		if (off == 0x410)
			continue;
		seg(off, 0, 0x093);
		V32(off + 4) = 0xffff;
	}
	V64(0x578) = (u64)(uintptr_t)g_real - base;
	V64(0x5d8) = 0x1000;
	V32(0x00c) |= 1u << 27;
	iopm[0x80 / 8] |= 1u << (0x80 % 8);
	u64 ip = (u64)(uintptr_t)g_real - base;
	vmrun(vmcb);
	stgi();
	bool ok = V64(0x070) == 0x7b && V64(0x078) == (0x00800000ull | 0x10 | IO_VMON(0x80)) &&
		  V64(0x578) == ip + 2 && V64(0x080) == ip + 4;
	kprintf("%s: real-mode guest: OUT exit code=0x%lx info1=0x%lx info2=0x%lx rip=0x%lx "
		"(ip 0x%lx)\n",
		ok ? "ok  " : "BAD ", V64(0x070), V64(0x078), V64(0x080), V64(0x578), ip);
	if (!ok)
		failures++;
}

static void cpl3_checks(void)
{
	u_pml4[0] = (u64)(uintptr_t)u_pdpt | 7;
	u_pdpt[0] = 0x87;
	user_guest(g_u_vmrun);
	run_check("CPL 3 guest: VMRUN is #GP", 0x4d, 0, 0, g_u_vmrun, ~0ull);
	user_guest(g_hlt);
	run_check("CPL 3 guest: HLT is #GP before its intercept", 0x4d, 0, 0, g_hlt, ~0ull);
	user_guest(g_u_cpuid);
	V32(0x00c) |= 1u << 18;
	run_check("CPL 3 guest: CPUID intercepted", 0x72, 0, 0, g_u_cpuid, AT(g_u_cpuid, 2));
	expect("CPL 3 guest: CPL saved", V8(0x4cb) == 3);
}

static void vmload_vmsave_checks(void)
{
	/* The host's own state, saved first and restored after. */
	memset(vmcb2, 0, sizeof(vmcb2));
	__asm__ volatile("vmsave" : : "a"(vmcb2) : "memory");
	memset(vmcb, 0, sizeof(vmcb));
	V64(0x448) = 0x1111000; /* FS base */
	V64(0x620) = 0x2222000; /* KernelGSBase */
	V64(0x600) = 0x0023001000000000ull;
	V64(0x608) = 0xffffffff81000000ull;
	V64(0x618) = 0x4700;
	V64(0x630) = 0x3333000;
	V16(0x490) = 0x40; /* TR */
	V16(0x492) = 0x08b;
	V32(0x494) = 0x67;
	V64(0x498) = 0x5000;
	__asm__ volatile("vmload" : : "a"(vmcb) : "memory");
	bool ok = rdmsr(0xc0000100) == 0x1111000 && rdmsr(0xc0000102) == 0x2222000 &&
		  rdmsr(0xc0000081) == 0x0023001000000000ull &&
		  rdmsr(0xc0000082) == 0xffffffff81000000ull && rdmsr(0xc0000084) == 0x4700 &&
		  rdmsr(0x175) == 0x3333000;
	u16 tr;
	__asm__ volatile("str %0" : "=r"(tr));
	expect("VMLOAD: MSRs and TR", ok && tr == 0x40);
	static u8 out[4096] __attribute__((aligned(4096)));
	__asm__ volatile("vmsave" : : "a"(out) : "memory");
	ok = true;
	static const u32 offs[] = {0x448, 0x620, 0x600, 0x608, 0x618, 0x630, 0x498};
	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		ok &= *(u64 *)(out + offs[i]) == V64(offs[i]);
	ok &= *(u16 *)(out + 0x490) == 0x40 && *(u32 *)(out + 0x494) == 0x67;
	expect("VMSAVE: round trip", ok);
	__asm__ volatile("vmload" : : "a"(vmcb2) : "memory");
}

static void on_ipi(struct rt_frame *f)
{
	(void)f;
	ipi_count++;
	lapic_eoi();
}

static void self_ipi(void)
{
	lapic_write(LAPIC_ICR_HI, 0);
	lapic_write(LAPIC_ICR_LO, (1u << 18) | VEC_IPI); /* shorthand: self */
}

/* The host's TSC-deadline timer ends a guest that runs with a TSC
 * offset far from the host's TSC (Linux's KVM starts its guests' TSC
 * near 0): the LAPIC is the host's and counts the host's TSC. (That
 * it fires on time, not late, tests/integration/vmon_in_vmon.sh
 * sees: L1's timers.) */
static void tsc_deadline_check(void)
{
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 24))) {
		kprintf("svm: no TSC-deadline timer (CPUID.1:ECX[24]): its check skipped\n");
		return;
	}
	ipi_count = 0;
	lapic_write(LAPIC_LVT_TIMER, VEC_IPI | (2u << 17)); /* TSC-deadline mode */
	vmcb_init(g_loop);
	V32(0x00c) |= 1u << 0;
	V32(0x060) = 1u << 24;
	V64(0x050) = (u64)0 - rdtsc(); /* TSC_OFFSET: the guest's TSC starts at 0 */
	u64 t0 = rdtsc();
	wrmsr(0x6e0, t0 + 20000000); /* IA32_TSC_DEADLINE: some ms ahead */
	sti();
	vmrun(vmcb);
	cli();
	u64 took = rdtsc() - t0;
	/* What ended the guest is the timer: its vector is in the IRR. */
	bool irr = (lapic_read(0x200 + 0x10 * (VEC_IPI / 32)) >> (VEC_IPI % 32)) & 1;
	bool intr = V64(0x070) == 0x60 && ipi_count == 0 && irr;
	kprintf("svm: TSC-deadline run: exitcode=0x%lx after %lu TSC ticks, timer pending %d\n",
		V64(0x070), took, irr);
	stgi();
	sti_hlt_cli();
	lapic_write(LAPIC_LVT_TIMER, 1u << 16); /* masked */
	expect("host TSC-deadline timer during a guest with a TSC offset", intr && ipi_count == 1);
}

static void interrupt_checks(void)
{
	lapic_enable();
	rt_set_irq_handler(VEC_IPI, on_ipi);

	/* GIF = 0 holds a pending interrupt back even with IF = 1. */
	ipi_count = 0;
	clgi();
	self_ipi();
	sti();
	for (int i = 0; i < 100; i++)
		__asm__ volatile("nop");
	u64 held = ipi_count;
	stgi();
	__asm__ volatile("nop");
	cli();
	expect("CLGI holds an interrupt back, STGI lets it in", held == 0 && ipi_count == 1);

	/* INTR intercept: with V_INTR_MASKING the host's IF (1 here) lets
	 * the pending interrupt end the guest; it stays pending and the
	 * host takes it after STGI. */
	ipi_count = 0;
	clgi();
	self_ipi();
	vmcb_init(g_loop);
	V32(0x00c) |= 1u << 0;
	V32(0x060) = 1u << 24;
	sti();
	vmrun(vmcb);
	cli();
	bool intr = V64(0x070) == 0x60 && ipi_count == 0;
	kprintf("svm: INTR run: exitcode=0x%lx, interrupts taken %lu\n", V64(0x070), ipi_count);
	stgi();
	sti_hlt_cli(); /* pending: HLT returns at once */
	expect("INTR intercept, then the host takes the interrupt", intr && ipi_count == 1);

	tsc_deadline_check();

	/* V_IRQ: the guest (IF from its STI) takes vector 0x41 through its
	 * IDT; the handler halts. */
	vmcb_init(g_sti_loop);
	V32(0x060) = (1u << 8) | (0xfu << 16) | (1u << 24);
	V32(0x064) = VEC_VIRQ;
	vmrun(vmcb);
	stgi();
	expect("V_IRQ delivered through the guest's IDT",
	       V64(0x070) == 0x78 && g_rbx == VEC_VIRQ && (V32(0x060) & (1u << 8)) == 0);
	/* VINTR intercept: the exit comes when the guest could take it. */
	vmcb_init(g_sti_loop);
	V32(0x00c) |= 1u << 4;
	V32(0x060) = (1u << 8) | (0xfu << 16) | (1u << 24);
	V32(0x064) = VEC_VIRQ;
	vmrun(vmcb);
	stgi();
	u64 rip = V64(0x578);
	expect("VINTR intercept", V64(0x070) == 0x64 && rip >= AT(g_sti_loop, 1) &&
					  rip <= AT(g_sti_loop, 4) && (V32(0x060) & (1u << 8)));
	/* V_TPR at or above the priority holds it back (the guest reaches
	 * its HLT); V_IGN_TPR ignores V_TPR. */
	vmcb_init(g_sti_hlt);
	V32(0x00c) |= 1u << 4;
	V32(0x060) = (1u << 8) | (0x3u << 16) | (1u << 24) | 0x5;
	V32(0x064) = VEC_VIRQ;
	vmrun(vmcb);
	stgi();
	expect("V_TPR masks V_IRQ", V64(0x070) == 0x78);
	vmcb_init(g_sti_hlt);
	V32(0x00c) |= 1u << 4;
	V32(0x060) = (1u << 8) | (0x3u << 16) | (1u << 24) | (1u << 20) | 0x5;
	V32(0x064) = VEC_VIRQ;
	vmrun(vmcb);
	stgi();
	kprintf("svm: V_IGN_TPR run: exitcode=0x%lx\n", V64(0x070));
	expect("V_IGN_TPR", V64(0x070) == 0x64);
}

#define TRY(insn, ...)                                                                             \
	__asm__ volatile("lea 1f(%%rip), %%r11\n\tmov %%r11, resume_rip(%%rip)\n\t" insn "\n1:"    \
			 : __VA_ARGS__                                                             \
			 : "r11", "memory")

static void host_fault(const char *name, u64 vec)
{
	bool ok = rt_caught.count == 1 && rt_caught.vector == vec;
	kprintf("%s: %s vector=%ld (expected %lu)\n", ok ? "ok  " : "BAD ", name,
		rt_caught.count ? (long)rt_caught.vector : -1l, vec);
	if (!ok)
		failures++;
	rt_caught.count = 0;
}

static void host_checks(bool svm)
{
	rt_set_exception_hook(rt_catch_hook);
	if (svm) {
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_SVME);
		TRY("vmrun", : "a"(vmcb));
		host_fault("VMRUN with EFER.SVME clear: #UD", 6);
		TRY("stgi", :);
		host_fault("STGI with EFER.SVME clear: #UD", 6);
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
		TRY("vmrun", : "a"(vmcb + 8));
		host_fault("VMRUN, misaligned VMCB: #GP", 13);
		TRY("vmmcall", :);
		host_fault("VMMCALL outside a guest: #UD", 6);
		TRY("wrmsr", : "c"(MSR_VM_HSAVE_PA), "a"(0x123), "d"(0));
		host_fault("VM_HSAVE_PA misaligned: #GP", 13);
		if (on_vmon) {
			TRY("wrmsr", : "c"(MSR_VM_CR), "a"(0x100), "d"(0));
			host_fault("VM_CR reserved bit: #GP", 13);
		}
	} else {
		TRY("wrmsr", : "c"(MSR_EFER), "a"((u32)(rdmsr(MSR_EFER) | EFER_SVME)), "d"(0));
		host_fault("no SVM: EFER.SVME write #GP", 13);
		TRY("vmrun", : "a"(vmcb));
		host_fault("no SVM: VMRUN #UD", 6);
	}
	rt_set_exception_hook(NULL);
}

void kmain(void)
{
	u32 a, b, c, d;
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	bool svm = (c >> 2) & 1;
	kprintf("svm: SVM %s\n", svm ? "offered" : "not offered");
	if (!svm) {
		if (!cmdline_get_u64("nosvm", 0))
			rt_fail("CPUID 0x80000001 ECX.SVM is clear (vmon: --cpu-features +svm)");
		host_checks(false);
		if (failures)
			rt_fail("%u svm check(s) did not match", failures);
		rt_pass();
	}
	cpuid(0x8000000a, 0, &a, &b, &c, &d);
	kprintf("svm: revision %u, %u ASIDs, features edx=0x%x\n", a & 0xff, b, d);
	nrips = (d >> 3) & 1;
	u32 brand[4];
	cpuid(0x80000002, 0, &brand[0], &brand[1], &brand[2], &brand[3]);
	on_vmon = memcmp(brand, "vmon", 4) == 0;
	expect("CPUID 0x8000000A: NRIPS on vmon", nrips || !on_vmon);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, (u64)(uintptr_t)hsave);
	expect("VM_HSAVE_PA reads back", rdmsr(MSR_VM_HSAVE_PA) == (u64)(uintptr_t)hsave);
	if (cmdline_get_u64("hold", 0)) {
		/* For the snapshot test: SVM in use, then wait forever. */
		kprintf("svm: holding\n");
		for (;;)
			hlt();
	}
	set_gate(gidt, 13, g_exc_handler);
	set_gate(gidt, VEC_VIRQ, g_virq_handler);
	exit_checks();
	cpl3_checks();
	real_mode_checks();
	if (d & 1)
		npt_checks();
	else
		expect("CPUID 0x8000000A: nested paging on vmon", !on_vmon);
	vmload_vmsave_checks();
	interrupt_checks();
	host_checks(true);
	if (failures)
		rt_fail("%u svm check(s) did not match", failures);
	rt_pass();
}
