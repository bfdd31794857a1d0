/* SPDX-License-Identifier: MIT */
/*
 * Inside the native-run compiler (native*.c), not for outside it: what a
 * checked instruction looks like (struct native_insn), the emitter, and
 * the frame layout of compiled runs.
 */
#ifndef VMON_CPU_EMU_NATIVE_PRIV_H
#define VMON_CPU_EMU_NATIVE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "cpu/emu/native.h"

#define NATIVE_ARENA_BYTES (16u << 20)
#define NATIVE_MIN_RUN	   3 /* shorter runs cost more to enter than they save */
#define NATIVE_MAX_CODE	   8192

#define NATIVE_ARITH                                                                               \
	(ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF |               \
	 ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF)

/* Memory operand access of a compiled instruction; ACC_GUARD: none, but
 * a check that may bail out first (a DIV by a register), so it has a
 * bail-out stub and borrowed registers as an access does. */
enum { ACC_NONE, ACC_READ, ACC_WRITE, ACC_RMW, ACC_GUARD };

/* What a DIV/IDIV's check must rule out before the host divides. */
enum { GUARD_NONE, GUARD_DIV, GUARD_IDIV };

/* One instruction, checked and re-encoded for the host. */
struct native_insn {
	uint8_t len;
	uint8_t code[ZYDIS_MAX_INSTRUCTION_LENGTH];
	uint16_t uses, writes; /* guest registers, bit n = r[n] (not RSP) */
	uint32_t tested;       /* arithmetic flags read (ZYDIS_CPUFLAG_*) */
	uint32_t defined;      /* arithmetic flags given a defined value */
	uint32_t written;      /* arithmetic flags changed, defined or not */
	bool nop;	       /* nothing to run */
	/* An explicit memory operand (or LEA based on RSP/RIP): code holds
	 * the instruction with that operand rewritten to [scratch[0]] (LEA:
	 * base scratch[0]); the address is computed from what follows. */
	uint8_t acc;	    /* ACC_*; ACC_NONE with sub_base for such a LEA */
	bool sub_base;	    /* the base is RSP (from r[]) or RIP (run-time RIP) */
	uint8_t msize;	    /* bytes accessed */
	uint8_t seg;	    /* SEG_FS/SEG_GS add their base; others are flat */
	int8_t base, index; /* guest register, -1 none; base REG_SP / -2 = RIP */
	uint8_t scale;	    /* 0 without index */
	int64_t disp;	    /* RIP-relative: from the end of the instruction */
	uint8_t scratch[3]; /* host registers the sequence may borrow */
	int8_t stack_adj;   /* PUSH -8 / POP +8: r[RSP] moves once the access is done */
	/* A branch ending the run (and its block): JMP rel, or Jcc rel with
	 * x86 condition code cc. */
	bool branch, cond;
	uint8_t cc;
	/* Ending a translated block only (native_check_tail): CALL rel32
	 * (branch, and a push of the return address vmon's code computes:
	 * no code bytes) and RET (a pop whose value is the exit's RIP); both
	 * for CALL by a register (the push, then the register's value is the
	 * exit's RIP: `target`). */
	bool call, ret;
	int8_t target; /* CALL by a register: its number */
	/* CALL through memory (FF /2 m64, call_mem; call and ret set as for
	 * CALL by a register): the target's address, read through its own
	 * TLB check before the push (native_emit.c). */
	bool call_mem;
	int8_t tbase, tindex; /* as base, index above */
	uint8_t tscale, tseg;
	int64_t tdisp;
	/* PUSHFQ: a push (no code bytes) of c->flags' other bits with the
	 * guest's arithmetic flags (F_FLAGS, saved before the access) */
	bool pushf;
	bool cli; /* CLI (ACC_GUARD): IF cleared in c->flags (native_emit_ops.c) */
	/* RSP as an explicit register operand (32/64-bit; no memory operand
	 * but a plain LEA's): code names scratch[0] in its place, loaded
	 * from r[RSP] first and stored back after when rsp_write
	 * (native_emit_ops.c). sub_base is set too, so the emitters route it
	 * with the RSP/RIP-based LEAs. */
	bool rsp_reg, rsp_write;
	uint8_t rsp_op; /* its operand index */
	uint8_t guard;	/* GUARD_*: DIV/IDIV (native_emit_ops.c) */
	uint8_t opsize; /* DIV/IDIV: operand bytes (4 or 8) */
	int8_t div_reg; /* DIV/IDIV by a register: its number, else -1 */
	/* NAT_VEC (native_emit_ops.c): the XMM registers it names (bit n =
	 * XMMn) and those it writes, loaded from and stored to c->xmm around
	 * it; behind a check of CR0.TS/EM and CR4.OSFXSR (ACC_GUARD without
	 * a memory operand); align16: its 16-byte memory operand must be
	 * aligned (else the interpreter takes it: #GP). */
	bool vec, align16;
	uint16_t xregs, xwrites;
	/* NAT_STR (native_emit_str.c): REP STOS (SK_STOS + 1) or REP MOVS
	 * (SK_MOVS + 1) of msize-byte elements, 0 for anything else; code
	 * holds the host's own REP STOS/MOVS of that size (vmon's bytes). */
	uint8_t str;
	/* MOV r32/r64, Sreg (sreg = SEG_* + 1; sub_base routes it): the
	 * selector loaded from c->seg into the destination (native_emit.c) */
	uint8_t sreg;
	int8_t sreg_dst;
	bool push_rsp; /* PUSH RSP: r[RSP] before the push is stored */
};

