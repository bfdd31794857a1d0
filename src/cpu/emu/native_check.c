/* SPDX-License-Identifier: MIT */
/*
 * What may run natively: each instruction of a hot 64-bit block is checked
 * against insns.def's native column and its operand rules, and re-encoded
 * for the host from its decoded form (Zydis' encoder), then decoded again
 * to confirm it is the same operation on the same operands. The guest
 * never chooses host bytes: only forms on the list get through, with
 * their one memory operand rewritten to a host register that the compiled
 * TLB check fills (native_emit.c).
 */
#include "cpu/emu/native_priv.h"

/* How insns.def says mnemonic m may run as host code (NAT_*). */
static int native_kind(ZydisMnemonic m)
{
	return m <= ZYDIS_MNEMONIC_MAX_VALUE ? emu_insns[emu_row_of_mnem[m]].native : NAT_NO;
}

/* Guest register number (0-15) of a general register other than the
 * stack pointer, or -1 for anything else. */
static int gpr_index(ZydisRegister r)
{
	switch (ZydisRegisterGetClass(r)) {
	case ZYDIS_REGCLASS_GPR8:
	case ZYDIS_REGCLASS_GPR16:
	case ZYDIS_REGCLASS_GPR32:
	case ZYDIS_REGCLASS_GPR64: break;
	default: return -1;
	}
	ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
	if (full < ZYDIS_REGISTER_RAX || full > ZYDIS_REGISTER_R15 || full == ZYDIS_REGISTER_RSP)
		return -1;
	return (int)(full - ZYDIS_REGISTER_RAX);
}

bool same_operands(const ZydisDecodedInstruction *a, const ZydisDecodedOperand *ao,
		   const ZydisDecodedInstruction *b, const ZydisDecodedOperand *bo, int mem_op,
		   ZydisRegister mem_base)
{
	if (a->mnemonic != b->mnemonic || a->operand_width != b->operand_width ||
	    a->operand_count_visible != b->operand_count_visible)
		return false;
	for (unsigned i = 0; i < a->operand_count_visible; i++) {
		/* An immediate's encoded width may differ (imm8 vs imm32,
		 * both sign-extended): its value and the operation's width
		 * are what count. */
		if (ao[i].type != bo[i].type ||
		    (ao[i].type != ZYDIS_OPERAND_TYPE_IMMEDIATE && ao[i].size != bo[i].size))
			return false;
		switch (ao[i].type) {
		case ZYDIS_OPERAND_TYPE_REGISTER:
			if (ao[i].reg.value != bo[i].reg.value)
				return false;
			break;
		case ZYDIS_OPERAND_TYPE_IMMEDIATE:
			if (ao[i].imm.value.u != bo[i].imm.value.u)
				return false;
			break;
		case ZYDIS_OPERAND_TYPE_MEMORY:
			if ((int)i == mem_op) {
				/* Rewritten: [scratch] (+ index/disp for LEA). */
				if (bo[i].mem.base != mem_base ||
				    bo[i].mem.segment == ZYDIS_REGISTER_FS ||
				    bo[i].mem.segment == ZYDIS_REGISTER_GS ||
				    ao[i].mem.type != bo[i].mem.type)
					return false;
				if (ao[i].mem.type != ZYDIS_MEMOP_TYPE_AGEN &&
				    (bo[i].mem.index != ZYDIS_REGISTER_NONE ||
				     bo[i].mem.disp.value))
					return false;
				break;
			}
			if (ao[i].mem.type != bo[i].mem.type || ao[i].mem.base != bo[i].mem.base ||
			    ao[i].mem.index != bo[i].mem.index ||
			    ao[i].mem.scale != bo[i].mem.scale ||
			    ao[i].mem.disp.value != bo[i].mem.disp.value)
				return false;
			break;
		default: return false;
		}
	}
	return true;
}

/* PUSH imm8/imm32 (6A/68, 64-bit operand size: the immediate
 * sign-extended): a store of the immediate to [RSP - 8] through the TLB,
 * re-encoded as `mov qword [scratch0], imm32` and verified, then r[RSP]
 * moves, as a PUSH of a register. */
