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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/ratelimit.h"
#include "cpu/emu/native.h"

#define NATIVE_ARENA_BYTES (16u << 20)
#define NATIVE_MIN_RUN	   3 /* shorter runs cost more to enter than they save */
#define NATIVE_MAX_CODE	   8192

#define NATIVE_ARITH                                                                               \
	(ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF |               \
	 ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF)

/* VMON_EMU_NATIVE_VERIFY=1: check vmon's own encodings against Zydis' */
static bool verify_encoding;

bool emu_native_init(struct emu_cpu *c)
{
	/* VMON_EMU_NATIVE=0: off; =eager: compile every block on its first
	 * entry (tests: generated code runs once); default: hot blocks. */
	const char *mode = getenv("VMON_EMU_NATIVE");
	if (mode && !strcmp(mode, "0"))
		return false;
	const char *verify = getenv("VMON_EMU_NATIVE_VERIFY");
	verify_encoding = verify && *verify && *verify != '0';
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
	/* Only with an arena: without one no block is ever offered for
	 * compiling (native_hot stays 0). */
	c->native_hot = mode && !strcmp(mode, "eager") ? 1 : NATIVE_HOT_RUNS;
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

/* Memory operand access of a compiled instruction */
enum { ACC_NONE, ACC_READ, ACC_WRITE, ACC_RMW };

/* One instruction, checked and re-encoded for the host. */
struct native_insn {
	uint8_t len;
	uint8_t code[ZYDIS_MAX_INSTRUCTION_LENGTH];
	uint16_t uses, writes; /* guest registers, bit n = r[n] (not RSP) */
	uint32_t tested;       /* arithmetic flags read (ZYDIS_CPUFLAG_*) */
	uint32_t defined;      /* arithmetic flags given a defined value */
	uint32_t written;      /* arithmetic flags changed, defined or not */
	bool nop;	       /* nothing to run */
	/* An explicit memory operand (or LEA based on RSP/RIP): code holds
	 * the instruction with that operand rewritten to [scratch[0]] (LEA:
	 * base scratch[0]); the address is computed from what follows. */
	uint8_t acc;	    /* ACC_*; ACC_NONE with sub_base for such a LEA */
	bool sub_base;	    /* the base is RSP (from r[]) or RIP (run-time RIP) */
	uint8_t msize;	    /* bytes accessed */
	uint8_t seg;	    /* SEG_FS/SEG_GS add their base; others are flat */
	int8_t base, index; /* guest register, -1 none; base REG_SP / -2 = RIP */
	uint8_t scale;	    /* 0 without index */
	int64_t disp;	    /* RIP-relative: from the end of the instruction */
	uint8_t scratch[3]; /* host registers the sequence may borrow */
	int8_t stack_adj;   /* PUSH -8 / POP +8: r[RSP] moves once the access is done */
	/* A branch ending the run (and its block): JMP rel, or Jcc rel with
	 * x86 condition code cc. */
	bool branch, cond;
	uint8_t cc;
};

#define BASE_RIP (-2)

static bool same_operands(const ZydisDecodedInstruction *a, const ZydisDecodedOperand *ao,
			  const ZydisDecodedInstruction *b, const ZydisDecodedOperand *bo,
			  int mem_op, ZydisRegister mem_base)
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

/* PUSH/POP of a 64-bit general register other than RSP: a store to /
 * load from [RSP - 8] / [RSP], compiled as MOV through the TLB, then
 * r[RSP] moves. */
static bool check_stack(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
			const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	bool push = in->mnemonic == ZYDIS_MNEMONIC_PUSH;
	if (in->operand_count_visible != 1 || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    ZydisRegisterGetClass(ops[0].reg.value) != ZYDIS_REGCLASS_GPR64 ||
	    in->operand_width != 64 || in->raw.prefix_count > 1)
		return false;
	int r = gpr_index(ops[0].reg.value);
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
static bool check_branch(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
			 struct native_insn *ni)
{
	if (in->operand_count_visible != 1 || ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
	    !ops[0].imm.is_relative || in->raw.prefix_count != 0 || in->operand_width != 64)
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

/* Fills ni if in may run natively (64-bit code only); false otherwise. */
static bool native_check(const ZydisDecoder *dec64, const ZydisDecodedInstruction *in,
			 const ZydisDecodedOperand *ops, struct native_insn *ni)
{
	memset(ni, 0, sizeof(*ni));
	ni->base = ni->index = -1;
	if (in->machine_mode != ZYDIS_MACHINE_MODE_LONG_64)
		return false;
	int kind = native_kind(in->mnemonic);
	if (kind == NAT_NOP) {
		/* Multi-byte NOPs carry a ModRM "memory" operand they never
		 * access: nothing to emit. */
		ni->nop = true;
		return !(in->attributes & ZYDIS_ATTRIB_HAS_LOCK);
	}
	if (kind == NAT_NO || (in->attributes & ZYDIS_ATTRIB_HAS_LOCK))
		return false;
	if (kind == NAT_STACK)
		return check_stack(dec64, in, ops, ni);
	if (kind == NAT_BRANCH)
		return check_branch(in, ops, ni);
	if (!in->cpu_flags) /* NAT_REG, NAT_MEM: re-encoded below */
		return false;
	/* Every operand, visible or not, must be a general register (not
	 * RSP), the flags, an immediate, or one explicit memory operand
	 * (LEA's address arithmetic included) with a 64-bit address. */
	int mem_op = -1;
	uint16_t addr_regs = 0;
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
			bool lea = in->mnemonic == ZYDIS_MNEMONIC_LEA;
			if (mem_op >= 0 || o->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT ||
			    in->address_width != 64 ||
			    (lea ? o->mem.type != ZYDIS_MEMOP_TYPE_AGEN
				 : (o->mem.type != ZYDIS_MEMOP_TYPE_MEM || kind != NAT_MEM ||
				    o->size == 0 || o->size > 64 || (o->size & 7))))
				return false;
			mem_op = (int)i;
			if (o->mem.base == ZYDIS_REGISTER_RIP) {
				ni->base = BASE_RIP;
			} else if (o->mem.base == ZYDIS_REGISTER_RSP) {
				ni->base = R_SP;
			} else if (o->mem.base != ZYDIS_REGISTER_NONE) {
				int n = gpr_index(o->mem.base);
				if (n < 0 ||
				    ZydisRegisterGetClass(o->mem.base) != ZYDIS_REGCLASS_GPR64)
					return false;
				ni->base = (int8_t)n;
				addr_regs |= (uint16_t)(1u << n);
			}
			if (o->mem.index != ZYDIS_REGISTER_NONE) {
				int n = gpr_index(o->mem.index);
				if (n < 0 ||
				    ZydisRegisterGetClass(o->mem.index) != ZYDIS_REGCLASS_GPR64)
					return false;
				ni->index = (int8_t)n;
				ni->scale = o->mem.scale;
				addr_regs |= (uint16_t)(1u << n);
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
			} else if (ni->base == R_SP || ni->base == BASE_RIP) {
				ni->sub_base = true;
			} else {
				mem_op = -1; /* a plain LEA: re-encoded as it is */
			}
			break;
		}
		default: return false;
		}
	}
	ni->uses |= addr_regs;
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
	ZydisRegister mem_base = ZYDIS_REGISTER_NONE;
	if (mem_op >= 0) {
		/* Borrowed host registers: none the instruction names. */
		int k = 0;
		for (int r = 0; r < 16 && k < 3; r++)
			if (r != R_SP && !(ni->uses & (1u << r)))
				ni->scratch[k++] = (uint8_t)r;
		if (k < 3 || mem_op >= in->operand_count_visible)
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
	    again.length != len || (again.attributes & ZYDIS_ATTRIB_HAS_LOCK) ||
	    again.address_width != 64 ||
	    !same_operands(in, ops, &again, again_ops, mem_op, mem_base))
		return false;
	ni->len = (uint8_t)len;
	return true;
}

