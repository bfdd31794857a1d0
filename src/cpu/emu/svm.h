/* SPDX-License-Identifier: MIT */
/*
 * AMD SVM (secure virtual machine) in the software CPU: the per-vCPU
 * state (struct emu_svm, a member of struct emu_cpu), the VMCB layout
 * the software CPU reads and writes (AMD64 APM vol. 2, ch. 15 and
 * appendix B), and the entry points the other floors call:
 *   - the instructions (insn_svm.c: VMRUN, VMLOAD, VMSAVE, VMMCALL,
 *     STGI, CLGI, INVLPGA, SKINIT) and the instruction intercepts, checked
 *     before a row's handler runs (insn.h: emu_exec_insn);
 *   - world switches, the MSRs VM_CR and VM_HSAVE_PA, exception and
 *     interrupt intercepts, GIF and virtual interrupts (svm.c), called
 *     from sys_ctl.c (MSRs) and run.c (faults, interrupts).
 * Only with the CPU model's "svm" feature (--cpu-features +svm); without
 * it every SVM instruction is #UD and EFER.SVME cannot be set.
 * Not modelled: ASIDs (the TLB is flushed on every world switch), AVIC, LBR virtualization, pause
 * filters, DR intercepts, NMIs (the software CPU has none), task-switch intercepts.
 */
#ifndef VMON_CPU_EMU_SVM_H
#define VMON_CPU_EMU_SVM_H

#include <stdbool.h>
#include <stdint.h>

struct emu_cpu;
struct dinsn;

/* The intercepts and controls of the running VMCB, read at VMRUN. */
struct emu_svm {
	bool guest;	     /* running an SVM guest (between VMRUN and #VMEXIT) */
	bool gif_clear;	     /* GIF = 0 (zero value: GIF = 1, as at reset) */
	uint64_t vm_cr;	     /* MSR VM_CR (0xc0010114) */
	uint64_t hsave_pa;   /* MSR VM_HSAVE_PA (0xc0010117) */
	uint64_t vmcb;	     /* the running guest's VMCB (guest-physical) */
	uint32_t icpt_cr;    /* VMCB 0x000: CR reads 15:0, writes 31:16 */
	uint32_t icpt_exc;   /* VMCB 0x008: exception vectors */
	uint32_t icpt_insn3; /* VMCB 0x00c: INTR ... SHUTDOWN */
	uint32_t icpt_insn4; /* VMCB 0x010: VMRUN ... XSETBV */
	uint64_t iopm, msrpm;
	uint64_t tsc_offset; /* added to the TSC the guest reads */
	uint32_t int_ctl;    /* VMCB 0x060: V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING */
	uint8_t int_vector;  /* VMCB 0x064: V_INTR_VECTOR */
	bool host_if;	     /* the host's RFLAGS.IF at VMRUN (V_INTR_MASKING) */
	uint64_t pf_addr;    /* an intercepted #PF's address (CR2 is not written) */
	bool npt;	     /* nested paging on (VMCB 0x090 bit 0): svm_npt.c */
	bool host_nxe;	     /* the host's EFER.NXE: NX in the nested table */
	uint64_t n_cr3;	     /* VMCB 0x0b0: the nested page table */
	uint64_t cur_event;  /* EVENTINJ / V_IRQ being delivered (EXITINTINFO form), 0 none */
};

/* VMCB control area */
#define VMCB_ICPT_CR	 0x000
#define VMCB_ICPT_DR	 0x004
#define VMCB_ICPT_EXC	 0x008
#define VMCB_ICPT_INSN3	 0x00c
#define VMCB_ICPT_INSN4	 0x010
#define VMCB_IOPM	 0x040
#define VMCB_MSRPM	 0x048
#define VMCB_TSC_OFFSET	 0x050
#define VMCB_ASID	 0x058
#define VMCB_TLB_CTL	 0x05c
#define VMCB_INT_CTL	 0x060
#define VMCB_INT_VECTOR	 0x064
#define VMCB_INT_STATE	 0x068
#define VMCB_EXITCODE	 0x070
#define VMCB_EXITINFO1	 0x078
#define VMCB_EXITINFO2	 0x080
#define VMCB_EXITINTINFO 0x088
#define VMCB_NP_CTL	 0x090
#define VMCB_EVENTINJ	 0x0a8
#define VMCB_N_CR3	 0x0b0
#define VMCB_NRIP	 0x0c8
/* VMCB state-save area (0x400 on); segments are 16 bytes: selector,
 * attributes (12 bits: descriptor bits 47:40 and 55:52), limit, base */
