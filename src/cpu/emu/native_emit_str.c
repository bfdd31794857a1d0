/* SPDX-License-Identifier: MIT */
/*
 * Compiled REP STOS and REP MOVS (insns.def's NAT_STR, native_check.c:
 * check_string): forward (DF clear), 64-bit addresses, no segment
 * override. Until 2026-12-08 each ended its block interpreted, and the
 * block before it ran as a plain run: in a Linux boot ~0.4 M hot blocks a
 * boot ended that way (clear_page, memset, memcpy's tails).
 *
 * One pass does at most what lies inside one page of each side: the
 * destination (and the source) go through the inline TLB check like any
 * compiled access (a miss, MMIO, a page holding decoded code, DF set, an
 * element that straddles a page: bail-out before anything is done), then
 * the host's own REP STOS/MOVS of the same element size -- vmon's bytes,
 * never the guest's -- stores n = min(RCX, what fits in the page)
 * elements, and RCX, RDI (RSI) move by n. If RCX is not 0 then, the run
 * bails out at the instruction with those exact registers, as a REP
 * instruction interrupted between elements leaves them, and the
 * interpreter goes on with the rest (its own fast path, its faults, its
 * interrupt checks). So a compiled pass never faults, stores at most 4 KiB
 * and the flags are the guest's throughout (the checks' TEST/SUB run on
 * flags saved to F_FLAGS and loaded back after, as a memory access's).
 * MOVS whose destination lies just above its source within the pass (a
 * copy that replicates bytes) is left to the interpreter, as its own fast
 * path does.
 *
 * Guest RCX, RDI, RSI and RAX are host RCX, RDI, RSI and RAX (guest
 * register n is host register n): the host instruction runs on host
 * pointers, so the guest's RCX/RDI/RSI are pushed around it. The MOVS
 * source's host address waits in XMM15 during the destination's TLB
 * check (the host's XMM registers are caller-saved scratch: the guest's
 * live in c->xmm).
 */
#include "cpu/emu/native_priv.h"

#define OFF_FLAGS ((int32_t)offsetof(struct emu_cpu, flags))

/* log2 of an element size 1, 2, 4, 8 */
static unsigned shift_of(unsigned size)
{
	return size == 8 ? 3 : size == 4 ? 2 : size == 2 ? 1 : 0;
}