/* ---- Code generation ------------------------------------------------- */

/*
 * uint64_t fn(uint64_t *regs, uint64_t rflags, uint64_t rip) returns
 * struct native_ret. The host stack while the run's instructions execute
 * (offsets from RSP): 0 guest RFLAGS slot, 8 the run's first RIP, 16 the
 * register file (struct emu_cpu *), then the saved host registers.
 */
#define F_FLAGS 0
#define F_RIP	8
#define F_CPU	16

struct fixup {
	size_t at;     /* rel32 field */
	unsigned stub; /* index of the bail-out stub it jumps to */
};

struct emitter {
	uint8_t buf[NATIVE_MAX_CODE];
	size_t len;
	bool failed;
	struct fixup fix[8 * BLOCK_MAX_INSNS]; /* up to 6 per memory access, 1 per Jcc */
	unsigned nfix;
};

static void emit_bytes(struct emitter *e, const void *p, size_t n)
{
	if (e->failed || e->len + n > sizeof(e->buf)) {
		e->failed = true;
		return;
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

/*
 * vmon's own encoder for the few forms the prologue, epilogue and memory
 * sequences use: Zydis' general encoder costs microseconds per
 * instruction, which added up to ~8% of a Linux boot in compilation. Any
 * request outside these forms goes to Zydis. VMON_EMU_NATIVE_VERIFY=1
 * (the unit tests) encodes every request both ways and compares the
 * decoded results.
 */
static int reg_num(ZydisRegister r, bool *w)
{
	if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) {
		*w = true;
		return (int)(r - ZYDIS_REGISTER_RAX);
	}
	if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) {
		*w = false;
		return (int)(r - ZYDIS_REGISTER_EAX);
	}
	return -1;
}

