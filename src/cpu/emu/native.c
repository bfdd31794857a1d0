/* SPDX-License-Identifier: MIT */
/*
 * Native runs: a run of guest instructions that only compute on general
 * registers and flags (MOV/ADD/IMUL/SHL/CMOVcc/SETcc/LEA ... between
 * registers and immediates) is compiled into host code once its block is
 * hot, and runs as one step of the interpreter instead of one dispatch per
 * instruction.
 *
 * The host is x86-64 too, so guest register n lives in host register n
 * for the length of the run: the code loads the registers the run uses
 * from struct emu_cpu.r[], executes the run's instructions, and stores
 * back the ones it wrote, with the guest's arithmetic flags carried in the
 * host's RFLAGS. The guest never chooses the host bytes: every instruction
 * is checked against insns.def's native column and its operand rules
 * (native_check.c), then re-encoded by Zydis' encoder from its decoded
 * form and decoded again to confirm it is the same instruction; memory
 * operands go through an inline TLB check (native_emit.c). Prologue,
 * epilogue and checks are vmon's own (native_enc.c). Code goes through a
 * writable mapping of a memfd and runs from a second, read+execute,
 * mapping of it: no page is ever writable and executable at once.
 *
 * This file: the code arena, and compiling a hot block's runs. Host code
 * lives as long as the blocks that use it: both arenas are dropped
 * together (cache.c: blocks_flush).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cpuid.h>
#include <unistd.h>

#include "cpu/emu/native_priv.h"

bool emu_native_init(struct emu_cpu *c)
{
	/* VMON_EMU_NATIVE=0: off; =eager: compile every block on its first
	 * entry (tests: generated code runs once); default: hot blocks, those
	 * entered NATIVE_HOT_RUNS times (VMON_EMU_HOT=N: N times, 1 to
	 * 65536; tests whose loops were sized for another threshold). */
	const char *mode = getenv("VMON_EMU_NATIVE");
	if (mode && !strcmp(mode, "0"))
		return false;
	/* The compiled code moves the guest's flags with LAHF/SAHF, which
	 * the first x86-64 processors lacked in 64-bit mode. */
	unsigned a, b, cx, d;
	if (!__get_cpuid(0x80000001, &a, &b, &cx, &d) || !(cx & 1))
		return false;
	const char *verify = getenv("VMON_EMU_NATIVE_VERIFY");
	native_verify_encoding = verify && *verify && *verify != '0';
	int fd = memfd_create("vmon-emu-code", MFD_CLOEXEC);
	if (fd < 0)
		return false;
	void *rw = MAP_FAILED, *rx = MAP_FAILED;
	if (ftruncate(fd, NATIVE_ARENA_BYTES) == 0) {
		rw = mmap(NULL, NATIVE_ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		rx = mmap(NULL, NATIVE_ARENA_BYTES, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	}
	close(fd);
	if (rw == MAP_FAILED || rx == MAP_FAILED) {
		if (rw != MAP_FAILED)
			munmap(rw, NATIVE_ARENA_BYTES);
		if (rx != MAP_FAILED)
			munmap(rx, NATIVE_ARENA_BYTES);
		return false;
	}
	c->native_rw = rw;
	c->native_rx = rx;
	/* Only with an arena: without one no block is ever offered for
	 * compiling (native_hot stays 0). */
	const char *hot = getenv("VMON_EMU_HOT");
	long n = hot ? strtol(hot, NULL, 10) : 0;
	c->native_hot = mode && !strcmp(mode, "eager") ? 1
			: n >= 1 && n <= 65536	       ? (uint32_t)n
						       : NATIVE_HOT_RUNS;
	c->native_used = 0;
	/* VMON_EMU_CHAIN=0: whole blocks are compiled as plain runs, never
	 * chained (native_chain.c). */
	const char *chain = getenv("VMON_EMU_CHAIN");
	c->native_chain = !(chain && !strcmp(chain, "0"));
	return true;
}

void emu_native_destroy(struct emu_cpu *c)
{
	if (c->native_rw)
		munmap(c->native_rw, NATIVE_ARENA_BYTES);
	if (c->native_rx)
		munmap((void *)(uintptr_t)c->native_rx, NATIVE_ARENA_BYTES);
	c->native_rw = NULL;
	c->native_rx = NULL;
}

void emu_native_flush(struct emu_cpu *c)
{
	c->native_used = 0;
	c->link_site = 0; /* the exit it named is gone with the arena */
	emu_jcache_clear(c);
}

enum emu_exit_why emu_native_link(struct emu_cpu *c, const struct dblock *b)
{
	uint64_t site = c->link_site;
	c->link_site = 0;
	if (!b || !c->native_rx)
		return EXIT_LINK_NONE;
	if (b->insn[0].label != emu_op_labels[FOP_f_native])
		return b->runs < c->native_hot ? EXIT_LINK_COLD : EXIT_LINK_PLAIN;
	const struct native_hdr *h = (const void *)(c->native_rx + ((size_t)b->insn[0].imm2 << 8));
	if (site == NATIVE_SITE_JCACHE) {
		/* b is where the exit's RIP leads at this CPL in this
		 * address space (the lookup that found it used this TLB; the
		 * key carries the PCID's tag, INVLPG empties the cache). */
		if (!h->chain_off || h->block != b)
			return EXIT_LINK_PLAIN;
		if (h->cpl != c->cpl || (c->cpl != 0 && c->cpl != 3))
			return EXIT_LINK_REFUSE;
		struct jc_entry *j = &c->jcache[c->cpl == 3][jc_index(c->rip)];
		uint64_t key = c->rip ^ c->jc_key;
		const uint8_t *entry = (const uint8_t *)(uintptr_t)h->fn + h->chain_off;
		if (j->key == key && j->entry == entry)
			return EXIT_LINK_HAVE;
		j->key = key;
		j->entry = entry;
		c->native_links++;
		return EXIT_JC_FILLED;
	}
	uint64_t rx = (uint64_t)(uintptr_t)c->native_rx;
	if (!h->chain_off || h->block != b)
		return EXIT_LINK_PLAIN;
	if (h->cpl != c->cpl || h->valid != c->link_valid || site < rx ||
	    site + 4 > rx + c->native_used)
		return EXIT_LINK_REFUSE;
	uint64_t target = (uint64_t)(uintptr_t)h->fn + h->chain_off;
	int32_t rel = (int32_t)(int64_t)(target - (site + 4)), cur;
	memcpy(&cur, c->native_rw + (site - rx), 4);
	if (cur == rel)
		return EXIT_LINK_HAVE; /* linked already (it left for the budget or an event) */
	memcpy(c->native_rw + (site - rx), &rel, 4);
	c->native_links++;
	return EXIT_LINK_MADE;
}

/* Copies the emitted code into the arena at a 256-byte slot; the slot
 * number, or -1 when the arena is full (until the next flush). */
static long place(struct emu_cpu *c, const struct emitter *e, const struct native_hdr *h)
{
	_Static_assert(sizeof(struct native_hdr) == 32, "native_chain.c: hdr_back");
	size_t at = (c->native_used + 255) & ~(size_t)255;
	size_t need = sizeof(*h) + e->len;
	if (at + need > NATIVE_ARENA_BYTES || (at >> 8) > UINT16_MAX)
		return -1;
	struct native_hdr hdr = *h;
	hdr.fn = (native_fn *)(uintptr_t)(c->native_rx + at + sizeof(hdr));
	memcpy(c->native_rw + at, &hdr, sizeof(hdr));
	memcpy(c->native_rw + at + sizeof(hdr), e->buf, e->len);
	c->native_used = at + need;
	return (long)(at >> 8);
}

bool emu_native_room(const struct emu_cpu *c)
{
	return !c->native_rx || c->native_used + 64 * NATIVE_MAX_CODE <= NATIVE_ARENA_BYTES;
}

/*
 * A whole block as one translated block (native_chain.c): its exits, which
 * of them stay in the block's page (those may be linked), and its flags.
 * A block whose exits carry the guest's flags loads them first unless it
 * sets all six before any access that may bail out, so every bail-out
 * reports the guest's flags.
 */
static bool block_plan(const struct dblock *b, const struct native_insn *ni, const uint8_t *lens,
		       bool touched, bool need_in, struct native_hdr *h, struct emitter *e,
		       const bool *flive, int cpl)
{
	unsigned n = b->n;
	uint32_t defined = 0;
	for (unsigned k = 0; k < n; k++) {
		if (ni[k].acc != ACC_NONE && touched && defined != NATIVE_ARITH)
			need_in = true;
		defined |= ni[k].defined;
	}
	if (touched && defined != NATIVE_ARITH)
		need_in = true;
	/* Every translated block reports the guest's flags in F_FLAGS, so
	 * any exit may link to any block. One that never touches them keeps
	 * the F_FLAGS it was entered with (from C or the block before),
	 * at its exits and bail-outs alike. */
	const struct native_insn *last = &ni[n - 1];
	uint64_t off = (b->tag >> 4) & 0xfff;
	struct chain_plan p = {
		.block = b,
		.n = n,
		.bytes = h->bytes,
		.flags_in = need_in,
		.valid = true,
		.rflags_guest = touched || need_in,
		.fall = !(last->branch && !last->cond) && !last->ret,
		.taken = last->branch,
		.taken_delta = (int64_t)h->bytes + b->insn[n - 1].imm,
		.hdr_back = sizeof(struct native_hdr),
	};
	p.link_fall = p.fall && off + p.bytes < 4096;
	p.link_taken =
		p.taken && (int64_t)off + p.taken_delta >= 0 && (int64_t)off + p.taken_delta < 4096;
	if (p.taken_delta < INT32_MIN || p.taken_delta > INT32_MAX)
		return false;
	h->flags_in = true; /* C enters it with the guest's flags in F_FLAGS */
	h->valid = p.valid;
	h->block = b;
	uint32_t chain_off = 0;
	if (!emit_block(e, ni, lens, &p, flive, cpl, &chain_off))
		return false;
	h->chain_off = chain_off;
	return true;
}

/*
 * Compiles the runs of a hot 64-bit block. The first instruction of each
 * run gets the native label and the run's slot (see struct dinsn); the
 * run's instructions stay as they are, for the interpreter to take over
 * at any of them.
 */
void emu_native_block(struct emu_cpu *c, struct dblock *b)
{
	/* A whole block is translated at any length when chaining is on (a
	 * short block -- CMP, Jcc -- is what links most hot paths); a plain
	 * run needs NATIVE_MIN_RUN instructions to pay for its C call. */
	if (!c->native_rx || (b->tag & 0xf) != BLOCK_TAG(0, 8) ||
	    b->n < (c->native_chain ? 1 : NATIVE_MIN_RUN))
		return;
	const uint8_t *bytes = dblock_bytes(b);
	unsigned n = b->n;
	struct native_insn ni[BLOCK_MAX_INSNS];
	uint8_t lens[BLOCK_MAX_INSNS];
	bool ok[BLOCK_MAX_INSNS], reads[BLOCK_MAX_INSNS], writes_all[BLOCK_MAX_INSNS];
	bool live_after[BLOCK_MAX_INSNS];
	unsigned pos = 0;
	for (unsigned i = 0; i < n; i++) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&c->vm->dec64, bytes + pos, b->nbytes - pos,
						       &in, ops)) ||
		    in.length != b->insn[i].len)
			return;
		ok[i] = native_check(&c->vm->dec64, &in, ops, &ni[i]);
		lens[i] = in.length;
		reads[i] = !in.cpu_flags || (in.cpu_flags->tested & NATIVE_ARITH);
		writes_all[i] = emu_insns[b->insn[i].row].attr & A_KILLS;
		pos += in.length;
		/* A block ending in CALL rel32 or RET is translated whole
		 * (never a plain run: see native_check_tail). */
		if (!ok[i] && i == n - 1 && c->native_chain)
			ok[i] = native_check_tail(&in, ops, &ni[i]);
	}
	if (ni[n - 1].call || ni[n - 1].ret)
		for (unsigned i = 0; i + 1 < n; i++)
			if (!ok[i])
				ok[n - 1] = false;
	/* Are the flags observed after instruction i? As in decode.c's
	 * dead-flag pass: yes before anything that is not register-only,
	 * and at the block's end. */
	bool live = true;
	for (unsigned i = n; i-- > 0;) {
		live_after[i] = live;
		bool reg_only = (ok[i] && ni[i].acc == ACC_NONE) ||
				(emu_ops[b->insn[i].fop].attr & O_REGONLY);
		live = reads[i] || !reg_only || (live && !writes_all[i]);
	}

	/* A CALL or RET accepted by native_check_tail is host code only as
	 * the end of a whole translated block. A plain run has no exit for
	 * it: it would take CALL for a JMP (no return address pushed) and
	 * RET for a POP that falls through to the bytes after it. A block
	 * longer than a run may be (255 bytes) is split into runs even when
	 * every instruction is eligible, so the tail is checked per run
	 * (until 2026-12-07 it was not: sock_init_data_uid's 285-byte block
	 * ending in RET ran its RET as a POP and went on into the int3
	 * padding after it -- issue 16). */
	bool tail = ni[n - 1].call || ni[n - 1].ret;
	for (unsigned i = 0; i < n;) {
		unsigned j = i, run_bytes = 0;
		while (j < n && ok[j] && run_bytes + lens[j] <= 255)
			run_bytes += lens[j++];
		if (tail && j == n && !(c->native_chain && i == 0))
			run_bytes -= lens[--j];
		if (j - i < NATIVE_MIN_RUN && !(c->native_chain && i == 0 && j == n)) {
			i = j > i ? j : i + 1;
			continue;
		}
		/* Which flags the run needs from before it, which bail-outs
		 * and which end report flags, and where inside the run the
		 * guest's flags must survive an address computation. */
		uint32_t defined = 0;
		bool need_in = false, touched = false;
		for (unsigned k = i; k < j; k++) {
			if (ni[k].tested & ~defined)
				need_in = true;
			if (ni[k].acc != ACC_NONE && touched && defined != NATIVE_ARITH)
				need_in = true;
			defined |= ni[k].defined;
			touched |= ni[k].written != 0;
		}
		bool flags_out = touched && live_after[j - 1];
		if (flags_out && defined != NATIVE_ARITH)
			need_in = true;
		bool flive[BLOCK_MAX_INSNS];
		bool l = flags_out || !touched;
		for (unsigned k = j; k-- > i;) {
			flive[k - i] = l;
			l = ni[k].tested || (l && ni[k].defined != NATIVE_ARITH) ||
			    ni[k].acc != ACC_NONE;
		}
		struct emitter e = {.len = 0, .failed = false, .nfix = 0};
		struct native_hdr h = {.n = (uint8_t)(j - i),
				       .bytes = (uint8_t)run_bytes,
				       .cpl = (uint8_t)c->cpl,
				       .flags_in = need_in};
		bool ok_emit;
		if (c->native_chain && i == 0 && j == n) {
			ok_emit = block_plan(b, ni, lens, touched, need_in, &h, &e, flive, c->cpl);
		} else {
			ok_emit = emit_run(&e, &ni[i], &lens[i], j - i, need_in, flags_out, flive,
					   c->cpl);
		}
		long slot = ok_emit ? place(c, &e, &h) : -1;
		if (slot < 0) {
			i = j;
			continue;
		}
		struct dinsn *d = &b->insn[i];
		d->label = emu_op_labels[FOP_f_native];
		d->imm2 = (uint16_t)slot;
		c->native_runs++;
		i = j;
	}
}
