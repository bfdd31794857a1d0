/* SPDX-License-Identifier: MIT */
/*
 * The software CPU's state, the bottom floor of src/cpu/emu (README.md
 * there has the map): one struct emu_cpu per vCPU, one struct emu_vm per
 * machine, and the architectural constants every other file uses. Data
 * only, plus the few helpers that touch nothing but this state (events,
 * the clock, reset values).
 *
 * Threading: one host thread per vCPU runs emu_cpu_run(); everything in
 * struct emu_cpu belongs to that thread except the fields marked "any
 * thread" (the event word, the LAPIC IRR/TMR, the sleep lock). The PIC,
 * IOAPIC and PIT state in struct emu_vm is shared and protected by
 * emu_vm.chip_lock.
 */
#ifndef VMON_CPU_EMU_CPU_H
#define VMON_CPU_EMU_CPU_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "core/machine.h"
#include "cpu/cpu_model.h"
#include "cpu/emu/svm.h"

struct emu_vm;
struct dblock; /* decode.h */

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

/* Lazy flags: the last arithmetic op whose flags are still pending
 * (flags.h computes them when asked). */
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
#define CR4_DE	       0x8
#define DR6_BS	       0x4000ULL /* single step */
#define CR4_PSE	       0x10
#define CR4_PAE	       0x20
#define CR4_PGE	       0x80
#define CR4_OSFXSR     0x200
#define CR4_OSXMMEXCPT 0x400
#define CR4_FSGSBASE   0x10000
#define CR4_SMEP       0x100000
#define CR4_SMAP       0x200000
#define CR4_PKE	       0x400000
#define CR4_UMIP       0x800
#define CR4_PCIDE      0x20000
/* Physical-address width CPUID reports (leaf 0x80000008); page-table
 * entries with address bits at or above it set are reserved (#PF RSVD). */
#define EMU_MAXPHYADDR 40
#define CR4_OSXSAVE    0x40000
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

/* ---- Operand sizes ------------------------------------------------------ */

static inline uint64_t szmask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static inline uint64_t sbit(unsigned size)
{
	return 1ULL << (size * 8 - 1);
}

static inline int64_t sext(uint64_t v, unsigned size)
{
	switch (size) {
	case 1: return (int8_t)v;
	case 2: return (int16_t)v;
	case 4: return (int32_t)v;
	default: return (int64_t)v;
	}
}

/* ---- Software TLB (mmu.h) --------------------------------------------- */

#define TLB_SIZE 4096
#define TLB_W	 0x1  /* supervisor-writable (and dirty already set) */
#define TLB_U	 0x2  /* a user page: user-readable, user-executable if TLB_X */
#define TLB_X	 0x4  /* executable */
#define TLB_UW	 0x8  /* user-writable */
#define TLB_R	 0x10 /* supervisor-readable without a walk: not a user page under SMAP */

/*
 * An entry's key is its linear page number (lin >> 12, 52 bits) with the
 * address space's tag above it (TLB_TAG_SHIFT): the tag of the PCID the
 * translation was made under (tlb.c), never 0, so 0 is an invalid entry
 * and a lookup compares one word: e->key == tlb_key(c, lin).
 */
#define TLB_TAG_SHIFT 52
#define TLB_TAG_MAX   4095 /* tags 1..4095; then the TLB is cleared */
#define TLB_VPN_MASK  ((1ULL << TLB_TAG_SHIFT) - 1)

struct tlb_entry {
	uint64_t key;	     /* linear page number | tag << TLB_TAG_SHIFT; 0 = invalid */
	uint8_t *host;	     /* host address of the page, NULL for MMIO */
	uint64_t gpa;	     /* guest-physical page address */
	uint32_t perm;	     /* TLB_* */
	uint32_t page_shift; /* the guest page it is a 4 KiB granule of: 12, 21, 22, 30 */
};

/*
 * The jump cache of translated blocks (native_chain.c): a RET's or a
 * cross-page exit's compiled code looks its target's linear RIP up here
 * and jumps to that block's chained entry, which still compares the
 * block's code epoch. One table per CPL a block may be compiled for (0,
 * 3), filled by the run loop (native.c: emu_native_link), emptied with
 * the TLB (a linear address may now name other code) and the code arena.
 * 4096 entries a table (1024 until 2026-12-07: on the Linux boot 924 K
 * exits refilled an entry another RIP had taken, now 229 K; issue 16).
 */
