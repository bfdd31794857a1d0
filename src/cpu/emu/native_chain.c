/* SPDX-License-Identifier: MIT */
/*
 * Translated blocks: a decoded block whose every instruction may run
 * natively becomes one piece of host code with a fixed frame, whose exits
 * can jump straight into the next translated block (chaining) instead of
 * returning to the run loop. Each exit stores the registers the block
 * wrote, moves c->rip, takes the block's instructions from the budget
 * (timers; the run loop derives the instruction counters from it) and
 * leaves when it is spent or the event word (interrupts, kicks, stop
 * requests) is set; only then does it take its patchable jump. A chained
 * entry compares the target block's `checked` with the vCPU's code epoch
 * before anything else, so a block whose bytes were not confirmed in this
 * epoch (changed code, another vCPU's or a device's write) is never run
 * through a stale link: the run loop looks it up and compares it again.
 * Links are made by the run loop (native.c: emu_native_link) and
 * dropped with the whole code arena.
 *
 * Frame (as native_emit.c's runs): all six callee-saved registers, then
 * F_KEY, F_CPU, F_RIP (the running block's first RIP) and F_FLAGS. Between
 * chained blocks the guest registers live in c->r[] and the guest's flags
 * (when the blocks' `valid`) in the F_FLAGS slot; RDI holds c.
 */
#include "cpu/emu/native_priv.h"

_Static_assert(offsetof(struct emu_cpu, r) == 0, "compiled code addresses c->r[] from c");

#define OFF(f) ((int32_t)offsetof(struct emu_cpu, f))

/* Labels past the bail-out stubs (0..n-1) and TAKEN_STUB. */
enum {
	L_BODY = TAKEN_STUB + 1,
	L_LEAVE,
	L_SITE_FALL, /* the rel32 of an exit's patchable jump */
	L_SITE_TAKEN,
	L_STUB_FALL, /* the exit's way back to the run loop (emit_exit_stub) */
	L_STUB_TAKEN,
	L_COMMON,
	L_LOOP,
	L_LOOP_EXIT,
	L_RECHECK,
	L_RECHECK_FAIL,
	L_COUNT
};

static void emit_fixed(struct emitter *e, const uint8_t *op, size_t n, unsigned label)
{
	const uint8_t zero[4] = {0};
	emit_bytes(e, op, n);
	if (e->failed || e->nfix >= sizeof(e->fix) / sizeof(*e->fix)) {
		e->failed = true;
		return;
	}
	e->fix[e->nfix++] = (struct fixup){.at = e->len, .stub = label};
	emit_bytes(e, zero, 4);
}

static void emit_jmp_label(struct emitter *e, unsigned label)
{
	const uint8_t op[1] = {0xe9};
	emit_fixed(e, op, 1, label);
}

/* lea reg, [rip + label] (reg: RAX or RCX) */
static void emit_lea_label(struct emitter *e, int reg, unsigned label)
{
	const uint8_t op[3] = {0x48, 0x8d, (uint8_t)(0x05 | (reg << 3))};
	emit_fixed(e, op, 3, label);
}

/* lea rax, [rip + off] for an offset before the code (the header) */
static void emit_lea_back(struct emitter *e, size_t back)
{
	uint8_t b[7] = {0x48, 0x8d, 0x05};
	int32_t rel = (int32_t)(-(int64_t)back - (int64_t)(e->len + 7));
	memcpy(b + 3, &rel, 4);
	emit_bytes(e, b, sizeof(b));
}

/* Guest registers written by the block back to c->r[] (RDI = c after). */
static void store_regs(struct emitter *e, uint16_t writes, int32_t pushed)
{
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RDI);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RSP, pushed + 8 + F_CPU,
		8);
	for (int r = 0; r < 16; r++)
		if ((writes & (1u << r)) && r != HOST_RDI)
			emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, 8 * r, 8, gpr64(r));
	emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RAX);
	if (writes & (1u << HOST_RDI))
		emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, 8 * HOST_RDI, 8,
			ZYDIS_REGISTER_RAX);
}

/*
 * The target is not linkable (a RET's, or in another page): look c->rip
 * up in the jump cache of this CPL and address space (cpu.h) and jump to the chained entry
 * found there, else to the run loop (which fills the entry). RDI = c;
 * the guest registers are stored, so RAX and RCX are free.
 */
