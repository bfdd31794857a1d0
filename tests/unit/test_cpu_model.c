/* SPDX-License-Identifier: MIT */
/*
 * The CPU model (src/cpu/cpu_model.c): --cpu-features parsing (models,
 * +/- changes and what they pull in or take out, errors), resolving a
 * request against what a backend offers, and masking CPUID with the
 * result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu_model.h"

static struct cpu_featureset all_features(void)
{
	struct cpu_featureset s = {{0}};
	for (unsigned f = 1; f < CPUF_COUNT; f++)
		cpu_set(&s, f);
	return s;
}

/* Resolves spec against everything: the features it asks for. */
static struct cpu_featureset resolve(const char *spec)
{
	struct cpu_model m;
	struct vmon_error err = {{0}};
	struct cpu_featureset all = all_features(), out;
	assert_int_equal(cpu_model_parse(spec, &m, &err), 0);
	assert_int_equal(cpu_model_resolve(&m, &all, "test", &out, &err), 0);
	return out;
}

static void test_levels(void **state)
{
	struct cpu_featureset v1 = resolve("x86-64"), v2 = resolve("x86-64-v2"),
			      v3 = resolve("X86-64-V3"), v4 = resolve("x86-64-v4");
	assert_true(cpu_has(&v1, CPUF_SSE2));
	assert_false(cpu_has(&v1, CPUF_SSE3));
	assert_false(cpu_has(&v1, CPUF_CX16));
	static const unsigned v2f[] = {CPUF_CX16,  CPUF_LAHF_LM, CPUF_POPCNT, CPUF_SSE3,
				       CPUF_SSSE3, CPUF_SSE4_1,	 CPUF_SSE4_2};
	static const unsigned v3f[] = {CPUF_AVX, CPUF_AVX2,  CPUF_BMI1,	 CPUF_BMI2, CPUF_F16C,
				       CPUF_FMA, CPUF_LZCNT, CPUF_MOVBE, CPUF_XSAVE};
	for (size_t i = 0; i < sizeof(v2f) / sizeof(v2f[0]); i++) {
		assert_true(cpu_has(&v2, v2f[i]));
		assert_true(cpu_has(&v3, v2f[i]));
	}
	for (size_t i = 0; i < sizeof(v3f) / sizeof(v3f[0]); i++) {
		assert_false(cpu_has(&v2, v3f[i]));
		assert_true(cpu_has(&v3, v3f[i]));
	}
	/* outside every level: not in a named level */
	assert_false(cpu_has(&v3, CPUF_AES));
	assert_false(cpu_has(&v3, CPUF_PCLMULQDQ));
	assert_false(cpu_has(&v3, CPUF_AVX512F));
	assert_true(cpu_has(&v4, CPUF_AVX512F));
	assert_true(cpu_has(&v4, CPUF_AVX512VL));
	/* max: everything offered */
	struct cpu_featureset mx = resolve("max");
	assert_true(cpu_has(&mx, CPUF_AES));
	assert_true(cpu_has(&mx, CPUF_AMX_TILE));
}

static void test_changes(void **state)
{
	/* removing AVX takes what needs it; the rest of max stays */
	struct cpu_featureset s = resolve("-avx");
	assert_false(cpu_has(&s, CPUF_AVX));
	assert_false(cpu_has(&s, CPUF_AVX2));
	assert_false(cpu_has(&s, CPUF_FMA));
	assert_false(cpu_has(&s, CPUF_F16C));
	assert_false(cpu_has(&s, CPUF_VAES));
	assert_false(cpu_has(&s, CPUF_AVX512F));
	assert_true(cpu_has(&s, CPUF_XSAVE));
	assert_true(cpu_has(&s, CPUF_AES));
	assert_true(cpu_has(&s, CPUF_BMI2));
	/* adding AVX2 to v2 brings AVX and XSAVE, not FMA */
	s = resolve("x86-64-v2,+avx2");
	assert_true(cpu_has(&s, CPUF_AVX2));
	assert_true(cpu_has(&s, CPUF_AVX));
	assert_true(cpu_has(&s, CPUF_XSAVE));
	assert_false(cpu_has(&s, CPUF_FMA));
	/* a bare name adds; aliases; later changes win */
	s = resolve("x86-64,sse4.1,lzcnt,pclmul");
	assert_true(cpu_has(&s, CPUF_SSE4_1));
	assert_true(cpu_has(&s, CPUF_SSSE3));
	assert_true(cpu_has(&s, CPUF_LZCNT));
	assert_true(cpu_has(&s, CPUF_PCLMULQDQ));
	assert_false(cpu_has(&s, CPUF_SSE4_2));
	s = resolve("x86-64-v3,-avx,+avx2");
	assert_true(cpu_has(&s, CPUF_AVX2) && cpu_has(&s, CPUF_AVX));
	assert_false(cpu_has(&s, CPUF_FMA));
	s = resolve("x86-64-v3,+avx2,-avx");
	assert_false(cpu_has(&s, CPUF_AVX2) || cpu_has(&s, CPUF_AVX));
	assert_true(cpu_has(&s, CPUF_XSAVE));
}

