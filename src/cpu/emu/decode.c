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

/* The S_* shape bits of d's operands, which FORM rows select on. */
static uint32_t shape_of(const struct dinsn *d, int cmode)
{
	const struct dop *o0 = &d->op[0], *o1 = &d->op[1];
	bool reg0 = o0->kind == DOP_REG, reg1 = o1->kind == DOP_REG;
	uint32_t s = 0;
	if (!(d->flags & (DI_LOCK | DI_REP | DI_REPNE | DI_FAR)))
		s |= S_PLAIN;
	if (d->osize == 8)
		s |= S_Q | S_OS48;
	if (d->osize == 4)
		s |= S_D | S_OS48;
	if (d->nops == 0)
		s |= S_N0;
	if (d->nops == 2)
		s |= S_N2;
	if (d->nops == 3)
		s |= S_N3;
	if (d->nops >= 2)
		s |= S_N2UP;
	if (reg0 && o0->size == d->osize)
		s |= S_R0;
	if (reg1 && o1->size == d->osize)
		s |= S_R1;
	if (o1->kind == DOP_IMM)
		s |= S_I1;
	if (o0->kind == DOP_MEM && o0->size == d->osize)
		s |= S_M0;
	if (o1->kind == DOP_MEM && o1->size == d->osize)
		s |= S_M1;
	if (reg0)
		s |= S_REG0;
	if (reg0 && !(o0->reg & DOP_F_HI8) && (o0->size == 4 || o0->size == 8))
		s |= S_RG48;
	if (reg1 && o1->size == o0->size)
		s |= S_RS1;
	if (d->op[2].kind == DOP_IMM)
		s |= S_I2;
	if (d->nops >= 2 && o1->kind == DOP_IMM)
		s |= S_SHI;
	if (d->nops >= 2 && reg1 && o1->reg == R_CX && o1->size == 1)
		s |= S_SHC;
	if (cmode == 8)
		s |= S_M64;
	if (d->flags & DI_RELBR)
		s |= S_REL;
	if (o0->size == 8)
		s |= S_O0S8;
	if (reg1 && o1->size == 4)
		s |= S_R1S4;
	return s;
}

/* The FORM rows of each instruction row, in table order (the first that
 * fits wins): indexes + 1, 0 ending a list. Built once. */
static uint16_t form_first[I_COUNT], form_next[EMU_NFORMS];
static pthread_once_t forms_once = PTHREAD_ONCE_INIT;

static void forms_index(void)
{
	for (unsigned i = EMU_NFORMS; i-- > 0;) {
		form_next[i] = form_first[emu_forms[i].insn];
		form_first[emu_forms[i].insn] = (uint16_t)(i + 1);
	}
}

/* d's row and run-loop handler: the first FORM row of its instruction
 * that its operands fit, else its own row through f_exec. */
static void pick_form(struct dinsn *d, int cmode)
{
	uint32_t s = shape_of(d, cmode);
	for (unsigned k = form_first[d->row]; k; k = form_next[k - 1]) {
		const struct insn_form *f = &emu_forms[k - 1];
		if ((f->need & s) == f->need) {
			d->row = f->row;
			d->fop = f->op;
			return;
		}
	}
	d->fop = FOP_f_exec;
}

