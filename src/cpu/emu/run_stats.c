/* SPDX-License-Identifier: MIT */
/*
 * VMON_EMU_STATS=1: what the software CPU did, printed per vCPU when it
 * stops -- instructions and their rate, the share run as host code, and
 * where the run loop's C code was entered from (lookups, translated blocks
 * that came back, slow-path visits, code epochs, and the instructions that
 * end the blocks the interpreter runs). The counters are bumped only when
 * stats is on; this file owns turning them on and printing them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cpu/emu/native.h"
#include "cpu/emu/run.h"
#include "cpu/emu/table.h"

void emu_stats_init(struct emu_cpu *c)
{
	const char *st = getenv("VMON_EMU_STATS");
	if (!st || !*st || *st == '0')
		return;
	/* stat_end_row[I_COUNT..2*I_COUNT): emu_stats_hot_interp's rows */
	c->stat_end_row = calloc(2 * (size_t)I_COUNT, sizeof(*c->stat_end_row));
	c->stats = c->stat_end_row != NULL;
}

void emu_stats_free(struct emu_cpu *c)
{
	free(c->stat_end_row);
	c->stat_end_row = NULL;
	c->stats = false;
}

void emu_stats_hot_interp(struct emu_cpu *c, const struct dblock *b, const struct dinsn *end)
{
	if (b->runs < c->native_hot || (b->tag & 0xf) != BLOCK_TAG(0, 8))
		return;
	uint64_t *rows = c->stat_end_row + I_COUNT;
	for (const struct dinsn *d = b->insn; d < end;) {
		if (d->label == emu_op_labels[FOP_f_native]) {
			const struct native_hdr *h =
				(const void *)(c->native_rx + ((size_t)d->imm2 << 8));
			d += h->n ? h->n : 1;
			continue;
		}
		rows[d->row]++;
		d++;
	}
}

/* The 16 largest of rows[0..I_COUNT) after a label, on one line. The top
 * rows by a selection, no qsort: glibc's may ask the kernel for the
 * memory size, a system call seccomp does not allow here. */
static void print_top(int cpu, const char *what, const uint64_t *rows)
{
	fprintf(stderr, "vmon: emu: cpu%d: %s:", cpu, what);
	uint64_t last = UINT64_MAX;
	for (unsigned k = 0; k < 16; k++) {
		unsigned best = 0;
		uint64_t n = 0;
		for (unsigned r = 0; r < I_COUNT; r++)
			if (rows[r] < last && rows[r] > n) {
				n = rows[r];
				best = r;
			}
		if (!n)
			break;
		fprintf(stderr, " %s %llu", emu_insn_names[best], (unsigned long long)n);
		last = n;
	}
	fprintf(stderr, "\n");
}