#define JC_BITS	     12
#define JC_TAG_SHIFT 48
struct jc_entry {
	/* The linear RIP xor the address space's tag << JC_TAG_SHIFT (a RIP
	 * is found only under the PCID it was entered under); an empty entry
	 * holds a key whose jc_index is not its own slot, so no RIP matches it
	 * (emu_jcache_clear). */
	uint64_t key;
	const void *entry; /* its chained entry */
};

/* ---- Interrupt controllers' registers (chip_*.h) ------------------------ */

#define APIC_BASE_BSP  0x100ULL
#define APIC_BASE_EXTD 0x400ULL /* x2APIC mode */
#define APIC_BASE_EN   0x800ULL

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
	uint64_t apic_base; /* EN 0x800, EXTD 0x400 (x2APIC mode), BSP 0x100 */
	/* IA32_TSC_DEADLINE (guest TSC; 0 = disarmed) in TSC-deadline mode;
	 * timer_deadline_ns is then the host time to look at it again. */
	uint64_t tsc_deadline;
};

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

/* ---- The vCPU ----------------------------------------------------------- */

/* cpu->events bits (any thread sets them; owner clears) */
#define EV_KICK 0x1
#define EV_IRQ	0x2 /* LAPIC IRR or PIC output may have changed */
#define EV_INIT 0x4
#define EV_SIPI 0x8
#define EV_NMI	0x10 /* an NMI arrived (IPI, MSI, LINT1): nmi_pending */

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

/* The pages another vCPU's code writes name, for the vCPU whose code
 * they hold (struct emu_cpu: xwrite_pfn). */
#define EMU_XWRITE_HINTS 4

/* PAUSEs in a row after which a vCPU yields its host CPU (insn_mov.c). */
#define EMU_PAUSE_YIELD_RUN 64u

struct emu_cpu {
	uint64_t r[16];
	uint64_t rip;
	uint64_t next_rip;
	uint64_t flags; /* EFLAGS; arithmetic bits stale while lf_op != LF_NONE */
	uint32_t lf_op;
	uint8_t lf_size;
	uint8_t lf_cf; /* saved CF for INC/DEC, carry-in for ADC/SBB */
	uint64_t lf_res, lf_a, lf_b;

	/* SSE / AVX / x87 / MMX state (insn_sse*.c, insn_avx*.c, insn_x87.c) */
	union xmmreg xmm[16];
	/* Bits 255:128 of YMM0-15: legacy SSE leaves them alone, VEX.128
	 * zeroes them (insn_avx.h). */
	union xmmreg ymmh[16];
	uint32_t mxcsr;
	uint64_t xcr0;	    /* XSETBV/XGETBV (insn_xsave.c); bit 0 always set */
	uint32_t pkru;	    /* protection-key rights (CR4.PKE): AD/WD bit pairs, mmu.c */
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
	/* PAUSE (insn_mov.c: h_pause): the host TSC at the last one, how
	 * many came in a row, and (counted always) PAUSEs and host yields. */
	uint64_t pause_tsc;
	uint32_t pause_run, pause_yield_run;
	uint64_t stat_pauses, stat_pause_yields;
	/* Counted always (cold paths): IPIs sent (ICR writes), sleeps in
	 * HLT or wait-for-SIPI and the host time spent in them (run.c). */
	uint64_t stat_ipis, stat_sleeps, stat_sleep_ns;
	int irq_shadow;	     /* STI / MOV SS: one more instruction before interrupts */
	bool irq_maybe;	     /* an interrupt may be deliverable: check before the next insn */
	bool slow;	     /* take the run loop's slow path before the next instruction */
	bool nmi_pending;    /* an NMI waits for delivery (owning vCPU; EV_NMI sets it) */
	bool nmi_blocked;    /* an NMI handler runs: NMIs wait for the next IRET */
	bool dbg_on;	     /* DR7 enables a breakpoint: one instruction at a time (sys_debug.c) */
	bool dbg_data;	     /* ... a data breakpoint: no TLB entries kept (mmu.c) */
	uint8_t dbg_hits;    /* data/I/O breakpoints the current instruction hit (DR6.B0-3) */
	uint32_t deliveries; /* events delivered (emu_deliver), for the single-step trap */
	int budget; /* until the slow path: 16 per interpreted instruction, 1 compiled (run.c) */
	/* run.c: timers_maybe_due -- the deadline seen at the last timer
	 * check, the host TSC then and the TSC before which it cannot have
	 * passed; the TSC's rate (per ns, 0 until learnt) and the first
	 * good reading's clock and TSC it is learnt from. */
	uint64_t timer_seen_dl, timer_seen_tsc, timer_quiet_tsc;
	uint32_t timer_skips; /* budgets since the clock was last read */
	double tsc_per_ns;
	uint64_t tsc_cal_ns, tsc_cal_tsc;

