/* SPDX-License-Identifier: MIT */
/*
 * Instruction decoding: Zydis decodes each instruction once into vmon's
 * struct dinsn; runs of them up to the next branch or system instruction
 * become blocks (struct dblock), which cache.c keeps. Instructions that
 * cross a page boundary are never part of a block (emu_fetch_decode).
 */
#include <stdio.h>
#include <string.h>

#include "core/ratelimit.h"
#include "cpu/emu/decode.h"
#include "cpu/emu/fault.h"
#include "cpu/emu/mmu.h"
#include "cpu/insn_format.h"

const void *const *emu_op_labels;

int emu_decode_init(struct emu_vm *vm)
{
	if (ZYAN_FAILED(ZydisDecoderInit(&vm->dec16, ZYDIS_MACHINE_MODE_LEGACY_16,
					 ZYDIS_STACK_WIDTH_16)) ||
	    ZYAN_FAILED(ZydisDecoderInit(&vm->dec32, ZYDIS_MACHINE_MODE_LEGACY_32,
					 ZYDIS_STACK_WIDTH_32)) ||
	    ZYAN_FAILED(ZydisDecoderInit(&vm->dec64, ZYDIS_MACHINE_MODE_LONG_64,
					 ZYDIS_STACK_WIDTH_64)) ||
	    ZYAN_FAILED(ZydisFormatterInit(&vm->fmt, ZYDIS_FORMATTER_STYLE_ATT)))
		return -1;
	return 0;
}

static const ZydisDecoder *decoder_for(struct emu_cpu *c)
{
	return c->cmode == 8 ? &c->vm->dec64 : c->cmode == 4 ? &c->vm->dec32 : &c->vm->dec16;
}

/* Maps a Zydis GPR to (number, hi8 flag); returns false if not a GPR. */
static bool map_gpr(ZydisRegister r, uint8_t *out)
{
	if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_R15B) {
		unsigned id = r - ZYDIS_REGISTER_AL;
		if (id < 4)
			*out = id;
		else if (id < 8)
			*out = (id - 4) | DOP_F_HI8;
		else if (id < 12)
			*out = id - 4; /* spl..dil */
		else
			*out = id - 4; /* r8b.. = 8.. */
		return true;
	}
	if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) {
		*out = r - ZYDIS_REGISTER_AX;
		return true;
	}
	if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) {
		*out = r - ZYDIS_REGISTER_EAX;
		return true;
	}
	if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) {
		*out = r - ZYDIS_REGISTER_RAX;
		return true;
	}
	return false;
}

static uint8_t map_addr_reg(ZydisRegister r)
{
	uint8_t n;
	if (r == ZYDIS_REGISTER_NONE)
		return REG_NONE;
	if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP || r == ZYDIS_REGISTER_IP)
		return REG_RIP;
	if (map_gpr(r, &n))
		return n & 0xf;
	return REG_NONE;
}

/* Picks a specialised handler class for the most common operand forms:
 * 32/64-bit register and immediate operands, plain loads and stores, and
 * (in 64-bit mode) near branches and stack operations. */
