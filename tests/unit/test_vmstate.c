/* SPDX-License-Identifier: MIT */
/* Unit tests for the snapshot format (src/vm/vmstate*.c, docs/snapshot.md):
 * framing and checksum round trip, every rejection of the framing, the
 * neutral CPU and chip sections' round trip and range checks, CPU
 * features by name, and the machine config section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vm/vm_snapshot.h"
#include "vm/vmstate.h"
#include "vm/vmstate_config.h"
#include "vm/vmstate_cpu.h"

static void build(struct state_writer *w)
{
	struct vmstate_header h = {
		.vmon_version = "1.2.3", .backend = "emu", .mem_size = 1 << 20, .ncpus = 1};
	*w = (struct state_writer){0};
	vmstate_begin(w, &h);
	vmstate_add(w, VMS_DEVICE, "com1", "uart16550", 1, "abc", 3);
	vmstate_add(w, VMS_DEVICE, "empty", "acpi-pm", 1, NULL, 0);
}

/* The bytes a file would hold (with its checksum), malloc'd. */
static uint8_t *file_bytes(size_t *len)
{
	char path[] = "/tmp/vmon-vmstate-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct state_writer w;
	build(&w);
	struct vmon_error err = {{0}};
	assert_int_equal(vmstate_write_file(&w, path, &err), 0);
	state_writer_free(&w);
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(4096);
	*len = fread(b, 1, 4096, f);
	fclose(f);
	unlink(path);
	return b;
}

static void test_round_trip(void **state)
{
	size_t len;
	uint8_t *b = file_bytes(&len);
	struct vmstate st;
	struct vmon_error err = {{0}};
	assert_int_equal(vmstate_parse(&st, b, len, &err), 0);
	assert_string_equal(st.hdr.vmon_version, "1.2.3");
	assert_string_equal(st.hdr.backend, "emu");
	assert_int_equal(st.hdr.mem_size, 1 << 20);
	assert_int_equal(st.nsections, 2);
	const struct vmstate_section *s = vmstate_find(&st, VMS_DEVICE, "com1");
	assert_non_null(s);
	assert_string_equal(s->kind, "uart16550");
	assert_int_equal(s->len, 3);
	assert_memory_equal(s->data, "abc", 3);
	assert_int_equal(vmstate_find(&st, VMS_DEVICE, "empty")->len, 0);
	assert_null(vmstate_find(&st, VMS_CPU, NULL));
	vmstate_free(&st);
}

/* Parses a changed copy; expects a failure whose message holds want. */
static void expect_bad(const uint8_t *b, size_t len, const char *want)
{
	uint8_t *c = malloc(len ? len : 1);
	memcpy(c, b, len);
	struct vmstate st;
	struct vmon_error err = {{0}};
	assert_int_equal(vmstate_parse(&st, c, len, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("message '%s' lacks '%s'", err.msg, want);
}

static void test_rejects(void **state)
{
	size_t len;
	uint8_t *b = file_bytes(&len);
	expect_bad(b, 10, "truncated");
	expect_bad(b, len - 1, "checksum");
	b[len / 2] ^= 0x40;
	expect_bad(b, len, "checksum");
	b[len / 2] ^= 0x40;
	b[0] = 'X';
	expect_bad(b, len, "bad magic");
	b[0] = 'V';
	b[8] = 7;
	expect_bad(b, len, "format version 7");
	free(b);
}

static void test_cpu_round_trip(void **state)
{
	struct cpu_state *a = calloc(1, sizeof(*a)), *c = calloc(1, sizeof(*c));
	for (unsigned i = 0; i < 16; i++)
		a->gpr[i] = 0x1111111111111111ULL * i;
	a->rip = 0xffffffff81000000ULL;
	a->rflags = 0x246;
	a->seg[CPU_SEG_CS] =
		(struct cpu_seg_state){.limit = 0xffffffff, .sel = 0x10, .attr = 0xa09b};
	a->cr0 = 0x80050033;
	a->cr4 = 0x3606f0;
	a->efer = 0xd01;
	a->xcr0 = 7;
	a->nmsrs = 2;
	a->msrs[1] = (struct cpu_msr_state){.index = 0x2ff, .value = 0xc06};
	a->xsave[24] = 0x80;
	a->xsave[25] = 0x1f;
	a->xsave[700] = 0x5a;
	a->exc_vector = CPU_STATE_NO_EXC;
	a->halted = true;
	a->lapic.id = 0;
	a->lapic.irr[7] = 0x80000000;
	a->lapic.timer_remaining_ns = 123456;
	struct state_writer w = {0};
	vmstate_cpu_put(&w, a);
	struct vmon_error err = {{0}};
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), 0);
	assert_memory_equal(a, c, sizeof(*a));
	/* short, long, and out-of-range values */
	assert_int_equal(vmstate_cpu_get(w.buf, w.len - 1, c, &err), -1);
	a->cr0 |= 1ULL << 40;
	state_writer_free(&w);
	w = (struct state_writer){0};
	vmstate_cpu_put(&w, a);
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), -1);
	assert_non_null(strstr(err.msg, "CR0"));
	a->cr0 = 0x80050033;
	a->rip = 0x0000800000000000ULL; /* not canonical */
	state_writer_free(&w);
	w = (struct state_writer){0};
	vmstate_cpu_put(&w, a);
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), -1);
	assert_non_null(strstr(err.msg, "canonical"));
	state_writer_free(&w);
	/* with 5-level paging (CR4.LA57) 57 address bits are canonical */
	a->rip = 0xffffffff81000000ULL;
	a->seg[CPU_SEG_GS].base = 0xff11000000000000ULL;
	w = (struct state_writer){0};
	vmstate_cpu_put(&w, a);
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), -1);
	assert_non_null(strstr(err.msg, "segment 5"));
	state_writer_free(&w);
	a->cr4 |= 0x1000;
	w = (struct state_writer){0};
	vmstate_cpu_put(&w, a);
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), 0);
	state_writer_free(&w);
	/* XCR0 may hold PKRU (bit 9), not a component vmon does not know */
	a->xcr0 = 0x207;
	w = (struct state_writer){0};
	vmstate_cpu_put(&w, a);
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), 0);
	state_writer_free(&w);
	a->xcr0 = 0x107;
	w = (struct state_writer){0};
	vmstate_cpu_put(&w, a);
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), -1);
	assert_non_null(strstr(err.msg, "XCR0"));
	state_writer_free(&w);
	free(a);
	free(c);
}