static bool check_push_imm(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
			   const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	if ((in->opcode != 0x6a && in->opcode != 0x68) || in->operand_width != 64 ||
	    in->raw.prefix_count != 0 || (in->attributes & ZYDIS_ATTRIB_HAS_LOCK))
		return false;
	int64_t v = ops[0].imm.value.s;
	if (v < INT32_MIN || v > INT32_MAX)
		return false;
	ni->acc = ACC_WRITE;
	ni->msize = 8;
	ni->seg = SEG_DS;
	ni->base = R_SP;
	ni->disp = -8;
	ni->stack_adj = -8;
	ni->scratch[0] = 0; /* borrowed: the instruction names no register */
	ni->scratch[1] = 1;
	ni->scratch[2] = 2;
	ZydisEncoderRequest req;
	request(&req, ZYDIS_MNEMONIC_MOV, 2);
	op_mem(&req.operands[0], gpr64(ni->scratch[0]), 0, 8);
	op_imm(&req.operands[1], v);
	ZyanUSize len = sizeof(ni->code);
	ZydisDecodedInstruction again;
	ZydisDecodedOperand a[ZYDIS_MAX_OPERAND_COUNT];
	if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(&req, ni->code, &len)) ||
	    ZYAN_FAILED(ZydisDecoderDecodeFull(dec64, ni->code, len, &again, a)) ||
	    again.mnemonic != ZYDIS_MNEMONIC_MOV || again.length != len ||
	    again.operand_width != 64 || again.operand_count_visible != 2 ||
	    a[0].type != ZYDIS_OPERAND_TYPE_MEMORY || a[0].mem.base != gpr64(ni->scratch[0]) ||
	    a[0].mem.index != ZYDIS_REGISTER_NONE || a[0].mem.disp.value != 0 ||
	    a[0].mem.segment != ZYDIS_REGISTER_DS || a[1].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
	    a[1].imm.value.s != v)
		return false;
	ni->len = (uint8_t)len;
	return true;
}

/* PUSH/POP of a 64-bit general register other than RSP: a store to /
 * load from [RSP - 8] / [RSP], compiled as MOV through the TLB, then
 * r[RSP] moves. */
static bool check_stack(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
			const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	if (in->mnemonic == ZYDIS_MNEMONIC_PUSHFQ) {
		/* 9C alone: RFLAGS as the interpreter gives them (native_emit.c) */
		if ((in->attributes & ZYDIS_ATTRIB_HAS_LOCK) || in->operand_count_visible != 0 ||
		    in->operand_width != 64 || in->raw.prefix_count != 0 || in->opcode != 0x9c)
			return false;
		ni->pushf = true;
		ni->tested = NATIVE_ARITH;
		ni->acc = ACC_WRITE;
		ni->msize = 8;
		ni->seg = SEG_DS;
		ni->base = R_SP;
		ni->disp = -8;
		ni->stack_adj = -8;
		ni->scratch[0] = 0; /* borrowed: the instruction names no register */
		ni->scratch[1] = 1;
		ni->scratch[2] = 2;
		return true;
	}
	bool push = in->mnemonic == ZYDIS_MNEMONIC_PUSH;
	if (push && in->operand_count_visible == 1 && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return check_push_imm(dec64, in, ops, ni);
	if ((in->attributes & ZYDIS_ATTRIB_HAS_LOCK) || in->operand_count_visible != 1 ||
	    ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    ZydisRegisterGetClass(ops[0].reg.value) != ZYDIS_REGCLASS_GPR64 ||
	    in->operand_width != 64 || in->raw.prefix_count > 1)
		return false;
	int r = gpr_index(ops[0].reg.value);
	if (push && ops[0].reg.value == ZYDIS_REGISTER_RSP &&
	    ops[0].visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT) {
		/* PUSH RSP: the value before the push, vmon's own store */
		ni->push_rsp = true;
		ni->acc = ACC_WRITE;
		ni->msize = 8;
		ni->seg = SEG_DS;
		ni->base = R_SP;
		ni->disp = -8;
		ni->stack_adj = -8;
		ni->scratch[0] = 0;
		ni->scratch[1] = 1;
		ni->scratch[2] = 2;
		return true;
	}
	if (r < 0)
		return false;
	ni->uses = (uint16_t)(1u << r);
	ni->writes = push ? 0 : ni->uses;
	ni->acc = push ? ACC_WRITE : ACC_READ;
	ni->msize = 8;
	ni->seg = SEG_DS;
	ni->base = R_SP;
	ni->disp = push ? -8 : 0;
	ni->stack_adj = push ? -8 : 8;
	int k = 0;
	for (int s = 0; s < 16 && k < 3; s++)
		if (s != R_SP && s != r)
			ni->scratch[k++] = (uint8_t)s;
	ZydisEncoderRequest req;
	memset(&req, 0, sizeof(req));
	req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
	req.mnemonic = ZYDIS_MNEMONIC_MOV;
	req.operand_count = 2;
	ZydisEncoderOperand *ro = &req.operands[push ? 1 : 0], *mo = &req.operands[push ? 0 : 1];
	ro->type = ZYDIS_OPERAND_TYPE_REGISTER;
	ro->reg.value = ops[0].reg.value;
	mo->type = ZYDIS_OPERAND_TYPE_MEMORY;
	mo->mem.base = (ZydisRegister)(ZYDIS_REGISTER_RAX + ni->scratch[0]);
	mo->mem.index = ZYDIS_REGISTER_NONE;
	mo->mem.size = 8;
	ZyanUSize len = sizeof(ni->code);
	ZydisDecodedInstruction again;
	ZydisDecodedOperand again_ops[ZYDIS_MAX_OPERAND_COUNT];
	const ZydisDecodedOperand *m = &again_ops[push ? 0 : 1], *rg = &again_ops[push ? 1 : 0];
	if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(&req, ni->code, &len)) ||
	    ZYAN_FAILED(ZydisDecoderDecodeFull(dec64, ni->code, len, &again, again_ops)) ||
	    again.mnemonic != ZYDIS_MNEMONIC_MOV || again.length != len ||
	    again.operand_width != 64 || rg->type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    rg->reg.value != ops[0].reg.value || m->type != ZYDIS_OPERAND_TYPE_MEMORY ||
	    m->mem.base != mo->mem.base || m->mem.index != ZYDIS_REGISTER_NONE ||
	    m->mem.disp.value != 0)
		return false;
	ni->len = (uint8_t)len;
	return true;
}