/* [REX] opcode ModRM [SIB] disp32 for `reg` (register or /digit) and a
 * memory operand (base: GPR64 or none; index: GPR64 but RSP, or none). */
static size_t enc_mem(uint8_t *b, bool w, bool force_rex, uint8_t opcode, int reg,
		      const ZydisEncoderOperand *m)
{
	bool dummy;
	int base = m->mem.base == ZYDIS_REGISTER_NONE ? -1 : reg_num(m->mem.base, &dummy);
	int index = m->mem.index == ZYDIS_REGISTER_NONE ? -1 : reg_num(m->mem.index, &dummy);
	if ((m->mem.base != ZYDIS_REGISTER_NONE && (base < 0 || !dummy)) ||
	    (m->mem.index != ZYDIS_REGISTER_NONE && (index < 0 || index == R_SP)) ||
	    m->mem.displacement < INT32_MIN || m->mem.displacement > INT32_MAX)
		return 0;
	int ss;
	switch (index < 0 ? 1 : m->mem.scale) {
	case 0:
	case 1: ss = 0; break;
	case 2: ss = 1; break;
	case 4: ss = 2; break;
	case 8: ss = 3; break;
	default: return 0;
	}
	size_t n = 0;
	uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | (index >= 8 ? 2 : 0) |
				(base >= 8 ? 1 : 0));
	if (rex != 0x40 || force_rex)
		b[n++] = rex;
	b[n++] = opcode;
	if (base < 0) {
		b[n++] = (uint8_t)(((reg & 7) << 3) | 4);
		b[n++] = (uint8_t)((ss << 6) | ((index < 0 ? 4 : index & 7) << 3) | 5);
	} else if (index >= 0 || (base & 7) == 4) {
		b[n++] = (uint8_t)(0x80 | ((reg & 7) << 3) | 4);
		b[n++] = (uint8_t)((ss << 6) | ((index < 0 ? 4 : index & 7) << 3) | (base & 7));
	} else {
		b[n++] = (uint8_t)(0x80 | ((reg & 7) << 3) | (base & 7));
	}
	int32_t d = (int32_t)m->mem.displacement;
	memcpy(b + n, &d, 4);
	return n + 4;
}

/* [REX] opcode ModRM(mod 11) for reg field `reg` and r/m register `rm` */
static size_t enc_rr(uint8_t *b, bool w, uint8_t opcode, int reg, int rm)
{
	size_t n = 0;
	uint8_t rex = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0));
	if (rex != 0x40)
		b[n++] = rex;
	b[n++] = opcode;
	b[n++] = (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7));
	return n;
}