/* Version 2 appended the KVM fields; a version-1 section (the same bytes
 * without them) still reads, with those fields empty; other versions
 * are refused by number. */
static void test_cpu_versions(void **state)
{
	struct cpu_state *a = calloc(1, sizeof(*a)), *c = calloc(1, sizeof(*c));
	a->xcr0 = 7;
	a->exc_vector = CPU_STATE_NO_EXC;
	a->tsc_khz = 2500000;
	a->irq_injected = 0x31;
	a->xsave_ext_len = 3;
	a->xsave_ext[2] = 0x44;
	struct state_writer w = {0};
	vmstate_cpu_put(&w, a);
	struct vmon_error err = {{0}};
	assert_int_equal(vmstate_cpu_get_v(w.buf, w.len, 2, c, &err), 0);
	assert_memory_equal(a, c, sizeof(*a));
	size_t v1 = w.len - (4 + 1 + 4 + 3);
	assert_int_equal(vmstate_cpu_get_v(w.buf, v1, 1, c, &err), 0);
	assert_int_equal(c->tsc_khz, 0);
	assert_int_equal(c->irq_injected, 0);
	assert_int_equal(c->xsave_ext_len, 0);
	assert_int_equal(vmstate_cpu_get_v(w.buf, v1, 2, c, &err), -1);
	assert_int_equal(vmstate_cpu_get_v(w.buf, w.len, 3, c, &err), -1);
	assert_non_null(strstr(err.msg, "version 3"));
	state_writer_free(&w);
	/* out of range: a vector below 16 in delivery, an XSAVE tail too long */
	a->irq_injected = 8;
	w = (struct state_writer){0};
	vmstate_cpu_put(&w, a);
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), -1);
	assert_non_null(strstr(err.msg, "interrupt"));
	state_writer_free(&w);
	a->irq_injected = 0;
	w = (struct state_writer){0};
	vmstate_cpu_put(&w, a);
	uint32_t big = CPU_XSAVE_EXT_BYTES + 1;
	memcpy(w.buf + w.len - 3 - 4, &big, 4);
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), -1);
	assert_non_null(strstr(err.msg, "XSAVE"));
	state_writer_free(&w);
	free(a);
	free(c);
}

/* The LAPIC's extensions in version 2: x2APIC mode (apic_base EXTD), the
 * TSC deadline (IA32_TSC_DEADLINE among the extra MSRs, as KVM saves it),
 * NMI pending/blocked; x2APIC without EN is refused, and so is a section
 * with the tagged block of the software CPU's pre-release "version 2". */