static uint8_t fast_class(const struct dinsn *d, int cmode)
{
	const struct dop *o0 = &d->op[0], *o1 = &d->op[1];
	bool sz48 = d->osize == 4 || d->osize == 8;
	bool r0 = o0->kind == DOP_REG && o0->size == d->osize;
	bool r1 = o1->kind == DOP_REG && o1->size == d->osize;
	if (d->flags & (DI_LOCK | DI_REP | DI_REPNE | DI_FAR))
		return 0;
	switch (d->mnem) {
	case ZYDIS_MNEMONIC_MOV:
		if (!sz48 || d->nops != 2)
			return 0;
		if (r0 && r1)
			return H_F_MOV_RR;
		if (r0 && o1->kind == DOP_IMM)
			return H_F_MOV_RI;
		if (r0 && o1->kind == DOP_MEM && o1->size == d->osize)
			return H_F_LOAD;
		if (o0->kind == DOP_MEM && o0->size == d->osize && r1)
			return H_F_STORE;
		return 0;
	case ZYDIS_MNEMONIC_LEA: return sz48 && r0 ? H_F_LEA : 0;
	case ZYDIS_MNEMONIC_ADD:
	case ZYDIS_MNEMONIC_SUB:
	case ZYDIS_MNEMONIC_CMP:
	case ZYDIS_MNEMONIC_AND:
	case ZYDIS_MNEMONIC_OR:
	case ZYDIS_MNEMONIC_XOR:
	case ZYDIS_MNEMONIC_TEST:
		if (!sz48 || !r0 || d->nops != 2 || !(r1 || o1->kind == DOP_IMM))
			return 0;
		switch (d->mnem) {
		case ZYDIS_MNEMONIC_ADD: return H_F_ADD;
		case ZYDIS_MNEMONIC_SUB: return H_F_SUB;
		case ZYDIS_MNEMONIC_CMP: return H_F_CMP;
		case ZYDIS_MNEMONIC_AND: return H_F_AND;
		case ZYDIS_MNEMONIC_OR: return H_F_OR;
		case ZYDIS_MNEMONIC_XOR: return H_F_XOR;
		default: return H_F_TEST;
		}
	case ZYDIS_MNEMONIC_INC:
	case ZYDIS_MNEMONIC_DEC:
		if (!sz48 || !r0)
			return 0;
		return d->mnem == ZYDIS_MNEMONIC_INC ? H_F_INC : H_F_DEC;
	default: break;
	}
	if (cmode != 8 || d->osize != 8)
		return 0;
	switch (d->mnem) {
	case ZYDIS_MNEMONIC_JO:
	case ZYDIS_MNEMONIC_JNO:
	case ZYDIS_MNEMONIC_JB:
	case ZYDIS_MNEMONIC_JNB:
	case ZYDIS_MNEMONIC_JZ:
	case ZYDIS_MNEMONIC_JNZ:
	case ZYDIS_MNEMONIC_JBE:
	case ZYDIS_MNEMONIC_JNBE:
	case ZYDIS_MNEMONIC_JS:
	case ZYDIS_MNEMONIC_JNS:
	case ZYDIS_MNEMONIC_JP:
	case ZYDIS_MNEMONIC_JNP:
	case ZYDIS_MNEMONIC_JL:
	case ZYDIS_MNEMONIC_JNL:
	case ZYDIS_MNEMONIC_JLE:
	case ZYDIS_MNEMONIC_JNLE: return (d->flags & DI_RELBR) ? H_F_JCC : 0;
	case ZYDIS_MNEMONIC_PUSH: return r0 ? H_F_PUSH : 0;
	case ZYDIS_MNEMONIC_POP: return r0 ? H_F_POP : 0;
	case ZYDIS_MNEMONIC_CALL: return (d->flags & DI_RELBR) ? H_F_CALL : 0;
	case ZYDIS_MNEMONIC_RET: return d->nops == 0 ? H_F_RET : 0;
	default: return 0;
	}
}

/* Fills d from a Zydis decode; returns false for operand forms this CPU
 * does not model (treated as unimplemented). */
