/* SPDX-License-Identifier: MIT */
/*
 * The instruction table (insns.def) as C data: the row and run-loop
 * handler enums, what each row is (struct insn_row), each handler's kind
 * (struct insn_op), the operand forms (struct insn_form), and the maps
 * from Zydis mnemonics to rows. Pure data, below the decoder: no handler
 * code is referenced here (insn.h expands the handler column).
 */
#ifndef VMON_CPU_EMU_TABLE_H
#define VMON_CPU_EMU_TABLE_H

#include <stdint.h>

#include <Zydis/Zydis.h>

#include "cpu/cpu_model.h"
#include "cpu/emu/cpu.h"

/* ---- Column values ---------------------------------------------------- */

/* Arithmetic flags, by the letters of OSZAPC. */
#define FL_A	  F_AF
#define FL_AC	  (F_AF | F_CF)
#define FL_AP	  (F_AF | F_PF)
#define FL_C	  F_CF
#define FL_O	  F_OF
#define FL_OA	  (F_OF | F_AF)
#define FL_OAC	  (F_OF | F_AF | F_CF)
#define FL_OC	  (F_OF | F_CF)
#define FL_OS	  (F_OF | F_SF)
#define FL_OSAP	  (F_OF | F_SF | F_AF | F_PF)
#define FL_OSAPC  (F_OF | F_SF | F_AF | F_PF | F_CF)
#define FL_OSZ	  (F_OF | F_SF | F_ZF)
#define FL_OSZAP  (F_OF | F_SF | F_ZF | F_AF | F_PF)
#define FL_OSZAPC (F_OF | F_SF | F_ZF | F_AF | F_PF | F_CF)
#define FL_OSZP	  (F_OF | F_SF | F_ZF | F_PF)
#define FL_P	  F_PF
#define FL_S	  F_SF
#define FL_SZAP	  (F_SF | F_ZF | F_AF | F_PF)
#define FL_SZAPC  (F_SF | F_ZF | F_AF | F_PF | F_CF)
#define FL_Z	  F_ZF
#define FL_ZC	  (F_ZF | F_CF)

/* attr */
#define A_END	0x1  /* ends its decoded block */
#define A_KILLS 0x2  /* register-only, writes all six arithmetic flags, reads none */
#define A_Y2	0x4  /* its VEX.256 form needs AVX2 (its VEX.128 form AVX) */
#define A_R2	0x8  /* its form with a register source needs AVX2 */
#define A_L0	0x10 /* VEX.128 only: VEX.L=1 is #UD (VAES, VPCLMULQDQ, ... not offered) */

/* native: how native.c may compile it */
enum {
	NAT_NO,
	NAT_REG,
	NAT_MEM,
	NAT_STACK,
	NAT_BRANCH,
	NAT_NOP,
	NAT_DIV,
	NAT_CLI,
	NAT_VEC,
	NAT_STR
};

/* feature: an enum cpu_feature (src/cpu/cpu_model.h) */

/* arg of the string rows */
enum { SK_MOVS, SK_STOS, SK_LODS, SK_CMPS, SK_SCAS, SK_INS, SK_OUTS };
/* arg of MOVMSKPS/PD, PMOVMSKB */
enum { MSK_PS, MSK_PD, MSK_B };
/* arg of the packed two-operand SSE/MMX rows: kind, element size, op */
enum {
	PK_AND,
	PK_ANDN,
	PK_OR,
	PK_XOR,
	PK_INT,	    /* element-wise: P_* */
	PK_SHIFT,   /* all elements by one count: op 0 left, 1 logical right, 2 arithmetic */
	PK_UNPACK,  /* op 0 low halves, 1 high halves */
	PK_HORIZ,   /* pairs of each source (PHADD*, PHSUB*): op P_ADD, P_SUB, P_ADDSS, P_SUBSS */
	PK_MADDUBS, /* PMADDUBSW */
	PK_PSHUFB,
	PK_ALIGNR,
};
#define PK(kind, es, op) ((kind) | (es) << 4 | (op) << 8)
/* PK_INT's op: element-wise integer operations */
enum {
	P_ADD,
	P_SUB,
	P_EQ,
	P_GT,
	P_MINU,
	P_MAXU,
	P_MINS,
	P_MAXS,
	P_ADDUS,
	P_SUBUS,
	P_ADDSS,
	P_SUBSS,
	P_AVG,
	P_MULL,
	P_MULH,
	P_MULHU,
	P_ABS,	  /* of the second source */
	P_SIGN,	  /* the first negated, zeroed or kept by the second's sign */
	P_MULHRS, /* rounded high half of the product, scaled */
	P_SLLV,	  /* shifts by the second source's element */
	P_SRLV,
	P_SRAV,
};
/* arg of PMOVSX/PMOVZX: source and result element sizes, signed */
#define PMX(ses, des, sgn) ((ses) | (des) << 4 | (sgn) << 8)
/* arg of the gathers: index and element sizes */
#define GATHER(is, es) ((is) | (es) << 4)
/* arg of PACKUSWB/PACKSSWB/PACKSSDW: element size out, unsigned */
#define PACK(es, uns) ((es) | (uns) << 4)
/* arg of the SSE float rows: which operands, packed (aligned m128) memory */
enum {
	SF_VEC = 1,  /* xmm = op(xmm, xmm/m): packed (aligned m128) or scalar */
	SF_VEC_CVT,  /* xmm = cvt(xmm/m): the destination's old value is an input */
	SF_COMI,     /* EFLAGS = compare(xmm, xmm/m) */
	SF_TO_GPR,   /* r32/r64 = cvt(xmm/m) */
	SF_FROM_GPR, /* xmm = cvt(r/m32/64), upper lanes kept */
	SF_FMA,	     /* VEX: dst = fma(dst, src1, src2) */
};
#define SF(kind, packed_mem) ((kind) | (packed_mem) << 4)

