/* SPDX-License-Identifier: MIT */
/*
 * The native-run emitter: host instructions appended to a buffer, for the
 * prologues, epilogues and TLB checks vmon writes itself (native_emit.c).
 */
#include "core/ratelimit.h"
#include "cpu/emu/native_priv.h"

bool native_verify_encoding;

void emit_bytes(struct emitter *e, const void *p, size_t n)
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
		case ZYDIS_MNEMONIC_OR: return enc_mem(b, w, false, 0x0b, a, &o[1]);
		case ZYDIS_MNEMONIC_XOR: return enc_mem(b, w, false, 0x33, a, &o[1]);
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
		case ZYDIS_MNEMONIC_CMP: return enc_rr(b, w, 0x39, c, a);
		case ZYDIS_MNEMONIC_OR: return enc_rr(b, w, 0x09, c, a);
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
		case ZYDIS_MNEMONIC_SAR: ext = -7; break;
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

void emit_req(struct emitter *e, ZydisEncoderRequest *r)
{
	uint8_t tmp[16], ref[ZYDIS_MAX_INSTRUCTION_LENGTH];
	size_t n = fast_encode(r, tmp);
	ZyanUSize len = sizeof(ref);
	if (n && native_verify_encoding) {
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

void emit_plain(struct emitter *e, ZydisMnemonic m)
{
	ZydisEncoderRequest r;
	request(&r, m, 0);
	emit_req(e, &r);
}

void emit_reg(struct emitter *e, ZydisMnemonic m, ZydisRegister reg)
{
	ZydisEncoderRequest r;
	request(&r, m, 1);
	op_reg(&r.operands[0], reg);
	emit_req(e, &r);
}

void emit_rr(struct emitter *e, ZydisMnemonic m, ZydisRegister a, ZydisRegister b)
{
	ZydisEncoderRequest r;
	request(&r, m, 2);
	op_reg(&r.operands[0], a);
	op_reg(&r.operands[1], b);
	emit_req(e, &r);
}

void emit_ri(struct emitter *e, ZydisMnemonic m, ZydisRegister a, int64_t v)
{
	ZydisEncoderRequest r;
	request(&r, m, 2);
	op_reg(&r.operands[0], a);
	op_imm(&r.operands[1], v);
	emit_req(e, &r);
}

void emit_rm(struct emitter *e, ZydisMnemonic m, ZydisRegister reg, ZydisRegister base,
	     int32_t disp, unsigned size)
{
	ZydisEncoderRequest r;
	request(&r, m, 2);
	op_reg(&r.operands[0], reg);
	op_mem(&r.operands[1], base, disp, size);
	emit_req(e, &r);
}

void emit_mr(struct emitter *e, ZydisMnemonic m, ZydisRegister base, int32_t disp, unsigned size,
	     ZydisRegister reg)
{
	ZydisEncoderRequest r;
	request(&r, m, 2);
	op_mem(&r.operands[0], base, disp, size);
	op_reg(&r.operands[1], reg);
	emit_req(e, &r);
}

void emit_mi(struct emitter *e, ZydisMnemonic m, ZydisRegister base, int32_t disp, unsigned size,
	     int64_t v)
{
	ZydisEncoderRequest r;
	request(&r, m, 2);
	op_mem(&r.operands[0], base, disp, size);
	op_imm(&r.operands[1], v);
	emit_req(e, &r);
}

void emit_push_m(struct emitter *e, int32_t disp)
{
	ZydisEncoderRequest r;
	request(&r, ZYDIS_MNEMONIC_PUSH, 1);
	op_mem(&r.operands[0], ZYDIS_REGISTER_RSP, disp, 8);
	emit_req(e, &r);
}

void emit_drop(struct emitter *e, int32_t bytes)
{
	emit_rm(e, ZYDIS_MNEMONIC_LEA, ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_RSP, bytes, 8);
}

void emit_jcc_stub(struct emitter *e, uint8_t cc, unsigned stub)
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

void patch_rel32(struct emitter *e, size_t at, size_t target)
{
	int32_t rel = (int32_t)((int64_t)target - (int64_t)(at + 4));
	memcpy(e->buf + at, &rel, 4);
}

void emit_jmp_stub(struct emitter *e, unsigned stub)
{
	const uint8_t op[1] = {0xe9}, zero[4] = {0};
	emit_bytes(e, op, 1);
	if (e->failed || e->nfix >= sizeof(e->fix) / sizeof(*e->fix)) {
		e->failed = true;
		return;
	}
	e->fix[e->nfix++] = (struct fixup){.at = e->len, .stub = stub};
	emit_bytes(e, zero, 4);
}

size_t emit_jump_fwd(struct emitter *e, unsigned cc)
{
	const uint8_t jcc[2] = {0x0f, (uint8_t)(0x80 | (cc & 0xf))}, jmp[1] = {0xe9}, zero[4] = {0};
	if (cc == CC_ALWAYS)
		emit_bytes(e, jmp, 1);
	else
		emit_bytes(e, jcc, 2);
	size_t at = e->len;
	emit_bytes(e, zero, 4);
	return at;
}

void patch_here(struct emitter *e, size_t at)
{
	if (!e->failed && at + 4 <= e->len)
		patch_rel32(e, at, e->len);
}

void emit_push_imm(struct emitter *e, uint32_t v)
{
	uint8_t b[5] = {0x68};
	memcpy(b + 1, &v, 4);
	emit_bytes(e, b, sizeof(b));
}

void emit_jmp(struct emitter *e, size_t target)
{
	uint8_t b[5] = {0xe9};
	int32_t rel = (int32_t)((int64_t)target - (int64_t)(e->len + 5));
	memcpy(b + 1, &rel, 4);
	emit_bytes(e, b, sizeof(b));
}

/*
 * The guest's arithmetic flags from qword [rsp + disp] into RFLAGS without
 * POPF (which costs several times more than all of this): OF through an
 * 8-bit ADD that overflows exactly when the slot's OF is set, then SAHF
 * for SF, ZF, AF, PF and CF. RAX is saved around it; host register t (not
 * RAX or RSP) is clobbered. DF and the system flags stay as they are
 * (clear in host code, as a slot of arithmetic flags would load them).
 */
void emit_flags_load(struct emitter *e, int32_t disp, int t)
{
	ZydisRegister t8 = t < 4   ? (ZydisRegister)(ZYDIS_REGISTER_AL + t)
			   : t < 8 ? (ZydisRegister)(ZYDIS_REGISTER_SPL + (t - 4))
				   : (ZydisRegister)(ZYDIS_REGISTER_R8B + (t - 8));
	if (t == HOST_RAX || t == 4 || t < 0 || t > 15) {
		e->failed = true;
		return;
	}
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RAX);
	emit_rm(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RSP, disp + 8, 8);
	emit_rr(e, ZYDIS_MNEMONIC_MOV, gpr32(t), ZYDIS_REGISTER_EAX);
	emit_ri(e, ZYDIS_MNEMONIC_SHR, gpr32(t), 11); /* OF */
	emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(t), 1);
	emit_ri(e, ZYDIS_MNEMONIC_ADD, t8, 0x7f);
	emit_rr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_AH, ZYDIS_REGISTER_AL);
	emit_plain(e, ZYDIS_MNEMONIC_SAHF);
	emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RAX);
}