	/* PCIDs (tlb.c): the tag each PCID's translations carry (0: none
	 * yet, the next use takes a new one), the next tag to hand out, and
	 * the global translations (PTE.G with CR4.PGE), keyed by linear page
	 * number + 1, which outlive the tags. */
	uint16_t pcid_tag[4096];
	uint16_t tlb_tag_next;
	struct tlb_entry tlb_global[TLB_SIZE];

	/* Exception delivery state */
	jmp_buf fault_jmp;
	int delivering; /* vector being delivered, -1 none */
	bool fault_is_df;
	int pending_exc; /* set by raise; delivered by the run loop */
	uint32_t pending_err;
	bool pending_has_err;

	struct tlb_entry tlb[TLB_SIZE];
	struct tlb_entry tlb_scratch; /* mmu_lookup's entry while dbg_data */
	bool tlb_large;		      /* an entry may come from a page larger than 4 KiB */
	/* The current address space's tag (tlb.c): << TLB_TAG_SHIFT for the
	 * TLB's keys, << JC_TAG_SHIFT for the jump cache's. */
	uint64_t tlb_key, jc_key;
	struct jc_entry jcache[2][1u << JC_BITS]; /* [CPL 0, CPL 3] */
	uint64_t fetch_vpn;			  /* cached code page: linear vpn+1, 0 = none */
	uint8_t *fetch_host;
	uint64_t fetch_gpa;
	bool fetch_user; /* the cached code page is a user page (SMEP) */

