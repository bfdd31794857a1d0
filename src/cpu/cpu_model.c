/* SPDX-License-Identifier: MIT */
/*
 * The CPU model's feature table, named models, --cpu-features parsing and
 * resolution. See cpu_model.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cpu/cpu_model.h"

#define X_EAX CPUID_EAX
#define X_EBX CPUID_EBX
#define X_ECX CPUID_ECX
#define X_EDX CPUID_EDX

/* F(id, name, alias, leaf, sub, reg, bit, level, needs...) */
#define F(id, nm, al, lf, sb, rg, bt, lv, ...)                                                     \
	[CPUF_##id] = {.name = nm,                                                                 \
		       .alias = al,                                                                \
		       .leaf = lf,                                                                 \
		       .sub = sb,                                                                  \
		       .reg = X_##rg,                                                              \
		       .bit = bt,                                                                  \
		       .level = lv,                                                                \
		       .needs = {__VA_ARGS__}}

const struct cpu_feature_info cpu_features[CPUF_COUNT] = {
	[CPUF_NONE] = {.name = "none", .leaf = 0, .reg = 0xff},
	F(FPU, "fpu", NULL, 1, 0, EDX, 0, 1),
	F(TSC, "tsc", NULL, 1, 0, EDX, 4, 1),
	F(MSR, "msr", NULL, 1, 0, EDX, 5, 1),
	F(CX8, "cx8", NULL, 1, 0, EDX, 8, 1),
	F(CMOV, "cmov", NULL, 1, 0, EDX, 15, 1),
	F(CLFSH, "clflush", NULL, 1, 0, EDX, 19, 1),
	F(MMX, "mmx", NULL, 1, 0, EDX, 23, 1),
	F(FXSR, "fxsr", NULL, 1, 0, EDX, 24, 1),
	F(SSE, "sse", NULL, 1, 0, EDX, 25, 1),
	F(SSE2, "sse2", NULL, 1, 0, EDX, 26, 1),
	F(SYSCALL, "syscall", NULL, 0x80000001, 0, EDX, 11, 1),
	F(LM, "lm", NULL, 0x80000001, 0, EDX, 29, 1),

	F(CX16, "cx16", NULL, 1, 0, ECX, 13, 2),
	F(LAHF_LM, "lahf_lm", NULL, 0x80000001, 0, ECX, 0, 2),
	F(POPCNT, "popcnt", NULL, 1, 0, ECX, 23, 2),
	F(SSE3, "pni", "sse3", 1, 0, ECX, 0, 2),
	F(SSSE3, "ssse3", NULL, 1, 0, ECX, 9, 2, CPUF_SSE3),
	F(SSE4_1, "sse4_1", "sse4.1", 1, 0, ECX, 19, 2, CPUF_SSSE3),
	F(SSE4_2, "sse4_2", "sse4.2", 1, 0, ECX, 20, 2, CPUF_SSE4_1),

	F(AVX, "avx", NULL, 1, 0, ECX, 28, 3, CPUF_XSAVE, CPUF_SSE4_2),
	F(AVX2, "avx2", NULL, 7, 0, EBX, 5, 3, CPUF_AVX),
	F(BMI1, "bmi1", NULL, 7, 0, EBX, 3, 3),
	F(BMI2, "bmi2", NULL, 7, 0, EBX, 8, 3),
	F(F16C, "f16c", NULL, 1, 0, ECX, 29, 3, CPUF_AVX),
	F(FMA, "fma", NULL, 1, 0, ECX, 12, 3, CPUF_AVX),
	F(LZCNT, "abm", "lzcnt", 0x80000001, 0, ECX, 5, 3),
	F(MOVBE, "movbe", NULL, 1, 0, ECX, 22, 3),
	F(XSAVE, "xsave", NULL, 1, 0, ECX, 26, 3),

	F(RDTSCP, "rdtscp", NULL, 0x80000001, 0, EDX, 27, 0),
	F(AES, "aes", NULL, 1, 0, ECX, 25, 0),
	F(PCLMULQDQ, "pclmulqdq", "pclmul", 1, 0, ECX, 1, 0),
	F(RDRAND, "rdrand", NULL, 1, 0, ECX, 30, 0),
	F(RDSEED, "rdseed", NULL, 7, 0, EBX, 18, 0),
	F(RDPID, "rdpid", NULL, 7, 0, ECX, 22, 0),
	F(FSGSBASE, "fsgsbase", NULL, 7, 0, EBX, 0, 0),
	F(CLFLUSHOPT, "clflushopt", NULL, 7, 0, EBX, 23, 0),
	F(CLWB, "clwb", NULL, 7, 0, EBX, 24, 0),
	F(ADX, "adx", NULL, 7, 0, EBX, 19, 0),
	F(XSAVEOPT, "xsaveopt", NULL, 0xd, 1, EAX, 0, 0, CPUF_XSAVE),
	F(XSAVEC, "xsavec", NULL, 0xd, 1, EAX, 1, 0, CPUF_XSAVE),
	F(XGETBV1, "xgetbv1", NULL, 0xd, 1, EAX, 2, 0, CPUF_XSAVE),
	F(XSAVES, "xsaves", NULL, 0xd, 1, EAX, 3, 0, CPUF_XSAVE),
	F(ERMS, "erms", NULL, 7, 0, EBX, 9, 0),
	F(FSRM, "fsrm", NULL, 7, 0, EDX, 4, 0),
	F(PREFETCHW, "3dnowprefetch", "prefetchw", 0x80000001, 0, ECX, 8, 0),
	F(SHA, "sha_ni", "sha", 7, 0, EBX, 29, 0),
	F(VAES, "vaes", NULL, 7, 0, ECX, 9, 0, CPUF_AVX, CPUF_AES),
	F(VPCLMULQDQ, "vpclmulqdq", NULL, 7, 0, ECX, 10, 0, CPUF_AVX, CPUF_PCLMULQDQ),
	F(GFNI, "gfni", NULL, 7, 0, ECX, 8, 0),
	F(AVX_VNNI, "avx_vnni", NULL, 7, 1, EAX, 4, 0, CPUF_AVX2),
	F(HLE, "hle", NULL, 7, 0, EBX, 4, 0),
	F(RTM, "rtm", NULL, 7, 0, EBX, 11, 0),
	F(MPX, "mpx", NULL, 7, 0, EBX, 14, 0, CPUF_XSAVE),
	F(SSE4A, "sse4a", NULL, 0x80000001, 0, ECX, 6, 0),
	F(XOP, "xop", NULL, 0x80000001, 0, ECX, 11, 0, CPUF_AVX),
	F(FMA4, "fma4", NULL, 0x80000001, 0, ECX, 16, 0, CPUF_AVX),
	F(TBM, "tbm", NULL, 0x80000001, 0, ECX, 21, 0),
	F(MOVDIRI, "movdiri", NULL, 7, 0, ECX, 27, 0),
	F(MOVDIR64B, "movdir64b", NULL, 7, 0, ECX, 28, 0),
	F(CLDEMOTE, "cldemote", NULL, 7, 0, ECX, 25, 0),
	F(SERIALIZE, "serialize", NULL, 7, 0, EDX, 14, 0),
	F(WAITPKG, "waitpkg", NULL, 7, 0, ECX, 5, 0),
	F(TSXLDTRK, "tsxldtrk", NULL, 7, 0, EDX, 16, 0),
	F(XFD, "xfd", NULL, 0xd, 1, EAX, 4, 0, CPUF_XSAVE),
	F(PKU, "pku", NULL, 7, 0, ECX, 3, 0, CPUF_XSAVE),

	F(AVX512F, "avx512f", NULL, 7, 0, EBX, 16, 4, CPUF_AVX2, CPUF_FMA, CPUF_F16C),
	F(AVX512DQ, "avx512dq", NULL, 7, 0, EBX, 17, 4, CPUF_AVX512F),
	F(AVX512CD, "avx512cd", NULL, 7, 0, EBX, 28, 4, CPUF_AVX512F),
	F(AVX512BW, "avx512bw", NULL, 7, 0, EBX, 30, 4, CPUF_AVX512F),
	F(AVX512VL, "avx512vl", NULL, 7, 0, EBX, 31, 4, CPUF_AVX512F),
	F(AVX512IFMA, "avx512ifma", NULL, 7, 0, EBX, 21, 0, CPUF_AVX512F),
	F(AVX512PF, "avx512pf", NULL, 7, 0, EBX, 26, 0, CPUF_AVX512F),
	F(AVX512ER, "avx512er", NULL, 7, 0, EBX, 27, 0, CPUF_AVX512F),
	F(AVX512VBMI, "avx512vbmi", NULL, 7, 0, ECX, 1, 0, CPUF_AVX512F),
	F(AVX512VBMI2, "avx512_vbmi2", NULL, 7, 0, ECX, 6, 0, CPUF_AVX512F),
	F(AVX512VNNI, "avx512_vnni", NULL, 7, 0, ECX, 11, 0, CPUF_AVX512F),
	F(AVX512BITALG, "avx512_bitalg", NULL, 7, 0, ECX, 12, 0, CPUF_AVX512F),
	F(AVX512VPOPCNTDQ, "avx512_vpopcntdq", NULL, 7, 0, ECX, 14, 0, CPUF_AVX512F),
	F(AVX512VP2INTERSECT, "avx512_vp2intersect", NULL, 7, 0, EDX, 8, 0, CPUF_AVX512F),
	F(AVX512FP16, "avx512_fp16", NULL, 7, 0, EDX, 23, 0, CPUF_AVX512BW),
	F(AVX512BF16, "avx512_bf16", NULL, 7, 1, EAX, 5, 0, CPUF_AVX512BW),
	F(AMX_BF16, "amx_bf16", NULL, 7, 0, EDX, 22, 0, CPUF_AMX_TILE),
	F(AMX_TILE, "amx_tile", NULL, 7, 0, EDX, 24, 0, CPUF_XSAVE),
	F(AMX_INT8, "amx_int8", NULL, 7, 0, EDX, 25, 0, CPUF_AMX_TILE),
	[CPUF_SVM] =
		{.name = "svm", .leaf = 0x80000001, .reg = X_ECX, .bit = 2, .on_request = true},
	[CPUF_AMD] = {.name = "amd",
		      .alias = "authenticamd",
		      .reg = 0xff,
		      .vendor = true,
		      .on_request = true},

	[CPUF_X2APIC] = {.name = "x2apic", .leaf = 1, .reg = X_ECX, .bit = 21, .platform = true},
	[CPUF_TSC_DEADLINE] = {.name = "tsc_deadline_timer",
			       .alias = "tsc-deadline",
			       .leaf = 1,
			       .reg = X_ECX,
			       .bit = 24,
			       .platform = true},
	[CPUF_PCID] = {.name = "pcid", .leaf = 1, .reg = X_ECX, .bit = 17},
	[CPUF_INVPCID] = {.name = "invpcid", .leaf = 7, .reg = X_EBX, .bit = 10},
	[CPUF_SMEP] = {.name = "smep", .leaf = 7, .reg = X_EBX, .bit = 7},
	[CPUF_SMAP] = {.name = "smap", .leaf = 7, .reg = X_EBX, .bit = 20},
	[CPUF_UMIP] = {.name = "umip", .leaf = 7, .reg = X_ECX, .bit = 2},
	[CPUF_LA57] = {.name = "la57", .leaf = 7, .reg = X_ECX, .bit = 16},
};
#undef F

