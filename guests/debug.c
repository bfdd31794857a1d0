/* SPDX-License-Identifier: MIT */
/*
 * debug: the debug exceptions (SDM vol. 3B ch. 17).
 *  - INT3: #BP with RIP after the INT3; INT1 (0xf1): #DB with RIP after it.
 *  - Single-step: TF set by POPF traps after each following instruction
 *    (not after the POPF that set it, but after the one that clears it),
 *    each #DB with DR6.BS and RIP at the next instruction; none right
 *    after a MOV SS (the next trap covers it).
 *  - Instruction breakpoint: DR0 at a label, DR7.L0 type 00: #DB before
 *    the instruction (RIP at it, DR6.B0); the handler sets RF in the frame
 *    so the instruction then runs; hit once per pass; DR7 = 0 stops it.
 *  - Data breakpoints (write, read/write) and an I/O breakpoint: #DB
 *    traps after the access, DR6.Bn.
 *  - DR6/DR7 read back with their fixed bits; DR5 is DR7 without CR4.DE.
 *  - DR7.GD: a MOV DR is a #DB fault with DR6.BD, GD then cleared.
 * The events (vector, DR6 low bits, RIP relative to the test's labels) are
 * printed, so backends compare byte for byte.
 * cmdline: int1=0 leaves INT1 out (QEMU 7.2's TCG makes it #UD), gd=0
 * general detect (QEMU 7.2's TCG ignores DR7.GD).
 */
#include "rt.h"

#define MAX_EV 32
struct ev {
	u8 vec;
	u16 dr6;
	u64 rip;
};
static volatile struct ev evs[MAX_EV];
static volatile u32 nev;
static volatile bool set_rf;

static u64 read_dr6(void)
{
	u64 v;
	__asm__ volatile("mov %%db6, %0" : "=r"(v));
	return v;
}
static u64 read_dr7(void)
{
	u64 v;
	__asm__ volatile("mov %%db7, %0" : "=r"(v));
	return v;
}
static void write_dr6(u64 v) { __asm__ volatile("mov %0, %%db6" : : "r"(v)); }
static void write_dr7(u64 v) { __asm__ volatile("mov %0, %%db7" : : "r"(v)); }
static void write_dr0(u64 v) { __asm__ volatile("mov %0, %%db0" : : "r"(v)); }
static void write_dr1(u64 v) { __asm__ volatile("mov %0, %%db1" : : "r"(v)); }
static void write_dr2(u64 v) { __asm__ volatile("mov %0, %%db2" : : "r"(v)); }

static volatile u32 watched;

static bool on_exception(struct rt_frame *f, u64 cr2)
{
	(void)cr2;
	if (f->vector != 1 && f->vector != 3)
		return false;
	u64 dr6 = read_dr6();
	if (nev < MAX_EV)
		evs[nev] = (struct ev){.vec = (u8)f->vector, .dr6 = (u16)(dr6 & 0x600f), .rip = f->rip};
	nev++;
	write_dr6(0xffff0ff0);
	if (f->vector == 1 && set_rf && (dr6 & 0xf))
		f->rflags |= 1ull << 16; /* RF: the instruction runs on return */
	return true;
}

extern const char step_start[], step_1[], step_2[], step_3[], step_4[], step_5[], step_6[];
extern const char ss_1[], ss_3[];
extern const char bp_at[], int3_after[], int1_after[], gd_at[], wp_after[], rp_after[],
	io_after[];

/* The stepped sequence: POPF sets TF; three NOPs; PUSHF, AND, POPF clear
 * it. Traps after nop, nop, nop, pushf, and, popf. */
static void stepped(void)
{
	__asm__ volatile("pushfq\n\t"
			 "orq $0x100, (%%rsp)\n\t"
			 ".globl step_start\n"
			 "step_start:\n\t"
			 "popfq\n\t"
			 "nop\n"
			 ".globl step_1\n"
			 "step_1:\n\t"
			 "nop\n"
			 ".globl step_2\n"
			 "step_2:\n\t"
			 "nop\n"
			 ".globl step_3\n"
			 "step_3:\n\t"
			 "pushfq\n"
			 ".globl step_4\n"
			 "step_4:\n\t"
			 "andq $~0x100, (%%rsp)\n"
			 ".globl step_5\n"
			 "step_5:\n\t"
			 "popfq\n"
			 ".globl step_6\n"
			 "step_6:\n\t"
			 "nop\n" ::
				 : "memory", "cc");
}

