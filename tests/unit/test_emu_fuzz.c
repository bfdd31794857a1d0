/* SPDX-License-Identifier: MIT */
/*
 * Robustness of vmon's software CPU against hostile code: random bytes
 * executed in real, 32-bit and 64-bit mode (with random IDT/GDT contents
 * around them) must only ever end the guest (triple fault, stop), never
 * vmon. Some 64-bit runs first enable SSE, XSAVE and AVX (CR4, XCR0 = 7)
 * and sprinkle VEX prefixes through the code, so the vector handlers get
 * hostile operands too. Run under `make SANITIZE=1` to catch undefined
 * behaviour.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/cpu_init.h"
#include "core/machine.h"
#include "cpu/cpu_backend.h"

#define MEM (4u << 20)

static uint64_t rng;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void *stopper(void *arg)
{
	struct machine *m = arg;
	struct timespec ts = {0, 30 * 1000000};
	nanosleep(&ts, NULL);
	vmctl_request_stop(&m->ctl, VM_STOP_USER_QUIT, 0);
	cpu_backend_emu.vcpu_kick(m, 0);
	return NULL;
}

static void run_random(enum boot_cpu_mode mode, uint64_t seed)
{
	struct machine m;
	struct vmon_error err = {{0}};
	memset(&m, 0, sizeof(m));
	assert_int_equal(gm_create(&m.mem, MEM, &err), 0);
	bus_init(&m.pio, "pio");
	bus_init(&m.mmio, "mmio");
	m.ncpus = 1;
	m.backend = &cpu_backend_emu;
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	/* Random everything in the first 64 KiB (IVT/IDT/GDT candidates, code,
	 * stack), then a sane GDT and identity page tables for the entry. */
	uint8_t *ram = gm_ptr(&m.mem, 0, 0x10000);
	assert_non_null(ram);
	for (int i = 0; i < 0x10000; i += 8) {
		uint64_t v = next_rand();
		memcpy(ram + i, &v, 8);
	}
	static const uint64_t gdt[4] = {0, 0x00af9b000000ffffULL, 0x00cf9b000000ffffULL,
					0x00cf93000000ffffULL};
	memcpy(ram + 0x500, gdt, sizeof(gdt));
	uint64_t pml4e = 0x3000 | 7, pdpte = 0x87;
	memcpy(ram + 0x2000, &pml4e, 8);
	memset(ram + 0x2008, 0, 4096 - 8);
	memcpy(ram + 0x3000, &pdpte, 8);
	memset(ram + 0x3008, 0, 4096 - 8);
	if (mode == BOOT_MODE_LONG64 && (seed & 4)) {
		/* A valid IDT whose handlers are more random code, so the
		 * exception paths run many times before the stop. */
		for (int v = 0; v < 256; v++) {
			uint64_t off = 0x4000 + next_rand() % 0xc000;
			uint64_t lo = (off & 0xffff) | (0x08ULL << 16) |
				      ((uint64_t)((next_rand() & 1) ? 0x8f : 0x8e) << 40) |
				      ((off >> 16) & 0xffff) << 48;
			memcpy(ram + 0x1000 + v * 16, &lo, 8);
			memset(ram + 0x1008 + v * 16, 0, 8);
		}
		uint16_t limit = 0xfff;
		uint64_t base = 0x1000;
		memcpy(ram + 0x600, &limit, 2);
		memcpy(ram + 0x602, &base, 8);
		/* lidt [rip + (0x600 - 0x4007)] */
		static const uint8_t lidt[3] = {0x0f, 0x01, 0x1d};
		int32_t rel = 0x600 - 0x4007;
		memcpy(ram + 0x4000, lidt, 3);
		memcpy(ram + 0x4003, &rel, 4);
	}
	if (mode == BOOT_MODE_LONG64 && (seed & 8)) {
		/* mov %cr4,%rax; or $0x40600,%rax; mov %rax,%cr4 (OSFXSR,
		 * OSXMMEXCPT, OSXSAVE); mov $7,%eax; xor %edx,%edx;
		 * xor %ecx,%ecx; xsetbv: x87, SSE and AVX on */
		static const uint8_t avx_on[] = {0x0f, 0x20, 0xe0, 0x48, 0x0d, 0x00, 0x06, 0x04,
						 0x00, 0x0f, 0x22, 0xe0, 0xb8, 0x07, 0x00, 0x00,
						 0x00, 0x31, 0xd2, 0x31, 0xc9, 0x0f, 0x01, 0xd1};
		unsigned at = (seed & 4) ? 0x4007 : 0x4000;
		memcpy(ram + at, avx_on, sizeof(avx_on));
		for (unsigned i = at + sizeof(avx_on); i + 2 < 0x10000; i += 5 + next_rand() % 12)
			ram[i] = (next_rand() & 1) ? 0xc4 : 0xc5;
	}
	m.boot.mode = mode;
	m.boot.rip = 0x4000;
	m.boot.rsp = 0x9000;
	m.boot.cr3 = 0x2000;
	m.boot.real_cs = 0x400;
	if (mode == BOOT_MODE_REAL16)
		m.boot.rip = 0;
	m.boot.gdt_base = 0x500;
	m.boot.gdt_limit = sizeof(gdt) - 1;
	assert_int_equal(cpu_backend_emu.create(&m, &err), 0);
	bus_seal(&m.pio);
	bus_seal(&m.mmio);
	assert_int_equal(cpu_backend_emu.vcpu_create(&m, 0, &err), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stopper, &m), 0);
	cpu_backend_emu.vcpu_run(&m, 0);
	pthread_join(t, NULL);
	cpu_backend_emu.destroy(&m);
	bus_destroy(&m.pio);
	bus_destroy(&m.mmio);
	gm_destroy(&m.mem);
}

static void test_random_code(void **state)
{
	const char *env = getenv("VMON_FUZZ_RUNS");
	int runs = env ? atoi(env) : 40;
	for (int i = 0; i < runs; i++) {
		run_random(BOOT_MODE_REAL16, (uint64_t)i * 3);
		run_random(BOOT_MODE_PROT32, (uint64_t)i * 3 + 1);
		run_random(BOOT_MODE_LONG64, (uint64_t)i * 3 + 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