/* XSAVE state components (XCR0 bits) and the feature that brings each. */
static const struct {
	uint8_t feature;
	uint64_t xcr0;
} xcr0_of[] = {
	{CPUF_XSAVE, 0x3},	  /* x87, SSE */
	{CPUF_AVX, 0x4},	  /* YMM upper halves */
	{CPUF_MPX, 0x18},	  /* BNDREGS, BNDCSR */
	{CPUF_AVX512F, 0xe0},	  /* opmask, ZMM_Hi256, Hi16_ZMM */
	{CPUF_AMX_TILE, 0x60000}, /* XTILECFG, XTILEDATA */
	{CPUF_PKU, 0x200},	  /* PKRU */
};

uint64_t cpu_model_xcr0(const struct cpu_featureset *s)
{
	uint64_t x = 0;
	if (!cpu_has(s, CPUF_XSAVE))
		return 0;
	for (size_t i = 0; i < sizeof(xcr0_of) / sizeof(xcr0_of[0]); i++)
		if (cpu_has(s, xcr0_of[i].feature))
			x |= xcr0_of[i].xcr0;
	return x;
}

static void set_or(struct cpu_featureset *a, const struct cpu_featureset *b)
{
	a->w[0] |= b->w[0];
	a->w[1] |= b->w[1];
}

