/* SPDX-License-Identifier: MIT */
/*
 * Native runs: a run of guest instructions that only compute on general
 * registers and flags (MOV/ADD/IMUL/SHL/CMOVcc/SETcc/LEA ... between
 * registers and immediates) is compiled into host code once its block is
 * hot, and runs as one step of the interpreter instead of one dispatch per
 * instruction.
 *
 * The host is x86-64 too, so guest register n lives in host register n
 * for the length of the run: the code loads the registers the run uses
 * from struct emu_cpu.r[], executes the run's instructions, and stores
 * back the ones it wrote, with the guest's arithmetic flags carried in the
 * host's RFLAGS. The guest never chooses the host bytes: every instruction
 * is checked against a whitelist of operation and operand forms that
 * cannot touch memory, the stack, control flow or system state, or fault
 * (no memory operands but LEA's address arithmetic, no RSP, no RIP, no
 * LOCK, no division), and is then re-encoded by Zydis' encoder from its
 * decoded form and decoded again to confirm it is the same instruction.
 * Prologue and epilogue are vmon's own. Code goes through a writable
 * mapping of a memfd and runs from a second, read+execute, mapping of it:
 * no page is ever writable and executable at once.
 *
 * Host code lives as long as the blocks that use it: both arenas are
 * dropped together (decode.c: blocks_flush).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu/emu/emu.h"

#define NATIVE_ARENA_BYTES (16u << 20)
#define NATIVE_MIN_RUN	   3 /* shorter runs cost more to enter than they save */
#define NATIVE_MAX_CODE	   2048

#define NATIVE_ARITH                                                                               \
	(ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF |               \
	 ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF)