int emu_decode_init(struct emu_vm *vm)
{
	pthread_once(&forms_once, forms_index);
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

/*
 * Whether the VM's CPU model has what d needs (its row's feature, with
 * the VEX rules: a VEX-encoded vector instruction needs AVX, its 256-bit
 * form AVX2 where the row says so). Decided once, at decode time: the
 * model does not change while the VM runs.
 */
static bool feature_ok(const struct emu_vm *vm, const struct dinsn *d, int cmode)
{
	const struct insn_row *t = &emu_insns[d->row];
	const struct cpu_featureset *fs = &vm->features;
	if (t->feature == CPUF_LAHF_LM && cmode != 8)
		return true; /* LAHF/SAHF outside 64-bit mode: always there */
	if (t->feature != CPUF_NONE && !cpu_has(fs, t->feature))
		return false;
	if (!(d->flags & DI_VEX))
		return true;
	if (t->feature != CPUF_BMI1 && t->feature != CPUF_BMI2 && !cpu_has(fs, CPUF_AVX))
		return false;
	if (d->xflags & DX_L256) {
		if (t->attr & A_L0)
			return false;
		if ((t->attr & A_Y2) && !cpu_has(fs, CPUF_AVX2))
			return false;
	}
	if ((t->attr & A_R2) && d->op[1].kind != DOP_MEM && !cpu_has(fs, CPUF_AVX2))
		return false;
	return true;
}

/* Fills d from a Zydis decode; returns false for operand forms this CPU
 * does not model (treated as unimplemented). */
static bool convert(struct emu_cpu *c, struct dinsn *d, const ZydisDecodedInstruction *in,
		    const ZydisDecodedOperand *ops)
{
	int cmode = c->cmode;
	memset(d, 0, sizeof(*d));
	d->mnem = in->mnemonic;
	d->row = emu_row_of_mnem[in->mnemonic];
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
	if (in->encoding == ZYDIS_INSTRUCTION_ENCODING_VEX) {
		d->flags |= DI_VEX;
		if (in->avx.vector_length == 256)
			d->xflags |= DX_L256;
	} else if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY) {
		/* EVEX, MVEX, XOP, 3DNow!: none of them offered */
		d->row = I_NOFEAT;
		pick_form(d, cmode);
		return true;
	}
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
		d->row = emu_string_row[in->mnemonic];
		pick_form(d, cmode);
		return true;
	}
	int n = in->operand_count_visible;
	d->nops = n > 3 ? 3 : n;
	int nimm = 0;
	for (int i = 0; i < n && i < 4; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		struct dop *p = &d->op[i < 3 ? i : 0];
		if (i == 3) {
			/* VEX's fourth operand: imm8, or a register in imm8[7:4] */
			if (o->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
				d->imm = (int64_t)(o->imm.value.u & 0xff);
			else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER &&
				 o->reg.value >= ZYDIS_REGISTER_XMM0 &&
				 o->reg.value <= ZYDIS_REGISTER_XMM15)
				d->imm = (int64_t)(o->reg.value - ZYDIS_REGISTER_XMM0) << 4;
			else if (o->type == ZYDIS_OPERAND_TYPE_REGISTER &&
				 o->reg.value >= ZYDIS_REGISTER_YMM0 &&
				 o->reg.value <= ZYDIS_REGISTER_YMM15)
				d->imm = (int64_t)(o->reg.value - ZYDIS_REGISTER_YMM0) << 4;
			else
				return false;
			break;
		}
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
			} else if (r >= ZYDIS_REGISTER_YMM0 && r <= ZYDIS_REGISTER_YMM15) {
				p->kind = DOP_YMM;
				p->reg = r - ZYDIS_REGISTER_YMM0;
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
			if (o->mem.type == ZYDIS_MEMOP_TYPE_VSIB) {
				ZydisRegister x = o->mem.index;
				if (x >= ZYDIS_REGISTER_XMM0 && x <= ZYDIS_REGISTER_XMM15)
					d->index = (uint8_t)(x - ZYDIS_REGISTER_XMM0);
				else if (x >= ZYDIS_REGISTER_YMM0 && x <= ZYDIS_REGISTER_YMM15)
					d->index = (uint8_t)(x - ZYDIS_REGISTER_YMM0);
				else
					return false;
				d->xflags |= DX_VSIB;
			}
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
	if (!feature_ok(c->vm, d, cmode)) {
		/* Without LZCNT and BMI1, F3 0F BD/BC are BSR/BSF (the prefix
		 * is ignored); anything else the model lacks is #UD. */
		if (d->row == I_LZCNT)
			d->row = I_BSR;
		else if (d->row == I_TZCNT)
			d->row = I_BSF;
		else
			d->row = I_NOFEAT;
	}
	pick_form(d, cmode);
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
	/* The cached page stays valid unless SMEP forbids it at this CPL (the
	 * page was cached in user mode and the vCPU is now in supervisor). */
	if (c->fetch_vpn == vpn + 1 && !(c->fetch_user && c->cpl != 3 && (c->cr4 & CR4_SMEP)))
		return;
	struct tlb_entry *e = mmu_lookup(c, lin, 2, c->cpl == 3);
	if (!e->host) {
		/* Nothing answers there: a real bus reads all ones, and FF FF
		 * (FF /7) is an invalid opcode, so the guest gets #UD at this
		 * RIP; its handler decides (a handler that is not in RAM
		 * either ends in a triple fault, as on hardware). */
		guest_log("emu: cpu%d: executing from non-RAM gpa %#llx: #UD", c->index,
			  (unsigned long long)(e->gpa | (lin & 0xfff)));
		emu_raise(c, EXC_UD, 0, false);
	}
	c->fetch_vpn = vpn + 1;
	c->fetch_host = e->host;
	c->fetch_gpa = e->gpa;
	c->fetch_user = (e->perm & TLB_U) != 0;
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
	/* Outside 64-bit mode every byte of the instruction must be within
	 * CS's limit (SDM vol. 3 5.3). */
	if (c->cmode != 8 && c->rip + in.length - 1 > c->seg[SEG_CS].limit)
		emu_raise_gp(c, 0);
	if (!convert(c, &scratch, &in, ops)) {
		if (first_report(c, in.mnemonic))
			report_unimpl(c, buf, in.length, "unsupported operand form");
		emu_raise(c, EXC_UD, 0, false);
	}
	return &scratch;
}