	const uint8_t *exec_page; /* host page of the running block, or NULL */
	/* Blocks whose bytes matched in this epoch are trusted without a new
	 * comparison. It advances on this vCPU's stores into pages holding
	 * its code, on exceptions, and at slow-path visits for an event,
	 * after another vCPU stored into a page holding this vCPU's code, or
	 * every QUIET_EPOCH_VISITS-th visit (run.c: next_code_epoch). */
	uint64_t code_epoch;
	uint64_t xwrites_seen; /* xwrites at the last epoch (run.c) */
	uint32_t quiet_visits; /* slow-path visits that kept the epoch (run.c) */
	struct dblock **btab;  /* cache.h: 1 << BTAB_BITS entries, by hashed gpa */
	uint8_t *arena;	       /* BLOCK_ARENA_BYTES: blocks, bump-allocated */
	size_t arena_used;     /* when full, every block is dropped at once */
	uint64_t blocks_built, block_flushes;
	/* Host code for native runs (native.h): written through native_rw,
	 * run from native_rx, two mappings of one memfd; NULL when off. */
	uint8_t *native_rw;
	const uint8_t *native_rx;
	size_t native_used;
	uint64_t native_runs;
	uint64_t native_bails; /* runs the interpreter finished (TLB miss, MMIO, ...) */
	uint64_t native_insns; /* guest instructions run as host code */
	uint32_t native_hot;   /* compile a block on this entry (0: never) */
	/* Translated blocks (native_chain.c): the header of the one that
	 * returned last, and the exit it left by (the rel32 of its patchable
	 * jump, 0: none) with whether its RFLAGS were the guest's. */
	const void *native_at;
	/* Called by a chained entry whose block was not confirmed in this
	 * code epoch (native_chain.c): compares the block's bytes with guest
	 * memory now (marking it current) and returns non-zero if they match;
	 * set by the run loop, which owns the block cache (run.c). */
	uint64_t (*native_recheck)(struct emu_cpu *c, const void *block);
	uint64_t link_site;
	uint64_t link_valid;
	bool native_chain;     /* translate whole blocks and chain them */
	uint64_t native_links; /* exits linked to their successor */
	/* VMON_EMU_STATS (backend_emu.c): where the run loop's time goes;
	 * counted only when stats is set. Per-row counts in stat_end_row
	 * (I_COUNT entries, allocated with stats). */
	bool stats;
	uint64_t stat_lookups;	   /* blocks looked up by the run loop */
	uint64_t stat_tb_enter;	   /* translated blocks entered from C */
	uint64_t stat_tb_chain;	   /* ... that came back by a chain exit */
	uint64_t stat_tb_unlinked; /* chain exits through a jump not yet linked */
	/* ... by why (enum emu_exit_why, native.h), and the code epochs by
	 * what started them (enum emu_epoch_why, run.c; own code writes are
	 * the rest of code_epoch). */
	uint64_t stat_exit_why[8];
	uint64_t stat_epoch_why[6];
	uint64_t stat_rechecks[2]; /* chained entries' byte comparisons: [differ, match] */
	uint64_t stat_slow;	   /* slow-path visits */
	uint64_t stat_interp;	   /* blocks the interpreter ran (or finished) */
	/* The TLB's are counted whether stats is set or not (cold paths). */
	uint64_t stat_tlb_fills;   /* TLB misses filled (a walk, or paging off) */
	uint64_t stat_tlb_flushes; /* whole-TLB flushes */
	uint64_t stat_cr3;	   /* CR3 writes */
	uint64_t stat_invlpg;	   /* INVLPG */
	uint64_t stat_invpcid[4];  /* INVPCID by type */
	uint64_t stat_cr3_keep;	   /* CR3 writes with bit 63 (keep the PCID's entries) */
	uint64_t *stat_end_row;	   /* ... by the table row of their last instruction */

	struct lapic apic;
	struct emu_svm svm; /* AMD SVM (svm.h): GIF, guest mode, the VMCB's controls */

	/* any thread */
	_Atomic uint32_t events;
	/* Stores other vCPUs made into pages holding this vCPU's code
	 * (mmu.c: emu_code_written): how many, and the last EMU_XWRITE_HINTS
	 * pages (pfn + 1), whose marks this vCPU clears when it takes them
	 * (run.c: take_xwrites). Written by the storing vCPU only, so no
	 * line is written by every vCPU (until 2026-12-07: emu_vm.code_writes). */
	_Atomic uint64_t xwrites;
	_Atomic uint64_t xwrite_pfn[EMU_XWRITE_HINTS];
	_Atomic uint32_t sipi_vector;
	pthread_mutex_t sleep_lock;
	pthread_cond_t sleep_cond;

	int index;
	struct machine *m;
	struct emu_vm *vm;
	struct bus_hint pio_hint, mmio_hint;
	uint64_t icount;
	/* The last port read (IN, INS): the host TSC when the device
	 * answered, and icount and deliveries then (insn_io.c: port_in;
	 * RDTSC, insn_system.c, reads it back). io_tsc_set: not used yet. */
	uint64_t io_tsc, io_icount;
	uint32_t io_deliveries;
	bool io_tsc_set;
	/* Migration's TLB flush (emu_dirty_flush): the flush generation this
	 * vCPU has done (it flushes when vm->tlb_gen differs, in the slow
	 * path, before any further instruction), and whether it stands
	 * parked (it flushes before it runs again). */
	_Atomic uint32_t tlb_ack;
	_Atomic bool parked;
};