/* Bytes for r in b (at least 16), or 0 when the form is not one of ours. */
static size_t fast_encode(const ZydisEncoderRequest *r, uint8_t *b)
{
	const ZydisEncoderOperand *o = r->operands;
	bool w, w2;
	int a, c;
	if (r->prefixes || r->operand_size_hint || r->address_size_hint)
		return 0;
	switch (r->operand_count) {
	case 0:
		switch (r->mnemonic) {
		case ZYDIS_MNEMONIC_PUSHFQ: b[0] = 0x9c; return 1;
		case ZYDIS_MNEMONIC_POPFQ: b[0] = 0x9d; return 1;
		case ZYDIS_MNEMONIC_RET: b[0] = 0xc3; return 1;
		default: return 0;
		}
	case 1:
		if (o[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			a = reg_num(o[0].reg.value, &w);
			if (a < 0 || !w ||
			    (r->mnemonic != ZYDIS_MNEMONIC_PUSH &&
			     r->mnemonic != ZYDIS_MNEMONIC_POP))
				return 0;
			size_t n = 0;
			if (a >= 8)
				b[n++] = 0x41;
			b[n++] = (uint8_t)((r->mnemonic == ZYDIS_MNEMONIC_PUSH ? 0x50 : 0x58) |
					   (a & 7));
			return n;
		}
		if (o[0].type == ZYDIS_OPERAND_TYPE_MEMORY && r->mnemonic == ZYDIS_MNEMONIC_PUSH &&
		    o[0].mem.size == 8)
			return enc_mem(b, false, false, 0xff, 6, &o[0]);
		return 0;
	case 2: break;
	default: return 0;
	}
	if (o[0].type == ZYDIS_OPERAND_TYPE_REGISTER && o[1].type == ZYDIS_OPERAND_TYPE_MEMORY) {
		a = reg_num(o[0].reg.value, &w);
		if (a < 0 || o[1].mem.size != (w ? 8 : 4))
			return 0;
		switch (r->mnemonic) {
		case ZYDIS_MNEMONIC_MOV: return enc_mem(b, w, false, 0x8b, a, &o[1]);
		case ZYDIS_MNEMONIC_ADD: return enc_mem(b, w, false, 0x03, a, &o[1]);
		case ZYDIS_MNEMONIC_CMP: return enc_mem(b, w, false, 0x3b, a, &o[1]);
		case ZYDIS_MNEMONIC_LEA: return w ? enc_mem(b, w, false, 0x8d, a, &o[1]) : 0;
		default: return 0;
		}
	}
	if (o[0].type == ZYDIS_OPERAND_TYPE_MEMORY && o[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
		a = reg_num(o[1].reg.value, &w);
		if (a < 0 || r->mnemonic != ZYDIS_MNEMONIC_MOV || o[0].mem.size != (w ? 8 : 4))
			return 0;
		return enc_mem(b, w, false, 0x89, a, &o[0]);
	}
	if (o[0].type == ZYDIS_OPERAND_TYPE_MEMORY && o[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
		if (r->mnemonic != ZYDIS_MNEMONIC_CMP || o[0].mem.size != 1 || o[1].imm.s < -128 ||
		    o[1].imm.s > 127)
			return 0;
		size_t n = enc_mem(b, false, false, 0x80, 7, &o[0]);
		if (n)
			b[n++] = (uint8_t)o[1].imm.s;
		return n;
	}
	if (o[0].type == ZYDIS_OPERAND_TYPE_REGISTER && o[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
		a = reg_num(o[0].reg.value, &w);
		c = reg_num(o[1].reg.value, &w2);
		if (a < 0 || c < 0 || w != w2)
			return 0;
		switch (r->mnemonic) {
		case ZYDIS_MNEMONIC_MOV: return enc_rr(b, w, 0x89, c, a);
		case ZYDIS_MNEMONIC_ADD: return enc_rr(b, w, 0x01, c, a);
		case ZYDIS_MNEMONIC_TEST: return enc_rr(b, w, 0x85, c, a);
		default: return 0;
		}
	}
	if (o[0].type == ZYDIS_OPERAND_TYPE_REGISTER && o[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
		a = reg_num(o[0].reg.value, &w);
		if (a < 0)
			return 0;
		int64_t v = o[1].imm.s;
		int ext;
		switch (r->mnemonic) {
		case ZYDIS_MNEMONIC_ADD: ext = 0; break;
		case ZYDIS_MNEMONIC_AND: ext = 4; break;
		case ZYDIS_MNEMONIC_CMP: ext = 7; break;
		case ZYDIS_MNEMONIC_SHL: ext = -4; break;
		case ZYDIS_MNEMONIC_SHR: ext = -5; break;
		default: return 0;
		}
		if (ext < 0) { /* C1 /ext ib */
			if (v < 0 || v > (w ? 63 : 31))
				return 0;
			size_t n = enc_rr(b, w, 0xc1, -ext, a);
			b[n++] = (uint8_t)v;
			return n;
		}
		if (v < INT32_MIN || v > INT32_MAX || (!w && v < 0))
			return 0;
		size_t n = enc_rr(b, w, 0x81, ext, a);
		int32_t iv = (int32_t)v;
		memcpy(b + n, &iv, 4);
		return n + 4;
	}
	return 0;
}

static _Atomic uint64_t encodings_verified, encodings_mismatched;

uint64_t emu_native_encoding_check(uint64_t *mismatched)
{
	*mismatched = encodings_mismatched;
	return encodings_verified;
}

/* Do the two encodings decode to the same instruction? */
static bool same_decoded(const uint8_t *x, size_t nx, const uint8_t *y, size_t ny)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction a, b;
	ZydisDecodedOperand ao[ZYDIS_MAX_OPERAND_COUNT], bo[ZYDIS_MAX_OPERAND_COUNT];
	if (ZYAN_FAILED(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)) ||
	    ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, x, nx, &a, ao)) || a.length != nx ||
	    ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, y, ny, &b, bo)) || b.length != ny)
		return false;
	return same_operands(&a, ao, &b, bo, -1, ZYDIS_REGISTER_NONE);
}