/*
 * RFLAGS' arithmetic flags to qword [rsp + disp], laid out as RFLAGS (bit
 * 1 set, nothing else), without PUSHF (several times dearer): LAHF for
 * SF, ZF, AF, PF and CF, SETO for OF. RAX is saved around it; host
 * registers t1 and t2 (neither RAX nor RSP) and the flags are clobbered.
 */
void emit_flags_save(struct emitter *e, int32_t disp, int t1, int t2)
{
	if (t1 == HOST_RAX || t2 == HOST_RAX || t1 == 4 || t2 == 4 || t1 == t2 || t1 < 0 ||
	    t2 < 0 || t1 > 15 || t2 > 15) {
		e->failed = true;
		return;
	}
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RAX);
	emit_plain(e, ZYDIS_MNEMONIC_LAHF);
	emit_reg(e, ZYDIS_MNEMONIC_SETO, ZYDIS_REGISTER_AL);
	emit_rr(e, ZYDIS_MNEMONIC_MOV, gpr32(t1), ZYDIS_REGISTER_EAX);
	emit_rr(e, ZYDIS_MNEMONIC_MOV, gpr32(t2), ZYDIS_REGISTER_EAX);
	emit_reg(e, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RAX);
	/* the flags are saved: from here on they may change */
	emit_ri(e, ZYDIS_MNEMONIC_SHR, gpr32(t2), 8);
	emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(t2), 0xff);
	emit_ri(e, ZYDIS_MNEMONIC_AND, gpr32(t1), 1);
	emit_ri(e, ZYDIS_MNEMONIC_SHL, gpr32(t1), 11);
	emit_rr(e, ZYDIS_MNEMONIC_OR, gpr32(t2), gpr32(t1));
	emit_mr(e, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RSP, disp, 8, gpr64(t2));
}

void emit_frame_push(struct emitter *e)
{
	ZydisEncoderRequest r;
	request(&r, ZYDIS_MNEMONIC_PUSH, 1);
	op_mem(&r.operands[0], ZYDIS_REGISTER_RDI, (int32_t)offsetof(struct emu_cpu, tlb_key), 8);
	emit_req(e, &r);				      /* F_KEY */
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RDI); /* F_CPU */
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RDX); /* F_RIP */
	emit_reg(e, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RSI); /* F_FLAGS */
}
