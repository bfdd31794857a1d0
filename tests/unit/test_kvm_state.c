/* SPDX-License-Identifier: MIT */
/* Unit tests for the KVM <-> neutral snapshot state conversions
 * (src/cpu/kvm/kvm_state_conv.c), which need no /dev/kvm: each KVM
 * struct goes to the neutral form and back unchanged in what the form
 * carries, KVM's layouts land where the neutral form says (APIC ID bits,
 * the timer's count in ns, segment access rights, the PIC's init states
 * and priority, the PIT's 65536 count and never-programmed channels),
 * and what the neutral form cannot hold is refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/kvm/kvm_state_conv.h"

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void test_regs_sregs(void **state)
{
	struct kvm_regs r = {.rax = 1,
			     .rcx = 2,
			     .rdx = 3,
			     .rbx = 4,
			     .rsp = 5,
			     .rbp = 6,
			     .rsi = 7,
			     .rdi = 8,
			     .r8 = 9,
			     .r15 = 16,
			     .rip = 0xffffffff81000000ULL,
			     .rflags = 0x246};
	struct cpu_state *s = calloc(1, sizeof(*s));
	kvm_conv_regs_get(&r, s);
	assert_int_equal(s->gpr[0], 1);
	assert_int_equal(s->gpr[1], 2); /* RCX is register 1 */
	assert_int_equal(s->gpr[3], 4); /* RBX is register 3 */
	assert_int_equal(s->gpr[15], 16);
	struct kvm_regs back;
	kvm_conv_regs_set(s, &back);
	assert_memory_equal(&r, &back, sizeof(r));

	struct kvm_sregs sr = {0};
	sr.cs = (struct kvm_segment){.base = 0,
				     .limit = 0xffffffff,
				     .selector = 0x10,
				     .type = 0xb,
				     .present = 1,
				     .dpl = 0,
				     .db = 0,
				     .s = 1,
				     .l = 1,
				     .g = 1};
	sr.ss = (struct kvm_segment){.limit = 0xfffff,
				     .selector = 0x18,
				     .type = 3,
				     .present = 1,
				     .dpl = 3,
				     .db = 1,
				     .s = 1,
				     .avl = 1};
	sr.ldt = (struct kvm_segment){.unusable = 1};
	sr.tr = (struct kvm_segment){.base = 0xfffffe0000003000ULL,
				     .limit = 0x4087,
				     .type = 0xb,
				     .present = 1,
				     .selector = 0x40};
	sr.gdt = (struct kvm_dtable){.base = 0xfffffe0000001000ULL, .limit = 0x7f};
	sr.cr0 = 0x80050033;
	sr.cr3 = 0x1000;
	sr.cr4 = 0x3606f0;
	sr.cr8 = 0xf;
	sr.efer = 0xd01;
	sr.apic_base = 0xfee00900;
	sr.interrupt_bitmap[1] = 1; /* vector 64 in delivery: goes by VCPU_EVENTS */
	kvm_conv_sregs_get(&sr, s);
	/* VMX access rights: type 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15 */
	assert_int_equal(s->seg[CPU_SEG_CS].attr, 0xa09b);
	assert_int_equal(s->seg[CPU_SEG_SS].attr, 0x50f3);
	assert_int_equal(s->ldtr.attr, CPU_SEG_UNUSABLE);
	assert_int_equal(s->tr.attr, 0x8b);
	assert_int_equal(s->apic_base, 0xfee00900);
	assert_int_equal(s->cr8, 0xf);
	struct kvm_sregs sb;
	memset(&sb, 0xff, sizeof(sb));
	kvm_conv_sregs_set(s, &sb);
	sr.interrupt_bitmap[1] = 0;
	/* kvm_segment's padding byte is not state */
	const struct kvm_segment *sa[] = {&sr.es, &sr.cs, &sr.ss,  &sr.ds,
					  &sr.fs, &sr.gs, &sr.ldt, &sr.tr};
	struct kvm_segment *sbb[] = {&sb.es, &sb.cs, &sb.ss,  &sb.ds,
				     &sb.fs, &sb.gs, &sb.ldt, &sb.tr};
	for (unsigned i = 0; i < 8; i++) {
		sbb[i]->padding = sa[i]->padding;
		assert_memory_equal(sa[i], sbb[i], sizeof(*sa[i]));
	}
	assert_int_equal(sb.gdt.base, sr.gdt.base);
	assert_int_equal(sb.gdt.limit, sr.gdt.limit);
	assert_int_equal(sb.efer, sr.efer);
	assert_int_equal(sb.interrupt_bitmap[1], 0);
	free(s);
}