static void emit_req(struct emitter *e, ZydisEncoderRequest *r)
{
	uint8_t tmp[16], ref[ZYDIS_MAX_INSTRUCTION_LENGTH];
	size_t n = fast_encode(r, tmp);
	ZyanUSize len = sizeof(ref);
	if (n && verify_encoding) {
		encodings_verified++;
		if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(r, ref, &len)) ||
		    !same_decoded(tmp, n, ref, len)) {
			encodings_mismatched++;
			char mine[3 * sizeof(tmp) + 1] = "", theirs[3 * sizeof(ref) + 1] = "";
			for (size_t i = 0; i < n; i++)
				snprintf(mine + 3 * i, 4, " %02x", tmp[i]);
			for (size_t i = 0; i < len && i < sizeof(ref); i++)
				snprintf(theirs + 3 * i, 4, " %02x", ref[i]);
			guest_log("emu: native encoder disagrees with Zydis on mnemonic %d:%s vs%s",
				  (int)r->mnemonic, mine, theirs);
			e->failed = true;
			return;
		}
	}
	if (n) {
		emit_bytes(e, tmp, n);
		return;
	}
	len = sizeof(ref);
	if (ZYAN_FAILED(ZydisEncoderEncodeInstruction(r, ref, &len)))
		e->failed = true;
	else
		emit_bytes(e, ref, len);
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

static ZydisRegister gpr32(int n)
{
	return (ZydisRegister)(ZYDIS_REGISTER_EAX + n);
}

static void op_reg(ZydisEncoderOperand *o, ZydisRegister r)
{
	o->type = ZYDIS_OPERAND_TYPE_REGISTER;
	o->reg.value = r;
}

static void op_mem(ZydisEncoderOperand *o, ZydisRegister base, int32_t disp, unsigned size)
{
	o->type = ZYDIS_OPERAND_TYPE_MEMORY;
	o->mem.base = base;
	o->mem.index = ZYDIS_REGISTER_NONE;
	o->mem.displacement = disp;
	o->mem.size = (ZyanU16)size;
}

static void op_imm(ZydisEncoderOperand *o, int64_t v)
{
	o->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
	o->imm.s = v;
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
	op_reg(&r.operands[0], reg);
	emit_req(e, &r);
}

/* m reg, reg2 */
static void emit_rr(struct emitter *e, ZydisMnemonic m, ZydisRegister a, ZydisRegister b)
{
	ZydisEncoderRequest r;
	request(&r, m, 2);
	op_reg(&r.operands[0], a);
	op_reg(&r.operands[1], b);
	emit_req(e, &r);
}

/* m reg, imm */
static void emit_ri(struct emitter *e, ZydisMnemonic m, ZydisRegister a, int64_t v)
{
	ZydisEncoderRequest r;
	request(&r, m, 2);
	op_reg(&r.operands[0], a);
	op_imm(&r.operands[1], v);
	emit_req(e, &r);
}

/* m reg, size ptr [base + disp] */
static void emit_rm(struct emitter *e, ZydisMnemonic m, ZydisRegister reg, ZydisRegister base,
		    int32_t disp, unsigned size)
{
	ZydisEncoderRequest r;
	request(&r, m, 2);
	op_reg(&r.operands[0], reg);
	op_mem(&r.operands[1], base, disp, size);
	emit_req(e, &r);
}