static bool convert(struct dinsn *d, const ZydisDecodedInstruction *in,
		    const ZydisDecodedOperand *ops, int cmode)
{
	memset(d, 0, sizeof(*d));
	d->mnem = in->mnemonic;
	d->hclass = emu_hclass[in->mnemonic];
	d->len = in->length;
	d->osize = in->operand_width / 8;
	d->asize = in->address_width / 8;
	d->opcode = in->opcode;
	d->seg = SEG_NONE;
	d->base = d->index = REG_NONE;
	if (in->attributes & ZYDIS_ATTRIB_HAS_LOCK)
		d->flags |= DI_LOCK;
	if (in->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
		d->flags |= DI_REP;
	if (in->attributes & ZYDIS_ATTRIB_HAS_REPNE)
		d->flags |= DI_REPNE;
	if (in->meta.category == ZYDIS_CATEGORY_STRINGOP ||
	    (in->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
	     (in->opcode >= 0x6c && in->opcode <= 0x6f)))
		d->flags |= DI_STRING;
	if (in->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
		d->flags |= DI_FAR;
	/* Far returns are not "branches" in Zydis' sense. */
	if (in->mnemonic == ZYDIS_MNEMONIC_RET && in->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT &&
	    (in->opcode == 0xca || in->opcode == 0xcb))
		d->flags |= DI_FAR;
	if (d->flags & DI_STRING) {
		/* Segment override for the source operand of movs/lods/cmps/outs. */
		for (int i = 0; i < in->operand_count; i++)
			if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
			    ops[i].mem.segment != ZYDIS_REGISTER_ES)
				d->seg = ops[i].mem.segment - ZYDIS_REGISTER_ES;
		if (d->seg > SEG_GS)
			d->seg = SEG_DS;
		d->hclass = H_STRING;
		d->fop = emu_insn_handler(d, cmode);
		return true;
	}
	int n = in->operand_count_visible;
	if (n > 3)
		n = 3;
	d->nops = n;
	int nimm = 0;
	for (int i = 0; i < n; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		struct dop *p = &d->op[i];
		p->size = o->size / 8;
		switch (o->type) {
		case ZYDIS_OPERAND_TYPE_REGISTER: {
			ZydisRegister r = o->reg.value;
			if (map_gpr(r, &p->reg)) {
				p->kind = DOP_REG;
			} else if (r >= ZYDIS_REGISTER_ES && r <= ZYDIS_REGISTER_GS) {
				p->kind = DOP_SEG;
				p->reg = r - ZYDIS_REGISTER_ES;
			} else if (r >= ZYDIS_REGISTER_CR0 && r <= ZYDIS_REGISTER_CR15) {
				p->kind = DOP_CR;
				p->reg = r - ZYDIS_REGISTER_CR0;
			} else if (r >= ZYDIS_REGISTER_DR0 && r <= ZYDIS_REGISTER_DR15) {
				p->kind = DOP_DR;
				p->reg = r - ZYDIS_REGISTER_DR0;
			} else if (r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM15) {
				p->kind = DOP_XMM;
				p->reg = r - ZYDIS_REGISTER_XMM0;
			} else if (r >= ZYDIS_REGISTER_MM0 && r <= ZYDIS_REGISTER_MM7) {
				p->kind = DOP_MMX;
				p->reg = r - ZYDIS_REGISTER_MM0;
			} else if (r >= ZYDIS_REGISTER_ST0 && r <= ZYDIS_REGISTER_ST7) {
				p->kind = DOP_ST;
				p->reg = r - ZYDIS_REGISTER_ST0;
			} else {
				p->kind = DOP_OTHER; /* not modelled (AVX, bound, ...) */
				p->reg = (uint8_t)(r & 0xff);
			}
			break;
		}
		case ZYDIS_OPERAND_TYPE_MEMORY:
			p->kind = DOP_MEM;
			d->base = map_addr_reg(o->mem.base);
			d->index = map_addr_reg(o->mem.index);
			d->scale = o->mem.scale ? o->mem.scale : 1;
			{
				int64_t disp = o->mem.disp.has_displacement ? o->mem.disp.value : 0;
				d->disp = (int32_t)disp;
				if (disp != (int32_t)disp) {
					/* moffs64: no immediate in these forms */
					d->imm = disp;
					d->flags |= DI_DISP64;
				}
			}
			if (o->mem.segment >= ZYDIS_REGISTER_ES &&
			    o->mem.segment <= ZYDIS_REGISTER_GS)
				d->seg = o->mem.segment - ZYDIS_REGISTER_ES;
			else
				d->seg = SEG_DS;
			if (o->mem.base == ZYDIS_REGISTER_RIP || o->mem.base == ZYDIS_REGISTER_EIP)
				d->base = REG_RIP;
			break;
		case ZYDIS_OPERAND_TYPE_POINTER:
			p->kind = DOP_PTR;
			d->imm = o->ptr.offset;
			d->imm2 = o->ptr.segment;
			break;
		case ZYDIS_OPERAND_TYPE_IMMEDIATE:
			p->kind = DOP_IMM;
			if (nimm == 0)
				d->imm =
					o->imm.is_signed ? o->imm.value.s : (int64_t)o->imm.value.u;
			else
				d->imm2 = (uint16_t)o->imm.value.u;
			if (o->imm.is_relative)
				d->flags |= DI_RELBR;
			nimm++;
			break;
		default: return false;
		}
	}
	uint8_t fc = fast_class(d, cmode);
	if (fc)
		d->hclass = fc;
	d->fop = emu_insn_handler(d, cmode);
	return true;
}

static void report_unimpl(struct emu_cpu *c, const uint8_t *bytes, unsigned n, const char *what)
{
	char text[192];
	enum insn_mode mode = c->cmode == 8   ? INSN_MODE_64
			      : c->cmode == 4 ? INSN_MODE_32
					      : INSN_MODE_16;
	uint64_t lin = c->seg[SEG_CS].base + c->rip;
	insn_format(text, sizeof(text), bytes, n, mode, lin);
	guest_log("emu: cpu%d: %s at rip=%#llx: %s; raising #UD", c->index, what,
		  (unsigned long long)c->rip, text);
}

/* True the first time a mnemonic is reported in this VM. */
static bool first_report(struct emu_cpu *c, unsigned mnem)
{
	if (mnem > ZYDIS_MNEMONIC_MAX_VALUE)
		return false;
	return atomic_exchange(&c->vm->reported[mnem], 1) == 0;
}

/* Reads up to 15 code bytes at the current RIP; returns how many. */
static unsigned fetch_bytes(struct emu_cpu *c, uint64_t lin, uint8_t *buf)
{
	unsigned off = lin & 0xfff;
	unsigned first = 4096 - off;
	if (first >= 15) {
		memcpy(buf, c->fetch_host + off, 15);
		return 15;
	}
	memcpy(buf, c->fetch_host + off, first);
	/* The rest lives on the next page; only fault if the decoder needs it. */
	uint64_t next = lin + first;
	if (c->cmode != 8)
		next &= 0xffffffffULL;
	struct tlb_entry *e = mmu_lookup(c, next, 2, c->cpl == 3);
	if (!e->host)
		return first;
	memcpy(buf + first, e->host, 15 - first);
	return 15;
}

/* Makes the current code page's translation the cached one (c->fetch_*). */
void emu_fetch_page(struct emu_cpu *c, uint64_t lin)
{
	uint64_t vpn = lin >> 12;
	if (c->fetch_vpn == vpn + 1)
		return;
	struct tlb_entry *e = mmu_lookup(c, lin, 2, c->cpl == 3);
	if (!e->host) {
		guest_log("emu: cpu%d: executing from non-RAM gpa %#llx", c->index,
			  (unsigned long long)(e->gpa | (lin & 0xfff)));
		vmctl_request_stop(&c->m->ctl, VM_STOP_GUEST_ERROR, 1);
		emu_raise(c, EXC_UD, 0, false);
	}
	c->fetch_vpn = vpn + 1;
	c->fetch_host = e->host;
	c->fetch_gpa = e->gpa;
}

const struct dinsn *emu_fetch_decode(struct emu_cpu *c)
{
	static __thread struct dinsn scratch;
	uint64_t lin = emu_cs_linear(c, c->rip);
	emu_fetch_page(c, lin);
	uint8_t buf[15];
	unsigned n = fetch_bytes(c, lin, buf);
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(decoder_for(c), buf, n, &in, ops))) {
		if (n < 15) {
			/* Maybe the next page is needed after all: fault it in. */
			uint64_t next = (lin | 0xfff) + 1;
			if (c->cmode != 8)
				next &= 0xffffffffULL;
			mmu_lookup(c, next, 2, c->cpl == 3);
		}
		emu_raise(c, EXC_UD, 0, false);
	}
	if (!convert(&scratch, &in, ops, c->cmode)) {
		if (first_report(c, in.mnemonic))
			report_unimpl(c, buf, in.length, "unsupported operand form");
		emu_raise(c, EXC_UD, 0, false);
	}
	return &scratch;
}