static void test_errors(void **state)
{
	static const char *bad[] = {"",	    "x86-64-v9", "+nosuch", "x86-64,,avx",
				    "avx,", "-sse2",	 "-fpu",    "+"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cpu_model m;
		struct vmon_error err = {{0}};
		assert_int_equal(cpu_model_parse(bad[i], &m, &err), -1);
		assert_true(strncmp(err.msg, "--cpu-features: ", 16) == 0);
		assert_null(strchr(err.msg, '\n'));
	}
	/* a model asking for what the backend lacks names it */
	struct cpu_model m;
	struct vmon_error err = {{0}};
	struct cpu_featureset offered = cpu_level_features(2), out;
	assert_int_equal(cpu_model_parse("x86-64-v3", &m, &err), 0);
	assert_int_equal(cpu_model_resolve(&m, &offered, "emu", &out, &err), -1);
	assert_non_null(strstr(err.msg, "emu backend cannot offer"));
	/* the vendor (amd) on a backend that cannot set it: its own message,
	 * and the name is accepted in either spelling */
	assert_int_equal(cpu_model_parse("+AuthenticAMD", &m, &err), 0);
	assert_true(cpu_has(&m.add, CPUF_AMD));
	assert_int_equal(cpu_model_parse("x86-64-v2,+amd", &m, &err), 0);
	assert_int_equal(cpu_model_resolve(&m, &offered, "kvm", &out, &err), -1);
	assert_non_null(strstr(err.msg, "cannot set the CPU vendor (amd)"));
	/* max takes what there is, without complaint */
	assert_int_equal(cpu_model_parse("max,-sse4_2", &m, &err), 0);
	assert_int_equal(cpu_model_resolve(&m, &offered, "emu", &out, &err), 0);
	assert_true(cpu_has(&out, CPUF_SSE4_1));
	assert_false(cpu_has(&out, CPUF_SSE4_2));
	/* so does an unpinned (NULL) request: all of it */
	assert_int_equal(cpu_model_resolve(NULL, &offered, "emu", &out, &err), 0);
	assert_memory_equal(&out, &offered, sizeof(out));
	/* something offered without what it needs is not offered */
	struct cpu_featureset odd = cpu_level_features(1);
	cpu_set(&odd, CPUF_AVX2);
	assert_int_equal(cpu_model_resolve(NULL, &odd, "kvm", &out, &err), 0);
	assert_false(cpu_has(&out, CPUF_AVX2));
}

