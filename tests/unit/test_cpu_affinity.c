/* SPDX-License-Identifier: MIT */
/* --cpu-affinity's grammar (core/cpu_affinity.h): both forms, the
 * continuation of a vCPU's list, and each kind of bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/cpu_affinity.h"

static struct cpu_affinity a; /* large: not on the stack */

static int count(const cpu_set_t *s)
{
	return CPU_COUNT(s);
}

static void test_all_form(void **state)
{
	struct vmon_error err = {{0}};
	assert_int_equal(cpu_affinity_parse("0-3,6", &a, &err), 0);
	assert_true(a.set);
	assert_false(a.per_vcpu);
	assert_string_equal(a.text, "0-3,6");
	for (unsigned v = 0; v < 3; v++) {
		const cpu_set_t *s = cpu_affinity_of(&a, v);
		assert_non_null(s);
		assert_int_equal(count(s), 5);
		assert_true(CPU_ISSET(0, s) && CPU_ISSET(3, s) && CPU_ISSET(6, s));
		assert_false(CPU_ISSET(4, s));
	}
}

static void test_per_vcpu_form(void **state)
{
	struct vmon_error err = {{0}};
	assert_int_equal(cpu_affinity_parse("0:0-1,4,1:2-3", &a, &err), 0);
	assert_true(a.per_vcpu);
	const cpu_set_t *s0 = cpu_affinity_of(&a, 0), *s1 = cpu_affinity_of(&a, 1);
	assert_non_null(s0);
	assert_non_null(s1);
	assert_int_equal(count(s0), 3);
	assert_true(CPU_ISSET(0, s0) && CPU_ISSET(1, s0) && CPU_ISSET(4, s0));
	assert_int_equal(count(s1), 2);
	assert_true(CPU_ISSET(2, s1) && CPU_ISSET(3, s1));
	assert_null(cpu_affinity_of(&a, 2)); /* not named: unbound */
	assert_int_equal(cpu_affinity_parse("0:2,1:3", &a, &err), 0);
	assert_true(CPU_ISSET(2, cpu_affinity_of(&a, 0)) && CPU_ISSET(3, cpu_affinity_of(&a, 1)));
}

static void test_unset(void **state)
{
	memset(&a, 0, sizeof(a));
	assert_null(cpu_affinity_of(&a, 0));
	struct vmon_error err = {{0}};
	assert_int_equal(cpu_affinity_check(&a, 1, &err), 0);
}

static void bad(const char *s, const char *want)
{
	struct vmon_error err = {{0}};
	assert_int_equal(cpu_affinity_parse(s, &a, &err), -1);
	assert_non_null(strstr(err.msg, want));
	assert_false(a.set);
}

static void test_bad(void **state)
{
	bad("", "empty");
	bad("x", "not a CPU list");
	bad("1-", "bad CPU range");
	bad("3-1", "bad CPU range");
	bad("0,", "not a CPU list");
	bad("0;1", "unexpected");
	bad("99999", "not a CPU list");
	bad("2000", "beyond");
	bad("0:1,0:2", "named twice");
	bad("64:0", "bad vCPU number");
	bad("a:0", "bad vCPU number");
	bad("0,1:0", "must start with a vCPU number");
	bad("0:", "not a CPU list");
}

static void test_check(void **state)
{
	struct vmon_error err = {{0}};
	assert_int_equal(cpu_affinity_parse("1:0", &a, &err), 0);
	assert_int_equal(cpu_affinity_check(&a, 1, &err), -1);
	assert_non_null(strstr(err.msg, "vCPU 1 does not exist"));
	assert_int_equal(cpu_affinity_parse("1000", &a, &err), 0);
	assert_int_equal(cpu_affinity_check(&a, 1, &err), -1);
	assert_non_null(strstr(err.msg, "host CPU 1000"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_form), cmocka_unit_test(test_per_vcpu_form),
		cmocka_unit_test(test_unset),	 cmocka_unit_test(test_bad),
		cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
