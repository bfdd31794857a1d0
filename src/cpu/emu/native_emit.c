/* SPDX-License-Identifier: MIT */
/*
 * A native run's host code: prologue (guest registers into host
 * registers, the guest's flags into RFLAGS when the run reads them), the
 * instructions as native_check.c re-encoded them, each memory operand
 * behind an inline TLB check with its bail-out stub, and the epilogue that
 * stores what the run wrote and returns RFLAGS and the exit.
 */
#include "cpu/emu/native_priv.h"

#define OFF_TLB	  ((int32_t)offsetof(struct emu_cpu, tlb))
#define OFF_VM	  ((int32_t)offsetof(struct emu_cpu, vm))
#define OFF_FLAGS ((int32_t)offsetof(struct emu_cpu, flags))
#define OFF_SEG_BASE(s)                                                                            \
	((int32_t)(offsetof(struct emu_cpu, seg) + (s) * sizeof(struct seg) +                      \
		   offsetof(struct seg, base)))
_Static_assert(sizeof(struct tlb_entry) == 32, "native.c indexes the TLB with a shift by 5");

/*
 * Address of ni's memory operand into scratch[0], from guest registers
 * (in host registers), r[RSP] or the run-time RIP; `at` = bytes pushed
 * since the body's frame. end_off: ni's end, from the run's first byte.
 */
static void emit_address(struct emitter *e, const struct native_insn *ni, int32_t at,
			 unsigned end_off)
{
	ZydisRegister s0 = gpr64(ni->scratch[0]), s2 = gpr64(ni->scratch[2]);
	ZydisRegister base = ZYDIS_REGISTER_NONE;
	int64_t disp = ni->disp;
	if (ni->base == R_SP) {
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, s2, 8 * R_SP, 8);
		base = s2;
	} else if (ni->base == BASE_RIP) {
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, at + F_RIP, 8);
		base = s2;
		disp += end_off;
	} else if (ni->base >= 0) {
		base = gpr64(ni->base);
	}
	if (disp < INT32_MIN || disp > INT32_MAX) {
		e->failed = true;
		return;
	}
	ZydisEncoderRequest r;
	request(&r, ZYDIS_MNEMONIC_LEA, 2);
	op_reg(&r.operands[0], s0);
	r.operands[1].type = ZYDIS_OPERAND_TYPE_MEMORY;
	r.operands[1].mem.base = base;
	r.operands[1].mem.index = ni->index >= 0 ? gpr64(ni->index) : ZYDIS_REGISTER_NONE;
	r.operands[1].mem.scale = ni->index >= 0 ? ni->scale : 0;
	r.operands[1].mem.displacement = disp;
	r.operands[1].mem.size = 8;
	emit_req(e, &r);
	if (ni->seg == SEG_FS || ni->seg == SEG_GS) {
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
		emit_rm(e, ZYDIS_MNEMONIC_ADD, s0, s2, OFF_SEG_BASE(ni->seg), 8);
	}
}

