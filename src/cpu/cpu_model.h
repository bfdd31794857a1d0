/* SPDX-License-Identifier: MIT */
/*
 * The guest-visible CPU model: one description that both CPU backends use.
 *
 * - The feature table (cpu_features[]): every CPUID instruction-set
 *   feature vmon knows by name, where CPUID reports it, the x86-64
 *   microarchitecture level it belongs to (the psABI's x86-64, -v2, -v3,
 *   -v4) and which features it needs. Two platform features are in it so
 *   a user can turn them off (x2apic, tsc_deadline_timer): a named model
 *   brings them where the backend offers them. The system features a
 *   host may lack (pcid, invpcid, smep, smap, umip) are in it like
 *   instruction-set features outside the levels (max has them where
 *   offered, a level only with +F), so that a level is a CPU both
 *   backends give and a guest can move between them. The other platform
 *   bits (APIC, PAE, NX...) are on every host vmon runs on: each backend
 *   reports those.
 * - A request (struct cpu_model), from --cpu-features: a named model
 *   (x86-64, x86-64-v2, x86-64-v3, x86-64-v4, max) and +FEATURE/-FEATURE
 *   changes on top of it. Adding a feature adds what it needs; removing
 *   one removes what needs it.
 * - Resolving a request against what a backend can offer
 *   (cpu_model_resolve): the software CPU offers what its instruction
 *   table implements, KVM what KVM_GET_SUPPORTED_CPUID reports. A feature
 *   the user named (by model or by +) that the backend cannot offer is an
 *   error, so a pinned model means the same guest-visible CPU on every
 *   host that accepts it (snapshots and migration rely on that).
 * - Masking a CPUID result with a resolved set (cpu_model_mask_cpuid).
 *
 * The software CPU's instruction table (src/cpu/emu/insns.def) names
 * these features in its feature column. Pure data and functions: any
 * thread.
 */
#ifndef VMON_CPU_CPU_MODEL_H
#define VMON_CPU_CPU_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

enum cpu_feature {
	CPUF_NONE, /* no feature: part of every x86-64 CPU */
	/* x86-64 baseline (cannot be removed) */
	CPUF_FPU,
	CPUF_TSC,
	CPUF_MSR,
	CPUF_CX8,
	CPUF_CMOV,
	CPUF_CLFSH,
	CPUF_MMX,
	CPUF_FXSR,
	CPUF_SSE,
	CPUF_SSE2,
	CPUF_SYSCALL,
	CPUF_LM,
	/* x86-64-v2 */
	CPUF_CX16,
	CPUF_LAHF_LM, /* LAHF/SAHF in 64-bit mode */
	CPUF_POPCNT,
	CPUF_SSE3,
	CPUF_SSSE3,
	CPUF_SSE4_1,
	CPUF_SSE4_2,
	/* x86-64-v3 */
	CPUF_AVX,
	CPUF_AVX2,
	CPUF_BMI1,
	CPUF_BMI2,
	CPUF_F16C,
	CPUF_FMA,
	CPUF_LZCNT,
	CPUF_MOVBE,
	CPUF_XSAVE,
	/* outside the levels */
	CPUF_RDTSCP,
	CPUF_AES,
	CPUF_PCLMULQDQ,
	CPUF_RDRAND,
	CPUF_RDSEED,
	CPUF_RDPID,
	CPUF_FSGSBASE,
	CPUF_CLFLUSHOPT,
	CPUF_CLWB,
	CPUF_ADX,
	CPUF_XSAVEOPT,
	CPUF_XSAVEC,
	CPUF_XGETBV1,
	CPUF_XSAVES,
	CPUF_ERMS,
	CPUF_FSRM,
	CPUF_PREFETCHW,
	CPUF_SHA,
	CPUF_VAES,
	CPUF_VPCLMULQDQ,
	CPUF_GFNI,
	CPUF_AVX_VNNI,
	CPUF_HLE,
	CPUF_RTM,
	CPUF_MPX,
	CPUF_SSE4A,
	CPUF_XOP,
	CPUF_FMA4,
	CPUF_TBM,
	CPUF_MOVDIRI,
	CPUF_MOVDIR64B,
	CPUF_CLDEMOTE,
	CPUF_SERIALIZE,
	CPUF_WAITPKG,
	CPUF_TSXLDTRK,
	CPUF_XFD,
	CPUF_PKU, /* RDPKRU/WRPKRU, protection keys; PKRU is XSAVE component 9 */
	/* x86-64-v4 and the rest of AVX-512 */
	CPUF_AVX512F,
	CPUF_AVX512DQ,
	CPUF_AVX512CD,
	CPUF_AVX512BW,
	CPUF_AVX512VL,
	CPUF_AVX512IFMA,
	CPUF_AVX512PF,
	CPUF_AVX512ER,
	CPUF_AVX512VBMI,
	CPUF_AVX512VBMI2,
	CPUF_AVX512VNNI,
	CPUF_AVX512BITALG,
	CPUF_AVX512VPOPCNTDQ,
	CPUF_AVX512VP2INTERSECT,
	CPUF_AVX512FP16,
	CPUF_AVX512BF16,
	CPUF_AMX_BF16,
	CPUF_AMX_TILE,
	CPUF_AMX_INT8,
	CPUF_SVM, /* AMD SVM: the software CPU offers it only on request (+svm) */
	/* Not a CPUID bit (struct cpu_feature_info.vendor): CPUID's vendor is
	 * AuthenticAMD, with AMD's leaves and MSRs. The software CPU offers
	 * it only on request (+amd); KVM reports the host's vendor. */
	CPUF_AMD,
	/* Platform features (struct cpu_feature_info.platform): the local
	 * APIC's, not instructions; named models bring them where offered. */
	CPUF_X2APIC,
	CPUF_TSC_DEADLINE,
	/* System features (paging, CR4 modes), outside the levels. */
	CPUF_PCID,    /* CR4.PCIDE, process-context identifiers in CR3 */
	CPUF_INVPCID, /* the INVPCID instruction */
	CPUF_SMEP,    /* CR4.SMEP */
	CPUF_SMAP,    /* CR4.SMAP, STAC/CLAC */
	CPUF_UMIP,    /* CR4.UMIP */
	CPUF_LA57,    /* CR4.LA57, 5-level paging (KVM on hosts with it) */
	CPUF_COUNT
};
_Static_assert(CPUF_COUNT <= 128, "a feature set is two 64-bit words");