/* MOV SS holds the trap off for one instruction: traps after the MOV to
 * AX, then after the NOP (for MOV SS and NOP), then the clearing three. */
static void stepped_mov_ss(void)
{
	__asm__ volatile("pushfq\n\t"
			 "orq $0x100, (%%rsp)\n\t"
			 "popfq\n\t"
			 "mov %%ss, %%ax\n"
			 ".globl ss_1\n"
			 "ss_1:\n\t"
			 "mov %%ax, %%ss\n\t"
			 "nop\n"
			 ".globl ss_3\n"
			 "ss_3:\n\t"
			 "pushfq\n\t"
			 "andq $~0x100, (%%rsp)\n\t"
			 "popfq\n" ::
				 : "rax", "memory", "cc");
}

static __attribute__((noinline)) u64 breakpointed(u64 x)
{
	u64 r;
	__asm__ volatile(".globl bp_at\n"
			 "bp_at:\n\t"
			 "lea 1(%1), %0\n"
			 : "=r"(r)
			 : "r"(x));
	return r;
}

static const char *name_of(u64 rip)
{
	static const struct {
		const char *at;
		const char *name;
	} labels[] = {
		{step_1, "step_1"}, {step_2, "step_2"}, {step_3, "step_3"}, {step_4, "step_4"},
		{step_5, "step_5"}, {step_6, "step_6"}, {bp_at, "bp_at"},   {int3_after, "int3_after"},
		{int1_after, "int1_after"}, {gd_at, "gd_at"}, {wp_after, "wp_after"},
		{rp_after, "rp_after"}, {io_after, "io_after"}, {ss_1, "ss_1"},
		{ss_3, "ss_3"},
	};
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if ((u64)(uintptr_t)labels[i].at == rip)
			return labels[i].name;
	return "?";
}

static void print_events(u32 from)
{
	for (u32 i = from; i < nev && i < MAX_EV; i++)
		kprintf("  #%s dr6=%x at %s\n", evs[i].vec == 1 ? "DB" : "BP", evs[i].dr6,
			name_of(evs[i].rip));
}

static bool expect(u32 from, u32 n, const u8 *vec, const u16 *dr6, const char *const *at)
{
	if (nev - from != n)
		return false;
	for (u32 i = 0; i < n; i++) {
		const volatile struct ev *e = &evs[from + i];
		if (e->vec != vec[i] || e->dr6 != dr6[i] ||
		    e->rip != (u64)(uintptr_t)at[i])
			return false;
	}
	return true;
}

