/* SPDX-License-Identifier: MIT */
/*
 * smp: starts the application processors with INIT-SIPI-SIPI (broadcast,
 * all excluding self) through a real-mode trampoline at 0x70000. Each AP
 * goes real -> protected -> long mode on the BSP's page tables, takes a
 * stack by atomic ticket, reads its LAPIC ID and checks in; then every CPU
 * (BSP too) does K `lock incq` on a shared counter. APs beyond cpus=N
 * (ticket >= N) park without checking in.
 * cmdline: cpus=N (default 1), k=K (default 10000), tramp=ADDR (default
 * 0x70000, page aligned, 0x10000..0x9f000).
 */
#include "rt.h"

#define MAX_WAIT 20000000ull /* polls; bounded waits, no timing asserts */

static volatile u64 counter;
static volatile u64 checkin_mask;
static volatile u32 checkins;
static volatile u32 apic_ids[RT_MAX_CPUS];
static volatile u32 parked;
static u64 k_iters, ncpus;

static void add_k(void)
{
	for (u64 i = 0; i < k_iters; i++)
		__asm__ volatile("lock incq %0" : "+m"(counter) : : "memory");
}

void ap_main(unsigned idx)
{
	if (idx >= ncpus) {
		/* More CPUs than cpus=N: park without taking part. */
		__atomic_fetch_add(&parked, 1, __ATOMIC_SEQ_CST);
		return;
	}
	apic_ids[idx] = lapic_id();
	__atomic_fetch_or(&checkin_mask, 1ull << idx, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&checkins, 1, __ATOMIC_SEQ_CST);
	add_k();
}

void kmain(void)
{
	ncpus = cmdline_get_u64("cpus", 1);
	u64 tramp = cmdline_get_u64("tramp", 0x70000);
	k_iters = cmdline_get_u64("k", 10000);
	kprintf("smp: cpus=%lu k=%lu trampoline=0x%lx\n", ncpus, k_iters, tramp);
	if (ncpus < 1 || ncpus > RT_MAX_CPUS)
		rt_fail("cpus=%lu out of range 1..%d", ncpus, RT_MAX_CPUS);
	if ((tramp & 0xfff) || tramp < 0x10000 || tramp > 0x9f000)
		rt_fail("tramp=0x%lx must be page aligned in 0x10000..0x9f000", tramp);

	u32 bsp_id = lapic_id();
	apic_ids[0] = bsp_id;
	lapic_enable();

	if (ncpus > 1) {
		rt_start_aps(tramp);
	}

	add_k();

	u64 want_ck = ncpus - 1, want = ncpus * k_iters;
	u64 w;
	for (w = 0; w < MAX_WAIT && checkins < want_ck; w++)
		cpu_relax();
	for (w = 0; w < MAX_WAIT && counter < want; w++)
		cpu_relax();

	kprintf("cpus=%lu counter=%lu checkins=%u mask=0x%lx\n", ncpus, counter, checkins,
		checkin_mask);
	if (parked)
		kprintf("note: %u extra CPU(s) beyond cpus=%lu parked\n", parked, ncpus);
	/* Which AP took which ticket is a race; the set of APIC ids is not.
	 * Print the set in ascending order so backends compare byte for byte. */
	u64 id_set = 0;
	for (u32 i = 1; i < RT_MAX_CPUS; i++)
		if ((checkin_mask & (1ull << i)) && apic_ids[i] < 64)
			id_set |= 1ull << apic_ids[i];
	kprintf("apic ids: bsp=%u aps=", bsp_id);
	for (u32 id = 0; id < 64; id++)
		if (id_set & (1ull << id))
			kprintf("%u ", id);
	kprintf("\n");

	if (checkins < want_ck)
		rt_fail("only %u of %lu APs checked in (mask 0x%lx)", checkins, want_ck,
			checkin_mask);
	if (checkins > want_ck)
		rt_fail("%u APs checked in, more than cpus=%lu allows", checkins, ncpus);
	for (u32 i = 0; i < ncpus; i++)
		for (u32 j = i + 1; j < ncpus; j++)
			if (apic_ids[i] == apic_ids[j])
				rt_fail("cpu %u and cpu %u share APIC ID %u", i, j, apic_ids[i]);
	if (counter != want)
		rt_fail("counter=%lu, expected %lu", counter, want);
	rt_pass();
}