/*
 * True if nothing after d may run from the same block: its row ends blocks
 * (it may branch, or change the CPU mode, CS, paging, CPL or interrupt
 * state that decoding and the block's translation assumed, or raise #UD),
 * or it is far, repeats itself (REP), or names a segment, control, debug
 * or unmodelled register. Over-approximating only costs a block lookup.
 */
static bool ends_block(const struct dinsn *d)
{
	if ((emu_insns[d->row].attr & A_END) || (d->flags & (DI_FAR | DI_REP)))
		return true;
	for (int i = 0; i < d->nops; i++)
		if (d->op[i].kind == DOP_SEG || d->op[i].kind == DOP_CR ||
		    d->op[i].kind == DOP_DR || d->op[i].kind == DOP_OTHER)
			return true;
	return false;
}

/*
 * Dead-flag elimination inside a block: an instruction whose arithmetic
 * flags are all overwritten, before anything reads them, by a later
 * instruction of the same block whose row kills them (A_KILLS: the
 * register forms of ADD/SUB/CMP/AND/OR/XOR/TEST) gets its run-loop
 * handler's flagless twin. Only across register-only instructions: anything
 * that may fault, write memory or leave the block needs exact flags before
 * it (an exception frame holds RFLAGS), and so do block ends, where
 * interrupts are taken.
 */
static void drop_dead_flags(struct dinsn *insn, unsigned n, const bool *reads,
			    const bool *writes_all)
{
	bool live = true; /* flags needed after instruction i */
	for (unsigned i = n; i-- > 0;) {
		bool reg_only = emu_ops[insn[i].fop].attr & O_REGONLY;
		if (!live && reg_only && !reads[i])
			insn[i].fop = emu_ops[insn[i].fop].twin;
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
	/* Nor past CS's limit: such an instruction is fetched alone, and
	 * emu_fetch_decode raises #GP(0). */
	if (c->cmode != 8 && ip_limit > c->seg[SEG_CS].limit)
		ip_limit = c->seg[SEG_CS].limit;
	uint64_t ip = c->rip;
	const ZydisDecoder *dec = decoder_for(c);
	/* The block is decoded from one copy of the guest's bytes, which is
	 * also the copy later compared with guest memory (dblock_matches):
	 * another vCPU may be rewriting them meanwhile, and an instruction
	 * decoded from the old bytes must never be kept under a copy of the
	 * new ones (it would match them from then on). 48 instructions of
	 * at most 15 bytes fit, so the copy never cuts a block short. */
	uint8_t bytes[BLOCK_MAX_INSNS * 15];
	unsigned avail = 4096 - off < sizeof(bytes) ? 4096 - off : (unsigned)sizeof(bytes);
	memcpy(bytes, c->fetch_host + off, avail);
	/* per instruction: reads arithmetic flags / writes all six of them */
	bool reads[BLOCK_MAX_INSNS], writes_all[BLOCK_MAX_INSNS];
	while (n < BLOCK_MAX_INSNS && pos - off < avail) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(dec, bytes + (pos - off),
						       avail - (pos - off), &in, ops)))
			break; /* truncated by the page end, or invalid */
		if (ip_limit - ip < in.length)
			break;
		struct dinsn *d = &b->insn[n];
		if (!convert(c, d, &in, ops))
			break;
		reads[n] = emu_insns[d->row].reads != 0;
		writes_all[n] = emu_insns[d->row].attr & A_KILLS;
		pos += in.length;
		ip += in.length;
		n++;
		if (ends_block(d))
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
	if (e->key == tlb_key(c, lin) && e->host) {
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
	if (e->key == tlb_key(c, lin) && e->host && (lin & 0xfff) + n <= 4096)
		memcpy(bytes, e->host + (lin & 0xfff), n);
	report_unimpl(c, bytes, n, "unimplemented instruction");
}