static void test_lapic(void **state)
{
	struct kvm_lapic_state l = {0};
	put32((uint8_t *)l.regs + 0x20, 3u << 24);	       /* ID 3 */
	put32((uint8_t *)l.regs + 0x80, 0x20);		       /* TPR */
	put32((uint8_t *)l.regs + 0xf0, 0x1ff);		       /* SVR */
	put32((uint8_t *)l.regs + 0x100 + 0x10 * 1, 1u << 17); /* ISR: vector 49 */
	put32((uint8_t *)l.regs + 0x200 + 0x10 * 7, 1u << 31); /* IRR: vector 255 */
	put32((uint8_t *)l.regs + 0x320, 0x200ec);	       /* LVTT periodic, vector 0xec */
	put32((uint8_t *)l.regs + 0x350, 0x700);	       /* LINT0 ExtINT */
	put32((uint8_t *)l.regs + 0x380, 1000000);	       /* TMICT */
	put32((uint8_t *)l.regs + 0x390, 250000);	       /* TMCCT */
	put32((uint8_t *)l.regs + 0x3e0, 0xb);		       /* divide by 1 */
	struct cpu_state *s = calloc(1, sizeof(*s));
	kvm_conv_lapic_get(&l, s);
	assert_int_equal(s->lapic.id, 3);
	assert_int_equal(s->lapic.isr[1], 1u << 17);
	assert_int_equal(s->lapic.irr[7], 1u << 31);
	assert_int_equal(s->lapic.lvt[0], 0x200ec);
	assert_int_equal(s->lapic.lvt[3], 0x700);
	assert_int_equal(s->lapic.timer_remaining_ns, 250000 * KVM_APIC_BUS_NS);
	struct kvm_lapic_state b = {0};
	kvm_conv_lapic_set(s, &b);
	assert_memory_equal(&l, &b, sizeof(l));

	/* divide by 16 (TDCR 3): the count is in units of 16 bus cycles */
	put32((uint8_t *)l.regs + 0x3e0, 3);
	kvm_conv_lapic_get(&l, s);
	assert_int_equal(s->lapic.timer_remaining_ns, 250000ull * 16 * KVM_APIC_BUS_NS);
	kvm_conv_lapic_set(s, &b);
	assert_int_equal(get32((uint8_t *)b.regs + 0x390), 250000);
	/* a count left larger than the initial one is cut to it; less than
	 * one tick left is one tick */
	s->lapic.timer_remaining_ns = 1ull << 40;
	kvm_conv_lapic_set(s, &b);
	assert_int_equal(get32((uint8_t *)b.regs + 0x390), 1000000);
	s->lapic.timer_remaining_ns = 3;
	kvm_conv_lapic_set(s, &b);
	assert_int_equal(get32((uint8_t *)b.regs + 0x390), 1);
	free(s);
}

static void test_events_mp(void **state)
{
	struct cpu_state *s = calloc(1, sizeof(*s));
	const char *why;
	struct kvm_vcpu_events e = {0};
	e.exception.injected = 1;
	e.exception.nr = 14;
	e.exception.has_error_code = 1;
	e.exception.error_code = 2;
	e.interrupt.injected = 1;
	e.interrupt.nr = 0x31;
	e.interrupt.shadow = KVM_X86_SHADOW_INT_MOV_SS;
	e.nmi.masked = 1;
	e.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	assert_int_equal(kvm_conv_events_get(&e, s, &why), 0);
	assert_int_equal(s->exc_vector, 14);
	assert_true(s->exc_has_err);
	assert_int_equal(s->exc_err, 2);
	assert_int_equal(s->irq_injected, 0x31);
	assert_int_equal(s->irq_shadow, 1);
	assert_true(s->nmi_masked);
	assert_false(s->nmi_pending);
	struct kvm_vcpu_events b;
	kvm_conv_events_set(s, &b);
	assert_int_equal(b.exception.nr, 14);
	assert_int_equal(b.exception.injected, 1);
	assert_int_equal(b.interrupt.nr, 0x31);
	assert_int_equal(b.interrupt.injected, 1);
	assert_true(b.interrupt.shadow != 0);
	assert_int_equal(b.nmi.masked, 1);
	assert_true(b.flags & KVM_VCPUEVENT_VALID_NMI_PENDING);
	/* nothing pending */
	e = (struct kvm_vcpu_events){0};
	assert_int_equal(kvm_conv_events_get(&e, s, &why), 0);
	assert_int_equal(s->exc_vector, CPU_STATE_NO_EXC);
	assert_int_equal(s->irq_injected, 0);
	/* what the neutral form cannot hold */
	e.flags = KVM_VCPUEVENT_VALID_SMM;
	e.smi.smm = 1;
	assert_int_equal(kvm_conv_events_get(&e, s, &why), -1);
	assert_non_null(strstr(why, "system management"));
	e = (struct kvm_vcpu_events){0};
	e.interrupt.injected = 1;
	e.interrupt.soft = 1;
	e.interrupt.nr = 0x80;
	assert_int_equal(kvm_conv_events_get(&e, s, &why), -1);

	assert_int_equal(kvm_conv_mp_get(KVM_MP_STATE_HALTED, s, &why), 0);
	assert_true(s->halted);
	assert_int_equal(kvm_conv_mp_set(s, false), KVM_MP_STATE_HALTED);
	assert_int_equal(kvm_conv_mp_get(KVM_MP_STATE_UNINITIALIZED, s, &why), 0);
	assert_true(s->wait_sipi);
	assert_int_equal(kvm_conv_mp_set(s, false), KVM_MP_STATE_INIT_RECEIVED);
	assert_int_equal(kvm_conv_mp_get(KVM_MP_STATE_RUNNABLE, s, &why), 0);
	assert_false(s->halted || s->wait_sipi);
	assert_int_equal(kvm_conv_mp_set(s, true), KVM_MP_STATE_RUNNABLE);
	assert_int_equal(kvm_conv_mp_get(KVM_MP_STATE_SIPI_RECEIVED, s, &why), -1);
	free(s);
}

