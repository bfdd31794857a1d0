/* SPDX-License-Identifier: MIT */
/*
 * Catching an expected exception in a kit guest: arm the catch with the
 * FAULT(insn) asm fragment, which records where the faulting instruction
 * is (fault_rip) and where to resume after it (resume_rip); the hook
 * (installed with rt_set_exception_hook(rt_catch_hook)) records what the
 * CPU delivered in rt_caught and resumes there. An exception nobody armed
 * for falls through to the runtime's "FAIL: unexpected exception".
 */
#ifndef RT_CATCH_H
#define RT_CATCH_H

#include "rt.h"

/* Used by the asm below: globals, addressed RIP-relative. */
extern volatile u64 resume_rip, fault_rip;

struct rt_catch {
	u64 count; /* exceptions caught since rt_catch_reset */
	u64 vector, err, rip, cr2;
};
extern volatile struct rt_catch rt_caught;

/* Forgets what was caught (fields ~0, count 0). */
void rt_catch_reset(void);
/* The exception hook: records, resumes at resume_rip, disarms. */
bool rt_catch_hook(struct rt_frame *f, u64 cr2);

/* Records the fault address (label 2) and the resume address (label 1);
 * the faulting instruction goes between them. Clobbers rax. */
/* Checks that print "ok  " or "BAD " and their name, counting each that
 * did not match in rt_check_failures (a guest ends with rt_fail when it is
 * not 0). */
extern unsigned rt_check_failures;
void rt_expect(const char *name, bool ok);
/* Exactly one exception since rt_catch_reset: VEC with error code ERR at
 * RIP (and CR2 for a #PF). */
void rt_expect_fault(const char *name, u64 vec, u64 err, u64 rip, u64 cr2);
/* No exception since rt_catch_reset. */
void rt_expect_no_fault(const char *name);

#define ARM                                                                                        \
	"lea 1f(%%rip), %%rax\n\tmov %%rax, resume_rip(%%rip)\n\t"                                 \
	"lea 2f(%%rip), %%rax\n\tmov %%rax, fault_rip(%%rip)\n\t"
#define FAULT(insn) ARM "2: " insn "\n1:\n\t"

#endif