void emit_tlb(struct emitter *e, const struct native_insn *ni, unsigned k, int cpl, bool write,
	      int32_t at)
{
	ZydisRegister s0 = gpr64(ni->scratch[0]), s1 = gpr64(ni->scratch[1]),
		      s2 = gpr64(ni->scratch[2]);
	/* s2 = &c->tlb[(lin >> 12) & (TLB_SIZE - 1)] - OFF_TLB; s1 = the key
	 * (lin >> 12 | the address space's tag, cpu.h: tlb_key) */
	emit_rr(e, ZYDIS_MNEMONIC_MOV, s1, s0);
	emit_ri(e, ZYDIS_MNEMONIC_SHR, s1, 12);
	emit_rr(e, ZYDIS_MNEMONIC_MOV, gpr32(ni->scratch[2]), gpr32(ni->scratch[1]));
	emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(ni->scratch[2]), TLB_SIZE - 1);
	emit_ri(e, ZYDIS_MNEMONIC_SHL, s2, 5);
	emit_rm(e, ZYDIS_MNEMONIC_ADD, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
	emit_rm(e, ZYDIS_MNEMONIC_OR, s1, ZYDIS_REGISTER_RSP, at + F_KEY, 8);
	emit_rm(e, ZYDIS_MNEMONIC_CMP, s1, s2, OFF_TLB + (int32_t)offsetof(struct tlb_entry, key),
		8);
	emit_jcc_stub(e, CC_NE, k);
	/* Permissions: as mread/mwrite check them. */
	int32_t perm = OFF_TLB + (int32_t)offsetof(struct tlb_entry, perm);
	uint32_t need = 0;
	if (write)
		need = cpl == 3 ? (TLB_U | TLB_UW) : TLB_W;
	else
		need = cpl == 3 ? TLB_U : TLB_R; /* TLB_R: not a user page under SMAP */
	if (need) {
		emit_rm(e, ZYDIS_MNEMONIC_MOV, gpr32(ni->scratch[1]), s2, perm, 4);
		emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(ni->scratch[1]), need);
		emit_ri(e, ZYDIS_MNEMONIC_CMP, gpr32(ni->scratch[1]), need);
		emit_jcc_stub(e, CC_NE, k);
	}
	/* s0 = host page + offset; NULL host = MMIO */
	emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, s2, OFF_TLB + (int32_t)offsetof(struct tlb_entry, host),
		8);
	emit_rr(e, ZYDIS_MNEMONIC_TEST, s1, s1);
	emit_jcc_stub(e, CC_E, k);
	emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(ni->scratch[0]), 0xfff);
	emit_rr(e, ZYDIS_MNEMONIC_ADD, s0, s1);
	if (write) {
		/* A store into a page holding decoded code is the
		 * interpreter's (emu_note_write). */
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, s2,
			OFF_TLB + (int32_t)offsetof(struct tlb_entry, gpa), 8);
		emit_ri(e, ZYDIS_MNEMONIC_SHR, s1, 12);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, s2, OFF_VM, 8);
		emit_rm(e, ZYDIS_MNEMONIC_CMP, s1, s2,
			(int32_t)offsetof(struct emu_vm, code_pages_len), 8);
		emit_jcc_stub(e, CC_AE, k);
		emit_rm(e, ZYDIS_MNEMONIC_ADD, s1, s2, (int32_t)offsetof(struct emu_vm, code_pages),
			8);
		emit_mi(e, ZYDIS_MNEMONIC_CMP, s1, 0, 1, 0);
		emit_jcc_stub(e, CC_NE, k);
	}
}

/*
 * CALL through memory: the target's 8 bytes read through the TLB (within
 * one page, else a bail-out) into XMM15 (the host's XMM registers are
 * scratch: the guest's live in c->xmm) before the push's own check. A
 * non-canonical target bails out too: the interpreter raises #GP at the
 * CALL, before anything is pushed.
 */
static void emit_call_target(struct emitter *e, const struct native_insn *ni, unsigned k,
			     unsigned end_off, int cpl, int32_t at)
{
	struct native_insn t = *ni;
	t.base = ni->tbase;
	t.index = ni->tindex;
	t.scale = ni->tscale;
	t.seg = ni->tseg;
	t.disp = ni->tdisp;
	ZydisRegister s0 = gpr64(ni->scratch[0]), s1 = gpr64(ni->scratch[1]),
		      s2 = gpr64(ni->scratch[2]);
	emit_address(e, &t, at, end_off);
	emit_rr(e, ZYDIS_MNEMONIC_MOV, gpr32(ni->scratch[1]), gpr32(ni->scratch[0]));
	emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(ni->scratch[1]), 0xfff);
	emit_ri(e, ZYDIS_MNEMONIC_CMP, gpr32(ni->scratch[1]), 4096 - 8);
	emit_jcc_stub(e, CC_A, k);
	emit_tlb(e, ni, k, cpl, false, at);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, s0, 0, 8);
	emit_rr(e, ZYDIS_MNEMONIC_MOV, s2, s1);
	emit_ri(e, ZYDIS_MNEMONIC_SHL, s2, 16);
	emit_ri(e, ZYDIS_MNEMONIC_SAR, s2, 16);
	emit_rr(e, ZYDIS_MNEMONIC_CMP, s2, s1);
	emit_jcc_stub(e, CC_NE, k);
	emit_rr(e, ZYDIS_MNEMONIC_MOVQ, ZYDIS_REGISTER_XMM15, s1);
}

/*
 * A compiled memory access: translate through the vCPU's TLB inline and
 * run the instruction on the host address; anything but a plain RAM hit
 * with the right permissions (miss, MMIO, page crossing, a store into a
 * page holding decoded code) bails out to stub k, where the interpreter
 * takes over at this instruction with exact registers and flags.
 * restore_flags: the guest flags are read later in the run.
 */