/* A set of features (bit f for enum cpu_feature f). */
struct cpu_featureset {
	uint64_t w[2];
};

static inline bool cpu_has(const struct cpu_featureset *s, unsigned f)
{
	return f < CPUF_COUNT && ((s->w[f / 64] >> (f % 64)) & 1);
}

static inline void cpu_set(struct cpu_featureset *s, unsigned f)
{
	if (f < CPUF_COUNT)
		s->w[f / 64] |= 1ULL << (f % 64);
}

static inline void cpu_clear(struct cpu_featureset *s, unsigned f)
{
	if (f < CPUF_COUNT)
		s->w[f / 64] &= ~(1ULL << (f % 64));
}

/* CPUID registers in struct cpu_feature_info.reg */
enum { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

struct cpu_feature_info {
	const char *name;   /* as in /proc/cpuinfo where it has one ("sse4_1") */
	const char *alias;  /* another accepted spelling, or NULL ("sse4.1") */
	uint32_t leaf, sub; /* CPUID.(leaf, sub).reg[bit] */
	uint8_t reg, bit;
	uint8_t level;	  /* 1..4: x86-64-v<level>; 0: in no level */
	uint8_t needs[3]; /* features it needs (CPUF_NONE: none) */
	uint64_t xcr0;	  /* XSAVE state components it brings (XCR0 bits) */
	bool platform;	  /* in no level; a named model has it where offered */
	bool vendor;	  /* the CPU vendor, no CPUID bit (reg is 0xff) */
	bool on_request;  /* a pinned model has it only when it names it (svm, amd) */
};
extern const struct cpu_feature_info cpu_features[CPUF_COUNT];

/* A --cpu-features request. The zero value is "max, unpinned": every
 * feature the backend offers, and KVM's CPUID unchanged. */
struct cpu_model {
	bool pinned;		      /* given by the user: resolve strictly */
	bool base_max;		      /* the named model is max */
	bool platform;		      /* a named model: offered platform features too */
	struct cpu_featureset base;   /* the named model's features */
	struct cpu_featureset add;    /* +FEATURE (and what they need) */
	struct cpu_featureset remove; /* -FEATURE (and what needs them) */
	/* Features the guest gets where the backend offers them, without
	 * being named (an older snapshot's, from before they were in the
	 * table: vm_snapshot.c). */
	struct cpu_featureset if_offered;
};

/* Parses --cpu-features: MODEL[,(+|-)FEATURE]... or (+|-)FEATURE[,...]
 * (based on max); a bare FEATURE means +FEATURE. Names and models are
 * case-insensitive. */
int cpu_model_parse(const char *spec, struct cpu_model *out, struct vmon_error *err);

/* The features the request gets from a backend that offers `offered`
 * (a feature whose needs are not all offered counts as not offered).
 * NULL or unpinned request: all of offered. A pinned one has an
 * on_request feature (svm, amd) only if it names it.
 * Error (naming the first one) if the request names a feature, by its
 * model or by +, that is not offered. backend: for the message. */
int cpu_model_resolve(const struct cpu_model *req, const struct cpu_featureset *offered,
		      const char *backend, struct cpu_featureset *out, struct vmon_error *err);

/* The set of every feature at or below x86-64 level `level` (1..4). */
struct cpu_featureset cpu_level_features(int level);

/* Every feature whose bit CPUID.(leaf, sub) reports set in regs (the
 * bits the table knows), added to *s. */
void cpu_features_from_cpuid(uint32_t leaf, uint32_t sub, const uint32_t regs[4],
			     struct cpu_featureset *s);

/* Clears, in a CPUID.(leaf, sub) result, every bit of a table feature that
 * is not in s. Bits the table does not know (platform bits) stay. */
void cpu_model_mask_cpuid(const struct cpu_featureset *s, uint32_t leaf, uint32_t sub,
			  uint32_t regs[4]);

/* XSAVE state components (XCR0 bits) the features of s bring: x87 and
 * SSE with XSAVE, AVX with AVX, ... (0 without XSAVE). */
uint64_t cpu_model_xcr0(const struct cpu_featureset *s);

/* Writes the names of s's features (outside the baseline), space
 * separated, into buf. */
void cpu_model_format(const struct cpu_featureset *s, char *buf, unsigned len);

#endif