/* JMP rel / Jcc rel: may end a run (nothing is re-encoded: the compiled
 * code takes the same condition on the guest's flags and reports it). */
static bool check_branch(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
			 const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	if ((in->attributes & ZYDIS_ATTRIB_HAS_LOCK) || in->operand_count_visible != 1 ||
	    ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !ops[0].imm.is_relative ||
	    in->raw.prefix_count != 0 || in->operand_width != 64)
		return false;
	ni->branch = true;
	if (in->mnemonic != ZYDIS_MNEMONIC_JMP) {
		/* 7x rel8 and 0F 8x rel32 carry the condition in the low
		 * nibble; JCXZ/LOOP (E0-E3) test RCX, not flags. */
		if (!in->cpu_flags || ((in->opcode & 0xf0) != 0x70 && (in->opcode & 0xf0) != 0x80))
			return false;
		ni->cond = true;
		ni->cc = in->opcode & 0xf;
		ni->tested = in->cpu_flags->tested & NATIVE_ARITH;
	}
	return true;
}

static int check_memory(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *o, unsigned i,
			int kind, struct native_insn *ni, uint16_t *addr_regs);

bool native_check_tail(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
		       struct native_insn *ni)
{
	memset(ni, 0, sizeof(*ni));
	ni->base = ni->index = -1;
	if (in->machine_mode != ZYDIS_MACHINE_MODE_LONG_64 || in->operand_width != 64 ||
	    (in->attributes & ZYDIS_ATTRIB_HAS_LOCK) || in->raw.prefix_count != 0)
		return false;
	int target = -1;
	if (in->mnemonic == ZYDIS_MNEMONIC_CALL && in->opcode == 0xff &&
	    in->operand_count_visible == 1 && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    ZydisRegisterGetClass(ops[0].reg.value) == ZYDIS_REGCLASS_GPR64 &&
	    (target = gpr_index(ops[0].reg.value)) >= 0) {
		/* FF /2 by a register: push the next RIP, then leave for the
		 * register's value as a RET leaves for its popped one */
		ni->call = ni->ret = true;
		ni->target = (int8_t)target;
		ni->uses = (uint16_t)(1u << target);
		ni->acc = ACC_WRITE;
		ni->disp = -8;
		ni->stack_adj = -8;
	} else if (in->mnemonic == ZYDIS_MNEMONIC_CALL && in->opcode == 0xff &&
		   in->operand_count_visible == 1 && ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
		/* FF /2 through memory: the target read (its own TLB check),
		 * then as CALL by a register */
		struct native_insn t;
		memset(&t, 0, sizeof(t));
		t.base = t.index = -1;
		uint16_t addr_regs = 0;
		if (ops[0].size != 64 ||
		    check_memory(in, &ops[0], 0, NAT_MEM, &t, &addr_regs) != 0 || t.acc != ACC_READ)
			return false;
		ni->call = ni->ret = ni->call_mem = true;
		ni->target = -1;
		ni->tbase = t.base;
		ni->tindex = t.index;
		ni->tscale = t.scale;
		ni->tseg = t.seg;
		ni->tdisp = t.disp;
		ni->uses = addr_regs;
		ni->acc = ACC_WRITE;
		ni->disp = -8;
		ni->stack_adj = -8;
	} else if (in->mnemonic == ZYDIS_MNEMONIC_CALL) {
		/* E8 rel32: push the next RIP, jump */
		if (in->opcode != 0xe8 || in->operand_count_visible != 1 ||
		    ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !ops[0].imm.is_relative)
			return false;
		ni->call = ni->branch = true;
		ni->acc = ACC_WRITE;
		ni->disp = -8;
		ni->stack_adj = -8;
	} else if (in->mnemonic == ZYDIS_MNEMONIC_RET) {
		/* C3 alone: no immediate, no far form */
		if (in->opcode != 0xc3 || in->operand_count_visible != 0)
			return false;
		ni->ret = true;
		ni->acc = ACC_READ;
		ni->stack_adj = 8;
	} else {
		return false;
	}
	ni->msize = 8;
	ni->seg = SEG_DS;
	ni->base = R_SP;
	/* borrowed: the first three the instruction does not use */
	for (int r = 0, k = 0; r < 16 && k < 3; r++)
		if (r != R_SP && r != target && !(ni->uses & (1u << r)))
			ni->scratch[k++] = (uint8_t)r;
	return true;
}

