/* SPDX-License-Identifier: MIT */
/*
 * The backend-neutral machine state a snapshot holds: one struct
 * cpu_state per vCPU (with its local APIC) and one struct chip_state for
 * the platform's interrupt controllers and timer (PIC pair, IOAPIC, PIT).
 * Both CPU backends translate their own state to and from these
 * (cpu_backend.h: vcpu_get_state/vcpu_set_state, chips_get/chips_set), so
 * a snapshot taken on one backend restores on the other, and the VM layer
 * (src/vm/vmstate_cpu.c writes and checks them) never sees a backend's
 * types.
 *
 * Conventions: segment attributes are VMX-style access rights (type 0-3,
 * S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15; 0x10000 = unusable);
 * the FPU/SSE/AVX registers are the first CPU_XSAVE_BYTES of a
 * standard-format (non-compacted) XSAVE image: legacy region (x87, MXCSR,
 * XMM0-15), XSAVE header (XSTATE_BV), AVX (YMM0-15 high halves). Times
 * are relative (nanoseconds still to run), never a host clock.
 *
 * Threads: plain data.
 */
#ifndef VMON_CPU_CPU_STATE_H
#define VMON_CPU_CPU_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPU_XSAVE_BYTES	      832 /* legacy 512 + header 64 + AVX 256 */
#define CPU_XSAVE_XSTATE_BV   512 /* offset of XSTATE_BV in the image */
#define CPU_XSAVE_AVX	      576 /* offset of the YMM high halves */
#define CPU_STATE_MAX_MSRS    64  /* other MSRs a backend keeps (MTRRs...) */
#define CPU_SEG_UNUSABLE      0x10000
#define CPU_LAPIC_LVTS	      6 /* timer, thermal, perf, LINT0, LINT1, error */
#define CHIP_IOAPIC_PINS      24
#define CPU_STATE_NO_EXC      0xff
#define CPU_STATE_MAX_TSC_KHZ 100000000u /* 100 GHz */
/* IA32_TSC_DEADLINE among msrs[]: the LAPIC timer's deadline in guest TSC
 * (0: disarmed), meaningful in TSC-deadline mode (LVT timer mode 2). */
#define CPU_MSR_TSC_DEADLINE 0x6e0
/* A whole standard-format XSAVE image, as KVM_GET_XSAVE gives it. */
#define CPU_XSAVE_MAX_BYTES 4096
#define CPU_XSAVE_EXT_BYTES (CPU_XSAVE_MAX_BYTES - CPU_XSAVE_BYTES)

enum { CPU_SEG_ES, CPU_SEG_CS, CPU_SEG_SS, CPU_SEG_DS, CPU_SEG_FS, CPU_SEG_GS, CPU_NSEGS };

struct cpu_seg_state {
	uint64_t base;
	uint32_t limit; /* bytes - 1, granularity applied */
	uint16_t sel;
	uint32_t attr;
};

struct cpu_dtable_state {
	uint64_t base;
	uint16_t limit;
};

struct cpu_msr_state {
	uint32_t index;
	uint64_t value;
};

/* The local APIC in its register terms (offsets of the xAPIC page). */
struct cpu_lapic_state {
	uint32_t id, tpr, ldr, dfr, svr, esr, icr_lo, icr_hi;
	uint32_t isr[8], tmr[8], irr[8];
	uint32_t lvt[CPU_LAPIC_LVTS];
	uint32_t timer_init, timer_div;
	uint64_t timer_remaining_ns; /* until the next expiry; 0: not armed */
};