static void test_cpuid_mask(void **state)
{
	struct cpu_featureset v2 = resolve("x86-64-v2");
	/* leaf 1 ECX: SSE3 SSSE3 FMA CX16 SSE4.1 SSE4.2 POPCNT AES XSAVE AVX
	 * F16C RDRAND, plus x2APIC (bit 21: a platform feature, which the named model brings) */
	static const int in[] = {0, 9, 12, 13, 19, 20, 23, 25, 26, 28, 29, 30, 21};
	uint32_t r[4] = {0};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		r[CPUID_ECX] |= 1u << in[i];
	cpu_model_mask_cpuid(&v2, 1, 0, r);
	assert_int_equal(r[CPUID_ECX], (1u << 0) | (1u << 9) | (1u << 13) | (1u << 19) |
					       (1u << 20) | (1u << 23) | (1u << 21));
	/* leaf 7: AVX2 BMI1 BMI2 and TSC_ADJUST (platform) */
	uint32_t r7[4] = {0, (1u << 5) | (1u << 3) | (1u << 8) | (1u << 1), 0, 0};
	cpu_model_mask_cpuid(&v2, 7, 0, r7);
	assert_int_equal(r7[CPUID_EBX], 1u << 1);
	/* features read back from CPUID */
	struct cpu_featureset got = {{0}};
	uint32_t l1[4] = {0, 0, (1u << 28) | (1u << 26), 0};
	cpu_features_from_cpuid(1, 0, l1, &got);
	assert_true(cpu_has(&got, CPUF_AVX) && cpu_has(&got, CPUF_XSAVE));
	assert_false(cpu_has(&got, CPUF_SSE3));
	/* XSAVE state components */
	struct cpu_featureset v3 = resolve("x86-64-v3"), v4 = resolve("x86-64-v4");
	assert_int_equal(cpu_model_xcr0(&v2), 0);
	assert_int_equal(cpu_model_xcr0(&v3), 0x7);
	assert_int_equal(cpu_model_xcr0(&v4), 0xe7);
	char buf[512];
	cpu_model_format(&v2, buf, sizeof(buf));
	/* A named model brings the platform features offered. */
	assert_string_equal(buf, "cx16 lahf_lm popcnt pni ssse3 sse4_1 sse4_2 x2apic "
				 "tsc_deadline_timer");
}

/* x2apic and tsc_deadline_timer: a named model has them where offered,
 * a user can remove them, an exact set (a snapshot's) gets only what it
 * lists, and a backend that does not offer them leaves them out. */
static void test_platform(void **state)
{
	(void)state;
	struct cpu_featureset v3 = resolve("x86-64-v3");
	assert_true(cpu_has(&v3, CPUF_X2APIC) && cpu_has(&v3, CPUF_TSC_DEADLINE));
	struct cpu_featureset no = resolve("x86-64-v3,-x2apic,-tsc-deadline");
	assert_false(cpu_has(&no, CPUF_X2APIC) || cpu_has(&no, CPUF_TSC_DEADLINE));
	assert_true(cpu_has(&no, CPUF_AVX2));
	struct cpu_featureset m = resolve("-tsc_deadline_timer");
	assert_true(cpu_has(&m, CPUF_X2APIC) && !cpu_has(&m, CPUF_TSC_DEADLINE));
	struct vmon_error err = {{0}};
	struct cpu_featureset all = all_features(), out;
	struct cpu_model exact = {.pinned = true, .base = cpu_level_features(2)};
	assert_int_equal(cpu_model_resolve(&exact, &all, "test", &out, &err), 0);
	assert_false(cpu_has(&out, CPUF_X2APIC) || cpu_has(&out, CPUF_TSC_DEADLINE));
	struct cpu_model named;
	assert_int_equal(cpu_model_parse("x86-64-v2", &named, &err), 0);
	struct cpu_featureset lacking = all;
	cpu_clear(&lacking, CPUF_TSC_DEADLINE);
	assert_int_equal(cpu_model_resolve(&named, &lacking, "test", &out, &err), 0);
	assert_true(cpu_has(&out, CPUF_X2APIC) && !cpu_has(&out, CPUF_TSC_DEADLINE));
	/* CPUID.1:ECX bits 21 and 24 follow the set */
	uint32_t r[4] = {0, 0, (1u << 21) | (1u << 24), 0};
	cpu_model_mask_cpuid(&out, 1, 0, r);
	assert_int_equal(r[CPUID_ECX], 1u << 21);
}

/* pcid, invpcid, smep, smap, umip: outside the levels (max has them, a
 * level only with +F, -F removes just F); CPUID's bits follow the set; an
 * older snapshot's set, which did not name them, gets them where offered
 * (if_offered). */