/* m size ptr [base + disp], reg */
static void emit_mr(struct emitter *e, ZydisMnemonic m, ZydisRegister base, int32_t disp,
		    unsigned size, ZydisRegister reg)
{
	ZydisEncoderRequest r;
	request(&r, m, 2);
	op_mem(&r.operands[0], base, disp, size);
	op_reg(&r.operands[1], reg);
	emit_req(e, &r);
}

/* m size ptr [base + disp], imm */
static void emit_mi(struct emitter *e, ZydisMnemonic m, ZydisRegister base, int32_t disp,
		    unsigned size, int64_t v)
{
	ZydisEncoderRequest r;
	request(&r, m, 2);
	op_mem(&r.operands[0], base, disp, size);
	op_imm(&r.operands[1], v);
	emit_req(e, &r);
}

/* push qword [rsp + disp] */
static void emit_push_m(struct emitter *e, int32_t disp)
{
	ZydisEncoderRequest r;
	request(&r, ZYDIS_MNEMONIC_PUSH, 1);
	op_mem(&r.operands[0], ZYDIS_REGISTER_RSP, disp, 8);
	emit_req(e, &r);
}

/* lea rsp, [rsp + disp]: moves the stack without touching the flags */
static void emit_drop(struct emitter *e, int32_t bytes)
{
	emit_rm(e, ZYDIS_MNEMONIC_LEA, ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_RSP, bytes, 8);
}

/* jcc rel32 to bail-out stub `stub`, patched once the stubs are placed */
static void emit_jcc_stub(struct emitter *e, uint8_t cc, unsigned stub)
{
	const uint8_t op[2] = {0x0f, (uint8_t)(0x80 | cc)}, zero[4] = {0};
	emit_bytes(e, op, 2);
	if (e->failed || e->nfix >= sizeof(e->fix) / sizeof(*e->fix)) {
		e->failed = true;
		return;
	}
	e->fix[e->nfix++] = (struct fixup){.at = e->len, .stub = stub};
	emit_bytes(e, zero, 4);
}

#define TAKEN_STUB BLOCK_MAX_INSNS /* fixup target: a run-ending Jcc's taken exit */

enum { CC_AE = 0x3, CC_E = 0x4, CC_NE = 0x5, CC_A = 0x7 };

static void patch_rel32(struct emitter *e, size_t at, size_t target)
{
	int32_t rel = (int32_t)((int64_t)target - (int64_t)(at + 4));
	memcpy(e->buf + at, &rel, 4);
}

/* push imm32 (sign-extended to 64 bits) */
static void emit_push_imm(struct emitter *e, uint32_t v)
{
	uint8_t b[5] = {0x68};
	memcpy(b + 1, &v, 4);
	emit_bytes(e, b, sizeof(b));
}

/* jmp rel32 to an offset already emitted */
static void emit_jmp(struct emitter *e, size_t target)
{
	uint8_t b[5] = {0xe9};
	int32_t rel = (int32_t)((int64_t)target - (int64_t)(e->len + 5));
	memcpy(b + 1, &rel, 4);
	emit_bytes(e, b, sizeof(b));
}

enum { HOST_RDI = 7 };
static const int callee_saved[] = {3, 5, 12, 13, 14, 15}; /* rbx rbp r12-r15 */

#define OFF_TLB ((int32_t)offsetof(struct emu_cpu, tlb))
#define OFF_VM	((int32_t)offsetof(struct emu_cpu, vm))
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

/*
 * A compiled memory access: translate through the vCPU's TLB inline and
 * run the instruction on the host address; anything but a plain RAM hit
 * with the right permissions (miss, MMIO, page crossing, a store into a
 * page holding decoded code) bails out to stub k, where the interpreter
 * takes over at this instruction with exact registers and flags.
 * restore_flags: the guest flags are read later in the run.
 */