static void set_andnot(struct cpu_featureset *a, const struct cpu_featureset *b)
{
	a->w[0] &= ~b->w[0];
	a->w[1] &= ~b->w[1];
}

/* f and everything it needs, transitively. */
static struct cpu_featureset with_needs(unsigned f)
{
	struct cpu_featureset s = {{0}};
	cpu_set(&s, f);
	for (bool grew = true; grew;) {
		grew = false;
		for (unsigned g = 1; g < CPUF_COUNT; g++) {
			if (!cpu_has(&s, g))
				continue;
			for (int k = 0; k < 3; k++) {
				unsigned n = cpu_features[g].needs[k];
				if (n && !cpu_has(&s, n)) {
					cpu_set(&s, n);
					grew = true;
				}
			}
		}
	}
	return s;
}

/* f and everything that needs it, transitively. */
static struct cpu_featureset with_dependents(unsigned f)
{
	struct cpu_featureset s = {{0}};
	cpu_set(&s, f);
	for (bool grew = true; grew;) {
		grew = false;
		for (unsigned g = 1; g < CPUF_COUNT; g++) {
			if (cpu_has(&s, g))
				continue;
			for (int k = 0; k < 3; k++) {
				unsigned n = cpu_features[g].needs[k];
				if (n && cpu_has(&s, n)) {
					cpu_set(&s, g);
					grew = true;
					break;
				}
			}
		}
	}
	return s;
}