static void test_msrs_xsave_debug(void **state)
{
	struct cpu_state *s = calloc(1, sizeof(*s));
	assert_ptr_equal(kvm_conv_named_msr(s, KVM_MSR_LSTAR), &s->lstar);
	assert_ptr_equal(kvm_conv_named_msr(s, KVM_MSR_TSC), &s->tsc);
	assert_null(kvm_conv_named_msr(s, KVM_MSR_APIC_BASE)); /* in the sregs */
	assert_null(kvm_conv_named_msr(s, KVM_MSR_TSC_DEADLINE));
	/* the async-PF vector before async PF; the TSC deadline last */
	assert_true(kvm_conv_extra_msr_rank(KVM_MSR_PV_ASYNC_PF_INT) <
		    kvm_conv_extra_msr_rank(KVM_MSR_PV_ASYNC_PF_EN));
	unsigned n = 0;
	while (kvm_conv_extra_msr_at(n))
		n++;
	assert_true(n <= CPU_STATE_MAX_MSRS);
	assert_int_equal(kvm_conv_extra_msr_at(n - 1), KVM_MSR_TSC_DEADLINE);
	assert_int_equal(kvm_conv_extra_msr_rank(0x2ff), 0);
	assert_int_equal(kvm_conv_extra_msr_rank(0x12345), -1);
	/* the paravirtual features the software CPU refuses */
	s->nmsrs = 2;
	s->msrs[0] = (struct cpu_msr_state){.index = 0x2ff, .value = 0xc06};
	s->msrs[1] = (struct cpu_msr_state){.index = KVM_MSR_PV_SYSTEM_TIME_NEW, .value = 0x1000};
	assert_null(cpu_state_kvm_pv_in_use(s));
	assert_int_equal(kvm_conv_find_extra(s, KVM_MSR_PV_SYSTEM_TIME_NEW), 1);
	s->msrs[1].value |= 1;
	assert_string_equal(cpu_state_kvm_pv_in_use(s), "kvmclock");

	struct kvm_xsave *x = calloc(1, sizeof(*x)), *y = calloc(1, sizeof(*y));
	uint8_t *p = (uint8_t *)x->region;
	p[0] = 0x7f;		       /* FCW */
	p[24] = 0x80;		       /* MXCSR */
	p[CPU_XSAVE_XSTATE_BV] = 0xe7; /* x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM */
	p[CPU_XSAVE_AVX + 5] = 0x11;   /* YMM */
	p[1088] = 0x22;		       /* opmask (k0) */
	p[2000] = 0x33;		       /* ZMM_Hi256 */
	kvm_conv_xsave_get(x, s);
	assert_int_equal(s->xsave_ext_len, 2000 - CPU_XSAVE_BYTES + 1);
	s->xcr0 = 0xe7;
	kvm_conv_xsave_set(s, 0xe7, y);
	assert_memory_equal(x, y, sizeof(*x));
	/* components XCR0 leaves off, or this KVM lacks, are left out of
	 * XSTATE_BV; x87 and SSE stay */
	s->xcr0 = 1;
	kvm_conv_xsave_set(s, 0xe7, y);
	assert_int_equal(((uint8_t *)y->region)[CPU_XSAVE_XSTATE_BV], 3);
	s->xcr0 = 0xe7;
	kvm_conv_xsave_set(s, 7, y);
	assert_int_equal(((uint8_t *)y->region)[CPU_XSAVE_XSTATE_BV], 7);

	struct kvm_debugregs d = {.db = {1, 2, 3, 4}, .dr6 = 0xffff0ff0, .dr7 = 0x401}, db;
	kvm_conv_debugregs_get(&d, s);
	assert_int_equal(s->dr[3], 4);
	assert_int_equal(s->dr[6], 0xffff0ff0);
	kvm_conv_debugregs_set(s, &db);
	assert_memory_equal(&d, &db, sizeof(d));
	free(x);
	free(y);
	free(s);
}

