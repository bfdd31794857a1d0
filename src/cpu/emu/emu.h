/* SPDX-License-Identifier: MIT */
/*
 * vmon's software x86-64 CPU: internal interfaces shared by the files of
 * src/cpu/emu (see README.md there for the map).
 *
 * Threading: one host thread per vCPU runs emu_cpu_run(); everything in
 * struct emu_cpu belongs to that thread except the fields marked "any
 * thread" (the event word, the LAPIC IRR/TMR, the sleep lock). The PIC,
 * IOAPIC and PIT are shared and protected by emu_vm.chip_lock.
 */
#ifndef VMON_CPU_EMU_EMU_H
#define VMON_CPU_EMU_EMU_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "core/machine.h"

struct emu_vm;

/* ---- Decoded instructions ------------------------------------------- */

enum {
	DOP_NONE,
	DOP_REG,
	DOP_MEM,
	DOP_IMM,
	DOP_SEG,
	DOP_CR,
	DOP_DR,
	DOP_PTR,
	DOP_XMM,
	DOP_MMX,
	DOP_ST, /* reg = 0..15 / 0..7 / st(i) */
	DOP_OTHER,
};

/* Register numbers inside struct dop.reg for DOP_REG: 0..15 GPRs; the
 * legacy high-byte registers AH/CH/DH/BH are 4..7 with DOP_F_HI8. */
#define DOP_F_HI8 0x80
#define REG_NONE  0xff
#define REG_RIP	  0xfe

struct dop {
	uint8_t kind;
	uint8_t size; /* bytes */
	uint8_t reg;  /* GPR/segment/CR/DR number */
};

#define DI_REP	  0x01
#define DI_REPNE  0x02
#define DI_LOCK	  0x04
#define DI_STRING 0x08 /* string instruction (movs/stos/...): implicit operands */
#define DI_FAR	  0x10 /* far call/jmp/ret */
#define DI_RELBR  0x20 /* op[0] immediate is relative to the next RIP */
#define DI_DISP64 0x40 /* the displacement does not fit 32 bits: it is in imm */

/*
 * vmon's compact decoded form: everything the interpreter needs, nothing
 * it does not. Filled once by decode.c from Zydis and cached by
 * guest-physical address. At most one explicit memory operand exists in
 * the integer ISA, so its addressing lives here, not in struct dop.
 */