/*
 * True if nothing after d may run from the same block: d may branch, or
 * change the CPU mode, CS, paging, CPL or interrupt state that decoding
 * and the block's translation assumed, or loop on itself (REP), or raise
 * #UD. Over-approximating only costs a block lookup.
 */
static bool ends_block(const ZydisDecodedInstruction *in, const struct dinsn *d)
{
	if (in->meta.branch_type != ZYDIS_BRANCH_TYPE_NONE || (d->flags & (DI_FAR | DI_REP)) ||
	    d->hclass == H_UNIMPL)
		return true;
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_COND_BR:
	case ZYDIS_CATEGORY_UNCOND_BR:
	case ZYDIS_CATEGORY_CALL:
	case ZYDIS_CATEGORY_RET:
	case ZYDIS_CATEGORY_SYSTEM:
	case ZYDIS_CATEGORY_INTERRUPT:
	case ZYDIS_CATEGORY_SYSCALL:
	case ZYDIS_CATEGORY_SYSRET:
	case ZYDIS_CATEGORY_IO:
	case ZYDIS_CATEGORY_IOSTRINGOP:
	case ZYDIS_CATEGORY_FLAGOP: /* sti, cli, popf, ... */
	case ZYDIS_CATEGORY_SEGOP: return true;
	default: break;
	}
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_POPF:
	case ZYDIS_MNEMONIC_POPFD:
	case ZYDIS_MNEMONIC_POPFQ:
	case ZYDIS_MNEMONIC_IRET:
	case ZYDIS_MNEMONIC_IRETD:
	case ZYDIS_MNEMONIC_IRETQ:
	case ZYDIS_MNEMONIC_HLT:
	case ZYDIS_MNEMONIC_CPUID:
	case ZYDIS_MNEMONIC_RDMSR:
	case ZYDIS_MNEMONIC_WRMSR:
	case ZYDIS_MNEMONIC_INVLPG:
	case ZYDIS_MNEMONIC_LMSW:
	case ZYDIS_MNEMONIC_CLTS:
	case ZYDIS_MNEMONIC_SWAPGS:
	case ZYDIS_MNEMONIC_LOOP:
	case ZYDIS_MNEMONIC_LOOPE:
	case ZYDIS_MNEMONIC_LOOPNE:
	case ZYDIS_MNEMONIC_JCXZ:
	case ZYDIS_MNEMONIC_JECXZ:
	case ZYDIS_MNEMONIC_JRCXZ:
	case ZYDIS_MNEMONIC_UD0:
	case ZYDIS_MNEMONIC_UD1:
	case ZYDIS_MNEMONIC_UD2:
	case ZYDIS_MNEMONIC_FXRSTOR:
	case ZYDIS_MNEMONIC_FXRSTOR64: return true;
	default: break;
	}
	for (int i = 0; i < d->nops; i++)
		if (d->op[i].kind == DOP_SEG || d->op[i].kind == DOP_CR ||
		    d->op[i].kind == DOP_DR || d->op[i].kind == DOP_OTHER)
			return true;
	return false;
}

