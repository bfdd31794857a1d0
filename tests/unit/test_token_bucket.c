/* SPDX-License-Identifier: MIT */
/* Unit tests for the token buckets of the device rate limiters
 * (core/token_bucket.h), on a clock the test steps by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/token_bucket.h"

#define MS 1000000ULL

static void test_unlimited(void **state)
{
	struct rl_buckets b;
	struct rl_config c = {0};
	rl_buckets_init(&b, &c, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(rl_buckets_consume(&b, 1 << 20, 0), 0);
	/* size without refill_time does not limit either (Firecracker). */
	c.bw.size = 10;
	rl_buckets_init(&b, &c, 0);
	assert_int_equal(rl_buckets_consume(&b, 100, 0), 0);
}

static void test_bandwidth_rate(void **state)
{
	/* 1000 bytes per 100 ms. */
	struct rl_config c = {.bw = {.size = 1000, .refill_ms = 100}};
	struct rl_buckets b;
	rl_buckets_init(&b, &c, 0);
	assert_int_equal(rl_buckets_consume(&b, 600, 0), 0);
	assert_int_equal(rl_buckets_consume(&b, 400, 0), 0);
	/* Empty: 100 bytes take 10 ms. */
	uint64_t w = rl_buckets_consume(&b, 100, 0);
	assert_int_equal(w, 10 * MS);
	assert_int_not_equal(rl_buckets_consume(&b, 100, 9 * MS), 0);
	assert_int_equal(rl_buckets_consume(&b, 100, 10 * MS), 0);
	/* Over a long run at a steady demand the rate is size/refill_time. */
	uint64_t now = 10 * MS, sent = 0;
	while (now < 10 * 1000 * MS) {
		uint64_t wait = rl_buckets_consume(&b, 300, now);
		if (wait == 0)
			sent += 300;
		else
			now += wait;
	}
	/* 9.99 s at 10000 B/s from an empty bucket, give or take a request. */
	assert_in_range(sent, 99900 - 300, 99900 + 300);
	assert_true(b.bw.throttled > 0);
}

static void test_fractions_add_up(void **state)
{
	/* 3 tokens per 10 ms: stepping 1 ms at a time must not lose the
	 * fractions (0.3 tokens per step). */
	struct rl_config c = {.ops = {.size = 3, .refill_ms = 10}};
	struct rl_buckets b;
	rl_buckets_init(&b, &c, 0);
	unsigned done = 0;
	for (uint64_t t = 0; t <= 1000 * MS; t += MS)
		while (rl_buckets_consume(&b, 0, t) == 0)
			done++;
	/* 3 at the start, then 300 over the second. */
	assert_in_range(done, 302, 303);
}

static void test_one_time_burst(void **state)
{
	struct rl_config c = {.bw = {.size = 100, .one_time_burst = 1000, .refill_ms = 1000}};
	struct rl_buckets b;
	rl_buckets_init(&b, &c, 0);
	assert_int_equal(rl_buckets_consume(&b, 1000, 0), 0); /* the burst */
	assert_int_equal(rl_buckets_consume(&b, 100, 0), 0);  /* the bucket */
	assert_int_not_equal(rl_buckets_consume(&b, 1, 0), 0);
	/* The burst never comes back: after a long pause only size is there. */
	assert_int_equal(rl_buckets_consume(&b, 100, 100000 * MS), 0);
	assert_int_not_equal(rl_buckets_consume(&b, 1, 100000 * MS), 0);
}

static void test_oversize_request(void **state)
{
	/* A request larger than the bucket waits for a full bucket, goes, and
	 * leaves a debt that delays the next one: the rate still holds. */
	struct rl_config c = {.bw = {.size = 100, .refill_ms = 100}};
	struct rl_buckets b;
	rl_buckets_init(&b, &c, 0);
	assert_int_equal(rl_buckets_consume(&b, 500, 0), 0);
	uint64_t w = rl_buckets_consume(&b, 1, 0);
	assert_true(w >= 400 * MS && w <= 402 * MS);
	assert_int_not_equal(rl_buckets_consume(&b, 1, 399 * MS), 0);
	assert_int_equal(rl_buckets_consume(&b, 1, 402 * MS), 0);
}