/* Handler classes (see emu_hclass in exec.c); 0 = not implemented. */
enum {
	H_UNIMPL,
	H_NOP,
	H_PAUSE,
	H_ENDBR64,
	H_ENDBR32,
	H_PREFETCH,
	H_PREFETCHW,
	H_PREFETCHNTA,
	H_PREFETCHT0,
	H_PREFETCHT1,
	H_PREFETCHT2,
	H_LFENCE,
	H_SFENCE,
	H_CLFLUSH,
	H_MFENCE,
	H_MOV,
	H_MOVNTI,
	H_MOVZX,
	H_MOVSX,
	H_MOVSXD,
	H_LEA,
	H_ADD,
	H_OR,
	H_ADC,
	H_SBB,
	H_AND,
	H_SUB,
	H_XOR,
	H_CMP,
	H_TEST,
	H_INC,
	H_DEC,
	H_NEG,
	H_NOT,
	H_SHL,
	H_SHR,
	H_SAR,
	H_ROL,
	H_ROR,
	H_RCL,
	H_RCR,
	H_SHLD,
	H_SHRD,
	H_MUL,
	H_IMUL,
	H_DIV,
	H_IDIV,
	H_XCHG,
	H_XADD,
	H_CMPXCHG,
	H_CMPXCHG8B,
	H_CMPXCHG16B,
	H_BT,
	H_BTS,
	H_BTR,
	H_BTC,
	H_BSF,
	H_BSR,
	H_TZCNT,
	H_BSWAP,
	H_CBW,
	H_CWDE,
	H_CDQE,
	H_CWD,
	H_CDQ,
	H_CQO,
	H_JMP,
	H_JO,
	H_JNO,
	H_JB,
	H_JNB,
	H_JZ,
	H_JNZ,
	H_JBE,
	H_JNBE,
	H_JS,
	H_JNS,
	H_JP,
	H_JNP,
	H_JL,
	H_JNL,
	H_JLE,
	H_JNLE,
	H_JCXZ,
	H_JECXZ,
	H_JRCXZ,
	H_LOOP,
	H_LOOPE,
	H_LOOPNE,
	H_SETO,
	H_SETNO,
	H_SETB,
	H_SETNB,
	H_SETZ,
	H_SETNZ,
	H_SETBE,
	H_SETNBE,
	H_SETS,
	H_SETNS,
	H_SETP,
	H_SETNP,
	H_SETL,
	H_SETNL,
	H_SETLE,
	H_SETNLE,
	H_CMOVO,
	H_CMOVNO,
	H_CMOVB,
	H_CMOVNB,
	H_CMOVZ,
	H_CMOVNZ,
	H_CMOVBE,
	H_CMOVNBE,
	H_CMOVS,
	H_CMOVNS,
	H_CMOVP,
	H_CMOVNP,
	H_CMOVL,
	H_CMOVNL,
	H_CMOVLE,
	H_CMOVNLE,
	H_CALL,
	H_RET,
	H_PUSH,
	H_POP,
	H_PUSHF,
	H_PUSHFD,
	H_PUSHFQ,
	H_POPF,
	H_POPFD,
	H_POPFQ,
	H_PUSHA,
	H_PUSHAD,
	H_POPA,
	H_POPAD,
	H_LEAVE,
	H_ENTER,
	H_CLC,
	H_STC,
	H_CMC,
	H_CLD,
	H_STD,
	H_CLI,
	H_STI,
	H_LAHF,
	H_SAHF,
	H_XLAT,
	H_HLT,
	H_CPUID,
	H_RDTSC,
	H_RDTSCP,
	H_RDMSR,
	H_WRMSR,
	H_IN,
	H_OUT,
	H_LGDT,
	H_LIDT,
	H_SGDT,
	H_SIDT,
	H_LTR,
	H_LLDT,
	H_STR,
	H_SLDT,
	H_SMSW,
	H_LMSW,
	H_CLTS,
	H_INVLPG,
	H_WBINVD,
	H_INVD,
	H_SWAPGS,
	H_SYSCALL,
	H_SYSRET,
	H_IRET,
	H_IRETD,
	H_IRETQ,
	H_INT,
	H_INT3,
	H_INTO,
	H_INT1,
	H_UD0,
	H_UD1,
	H_UD2,
	H_LDS,
	H_LES,
	H_LFS,
	H_LGS,
	H_LSS,
	/* Specialised forms chosen at decode time (decode.c: fast_class) */
	H_STRING,
	H_F_MOV_RR,
	H_F_MOV_RI,
	H_F_LOAD,
	H_F_STORE,
	H_F_LEA,
	H_F_ADD,
	H_F_SUB,
	H_F_CMP,
	H_F_AND,
	H_F_OR,
	H_F_XOR,
	H_F_TEST,
	H_F_INC,
	H_F_DEC,
	H_F_JCC,
	H_F_PUSH,
	H_F_POP,
	H_F_CALL,
	H_F_RET,
	H_COUNT
};
extern const uint8_t emu_hclass[ZYDIS_MNEMONIC_MAX_VALUE + 1];

/* Cache tag: the physical address and the decoder mode in one compare. */
/* A block's tag: its first byte's guest-physical address and the code
 * size it was decoded for (never 0: cmode is 2, 4 or 8). */
#define BLOCK_TAG(gpa, cmode) (((uint64_t)(gpa) << 4) | (uint64_t)(cmode))

struct dinsn {
	const void *label; /* where run_blocks() runs fop (emu_op_labels[fop]) */
	uint16_t mnem;	   /* ZydisMnemonic */
	uint8_t hclass;	   /* H_*: what exec() dispatches on */
	uint8_t len;	   /* bytes */
	uint8_t osize;	   /* operand size in bytes */
	uint8_t asize;	   /* address size in bytes */
	uint8_t flags;	   /* DI_* */
	uint8_t nops;	   /* visible operands */
	uint8_t seg;	   /* segment of the memory operand (SEG_*) */
	uint8_t base, index, scale;
	uint8_t opcode; /* last opcode byte */
	uint8_t fop;	/* its handler in the run loop (exec.c: emu_insn_handler) */
	uint16_t imm2;	/* second immediate (enter) or far pointer selector */
	struct dop op[3];
	int32_t disp; /* see DI_DISP64 */
	int64_t imm;  /* first immediate, far pointer offset, or a 64-bit displacement */
};
/*
 * A native run (native.c): its first instruction's label is run_blocks'
 * native entry and its imm2 the run's 256-byte slot in the vCPU's code
 * arena, which starts with a struct native_hdr; every instruction of the
 * run keeps its own decoded form, for the interpreter to take over at
 * any of them. (imm2 is otherwise used only by ENTER and far pointers,
 * which never run natively.)
 */
