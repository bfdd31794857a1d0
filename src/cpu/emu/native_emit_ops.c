/* SPDX-License-Identifier: MIT */
/*
 * Compiled forms that need more than their re-encoded bytes: an
 * instruction naming RSP as a register (`mov rbp, rsp`, `sub rsp, N`),
 * which runs on a borrowed host register loaded from the guest's r[RSP]
 * (host RSP is the host's stack), and DIV/IDIV, which run on the host only
 * after a check that they cannot fault there (a zero divisor, a quotient
 * that does not fit): otherwise the run bails out and the interpreter
 * raises #DE at that instruction with exact registers and flags. Neither
 * touches the guest's flags beyond what the instruction itself does: the
 * loads and stores around RSP are MOVs, and the division's check runs on
 * flags saved to F_FLAGS and restored after the host's DIV (whose flags
 * are undefined; the interpreter leaves them as they were).
 */
#include "cpu/emu/native_priv.h"

void emit_rsp_reg(struct emitter *e, const struct native_insn *ni)
{
	ZydisRegister s = gpr64(ni->scratch[0]), t = gpr64(ni->scratch[1]);
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, s);
	if (ni->rsp_write) {
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, t);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, t, ZYDIS_REGISTER_RSP, 16 + F_CPU, 8);
		/* loaded even when only written: a CMOVcc may keep it */
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s, t, 8 * R_SP, 8);
		emit_bytes(e, ni->code, ni->len);
		emit_mr(e, ZYDIS_MNEMONIC_MOV, t, 8 * R_SP, 8, s);
		emit_reg(e, ZYDIS_MNEMONIC_POP, t);
	} else {
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s, ZYDIS_REGISTER_RSP, 8 + F_CPU, 8);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s, s, 8 * R_SP, 8);
		emit_bytes(e, ni->code, ni->len);
	}
	emit_reg(e, ZYDIS_MNEMONIC_POP, s);
}

/*
 * DIV: the quotient fits exactly when the high half of the dividend
 * (RDX/EDX) is below the divisor, which also rules out a zero divisor.
 * IDIV: checked more strictly than the rule (the interpreter takes the
 * rest): a non-zero divisor other than -1 and a dividend that is RAX/EAX
 * sign-extended into RDX/EDX (CQO/CDQ's), whose quotient always fits.
 */
void emit_div_check(struct emitter *e, const struct native_insn *ni, ZydisRegister div, int t,
		    unsigned k)
{
	unsigned w = ni->opsize;
	ZydisRegister dx = gpr_w(R_DX, w), ax = gpr_w(R_AX, w), tr = gpr_w(t, w);
	if (ni->guard == GUARD_DIV) {
		emit_rr(e, ZYDIS_MNEMONIC_CMP, dx, div);
		emit_jcc_stub(e, CC_AE, k);
		return;
	}
	emit_rr(e, ZYDIS_MNEMONIC_TEST, div, div);
	emit_jcc_stub(e, CC_E, k);
	emit_ri(e, ZYDIS_MNEMONIC_CMP, div, -1);
	emit_jcc_stub(e, CC_E, k);
	emit_rr(e, ZYDIS_MNEMONIC_MOV, tr, ax);
	emit_ri(e, ZYDIS_MNEMONIC_SAR, tr, w * 8 - 1);
	emit_rr(e, ZYDIS_MNEMONIC_CMP, tr, dx);
	emit_jcc_stub(e, CC_NE, k);
}

/* Laid out as emit_memory's sequence (three borrowed registers pushed),
 * so the run's bail-out stub k gives them back the same way. */
void emit_div_reg(struct emitter *e, const struct native_insn *ni, unsigned k, bool restore_flags,
		  bool save_flags)
{
	for (int i = 0; i < 3; i++)
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, gpr64(ni->scratch[i]));
	const int32_t at = 24;
	if (save_flags) /* DIV names RAX and RDX: no borrowed register is RAX */
		emit_flags_save(e, at + F_FLAGS, ni->scratch[0], ni->scratch[1]);
	emit_div_check(e, ni, gpr_w(ni->div_reg, ni->opsize), ni->scratch[2], k);
	emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(ni->scratch[2]));
	emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(ni->scratch[1]));
	emit_bytes(e, ni->code, ni->len);
	if (restore_flags && save_flags) /* as they were before the DIV */
		emit_flags_load(e, 8 + F_FLAGS, ni->scratch[0]);
	emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(ni->scratch[0]));
}

/* Byte 1 of EFLAGS (TF, IF, DF, OF) without IF (bit 9): CLI clears it
 * with loads and a store only, leaving the host's flags (the guest's
 * arithmetic ones) as they are. */
static const uint8_t clear_if[256] = {
#define R4(i)  (i) & ~2, (i + 1) & ~2, (i + 2) & ~2, (i + 3) & ~2
#define R16(i) R4(i), R4(i + 4), R4(i + 8), R4(i + 12)
#define R64(i) R16(i), R16(i + 16), R16(i + 32), R16(i + 48)
	R64(0), R64(64), R64(128), R64(192)
#undef R64
#undef R16
#undef R4
};

static ZydisRegister gpr8(int n)
{
	return n < 4   ? (ZydisRegister)(ZYDIS_REGISTER_AL + n)
	       : n < 8 ? (ZydisRegister)(ZYDIS_REGISTER_SPL + (n - 4))
		       : (ZydisRegister)(ZYDIS_REGISTER_R8B + (n - 8));
}

/*
 * CLI at CPL 0 (the interpreter's h_cli: IOPL cannot refuse it there, and
 * nothing else changes): c->flags' IF cleared. A block compiled for
 * another CPL is not compiled (it stays interpreted, as before).
 */
void emit_cli(struct emitter *e, const struct native_insn *ni, int cpl)
{
	if (cpl != 0) {
		e->failed = true;
		return;
	}
	ZydisRegister c = gpr64(ni->scratch[0]), b = gpr64(ni->scratch[1]),
		      t = gpr64(ni->scratch[2]);
	const int32_t if_byte = (int32_t)offsetof(struct emu_cpu, flags) + 1;
	for (int i = 0; i < 3; i++)
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, gpr64(ni->scratch[i]));
	emit_rm(e, ZYDIS_MNEMONIC_MOV, c, ZYDIS_REGISTER_RSP, 24 + F_CPU, 8);
	emit_rm(e, ZYDIS_MNEMONIC_MOVZX, gpr32(ni->scratch[1]), c, if_byte, 1);
	emit_ri(e, ZYDIS_MNEMONIC_MOV, t, (int64_t)(uintptr_t)clear_if);
	ZydisEncoderRequest r;
	request(&r, ZYDIS_MNEMONIC_MOVZX, 2);
	op_reg(&r.operands[0], gpr32(ni->scratch[1]));
	op_mem(&r.operands[1], t, 0, 1);
	r.operands[1].mem.index = b;
	r.operands[1].mem.scale = 1;
	emit_req(e, &r);
	emit_mr(e, ZYDIS_MNEMONIC_MOV, c, if_byte, 1, gpr8(ni->scratch[1]));
	for (int i = 2; i >= 0; i--)
		emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(ni->scratch[i]));
}