/* NAT_NOP: multi-byte NOPs carry a ModRM "memory" operand they never
 * access: nothing to emit. */
static bool check_nop(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
		      const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	ni->nop = true;
	return !(in->attributes & ZYDIS_ATTRIB_HAS_LOCK);
}

/* The explicit memory operand o (index i) of a NAT_REG/NAT_MEM form into
 * ni; its address registers into *addr_regs. -1: not allowed; else the
 * operand to rewrite (-1 again for a LEA re-encoded as it is). */
static int check_memory(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *o, unsigned i,
			int kind, struct native_insn *ni, uint16_t *addr_regs)
{
	bool lea = in->mnemonic == ZYDIS_MNEMONIC_LEA;
	if (o->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT || in->address_width != 64 ||
	    (lea ? o->mem.type != ZYDIS_MEMOP_TYPE_AGEN
		 : (o->mem.type != ZYDIS_MEMOP_TYPE_MEM || (kind != NAT_MEM && kind != NAT_VEC) ||
		    o->size == 0 || o->size > (kind == NAT_VEC ? 128 : 64) || (o->size & 7))))
		return -2;
	if (o->mem.base == ZYDIS_REGISTER_RIP) {
		ni->base = BASE_RIP;
	} else if (o->mem.base == ZYDIS_REGISTER_RSP) {
		ni->base = R_SP;
	} else if (o->mem.base != ZYDIS_REGISTER_NONE) {
		int n = gpr_index(o->mem.base);
		if (n < 0 || ZydisRegisterGetClass(o->mem.base) != ZYDIS_REGCLASS_GPR64)
			return -2;
		ni->base = (int8_t)n;
		*addr_regs |= (uint16_t)(1u << n);
	}
	if (o->mem.index != ZYDIS_REGISTER_NONE) {
		int n = gpr_index(o->mem.index);
		if (n < 0 || ZydisRegisterGetClass(o->mem.index) != ZYDIS_REGCLASS_GPR64)
			return -2;
		ni->index = (int8_t)n;
		ni->scale = o->mem.scale;
		*addr_regs |= (uint16_t)(1u << n);
	}
	ni->disp = o->mem.disp.value;
	if (!lea) {
		bool rd = o->actions & ZYDIS_OPERAND_ACTION_MASK_READ;
		bool wr = o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
		ni->acc = rd && wr ? ACC_RMW : wr ? ACC_WRITE : ACC_READ;
		ni->msize = (uint8_t)(o->size / 8);
		if (o->mem.segment == ZYDIS_REGISTER_FS)
			ni->seg = SEG_FS;
		else if (o->mem.segment == ZYDIS_REGISTER_GS)
			ni->seg = SEG_GS;
		else
			ni->seg = SEG_DS; /* flat in 64-bit mode */
		return (int)i;
	}
	if (ni->base == R_SP || ni->base == BASE_RIP) {
		ni->sub_base = true;
		return (int)i;
	}
	return -1; /* a plain LEA: re-encoded as it is */
}

/* RSP (or ESP) named explicitly as a register operand, once: the code
 * runs on a borrowed host register in its place (native_emit_ops.c). */
static bool check_rsp_reg(const ZydisDecodedOperand *o, unsigned i, struct native_insn *ni)
{
	if ((o->reg.value != ZYDIS_REGISTER_RSP && o->reg.value != ZYDIS_REGISTER_ESP) ||
	    o->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT || ni->rsp_reg)
		return false;
	ni->rsp_reg = true;
	ni->sub_base = true;
	ni->rsp_op = (uint8_t)i;
	ni->rsp_write = o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
	return true;
}