struct native_ret {
	uint64_t rflags; /* host RFLAGS: the guest's arithmetic flags if exit has NATIVE_EXIT_FLAGS
			  */
	uint64_t exit;	 /* low byte: instruction of the run to continue at (n = done) */
};
#define NATIVE_EXIT_FLAGS 0x100
#define NATIVE_EXIT_TAKEN 0x200 /* the run ended in a JMP/Jcc that branched */
typedef struct native_ret native_fn(uint64_t *regs, uint64_t rflags_in, uint64_t rip);
struct native_hdr {
	native_fn *fn;
	uint8_t n;	  /* guest instructions */
	uint8_t bytes;	  /* their length */
	uint8_t cpl;	  /* compiled for this CPL's permission checks */
	uint8_t flags_in; /* pass the guest's arithmetic flags in */
	uint8_t pad[4];
};
#define NATIVE_HOT_RUNS 16 /* a block is compiled on its 16th entry, by default */

_Static_assert(sizeof(struct dinsn) <= 48,
	       "decoded instructions stay compact: blocks are arrays of them");

/* ---- Segments, registers --------------------------------------------- */

enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_NONE = 7 };

/* attr: VMX-style access rights: type 0-3, S 4, DPL 5-6, P 7, AVL 12,
 * L 13, D/B 14, G 15. */
struct seg {
	uint16_t sel;
	uint16_t attr;
	uint32_t limit;
	uint64_t base;
};
#define SA_P  0x80
#define SA_L  0x2000
#define SA_DB 0x4000
#define SA_G  0x8000

struct dtr {
	uint64_t base;
	uint32_t limit;
};

enum { R_AX, R_CX, R_DX, R_BX, R_SP, R_BP, R_SI, R_DI };

/* EFLAGS bits */
#define F_CF	0x1
#define F_PF	0x4
#define F_AF	0x10
#define F_ZF	0x40
#define F_SF	0x80
#define F_TF	0x100
#define F_IF	0x200
#define F_DF	0x400
#define F_OF	0x800
#define F_IOPL	0x3000
#define F_NT	0x4000
#define F_RF	0x10000
#define F_VM	0x20000
#define F_AC	0x40000
#define F_ID	0x200000
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

/* Lazy flags: the last arithmetic op whose flags are still pending. */
enum {
	LF_NONE,
	LF_ADD,
	LF_ADC,
	LF_SUB,
	LF_SBB,
	LF_LOGIC,
	LF_INC,
	LF_DEC,
	LF_NEG,
	LF_SHL,
	LF_SHR,
	LF_SAR, /* lf_b = count */
	LF_MUL, /* CF = OF = lf_cf */
};

#define CR0_PE	       0x1
#define CR0_MP	       0x2
#define CR0_EM	       0x4
#define CR0_TS	       0x8
#define CR0_ET	       0x10
#define CR0_NE	       0x20
#define CR0_WP	       0x10000
#define CR0_AM	       0x40000
#define CR0_NW	       0x20000000
#define CR0_CD	       0x40000000
#define CR0_PG	       0x80000000ULL
#define CR4_PSE	       0x10
#define CR4_PAE	       0x20
#define CR4_PGE	       0x80
#define CR4_OSFXSR     0x200
#define CR4_OSXMMEXCPT 0x400
#define EFER_SCE       0x1
#define EFER_LME       0x100
#define EFER_LMA       0x400
#define EFER_NXE       0x800

/* Exceptions */
enum {
	EXC_DE = 0,
	EXC_DB = 1,
	EXC_NMI = 2,
	EXC_BP = 3,
	EXC_OF = 4,
	EXC_BR = 5,
	EXC_UD = 6,
	EXC_NM = 7,
	EXC_DF = 8,
	EXC_TS = 10,
	EXC_NP = 11,
	EXC_SS = 12,
	EXC_GP = 13,
	EXC_PF = 14,
	EXC_MF = 16,
	EXC_AC = 17,
	EXC_XM = 19,
};

/* ---- Software TLB ----------------------------------------------------- */