static void emit_jcache_jump(struct emitter *e, int cpl, unsigned miss)
{
	int32_t tab = OFF(jcache) + (cpl == 3 ? (int32_t)sizeof(struct jc_entry) << JC_BITS : 0);
	_Static_assert(sizeof(struct jc_entry) == 16, "emit_jcache_jump: index << 4");
	emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RDI, OFF(rip), 8);
	emit_rr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RAX);
	emit_ri(e, ZYDIS_MNEMONIC_SHR, ZYDIS_REGISTER_RCX, JC_BITS);
	emit_rr(e, ZYDIS_MNEMONIC_XOR, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RAX);
	emit_ri(e, ZYDIS_MNEMONIC_AND, ZYDIS_REGISTER_ECX, (1 << JC_BITS) - 1);
	emit_ri(e, ZYDIS_MNEMONIC_SHL, ZYDIS_REGISTER_ECX, 4);
	emit_rr(e, ZYDIS_MNEMONIC_ADD, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDI);
	/* the key: the RIP under this address space's tag (cpu.h) */
	emit_rm(e, ZYDIS_MNEMONIC_XOR, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RDI, OFF(jc_key), 8);
	emit_rm(e, ZYDIS_MNEMONIC_CMP, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, tab, 8);
	emit_jcc_stub(e, CC_NE, miss);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, tab + 8, 8);
	emit_ri(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_ECX,
		NATIVE_SITE_JCACHE); /* the site, in RCX */
	emit_reg(e, ZYDIS_MNEMONIC_JMP, ZYDIS_REGISTER_RAX);
}

/*
 * The exit's way back to the run loop (its stub, after its code): names
 * the exit in c->link_site for the run loop to link (the rel32 of its
 * patchable jump at label `site`, NATIVE_SITE_JCACHE for a jump-cache
 * exit, 0 for none) and leaves. Only exits that come back pay these
 * stores; until 2026-12-07 every exit made them before its checks.
 */
static void emit_exit_stub(struct emitter *e, const struct chain_plan *p, bool link, bool lookup,
			   unsigned site)
{
	if (link) {
		emit_lea_label(e, HOST_RAX, site);
		emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, OFF(link_site), 8,
			ZYDIS_REGISTER_RAX);
		emit_mi(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, OFF(link_valid), 8, p->valid);
	} else {
		emit_mi(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, OFF(link_site), 8,
			lookup ? NATIVE_SITE_JCACHE : 0);
	}
	emit_jmp_label(e, L_LEAVE);
}

/* Registers stored, flags into F_FLAGS (when RFLAGS hold them), F_RIP and
 * c->rip moved to delta from the block's start; RDI = c after. */
static void emit_exit_state(struct emitter *e, const struct chain_plan *p, uint16_t writes,
			    int64_t delta)
{
	store_regs(e, writes, 0); /* MOVs: the flags stay */
	if (p->rflags_guest)	  /* else F_FLAGS holds the guest's flags already */
		emit_flags_save(e, F_FLAGS, 1, 2);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RSP, F_RIP, 8);
	emit_rm(e, ZYDIS_MNEMONIC_LEA, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RAX, (int32_t)delta, 8);
	emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RSP, F_RIP, 8, ZYDIS_REGISTER_RAX);
	emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, OFF(rip), 8, ZYDIS_REGISTER_RAX);
}

/*
 * One exit of the block: to delta from its start. Its state stored
 * (emit_exit_state); the block's instructions taken from c->budget; then,
 * unless the budget is spent or the event word is set, the patchable jump
 * (to the exit's stub, `stub`, until linked; `site` labels its rel32) or
 * the jump-cache lookup. The guest instruction counters are not moved
 * here: the run loop derives them from the budget the chain used
 * (run.c: native_block). c->slow is not checked: compiled code never
 * sets it, and the run loop does not enter compiled code with it set.
 */
