/* SPDX-License-Identifier: MIT */
/*
 * CPUID: what the software CPU reports. Instruction-set features come from
 * the CPU model (src/cpu/cpu_model.h): the software CPU offers every
 * feature a row of its instruction table (insns.def) names, less those
 * whose floating-point instructions it runs on the host's own unit when
 * the host lacks them, and --cpu-features picks from that; CPUID reports
 * exactly the resolved set (tests/unit/test_emu_table.c checks every row's
 * feature is reported). Around them: platform bits, one thread per core,
 * the host TSC's frequency for Linux's clock calibration, the XSAVE
 * layout (leaf 0xd) of the state components offered, vmon's brand string.
 */
#include <cpuid.h>
#include <stdbool.h>
#include <string.h>

#include "cpu/emu/sys.h"
#include "cpu/emu/table.h"

/* Features the software CPU implements without an instruction row of
 * their own. */
static const uint8_t extra_features[] = {
	CPUF_XGETBV1,	   /* XGETBV with ECX = 1 (insn_xsave.c) */
	CPUF_X2APIC,	   /* x2APIC mode and its MSRs (chip_x2apic.c) */
	CPUF_TSC_DEADLINE, /* the LAPIC timer's TSC-deadline mode (chip_lapic.c) */
	CPUF_PCID,	   /* CR4.PCIDE, PCID-tagged TLB (sys_ctl.c, tlb.c) */
	CPUF_SMEP,	   /* CR4.SMEP (mmu.c) */
	CPUF_UMIP,	   /* CR4.UMIP (insn_system.c: umip_check) */
	CPUF_AMD,	   /* the AuthenticAMD vendor (sys_amd.c), only on request */
};

/* The host's floating-point features the software CPU leans on, read
 * with CPUID itself (not __builtin_cpu_supports, whose feature names differ
 * between compilers). AVX counts only when the OS saves the YMM state
 * (CPUID.1:ECX.OSXSAVE and XCR0 bits 1 and 2). */
struct host_fp_features {
	bool sse3, sse4_1, avx, fma, f16c;
};

static struct host_fp_features host_fp_features(void)
{
	struct host_fp_features h = {0};
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return h;
	h.sse3 = c & bit_SSE3;
	h.sse4_1 = c & bit_SSE4_1;
	bool os_ymm = false;
	if (c & bit_OSXSAVE) {
		uint32_t lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		os_ymm = (lo & 6) == 6;
	}
	h.avx = (c & bit_AVX) && os_ymm;
	h.fma = (c & bit_FMA) && h.avx;
	h.f16c = (c & bit_F16C) && h.avx;
	return h;
}

void emu_offered_features(struct cpu_featureset *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < I_COUNT; i++)
		if (emu_insns[i].feature != CPUF_NONE)
			cpu_set(out, emu_insns[i].feature);
	for (size_t i = 0; i < sizeof(extra_features); i++)
		cpu_set(out, extra_features[i]);
	/* Floating-point instructions run as the same instruction on the
	 * host (insn_ssefp.c; the VEX ones as VEX instructions): a feature
	 * that brings new ones needs the host to have it (cpu_model_resolve
	 * drops what needs it too: AVX2, FMA, F16C with AVX). */
	struct host_fp_features h = host_fp_features();
	if (!h.sse3)
		cpu_clear(out, CPUF_SSE3);
	if (!h.sse4_1)
		cpu_clear(out, CPUF_SSE4_1);
	if (!h.avx)
		cpu_clear(out, CPUF_AVX);
	if (!h.fma)
		cpu_clear(out, CPUF_FMA);
	if (!h.f16c)
		cpu_clear(out, CPUF_F16C);
}

int emu_model_init(struct emu_vm *vm, const struct cpu_model *req, struct vmon_error *err)
{
	struct cpu_featureset offered;
	emu_offered_features(&offered);
	if (cpu_model_resolve(req, &offered, "emu", &vm->features, err) < 0)
		return -1;
	/* SVM only when named (+svm, or a snapshot's pinned set): not part
	 * of "max" until Linux's kvm_amd runs on it (svm.h lists what is
	 * missing). The AMD vendor only when named too: the default CPU
	 * stays GenuineIntel. */
	static const uint8_t on_request[] = {CPUF_SVM, CPUF_AMD};
	for (size_t i = 0; i < sizeof(on_request); i++) {
		unsigned f = on_request[i];
		bool named = req && req->pinned &&
			     (cpu_has(&req->add, f) || (!req->base_max && cpu_has(&req->base, f)));
		if (!named)
			cpu_clear(&vm->features, f);
	}
	vm->xcr0_mask = cpu_model_xcr0(&vm->features) & XSAVE_COMPONENTS;
	return 0;
}

/* Sets, in a CPUID.(leaf, sub) result, the bit of every feature of the
 * model that lives there. */
static void model_bits(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b,
		       uint32_t *cc, uint32_t *d)
{
	uint32_t *regs[4] = {a, b, cc, d};
	for (unsigned f = 1; f < CPUF_COUNT; f++) {
		const struct cpu_feature_info *i = &cpu_features[f];
		if (!i->vendor && i->leaf == leaf && i->sub == sub && cpu_has(&c->vm->features, f))
			*regs[i->reg] |= 1u << i->bit;
	}
}

static void cpuid_str(uint32_t *out, const char *s)
{
	memcpy(out, s, 16);
}