static void test_ops_and_bw_together(void **state)
{
	/* Both buckets must allow a request; a refusal takes from neither. */
	struct rl_config c = {.bw = {.size = 1000, .refill_ms = 1000},
			      .ops = {.size = 2, .refill_ms = 1000}};
	struct rl_buckets b;
	rl_buckets_init(&b, &c, 0);
	assert_int_equal(rl_buckets_consume(&b, 10, 0), 0);
	assert_int_equal(rl_buckets_consume(&b, 10, 0), 0);
	uint64_t w = rl_buckets_consume(&b, 10, 0); /* ops empty */
	assert_int_equal(w, 500 * MS);
	assert_int_equal(b.bw.budget, 980);
}

static void test_update(void **state)
{
	struct rl_config c = {.bw = {.size = 10, .refill_ms = 1000}};
	struct rl_buckets b;
	rl_buckets_init(&b, &c, 0);
	assert_int_equal(rl_buckets_consume(&b, 10, 0), 0);
	assert_int_not_equal(rl_buckets_consume(&b, 10, 0), 0);
	/* PATCH: a new bandwidth bucket starts full; ops untouched. */
	struct rl_update u = {.has_bw = true, .cfg = {.bw = {.size = 1000, .refill_ms = 1000}}};
	rl_buckets_update(&b, &u, 5 * MS);
	assert_int_equal(rl_buckets_consume(&b, 500, 5 * MS), 0);
	/* Removing the limit (size 0). */
	u.cfg.bw.size = 0;
	rl_buckets_update(&b, &u, 6 * MS);
	assert_int_equal(rl_buckets_consume(&b, 1 << 30, 6 * MS), 0);
}

static void test_receive_charge(void **state)
{
	struct rl_config c = {.bw = {.size = 1500, .refill_ms = 10}};
	struct rl_buckets b;
	rl_buckets_init(&b, &c, 0);
	assert_int_equal(rl_buckets_wait(&b, 0), 0);
	rl_buckets_charge(&b, 3000); /* a frame bigger than what was left */
	uint64_t w = rl_buckets_wait(&b, 0);
	assert_true(w > 10 * MS && w <= 11 * MS);
}

static void test_config_check(void **state)
{
	struct vmon_error err;
	struct tb_config ok = {.size = 1 << 20, .refill_ms = 1000};
	assert_int_equal(tb_config_check(&ok, "bw", &err), 0);
	struct tb_config big = {.size = TB_MAX_TOKENS + 1, .refill_ms = 1};
	assert_int_equal(tb_config_check(&big, "bw", &err), -1);
	struct tb_config slow = {.size = 1, .refill_ms = TB_MAX_REFILL_MS + 1};
	assert_int_equal(tb_config_check(&slow, "bw", &err), -1);
	/* The largest accepted values do not overflow. */
	struct rl_config c = {.bw = {.size = TB_MAX_TOKENS, .refill_ms = TB_MAX_REFILL_MS}};
	struct rl_buckets b;
	rl_buckets_init(&b, &c, 0);
	assert_int_equal(rl_buckets_consume(&b, UINT64_MAX, 0), 0);
	assert_true(rl_buckets_consume(&b, 1, 0) > 0);
	assert_int_equal(rl_buckets_consume(&b, 1, UINT64_MAX / 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),	 cmocka_unit_test(test_bandwidth_rate),
		cmocka_unit_test(test_fractions_add_up), cmocka_unit_test(test_one_time_burst),
		cmocka_unit_test(test_oversize_request), cmocka_unit_test(test_ops_and_bw_together),
		cmocka_unit_test(test_update),		 cmocka_unit_test(test_receive_charge),
		cmocka_unit_test(test_config_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