#define TLB_SIZE 1024
#define TLB_W	 0x1 /* writable (and dirty already set) */
#define TLB_U	 0x2 /* user accessible */
#define TLB_X	 0x4 /* executable */
#define TLB_UW	 0x8 /* user-writable */

struct tlb_entry {
	uint64_t vpn;  /* linear page number + 1; 0 = invalid */
	uint8_t *host; /* host address of the page, NULL for MMIO */
	uint64_t gpa;  /* guest-physical page address */
	uint32_t perm; /* TLB_* */
};

/* ---- Local APIC ------------------------------------------------------- */

struct lapic {
	_Atomic uint32_t irr[8]; /* any thread */
	_Atomic uint32_t tmr[8]; /* any thread */
	uint32_t isr[8];
	uint32_t id;
	uint32_t tpr, ldr, dfr, svr, esr;
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[6]; /* timer, thermal, perf, lint0, lint1, error */
	uint32_t timer_init, timer_div;
	uint64_t timer_start_ns, timer_period_ns, timer_deadline_ns; /* deadline 0 = off */
	uint64_t apic_base;
};

/* ---- The vCPU ----------------------------------------------------------- */

/* cpu->events bits (any thread sets them; owner clears) */
#define EV_KICK 0x1
#define EV_IRQ	0x2 /* LAPIC IRR or PIC output may have changed */
#define EV_INIT 0x4
#define EV_SIPI 0x8

/* Decoded-block cache (decode.c), per vCPU. */
#define BTAB_BITS	  15	      /* hash table: 32768 block pointers */
#define BLOCK_MAX_INSNS	  48	      /* a block ends earlier at a branch/system insn */
#define BLOCK_ARENA_BYTES (48u << 20) /* reserved, touched as blocks are built */

/*
 * A run of instructions decoded from consecutive bytes of one guest page,
 * ending after the first instruction that may change control flow, modes,
 * translation or interrupt state (decode.c: ends_block). The bytes they
 * were decoded from follow insn[n]; a block is used only while guest
 * memory still holds them.
 */
struct dblock {
	uint64_t tag;	  /* BLOCK_TAG(gpa of the first byte, cmode) */
	uint16_t nbytes;  /* code bytes covered */
	uint16_t n;	  /* instructions */
	uint32_t runs;	  /* times entered, up to the vCPU's native_hot (native.c) */
	uint64_t checked; /* the vCPU's code_epoch when the bytes last matched */
	/* The blocks that followed this one (fall-through, branch target),
	 * found again without the table; still checked like any other. */
	uint64_t succ_tag[2];
	const struct dblock *succ[2];
	struct dinsn insn[];
};

static inline const uint8_t *dblock_bytes(const struct dblock *b)
{
	return (const uint8_t *)&b->insn[b->n];
}

union xmmreg {
	uint8_t b[16];
	uint16_t w[8];
	uint32_t d[4];
	uint64_t q[2];
	int8_t sb[16];
	int16_t sw[8];
	int32_t sd[4];
	int64_t sq[2];
	float f[4];
	double fd[2];
};

struct emu_cpu {
	uint64_t r[16];
	uint64_t rip;
	uint64_t next_rip;
	uint64_t flags; /* EFLAGS; arithmetic bits stale while lf_op != LF_NONE */
	uint32_t lf_op;
	uint8_t lf_size;
	uint8_t lf_cf; /* saved CF for INC/DEC, carry-in for ADC/SBB */
	uint64_t lf_res, lf_a, lf_b;

	/* SSE / x87 / MMX state (sse.c, x87.c) */
	union xmmreg xmm[16];
	uint32_t mxcsr;
	uint8_t fpr[8][16]; /* physical x87 registers, 80-bit values (MMX: low 64 bits) */
	uint16_t fcw, fsw;  /* TOP is fsw bits 11-13 */
	uint8_t ftw;	    /* abridged tag: bit i set = physical register i in use */
	uint16_t fop;
	uint64_t fip, fdp;

	struct seg seg[6];
	struct seg ldtr, tr;
	struct dtr gdtr, idtr;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
	uint64_t dr[8];
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t tsc_offset, tsc_adjust; /* guest TSC = host TSC + tsc_offset */
	uint32_t tsc_aux;		 /* IA32_TSC_AUX, returned in ECX by RDTSCP */
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip, pat, misc_enable;
	int cpl;
	int cmode; /* code size 2/4/8 */
	bool paging;
	bool halted;
	bool wait_sipi;
	int irq_shadow;
	bool irq_maybe; /* an interrupt may be deliverable: check before the next insn */
	bool slow;	/* take the run loop's slow path before the next instruction */
	int budget; /* instructions until the next timer check */ /* instructions until interrupts
								     are allowed again */