struct cpu_state {
	uint64_t gpr[16]; /* RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15 */
	uint64_t rip, rflags;
	struct cpu_seg_state seg[CPU_NSEGS], ldtr, tr;
	struct cpu_dtable_state gdtr, idtr;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, xcr0;
	uint64_t dr[8]; /* DR0-3; [6] DR6, [7] DR7; 4 and 5 unused */
	/* MSRs every backend has */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat, apic_base, misc_enable, tsc, tsc_aux, tsc_adjust;
	/* ... and the rest a backend keeps (MTRRs on KVM; the LAPIC timer's
	 * IA32_TSC_DEADLINE, CPU_MSR_TSC_DEADLINE, on both backends). */
	uint32_t nmsrs;
	struct cpu_msr_state msrs[CPU_STATE_MAX_MSRS];
	uint8_t xsave[CPU_XSAVE_BYTES];
	/* Pending events */
	uint8_t exc_vector; /* CPU_STATE_NO_EXC: none */
	bool exc_has_err;
	uint32_t exc_err;
	uint8_t irq_shadow; /* an STI / MOV SS shadow holds interrupts off */
	bool nmi_pending, nmi_masked;
	/* Run state */
	bool halted;	/* HLT: waits for an interrupt */
	bool wait_sipi; /* an AP waiting for INIT/SIPI */
	struct cpu_lapic_state lapic;

	/* --- Added by CPU section version 2 (the KVM backend's state; a
	 * version-1 file reads as: unknown TSC rate, nothing in delivery, no
	 * state beyond AVX). --- */
	uint32_t tsc_khz;	/* the guest TSC's rate; 0: unknown (the host's) */
	uint8_t irq_injected;	/* 0, or the external interrupt vector being
				 * delivered (accepted from the LAPIC or PIC) */
	uint32_t xsave_ext_len; /* bytes of xsave_ext in use */
	/* The standard-format XSAVE image from byte CPU_XSAVE_BYTES on
	 * (AVX-512, PKRU...). */
	uint8_t xsave_ext[CPU_XSAVE_EXT_BYTES];
};

struct chip_pic_state {
	uint8_t irr, imr, isr, elcr, last_level, vbase;
	uint8_t init_state; /* 0 ready, 2..4 waiting for ICW2..ICW4 */
	bool icw4_needed, single, auto_eoi, read_isr, special_mask;
	uint8_t lowest_prio;
};

struct chip_pit_channel_state {
	uint16_t reload; /* 0 means 65536 */
	uint8_t mode, access, bcd;
	uint8_t rw_state, wr_state, write_lo;
	bool latched, latch_hi_next, gate, counting;
	uint16_t latch;
	uint64_t elapsed_ns; /* since the count was loaded */
};

struct chip_state {
	struct chip_pic_state pic[2];
	struct {
		uint32_t id, sel, irr;
		uint64_t redir[CHIP_IOAPIC_PINS];
	} ioapic;
	struct chip_pit_channel_state pit[3];
	uint8_t port61;
	uint32_t pit_pending; /* channel-0 ticks due, not yet injected */

	/* --- Added by chips section version 2 (KVM) --- */
	bool kvmclock_valid; /* the guest's kvmclock (KVM_GET_CLOCK) is known */
	uint64_t kvmclock_ns;
};

/* --- KVM's paravirtual interface, as a KVM snapshot's extra MSRs show it
 * (Documentation/virt/kvm/x86/msr.rst; bit 0 of each is its enable). A
 * backend without that interface (the software CPU) cannot take over a
 * guest that turned one on: its name, or NULL. --- */
static inline const char *cpu_state_kvm_pv_in_use(const struct cpu_state *s)
{
	static const struct {
		uint32_t index;
		const char *name;
	} pv[] = {
		{0x12, "kvmclock"},
		{0x4b564d01, "kvmclock"},
		{0x4b564d02, "async page faults"},
		{0x4b564d03, "steal time"},
		{0x4b564d04, "PV EOI"},
	};
	for (uint32_t i = 0; i < s->nmsrs && i < CPU_STATE_MAX_MSRS; i++)
		for (unsigned j = 0; j < sizeof(pv) / sizeof(pv[0]); j++)
			if (s->msrs[i].index == pv[j].index && (s->msrs[i].value & 1))
				return pv[j].name;
	return NULL;
}

#endif