bool emu_native_init(struct emu_cpu *c)
{
	/* VMON_EMU_NATIVE=0: off; =eager: compile every block on its first
	 * entry (tests: generated code runs once); default: hot blocks. */
	const char *mode = getenv("VMON_EMU_NATIVE");
	if (mode && !strcmp(mode, "0"))
		return false;
	c->native_hot = mode && !strcmp(mode, "eager") ? 1 : NATIVE_HOT_RUNS;
	int fd = memfd_create("vmon-emu-code", MFD_CLOEXEC);
	if (fd < 0)
		return false;
	void *rw = MAP_FAILED, *rx = MAP_FAILED;
	if (ftruncate(fd, NATIVE_ARENA_BYTES) == 0) {
		rw = mmap(NULL, NATIVE_ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		rx = mmap(NULL, NATIVE_ARENA_BYTES, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	}
	close(fd);
	if (rw == MAP_FAILED || rx == MAP_FAILED) {
		if (rw != MAP_FAILED)
			munmap(rw, NATIVE_ARENA_BYTES);
		if (rx != MAP_FAILED)
			munmap(rx, NATIVE_ARENA_BYTES);
		return false;
	}
	c->native_rw = rw;
	c->native_rx = rx;
	c->native_used = 0;
	return true;
}

void emu_native_destroy(struct emu_cpu *c)
{
	if (c->native_rw)
		munmap(c->native_rw, NATIVE_ARENA_BYTES);
	if (c->native_rx)
		munmap((void *)(uintptr_t)c->native_rx, NATIVE_ARENA_BYTES);
	c->native_rw = NULL;
	c->native_rx = NULL;
}

void emu_native_flush(struct emu_cpu *c)
{
	c->native_used = 0;
}

/* ---- What may run natively ---------------------------------------------- */

static bool whitelisted(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_MOV:
	case ZYDIS_MNEMONIC_MOVZX:
	case ZYDIS_MNEMONIC_MOVSX:
	case ZYDIS_MNEMONIC_MOVSXD:
	case ZYDIS_MNEMONIC_LEA:
	case ZYDIS_MNEMONIC_ADD:
	case ZYDIS_MNEMONIC_ADC:
	case ZYDIS_MNEMONIC_SUB:
	case ZYDIS_MNEMONIC_SBB:
	case ZYDIS_MNEMONIC_AND:
	case ZYDIS_MNEMONIC_OR:
	case ZYDIS_MNEMONIC_XOR:
	case ZYDIS_MNEMONIC_CMP:
	case ZYDIS_MNEMONIC_TEST:
	case ZYDIS_MNEMONIC_NEG:
	case ZYDIS_MNEMONIC_NOT:
	case ZYDIS_MNEMONIC_INC:
	case ZYDIS_MNEMONIC_DEC:
	case ZYDIS_MNEMONIC_SHL:
	case ZYDIS_MNEMONIC_SHR:
	case ZYDIS_MNEMONIC_SAR:
	case ZYDIS_MNEMONIC_ROL:
	case ZYDIS_MNEMONIC_ROR:
	case ZYDIS_MNEMONIC_IMUL:
	case ZYDIS_MNEMONIC_MUL:
	case ZYDIS_MNEMONIC_BSWAP:
	case ZYDIS_MNEMONIC_XCHG:
	case ZYDIS_MNEMONIC_CBW:
	case ZYDIS_MNEMONIC_CWDE:
	case ZYDIS_MNEMONIC_CDQE:
	case ZYDIS_MNEMONIC_CWD:
	case ZYDIS_MNEMONIC_CDQ:
	case ZYDIS_MNEMONIC_CQO:
	case ZYDIS_MNEMONIC_BT:
	case ZYDIS_MNEMONIC_BTS:
	case ZYDIS_MNEMONIC_BTR:
	case ZYDIS_MNEMONIC_BTC:
	case ZYDIS_MNEMONIC_CMOVB:
	case ZYDIS_MNEMONIC_CMOVBE:
	case ZYDIS_MNEMONIC_CMOVL:
	case ZYDIS_MNEMONIC_CMOVLE:
	case ZYDIS_MNEMONIC_CMOVNB:
	case ZYDIS_MNEMONIC_CMOVNBE:
	case ZYDIS_MNEMONIC_CMOVNL:
	case ZYDIS_MNEMONIC_CMOVNLE:
	case ZYDIS_MNEMONIC_CMOVNO:
	case ZYDIS_MNEMONIC_CMOVNP:
	case ZYDIS_MNEMONIC_CMOVNS:
	case ZYDIS_MNEMONIC_CMOVNZ:
	case ZYDIS_MNEMONIC_CMOVO:
	case ZYDIS_MNEMONIC_CMOVP:
	case ZYDIS_MNEMONIC_CMOVS:
	case ZYDIS_MNEMONIC_CMOVZ:
	case ZYDIS_MNEMONIC_SETB:
	case ZYDIS_MNEMONIC_SETBE:
	case ZYDIS_MNEMONIC_SETL:
	case ZYDIS_MNEMONIC_SETLE:
	case ZYDIS_MNEMONIC_SETNB:
	case ZYDIS_MNEMONIC_SETNBE:
	case ZYDIS_MNEMONIC_SETNL:
	case ZYDIS_MNEMONIC_SETNLE:
	case ZYDIS_MNEMONIC_SETNO:
	case ZYDIS_MNEMONIC_SETNP:
	case ZYDIS_MNEMONIC_SETNS:
	case ZYDIS_MNEMONIC_SETNZ:
	case ZYDIS_MNEMONIC_SETO:
	case ZYDIS_MNEMONIC_SETP:
	case ZYDIS_MNEMONIC_SETS:
	case ZYDIS_MNEMONIC_SETZ: return true;
	default: return false;
	}
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

/* One instruction, checked and re-encoded for the host. */
struct native_insn {
	uint8_t len;
	uint8_t code[ZYDIS_MAX_INSTRUCTION_LENGTH];
	uint16_t uses, writes; /* guest registers, bit n = r[n] */
	uint32_t tested;       /* arithmetic flags read (ZYDIS_CPUFLAG_*) */
	uint32_t defined;      /* arithmetic flags given a defined value */
	uint32_t written;      /* arithmetic flags changed, defined or not */
	bool nop;	       /* nothing to run */
};

static bool same_insn(const ZydisDecodedInstruction *a, const ZydisDecodedOperand *ao,
		      const ZydisDecodedInstruction *b, const ZydisDecodedOperand *bo)
{
	if (a->mnemonic != b->mnemonic || a->operand_width != b->operand_width ||
	    a->operand_count_visible != b->operand_count_visible)
		return false;
	for (unsigned i = 0; i < a->operand_count_visible; i++) {
		if (ao[i].type != bo[i].type || ao[i].size != bo[i].size)
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

/* Fills ni if in may run natively (64-bit code only); false otherwise. */
static bool native_check(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
			 const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	memset(ni, 0, sizeof(*ni));
	if (in->machine_mode != ZYDIS_MACHINE_MODE_LONG_64)
		return false;
	if (in->mnemonic == ZYDIS_MNEMONIC_NOP) {
		/* Multi-byte NOPs carry a ModRM "memory" operand they never
		 * access: nothing to emit. */
		ni->nop = true;
		return !(in->attributes & ZYDIS_ATTRIB_HAS_LOCK);
	}
	if (!whitelisted(in->mnemonic) || (in->attributes & ZYDIS_ATTRIB_HAS_LOCK) ||
	    !in->cpu_flags)
		return false;
	/* IMUL/MUL with one operand write RDX:RAX; the forms are fine, but
	 * every operand, visible or not, must be a general register (not
	 * RSP), the flags, an immediate, or LEA's address arithmetic. */
	for (unsigned i = 0; i < in->operand_count; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		switch (o->type) {
		case ZYDIS_OPERAND_TYPE_REGISTER: {
			ZydisRegisterClass rc = ZydisRegisterGetClass(o->reg.value);
			if (rc == ZYDIS_REGCLASS_FLAGS)
				continue;
			int n = gpr_index(o->reg.value);
			if (n < 0)
				return false;
			ni->uses |= (uint16_t)(1u << n);
			if (o->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)
				ni->writes |= (uint16_t)(1u << n);
			break;
		}
		case ZYDIS_OPERAND_TYPE_IMMEDIATE: break;
		case ZYDIS_OPERAND_TYPE_MEMORY: {
			if (in->mnemonic != ZYDIS_MNEMONIC_LEA ||
			    o->mem.type != ZYDIS_MEMOP_TYPE_AGEN)
				return false;
			ZydisRegister parts[2] = {o->mem.base, o->mem.index};
			for (int k = 0; k < 2; k++) {
				if (parts[k] == ZYDIS_REGISTER_NONE)
					continue;
				int n = gpr_index(parts[k]);
				if (n < 0) /* RIP-relative, RSP-based */
					return false;
				ni->uses |= (uint16_t)(1u << n);
			}
			break;
		}
		default: return false;
		}
	}
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

	ZydisEncoderRequest req;
	if (ZYAN_FAILED(ZydisEncoderDecodedInstructionToEncoderRequest(
		    in, ops, in->operand_count_visible, &req)))
		return false;
	ZyanUSize len = sizeof(ni->code);
	if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(&req, ni->code, &len)))
		return false;
	/* Trust, but verify: the host runs exactly what the guest meant. */
	ZydisDecodedInstruction again;
	ZydisDecodedOperand again_ops[ZYDIS_MAX_OPERAND_COUNT];
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(dec64, ni->code, len, &again, again_ops)) ||
	    again.length != len || !same_insn(in, ops, &again, again_ops))
		return false;
	ni->len = (uint8_t)len;
	return true;
}