void emit_memory(struct emitter *e, const struct native_insn *ni, unsigned k, unsigned end_off,
		 int cpl, bool restore_flags, bool save_flags)
{
	if (ni->acc == ACC_GUARD && ni->str) {
		emit_rep_string(e, ni, k, restore_flags, save_flags, cpl);
		return;
	}
	if (ni->acc == ACC_GUARD && ni->cli) {
		emit_cli(e, ni, cpl);
		return;
	}
	if (ni->acc == ACC_GUARD && ni->vec) {
		emit_vec_reg(e, ni, k, restore_flags, save_flags);
		return;
	}
	if (ni->acc == ACC_GUARD) { /* a DIV by a register: its check only */
		emit_div_reg(e, ni, k, restore_flags, save_flags);
		return;
	}
	ZydisRegister s0 = gpr64(ni->scratch[0]), s1 = gpr64(ni->scratch[1]),
		      s2 = gpr64(ni->scratch[2]);
	for (int i = 0; i < 3; i++)
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, gpr64(ni->scratch[i]));
	const int32_t at = 24;
	/* The guest flags, for the bail-out and for after the sequence. */
	if (save_flags) { /* two of the borrowed registers that are not RAX */
		int t1 = ni->scratch[0] != HOST_RAX ? ni->scratch[0] : ni->scratch[2];
		int t2 = ni->scratch[1] != HOST_RAX ? ni->scratch[1] : ni->scratch[2];
		emit_flags_save(e, at + F_FLAGS, t1, t2);
	}
	if (ni->call_mem) /* the target first: XMM15 holds it through the push */
		emit_call_target(e, ni, k, end_off, cpl, at);
	emit_address(e, ni, at, end_off);
	if (ni->msize > 1) { /* within one page */
		emit_rr(e, ZYDIS_MNEMONIC_MOV, gpr32(ni->scratch[1]), gpr32(ni->scratch[0]));
		emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(ni->scratch[1]), 0xfff);
		emit_ri(e, ZYDIS_MNEMONIC_CMP, gpr32(ni->scratch[1]), 4096 - ni->msize);
		emit_jcc_stub(e, CC_A, k);
	}
	if (ni->vec) /* CR0/CR4 and alignment (native_emit_vec.c) */
		emit_vec_checks(e, ni, k, at);
	emit_tlb(e, ni, k, cpl, ni->acc != ACC_READ, at);
	if (ni->guard) { /* a DIV by memory: the divisor checked first */
		emit_rm(e, ZYDIS_MNEMONIC_MOV, gpr_w(ni->scratch[1], ni->opsize), s0, 0,
			ni->opsize);
		emit_div_check(e, ni, gpr_w(ni->scratch[1], ni->opsize), ni->scratch[2], k);
	}
	if (ni->ret && !ni->call) { /* the return address: the exit's RIP (F_RIP) */
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, s0, 0, 8);
		emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RSP, at + F_RIP, 8, s1);
	}
	if (ni->pushf) { /* c->flags but RF, VM and the lazy arithmetic ones */
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, ZYDIS_REGISTER_RSP, at + F_FLAGS, 8);
		emit_ri(e, ZYDIS_MNEMONIC_AND, s1, F_ARITH);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, s2, OFF_FLAGS, 8);
		emit_ri(e, ZYDIS_MNEMONIC_AND, s2, ~(int64_t)(F_ARITH | F_RF | F_VM));
		emit_rr(e, ZYDIS_MNEMONIC_OR, s1, s2);
		emit_mr(e, ZYDIS_MNEMONIC_MOV, s0, 0, 8, s1);
	}
	if (ni->push_rsp) { /* PUSH RSP: r[RSP] as it was */
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, s1, 8 * R_SP, 8);
		emit_mr(e, ZYDIS_MNEMONIC_MOV, s0, 0, 8, s1);
	}
	if (ni->stack_adj) { /* PUSH/POP: r[RSP] moves (LEA: the flags stay) */
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, s2, 8 * R_SP, 8);
		emit_rm(e, ZYDIS_MNEMONIC_LEA, s1, s1, ni->stack_adj, 8);
		emit_mr(e, ZYDIS_MNEMONIC_MOV, s2, 8 * R_SP, 8, s1);
	}
	if (restore_flags && save_flags && !ni->guard) /* s0 holds the address: s1 or s2 */
		emit_flags_load(e, at + F_FLAGS,
				ni->scratch[1] != HOST_RAX ? ni->scratch[1] : ni->scratch[2]);
	if (ni->call) { /* push the next RIP: the run's RIP + end_off */
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, ZYDIS_REGISTER_RSP, at + F_RIP, 8);
		emit_rm(e, ZYDIS_MNEMONIC_LEA, s1, s1, (int32_t)end_off, 8);
		emit_mr(e, ZYDIS_MNEMONIC_MOV, s0, 0, 8, s1);
	}
	if (ni->call_mem) { /* CALL through memory: the target read first */
		emit_rr(e, ZYDIS_MNEMONIC_MOVQ, s1, ZYDIS_REGISTER_XMM15);
		emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RSP, at + F_RIP, 8, s1);
	} else if (ni->call && ni->ret) { /* CALL by a register: the exit's RIP */
		emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RSP, at + F_RIP, 8,
			gpr64(ni->target));
	}
	if (ni->vec) { /* the XMM registers it names, from c->xmm */
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
		emit_vec_xmm(e, ni, s2, false);
	}
	emit_reg(e, ZYDIS_MNEMONIC_POP, s2);
	emit_reg(e, ZYDIS_MNEMONIC_POP, s1);
	emit_bytes(e, ni->code, ni->len); /* none for CALL/RET */
	if (ni->vec && ni->xwrites) {	  /* and back (s0 still pushed) */
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, s1);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, ZYDIS_REGISTER_RSP, 16 + F_CPU, 8);
		emit_vec_xmm(e, ni, s1, true);
		emit_reg(e, ZYDIS_MNEMONIC_POP, s1);
	}
	if (ni->guard && restore_flags && save_flags) /* as before the DIV */
		emit_flags_load(e, 8 + F_FLAGS, ni->scratch[0]);
	emit_reg(e, ZYDIS_MNEMONIC_POP, s0);
}