static void emit_memory(struct emitter *e, const struct native_insn *ni, unsigned k,
			unsigned end_off, int cpl, bool restore_flags)
{
	ZydisRegister s0 = gpr64(ni->scratch[0]), s1 = gpr64(ni->scratch[1]),
		      s2 = gpr64(ni->scratch[2]);
	for (int i = 0; i < 3; i++)
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, gpr64(ni->scratch[i]));
	const int32_t at = 24;
	/* The guest flags, for the bail-out and for after the sequence. */
	emit_plain(e, ZYDIS_MNEMONIC_PUSHFQ);
	emit_reg(e, ZYDIS_MNEMONIC_POP, s2);
	emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RSP, at + F_FLAGS, 8, s2);
	emit_address(e, ni, at, end_off);
	if (ni->msize > 1) { /* within one page */
		emit_rr(e, ZYDIS_MNEMONIC_MOV, gpr32(ni->scratch[1]), gpr32(ni->scratch[0]));
		emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(ni->scratch[1]), 0xfff);
		emit_ri(e, ZYDIS_MNEMONIC_CMP, gpr32(ni->scratch[1]), 4096 - ni->msize);
		emit_jcc_stub(e, CC_A, k);
	}
	/* s2 = &c->tlb[(lin >> 12) & (TLB_SIZE - 1)] - OFF_TLB; s1 = vpn + 1 */
	emit_rr(e, ZYDIS_MNEMONIC_MOV, s1, s0);
	emit_ri(e, ZYDIS_MNEMONIC_SHR, s1, 12);
	emit_rr(e, ZYDIS_MNEMONIC_MOV, gpr32(ni->scratch[2]), gpr32(ni->scratch[1]));
	emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(ni->scratch[2]), TLB_SIZE - 1);
	emit_ri(e, ZYDIS_MNEMONIC_SHL, s2, 5);
	emit_rm(e, ZYDIS_MNEMONIC_ADD, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
	emit_ri(e, ZYDIS_MNEMONIC_ADD, s1, 1);
	emit_rm(e, ZYDIS_MNEMONIC_CMP, s1, s2, OFF_TLB + (int32_t)offsetof(struct tlb_entry, vpn),
		8);
	emit_jcc_stub(e, CC_NE, k);
	/* Permissions: as mread/mwrite check them. */
	int32_t perm = OFF_TLB + (int32_t)offsetof(struct tlb_entry, perm);
	uint32_t need = 0;
	if (ni->acc != ACC_READ)
		need = cpl == 3 ? (TLB_U | TLB_UW) : TLB_W;
	else if (cpl == 3)
		need = TLB_U;
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
	if (ni->acc != ACC_READ) {
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
	if (ni->stack_adj) { /* PUSH/POP: r[RSP] moves (LEA: the flags stay) */
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s2, ZYDIS_REGISTER_RSP, at + F_CPU, 8);
		emit_rm(e, ZYDIS_MNEMONIC_MOV, s1, s2, 8 * R_SP, 8);
		emit_rm(e, ZYDIS_MNEMONIC_LEA, s1, s1, ni->stack_adj, 8);
		emit_mr(e, ZYDIS_MNEMONIC_MOV, s2, 8 * R_SP, 8, s1);
	}
	if (restore_flags) {
		emit_push_m(e, at + F_FLAGS);
		emit_plain(e, ZYDIS_MNEMONIC_POPFQ);
	}
	emit_reg(e, ZYDIS_MNEMONIC_POP, s2);
	emit_reg(e, ZYDIS_MNEMONIC_POP, s1);
	emit_bytes(e, ni->code, ni->len);
	emit_reg(e, ZYDIS_MNEMONIC_POP, s0);
}

/* LEA from RSP or RIP: the base comes from r[RSP] / the run-time RIP. */
static void emit_lea_sub(struct emitter *e, const struct native_insn *ni, unsigned end_off)
{
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

/*
 * Host code for the run ni[0..n) (lens: guest lengths). flags_in: load the
 * guest's arithmetic flags (RSI) first. flags_out: the flags at the end
 * are the guest's. Bail-out k reports flags when the run touched them
 * before k.
 */
static bool emit_run(struct emitter *e, const struct native_insn *ni, const uint8_t *lens,
		     unsigned n, bool flags_in, bool flags_out, const bool *flags_live_after,
		     int cpl)
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
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RDI); /* F_CPU */
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RDX); /* F_RIP */
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RSI); /* F_FLAGS */
	if (flags_in) {
		emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RSI);
		emit_plain(e, ZYDIS_MNEMONIC_POPFQ);
	}
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
			emit_memory(e, &ni[i], i, end_off, cpl, restore);
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
	emit_drop(e, 24); /* F_FLAGS, F_RIP, F_CPU */
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

/* Copies the emitted code into the arena at a 256-byte slot; the slot
 * number, or -1 when the arena is full (until the next flush). */