/* ---- Code generation ------------------------------------------------- */

struct emitter {
	uint8_t buf[NATIVE_MAX_CODE];
	size_t len;
	bool failed;
};

static void emit_req(struct emitter *e, ZydisEncoderRequest *r)
{
	ZyanUSize len = sizeof(e->buf) - e->len;
	if (e->failed || ZYAN_FAILED(ZydisEncoderEncodeInstruction(r, e->buf + e->len, &len)))
		e->failed = true;
	else
		e->len += len;
}

static void request(ZydisEncoderRequest *r, ZydisMnemonic m, int nops)
{
	memset(r, 0, sizeof(*r));
	r->machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
	r->mnemonic = m;
	r->operand_count = (ZyanU8)nops;
}

static ZydisRegister gpr64(int n)
{
	return (ZydisRegister)(ZYDIS_REGISTER_RAX + n);
}

static void emit_plain(struct emitter *e, ZydisMnemonic m)
{
	ZydisEncoderRequest r;
	request(&r, m, 0);
	emit_req(e, &r);
}

static void emit_reg(struct emitter *e, ZydisMnemonic m, ZydisRegister reg)
{
	ZydisEncoderRequest r;
	request(&r, m, 1);
	r.operands[0].type = ZYDIS_OPERAND_TYPE_REGISTER;
	r.operands[0].reg.value = reg;
	emit_req(e, &r);
}