/* LEA from RSP or RIP: the base comes from r[RSP] / the run-time RIP;
 * or RSP as a register operand (native_emit_ops.c). */
void emit_lea_sub(struct emitter *e, const struct native_insn *ni, unsigned end_off)
{
	if (ni->rsp_reg) {
		emit_rsp_reg(e, ni);
		return;
	}
	if (ni->sreg) { /* MOV r, Sreg: c, then the selector, into the destination */
		ZydisRegister d = gpr64(ni->sreg_dst);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, d, ZYDIS_REGISTER_RSP, F_CPU, 8);
		emit_rm(e, ZYDIS_MNEMONIC_MOVZX, gpr32(ni->sreg_dst), d,
			(int32_t)(offsetof(struct emu_cpu, seg) +
				  (size_t)(ni->sreg - 1) * sizeof(struct seg) +
				  offsetof(struct seg, sel)),
			2);
		return;
	}
	ZydisRegister s0 = gpr64(ni->scratch[0]);
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, s0);
	if (ni->base == R_SP) {
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s0, ZYDIS_REGISTER_RSP, 8 + F_CPU, 8);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s0, s0, 8 * R_SP, 8);
	} else {
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s0, ZYDIS_REGISTER_RSP, 8 + F_RIP, 8);
		emit_rm(e, ZYDIS_MNEMONIC_LEA, s0, s0, (int32_t)end_off, 8);
	}
	emit_bytes(e, ni->code, ni->len);
	emit_reg(e, ZYDIS_MNEMONIC_POP, s0);
}