static void emit_exit(struct emitter *e, const struct chain_plan *p, uint16_t writes, int64_t delta,
		      bool link, unsigned site, unsigned stub, int cpl, size_t *at)
{
	bool lookup = !link && (cpl == 0 || cpl == 3);
	emit_exit_state(e, p, writes, delta);
	emit_mi(e, ZYDIS_MNEMONIC_SUB, ZYDIS_REGISTER_RDI, OFF(budget), 4, p->n);
	emit_jcc_stub(e, 0xe /* LE */, stub);
	emit_mi(e, ZYDIS_MNEMONIC_CMP, ZYDIS_REGISTER_RDI, OFF(events), 4, 0);
	emit_jcc_stub(e, CC_NE, stub);
	if (lookup) {
		emit_jcache_jump(e, cpl, stub);
	} else {
		/* Linkable: this jump's rel32 is the site, to the stub until
		 * linked. The site goes in RCX: should the chained entry it
		 * leads to find its block changed, the run loop links the
		 * site to the new one (emit_recheck). */
		if (link)
			emit_lea_label(e, 1 /* RCX */, site);
		emit_jmp_label(e, stub);
		if (link)
			at[site] = e->len - 4;
	}
	at[stub] = e->len;
	emit_exit_stub(e, p, link, lookup, site);
}

/*
 * The instruction whose flags a block ending in a Jcc branches on, when
 * running it again gives the same flags: register-only, no register
 * written (CMP, TEST, BT on registers), every arithmetic flag touched, and
 * right before the Jcc, so its operands are as they were. Then a
 * self-loop's checks may clobber RFLAGS and the flags are made again
 * where they are needed, instead of being saved at every iteration. -1
 * when there is none.
 */
static int regen_insn(const struct native_insn *ni, unsigned n)
{
	if (n < 2 || !ni[n - 1].branch || !ni[n - 1].cond)
		return -1;
	const struct native_insn *k = &ni[n - 2];
	if (k->nop || k->acc != ACC_NONE || k->sub_base || k->branch || k->call || k->ret ||
	    k->writes || k->stack_adj || k->written != NATIVE_ARITH || !k->len)
		return -1;
	return (int)n - 2;
}

/*
 * A block that branches to its own start loops inside its code: the
 * iteration taken from c->budget and the event word checked, then back to
 * the first instruction with the guest registers still in host registers.
 * t: a host register the block does not use. When the budget is spent or
 * an event is pending, the loop's exit (L_LOOP_EXIT) stores the state and
 * leaves for the run loop. With a regen instruction (regen_insn) nothing
 * is saved per iteration: it runs again to remake the guest's flags where
 * they are needed (the next iteration, if the block reads flags it has not
 * set; the exit). Without one the flags are saved around the checks as
 * before.
 */
static void emit_self_loop(struct emitter *e, const struct chain_plan *p, int t, uint16_t uses,
			   const struct native_insn *regen)
{
	ZydisRegister rt = gpr64(t);
	/* Two more registers the block leaves alone, neither RAX nor RSP,
	 * save the flags without PUSHF (emit_flags_save). */
	int a = -1, b = -1;
	for (int r = 1; r < 16; r++)
		if (r != R_SP && !(uses & (1u << r))) {
			if (a < 0)
				a = r;
			else if (b < 0)
				b = r;
		}
	if (!regen) {
		if (b >= 0) {
			emit_drop(e, -8);
			emit_flags_save(e, 0, a, b);
		} else {
			emit_plain(e, ZYDIS_MNEMONIC_PUSHFQ);
		}
	}
	int32_t cpu = regen ? F_CPU : 8 + F_CPU;
	emit_rm(e, ZYDIS_MNEMONIC_MOV, rt, ZYDIS_REGISTER_RSP, cpu, 8);
	emit_mi(e, ZYDIS_MNEMONIC_SUB, rt, OFF(budget), 4, p->n);
	emit_jcc_stub(e, 0xe /* LE */, L_LOOP_EXIT);
	emit_mi(e, ZYDIS_MNEMONIC_CMP, rt, OFF(events), 4, 0);
	emit_jcc_stub(e, CC_NE, L_LOOP_EXIT);
	if (regen) {
		if (p->flags_in)
			emit_bytes(e, regen->code, regen->len);
	} else if (p->flags_in && a >= 0) {
		emit_flags_load(e, 0, a);
		emit_drop(e, 8);
	} else if (p->flags_in) {
		emit_plain(e, ZYDIS_MNEMONIC_POPFQ);
	} else {
		emit_drop(e, 8);
	}
	emit_jmp_label(e, L_LOOP);
}

/* The self-loop's way out: the guest's flags back in RFLAGS, the state
 * stored (the iteration is counted already) and back to the run loop at
 * the block's start, not linked (the loop is its own successor). */