/* mov reg, [base + disp] (load) or mov [base + disp], reg (store) */
static void emit_mov_mem(struct emitter *e, bool load, ZydisRegister reg, ZydisRegister base,
			 int32_t disp)
{
	ZydisEncoderRequest r;
	request(&r, ZYDIS_MNEMONIC_MOV, 2);
	ZydisEncoderOperand *ro = &r.operands[load ? 0 : 1], *mo = &r.operands[load ? 1 : 0];
	ro->type = ZYDIS_OPERAND_TYPE_REGISTER;
	ro->reg.value = reg;
	mo->type = ZYDIS_OPERAND_TYPE_MEMORY;
	mo->mem.base = base;
	mo->mem.index = ZYDIS_REGISTER_NONE;
	mo->mem.displacement = disp;
	mo->mem.size = 8;
	emit_req(e, &r);
}

enum { HOST_RDI = 7 };
static const int callee_saved[] = {3, 5, 12, 13, 14, 15}; /* rbx rbp r12-r15 */

/*
 * Host code for the run ni[0..n): uint64_t fn(uint64_t *regs, uint64_t
 * flags). flags_in: load the guest's arithmetic flags (passed in RSI)
 * first; flags_out: return the host RFLAGS after the run.
 */
static bool emit_run(struct emitter *e, const struct native_insn *ni, unsigned n, bool flags_in,
		     bool flags_out)
{
	uint16_t uses = 0, writes = 0;
	for (unsigned i = 0; i < n; i++) {
		uses |= ni[i].uses;
		writes |= ni[i].writes;
	}
	/* Prologue: save the host registers the run clobbers that the C
	 * caller expects kept, keep the guest register file's address on
	 * the stack, load guest flags and registers. */
	for (size_t k = 0; k < sizeof(callee_saved) / sizeof(*callee_saved); k++)
		if (uses & (1u << callee_saved[k]))
			emit_reg(e, ZYDIS_MNEMONIC_PUSH, gpr64(callee_saved[k]));
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RDI);
	if (flags_in) {
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RSI);
		emit_plain(e, ZYDIS_MNEMONIC_POPFQ);
	}
	for (int r = 0; r < 16; r++)
		if ((uses & (1u << r)) && r != HOST_RDI)
			emit_mov_mem(e, true, gpr64(r), ZYDIS_REGISTER_RDI, 8 * r);
	if (uses & (1u << HOST_RDI))
		emit_mov_mem(e, true, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RDI, 8 * HOST_RDI);

	for (unsigned i = 0; i < n; i++) {
		if (ni[i].nop)
			continue;
		if (e->len + ni[i].len > sizeof(e->buf)) {
			e->failed = true;
			return false;
		}
		memcpy(e->buf + e->len, ni[i].code, ni[i].len);
		e->len += ni[i].len;
	}

	/* Epilogue: flags first (nothing below changes them before PUSHFQ
	 * has them), then the written registers. */
	if (flags_out)
		emit_plain(e, ZYDIS_MNEMONIC_PUSHFQ);
	if (uses & (1u << HOST_RDI)) {
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RDI);
		emit_mov_mem(e, true, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RSP, flags_out ? 16 : 8);
	}
	for (int r = 0; r < 16; r++)
		if ((writes & (1u << r)) && r != HOST_RDI)
			emit_mov_mem(e, false, gpr64(r), ZYDIS_REGISTER_RDI, 8 * r);
	if (uses & (1u << HOST_RDI)) {
		emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RAX);
		if (writes & (1u << HOST_RDI))
			emit_mov_mem(e, false, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RDI,
				     8 * HOST_RDI);
	}
	if (flags_out)
		emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RAX);
	emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RCX); /* the register file's address */
	for (size_t k = sizeof(callee_saved) / sizeof(*callee_saved); k-- > 0;)
		if (uses & (1u << callee_saved[k]))
			emit_reg(e, ZYDIS_MNEMONIC_POP, gpr64(callee_saved[k]));
	emit_plain(e, ZYDIS_MNEMONIC_RET);
	return !e->failed;
}