	/* Exception delivery state */
	jmp_buf fault_jmp;
	int delivering; /* vector being delivered, -1 none */
	bool fault_is_df;
	int pending_exc; /* set by raise; delivered by the run loop */
	uint32_t pending_err;
	bool pending_has_err;

	struct tlb_entry tlb[TLB_SIZE];
	uint64_t fetch_vpn; /* cached code page: linear vpn+1, 0 = none */
	uint8_t *fetch_host;
	uint64_t fetch_gpa;

	const uint8_t *exec_page; /* host page of the running block, or NULL */
	/* Blocks whose bytes matched in this epoch are trusted without a new
	 * comparison. It advances on every slow-path visit (interrupts,
	 * exceptions, timer checks: at least every TIMER_CHECK_INSNS
	 * instructions) and on this vCPU's stores into pages holding code. */
	uint64_t code_epoch;
	struct dblock **btab; /* 1 << BTAB_BITS entries, by hashed gpa */
	uint8_t *arena;	      /* BLOCK_ARENA_BYTES: blocks, bump-allocated */
	size_t arena_used;    /* when full, every block is dropped at once */
	uint64_t blocks_built, block_flushes;
	/* Host code for native runs (native.c): written through native_rw,
	 * run from native_rx, two mappings of one memfd; NULL when off. */
	uint8_t *native_rw;
	const uint8_t *native_rx;
	size_t native_used;
	uint64_t native_runs;
	uint64_t native_bails; /* runs the interpreter finished (TLB miss, MMIO, ...) */
	uint64_t native_insns; /* guest instructions run as host code */
	uint32_t native_hot;   /* compile a block on this entry (0: never) */

	struct lapic apic;

	/* any thread */
	_Atomic uint32_t events;
	_Atomic uint32_t sipi_vector;
	pthread_mutex_t sleep_lock;
	pthread_cond_t sleep_cond;

	int index;
	struct machine *m;
	struct emu_vm *vm;
	struct bus_hint pio_hint, mmio_hint;
	uint64_t icount;
};

/* ---- PIC / PIT / IOAPIC ------------------------------------------------ */

struct pic_chip {
	uint8_t irr, imr, isr, elcr, last_level;
	uint8_t vbase;
	uint8_t init_state; /* 0 ready, 2..4 waiting for ICW2..ICW4 */
	bool icw4_needed, single, auto_eoi, read_isr, special_mask;
	uint8_t lowest_prio; /* rotation */
};

struct pit_chan {
	uint16_t reload; /* 0 means 65536 */
	uint8_t mode, access, bcd;
	uint8_t rw_state; /* for lo/hi access: next byte is hi */
	uint8_t wr_state;
	bool latched;
	uint16_t latch;
	bool latch_hi_next;
	bool gate;
	bool counting;
	uint64_t load_ns;
	uint8_t write_lo;
};

struct ioapic {
	uint32_t id, sel;
	uint64_t redir[24];
	uint32_t irr; /* pin levels */
};

/* opaque for a bus range of this backend's devices */
struct emu_port {
	struct emu_vm *vm;
	int which;
};

struct emu_vm {
	struct machine *m;
	int ncpus;
	struct emu_cpu *cpus[VMON_MAX_CPUS];
	ZydisDecoder dec16, dec32, dec64;
	ZydisFormatter fmt;

	pthread_mutex_t chip_lock; /* PIC, IOAPIC, PIT */
	struct pic_chip pic[2];
	struct ioapic ioapic;
	struct pit_chan pit[3];
	uint8_t port61;
	_Atomic uint64_t pit_deadline_ns; /* next channel-0 interrupt, 0 = off */
	uint64_t pit_period_ns;
	uint32_t pit_pending; /* channel-0 ticks due but not yet injected */
	bool pic_out;	      /* master INTR line */
	/* Unimplemented mnemonics already reported on stderr (once each). */
	_Atomic uint8_t reported[ZYDIS_MNEMONIC_MAX_VALUE + 1];
	/* Host TSC when the VM was created: every vCPU's TSC starts at 0
	 * from there and runs at the host's (invariant) rate. */
	uint64_t tsc_base;
	/* One byte per guest-physical page: non-zero once a block has been
	 * decoded from it (any vCPU). Stores into such pages advance the
	 * storing vCPU's code_epoch. */
	uint8_t *code_pages;
	uint64_t code_pages_len;
};

