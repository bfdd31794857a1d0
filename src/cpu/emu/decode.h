/* SPDX-License-Identifier: MIT */
/*
 * The decoder: Zydis decodes each instruction once into vmon's compact
 * struct dinsn, and runs of them up to the next branch or system
 * instruction into a struct dblock (the block cache, cache.h, keeps
 * them). What an instruction is and which handler runs it come from the
 * instruction table (table.h); the run loop's handler addresses come in
 * as data (emu_op_labels), so the decoder knows no interpreter code.
 * Owning vCPU thread only (the decoders in struct emu_vm are read-only).
 */
#ifndef VMON_CPU_EMU_DECODE_H
#define VMON_CPU_EMU_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/emu/cpu.h"
#include "cpu/emu/table.h"

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
	DOP_ST,	 /* reg = 0..15 / 0..7 / st(i) */
	DOP_YMM, /* reg = 0..15 */
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
#define DI_VEX	  0x80 /* VEX-encoded */

/* dinsn.xflags */
#define DX_L256 0x1 /* VEX.L = 1: a 256-bit operation */
#define DX_VSIB 0x2 /* the memory operand's index is vector register `index` (gathers) */

/*
 * vmon's compact decoded form: everything the interpreter needs, nothing
 * it does not. Filled once by decode.c from Zydis and cached by
 * guest-physical address. At most one explicit memory operand exists in
 * the integer ISA, so its addressing lives here, not in struct dop.
 */
struct dinsn {
	const void *label; /* where run_blocks() runs fop (emu_op_labels[fop]) */
	uint16_t mnem;	   /* ZydisMnemonic */
	uint16_t row;	   /* I_*: its row of the instruction table (table.h) */
	uint8_t len;	   /* bytes */
	uint8_t osize;	   /* operand size in bytes */
	uint8_t asize;	   /* address size in bytes */
	uint8_t flags;	   /* DI_* */
	uint8_t nops;	   /* visible operands */
	uint8_t seg;	   /* segment of the memory operand (SEG_*) */
	uint8_t base, index, scale;
	uint8_t opcode; /* last opcode byte */
	uint8_t fop;	/* FOP_*: its handler in the run loop (a FORM row, or f_exec) */
	uint8_t xflags; /* DX_* */
	uint16_t imm2;	/* second immediate (enter) or far pointer selector */
	/* The first three visible operands. A fourth (VEX forms) is an
	 * immediate, in imm, or a register given by imm8[7:4] (is4), whose
	 * number is then in imm bits 7:4, as the encoding has it. */
	struct dop op[3];
	int32_t disp; /* see DI_DISP64 */
	int64_t imm;  /* first immediate, far pointer offset, or a 64-bit displacement */
};
_Static_assert(sizeof(struct dinsn) <= 48,
	       "decoded instructions stay compact: blocks are arrays of them");

/* ---- Decoded blocks --------------------------------------------------- */

#define BLOCK_MAX_INSNS 48 /* a block ends earlier at a branch/system insn */

/* A block's tag: its first byte's guest-physical address and the code
 * size it was decoded for (never 0: cmode is 2, 4 or 8). */
#define BLOCK_TAG(gpa, cmode) (((uint64_t)(gpa) << 4) | (uint64_t)(cmode))

/*
 * A run of instructions decoded from consecutive bytes of one guest page,
 * ending after the first instruction that may change control flow, modes,
 * translation or interrupt state (A_END in the table; decode.c:
 * ends_block). The bytes they
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
	/* The next block of its hash-table bucket (cache.c); the bucket's
	 * first is the one found without a walk. */
	struct dblock *next;
	struct dinsn insn[];
};

static inline const uint8_t *dblock_bytes(const struct dblock *b)
{
	return (const uint8_t *)&b->insn[b->n];
}

/* ---- The decoder ------------------------------------------------------- */

int emu_decode_init(struct emu_vm *vm);
/* Decodes the instruction at CS:RIP on its own, uncached: the path for
 * instructions that straddle a page and for those that do not decode
 * (which raises #UD, with a report the first time). */
const struct dinsn *emu_fetch_decode(struct emu_cpu *c);
/* Decodes the block at CS:RIP (the code page c->fetch_* is current) into
 * b: instructions, their bytes, nbytes and n; 0 instructions when the
 * first must be taken alone. */
void emu_decode_block(struct emu_cpu *c, struct dblock *b);
/* The code page at linear address lin becomes c->fetch_* (#PF/#UD as a
 * fetch would raise them). */
void emu_fetch_page(struct emu_cpu *c, uint64_t lin);
/* CS:rip as a linear address. */
static inline uint64_t emu_cs_linear(const struct emu_cpu *c, uint64_t rip)
{
	uint64_t lin = c->seg[SEG_CS].base + rip;
	return c->cmode != 8 ? lin & 0xffffffffULL : lin;
}
/* The instruction at rip as text, for messages (never faults). */
void emu_format_insn(struct emu_cpu *c, uint64_t rip, char *buf, size_t len);
/* Reports an instruction the interpreter does not implement (once per
 * mnemonic and VM, rate-limited) before the caller raises #UD. */
void emu_report_unimpl(struct emu_cpu *c, const struct dinsn *d);

/* run_blocks()'s handler addresses by fop, set before the first block is
 * built (the decoder stores each instruction's in dinsn.label). */
extern const void *const *emu_op_labels;

#endif