/* Every operand, visible or not, must be a general register (RSP or ESP
 * only explicitly, once, and without a memory operand but a plain LEA's),
 * the flags, an immediate, or one explicit memory operand (LEA's address
 * arithmetic included) with a 64-bit address. Fills ni's registers and
 * *mem_op (the operand to rewrite, -1 none); false if not allowed. */
static bool check_operands(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
			   int kind, struct native_insn *ni, int *mem_op)
{
	uint16_t addr_regs = 0;
	*mem_op = -1;
	for (unsigned i = 0; i < in->operand_count; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		switch (o->type) {
		case ZYDIS_OPERAND_TYPE_REGISTER: {
			ZydisRegisterClass rc = ZydisRegisterGetClass(o->reg.value);
			if (rc == ZYDIS_REGCLASS_FLAGS)
				continue;
			int n = gpr_index(o->reg.value);
			if (n < 0 && check_rsp_reg(o, i, ni))
				continue;
			if (n < 0)
				return false;
			ni->uses |= (uint16_t)(1u << n);
			if (o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)
				ni->writes |= (uint16_t)(1u << n);
			break;
		}
		case ZYDIS_OPERAND_TYPE_IMMEDIATE: break;
		case ZYDIS_OPERAND_TYPE_MEMORY: {
			if (*mem_op >= 0)
				return false;
			int m = check_memory(in, o, i, kind, ni, &addr_regs);
			if (m == -2)
				return false;
			*mem_op = m;
			break;
		}
		default: return false;
		}
	}
	ni->uses |= addr_regs;
	return !ni->rsp_reg || *mem_op < 0;
}

/* The arithmetic flags ni reads, defines and changes, from Zydis' exact
 * per-encoding table. */
static void check_flags(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
			struct native_insn *ni)
{
	uint32_t written = in->cpu_flags->modified | in->cpu_flags->set_0 | in->cpu_flags->set_1;
	ni->tested = in->cpu_flags->tested & NATIVE_ARITH;
	/* Undefined flags keep no defined value: a run that leaves one
	 * undefined starts from the guest's flags, so the value the host
	 * leaves there derives from guest state, never from vmon's. */
	ni->defined = written & ~in->cpu_flags->undefined & NATIVE_ARITH;
	ni->written = (written | in->cpu_flags->undefined) & NATIVE_ARITH;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_SHL:
	case ZYDIS_MNEMONIC_SHR:
	case ZYDIS_MNEMONIC_SAR:
	case ZYDIS_MNEMONIC_ROL:
	case ZYDIS_MNEMONIC_ROR: {
		/* A count that masks to 0 leaves every flag as it was: by CL
		 * that is known only at run time. */
		const ZydisDecodedOperand *cnt = &ops[1];
		unsigned mask = in->operand_width == 64 ? 63 : 31;
		bool may_be_zero =
			cnt->type != ZYDIS_OPERAND_TYPE_IMMEDIATE || (cnt->imm.value.u & mask) == 0;
		if (in->operand_count_visible < 2 && cnt->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
			may_be_zero = false;
		if (may_be_zero) {
			ni->tested |= written & NATIVE_ARITH;
			ni->defined = 0;
		}
		break;
	}
	default: break;
	}
}

/* ni->code: in re-encoded by Zydis, with its memory operand mem_op (if
 * any) rewritten to a borrowed host register, and decoded again to check
 * it is the same operation. */
