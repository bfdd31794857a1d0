/* SPDX-License-Identifier: MIT */
/*
 * insns.def expanded into data. See table.h.
 */
#include "cpu/emu/table.h"

#define ROW(mn, reads_, writes_, undef_, attr_, native_, feature_, arg_)                           \
	{                                                                                          \
		.mnem = (mn), .reads = (reads_), .writes = (writes_), .undef = (undef_),           \
		.attr = (attr_), .native = (native_), .feature = CPUF_##feature_, .arg = (arg_)    \
	}

const struct insn_row emu_insns[I_COUNT] = {
#define INSN(id, h, arg, rd, wr, ud, attr, nat, feat)                                              \
	[I_##id] = ROW(ZYDIS_MNEMONIC_##id, rd, wr, ud, attr, nat, feat, arg),
#define STR(id, h, arg, rd, wr, ud, attr, nat, feat)                                               \
	[I_S_##id] = ROW(ZYDIS_MNEMONIC_##id, rd, wr, ud, attr, nat, feat, arg),
#define SPEC(id, h, arg, rd, wr, ud, attr, nat, feat)                                              \
	[I_##id] = ROW(0, rd, wr, ud, attr, nat, feat, arg),
#include "cpu/emu/insns.def"
};

const char *const emu_insn_names[I_COUNT] = {
#define INSN(id, ...) [I_##id] = #id,
#define STR(id, ...)  [I_S_##id] = #id " (string)",
#define SPEC(id, ...) [I_##id] = #id,
#include "cpu/emu/insns.def"
};

const uint16_t emu_row_of_mnem[ZYDIS_MNEMONIC_MAX_VALUE + 1] = {
#define INSN(id, ...) [ZYDIS_MNEMONIC_##id] = I_##id,
#include "cpu/emu/insns.def"
};

const uint16_t emu_string_row[ZYDIS_MNEMONIC_MAX_VALUE + 1] = {
#define STR(id, ...) [ZYDIS_MNEMONIC_##id] = I_S_##id,
#include "cpu/emu/insns.def"
};

const struct insn_op emu_ops[FOP_COUNT] = {
#define OP(name, kind_, twin_, attr_)                                                              \
	[FOP_##name] = {.kind = OPK_##kind_, .twin = FOP_##twin_, .attr = (attr_)},
#include "cpu/emu/insns.def"
};

const char *const emu_op_names[FOP_COUNT] = {
#define OP(name, kind, twin, attr) [FOP_##name] = #name,
#include "cpu/emu/insns.def"
};

const struct insn_form emu_forms[] = {
#define FORM(id, shape, row_, op_)                                                                 \
	{.insn = I_##id, .row = I_##row_, .need = (shape), .op = FOP_##op_},
#include "cpu/emu/insns.def"
};
_Static_assert(sizeof(emu_forms) / sizeof(emu_forms[0]) == EMU_NFORMS, "every FORM row counted");
