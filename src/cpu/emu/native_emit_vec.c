/* SPDX-License-Identifier: MIT */
/*
 * Compiled SSE2 integer, logical and move forms (insns.def's NAT_VEC,
 * native_check.c: check_vec). Until 2026-12-07 every vector instruction
 * was interpreted, and as each ends its decoded block, the block around
 * it too: in the Linux boot ~1.5 M vector instructions and their
 * neighbours ran in the interpreter, one block lookup each.
 *
 * Guest XMMn is host XMMn for the length of the instruction: the XMM
 * registers it names are loaded from c->xmm before it and the ones it
 * writes stored back after, so c->xmm is exact at every instruction
 * boundary (bail-outs, exits, C calls in chained entries). The host's XMM
 * registers are caller-saved, so compiled code may clobber them. Before
 * it runs, the state the interpreter's sse_check tests -- CR0.EM, CR0.TS
 * (#UD, #NM) and CR4.OSFXSR (#UD) -- is read from c and anything but
 * "usable" bails out to the interpreter, which raises the fault at that
 * instruction; so does a misaligned 16-byte operand that must be aligned
 * (#GP there; the host would fault). The integer forms neither read MXCSR
 * nor touch RFLAGS; the checks' TEST does, so the guest's flags are saved
 * and given back around them as for a memory access.
 */
#include "cpu/emu/native_priv.h"

#define OFF_CR0	   ((int32_t)offsetof(struct emu_cpu, cr0))
#define OFF_CR4	   ((int32_t)offsetof(struct emu_cpu, cr4))
#define OFF_XMM(n) ((int32_t)(offsetof(struct emu_cpu, xmm) + (size_t)(n) * sizeof(union xmmreg)))
_Static_assert(sizeof(union xmmreg) == 16, "native_emit_vec.c: XMM slots");

static ZydisRegister xmm(int n)
{
	return (ZydisRegister)(ZYDIS_REGISTER_XMM0 + n);
}

void emit_vec_xmm(struct emitter *e, const struct native_insn *ni, ZydisRegister cpu, bool store)
{
	uint16_t set = store ? ni->xwrites : ni->xregs;
	for (int n = 0; n < 16; n++) {
		if (!(set & (1u << n)))
			continue;
		if (store)
			emit_mr(e, ZYDIS_MNEMONIC_MOVDQU, cpu, OFF_XMM(n), 16, xmm(n));
		else
			emit_rm(e, ZYDIS_MNEMONIC_MOVDQU, xmm(n), cpu, OFF_XMM(n), 16);
	}
}

/* sse_check's faults, from c in register cpu: to stub k unless usable. */
static void emit_cr_checks(struct emitter *e, ZydisRegister cpu, unsigned k)
{
	emit_mi(e, ZYDIS_MNEMONIC_TEST, cpu, OFF_CR0, 4, CR0_TS | CR0_EM);
	emit_jcc_stub(e, CC_NE, k);
	emit_mi(e, ZYDIS_MNEMONIC_TEST, cpu, OFF_CR4, 4, CR4_OSFXSR);
	emit_jcc_stub(e, CC_E, k);
}

void emit_vec_checks(struct emitter *e, const struct native_insn *ni, unsigned k, int32_t at)
{
	ZydisRegister s2 = gpr64(ni->scratch[2]);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
	emit_cr_checks(e, s2, k);
	if (ni->align16) {
		emit_ri(e, ZYDIS_MNEMONIC_TEST, gpr32(ni->scratch[0]), 15);
		emit_jcc_stub(e, CC_NE, k);
	}
}

/* Laid out as emit_memory's sequence (three borrowed registers pushed),
 * so the run's bail-out stub k gives them back the same way. */
void emit_vec_reg(struct emitter *e, const struct native_insn *ni, unsigned k, bool restore_flags,
		  bool save_flags)
{
	ZydisRegister s0 = gpr64(ni->scratch[0]);
	for (int i = 0; i < 3; i++)
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, gpr64(ni->scratch[i]));
	const int32_t at = 24;
	/* two borrowed registers that are not RAX (LAHF/SAHF's) */
	int t1 = ni->scratch[1] != HOST_RAX ? ni->scratch[1] : ni->scratch[0];
	int t2 = ni->scratch[2];
	if (save_flags)
		emit_flags_save(e, at + F_FLAGS, t1, t2);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, s0, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
	emit_cr_checks(e, s0, k);
	emit_vec_xmm(e, ni, s0, false);
	emit_bytes(e, ni->code, ni->len);
	emit_vec_xmm(e, ni, s0, true);
	if (restore_flags && save_flags)
		emit_flags_load(e, at + F_FLAGS, t1);
	for (int i = 2; i >= 0; i--)
		emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(ni->scratch[i]));
}
