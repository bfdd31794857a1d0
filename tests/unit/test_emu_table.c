/* SPDX-License-Identifier: MIT */
/*
 * The software CPU's instruction table (src/cpu/emu/insns.def) against
 * Zydis and against itself: every instruction Zydis calls a branch or a
 * system, I/O, flag or segment operation ends its block; no instruction
 * reads or writes an arithmetic flag its row does not list; every CPUID
 * feature a row names is one the CPU reports; the operand forms keep a
 * row's block ending and pick the run-loop handlers named here; the
 * run-loop handlers' twins are consistent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cpu_init.h"
#include "core/machine.h"
#include "cpu/cpu_backend.h"
#include "cpu/emu/cache.h"
#include "cpu/emu/decode.h"
#include "cpu/emu/sys.h"
#include "cpu/emu/table.h"

#include "emu_harness.h"

#define ARITH                                                                                      \
	(ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF |               \
	 ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF)

/* Zydis' flag bits as EFLAGS bits. */
static uint16_t eflags_of(uint32_t z)
{
	return (uint16_t)(((z & ZYDIS_CPUFLAG_CF) ? F_CF : 0) |
			  ((z & ZYDIS_CPUFLAG_PF) ? F_PF : 0) |
			  ((z & ZYDIS_CPUFLAG_AF) ? F_AF : 0) |
			  ((z & ZYDIS_CPUFLAG_ZF) ? F_ZF : 0) |
			  ((z & ZYDIS_CPUFLAG_SF) ? F_SF : 0) |
			  ((z & ZYDIS_CPUFLAG_OF) ? F_OF : 0));
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static bool ends_by_zydis(const ZydisDecodedInstruction *in)
{
	if (in->meta.branch_type != ZYDIS_BRANCH_TYPE_NONE)
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
	case ZYDIS_CATEGORY_FLAGOP:
	case ZYDIS_CATEGORY_SEGOP: return true;
	default: return false;
	}
}

/* 300,000 random instructions in each mode: each one with a row agrees
 * with Zydis on block ends and flags. */
static void test_table_vs_zydis(void **state)
{
	static const ZydisMachineMode modes[3] = {ZYDIS_MACHINE_MODE_LEGACY_16,
						  ZYDIS_MACHINE_MODE_LEGACY_32,
						  ZYDIS_MACHINE_MODE_LONG_64};
	static const ZydisStackWidth widths[3] = {ZYDIS_STACK_WIDTH_16, ZYDIS_STACK_WIDTH_32,
						  ZYDIS_STACK_WIDTH_64};
	unsigned checked = 0;
	for (int m = 0; m < 3; m++) {
		ZydisDecoder dec;
		assert_true(ZYAN_SUCCESS(ZydisDecoderInit(&dec, modes[m], widths[m])));
		for (int i = 0; i < 300000; i++) {
			uint8_t b[16];
			uint64_t r0 = next_rand(), r1 = next_rand();
			memcpy(b, &r0, 8);
			memcpy(b + 8, &r1, 8);
			if (i % 3 == 1) /* a third two-byte opcodes */
				b[0] = 0x0f;
			else if (i % 3 == 2) /* a third VEX-encoded */
				b[0] = (r0 >> 32) & 1 ? 0xc4 : 0xc5;
			ZydisDecodedInstruction in;
			ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
			if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, b, 16, &in, ops)))
				continue;
			bool string = in.meta.category == ZYDIS_CATEGORY_STRINGOP ||
				      in.meta.category == ZYDIS_CATEGORY_IOSTRINGOP;
			unsigned row =
				string ? emu_string_row[in.mnemonic] : emu_row_of_mnem[in.mnemonic];
			if (row == I_UNIMPL)
				continue;
			const struct insn_row *t = &emu_insns[row];
			if (ends_by_zydis(&in) && !(t->attr & A_END))
				fail_msg("%s: Zydis says it ends a block, the table does not",
					 emu_insn_names[row]);
			if (!in.cpu_flags)
				continue;
			uint16_t rd = eflags_of(in.cpu_flags->tested & ARITH);
			uint16_t wr = eflags_of((in.cpu_flags->modified | in.cpu_flags->set_0 |
						 in.cpu_flags->set_1 | in.cpu_flags->undefined) &
						ARITH);
			uint16_t ud = eflags_of(in.cpu_flags->undefined & ARITH);
			if ((rd & ~t->reads) || (wr & ~t->writes) || (ud & ~t->undef))
				fail_msg(
					"%s: Zydis flags read %#x written %#x undefined %#x, table "
					"%#x %#x %#x",
					emu_insn_names[row], rd, wr, ud, t->reads, t->writes,
					t->undef);
			checked++;
		}
	}
	assert_true(checked > 100000);
}

/* Rows name their Zydis mnemonic. */
static void test_row_names(void **state)
{
	for (unsigned i = 0; i < I_COUNT; i++) {
		const struct insn_row *t = &emu_insns[i];
		if (!t->mnem)
			continue; /* SPEC rows */
		const char *z = ZydisMnemonicGetString((ZydisMnemonic)t->mnem);
		assert_non_null(z);
		assert_int_equal(strncasecmp(emu_insn_names[i], z, strlen(z)), 0);
		if (strchr(emu_insn_names[i], ' '))
			assert_int_equal(emu_string_row[t->mnem], i);
		else
			assert_int_equal(emu_row_of_mnem[t->mnem], i);
	}
}

/* Every feature a row belongs to is one CPUID reports (the default model:
 * everything the software CPU offers on this host), and one it offers. */