/* ---- The machine -------------------------------------------------------- */

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
	/* A LAPIC's EOI of a level-triggered vector, as broadcast on the
	 * APIC bus: the IOAPIC's (chip_ioapic.c), installed at creation, so
	 * the LAPIC need not know the IOAPIC. */
	void (*eoi_broadcast)(struct emu_vm *vm, int vec);
	/* The guest-visible CPU features (--cpu-features resolved against
	 * what this CPU offers, sys_cpuid.c): CPUID reports exactly these,
	 * the decoder turns instructions outside them into #UD. */
	struct cpu_featureset features;
	uint64_t xcr0_mask; /* the XSAVE state components offered (CPUID 0xd) */
	/* Unimplemented mnemonics already reported on stderr (once each). */
	_Atomic uint8_t reported[ZYDIS_MNEMONIC_MAX_VALUE + 1];
	/* Host TSC when the VM was created: every vCPU's TSC starts at 0
	 * from there and runs at the host's (invariant) rate. */
	uint64_t tsc_base;
	/* One byte per guest-physical page: bit (index & 7) set while vCPU
	 * index may hold a block confirmed in its current code epoch there
	 * (emu_code_bit; set when a block is built or confirmed, cleared by
	 * that vCPU only, with an epoch advance). A store into a marked page
	 * is the interpreter's (compiled code tests the byte) and advances
	 * the storing vCPU's own epoch if its bit is set, and tells the other
	 * vCPUs whose bits are set (mmu.c: emu_code_written). With more than
	 * 8 vCPUs bits are shared, so never cleared. */
	uint8_t *code_pages;
	uint64_t code_pages_len;
	/* Bumped by emu_dirty_flush: every vCPU drops its TLB. */
	_Atomic uint32_t tlb_gen;
};

/* ---- Helpers on this state alone ------------------------------------ */

/* The TLB key of linear address lin in the current address space. */
static inline uint64_t tlb_key(const struct emu_cpu *c, uint64_t lin)
{
	return (lin >> 12) | c->tlb_key;
}

/* c's bit in emu_vm.code_pages' marks. */
static inline uint8_t emu_code_bit(const struct emu_cpu *c)
{
	return (uint8_t)(1u << (c->index & 7));
}

/* The slot of a RIP; the tag (bits 48 up) does not change it. */
static inline uint32_t jc_index(uint64_t rip)
{
	return (uint32_t)(rip ^ (rip >> JC_BITS)) & ((1u << JC_BITS) - 1);
}

/* Forgets every jump-cache entry (INVLPG, the code arena dropped, the
 * tags handed out again). An empty slot i holds the key i + 1 (mod the
 * table), whose own slot is i + 1 under every tag: no lookup of slot i
 * can compute it, whatever the RIP (a RET may leave for any value). */
static inline void emu_jcache_clear(struct emu_cpu *c)
{
	for (uint32_t i = 0; i < (1u << JC_BITS); i++) {
		uint64_t k = (i + 1) & ((1u << JC_BITS) - 1);
		c->jcache[0][i] = (struct jc_entry){.key = k, .entry = NULL};
		c->jcache[1][i] = (struct jc_entry){.key = k, .entry = NULL};
	}
}

/* CLOCK_MONOTONIC in nanoseconds: the clock of every emulated timer. */
uint64_t emu_now_ns(void);

/* The host TSC's frequency (the guest's TSC runs at it), measured once
 * per process against CLOCK_MONOTONIC over at least 10 ms: from
 * emu_tsc_hz_start (the backend's create calls it; any thread, once per
 * process) to the first emu_tsc_hz, which waits out whatever is left of
 * the 10 ms. emu_tsc_hz_early never waits more than 1 ms: the measured
 * figure if there is one, else the rate so far rounded up by 0.1%, for a
 * deadline that may come early, not late (the LAPIC checks the TSC when
 * it comes, and looks again later). */
void emu_tsc_hz_start(void);
uint64_t emu_tsc_hz(void);
uint64_t emu_tsc_hz_early(void);

/* From any thread: sets ev in c's event word and wakes c if it sleeps. */
void emu_wake(struct emu_cpu *c, uint32_t ev);

/* Something changed that may let an interrupt in (IF, TPR, EOI, ...). */
static inline void emu_poke(struct emu_cpu *c)
{
	c->irq_maybe = true;
	c->slow = true;
}

/* The x87/SSE/AVX/MMX registers' reset values (FNINIT, MXCSR 0x1f80,
 * XMM/YMM zero), and the x87 part alone (XRSTOR's initial
 * configuration of x87 state). */
void emu_fpu_reset(struct emu_cpu *c);
void emu_fpu_reset_x87(struct emu_cpu *c);

#endif