#define BASE_RIP (-2)

/* ---- native_check.c: what may run natively ---------------------------- */

/* The checker of each NAT_* kind: fills ni for in, or false. */
typedef bool native_checker(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
			    const ZydisDecodedOperand *ops, struct native_insn *ni);
/* Fills ni if in may run natively (64-bit code; insns.def's native column
 * says how): checked, and re-encoded for the host where it is not
 * vmon's own; false otherwise. */
bool native_check(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
		  const ZydisDecodedOperand *ops, struct native_insn *ni);
/* CALL rel32 / RET as the last instruction of a translated block (never
 * in a plain run, whose C caller could not follow them). */
bool native_check_tail(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
		       struct native_insn *ni);
/* Do a and b (its re-encoding) name the same operation and operands? The
 * operand mem_op was rewritten to [mem_base] (-1: none). */
bool same_operands(const ZydisDecodedInstruction *a, const ZydisDecodedOperand *ao,
		   const ZydisDecodedInstruction *b, const ZydisDecodedOperand *bo, int mem_op,
		   ZydisRegister mem_base);

/* ---- native_enc.c: the emitter ----------------------------------------- */

/*
 * uint64_t fn(uint64_t *regs, uint64_t rflags, uint64_t rip) returns
 * struct native_ret. The host stack while the run's instructions execute
 * (offsets from RSP): 0 guest RFLAGS slot, 8 the run's first RIP, 16 the
 * register file (struct emu_cpu *), 24 the TLB's tag (c->tlb_key, which
 * only C changes: it is read at every entry from C), then the saved host
 * registers.
 */
#define F_FLAGS 0
#define F_RIP	8
#define F_CPU	16
#define F_KEY	24
#define F_SIZE	32

struct fixup {
	size_t at;     /* rel32 field */
	unsigned stub; /* index of the bail-out stub it jumps to */
};

struct emitter {
	uint8_t buf[NATIVE_MAX_CODE];
	size_t len;
	bool failed;
	struct fixup fix[8 * BLOCK_MAX_INSNS]; /* up to 6 per memory access, 1 per Jcc */
	unsigned nfix;
};

/* VMON_EMU_NATIVE_VERIFY=1: every own encoding is checked against Zydis'. */
extern bool native_verify_encoding;

void emit_bytes(struct emitter *e, const void *p, size_t n);
/* Encodes r (vmon's own encoder for the few forms it knows, else Zydis). */
void emit_req(struct emitter *e, ZydisEncoderRequest *r);
void emit_plain(struct emitter *e, ZydisMnemonic m);
void emit_reg(struct emitter *e, ZydisMnemonic m, ZydisRegister reg);
/* m reg, reg2 */
void emit_rr(struct emitter *e, ZydisMnemonic m, ZydisRegister a, ZydisRegister b);
/* m reg, imm */
void emit_ri(struct emitter *e, ZydisMnemonic m, ZydisRegister a, int64_t v);
/* m reg, size ptr [base + disp] */
void emit_rm(struct emitter *e, ZydisMnemonic m, ZydisRegister reg, ZydisRegister base,
	     int32_t disp, unsigned size);