static void test_features_advertised(void **state)
{
	static const uint8_t code[] = {0xe6, 0xf4}; /* out %al, $0xf4 */
	struct emu_cpu *c = emu_run(BOOT_MODE_LONG64, code, sizeof(code));
	struct cpu_featureset offered;
	emu_offered_features(&offered);
	for (unsigned i = 0; i < I_COUNT; i++) {
		unsigned f = emu_insns[i].feature;
		if (f == CPUF_NONE || !cpu_has(&offered, f))
			continue; /* not offered on this host (its FP unit lacks it) */
		const struct cpu_feature_info *fi = &cpu_features[f];
		c->r[R_AX] = fi->leaf;
		c->r[R_CX] = fi->sub;
		emu_cpuid(c);
		static const int regs[4] = {R_AX, R_BX, R_CX, R_DX};
		/* SVM is offered only on request (+svm: the kit guest svm
		 * checks CPUID with it): the default model must not report it. */
		bool want = f != CPUF_SVM;
		if (!want && ((c->r[regs[fi->reg]] >> fi->bit) & 1))
			fail_msg("%s: CPUID.%#x reports %s without +svm", emu_insn_names[i],
				 fi->leaf, fi->name);
		if (want && !((c->r[regs[fi->reg]] >> fi->bit) & 1))
			fail_msg("%s: CPUID.%#x does not report its feature %s", emu_insn_names[i],
				 fi->leaf, fi->name);
	}
	emu_finish();
}

/* Forms keep the block ending of the instruction they specialise; twins
 * are flagless forms of register-only handlers. */
static void test_forms_and_ops(void **state)
{
	for (unsigned i = 0; i < EMU_NFORMS; i++) {
		const struct insn_form *f = &emu_forms[i];
		assert_int_equal(emu_insns[f->insn].attr & A_END, emu_insns[f->row].attr & A_END);
		assert_true(f->op < FOP_COUNT);
		assert_int_not_equal(emu_ops[f->op].kind, OPK_NF);
		assert_int_not_equal(emu_ops[f->op].kind, OPK_NATIVE);
	}
	for (unsigned i = 0; i < FOP_COUNT; i++) {
		const struct insn_op *o = &emu_ops[i];
		if (o->twin == i)
			continue;
		assert_true(o->attr & O_REGONLY);
		assert_true(emu_ops[o->twin].attr & O_REGONLY);
		assert_true(emu_ops[o->twin].kind == OPK_NF || o->twin == FOP_f_nop);
	}
}

/* A block of 64-bit code through the decoder: each instruction's row and
 * run-loop handler as the forms give them, dead flags dropped, and the
 * block ending at the first instruction whose row ends blocks. */
static void test_decode_forms(void **state)
{
	/*  add %rbx,%rax; add %rdx,%rcx; mov (%rdi),%eax; mov %eax,(%rsi);
	 *  adc %bl,%al; cmp $5,%ecx; shl $3,%rax; imul %rcx,%rax;
	 *  movslq %ecx,%rdx; sete %al; xor %eax,%eax; jne .; nop */
	static const uint8_t code[] = {0x48, 0x01, 0xd8, 0x48, 0x01, 0xd1, 0x8b, 0x07, 0x89,
				       0x06, 0x10, 0xd8, 0x83, 0xf9, 0x05, 0x48, 0xc1, 0xe0,
				       0x03, 0x48, 0x0f, 0xaf, 0xc1, 0x48, 0x63, 0xd1, 0x0f,
				       0x94, 0xc0, 0x31, 0xc0, 0x75, 0xfe, 0x90};
	static const char *const want[][2] = {
		{"F_ADD", "f_add_rr64"},  {"F_ADD", "f_add_rr64"}, {"F_LOAD", "f_load32"},
		{"F_STORE", "f_store32"}, {"ADC", "f_alu_reg"},	   {"F_CMP", "f_cmp_ri32"},
		{"SHL", "f_shl64_i"},	  {"IMUL", "f_imul_rr64"}, {"MOVSXD", "f_movsxd_rr"},
		{"SETZ", "f_set4"},	  {"F_XOR", "f_xor_rr32"}, {"F_JCC", "f_jcc5"},
	};
	static const void *labels[FOP_COUNT];
	static struct emu_vm vm;
	static struct emu_cpu c;
	static uint8_t page[4096] __attribute__((aligned(4096)));
	memcpy(page, code, sizeof(code));
	assert_int_equal(emu_decode_init(&vm), 0);
	emu_offered_features(&vm.features); /* the decoder checks the CPU model */
	emu_op_labels = labels;
	c.vm = &vm;
	c.cmode = 8;
	c.fetch_host = page;
	c.fetch_vpn = 1;
	struct dblock *b =
		mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(b != MAP_FAILED);
	emu_decode_block(&c, b);
	assert_int_equal(b->n, 12); /* the JNE ends it before the NOP */
	for (unsigned i = 0; i < b->n; i++) {
		assert_string_equal(emu_insn_names[b->insn[i].row], want[i][0]);
		/* the first ADD's flags die at the second ADD: its twin */
		const char *op = emu_op_names[b->insn[i].fop];
		if (i == 0)
			assert_string_equal(op, "f_add_rr64_nf");
		else
			assert_string_equal(op, want[i][1]);
	}
	munmap(b, 1 << 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_vs_zydis),	    cmocka_unit_test(test_row_names),
		cmocka_unit_test(test_features_advertised), cmocka_unit_test(test_forms_and_ops),
		cmocka_unit_test(test_decode_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