static long place(struct emu_cpu *c, const struct emitter *e, const struct native_hdr *h)
{
	size_t at = (c->native_used + 255) & ~(size_t)255;
	size_t need = sizeof(*h) + e->len;
	if (at + need > NATIVE_ARENA_BYTES || (at >> 8) > UINT16_MAX)
		return -1;
	struct native_hdr hdr = *h;
	hdr.fn = (native_fn *)(uintptr_t)(c->native_rx + at + sizeof(hdr));
	memcpy(c->native_rw + at, &hdr, sizeof(hdr));
	memcpy(c->native_rw + at + sizeof(hdr), e->buf, e->len);
	c->native_used = at + need;
	return (long)(at >> 8);
}

bool emu_native_room(const struct emu_cpu *c)
{
	return !c->native_rx || c->native_used + 64 * NATIVE_MAX_CODE <= NATIVE_ARENA_BYTES;
}

/*
 * Compiles the runs of a hot 64-bit block. The first instruction of each
 * run gets the native label and the run's slot (see struct dinsn); the
 * run's instructions stay as they are, for the interpreter to take over
 * at any of them.
 */
void emu_native_block(struct emu_cpu *c, struct dblock *b)
{
	if (!c->native_rx || (b->tag & 0xf) != BLOCK_TAG(0, 8) || b->n < NATIVE_MIN_RUN)
		return;
	const uint8_t *bytes = dblock_bytes(b);
	unsigned n = b->n;
	struct native_insn ni[BLOCK_MAX_INSNS];
	uint8_t lens[BLOCK_MAX_INSNS];
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
		lens[i] = in.length;
		reads[i] = !in.cpu_flags || (in.cpu_flags->tested & NATIVE_ARITH);
		writes_all[i] = emu_insns[b->insn[i].row].attr & A_KILLS;
		pos += in.length;
	}
	/* Are the flags observed after instruction i? As in decode.c's
	 * dead-flag pass: yes before anything that is not register-only,
	 * and at the block's end. */
	bool live = true;
	for (unsigned i = n; i-- > 0;) {
		live_after[i] = live;
		bool reg_only = (ok[i] && ni[i].acc == ACC_NONE) ||
				(emu_ops[b->insn[i].fop].attr & O_REGONLY);
		live = reads[i] || !reg_only || (live && !writes_all[i]);
	}

	for (unsigned i = 0; i < n;) {
		unsigned j = i, run_bytes = 0;
		while (j < n && ok[j] && run_bytes + lens[j] <= 255)
			run_bytes += lens[j++];
		if (j - i < NATIVE_MIN_RUN) {
			i = j > i ? j : i + 1;
			continue;
		}
		/* Which flags the run needs from before it, which bail-outs
		 * and which end report flags, and where inside the run the
		 * guest's flags must survive an address computation. */
		uint32_t defined = 0;
		bool need_in = false, touched = false;
		for (unsigned k = i; k < j; k++) {
			if (ni[k].tested & ~defined)
				need_in = true;
			if (ni[k].acc != ACC_NONE && touched && defined != NATIVE_ARITH)
				need_in = true;
			defined |= ni[k].defined;
			touched |= ni[k].written != 0;
		}
		bool flags_out = touched && live_after[j - 1];
		if (flags_out && defined != NATIVE_ARITH)
			need_in = true;
		bool flive[BLOCK_MAX_INSNS];
		bool l = flags_out || !touched;
		for (unsigned k = j; k-- > i;) {
			flive[k - i] = l;
			l = ni[k].tested || (l && ni[k].defined != NATIVE_ARITH) ||
			    ni[k].acc != ACC_NONE;
		}
		struct emitter e = {.len = 0, .failed = false, .nfix = 0};
		struct native_hdr h = {.n = (uint8_t)(j - i),
				       .bytes = (uint8_t)run_bytes,
				       .cpl = (uint8_t)c->cpl,
				       .flags_in = need_in};
		long slot = emit_run(&e, &ni[i], &lens[i], j - i, need_in, flags_out, flive, c->cpl)
				    ? place(c, &e, &h)
				    : -1;
		if (slot < 0) {
			i = j;
			continue;
		}
		struct dinsn *d = &b->insn[i];
		d->label = emu_op_labels[FOP_f_native];
		d->imm2 = (uint16_t)slot;
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