/* Copies the emitted code into the arena; its executable address, or NULL
 * when the arena is full (until the next flush). */
static const void *place(struct emu_cpu *c, const struct emitter *e)
{
	size_t at = (c->native_used + 15) & ~(size_t)15;
	if (at + e->len > NATIVE_ARENA_BYTES)
		return NULL;
	memcpy(c->native_rw + at, e->buf, e->len);
	c->native_used = at + e->len;
	return c->native_rx + at;
}

bool emu_native_room(const struct emu_cpu *c)
{
	return !c->native_rx || c->native_used + 64 * NATIVE_MAX_CODE <= NATIVE_ARENA_BYTES;
}

/*
 * Compiles the register-only runs of a hot 64-bit block. The first
 * instruction of each run becomes FOP_f_native (see struct dinsn); the
 * others stay as they are and are stepped over.
 */
void emu_native_block(struct emu_cpu *c, struct dblock *b)
{
	if (!c->native_rx || (b->tag & 0xf) != BLOCK_TAG(0, 8) || b->n < NATIVE_MIN_RUN)
		return;
	const uint8_t *bytes = dblock_bytes(b);
	unsigned n = b->n;
	struct native_insn ni[BLOCK_MAX_INSNS];
	bool ok[BLOCK_MAX_INSNS], reads[BLOCK_MAX_INSNS], writes_all[BLOCK_MAX_INSNS];
	bool live_after[BLOCK_MAX_INSNS];
	unsigned pos = 0;
	for (unsigned i = 0; i < n; i++) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&c->vm->dec64, bytes + pos, b->nbytes - pos,
						       &in, ops)) ||
		    in.length != b->insn[i].len)
			return;
		ok[i] = native_check(&c->vm->dec64, &in, ops, &ni[i]);
		reads[i] = !in.cpu_flags || (in.cpu_flags->tested & NATIVE_ARITH);
		writes_all[i] = b->insn[i].hclass >= H_F_ADD && b->insn[i].hclass <= H_F_TEST;
		pos += in.length;
	}
	/* Are the flags observed after instruction i? As in decode.c's
	 * dead-flag pass: yes before anything that is not register-only,
	 * and at the block's end. */
	bool live = true;
	for (unsigned i = n; i-- > 0;) {
		live_after[i] = live;
		bool reg_only = ok[i] || emu_insn_reg_only(b->insn[i].fop);
		live = reads[i] || !reg_only || (live && !writes_all[i]);
	}

	pos = 0;
	for (unsigned i = 0; i < n;) {
		unsigned j = i, bytes_in_run = 0;
		while (j < n && ok[j] && bytes_in_run + b->insn[j].len <= 255)
			bytes_in_run += b->insn[j++].len;
		if (j - i < NATIVE_MIN_RUN) {
			i = j > i ? j : i + 1;
			continue;
		}
		/* Which flags the run needs from before it, and whether the
		 * ones it leaves are observed. */
		uint32_t defined = 0;
		bool need_in = false, touches = false;
		for (unsigned k = i; k < j; k++) {
			if (ni[k].tested & ~defined)
				need_in = true;
			defined |= ni[k].defined;
			touches |= ni[k].written != 0;
		}
		bool flags_out = touches && live_after[j - 1];
		if (flags_out && defined != NATIVE_ARITH)
			need_in = true;
		struct emitter e = {.len = 0, .failed = false};
		const void *code =
			emit_run(&e, &ni[i], j - i, need_in, flags_out) ? place(c, &e) : NULL;
		if (!code)
			return;
		struct dinsn *d = &b->insn[i];
		d->fop = emu_fop_native;
		d->label = emu_op_labels[emu_fop_native];
		d->imm = (int64_t)(uintptr_t)code;
		d->imm2 = (uint16_t)(j - i);
		d->len = (uint8_t)bytes_in_run;
		d->opcode = (uint8_t)((need_in ? NATIVE_FLAGS_IN : 0) |
				      (flags_out ? NATIVE_FLAGS_OUT : 0));
		c->native_runs++;
		i = j;
	}
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