struct cpu_featureset cpu_level_features(int level)
{
	struct cpu_featureset s = {{0}};
	for (unsigned f = 1; f < CPUF_COUNT; f++)
		if (cpu_features[f].level && cpu_features[f].level <= level)
			cpu_set(&s, f);
	return s;
}

static int find_feature(const char *name, size_t len)
{
	for (unsigned f = 1; f < CPUF_COUNT; f++) {
		const struct cpu_feature_info *i = &cpu_features[f];
		if ((strlen(i->name) == len && strncasecmp(i->name, name, len) == 0) ||
		    (i->alias && strlen(i->alias) == len && strncasecmp(i->alias, name, len) == 0))
			return (int)f;
	}
	return -1;
}

static const struct {
	const char *name;
	int level; /* 0: max */
} models[] = {
	{"x86-64", 1},	  {"x86-64-v1", 1}, {"x86-64-v2", 2}, {"x86-64-v3", 3},
	{"x86-64-v4", 4}, {"max", 0},	    {"host", 0},
};

int cpu_model_parse(const char *spec, struct cpu_model *out, struct vmon_error *err)
{
	memset(out, 0, sizeof(*out));
	out->pinned = true;
	out->base_max = true;
	out->platform = true;
	if (!spec || !*spec)
		return err_setf(err, "--cpu-features: empty (give a model such as x86-64-v3, or "
				     "+FEATURE/-FEATURE changes)");
	const char *p = spec;
	bool first = true;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0)
			return err_setf(err, "--cpu-features: empty element in '%s'", spec);
		char sign = 0;
		if (*p == '+' || *p == '-') {
			sign = *p;
			p++;
			len--;
		}
		bool is_model = false;
		if (first && !sign) {
			for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
				if (strlen(models[m].name) == len &&
				    strncasecmp(models[m].name, p, len) == 0) {
					is_model = true;
					out->base_max = models[m].level == 0;
					if (!out->base_max)
						out->base = cpu_level_features(models[m].level);
				}
			}
		}
		if (!is_model) {
			int f = find_feature(p, len);
			if (f < 0)
				return err_setf(
					err,
					"--cpu-features: unknown %s '%.*s' (models: x86-64, "
					"x86-64-v2, x86-64-v3, x86-64-v4, max; features by "
					"their /proc/cpuinfo names, e.g. avx2, sse4_2, aes)",
					first && !sign ? "model or feature" : "feature", (int)len,
					p);
			if (sign == '-') {
				if (cpu_features[f].level == 1)
					return err_setf(err,
							"--cpu-features: %s is part of the x86-64 "
							"baseline and cannot be removed",
							cpu_features[f].name);
				struct cpu_featureset d = with_dependents((unsigned)f);
				set_or(&out->remove, &d);
				set_andnot(&out->add, &d);
			} else {
				struct cpu_featureset n = with_needs((unsigned)f);
				set_or(&out->add, &n);
				set_andnot(&out->remove, &n);
			}
		}
		first = false;
		p += len;
		if (*p == ',') {
			p++;
			if (!*p)
				return err_setf(err, "--cpu-features: empty element in '%s'", spec);
		}
	}
	return 0;
}