/* m size ptr [base + disp], reg */
void emit_mr(struct emitter *e, ZydisMnemonic m, ZydisRegister base, int32_t disp, unsigned size,
	     ZydisRegister reg);
/* m size ptr [base + disp], imm */
void emit_mi(struct emitter *e, ZydisMnemonic m, ZydisRegister base, int32_t disp, unsigned size,
	     int64_t v);
/* push qword [rsp + disp] */
void emit_push_m(struct emitter *e, int32_t disp);
/* The frame's slots from F_KEY down (RDI = c, RSI flags, RDX RIP). */
void emit_frame_push(struct emitter *e);
/* lea rsp, [rsp + disp]: moves the stack without touching the flags */
void emit_drop(struct emitter *e, int32_t bytes);
/* jcc rel32 to bail-out stub `stub`, patched once the stubs are placed */
void emit_jcc_stub(struct emitter *e, uint8_t cc, unsigned stub);
void patch_rel32(struct emitter *e, size_t at, size_t target);
/* push imm32 (sign-extended to 64 bits) */
void emit_push_imm(struct emitter *e, uint32_t v);
/* RFLAGS' arithmetic flags from qword [rsp + disp], without POPF;
 * clobbers host register t (neither RAX nor RSP). */
void emit_flags_load(struct emitter *e, int32_t disp, int t);
/* RFLAGS' arithmetic flags to qword [rsp + disp] (RFLAGS layout) without
 * PUSHF; clobbers host registers t1, t2 (not RAX or RSP) and the flags. */
void emit_flags_save(struct emitter *e, int32_t disp, int t1, int t2);
/* jmp rel32 to an offset already emitted */
void emit_jmp(struct emitter *e, size_t target);
/* jmp rel32 to bail-out stub `stub`, patched once the stubs are placed */
void emit_jmp_stub(struct emitter *e, unsigned stub);
/* jcc (cc < 16) or jmp (cc = CC_ALWAYS) rel32 forward to a place not
 * emitted yet: returns where its rel32 is, for patch_here. */
#define CC_ALWAYS 16
size_t emit_jump_fwd(struct emitter *e, unsigned cc);
/* Points the forward jump whose rel32 is at `at` here. */
void patch_here(struct emitter *e, size_t at);

#define TAKEN_STUB BLOCK_MAX_INSNS /* fixup target: a run-ending Jcc's taken exit */

enum { HOST_RAX = 0, HOST_RDI = 7 };
static const int callee_saved[] = {3, 5, 12, 13, 14, 15}; /* rbx rbp r12-r15 */

enum { CC_AE = 0x3, CC_E = 0x4, CC_NE = 0x5, CC_A = 0x7 };

/* An encoder request for m with nops operands, 64-bit mode. */
static inline void request(ZydisEncoderRequest *r, ZydisMnemonic m, int nops)
{
	memset(r, 0, sizeof(*r));
	r->machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
	r->mnemonic = m;
	r->operand_count = (ZyanU8)nops;
}

static inline void op_reg(ZydisEncoderOperand *o, ZydisRegister r)
{
	o->type = ZYDIS_OPERAND_TYPE_REGISTER;
	o->reg.value = r;
}

static inline void op_mem(ZydisEncoderOperand *o, ZydisRegister base, int32_t disp, unsigned size)
{
	o->type = ZYDIS_OPERAND_TYPE_MEMORY;
	o->mem.base = base;
	o->mem.index = ZYDIS_REGISTER_NONE;
	o->mem.displacement = disp;
	o->mem.size = (ZyanU16)size;
}

static inline void op_imm(ZydisEncoderOperand *o, int64_t v)
{
	o->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
	o->imm.s = v;
}

static inline ZydisRegister gpr64(int n)
{
	return (ZydisRegister)(ZYDIS_REGISTER_RAX + n);
}

static inline ZydisRegister gpr32(int n)
{
	return (ZydisRegister)(ZYDIS_REGISTER_EAX + n);
}

static inline ZydisRegister gpr_w(int n, unsigned bytes)
{
	return bytes == 8 ? gpr64(n) : gpr32(n);
}

/* ---- native_emit.c: a run's code -------------------------------------- */

/*
 * Host code for the run ni[0..n) (lens: guest lengths). flags_in: load the
 * guest's arithmetic flags (RSI) first. flags_out: the flags at the end
 * are the guest's. Bail-out k reports flags when the run touched them
 * before k.
 */