static void emit_loop_exit(struct emitter *e, const struct chain_plan *p, uint16_t writes,
			   const struct native_insn *regen)
{
	if (regen)
		emit_bytes(e, regen->code, regen->len);
	else
		emit_plain(e, ZYDIS_MNEMONIC_POPFQ);
	emit_exit_state(e, p, writes, p->taken_delta);
	emit_exit_stub(e, p, false, false, 0);
}

/* A host register the block leaves alone (not RSP), or -1. */
static int free_reg(uint16_t uses)
{
	for (int r = 0; r < 16; r++)
		if (r != R_SP && !(uses & (1u << r)))
			return r;
	return -1;
}

/* Entries: from C (frame set up, then the body) and chained (RDI = c,
 * the frame already there: compare the block's epoch first). */
static void emit_entries(struct emitter *e, const struct chain_plan *p, uint32_t *chain_off)
{
	for (size_t k = 0; k < sizeof(callee_saved) / sizeof(*callee_saved); k++)
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, gpr64(callee_saved[k]));
	emit_frame_push(e);
	emit_jmp_label(e, L_BODY);
	*chain_off = (uint32_t)e->len;
	emit_ri(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RAX, (int64_t)(uintptr_t)&p->block->checked);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RAX, 0, 8);
	emit_rm(e, ZYDIS_MNEMONIC_CMP, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RDI, OFF(code_epoch), 8);
	emit_jcc_stub(e, CC_NE, L_RECHECK);
}

/*
 * The chained entry's block was not confirmed in this code epoch: compare
 * its bytes now (c->native_recheck, the run loop's dblock_current) and go
 * on into the body if they match, else leave for the run loop, which looks
 * the block up again (a block whose bytes changed is replaced there).
 * Until 2026-12-07 every such entry left for the run loop: after each of
 * the ~31 K code epochs of a Linux boot every linked block went through C
 * once, 4.3 M of the 9.2 M chain exits that came back (issue 16). The
 * guest registers are in c->r[] and its flags in F_FLAGS: everything but
 * the frame is free. RCX names the exit that jumped here (the rel32 of
 * its patched jump, or NATIVE_SITE_JCACHE): the exits store c->link_site
 * only on their way back to the run loop, so this path stores it for
 * them. RSP is 8 mod 16 here (the return address, six pushes and the
 * 32-byte frame): RCX's push makes the call aligned.
 */
static void emit_recheck(struct emitter *e, const struct chain_plan *p, size_t *at)
{
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RCX); /* the site; RSP 16-aligned */
	emit_ri(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RSI, (int64_t)(uintptr_t)p->block);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RDI, OFF(native_recheck),
		8);
	emit_reg(e, ZYDIS_MNEMONIC_CALL, ZYDIS_REGISTER_RAX);
	emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RCX);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RSP, F_CPU, 8);
	emit_rr(e, ZYDIS_MNEMONIC_TEST, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RAX);
	emit_jcc_stub(e, CC_E, L_RECHECK_FAIL);
	emit_jmp_label(e, L_BODY);
	/* Changed: the exit that came here is named for the run loop to
	 * link it to the block that replaces this one (every translated
	 * block's exits report the guest's flags: link_valid). */
	at[L_RECHECK_FAIL] = e->len;
	emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, OFF(link_site), 8, ZYDIS_REGISTER_RCX);
	emit_mi(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, OFF(link_valid), 8, 1);
	emit_jmp_label(e, L_LEAVE);
}

/* Back to the run loop: registers are in c->r[], RDI = c. */
static void emit_leave(struct emitter *e, const struct chain_plan *p, size_t hdr_back)
{
	emit_lea_back(e, hdr_back);
	emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, OFF(native_at), 8, ZYDIS_REGISTER_RAX);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RSP, F_FLAGS, 8);
	emit_ri(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_EDX,
		NATIVE_EXIT_CHAIN | (p->valid ? NATIVE_EXIT_FLAGS : 0));
	emit_drop(e, F_SIZE);
	for (size_t k = sizeof(callee_saved) / sizeof(*callee_saved); k-- > 0;)
		emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(callee_saved[k]));
	emit_plain(e, ZYDIS_MNEMONIC_RET);
}

/* A bail-out's common return: [exit][flags] on the frame. */
static void emit_common(struct emitter *e, uint16_t writes, size_t hdr_back)
{
	store_regs(e, writes, 16);
	emit_lea_back(e, hdr_back);
	emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, OFF(native_at), 8, ZYDIS_REGISTER_RAX);
	emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RDX);
	emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RAX);
	emit_drop(e, F_SIZE);
	for (size_t k = sizeof(callee_saved) / sizeof(*callee_saved); k-- > 0;)
		emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(callee_saved[k]));
	emit_plain(e, ZYDIS_MNEMONIC_RET);
}