/* ---- Cross-file functions ---------------------------------------------- */

uint64_t emu_now_ns(void);

/* exec.c */
void emu_cpu_run(struct emu_cpu *c);
/* EFLAGS with the lazy arithmetic flags materialised. */
uint64_t emu_flags(struct emu_cpu *c);
void emu_report_unimpl(struct emu_cpu *c, const struct dinsn *d);

/* system.c */
_Noreturn void emu_raise(struct emu_cpu *c, int vec, uint32_t err, bool has_err);
_Noreturn void emu_raise_gp(struct emu_cpu *c, uint32_t err);
void emu_deliver(struct emu_cpu *c, int vec, uint32_t err, bool has_err, bool soft,
		 uint64_t ret_rip);
void emu_update_mode(struct emu_cpu *c);
void emu_reset(struct emu_cpu *c);
void emu_load_seg(struct emu_cpu *c, int s, uint16_t sel);
void emu_load_boot_state(struct emu_cpu *c, const struct boot_cpu_state *b);
void emu_write_cr(struct emu_cpu *c, int n, uint64_t v);
uint64_t emu_rdmsr(struct emu_cpu *c, uint32_t msr, bool *ok);
bool emu_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v);
void emu_cpuid(struct emu_cpu *c);
/* Measures the host TSC frequency (for CPUID leaf 0x15) ahead of time. */
void emu_cpuid_init(void);
void emu_iret(struct emu_cpu *c, int osize);
void emu_far_jump(struct emu_cpu *c, uint16_t sel, uint64_t off, bool call, int osize);
void emu_far_ret(struct emu_cpu *c, int osize, uint16_t pop_extra);
void emu_syscall(struct emu_cpu *c);
void emu_sysret(struct emu_cpu *c, int osize);
void emu_dump(struct emu_cpu *c, const char *why);
/* Reads the descriptor for sel without faulting on the table limit;
 * false for a null selector, real mode, or outside the table. */
bool emu_peek_desc(struct emu_cpu *c, uint16_t sel, uint64_t *raw);

/* native.c */
bool emu_native_init(struct emu_cpu *c); /* false: native runs off (VMON_EMU_NATIVE=0) */
void emu_native_destroy(struct emu_cpu *c);
void emu_native_flush(struct emu_cpu *c);
/* False when the code arena is nearly full: the block cache is flushed. */
bool emu_native_room(const struct emu_cpu *c);
void emu_native_block(struct emu_cpu *c, struct dblock *b);
/* Would the first instruction of code (64-bit) run natively? For tests. */
bool emu_native_accepts(const uint8_t *code, size_t len);
/* With VMON_EMU_NATIVE_VERIFY=1: encodings checked against Zydis so far,
 * and how many disagreed (for tests). */
uint64_t emu_native_encoding_check(uint64_t *mismatched);
extern const uint8_t emu_fop_native;

/* mmu.c */
void tlb_flush(struct emu_cpu *c);
void tlb_flush_page(struct emu_cpu *c, uint64_t lin);
/* Translates; raises #PF on failure. acc: 0 read, 1 write, 2 fetch. */
struct tlb_entry *mmu_lookup(struct emu_cpu *c, uint64_t lin, int acc, bool user);
uint64_t lin_read(struct emu_cpu *c, uint64_t lin, unsigned size);
void lin_write(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v);
/* Same with explicit privilege (system structures are read at CPL 0). */
uint64_t lin_read_sys(struct emu_cpu *c, uint64_t lin, unsigned size);
void lin_write_sys(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v);
/* Host pointer for an aligned-enough RMW of size bytes within one page, or
 * NULL (MMIO or page-crossing: caller falls back to read+write). */
void *lin_rmw_ptr(struct emu_cpu *c, uint64_t lin, unsigned size);
uint64_t phys_read(struct emu_cpu *c, uint64_t gpa, unsigned size);
void phys_write(struct emu_cpu *c, uint64_t gpa, unsigned size, uint64_t v);