void emit_rep_string(struct emitter *e, const struct native_insn *ni, unsigned k,
		     bool restore_flags, bool save_flags, int cpl)
{
	ZydisRegister s0 = gpr64(ni->scratch[0]), s1 = gpr64(ni->scratch[1]),
		      s2 = gpr64(ni->scratch[2]);
	ZydisRegister rcx = ZYDIS_REGISTER_RCX, rdi = ZYDIS_REGISTER_RDI, rsi = ZYDIS_REGISTER_RSI,
		      ecx = ZYDIS_REGISTER_ECX;
	bool movs = ni->str == SK_MOVS + 1;
	unsigned size = ni->msize, sh = shift_of(size);
	for (int i = 0; i < 3; i++)
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, gpr64(ni->scratch[i]));
	const int32_t at = 24;
	/* two borrowed registers that are not RAX (LAHF/SAHF's) */
	int t1 = ni->scratch[0] != HOST_RAX ? ni->scratch[0] : ni->scratch[2];
	int t2 = ni->scratch[1] != HOST_RAX ? ni->scratch[1] : ni->scratch[2];
	if (save_flags)
		emit_flags_save(e, at + F_FLAGS, t1, t2);
	/* DF set: the interpreter's (backwards) */
	emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
	emit_mi(e, ZYDIS_MNEMONIC_TEST, s2, OFF_FLAGS, 4, F_DF);
	emit_jcc_stub(e, CC_NE, k);
	/* RCX = 0: nothing to do */
	emit_rr(e, ZYDIS_MNEMONIC_TEST, rcx, rcx);
	size_t to_done = emit_jump_fwd(e, CC_E);
	if (movs) {
		emit_rr(e, ZYDIS_MNEMONIC_MOV, s0, rsi);
		emit_tlb(e, ni, k, cpl, false, at);
		emit_rr(e, ZYDIS_MNEMONIC_MOVQ, ZYDIS_REGISTER_XMM15, s0);
	}
	emit_rr(e, ZYDIS_MNEMONIC_MOV, s0, rdi);
	emit_tlb(e, ni, k, cpl, true, at);
	/* The guest's RCX, RDI (RSI) aside; the host instruction's operands
	 * in their place. */
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, rcx);
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, rdi);
	if (movs)
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, rsi);
	const int32_t guest_rcx = movs ? 16 : 8;
	emit_rr(e, ZYDIS_MNEMONIC_MOV, rdi, s0);
	/* ECX = bytes left in the page: 4096 - the larger page offset */
	emit_rr(e, ZYDIS_MNEMONIC_MOV, ecx, ZYDIS_REGISTER_EDI);
	emit_ri(e, ZYDIS_MNEMONIC_AND, ecx, 0xfff);
	if (movs) {
		emit_rr(e, ZYDIS_MNEMONIC_MOVQ, rsi, ZYDIS_REGISTER_XMM15);
		emit_rr(e, ZYDIS_MNEMONIC_MOV, gpr32(ni->scratch[2]), ZYDIS_REGISTER_ESI);
		emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(ni->scratch[2]), 0xfff);
		emit_rr(e, ZYDIS_MNEMONIC_CMP, ecx, gpr32(ni->scratch[2]));
		emit_rr(e, ZYDIS_MNEMONIC_CMOVB, ecx, gpr32(ni->scratch[2]));
	}
	emit_reg(e, ZYDIS_MNEMONIC_NEG, ecx);
	emit_ri(e, ZYDIS_MNEMONIC_ADD, ecx, 4096);
	size_t to_undo = 0;
	bool undo = false;
	if (sh) { /* in elements; none: one straddles the page */
		emit_ri(e, ZYDIS_MNEMONIC_SHR, ecx, sh);
		to_undo = emit_jump_fwd(e, CC_E);
		undo = true;
	}
	/* n = min(that, the guest's RCX) */
	emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, guest_rcx, 8);
	emit_rr(e, ZYDIS_MNEMONIC_CMP, rcx, s2);
	emit_rr(e, ZYDIS_MNEMONIC_CMOVNBE, rcx, s2);
	size_t to_undo2 = 0;
	if (movs) { /* 0 < dst - src < n * size: a replicating copy */
		emit_rr(e, ZYDIS_MNEMONIC_MOV, s2, rdi);
		emit_rr(e, ZYDIS_MNEMONIC_SUB, s2, rsi);
		size_t same = emit_jump_fwd(e, CC_E);
		ZydisEncoderRequest r;
		request(&r, ZYDIS_MNEMONIC_LEA, 2);
		op_reg(&r.operands[0], s1);
		op_mem(&r.operands[1], ZYDIS_REGISTER_NONE, 0, 8);
		r.operands[1].mem.index = rcx;
		r.operands[1].mem.scale = (ZyanU8)size;
		emit_req(e, &r);
		emit_rr(e, ZYDIS_MNEMONIC_CMP, s2, s1);
		to_undo2 = emit_jump_fwd(e, 0x2 /* B */);
		patch_here(e, same);
	}
	emit_rr(e, ZYDIS_MNEMONIC_MOV, s1, rcx);
	emit_bytes(e, ni->code, ni->len); /* rep stos / rep movs */
	if (movs)
		emit_reg(e, ZYDIS_MNEMONIC_POP, rsi);
	emit_reg(e, ZYDIS_MNEMONIC_POP, rdi);
	emit_reg(e, ZYDIS_MNEMONIC_POP, rcx);
	/* the guest's registers move by the n elements done */
	emit_rr(e, ZYDIS_MNEMONIC_SUB, rcx, s1);
	ZydisEncoderRequest r;
	ZydisRegister moved[2] = {rdi, rsi};
	for (int i = 0; i < (movs ? 2 : 1); i++) {
		request(&r, ZYDIS_MNEMONIC_LEA, 2);
		op_reg(&r.operands[0], moved[i]);
		op_mem(&r.operands[1], moved[i], 0, 8);
		r.operands[1].mem.index = s1;
		r.operands[1].mem.scale = (ZyanU8)size;
		emit_req(e, &r);
	}
	/* more left: the interpreter goes on from these registers */
	emit_rr(e, ZYDIS_MNEMONIC_TEST, rcx, rcx);
	emit_jcc_stub(e, CC_NE, k);
	patch_here(e, to_done);
	if (restore_flags && save_flags)
		emit_flags_load(e, at + F_FLAGS, t1);
	for (int i = 2; i >= 0; i--)
		emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(ni->scratch[i]));
	if (!undo && !movs)
		return;
	size_t over = emit_jump_fwd(e, CC_ALWAYS);
	/* Bail-outs after the guest's registers were pushed: back first. */
	if (undo)
		patch_here(e, to_undo);
	if (movs)
		patch_here(e, to_undo2);
	if (movs)
		emit_reg(e, ZYDIS_MNEMONIC_POP, rsi);
	emit_reg(e, ZYDIS_MNEMONIC_POP, rdi);
	emit_reg(e, ZYDIS_MNEMONIC_POP, rcx);
	emit_jmp_stub(e, k);
	patch_here(e, over);
}