#define ARITH_FLAGS                                                                                \
	(ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF |               \
	 ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF)

/*
 * Dead-flag elimination inside a block: an instruction whose arithmetic
 * flags are all overwritten, before anything reads them, by a later
 * ADD/SUB/CMP/AND/OR/XOR/TEST of the same block gets the handler that
 * skips computing them. Only across register-only instructions: anything
 * that may fault, write memory or leave the block needs exact flags before
 * it (an exception frame holds RFLAGS), and so do block ends, where
 * interrupts are taken.
 */
static void drop_dead_flags(struct dinsn *insn, unsigned n, const bool *reads,
			    const bool *writes_all)
{
	bool live = true; /* flags needed after instruction i */
	for (unsigned i = n; i-- > 0;) {
		bool reg_only = emu_insn_reg_only(insn[i].fop);
		if (!live && reg_only && !reads[i])
			insn[i].fop = emu_insn_flagless(insn[i].fop);
		live = reads[i] || !reg_only || (live && !writes_all[i]);
	}
}

/*
 * Decodes up to BLOCK_MAX_INSNS instructions from CS:RIP into b. Decoding
 * stops after an instruction that ends the block, and before one that
 * would cross the page, would wrap IP/EIP, or does not decode (it faults
 * when it is reached, from a block of its own).
 */