static void test_cpu_lapic_ext(void **state)
{
	(void)state;
	struct cpu_state *a = calloc(1, sizeof(*a)), *c = calloc(1, sizeof(*c));
	a->cr0 = 0x11;
	a->xcr0 = 1;
	a->exc_vector = CPU_STATE_NO_EXC;
	a->apic_base = 0xfee00000ULL | 0xd00;
	a->lapic.lvt[0] = (2u << 17) | 0xec;
	a->nmsrs = 1;
	a->msrs[0] =
		(struct cpu_msr_state){.index = CPU_MSR_TSC_DEADLINE, .value = 0x123456789abcULL};
	a->nmi_pending = true;
	a->nmi_masked = true;
	struct state_writer w = {0};
	vmstate_cpu_put(&w, a);
	struct vmon_error err = {{0}};
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), 0);
	assert_memory_equal(a, c, sizeof(*a));
	/* the pre-release tagged block after the LAPIC: u32 tag, u64 deadline
	 * where version 2 has the TSC rate, the vector and the XSAVE tail */
	size_t v1 = w.len - (4 + 1 + 4);
	uint8_t *b = malloc(v1 + 12);
	memcpy(b, w.buf, v1);
	const uint32_t tag = 0x5841504cu;
	const uint64_t deadline = 0x123456789abcULL;
	memcpy(b + v1, &tag, 4);
	memcpy(b + v1 + 4, &deadline, 8);
	assert_int_equal(vmstate_cpu_get(b, v1 + 12, c, &err), -1);
	free(b);
	/* EXTD without EN: the invalid APIC state */
	a->apic_base = 0xfee00000ULL | 0x400;
	state_writer_free(&w);
	w = (struct state_writer){0};
	vmstate_cpu_put(&w, a);
	assert_int_equal(vmstate_cpu_get(w.buf, w.len, c, &err), -1);
	assert_non_null(strstr(err.msg, "local APIC"));
	state_writer_free(&w);
	free(a);
	free(c);
}

static void test_chips(void **state)
{
	struct chip_state a = {0}, c;
	a.pic[0].imr = 0xfb;
	a.pic[1].vbase = 0x70;
	a.ioapic.redir[4] = 0x10030;
	a.pit[0] = (struct chip_pit_channel_state){.reload = 1193,
						   .mode = 2,
						   .access = 3,
						   .gate = true,
						   .counting = true,
						   .elapsed_ns = 400000};
	a.pit_pending = 2;
	a.kvmclock_valid = true;
	a.kvmclock_ns = 123456789;
	struct state_writer w = {0};
	vmstate_chips_put(&w, &a);
	struct vmon_error err = {{0}};
	assert_int_equal(vmstate_chips_get(w.buf, w.len, &c, &err), 0);
	assert_memory_equal(&a, &c, sizeof(a));
	/* version 1: no kvmclock */
	assert_int_equal(vmstate_chips_get_v(w.buf, w.len - 9, 1, &c, &err), 0);
	assert_false(c.kvmclock_valid);
	assert_int_equal(vmstate_chips_get_v(w.buf, w.len, 9, &c, &err), -1);
	a.kvmclock_valid = false;
	state_writer_free(&w);
	a.pit[1].mode = 9;
	w = (struct state_writer){0};
	vmstate_chips_put(&w, &a);
	assert_int_equal(vmstate_chips_get(w.buf, w.len, &c, &err), -1);
	state_writer_free(&w);
}

static void test_cpuid(void **state)
{
	struct cpu_featureset f = cpu_level_features(2), g;
	struct state_writer w = {0};
	vmstate_cpuid_put(&w, &f);
	struct vmon_error err = {{0}};
	assert_int_equal(vmstate_cpuid_get(w.buf, w.len, &g, &err), 0);
	assert_memory_equal(&f, &g, sizeof(f));
	state_writer_free(&w);
	assert_int_equal(vmstate_cpuid_get("sse2 warp_drive", 15, &g, &err), -1);
	assert_non_null(strstr(err.msg, "warp_drive"));
}