static bool reencode(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
		     const ZydisDecodedOperand *ops, struct native_insn *ni, int mem_op)
{
	ZydisEncoderRequest req;
	if (ZYAN_FAILED(ZydisEncoderDecodedInstructionToEncoderRequest(
		    in, ops, in->operand_count_visible, &req)))
		return false;
	ZydisRegister mem_base = ZYDIS_REGISTER_NONE;
	ZydisDecodedOperand want[ZYDIS_MAX_OPERAND_COUNT];
	memcpy(want, ops, sizeof(want));
	if (mem_op >= 0 || ni->rsp_reg || ni->acc == ACC_GUARD) {
		/* Borrowed host registers: none the instruction names. */
		int k = 0;
		for (int r = 0; r < 16 && k < 3; r++)
			if (r != R_SP && !(ni->uses & (1u << r)))
				ni->scratch[k++] = (uint8_t)r;
		if (k < 3)
			return false;
	}
	if (ni->rsp_reg) { /* scratch[0] in RSP's place, at its width */
		ZydisRegister sub = ops[ni->rsp_op].reg.value == ZYDIS_REGISTER_RSP
					    ? gpr64(ni->scratch[0])
					    : gpr32(ni->scratch[0]);
		if (ni->rsp_op >= in->operand_count_visible)
			return false;
		req.operands[ni->rsp_op].reg.value = sub;
		want[ni->rsp_op].reg.value = sub;
	}
	if (mem_op >= 0) {
		if (mem_op >= in->operand_count_visible)
			return false;
		mem_base = (ZydisRegister)(ZYDIS_REGISTER_RAX + ni->scratch[0]);
		ZydisEncoderOperand *mo = &req.operands[mem_op];
		mo->mem.base = mem_base;
		if (ni->acc != ACC_NONE) { /* [scratch0]: the host address */
			mo->mem.index = ZYDIS_REGISTER_NONE;
			mo->mem.scale = 0;
			mo->mem.displacement = 0;
		} else if (ni->base == BASE_RIP) { /* LEA: scratch0 = RIP after it */
			mo->mem.displacement = ni->disp;
		}
		req.prefixes &= ~(ZydisInstructionAttributes)ZYDIS_ATTRIB_HAS_SEGMENT;
		req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_64;
	}
	ZyanUSize len = sizeof(ni->code);
	if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(&req, ni->code, &len)))
		return false;
	/* Trust, but verify: the host runs exactly what the guest meant. */
	ZydisDecodedInstruction again;
	ZydisDecodedOperand again_ops[ZYDIS_MAX_OPERAND_COUNT];
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(dec64, ni->code, len, &again, again_ops)) ||
	    again.length != len ||
	    !(again.attributes & ZYDIS_ATTRIB_HAS_LOCK) !=
		    !(in->attributes & ZYDIS_ATTRIB_HAS_LOCK) ||
	    again.address_width != 64 ||
	    !same_operands(in, want, &again, again_ops, mem_op, mem_base))
		return false;
	ni->len = (uint8_t)len;
	return true;
}

static bool is_bt(ZydisMnemonic m)
{
	return m == ZYDIS_MNEMONIC_BT || m == ZYDIS_MNEMONIC_BTS || m == ZYDIS_MNEMONIC_BTR ||
	       m == ZYDIS_MNEMONIC_BTC;
}

/* NAT_REG and NAT_MEM: integer operations on registers, immediates and
 * (NAT_MEM) one memory operand, run as re-encoded. A LOCKed
 * read-modify-write runs LOCKed on the host, on the guest RAM the TLB
 * check found: a host atomic, as the interpreter's (insn_rmw.h). */
/* MOV r32/r64, Sreg (8C /r, register destination other than RSP): the
 * selector, read from c->seg at run time (no side effect, no fault in
 * 64-bit mode); ends its block. Nothing of the guest's is re-encoded. */
static bool check_sreg_read(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
			    struct native_insn *ni)
{
	if (in->opcode != 0x8c || in->operand_count_visible != 2 ||
	    (in->attributes & ZYDIS_ATTRIB_HAS_LOCK) ||
	    ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    ops[1].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    (in->operand_width != 32 && in->operand_width != 64))
		return false;
	ZydisRegisterClass dc = ZydisRegisterGetClass(ops[0].reg.value);
	int d = gpr_index(ops[0].reg.value);
	static const ZydisRegister segs[6] = {ZYDIS_REGISTER_ES, ZYDIS_REGISTER_CS,
					      ZYDIS_REGISTER_SS, ZYDIS_REGISTER_DS,
					      ZYDIS_REGISTER_FS, ZYDIS_REGISTER_GS};
	int sg = -1;
	for (int i = 0; i < 6; i++)
		if (ops[1].reg.value == segs[i])
			sg = i;
	if (d < 0 || sg < 0 || (dc != ZYDIS_REGCLASS_GPR32 && dc != ZYDIS_REGCLASS_GPR64))
		return false;
	ni->sreg = (uint8_t)(sg + 1);
	ni->sreg_dst = (int8_t)d;
	ni->sub_base = true;
	ni->uses = ni->writes = (uint16_t)(1u << d);
	ni->scratch[0] = ni->scratch[1] = ni->scratch[2] = (uint8_t)d;
	return true;
}