void kmain(void)
{
	u64 int1 = cmdline_get_u64("int1", 1), gd = cmdline_get_u64("gd", 1);
	kprintf("debug: int3, int1, single-step, instruction breakpoint\n");
	rt_set_exception_hook(on_exception);
	write_dr6(0xffff0ff0);

	/* INT3 and INT1 */
	u32 from = nev;
	__asm__ volatile("int3\n"
			 ".globl int3_after\n"
			 "int3_after:\n" ::
				 : "memory");
	if (int1)
		__asm__ volatile(".byte 0xf1\n"
				 ".globl int1_after\n"
				 "int1_after:\n" ::
					 : "memory");
	print_events(from);
	{
		static const u8 v[] = {3, 1};
		static const u16 d[] = {0, 0};
		const char *const at[] = {int3_after, int1_after};
		if (!expect(from, int1 ? 2 : 1, v, d, at))
			rt_fail("INT3/INT1: %u events, see above", nev - from);
	}

	/* Single-step */
	from = nev;
	stepped();
	print_events(from);
	{
		static const u8 v[] = {1, 1, 1, 1, 1, 1};
		static const u16 d[] = {0x4000, 0x4000, 0x4000, 0x4000, 0x4000, 0x4000};
		const char *const at[] = {step_1, step_2, step_3, step_4, step_5, step_6};
		if (!expect(from, 6, v, d, at))
			rt_fail("single-step: %u events, see above", nev - from);
	}

	from = nev;
	stepped_mov_ss();
	print_events(from);
	if (nev - from != 5 || evs[from].rip != (u64)(uintptr_t)ss_1 ||
	    evs[from + 1].rip != (u64)(uintptr_t)ss_3)
		rt_fail("single-step over MOV SS: %u events, see above", nev - from);

	/* Instruction breakpoint on bp_at, two passes, then off. */
	from = nev;
	set_rf = true;
	write_dr0((u64)(uintptr_t)bp_at);
	write_dr7(0x1); /* L0, execute, length 1 */
	u64 dr7 = read_dr7();
	u64 sum = breakpointed(1) + breakpointed(2);
	write_dr7(0);
	sum += breakpointed(3);
	print_events(from);
	kprintf("dr7=0x%lx sum=%lu\n", dr7, sum);
	{
		static const u8 v[] = {1, 1};
		static const u16 d[] = {0x1, 0x1};
		const char *const at[] = {bp_at, bp_at};
		if (!expect(from, 2, v, d, at))
			rt_fail("breakpoint: %u events, see above", nev - from);
	}
	if (dr7 != 0x401)
		rt_fail("DR7 read back 0x%lx, expected 0x401", dr7);
	if (sum != 2 + 3 + 4)
		rt_fail("the breakpointed function returned a sum of %lu, expected 9", sum);
	if (read_dr6() != 0xffff0ff0)
		rt_fail("DR6 0x%lx after writing 0xffff0ff0", read_dr6());

	/* Data breakpoints on `watched` (DR1, 4 bytes): write-only ignores a
	 * read and traps after the write; read/write traps after a read. */
	from = nev;
	set_rf = false;
	u32 r = 0;
	write_dr1((u64)(uintptr_t)&watched);
	write_dr7(0x4 | (1u << 20) | (3u << 22)); /* L1, write, 4 bytes */
	r += watched;
	__asm__ volatile("movl $5, %0\n"
			 ".globl wp_after\n"
			 "wp_after:"
			 : "=m"(watched));
	write_dr7(0x4 | (3u << 20) | (3u << 22)); /* L1, read/write, 4 bytes */
	__asm__ volatile("movl %1, %0\n"
			 ".globl rp_after\n"
			 "rp_after:"
			 : "=r"(r)
			 : "m"(watched));
	write_dr7(0);
	/* An I/O breakpoint (CR4.DE, DR2 = port 0x80, type 10). */
	write_cr4(read_cr4() | 0x8);
	write_dr2(0x80);
	write_dr7(0x10 | (2u << 24)); /* L2, I/O, 1 byte */
	__asm__ volatile("outb %%al, $0x80\n"
			 ".globl io_after\n"
			 "io_after:" ::"a"(0)
			 : "memory");
	write_dr7(0);
	write_cr4(read_cr4() & ~0x8ull);
	print_events(from);
	kprintf("watched=%u\n", r);
	{
		static const u8 vv[] = {1, 1, 1};
		static const u16 d[] = {0x2, 0x2, 0x4};
		const char *const at[] = {wp_after, rp_after, io_after};
		if (!expect(from, 3, vv, d, at) || r != 5)
			rt_fail("data/I/O breakpoints: %u events, see above", nev - from);
	}

	/* DR4/DR5 are DR6/DR7 while CR4.DE is clear. */
	u64 dr5;
	write_dr7(0x400 | 0x4); /* L1: an enabled breakpoint elsewhere (DR1 = 0) */
	__asm__ volatile("mov %%db5, %0" : "=r"(dr5));
	write_dr7(0);
	if (dr5 != 0x404)
		rt_fail("DR5 read 0x%lx, expected DR7's 0x404", dr5);

	/* DR7.GD: the next MOV DR is a #DB fault (RIP at it, DR6.BD), GD
	 * cleared so it runs on return. */
	if (!gd)
		rt_pass();
	from = nev;
	set_rf = false;
	write_dr7(0x2000);
	u64 v;
	__asm__ volatile(".globl gd_at\n"
			 "gd_at:\n\t"
			 "mov %%db7, %0"
			 : "=r"(v));
	print_events(from);
	{
		static const u8 vv[] = {1};
		static const u16 d[] = {0x2000};
		const char *const at[] = {gd_at};
		if (!expect(from, 1, vv, d, at))
			rt_fail("general detect: %u events, see above", nev - from);
	}
	if (v != 0x400)
		rt_fail("DR7 0x%lx after the general-detect #DB, expected 0x400", v);
	rt_pass();
}