/* ---- Rows ------------------------------------------------------------- */

enum {
#define INSN(id, ...) I_##id,
#define STR(id, ...)  I_S_##id,
#define SPEC(id, ...) I_##id,
#include "cpu/emu/insns.def"
	I_COUNT
};
_Static_assert(I_UNIMPL == 0, "row 0 is the unimplemented instruction");

struct insn_row {
	uint16_t mnem;		       /* ZydisMnemonic; 0 for SPEC rows */
	uint16_t reads, writes, undef; /* F_* arithmetic flags */
	uint8_t attr;		       /* A_* */
	uint8_t native;		       /* NAT_* */
	uint8_t feature;	       /* CPUF_* */
	int32_t arg;
};
extern const struct insn_row emu_insns[I_COUNT];
extern const char *const emu_insn_names[I_COUNT];

/* Row of each Zydis mnemonic (I_UNIMPL: none), and of each string form. */
extern const uint16_t emu_row_of_mnem[ZYDIS_MNEMONIC_MAX_VALUE + 1];
extern const uint16_t emu_string_row[ZYDIS_MNEMONIC_MAX_VALUE + 1];

/* ---- The run loop's handlers ------------------------------------------ */

enum {
#define OP(name, kind, twin, attr) FOP_##name,
#include "cpu/emu/insns.def"
	FOP_COUNT
};
_Static_assert(FOP_COUNT <= 256, "dinsn.fop is a byte");

enum { OPK_FULL, OPK_PURE, OPK_NF, OPK_NATIVE };
#define O_REGONLY 0x1

struct insn_op {
	uint8_t kind; /* OPK_* */
	uint8_t twin; /* FOP_* without the arithmetic flags (itself: none) */
	uint8_t attr; /* O_* */
};
extern const struct insn_op emu_ops[FOP_COUNT];
extern const char *const emu_op_names[FOP_COUNT];

/* ---- Operand forms -------------------------------------------------------- */

/* What a decoded instruction's operands look like (decode.c: shape_of). */
enum {
	S_PLAIN = 1 << 0, /* no LOCK, REP, REPNE, far */
	S_Q = 1 << 1,	  /* operand size 8 */
	S_D = 1 << 2,	  /* operand size 4 */
	S_OS48 = 1 << 3,  /* operand size 4 or 8 */
	S_N0 = 1 << 4,	  /* no visible operand */
	S_N2 = 1 << 5,	  /* two */
	S_N3 = 1 << 6,	  /* three */
	S_N2UP = 1 << 7,  /* two or more */
	S_R0 = 1 << 8,	  /* op0 a GPR of the operand size */
	S_R1 = 1 << 9,	  /* op1 a GPR of the operand size */
	S_I1 = 1 << 10,	  /* op1 an immediate */
	S_M0 = 1 << 11,	  /* op0 memory of the operand size */
	S_M1 = 1 << 12,	  /* op1 memory of the operand size */
	S_REG0 = 1 << 13, /* op0 a GPR, any size (AH..BH too) */
	S_RG48 = 1 << 14, /* op0 a 32/64-bit GPR */
	S_RS1 = 1 << 15,  /* op1 a GPR of op0's size */
	S_I2 = 1 << 16,	  /* op2 an immediate */
	S_SHI = 1 << 17,  /* a count operand op1 that is an immediate (also the implicit 1) */
	S_SHC = 1 << 18,  /* a count operand op1 that is CL */
	S_M64 = 1 << 19,  /* 64-bit code */
	S_REL = 1 << 20,  /* a relative branch */
	S_O0S8 = 1 << 21, /* op0 8 bytes */
	S_R1S4 = 1 << 22, /* op1 a 4-byte GPR */
};

struct insn_form {
	uint16_t insn; /* the instruction row it applies to */
	uint16_t row;  /* the row it gives */
	uint32_t need; /* S_* bits the instruction must have */
	uint8_t op;    /* FOP_* */
};
extern const struct insn_form emu_forms[];
enum {
	EMU_NFORMS = 0
#define FORM(id, shape, row, op) +1
#include "cpu/emu/insns.def"
};

#endif
