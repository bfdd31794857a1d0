/* SPDX-License-Identifier: MIT */
/*
 * The software CPU's AuthenticAMD vendor (src/cpu/emu/sys_amd.c, the
 * model's "amd"): CPUID leaf 0 and 0x80000000 name AuthenticAMD, the
 * signature is family 17h in leaves 1 and 0x80000001, 0x80000001 EDX
 * repeats leaf 1's EDX bits where AMD defines them (never SEP at bit 11),
 * Intel's leaves 0x15/0x16 are beyond the highest basic leaf, SVM's leaf
 * 0x8000000a is reachable with +svm; the AMD MSRs Linux reads answer, the
 * Intel-only ones #GP, SYSENTER is #UD in long mode; and without "amd"
 * (the default, and max) the CPU stays GenuineIntel with none of that.
 * The model's name round-trips through the feature list snapshots record.
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
#include "cpu/emu/sys.h"

#include "emu_harness.h"

static const uint8_t code_stop[] = {0xe6, 0xf4}; /* out %al, $0xf4 */

static struct emu_cpu *boot(const char *spec)
{
	static struct cpu_model m;
	struct vmon_error err = {{0}};
	if (spec) {
		assert_int_equal(cpu_model_parse(spec, &m, &err), 0);
		emu_harness_model = &m;
	}
	struct emu_cpu *c = emu_run(BOOT_MODE_LONG64, code_stop, sizeof(code_stop));
	emu_harness_model = NULL;
	assert_int_equal(atomic_load(&mach.ctl.reason), VM_STOP_DEBUG_EXIT);
	return c;
}

static void vendor(struct emu_cpu *c, uint32_t leaf, char out[13])
{
	uint32_t r[4];
	emu_cpuid_regs(c, leaf, 0, r);
	memcpy(out, &r[1], 4);
	memcpy(out + 4, &r[3], 4);
	memcpy(out + 8, &r[2], 4);
	out[12] = 0;
}

static void test_amd_cpuid(void **state)
{
	struct emu_cpu *c = boot("+svm,+amd");
	char v[13];
	uint32_t r[4], l1[4];
	vendor(c, 0, v);
	assert_string_equal(v, "AuthenticAMD");
	vendor(c, 0x80000000, v);
	assert_string_equal(v, "AuthenticAMD");
	emu_cpuid_regs(c, 0, 0, r);
	uint32_t max_basic = r[0];
	assert_true(max_basic >= 0xd && max_basic < 0x15);
	emu_cpuid_regs(c, 0x80000000, 0, r);
	assert_int_equal(r[0], 0x8000000a); /* SVM's leaf is in range */

	/* family 0xf + extended 0x8 = 17h, model 31h */
	emu_cpuid_regs(c, 1, 0, l1);
	assert_int_equal((l1[0] >> 8) & 0xf, 0xf);
	assert_int_equal((l1[0] >> 20) & 0xff, 0x8);
	assert_int_equal(((l1[0] >> 12) & 0xf0) | ((l1[0] >> 4) & 0xf), 0x31);
	emu_cpuid_regs(c, 0x80000001, 0, r);
	assert_int_equal(r[0], l1[0]);
	assert_true(r[2] & (1u << 2));	      /* SVM */
	assert_true(r[3] & (1u << 11));	      /* SYSCALL, not SEP */
	assert_true(r[3] & (1u << 29));	      /* LM */
	assert_true(l1[3] & (1u << 0));	      /* FPU in leaf 1 ... */
	assert_true(r[3] & (1u << 0));	      /* ... and repeated */
	assert_int_equal(r[3] & 0x400u, 0);   /* bit 10: reserved */
	assert_int_equal(r[3] & 0xc0000u, 0); /* bits 18, 19: reserved */

	/* Intel's TSC leaves are beyond the highest basic leaf */
	for (uint32_t leaf = max_basic + 1; leaf <= 0x16; leaf++) {
		emu_cpuid_regs(c, leaf, 0, r);
		assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
	}
	emu_cpuid_regs(c, 0x8000000a, 0, r);
	assert_int_equal(r[0], 1);
	assert_true(r[3] & 1); /* nested paging */
	emu_cpuid_regs(c, 0x80000008, 0, r);
	assert_int_equal(r[0] & 0xff, EMU_MAXPHYADDR);
	assert_int_equal(r[2] & 0xff, 0); /* one core */
	emu_finish();
}