void emu_stats_print(const struct emu_cpu *c, double secs)
{
	if (!c->stats)
		return;
	int i = c->index;
	unsigned long long icount = c->icount, native = c->native_insns;
	fprintf(stderr, "vmon: emu: cpu%d: %llu instructions in %.3f s (%.1f M/s)\n", i, icount,
		secs, secs > 0 ? (double)icount / secs / 1e6 : 0.0);
	fprintf(stderr,
		"vmon: emu: cpu%d: %llu blocks decoded, %llu cache flushes, %llu native runs "
		"(%llu left early to the interpreter, %llu exits chained), %llu code epochs; "
		"%.1f%% of instructions ran as host code (%llu interpreted)\n",
		i, (unsigned long long)c->blocks_built, (unsigned long long)c->block_flushes,
		(unsigned long long)c->native_runs, (unsigned long long)c->native_bails,
		(unsigned long long)c->native_links, (unsigned long long)c->code_epoch,
		icount ? 100.0 * (double)native / (double)icount : 0.0, icount - native);
	fprintf(stderr,
		"vmon: emu: cpu%d: run loop: %llu block lookups, %llu slow-path visits; "
		"%llu translated blocks entered from C, %llu came back by a chain exit "
		"(%llu through an unlinked jump); %llu blocks interpreted\n",
		i, (unsigned long long)c->stat_lookups, (unsigned long long)c->stat_slow,
		(unsigned long long)c->stat_tb_enter, (unsigned long long)c->stat_tb_chain,
		(unsigned long long)c->stat_tb_unlinked, (unsigned long long)c->stat_interp);
	_Static_assert(EXIT_WHY_COUNT <= sizeof(c->stat_exit_why) / sizeof(*c->stat_exit_why),
		       "cpu.h: stat_exit_why");
	_Static_assert(EPOCH_WHY_COUNT <= sizeof(c->stat_epoch_why) / sizeof(*c->stat_epoch_why),
		       "cpu.h: stat_epoch_why");
	const uint64_t *w = c->stat_exit_why, *e = c->stat_epoch_why;
	fprintf(stderr,
		"vmon: emu: cpu%d: unlinked exits: %llu into a block whose bytes changed, "
		"%llu linked then (%llu jump-cache fills), %llu target cold, %llu target not "
		"translated, %llu refused, %llu no block or site, %llu linked already\n",
		i, (unsigned long long)w[EXIT_EPOCH],
		(unsigned long long)(w[EXIT_LINK_MADE] + w[EXIT_JC_FILLED]),
		(unsigned long long)w[EXIT_JC_FILLED], (unsigned long long)w[EXIT_LINK_COLD],
		(unsigned long long)w[EXIT_LINK_PLAIN], (unsigned long long)w[EXIT_LINK_REFUSE],
		(unsigned long long)w[EXIT_LINK_NONE], (unsigned long long)w[EXIT_LINK_HAVE]);
	fprintf(stderr,
		"vmon: emu: cpu%d: chained entries compared in a new code epoch: %llu matched, "
		"%llu differed\n",
		i, (unsigned long long)c->stat_rechecks[1],
		(unsigned long long)c->stat_rechecks[0]);
	uint64_t named = e[EPOCH_SYNC] + e[EPOCH_QUIET] + e[EPOCH_XWRITE] + e[EPOCH_EXC];
	fprintf(stderr,
		"vmon: emu: cpu%d: code epochs: %llu events/interrupts, %llu quiet visits, %llu "
		"other vCPUs' code writes, %llu exceptions, %llu own code writes and other\n",
		i, (unsigned long long)e[EPOCH_SYNC], (unsigned long long)e[EPOCH_QUIET],
		(unsigned long long)e[EPOCH_XWRITE], (unsigned long long)e[EPOCH_EXC],
		(unsigned long long)(c->code_epoch > named ? c->code_epoch - named : 0));
	fprintf(stderr,
		"vmon: emu: cpu%d: SMP: %llu PAUSEs (%llu host yields in spin loops), %llu IPIs "
		"sent, %llu sleeps (HLT, wait-for-SIPI) for %.3f s\n",
		i, (unsigned long long)c->stat_pauses, (unsigned long long)c->stat_pause_yields,
		(unsigned long long)c->stat_ipis, (unsigned long long)c->stat_sleeps,
		(double)c->stat_sleep_ns / 1e9);
	fprintf(stderr,
		"vmon: emu: cpu%d: TLB: %llu fills (misses), %llu whole flushes, %llu CR3 writes "
		"(%llu keeping the PCID), %llu INVLPG, INVPCID by type %llu/%llu/%llu/%llu\n",
		i, (unsigned long long)c->stat_tlb_fills, (unsigned long long)c->stat_tlb_flushes,
		(unsigned long long)c->stat_cr3, (unsigned long long)c->stat_cr3_keep,
		(unsigned long long)c->stat_invlpg, (unsigned long long)c->stat_invpcid[0],
		(unsigned long long)c->stat_invpcid[1], (unsigned long long)c->stat_invpcid[2],
		(unsigned long long)c->stat_invpcid[3]);
	print_top(i, "interpreted blocks end in", c->stat_end_row);
	print_top(i, "instructions interpreted in hot 64-bit blocks, by row",
		  c->stat_end_row + I_COUNT);
}