void emu_cpuid_regs(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	uint32_t a = 0, b = 0, cc = 0, d = 0;
	if (emu_amd_cpuid(c, leaf, &a, &b, &cc, &d))
		goto done; /* AuthenticAMD's own answer (sys_amd.c) */
	switch (leaf) {
	case 0:
		a = 0x16;
		b = 0x756e6547; /* "GenuineIntel" */
		d = 0x49656e69;
		cc = 0x6c65746e;
		break;
	case 1:
		a = 0x00000663; /* family 6, model 6, stepping 3 */
		b = (c->apic.id << 24) | ((uint32_t)c->vm->ncpus << 16) | (8 << 8);
		/* platform: PSE, PAE, SEP (SYSENTER/SYSEXIT), PGE */
		d = (1u << 3) | (1u << 6) | (1u << 11) | (1u << 13);
		if (c->cr4 & CR4_OSXSAVE)
			cc |= 1u << 27; /* OSXSAVE */
		if (c->apic.apic_base & 0x800)
			d |= 1u << 9;
		if (c->vm->ncpus > 1)
			d |= 1u << 28; /* HTT: EBX[23:16] is meaningful */
		break;
	case 0x15: {
		/* TSC = crystal * EBX / EAX. The crystal is the LAPIC timer's
		 * 1 GHz clock, so Linux derives both from here instead of
		 * calibrating against the PIT (timing-sensitive on an
		 * interpreter). Linux multiplies crystal kHz by EBX in 32 bits,
		 * so EBX stays below 4295: pick the closest such ratio. */
		uint64_t khz = emu_tsc_hz() / 1000;
		double r = (double)khz / 1e6, best = 1e9;
		for (uint32_t den = 1; den < 4295; den++) {
			double num = r * den + 0.5;
			if (num >= 4295 || num < 1)
				break;
			double err = (double)(uint32_t)num / den - r;
			err = err < 0 ? -err : err;
			if (err < best) {
				best = err;
				a = den;
				b = (uint32_t)num;
			}
		}
		cc = 1000000000u;
		break;
	}
	case 7:
		/* Subleaf 0: TSC_ADJUST. With the invariant TSC below, Linux
		 * trusts the TSC without a clocksource watchdog (it has no
		 * HPET or PM timer here to watch it with, only jiffies). */
		if (sub == 0) {
			/* TSC_ADJUST; SMEP, INVPCID, SMAP and UMIP are the
			 * model's (model_bits) */
			b = 1u << 1;
			if (c->cr4 & CR4_PKE)
				cc |= 1u << 4; /* OSPKE; PKU itself is the model's */
		}
		break;
	case 0xd: emu_xsave_cpuid(c, sub, &a, &b, &cc, &d); break;
	case 0xb: {
		/* Extended topology, as the KVM backend reports it: one thread
		 * per core, ncpus cores in one package (not SMT siblings). */
		uint32_t level = sub & 0xff, n = (uint32_t)c->vm->ncpus, shift = 0;
		while ((1u << shift) < n)
			shift++;
		if (level == 0) {
			b = 1;
			cc = 1u << 8;
		} else if (level == 1) {
			a = shift;
			b = n;
			cc = (2u << 8) | 1;
		} else {
			cc = level;
		}
		d = c->apic.id;
		break;
	}
	case 0x16:
		/* Base and maximum frequency (MHz), and the bus (LAPIC timer)
		 * clock: Linux takes cpu_khz from here instead of racing the
		 * PIT in quick_pit_calibrate. */
		a = b = (uint32_t)((emu_tsc_hz() + 500000) / 1000000);
		cc = 1000;
		break;
	case 0x80000000: a = cpu_has(&c->vm->features, CPUF_SVM) ? 0x8000000a : 0x80000008; break;
	case 0x8000000a:
		/* SVM revision 1, 16 ASIDs (not tagged: every world switch
		 * flushes the TLB), EDX: nested paging (bit 0) and NRIPS
		 * (bit 3) only: no LBR virtualization, SVM lock, TSC-rate MSR,
		 * VMCB clean bits, flush-by-ASID, decode assists, pause filter,
		 * AVIC, vGIF, virtual VMLOAD/VMSAVE. */
		if (cpu_has(&c->vm->features, CPUF_SVM)) {
			a = 1;
			b = 16;
			d = (1u << 0) | (1u << 3);
		}
		break;
	case 0x80000007: d = 1u << 8; break; /* invariant TSC */
	case 0x80000001:
		d = (1u << 20) | (1u << 26); /* platform: NX, 1 GiB pages */
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004: {
		static const char brand[48] = "vmon software x86-64 CPU";
		uint32_t w[4];
		cpuid_str(w, brand + 16 * (leaf - 0x80000002));
		a = w[0];
		b = w[1];
		cc = w[2];
		d = w[3];
		break;
	}
	case 0x80000008:
		a = (48u << 8) | EMU_MAXPHYADDR; /* physical, 48 linear address bits */
		break;
	default: break;
	}
	if (leaf == 1 || leaf == 7 || leaf == 0xd || leaf == 0x80000001)
		model_bits(c, leaf, leaf == 1 || leaf == 0x80000001 ? 0 : sub, &a, &b, &cc, &d);
	emu_amd_cpuid_fixup(c, leaf, &a, &d);
done:
	out[0] = a;
	out[1] = b;
	out[2] = cc;
	out[3] = d;
}

void emu_cpuid(struct emu_cpu *c)
{
	uint32_t r[4];
	emu_cpuid_regs(c, (uint32_t)c->r[R_AX], (uint32_t)c->r[R_CX], r);
	c->r[R_AX] = r[0];
	c->r[R_BX] = r[1];
	c->r[R_CX] = r[2];
	c->r[R_DX] = r[3];
}