void emu_decode_block(struct emu_cpu *c, struct dblock *b)
{
	unsigned off = emu_cs_linear(c, c->rip) & 0xfff;
	unsigned pos = off, n = 0;
	uint64_t ip_limit = c->cmode == 8 ? UINT64_MAX : c->cmode == 4 ? 0xffffffffULL : 0xffffULL;
	uint64_t ip = c->rip;
	const ZydisDecoder *dec = decoder_for(c);
	uint8_t bytes[BLOCK_MAX_INSNS * 15];
	/* per instruction: reads arithmetic flags / writes all six of them */
	bool reads[BLOCK_MAX_INSNS], writes_all[BLOCK_MAX_INSNS];
	while (n < BLOCK_MAX_INSNS && pos < 4096) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (ZYAN_FAILED(
			    ZydisDecoderDecodeFull(dec, c->fetch_host + pos, 4096 - pos, &in, ops)))
			break; /* truncated by the page end, or invalid */
		if (ip_limit - ip < in.length)
			break;
		struct dinsn *d = &b->insn[n];
		if (!convert(d, &in, ops, c->cmode))
			break;
		reads[n] = !in.cpu_flags || (in.cpu_flags->tested & ARITH_FLAGS);
		writes_all[n] = d->hclass >= H_F_ADD && d->hclass <= H_F_TEST;
		memcpy(bytes + (pos - off), c->fetch_host + pos, in.length);
		pos += in.length;
		ip += in.length;
		n++;
		if (ends_block(&in, d))
			break;
	}
	b->n = (uint16_t)n;
	b->nbytes = (uint16_t)(pos - off);
	if (n == 0)
		return;
	drop_dead_flags(b->insn, n, reads, writes_all);
	for (unsigned i = 0; i < n; i++)
		b->insn[i].label = emu_op_labels[b->insn[i].fop];
	memcpy((uint8_t *)&b->insn[n], bytes, b->nbytes);
}

void emu_format_insn(struct emu_cpu *c, uint64_t rip, char *buf, size_t len)
{
	uint64_t lin = c->seg[SEG_CS].base + rip;
	if (c->cmode != 8)
		lin &= 0xffffffffULL;
	uint8_t bytes[15];
	unsigned n = 0;
	/* Best effort, without faulting: walk through the TLB only. */
	struct tlb_entry *e = &c->tlb[(lin >> 12) & (TLB_SIZE - 1)];
	if (e->vpn == (lin >> 12) + 1 && e->host) {
		unsigned off = lin & 0xfff;
		n = 4096 - off < 15 ? 4096 - off : 15;
		memcpy(bytes, e->host + off, n);
	} else if (!c->paging) {
		void *p = gm_ptr(&c->m->mem, lin, 15);
		if (p) {
			memcpy(bytes, p, 15);
			n = 15;
		}
	}
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	if (!n || ZYAN_FAILED(ZydisDecoderDecodeFull(decoder_for(c), bytes, n, &in, ops)) ||
	    ZYAN_FAILED(ZydisFormatterFormatInstruction(
		    &c->vm->fmt, &in, ops, in.operand_count_visible, buf, len, lin, NULL))) {
		snprintf(buf, len, "(undecodable)");
	}
}

/* Reports an instruction the interpreter does not implement (once per
 * vCPU) before the caller raises #UD. */
void emu_report_unimpl(struct emu_cpu *c, const struct dinsn *d)
{
	if (!first_report(c, d->mnem))
		return;
	uint8_t bytes[15] = {0};
	uint64_t lin = c->seg[SEG_CS].base + c->rip;
	struct tlb_entry *e = &c->tlb[(lin >> 12) & (TLB_SIZE - 1)];
	unsigned n = d->len;
	if (e->vpn == (lin >> 12) + 1 && e->host && (lin & 0xfff) + n <= 4096)
		memcpy(bytes, e->host + (lin & 0xfff), n);
	report_unimpl(c, bytes, n, "unimplemented instruction");
}