#define VMCB_ES		  0x400
#define VMCB_CS		  0x410
#define VMCB_SS		  0x420
#define VMCB_DS		  0x430
#define VMCB_FS		  0x440
#define VMCB_GS		  0x450
#define VMCB_GDTR	  0x460
#define VMCB_LDTR	  0x470
#define VMCB_IDTR	  0x480
#define VMCB_TR		  0x490
#define VMCB_CPL	  0x4cb
#define VMCB_EFER	  0x4d0
#define VMCB_CR4	  0x548
#define VMCB_CR3	  0x550
#define VMCB_CR0	  0x558
#define VMCB_DR7	  0x560
#define VMCB_DR6	  0x568
#define VMCB_RFLAGS	  0x570
#define VMCB_RIP	  0x578
#define VMCB_RSP	  0x5d8
#define VMCB_RAX	  0x5f8
#define VMCB_STAR	  0x600
#define VMCB_LSTAR	  0x608
#define VMCB_CSTAR	  0x610
#define VMCB_SFMASK	  0x618
#define VMCB_KGSBASE	  0x620
#define VMCB_SYSENTER_CS  0x628
#define VMCB_SYSENTER_ESP 0x630
#define VMCB_SYSENTER_EIP 0x638
#define VMCB_CR2	  0x640
#define VMCB_G_PAT	  0x668

/* Intercept bits: vector 3 (VMCB 0x00c) and vector 4 (0x010); the exit
 * code of vector 3's bit n is 0x60 + n, of vector 4's 0x80 + n. */
enum {
	SVM_I3_INTR = 0,
	SVM_I3_NMI = 1,
	SVM_I3_VINTR = 4,
	SVM_I3_CR0_SEL = 5, /* selective CR0 write: bits other than TS and MP */
	SVM_I3_RDTSC = 14,
	SVM_I3_CPUID = 18,
	SVM_I3_IRET = 20,
	SVM_I3_INTN = 21,
	SVM_I3_INVD = 22,
	SVM_I3_PAUSE = 23,
	SVM_I3_HLT = 24,
	SVM_I3_INVLPG = 25,
	SVM_I3_INVLPGA = 26,
	SVM_I3_IOIO = 27,
	SVM_I3_MSR = 28,
	SVM_I3_SHUTDOWN = 31,
};
enum {
	SVM_I4_VMRUN = 0,
	SVM_I4_VMMCALL = 1,
	SVM_I4_VMLOAD = 2,
	SVM_I4_VMSAVE = 3,
	SVM_I4_STGI = 4,
	SVM_I4_CLGI = 5,
	SVM_I4_SKINIT = 6,
	SVM_I4_RDTSCP = 7,
	SVM_I4_WBINVD = 9,
	SVM_I4_MONITOR = 10,
	SVM_I4_MWAIT = 11,
	SVM_I4_XSETBV = 13,
};

/* Exit codes */
#define SVM_EXIT_CR0_READ  0x00
#define SVM_EXIT_CR0_WRITE 0x10
#define SVM_EXIT_EXCP0	   0x40
#define SVM_EXIT_INTR	   0x60
#define SVM_EXIT_NMI	   0x61
#define SVM_EXIT_VINTR	   0x64
#define SVM_EXIT_CR0_SEL   0x65
#define SVM_EXIT_IOIO	   0x7b
#define SVM_EXIT_MSR	   0x7c
#define SVM_EXIT_SHUTDOWN  0x7f
#define SVM_EXIT_INVALID   (~0ULL)

