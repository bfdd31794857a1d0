/* SPDX-License-Identifier: MIT */
/*
 * xmodify: cross-modifying code. The BSP runs a hot loop of two blocks
 * placed in a RAM page (on the software CPU: compiled, chained to each
 * other) that spins while its first instruction, `mov $1, %eax`, loads 1;
 * AP 1 rewrites that immediate to 2 while the loop runs. The BSP must
 * leave the loop, having seen the new instruction, before its bound of
 * iterations runs out. x86 asks the executing CPU to serialize after such
 * a write; this loop does not, so the guest relies only on the write
 * becoming visible eventually (on the software CPU: at its next slow-path
 * visit, at most 1024 instructions later). Other APs (cpus=N) just check
 * in. cmdline: cpus=N (default 2, 2..RT_MAX_CPUS).
 */
#include "rt.h"

#define MAX_WAIT 200000000ull /* polls; bounded waits, no timing asserts */
#define BOUND	 2000000000ull /* loop iterations before the BSP gives up */

/*
 * 0: mov $1, %eax        b8 01 00 00 00   (the AP patches byte 1 to 2)
 * 5: add %rax, %rcx      48 01 c1
 * 8: dec %rdx            48 ff ca
 * b: jz 1f               74 09
 * d: cmp $2, %eax        83 f8 02
 * 10: mov %eax, %esi     89 c6
 * 12: jne 0              75 ec
 * 14: 1: ret             c3
 */
static const u8 loop_code[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0x48, 0x01, 0xc1, 0x48, 0xff, 0xca,
			       0x74, 0x09, 0x83, 0xf8, 0x02, 0x89, 0xc6, 0x75, 0xec, 0xc3};

static u8 code_page[4096] __attribute__((aligned(4096)));
static volatile u32 running, patched, checkins;
static u64 ncpus;

void ap_main(unsigned idx)
{
	if (idx >= ncpus)
		return;
	__atomic_fetch_add(&checkins, 1, __ATOMIC_SEQ_CST);
	if (idx != 1)
		return;
	for (u64 w = 0; w < MAX_WAIT && !running; w++)
		cpu_relax();
	/* Let the loop get hot (compiled and chained) first. */
	for (u64 w = 0; w < 100000; w++)
		cpu_relax();
	__atomic_store_n(&code_page[1], 2, __ATOMIC_SEQ_CST);
	patched = 1;
}

void kmain(void)
{
	ncpus = cmdline_get_u64("cpus", 2);
	kprintf("xmodify: cpus=%lu\n", ncpus);
	if (ncpus < 2 || ncpus > RT_MAX_CPUS)
		rt_fail("cpus=%lu out of range 2..%d", ncpus, RT_MAX_CPUS);
	memcpy(code_page, loop_code, sizeof(loop_code));
	lapic_enable();
	rt_start_aps(0x70000);
	for (u64 w = 0; w < MAX_WAIT && checkins < ncpus - 1; w++)
		cpu_relax();
	if (checkins != ncpus - 1)
		rt_fail("only %u of %lu APs checked in", checkins, ncpus - 1);

	u64 eax, left = BOUND, sum = 0;
	running = 1;
	__asm__ volatile("call *%[f]"
			 : "=a"(eax), "+d"(left), "+c"(sum)
			 : [f] "r"(code_page)
			 : "rsi", "memory", "cc");
	if (!left)
		rt_fail("the loop never saw the patched instruction (%lu iterations)", (u64)BOUND);
	if ((u32)eax != 2)
		rt_fail("the loop ended with eax=%lu, expected 2", eax);
	for (u64 w = 0; w < MAX_WAIT && !patched; w++)
		cpu_relax();
	kprintf("xmodify: the loop saw the patched instruction\n");
	rt_pass();
}