/* Something changed that may let an interrupt in (IF, TPR, EOI, ...). */
static inline void emu_poke(struct emu_cpu *c)
{
	c->irq_maybe = true;
	c->slow = true;
}

/*
 * Called with the host page of every guest-RAM write the CPU makes: a
 * write into the page of the running block may change instructions the
 * block has yet to run (code that patches its next instruction), so the
 * block ends after this instruction and the next lookup re-checks bytes.
 */
static inline void emu_note_write(struct emu_cpu *c, const uint8_t *page, uint64_t gpa)
{
	uint64_t pfn = gpa >> 12;
	uint8_t *map = c->vm->code_pages;
	if (__builtin_expect(pfn < c->vm->code_pages_len &&
				     __atomic_load_n(&map[pfn], __ATOMIC_RELAXED),
			     0)) {
		c->code_epoch++;
		/* With one vCPU the mark can go with the bump: every block is
		 * compared again before it runs, and marks its page again
		 * (dblock_current), so a page that once held code and is now
		 * data (the bzImage decompressor's output, freed init memory)
		 * costs one bump, not one per store. Other vCPUs' blocks rely
		 * on the mark for their own stores: with several it stays. */
		if (c->m->ncpus == 1)
			__atomic_store_n(&map[pfn], 0, __ATOMIC_RELAXED);
		if (page == c->exec_page)
			c->slow = true;
	}
}

/* decode.c */
int emu_decode_init(struct emu_vm *vm);
const struct dinsn *emu_fetch_decode(struct emu_cpu *c);
const struct dblock *emu_block_build(struct emu_cpu *c);
uint8_t emu_insn_handler(const struct dinsn *d, int cmode); /* exec.c */
uint8_t emu_insn_flagless(uint8_t fop);
bool emu_insn_reg_only(uint8_t fop);
/* run_blocks()'s handler addresses by fop, set before the first block is
 * built (decode.c stores each instruction's in dinsn.label). */
extern const void *const *emu_op_labels;
static inline uint32_t btab_index(uint64_t gpa)
{
	return (uint32_t)(gpa ^ (gpa >> BTAB_BITS) ^ (gpa >> (2 * BTAB_BITS))) &
	       ((1u << BTAB_BITS) - 1);
}

/*
 * The decoded block at CS:RIP, or NULL when the instruction there must be
 * taken alone (emu_fetch_decode: it straddles a page or does not decode).
 * The common case: same code page as last time, table hit, and the guest's
 * bytes still the decoded ones -- which catches code written by any vCPU
 * and by device DMA alike, with no write-side hook.
 */
static inline bool dblock_matches(const struct dblock *b, const uint8_t *guest)
{
	/* The guest's bytes are compared 8 at a time; the last word overlaps
	 * the one before it rather than reading past the block. */
	const uint8_t *mine = dblock_bytes(b);
	unsigned n = b->nbytes;
	if (n < 8)
		return !memcmp(mine, guest, n);
	uint64_t diff = 0, x, y;
	for (unsigned i = 0; i + 8 <= n; i += 8) {
		memcpy(&x, mine + i, 8);
		memcpy(&y, guest + i, 8);
		diff |= x ^ y;
	}
	memcpy(&x, mine + n - 8, 8);
	memcpy(&y, guest + n - 8, 8);
	return !(diff | (x ^ y));
}

/* True if b may run from guest bytes at guest: it already matched in this
 * code epoch, or it matches now (and is marked so). */
static inline bool dblock_current(struct emu_cpu *c, const struct dblock *b, const uint8_t *guest)
{
	if (__builtin_expect(b->checked == c->code_epoch, 1))
		return true;
	if (!dblock_matches(b, guest))
		return false;
	((struct dblock *)b)->checked = c->code_epoch;
	uint64_t pfn = b->tag >> 16; /* BLOCK_TAG: gpa << 4 */
	if (pfn < c->vm->code_pages_len)
		__atomic_store_n(&c->vm->code_pages[pfn], 1, __ATOMIC_RELAXED);
	return true;
}