/* int_ctl (VMCB 0x060) */
#define SVM_V_TPR_MASK	      0xfu
#define SVM_V_IRQ	      (1u << 8)
#define SVM_V_INTR_PRIO_SHIFT 16
#define SVM_V_IGN_TPR	      (1u << 20)
#define SVM_V_INTR_MASKING    (1u << 24)

/* EVENTINJ / EXITINTINFO */
#define SVM_EV_VALID	 (1u << 31)
#define SVM_EV_ERR_VALID (1u << 11)
#define SVM_EV_TYPE_INTR 0
#define SVM_EV_TYPE_NMI	 2
#define SVM_EV_TYPE_EXC	 3
#define SVM_EV_TYPE_SOFT 4

#define EFER_SVME 0x1000

/* ---- svm.c ---- */
/* The world switches. svm_vmrun: rAX checked by the caller; returns only
 * by loading the guest (or, on a failed consistency check, the host with
 * #VMEXIT VMEXIT_INVALID). svm_vmexit: writes the exit to the VMCB and
 * reloads the host; the caller leaves the instruction (c->slow is set,
 * RIP is the host's next_rip). */
void svm_vmrun(struct emu_cpu *c, uint64_t vmcb);
void svm_vmexit(struct emu_cpu *c, uint64_t code, uint64_t info1, uint64_t info2);
/* #VMEXIT from anywhere (a fault, the slow path): the exit, then back
 * to the run loop through its fault path with nothing pending. */
_Noreturn void svm_vmexit_jump(struct emu_cpu *c, uint64_t code, uint64_t info1, uint64_t info2);
/* The same for an intercepted instruction: nRIP is its next_rip. */
_Noreturn void svm_insn_exit(struct emu_cpu *c, uint64_t code, uint64_t info1, uint64_t info2);
/* May EFER.SVME be set (the model offers SVM, VM_CR.SVMDIS clear)? */
bool svm_efer_allowed(const struct emu_cpu *c);
/* MSRs VM_CR and VM_HSAVE_PA: *handled false for any other MSR. */
bool svm_rdmsr(struct emu_cpu *c, uint32_t msr, uint64_t *v);
int svm_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v); /* 1 done, 0 #GP, -1 not ours */
/* An exception about to be delivered in guest mode: #VMEXIT if
 * intercepted (does not return), else returns. prev: the event being
 * delivered when it happened (-1 none), for EXITINTINFO. */
void svm_exception(struct emu_cpu *c, int vec, uint32_t err, bool has_err, int prev);
/* A triple fault in guest mode: #VMEXIT(SHUTDOWN) if intercepted. */
void svm_shutdown(struct emu_cpu *c);
/* The slow path's interrupt logic in guest mode or with GIF = 0.
 * svm_intr_allowed: may a physical interrupt be taken now (GIF, and the
 * host's IF with V_INTR_MASKING)? svm_guest_events: intercepts a pending
 * physical interrupt (#VMEXIT INTR) or delivers / intercepts (VINTR) the
 * virtual one; true if it delivered a virtual interrupt. */
bool svm_intr_allowed(const struct emu_cpu *c);
bool svm_guest_events(struct emu_cpu *c, bool phys_pending);
bool svm_virq_pending(const struct emu_cpu *c);

/* ---- svm_npt.c ---- */
/* With c->svm.npt: the host-physical address of guest-physical gpa for
 * an access acc (0 read, 1 write, 2 fetch; table: a guest page-table
 * access), *perm bit 0 writable, bit 1 executable; a fault is
 * #VMEXIT(NPF) (does not return). */
uint64_t svm_npt_xlate(struct emu_cpu *c, uint64_t gpa, int acc, bool table, uint32_t *perm);

/* ---- insn_svm.c ---- */
/* The intercept check run before each instruction's handler in guest
 * mode: #VMEXIT (returns true: the handler must not run) or false. */
bool svm_insn_intercept(struct emu_cpu *c, const struct dinsn *d);

#endif