bool emit_run(struct emitter *e, const struct native_insn *ni, const uint8_t *lens, unsigned n,
	      bool flags_in, bool flags_out, const bool *flags_live_after, int cpl)
{
	uint16_t uses = 0, writes = 0;
	for (unsigned i = 0; i < n; i++) {
		uses |= ni[i].uses;
		writes |= ni[i].writes;
		if (ni[i].acc != ACC_NONE || ni[i].sub_base)
			for (int k = 0; k < 3; k++)
				uses |= (uint16_t)(1u << ni[i].scratch[k]);
	}
	for (size_t k = 0; k < sizeof(callee_saved) / sizeof(*callee_saved); k++)
		if (uses & (1u << callee_saved[k]))
			emit_reg(e, ZYDIS_MNEMONIC_PUSH, gpr64(callee_saved[k]));
	emit_frame_push(e);
	if (flags_in) /* from F_FLAGS; RCX is loaded after */
		emit_flags_load(e, F_FLAGS, 1);
	for (int r = 0; r < 16; r++)
		if ((uses & (1u << r)) && r != HOST_RDI)
			emit_rm(e, ZYDIS_MNEMONIC_MOV, gpr64(r), ZYDIS_REGISTER_RDI, 8 * r, 8);
	if (uses & (1u << HOST_RDI))
		emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RDI, 8 * HOST_RDI,
			8);

	bool touched = false;
	bool stub_flags[BLOCK_MAX_INSNS + 1] = {false};
	unsigned end_off = 0;
	for (unsigned i = 0; i < n; i++) {
		end_off += lens[i];
		stub_flags[i] = touched;
		if (ni[i].nop) {
		} else if (ni[i].branch) {
			/* Last of the run and of its block: Jcc leaves through
			 * the taken exit below; JMP's is the normal end's. */
			if (ni[i].cond)
				emit_jcc_stub(e, ni[i].cc, TAKEN_STUB);
		} else if (ni[i].acc != ACC_NONE) {
			bool restore = (ni[i].tested & NATIVE_ARITH) ||
				       (flags_live_after[i] && !(ni[i].defined == NATIVE_ARITH));
			emit_memory(e, &ni[i], i, end_off, cpl, restore, true);
		} else if (ni[i].sub_base) {
			emit_lea_sub(e, &ni[i], end_off);
		} else {
			emit_bytes(e, ni[i].code, ni[i].len);
		}
		touched |= ni[i].written != 0;
	}
	/* Normal end: [exit][flags] on the frame, as the stubs leave it. */
	bool jmp_end = n && ni[n - 1].branch && !ni[n - 1].cond;
	emit_plain(e, ZYDIS_MNEMONIC_PUSHFQ);
	emit_push_imm(e,
		      n | (flags_out ? NATIVE_EXIT_FLAGS : 0) | (jmp_end ? NATIVE_EXIT_TAKEN : 0));
	size_t exit_at = e->len;
	/* Common exit: store what the run may have written, return RFLAGS
	 * in RAX and the exit code in RDX. */
	if (uses & (1u << HOST_RDI)) {
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RDI);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RSP, 24 + F_CPU,
			8);
	}
	for (int r = 0; r < 16; r++)
		if ((writes & (1u << r)) && r != HOST_RDI)
			emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, 8 * r, 8, gpr64(r));
	if (uses & (1u << HOST_RDI)) {
		emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RAX);
		if (writes & (1u << HOST_RDI))
			emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, 8 * HOST_RDI, 8,
				ZYDIS_REGISTER_RAX);
	}
	emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RDX);
	emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RAX);
	emit_drop(e, F_SIZE); /* F_FLAGS, F_RIP, F_CPU, F_KEY */
	for (size_t k = sizeof(callee_saved) / sizeof(*callee_saved); k-- > 0;)
		if (uses & (1u << callee_saved[k]))
			emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(callee_saved[k]));
	emit_plain(e, ZYDIS_MNEMONIC_RET);

	/* Bail-out stubs: give the borrowed registers back, leave [exit]
	 * [flags] on the frame, and join the common exit. */
	size_t stub_at[TAKEN_STUB + 1];
	if (n && ni[n - 1].cond) {
		stub_at[TAKEN_STUB] = e->len;
		emit_plain(e, ZYDIS_MNEMONIC_PUSHFQ);
		emit_push_imm(e, n | (flags_out ? NATIVE_EXIT_FLAGS : 0) | NATIVE_EXIT_TAKEN);
		emit_jmp(e, exit_at);
	}
	for (unsigned i = 0; i < n; i++) {
		if (ni[i].acc == ACC_NONE)
			continue;
		stub_at[i] = e->len;
		for (int k = 2; k >= 0; k--)
			emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(ni[i].scratch[k]));
		emit_push_m(e, F_FLAGS);
		emit_push_imm(e, i | (stub_flags[i] ? NATIVE_EXIT_FLAGS : 0));
		emit_jmp(e, exit_at);
	}
	if (e->failed)
		return false;
	for (unsigned f = 0; f < e->nfix; f++)
		patch_rel32(e, e->fix[f].at, stub_at[e->fix[f].stub]);
	return true;
}