/* A memory access behind its inline TLB check, bailing out to stub k
 * (native_emit.c); a LEA based on RSP or RIP. save_flags: RFLAGS hold the
 * guest's flags, saved to F_FLAGS for a bail-out (else F_FLAGS already
 * holds them: a translated block that never touches them). */
void emit_memory(struct emitter *e, const struct native_insn *ni, unsigned k, unsigned end_off,
		 int cpl, bool restore_flags, bool save_flags);
void emit_lea_sub(struct emitter *e, const struct native_insn *ni, unsigned end_off);

/* ---- native_emit_ops.c: RSP as a register operand, DIV/IDIV ------------ */

/* ni names RSP as a register: run it on scratch[0] loaded from r[RSP]. */
void emit_rsp_reg(struct emitter *e, const struct native_insn *ni);
/* CLI (ACC_GUARD, from emit_memory's place): compiled for CPL 0 only. */
void emit_cli(struct emitter *e, const struct native_insn *ni, int cpl);
/* NAT_VEC on registers only (ACC_GUARD), from emit_memory's place. */
void emit_vec_reg(struct emitter *e, const struct native_insn *ni, unsigned k, bool restore_flags,
		  bool save_flags);
/* NAT_VEC with a memory operand, inside emit_memory's sequence (three
 * borrowed registers pushed, `at` bytes): the CR0/CR4 and alignment
 * checks after the address is in scratch[0]; the XMM loads before the
 * instruction (clobbers scratch[2]); the stores after it (scratch[0]
 * still pushed, `at` = 8). */
void emit_vec_checks(struct emitter *e, const struct native_insn *ni, unsigned k, int32_t at);
void emit_vec_xmm(struct emitter *e, const struct native_insn *ni, ZydisRegister cpu, bool store);
/* REP STOS/MOVS (ACC_GUARD), from emit_memory's place (native_emit_str.c). */
void emit_rep_string(struct emitter *e, const struct native_insn *ni, unsigned k,
		     bool restore_flags, bool save_flags, int cpl);
/* The inline TLB check of native_emit.c: the linear address in s0 becomes
 * its host address, with the permissions a read (or a write: and no
 * decoded code in the page) needs at cpl, else a bail-out to stub k; s1
 * and s2 are clobbered, and the flags. `at`: bytes pushed since the
 * frame. */
void emit_tlb(struct emitter *e, const struct native_insn *ni, unsigned k, int cpl, bool write,
	      int32_t at);
/* DIV/IDIV by a register (ACC_GUARD), from emit_memory's place. */
void emit_div_reg(struct emitter *e, const struct native_insn *ni, unsigned k, bool restore_flags,
		  bool save_flags);
/* The check of a DIV/IDIV whose divisor is `div` (a host register of the
 * instruction's width); t: a borrowed register. Bails out to stub k when
 * the host could fault. Clobbers the flags and t. */
void emit_div_check(struct emitter *e, const struct native_insn *ni, ZydisRegister div, int t,
		    unsigned k);

bool emit_run(struct emitter *e, const struct native_insn *ni, const uint8_t *lens, unsigned n,
	      bool flags_in, bool flags_out, const bool *flags_live_after, int cpl);

/* ---- native_chain.c: a whole block, chained to its successors ----------- */

/* What a translated block needs beyond its instructions. */
struct chain_plan {
	const struct dblock *block; /* whose `checked` a chained entry compares */
	unsigned n;		    /* guest instructions = the whole block */
	unsigned bytes;		    /* its length */
	bool flags_in;		    /* reads guest flags it has not set */
	bool valid;		    /* its exits report the guest's flags (F_FLAGS) */
	bool rflags_guest;	    /* ... from RFLAGS (else F_FLAGS is kept as it came) */
	bool fall;		    /* has a fall-through exit */
	bool taken;		    /* has a taken exit (JMP/Jcc) */
	int64_t taken_delta;	    /* taken target - block start */
	bool link_fall, link_taken; /* the exit stays in the block's page */
	size_t hdr_back;	    /* bytes from the header to the code */
};
/* Code for a translated block (fills *chain_off: the chained entry). */
bool emit_block(struct emitter *e, const struct native_insn *ni, const uint8_t *lens,
		const struct chain_plan *p, const bool *flags_live_after, int cpl,
		uint32_t *chain_off);

#endif
