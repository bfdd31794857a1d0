/* SPDX-License-Identifier: MIT */
/*
 * System architecture: reset and boot state, operating modes, segment
 * loads, control registers, MSRs, CPUID, exception and interrupt delivery
 * (IVT, 32-bit and 64-bit IDT), IRET, far transfers, SYSCALL/SYSRET.
 * Services for the instruction handlers and the run loop, above the MMU.
 * Owning vCPU thread only; a fault raises through fault.h.
 */
#ifndef VMON_CPU_EMU_SYS_H
#define VMON_CPU_EMU_SYS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/cpu_init.h"
#include "core/error.h"
#include "cpu/emu/cpu.h"

/* Delivers vector vec through the IVT/IDT; soft: INT n (the gate's DPL is
 * checked); ret_rip: where the handler returns to. */
void emu_deliver(struct emu_cpu *c, int vec, uint32_t err, bool has_err, bool soft,
		 uint64_t ret_rip);
/* Recomputes cmode and paging from CR0, EFER and CS. */
void emu_update_mode(struct emu_cpu *c);
void emu_reset(struct emu_cpu *c);
void emu_load_seg(struct emu_cpu *c, int s, uint16_t sel);
void emu_validate_data_segs(struct emu_cpu *c);
void emu_load_boot_state(struct emu_cpu *c, const struct boot_cpu_state *b);
void emu_write_cr(struct emu_cpu *c, int n, uint64_t v);
uint64_t emu_rdmsr(struct emu_cpu *c, uint32_t msr, bool *ok);
bool emu_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v);
void emu_cpuid(struct emu_cpu *c);
/* CPUID.(leaf, sub) as EAX, EBX, ECX, EDX into out (what emu_cpuid puts
 * in the registers). */
void emu_cpuid_regs(struct emu_cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4]);

/* The AuthenticAMD vendor (sys_amd.c; the model's "amd"). Each is a
 * no-op (false) on the GenuineIntel model. emu_amd_cpuid answers a leaf
 * AMD defines wholly (true); emu_amd_cpuid_fixup adjusts leaves 1 and
 * 0x80000001 after the common code. emu_amd_rdmsr/wrmsr answer AMD's
 * MSRs (true: handled; *ok false: #GP); emu_amd_msr_absent names the
 * Intel-only MSRs that raise #GP on AMD. */
bool emu_cpu_is_amd(const struct emu_cpu *c);
bool emu_amd_cpuid(struct emu_cpu *c, uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *cc,
		   uint32_t *d);
void emu_amd_cpuid_fixup(struct emu_cpu *c, uint32_t leaf, uint32_t *a, uint32_t *d);
bool emu_amd_msr_absent(const struct emu_cpu *c, uint32_t msr);
bool emu_amd_rdmsr(struct emu_cpu *c, uint32_t msr, uint64_t *v);
bool emu_amd_wrmsr(struct emu_cpu *c, uint32_t msr, uint64_t v, bool *ok);
/* The features the software CPU offers on this host (sys_cpuid.c). */
void emu_offered_features(struct cpu_featureset *out);
/* Resolves the VM's --cpu-features request into vm->features and
 * vm->xcr0_mask; an error names a feature this CPU cannot offer. */
int emu_model_init(struct emu_vm *vm, const struct cpu_model *req, struct vmon_error *err);

/* XSAVE (sys_xsave.c): the state components this CPU can have (x87, SSE,
 * AVX, PKRU), their layout, CPUID leaf 0xd, and XSETBV's checks. */
#define XSAVE_COMPONENTS  0x207ULL
#define XSAVE_AVX_OFFSET  576 /* standard and compacted alike: the first extended one */
#define XSAVE_AVX_SIZE	  256
#define XSAVE_PKRU	  0x200ULL /* XCR0 bit 9 */
#define XSAVE_PKRU_OFFSET 2688	   /* standard format: Intel's offset (CPUID 0xd.9) */
#define XSAVE_PKRU_SIZE	  8
/* Bytes of a standard-format XSAVE area holding the components of xcr0
 * (header included). */
uint32_t emu_xsave_size(uint64_t xcr0);
/* The same in the compacted format (XCOMP_BV's bits), and where PKRU sits
 * in it (after AVX when that is there; no 64-byte alignment). */
uint32_t emu_xsave_size_compact(uint64_t comp);
uint32_t emu_xsave_pkru_compact(uint64_t comp);
void emu_xsave_cpuid(struct emu_cpu *c, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *cc,
		     uint32_t *d);
/* XSETBV: sets XCR idx to v, or raises #GP(0) for a value the manual
 * forbids (ECX != 0, x87 off, AVX without SSE, a component not offered). */
void emu_write_xcr(struct emu_cpu *c, uint32_t idx, uint64_t v);

/* Debug registers (sys_debug.c). MOV from/to DRn (n 0-7), with the
 * faults the SDM gives (#UD for DR4/5 with CR4.DE, #GP for reserved bits,
 * #DB for DR7.GD). emu_dbg_update recomputes dbg_on/dbg_data from DR7;
 * emu_dbg_check_insn raises the #DB fault of an instruction breakpoint
 * at CS:RIP (the caller checks RF). */
uint64_t emu_read_dr(struct emu_cpu *c, int n);
void emu_write_dr(struct emu_cpu *c, int n, uint64_t v);
void emu_dbg_update(struct emu_cpu *c);
void emu_dbg_check_insn(struct emu_cpu *c);
/* An I/O access: the I/O breakpoints (DR7 type 10, with CR4.DE) it hits
 * go to dbg_hits. */
void emu_dbg_port(struct emu_cpu *c, uint16_t port, unsigned size);

void emu_iret(struct emu_cpu *c, int osize);
void emu_far_jump(struct emu_cpu *c, uint16_t sel, uint64_t off, bool call, int osize);
void emu_far_ret(struct emu_cpu *c, int osize, uint16_t pop_extra);
void emu_syscall(struct emu_cpu *c);
void emu_sysret(struct emu_cpu *c, int osize);
/* The CR4 bits the software CPU models (sys_ctl.c). */
uint64_t emu_cr4_valid(const struct emu_cpu *c);
/* PKRU (WRPKRU, XRSTOR, a restore): flushes the TLB if it changes (mmu.c
 * caches no page whose key PKRU restricts). */
void emu_set_pkru(struct emu_cpu *c, uint32_t v);
/* SYSENTER/SYSEXIT: the IA32_SYSENTER_* MSRs' fast system calls (Intel's
 * semantics, 64-bit mode included, on the GenuineIntel model; #UD in
 * long mode on the AuthenticAMD one, as on AMD). */
void emu_sysenter(struct emu_cpu *c);
void emu_sysexit(struct emu_cpu *c, int osize);
/* Reads the descriptor for sel without faulting on the table limit;
 * false for a null selector, real mode, or outside the table. */
bool emu_peek_desc(struct emu_cpu *c, uint16_t sel, uint64_t *raw);

#endif