static void test_amd_msrs(void **state)
{
	struct emu_cpu *c = boot("+amd");
	bool ok;
	uint64_t v = emu_rdmsr(c, 0xc0010015, &ok); /* HWCR */
	assert_true(ok);
	assert_true(v & (1ull << 24)); /* TscFreqSel */
	assert_true(emu_wrmsr(c, 0xc0010015, v));
	assert_false(emu_wrmsr(c, 0xc0010015, v | 1)); /* SmmLock: not modelled */
	v = emu_rdmsr(c, 0xc0011029, &ok);	       /* DE_CFG */
	assert_true(ok);
	assert_true(v & 2); /* LFENCE serializing */
	assert_true(emu_wrmsr(c, 0xc0011029, v | (1ull << 9)));
	emu_rdmsr(c, 0xc001001f, &ok); /* NB_CFG */
	assert_true(ok);
	assert_true(emu_wrmsr(c, 0xc001001f, 1ull << 46));
	emu_rdmsr(c, 0xc0010010, &ok); /* SYSCFG */
	assert_true(ok);
	/* Intel-only MSRs: #GP on AMD */
	emu_rdmsr(c, 0x3a, &ok); /* FEATURE_CONTROL */
	assert_false(ok);
	emu_rdmsr(c, 0x1a0, &ok); /* MISC_ENABLE */
	assert_false(ok);
	assert_false(emu_wrmsr(c, 0x1a0, 1));
	/* without +svm, SVM's MSRs are not there */
	emu_rdmsr(c, 0xc0010114, &ok); /* VM_CR */
	assert_false(ok);
	emu_finish();
}

/* SYSENTER in long mode: #UD on AMD. The snippet sets up an IDT whose #UD
 * handler stores its vector at 0x3000 and stops:
 *     lea h_ud(%rip), %rax; mov %ax, 0x5060; movw $8, 0x5062
 *     movw $0x8e00, 0x5064; shr $16, %rax; mov %ax, 0x5066
 *     shr $16, %rax; mov %eax, 0x5068; movl $0, 0x506c
 *     lidt idtr(%rip); sysenter
 * h_ud: movl $6, 0x3000; out %al, $0xf4
 * idtr: .word 0xfff; .quad 0x5000 */
static const uint8_t code_sysenter[] = {
	0x48, 0x8d, 0x05, 0x47, 0x00, 0x00, 0x00, 0x66, 0x89, 0x04, 0x25, 0x60, 0x50, 0x00, 0x00,
	0x66, 0xc7, 0x04, 0x25, 0x62, 0x50, 0x00, 0x00, 0x08, 0x00, 0x66, 0xc7, 0x04, 0x25, 0x64,
	0x50, 0x00, 0x00, 0x00, 0x8e, 0x48, 0xc1, 0xe8, 0x10, 0x66, 0x89, 0x04, 0x25, 0x66, 0x50,
	0x00, 0x00, 0x48, 0xc1, 0xe8, 0x10, 0x89, 0x04, 0x25, 0x68, 0x50, 0x00, 0x00, 0xc7, 0x04,
	0x25, 0x6c, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0x0f, 0x00, 0x00,
	0x00, 0x0f, 0x34, 0xc7, 0x04, 0x25, 0x00, 0x30, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0xe6,
	0xf4, 0xff, 0x0f, 0x00, 0x50, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void test_amd_sysenter(void **state)
{
	static struct cpu_model m;
	struct vmon_error err = {{0}};
	assert_int_equal(cpu_model_parse("+amd", &m, &err), 0);
	emu_harness_model = &m;
	emu_run(BOOT_MODE_LONG64, code_sysenter, sizeof(code_sysenter));
	emu_harness_model = NULL;
	assert_int_equal(atomic_load(&mach.ctl.reason), VM_STOP_DEBUG_EXIT);
	uint32_t vec = 0;
	assert_int_equal(gm_read(&mach.mem, &vec, 0x3000, 4), 0);
	assert_int_equal(vec, 6);
	emu_finish();
}

static void test_default_intel(void **state)
{
	const char *specs[] = {NULL, "max", "+svm"};
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct emu_cpu *c = boot(specs[i]);
		char v[13];
		uint32_t r[4];
		vendor(c, 0, v);
		assert_string_equal(v, "GenuineIntel");
		assert_false(cpu_has(&c->vm->features, CPUF_AMD));
		emu_cpuid_regs(c, 0, 0, r);
		assert_int_equal(r[0], 0x16);
		bool ok;
		emu_rdmsr(c, 0xc0010015, &ok); /* HWCR: AMD's */
		assert_false(ok);
		emu_rdmsr(c, 0x3a, &ok); /* FEATURE_CONTROL */
		assert_true(ok);
		emu_finish();
	}
}

/* The model's name is how snapshots and migration record the vendor:
 * cpu_model_format lists it, and a pinned base set with it (what a
 * restore builds) brings it back. */
static void test_amd_recorded(void **state)
{
	struct emu_cpu *c = boot("+amd");
	char buf[1024];
	cpu_model_format(&c->vm->features, buf, sizeof(buf));
	assert_non_null(strstr(buf, " amd"));
	struct cpu_featureset f = c->vm->features;
	emu_finish();
	static struct cpu_model restored;
	restored = (struct cpu_model){.pinned = true, .base = f};
	emu_harness_model = &restored;
	c = emu_run(BOOT_MODE_LONG64, code_stop, sizeof(code_stop));
	emu_harness_model = NULL;
	char v[13];
	vendor(c, 0, v);
	assert_string_equal(v, "AuthenticAMD");
	emu_finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_amd_cpuid),    cmocka_unit_test(test_amd_msrs),
		cmocka_unit_test(test_amd_sysenter), cmocka_unit_test(test_default_intel),
		cmocka_unit_test(test_amd_recorded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