static inline const struct dblock *emu_block(struct emu_cpu *c, const struct dblock *prev)
{
	uint64_t lin = c->seg[SEG_CS].base + c->rip;
	if (c->cmode != 8)
		lin &= 0xffffffffULL;
	if (c->fetch_vpn != (lin >> 12) + 1) {
		/* A new code page: take its translation from the TLB if it is
		 * there with execute (and, at CPL 3, user) permission. */
		const struct tlb_entry *e = &c->tlb[(lin >> 12) & (TLB_SIZE - 1)];
		uint32_t need = c->cpl == 3 ? (TLB_X | TLB_U) : TLB_X;
		if (e->vpn != (lin >> 12) + 1 || !e->host || (e->perm & need) != need)
			return emu_block_build(c);
		c->fetch_vpn = (lin >> 12) + 1;
		c->fetch_host = e->host;
		c->fetch_gpa = e->gpa;
	}
	{
		uint64_t gpa = c->fetch_gpa | (lin & 0xfff);
		uint64_t tag = BLOCK_TAG(gpa, c->cmode);
		const struct dblock *b;
		/* Where the previous block went last time, else the table. */
		if (prev && prev->succ_tag[0] == tag) {
			b = prev->succ[0];
		} else if (prev && prev->succ_tag[1] == tag) {
			b = prev->succ[1];
		} else {
			b = c->btab[btab_index(gpa)];
			if (__builtin_expect(!b || b->tag != tag, 0))
				return emu_block_build(c);
			if (prev) {
				struct dblock *p = (struct dblock *)prev;
				int k = p->succ_tag[0] != 0;
				p->succ_tag[k] = tag;
				p->succ[k] = b;
			}
		}
		if (__builtin_expect(dblock_current(c, b, c->fetch_host + (lin & 0xfff)), 1))
			return b;
	}
	return emu_block_build(c);
}
void emu_format_insn(struct emu_cpu *c, uint64_t rip, char *buf, size_t len);

/* sse.c: SSE/SSE2/MMX; x87.c: x87, FXSAVE/FXRSTOR, MXCSR. Return false
 * if d is not theirs (the caller reports it and raises #UD). */
bool emu_exec_sse(struct emu_cpu *c, const struct dinsn *d);
bool emu_exec_x87(struct emu_cpu *c, const struct dinsn *d);
void emu_fpu_reset(struct emu_cpu *c);

/* lapic.c */
void lapic_reset(struct emu_cpu *c, bool bsp);
uint32_t lapic_read(struct emu_cpu *c, uint32_t off);
void lapic_write(struct emu_cpu *c, uint32_t off, uint32_t v);
/* Highest deliverable vector or -1 (does not acknowledge). */
int lapic_pending(struct emu_cpu *c);
void lapic_ack(struct emu_cpu *c, int vec);
void lapic_timer_check(struct emu_cpu *c, uint64_t now);
bool lapic_enabled(const struct emu_cpu *c);
/* From any thread: set vector in IRR of cpu and wake it. */
void lapic_accept(struct emu_cpu *c, int vec, bool level);
/* Route an interrupt message (IOAPIC, IPI). dest_mode 0 physical, 1 logical. */
void apic_deliver(struct emu_vm *vm, struct emu_cpu *from, uint32_t dest, int dest_mode, int dmode,
		  int vec, bool level, int shorthand);
void emu_wake(struct emu_cpu *c, uint32_t ev);

/* ioapic.c */
void ioapic_init(struct ioapic *io);
uint32_t ioapic_read(struct emu_vm *vm, uint32_t off);
void ioapic_write(struct emu_vm *vm, uint32_t off, uint32_t v);
void ioapic_set_irq(struct emu_vm *vm, unsigned pin, bool level); /* chip_lock held */
void ioapic_eoi(struct emu_vm *vm, int vec);

/* pic.c */
int pic_register(struct emu_vm *vm, struct vmon_error *err);
void pic_set_irq(struct emu_vm *vm, unsigned irq, bool level); /* chip_lock held */
/* Acknowledges the highest pending interrupt and returns its vector, or
 * -1. Takes chip_lock. */
int pic_ack(struct emu_vm *vm);

/* pit.c */
int pit_register(struct emu_vm *vm, struct vmon_error *err);
void pit_check(struct emu_vm *vm, uint64_t now);

void emu_set_irq(void *ctx, unsigned gsi, bool level);
void emu_msi(void *ctx, uint64_t addr, uint32_t data);
/* Registers (or, after a reboot, re-attaches) one of this backend's port
 * ranges; the handler's opaque is a struct emu_port whose vm may be NULL. */
int emu_port_attach(struct emu_vm *vm, uint64_t base, uint64_t len, const struct bus_ops *ops,
		    int which, const char *name, struct vmon_error *err);

#endif