static void test_config(void **state)
{
	static struct vm_config a, c;
	vm_config_init(&a);
	a.machine.vcpus = 2;
	a.machine.mem_size = 64 << 20;
	snprintf(a.boot.kernel, sizeof(a.boot.kernel), "/k");
	snprintf(a.boot.cmdline, sizeof(a.boot.cmdline), "console=ttyS0");
	a.ndrives = 1;
	snprintf(a.drives[0].id, sizeof(a.drives[0].id), "d0");
	snprintf(a.drives[0].path, sizeof(a.drives[0].path), "/disk.img");
	a.drives[0].ro = true;
	a.entropy = true;
	struct state_writer w = {0};
	struct vmstate_header h = {.mem_size = 64 << 20, .ncpus = 2};
	vmstate_begin(&w, &h);
	struct state_writer b = {0};
	vmstate_config_save(&b, &a);
	vmstate_add(&w, VMS_CONFIG, "config", "machine", vmstate_config_version(), b.buf, b.len);
	state_writer_free(&b);
	char path[] = "/tmp/vmon-vmstate-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	struct vmstate st;
	struct vmon_error err = {{0}};
	assert_int_equal(vmstate_write_file(&w, path, &err), 0);
	state_writer_free(&w);
	assert_int_equal(vmstate_load(&st, path, &err), 0);
	unlink(path);
	assert_int_equal(vmstate_config_load(&st, &c, &err), 0);
	assert_int_equal(c.machine.vcpus, 2);
	assert_int_equal(c.ndrives, 1);
	assert_string_equal(c.drives[0].path, "/disk.img");
	assert_true(c.drives[0].ro);
	assert_true(c.entropy);
	assert_string_equal(c.boot.cmdline, "console=ttyS0");
	/* no CPU features, no vCPUs: restore refuses */
	assert_int_equal(vm_restore_config(&st, &c, &err), -1);
	vmstate_free(&st);
}

/* A machine (config and CPU features at section version `version`)
 * through vm_restore_machine_config. */
static int machine_with_cpuid(uint32_t version, const char *names, struct vm_config *c,
			      struct vmon_error *err)
{
	static struct vm_config a;
	vm_config_init(&a);
	a.machine.vcpus = 1;
	a.machine.mem_size = 64 << 20;
	struct state_writer w = {0}, b = {0};
	struct vmstate_header h = {.mem_size = 64 << 20, .ncpus = 1};
	vmstate_begin(&w, &h);
	vmstate_config_save(&b, &a);
	vmstate_add(&w, VMS_CONFIG, "config", "machine", vmstate_config_version(), b.buf, b.len);
	state_writer_free(&b);
	vmstate_add(&w, VMS_CPUID, "cpuid", "features", version, names, strlen(names));
	char path[] = "/tmp/vmon-vmstate-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	struct vmstate st;
	assert_int_equal(vmstate_write_file(&w, path, err), 0);
	state_writer_free(&w);
	assert_int_equal(vmstate_load(&st, path, err), 0);
	unlink(path);
	int r = vm_restore_machine_config(&st, c, err);
	vmstate_free(&st);
	return r;
}

/* CPU features version 1 did not name the system features, version 2
 * not la57: a restore gives them where offered (if_offered); version 3
 * pins exactly. */
static void test_cpuid_versions(void **state)
{
	static struct vm_config c;
	struct vmon_error err = {{0}};
	static const unsigned sys[] = {CPUF_PCID, CPUF_INVPCID, CPUF_SMEP, CPUF_SMAP, CPUF_UMIP};
	assert_int_equal(machine_with_cpuid(1, "sse2 x2apic", &c, &err), 0);
	const struct cpu_model *m = &c.machine.cpu_model;
	assert_true(m->pinned && cpu_has(&m->base, CPUF_X2APIC));
	for (size_t i = 0; i < 5; i++)
		assert_true(cpu_has(&m->if_offered, sys[i]) && !cpu_has(&m->base, sys[i]));
	assert_true(cpu_has(&m->if_offered, CPUF_LA57));
	assert_int_equal(machine_with_cpuid(2, "sse2 x2apic smep", &c, &err), 0);
	assert_true(cpu_has(&m->base, CPUF_SMEP) && !cpu_has(&m->base, CPUF_PCID));
	for (size_t i = 0; i < 5; i++)
		assert_false(cpu_has(&m->if_offered, sys[i]));
	assert_true(cpu_has(&m->if_offered, CPUF_LA57) && !cpu_has(&m->base, CPUF_LA57));
	assert_int_equal(machine_with_cpuid(3, "sse2 la57", &c, &err), 0);
	assert_true(cpu_has(&m->base, CPUF_LA57) && !cpu_has(&m->if_offered, CPUF_LA57));
	assert_int_equal(machine_with_cpuid(3, "sse2", &c, &err), 0);
	assert_false(cpu_has(&m->base, CPUF_LA57) || cpu_has(&m->if_offered, CPUF_LA57));
	assert_int_equal(machine_with_cpuid(VMSTATE_CPUID_VERSION + 1, "sse2", &c, &err), -1);
	assert_non_null(strstr(err.msg, "CPU features version"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_cpu_round_trip), cmocka_unit_test(test_cpu_lapic_ext),
		cmocka_unit_test(test_chips),	       cmocka_unit_test(test_cpuid),
		cmocka_unit_test(test_config),	       cmocka_unit_test(test_cpu_versions),
		cmocka_unit_test(test_cpuid_versions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