static void test_system_features(void **state)
{
	(void)state;
	static const unsigned sys[] = {CPUF_PCID, CPUF_INVPCID, CPUF_SMEP,
				       CPUF_SMAP, CPUF_UMIP,	CPUF_LA57};
	struct cpu_featureset v2 = resolve("x86-64-v2"), mx = resolve("max");
	for (size_t i = 0; i < 6; i++)
		assert_true(!cpu_has(&v2, sys[i]) && cpu_has(&mx, sys[i]));
	/* la57 (leaf 7 ECX[16]): a level masks it from a KVM guest's CPUID */
	uint32_t l57[4] = {0, 0, 1u << 16, 0};
	cpu_model_mask_cpuid(&v2, 7, 0, l57);
	assert_int_equal(l57[CPUID_ECX], 0);
	struct cpu_featureset some = resolve("x86-64-v2,+smep,+umip");
	assert_true(cpu_has(&some, CPUF_SMEP) && cpu_has(&some, CPUF_UMIP));
	assert_false(cpu_has(&some, CPUF_PCID) || cpu_has(&some, CPUF_SMAP));
	struct cpu_featureset no = resolve("-pcid,-smap");
	assert_false(cpu_has(&no, CPUF_PCID) || cpu_has(&no, CPUF_SMAP));
	assert_true(cpu_has(&no, CPUF_INVPCID) && cpu_has(&no, CPUF_SMEP) &&
		    cpu_has(&no, CPUF_UMIP) && cpu_has(&no, CPUF_SSE4_2));
	/* leaf 1 ECX[17], leaf 7 EBX[7, 10, 20] and ECX[2] follow the set */
	uint32_t r1[4] = {0, 0, 1u << 17, 0};
	cpu_model_mask_cpuid(&no, 1, 0, r1);
	assert_int_equal(r1[CPUID_ECX], 0);
	uint32_t r7[4] = {0, (1u << 7) | (1u << 10) | (1u << 20), 1u << 2, 0};
	cpu_model_mask_cpuid(&no, 7, 0, r7);
	assert_int_equal(r7[CPUID_EBX], (1u << 7) | (1u << 10));
	assert_int_equal(r7[CPUID_ECX], 1u << 2);
	struct cpu_featureset got = {{0}};
	uint32_t l7[4] = {0, (1u << 7) | (1u << 20), 1u << 2, 0};
	cpu_features_from_cpuid(7, 0, l7, &got);
	assert_true(cpu_has(&got, CPUF_SMEP) && cpu_has(&got, CPUF_SMAP) &&
		    cpu_has(&got, CPUF_UMIP) && !cpu_has(&got, CPUF_INVPCID));
	/* A backend without PCID: max leaves it out, +pcid fails. */
	struct vmon_error err = {{0}};
	struct cpu_featureset all = all_features(), lacking = all, out;
	cpu_clear(&lacking, CPUF_PCID);
	struct cpu_model m;
	assert_int_equal(cpu_model_parse("max", &m, &err), 0);
	assert_int_equal(cpu_model_resolve(&m, &lacking, "test", &out, &err), 0);
	assert_false(cpu_has(&out, CPUF_PCID));
	assert_int_equal(cpu_model_parse("x86-64-v2,+pcid", &m, &err), 0);
	assert_int_equal(cpu_model_resolve(&m, &lacking, "test", &out, &err), -1);
	assert_non_null(strstr(err.msg, "cannot offer pcid"));
	/* An exact set gets only what it lists; if_offered adds where offered. */
	struct cpu_model exact = {.pinned = true, .base = cpu_level_features(2)};
	assert_int_equal(cpu_model_resolve(&exact, &all, "test", &out, &err), 0);
	for (size_t i = 0; i < 5; i++)
		assert_false(cpu_has(&out, sys[i]));
	for (size_t i = 0; i < 5; i++)
		cpu_set(&exact.if_offered, sys[i]);
	assert_int_equal(cpu_model_resolve(&exact, &lacking, "test", &out, &err), 0);
	assert_false(cpu_has(&out, CPUF_PCID));
	assert_true(cpu_has(&out, CPUF_SMEP) && cpu_has(&out, CPUF_UMIP));
	/* svm and amd: a pinned model has them only when it names them */
	struct cpu_featureset sv = resolve("x86-64-v2,+svm");
	assert_false(cpu_has(&mx, CPUF_SVM) || cpu_has(&mx, CPUF_AMD));
	assert_true(cpu_has(&mx, CPUF_PCID) && cpu_has(&mx, CPUF_AVX2));
	assert_true(cpu_has(&sv, CPUF_SVM) && !cpu_has(&sv, CPUF_AMD));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),	 cmocka_unit_test(test_changes),
		cmocka_unit_test(test_errors),	 cmocka_unit_test(test_cpuid_mask),
		cmocka_unit_test(test_platform), cmocka_unit_test(test_system_features),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