bool emit_block(struct emitter *e, const struct native_insn *ni, const uint8_t *lens,
		const struct chain_plan *p, const bool *flags_live_after, int cpl,
		uint32_t *chain_off)
{
	unsigned n = p->n;
	uint16_t uses = 0, writes = 0;
	for (unsigned i = 0; i < n; i++) {
		uses |= ni[i].uses;
		writes |= ni[i].writes;
		if (ni[i].acc != ACC_NONE || ni[i].sub_base)
			for (int k = 0; k < 3; k++)
				uses |= (uint16_t)(1u << ni[i].scratch[k]);
	}
	size_t at[L_COUNT] = {0};
	emit_entries(e, p, chain_off);
	at[L_BODY] = e->len;
	if (p->flags_in) /* RCX is loaded after */
		emit_flags_load(e, F_FLAGS, 1);
	for (int r = 0; r < 16; r++)
		if ((uses & (1u << r)) && r != HOST_RDI)
			emit_rm(e, ZYDIS_MNEMONIC_MOV, gpr64(r), ZYDIS_REGISTER_RDI, 8 * r, 8);
	if (uses & (1u << HOST_RDI))
		emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RDI, 8 * HOST_RDI,
			8);
	at[L_LOOP] = e->len;
	unsigned end_off = 0;
	for (unsigned i = 0; i < n; i++) {
		end_off += lens[i];
		if (ni[i].nop) {
		} else if (ni[i].acc != ACC_NONE) { /* incl. CALL's push, RET's pop */
			bool restore = (ni[i].tested & NATIVE_ARITH) ||
				       (flags_live_after[i] && !(ni[i].defined == NATIVE_ARITH));
			emit_memory(e, &ni[i], i, end_off, cpl, restore, p->rflags_guest);
		} else if (ni[i].branch) {
			if (ni[i].cond)
				emit_jcc_stub(e, ni[i].cc, TAKEN_STUB);
		} else if (ni[i].sub_base) {
			emit_lea_sub(e, &ni[i], end_off);
		} else {
			emit_bytes(e, ni[i].code, ni[i].len);
		}
	}
	bool jmp_end = n && ni[n - 1].branch && !ni[n - 1].cond;
	if (n && ni[n - 1].ret) /* F_RIP holds the return address: to C */
		emit_exit(e, p, writes, 0, false, L_SITE_FALL, L_STUB_FALL, cpl, at);
	else if (!jmp_end)
		emit_exit(e, p, writes, p->bytes, p->link_fall, L_SITE_FALL, L_STUB_FALL, cpl, at);
	if (p->taken) {
		at[TAKEN_STUB] = e->len;
		int t = p->taken_delta == 0 ? free_reg(uses) : -1;
		if (t >= 0) {
			int r = regen_insn(ni, n);
			const struct native_insn *regen = r >= 0 ? &ni[r] : NULL;
			emit_self_loop(e, p, t, uses, regen);
			at[L_LOOP_EXIT] = e->len;
			emit_loop_exit(e, p, writes, regen);
		} else {
			emit_exit(e, p, writes, p->taken_delta, p->link_taken, L_SITE_TAKEN,
				  L_STUB_TAKEN, cpl, at);
		}
	}
	at[L_LEAVE] = e->len;
	emit_leave(e, p, p->hdr_back);
	at[L_COMMON] = e->len;
	emit_common(e, writes, p->hdr_back);
	at[L_RECHECK] = e->len;
	emit_recheck(e, p, at);
	for (unsigned i = 0; i < n; i++) {
		if (ni[i].acc == ACC_NONE)
			continue;
		at[i] = e->len;
		for (int k = 2; k >= 0; k--)
			emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(ni[i].scratch[k]));
		emit_push_m(e, F_FLAGS);
		emit_push_imm(e, i | (p->valid ? NATIVE_EXIT_FLAGS : 0));
		emit_jmp_label(e, L_COMMON);
	}
	if (e->failed)
		return false;
	for (unsigned f = 0; f < e->nfix; f++)
		patch_rel32(e, e->fix[f].at, at[e->fix[f].stub]);
	return true;
}