static bool check_reencoded(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
			    const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	int mem_op;
	if (in->mnemonic == ZYDIS_MNEMONIC_MOV && in->opcode == 0x8c)
		return check_sreg_read(in, ops, ni);
	if (!in->cpu_flags || !check_operands(in, ops, native_kind(in->mnemonic), ni, &mem_op))
		return false;
	if ((in->attributes & ZYDIS_ATTRIB_HAS_LOCK) &&
	    (mem_op < 0 || ni->acc != ACC_RMW || !(in->attributes & ZYDIS_ATTRIB_ACCEPTS_LOCK)))
		return false;
	/* BT* on memory with a register offset address beyond the operand;
	 * CMPXCHG with a register destination is left to the interpreter
	 * (the host may write the destination when the comparison fails). */
	if (mem_op >= 0 && is_bt(in->mnemonic) && ops[1].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return false;
	if (in->mnemonic == ZYDIS_MNEMONIC_CMPXCHG && mem_op < 0)
		return false;
	check_flags(in, ops, ni);
	return reencode(dec64, in, ops, ni, mem_op);
}

/* NAT_DIV: DIV/IDIV of 32 or 64 bits by a register or memory, run on the
 * host behind a check that the host would not fault (native_emit_ops.c:
 * else the interpreter raises #DE). The flags stay as they were, as the
 * interpreter leaves them (the host's DIV leaves them undefined: they
 * are restored after it). */
static bool check_div(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
		      const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	int mem_op;
	if ((in->attributes & ZYDIS_ATTRIB_HAS_LOCK) ||
	    (in->operand_width != 32 && in->operand_width != 64) ||
	    in->operand_count_visible != 1 || !check_operands(in, ops, NAT_MEM, ni, &mem_op) ||
	    ni->rsp_reg)
		return false;
	ni->guard = in->mnemonic == ZYDIS_MNEMONIC_IDIV ? GUARD_IDIV : GUARD_DIV;
	ni->opsize = (uint8_t)(in->operand_width / 8);
	ni->div_reg = -1;
	if (mem_op < 0) {
		if (ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER)
			return false;
		ni->div_reg = (int8_t)gpr_index(ops[0].reg.value);
		if (ni->div_reg < 0 || ni->div_reg == R_AX || ni->div_reg == R_DX)
			return false; /* by RAX/RDX: rare, and the check would differ */
		ni->acc = ACC_GUARD;
	} else if (ni->msize != ni->opsize) {
		return false;
	}
	ni->tested = ni->defined = ni->written = 0;
	return reencode(dec64, in, ops, ni, mem_op);
}

/* NAT_CLI: CLI alone (its block's last instruction); compiled for CPL 0
 * only, where IOPL never refuses it (native_emit_ops.c). */
static bool check_cli(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
		      const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	if (in->raw.prefix_count != 0 || in->operand_count_visible != 0 || in->opcode != 0xfa)
		return false;
	ni->cli = true;
	ni->acc = ACC_GUARD;
	ni->scratch[0] = 0; /* borrowed: CLI names no register */
	ni->scratch[1] = 1;
	ni->scratch[2] = 2;
	return true;
}

/* NAT_VEC: a legacy-encoded (no VEX) SSE2 integer, logical or move form
 * on XMM registers, general registers other than RSP, immediates and at
 * most one memory operand of up to 16 bytes; no flags. Runs as
 * re-encoded on the host's XMM registers of the same numbers, loaded from
 * c->xmm first and stored back after (native_emit_ops.c). Neither MMX
 * registers (the x87 state's tags) nor MXCSR may appear. */
static bool check_vec(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
		      const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY ||
	    (in->attributes & ZYDIS_ATTRIB_HAS_LOCK) || in->address_width != 64)
		return false;
	if (in->cpu_flags &&
	    ((in->cpu_flags->tested | in->cpu_flags->modified | in->cpu_flags->set_0 |
	      in->cpu_flags->set_1 | in->cpu_flags->undefined) &
	     NATIVE_ARITH))
		return false;
	int mem_op = -1;
	uint16_t addr_regs = 0;
	for (unsigned i = 0; i < in->operand_count; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		bool wr = o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
		switch (o->type) {
		case ZYDIS_OPERAND_TYPE_REGISTER: {
			if (ZydisRegisterGetClass(o->reg.value) == ZYDIS_REGCLASS_XMM) {
				int x = (int)o->reg.value - (int)ZYDIS_REGISTER_XMM0;
				if (x < 0 || x > 15)
					return false;
				ni->xregs |= (uint16_t)(1u << x);
				if (wr)
					ni->xwrites |= (uint16_t)(1u << x);
				break;
			}
			int n = gpr_index(o->reg.value);
			if (n < 0)
				return false;
			ni->uses |= (uint16_t)(1u << n);
			if (wr)
				ni->writes |= (uint16_t)(1u << n);
			break;
		}
		case ZYDIS_OPERAND_TYPE_IMMEDIATE: break;
		case ZYDIS_OPERAND_TYPE_MEMORY: {
			if (mem_op >= 0)
				return false;
			int m = check_memory(in, o, i, NAT_VEC, ni, &addr_regs);
			if (m < 0)
				return false;
			mem_op = m;
			break;
		}
		default: return false;
		}
	}
	if (!ni->xregs)
		return false; /* an MMX form */
	ni->uses |= addr_regs;
	ni->vec = true;
	if (mem_op < 0)
		ni->acc = ACC_GUARD;
	else
		ni->align16 = ni->msize == 16 && in->mnemonic != ZYDIS_MNEMONIC_MOVDQU &&
			      in->mnemonic != ZYDIS_MNEMONIC_MOVUPS &&
			      in->mnemonic != ZYDIS_MNEMONIC_MOVUPD;
	return reencode(dec64, in, ops, ni, mem_op);
}