static void test_chips(void **state)
{
	struct kvm_pic_state k = {.irr = 1,
				  .imr = 0xfb,
				  .isr = 4,
				  .priority_add = 3,
				  .irq_base = 0x20,
				  .read_reg_select = 1,
				  .init_state = 2,
				  .auto_eoi = 1,
				  .init4 = 1,
				  .elcr = 0x08,
				  .elcr_mask = 0xf8,
				  .last_irr = 0x10,
				  .special_mask = 1};
	struct chip_state *s = calloc(1, sizeof(*s));
	kvm_conv_pic_get(&k, &s->pic[0]);
	assert_int_equal(s->pic[0].init_state, 3); /* waiting for ICW3 */
	assert_int_equal(s->pic[0].lowest_prio, 2);
	assert_int_equal(s->pic[0].vbase, 0x20);
	struct kvm_pic_state kb = {.elcr_mask = 0xf8};
	kvm_conv_pic_set(&s->pic[0], &kb);
	assert_memory_equal(&k, &kb, sizeof(k));
	/* the ELCR keeps to the lines that can be level-triggered */
	s->pic[0].elcr = 0xff;
	kvm_conv_pic_set(&s->pic[0], &kb);
	assert_int_equal(kb.elcr, 0xf8);

	struct kvm_ioapic_state io = {
		.base_address = 0xfec00000, .ioregsel = 0x10, .id = 2, .irr = 1u << 9};
	io.redirtbl[9].bits = 0x1a031;
	kvm_conv_ioapic_get(&io, s);
	assert_int_equal(s->ioapic.redir[9], 0x1a031);
	struct kvm_ioapic_state iob = {.base_address = 0xfec00000};
	kvm_conv_ioapic_set(s, &iob);
	assert_memory_equal(&io, &iob, sizeof(io));

	struct kvm_pit_state2 p = {0};
	p.channels[0] = (struct kvm_pit_channel_state){.count = 0x10000,
						       .rw_mode = 3,
						       .read_state = 3,
						       .write_state = 3,
						       .mode = 2,
						       .gate = 1,
						       .count_load_time = 1000};
	p.channels[1] = (struct kvm_pit_channel_state){.mode = 0xff}; /* never programmed */
	p.channels[2] = (struct kvm_pit_channel_state){.count = 1193,
						       .rw_mode = 3,
						       .read_state = 4,
						       .write_state = 3,
						       .mode = 0,
						       .gate = 1,
						       .count_latched = 3,
						       .latched_count = 77,
						       .count_load_time = 5000};
	p.flags = KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	kvm_conv_pit_get(&p, 11000, s);
	assert_int_equal(s->pit[0].reload, 0); /* 65536 */
	assert_int_equal(s->pit[0].mode, 2);
	assert_int_equal(s->pit[0].elapsed_ns, 10000);
	/* a periodic count loaded long ago: the time into its period */
	struct kvm_pit_state2 q = p;
	q.channels[0].count = 1193; /* 1 ms */
	kvm_conv_pit_get(&q, 1000 + 5 * 999847ull + 700, s);
	assert_int_equal(s->pit[0].elapsed_ns, 700);
	kvm_conv_pit_get(&p, 11000, s);
	assert_false(s->pit[1].counting);
	assert_int_equal(s->pit[1].mode, 0);
	assert_true(s->pit[2].latched);
	assert_int_equal(s->pit[2].latch, 77);
	assert_int_equal(s->pit[2].rw_state, 0); /* the latch's low byte next */
	assert_int_equal(s->port61, 3);
	struct kvm_pit_state2 pb = {0};
	kvm_conv_pit_set(s, 11000, &pb);
	assert_int_equal(pb.channels[0].count, 0x10000);
	assert_int_equal(pb.channels[0].count_load_time, 1000);
	assert_int_equal(pb.channels[1].mode, 0xff);
	assert_int_equal(pb.channels[2].count_latched, 3);
	assert_int_equal(pb.channels[2].latched_count, 77);
	assert_int_equal(pb.channels[2].count, 1193);
	assert_true(pb.flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON);
	assert_int_equal(pb.channels[2].gate, 1);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regs_sregs), cmocka_unit_test(test_lapic),
		cmocka_unit_test(test_events_mp),  cmocka_unit_test(test_msrs_xsave_debug),
		cmocka_unit_test(test_chips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
