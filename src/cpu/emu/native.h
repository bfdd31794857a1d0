/* SPDX-License-Identifier: MIT */
/*
 * Native runs: hot runs of whitelisted 64-bit integer instructions in a
 * decoded block, compiled to host code (native.c has the rules). The run
 * loop enters a run through its first instruction's label; the interpreter
 * can take over at any of the run's instructions.
 */
#ifndef VMON_CPU_EMU_NATIVE_H
#define VMON_CPU_EMU_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/emu/decode.h"

/*
 * A native run (native.c): its first instruction's label is run_blocks'
 * native entry and its imm2 the run's 256-byte slot in the vCPU's code
 * arena, which starts with a struct native_hdr; every instruction of the
 * run keeps its own decoded form, for the interpreter to take over at
 * any of them. (imm2 is otherwise used only by ENTER and far pointers,
 * which never run natively.)
 */
struct native_ret {
	uint64_t rflags; /* host RFLAGS: the guest's arithmetic flags if exit has NATIVE_EXIT_FLAGS
			  */
	uint64_t exit;	 /* low byte: instruction of the run to continue at (n = done) */
};
#define NATIVE_EXIT_FLAGS 0x100
#define NATIVE_EXIT_TAKEN 0x200 /* the run ended in a JMP/Jcc that branched */
/* A translated block (native_chain.c) finished, maybe after chained ones:
 * c->rip, icount and budget are already updated. */
#define NATIVE_EXIT_CHAIN 0x400
typedef struct native_ret native_fn(uint64_t *regs, uint64_t rflags_in, uint64_t rip);
struct native_hdr {
	native_fn *fn;
	uint8_t n;	  /* guest instructions */
	uint8_t bytes;	  /* their length */
	uint8_t cpl;	  /* compiled for this CPL's permission checks */
	uint8_t flags_in; /* pass the guest's arithmetic flags in */
	uint8_t valid;	  /* translated block: RFLAGS are the guest's at its exits */
	uint8_t pad[3];
	/* A translated block (the whole block, native_chain.c): the block,
	 * and the chained entry's offset from fn; 0 for a plain run. */
	const struct dblock *block;
	uint32_t chain_off;
	uint32_t pad2;
};
#define NATIVE_HOT_RUNS 64 /* a block is compiled on its 64th entry, by default */

bool emu_native_init(struct emu_cpu *c); /* false: native runs off (VMON_EMU_NATIVE=0) */
void emu_native_destroy(struct emu_cpu *c);
void emu_native_flush(struct emu_cpu *c);
/* False when the code arena is nearly full: the block cache is flushed. */
bool emu_native_room(const struct emu_cpu *c);
void emu_native_block(struct emu_cpu *c, struct dblock *b);
/* Would the first instruction of code (64-bit) run natively? For tests. */
/* After a translated block's exit (c->link_site): patch that exit to jump
 * straight to b's code when b is a translated block that may follow it. */
/*
 * Why a chain exit came back to the run loop with nothing pending (no
 * budget spent, no event, c->slow clear): VMON_EMU_STATS' breakdown of
 * "through an unlinked jump". emu_native_link returns the EXIT_LINK_* it
 * met; the run loop counts EXIT_EPOCH itself (the target's chained entry
 * found its block not confirmed in this code epoch).
 */
enum emu_exit_why {
	EXIT_EPOCH, /* a link or jump-cache hit into a block whose bytes changed (its recheck) */
	EXIT_LINK_MADE,	  /* target translated: its jump patched now */
	EXIT_JC_FILLED,	  /* target translated: its jump-cache entry filled now */
	EXIT_LINK_COLD,	  /* target not translated yet (entered fewer than native_hot times) */
	EXIT_LINK_PLAIN,  /* target hot but not a translated block (not all eligible, no room) */
	EXIT_LINK_REFUSE, /* target translated, but for another CPL (or other refusal) */
	EXIT_LINK_NONE,	  /* no target block (an instruction alone), or no site (CPL 1/2) */
	EXIT_LINK_HAVE,	  /* linked already (the chained entry's epoch check is counted above) */
	EXIT_WHY_COUNT
};
enum emu_exit_why emu_native_link(struct emu_cpu *c, const struct dblock *b);
/* c->link_site of an exit that looked its target up in the jump cache
 * (a RET, a cross-page exit) and missed: the run loop enters b there. */
#define NATIVE_SITE_JCACHE 1
bool emu_native_accepts(const uint8_t *code, size_t len);
/* With VMON_EMU_NATIVE_VERIFY=1: encodings checked against Zydis so far,
 * and how many disagreed (for tests). */
uint64_t emu_native_encoding_check(uint64_t *mismatched);

#endif