/* NAT_STR: REP STOS/MOVS of 1, 2, 4 or 8 bytes (A4/A5/AA/AB with F3,
 * 66 or REX.W only; no segment override, 64-bit addresses), run by
 * native_emit_str.c a page at a time on vmon's own REP STOS/MOVS. */
static bool check_string(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
			 const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	static const uint8_t host[2][4][4] = {
		/* movs b, w, d, q; stos b, w, d, q: F3 [66] [REX.W] A4/A5/AA/AB */
		{{0xf3, 0xa4}, {0x66, 0xf3, 0xa5}, {0xf3, 0xa5}, {0xf3, 0x48, 0xa5}},
		{{0xf3, 0xaa}, {0x66, 0xf3, 0xab}, {0xf3, 0xab}, {0xf3, 0x48, 0xab}},
	};
	static const uint8_t host_len[4] = {2, 3, 2, 3};
	const ZydisInstructionAttributes bad = ZYDIS_ATTRIB_HAS_LOCK | ZYDIS_ATTRIB_HAS_REPNE |
					       ZYDIS_ATTRIB_HAS_SEGMENT |
					       ZYDIS_ATTRIB_HAS_ADDRESSSIZE;
	bool stos = in->opcode == 0xaa || in->opcode == 0xab;
	if (!(in->attributes & ZYDIS_ATTRIB_HAS_REP) || (in->attributes & bad) ||
	    in->address_width != 64 || in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY ||
	    (!stos && in->opcode != 0xa4 && in->opcode != 0xa5))
		return false;
	unsigned w = in->operand_width, i = w == 8 ? 0 : w == 16 ? 1 : w == 32 ? 2 : 3;
	if (w != 8 && w != 16 && w != 32 && w != 64)
		return false;
	ni->str = (uint8_t)((stos ? SK_STOS : SK_MOVS) + 1);
	ni->msize = (uint8_t)(w / 8);
	ni->acc = ACC_GUARD;
	ni->uses = (uint16_t)((1u << R_CX) | (1u << R_DI) | (1u << (stos ? R_AX : R_SI)));
	ni->writes = (uint16_t)((1u << R_CX) | (1u << R_DI) | (stos ? 0 : 1u << R_SI));
	for (int r = 0, k = 0; r < 16 && k < 3; r++)
		if (r != R_SP && !(ni->uses & (1u << r)))
			ni->scratch[k++] = (uint8_t)r;
	memcpy(ni->code, host[stos][i], host_len[i]);
	ni->len = host_len[i];
	return true;
}

static native_checker *const checkers[] = {
	[NAT_NO] = NULL,	   [NAT_REG] = check_reencoded, [NAT_MEM] = check_reencoded,
	[NAT_STACK] = check_stack, [NAT_BRANCH] = check_branch, [NAT_NOP] = check_nop,
	[NAT_DIV] = check_div,	   [NAT_CLI] = check_cli,	[NAT_VEC] = check_vec,
	[NAT_STR] = check_string,
};

bool native_check(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
		  const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	memset(ni, 0, sizeof(*ni));
	ni->base = ni->index = -1;
	if (in->machine_mode != ZYDIS_MACHINE_MODE_LONG_64)
		return false;
	/* String forms have rows of their own (MOVSD is an SSE mnemonic too) */
	int kind = in->meta.category == ZYDIS_CATEGORY_STRINGOP
			   ? emu_insns[emu_string_row[in->mnemonic]].native
			   : native_kind(in->mnemonic);
	native_checker *check = checkers[kind];
	return check && check(dec64, in, ops, ni);
}

bool emu_native_accepts(const uint8_t *code, size_t len)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	struct native_insn ni;
	return ZYAN_SUCCESS(
		       ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)) &&
	       ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, code, len, &in, ops)) &&
	       native_check(&dec, &in, ops, &ni);
}