int cpu_model_resolve(const struct cpu_model *req, const struct cpu_featureset *offered,
		      const char *backend, struct cpu_featureset *out, struct vmon_error *err)
{
	/* A feature whose needs are not all offered is not offered either. */
	struct cpu_featureset off = *offered;
	for (unsigned f = 1; f < CPUF_COUNT; f++) {
		struct cpu_featureset n = with_needs(f);
		set_andnot(&n, offered);
		if (n.w[0] | n.w[1])
			cpu_clear(&off, f);
	}
	offered = &off;
	if (!req || !req->pinned) {
		*out = *offered;
		return 0;
	}
	struct cpu_featureset named = req->add;
	if (!req->base_max)
		set_or(&named, &req->base);
	set_andnot(&named, &req->remove);
	for (unsigned f = 1; f < CPUF_COUNT; f++)
		if (cpu_has(&named, f) && !cpu_has(offered, f) && cpu_features[f].vendor)
			return err_setf(err,
					"--cpu-features: the %s backend cannot set the CPU vendor "
					"(%s): its guests see the host's",
					backend, cpu_features[f].name);
	for (unsigned f = 1; f < CPUF_COUNT; f++)
		if (cpu_has(&named, f) && !cpu_has(offered, f))
			return err_setf(
				err, "--cpu-features: the %s backend cannot offer %s on this host",
				backend, cpu_features[f].name);
	struct cpu_featureset s = req->base_max ? *offered : named;
	set_or(&s, &named);
	/* max is not SVM or another vendor: those only when named (KVM
	 * gives SVM with --nested too: kvm_cpuid.c). */
	for (unsigned f = 1; f < CPUF_COUNT; f++)
		if (cpu_features[f].on_request && !cpu_has(&named, f))
			cpu_clear(&s, f);
	/* A named model (not an exact set, as a snapshot's) has the platform
	 * features the backend offers. */
	if (req->platform)
		for (unsigned f = 1; f < CPUF_COUNT; f++)
			if (cpu_features[f].platform && cpu_has(offered, f))
				cpu_set(&s, f);
	for (unsigned f = 1; f < CPUF_COUNT; f++)
		if (cpu_has(&req->if_offered, f) && cpu_has(offered, f))
			cpu_set(&s, f);
	set_andnot(&s, &req->remove);
	/* The baseline is always there (a backend offers it). */
	struct cpu_featureset base = cpu_level_features(1);
	for (unsigned f = 1; f < CPUF_COUNT; f++)
		if (cpu_has(&base, f) && cpu_has(offered, f))
			cpu_set(&s, f);
	*out = s;
	return 0;
}

void cpu_features_from_cpuid(uint32_t leaf, uint32_t sub, const uint32_t regs[4],
			     struct cpu_featureset *s)
{
	for (unsigned f = 1; f < CPUF_COUNT; f++) {
		const struct cpu_feature_info *i = &cpu_features[f];
		if (i->vendor)
			continue;
		if (i->leaf == leaf && i->sub == sub && ((regs[i->reg] >> i->bit) & 1))
			cpu_set(s, f);
	}
}

void cpu_model_mask_cpuid(const struct cpu_featureset *s, uint32_t leaf, uint32_t sub,
			  uint32_t regs[4])
{
	for (unsigned f = 1; f < CPUF_COUNT; f++) {
		const struct cpu_feature_info *i = &cpu_features[f];
		if (i->vendor)
			continue;
		if (i->leaf == leaf && i->sub == sub && !cpu_has(s, f))
			regs[i->reg] &= ~(1u << i->bit);
	}
}

void cpu_model_format(const struct cpu_featureset *s, char *buf, unsigned len)
{
	unsigned n = 0;
	if (len)
		buf[0] = 0;
	for (unsigned f = 1; f < CPUF_COUNT && n < len; f++) {
		if (!cpu_has(s, f) || cpu_features[f].level == 1)
			continue;
		int w = snprintf(buf + n, len - n, "%s%s", n ? " " : "", cpu_features[f].name);
		if (w < 0)
			break;
		n += (unsigned)w;
	}
}
