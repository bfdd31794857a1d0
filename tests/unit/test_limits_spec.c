/* SPDX-License-Identifier: MIT */
/* The front ends of the rate limiters and the balloon: Firecracker's
 * RateLimiter JSON both ways, the command line's bw=/ops= suboptions
 * (cli/rate_spec.h) and --balloon (cli/balloon_spec.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/rate_limiter_json.h"
#include "cli/balloon_spec.h"
#include "cli/rate_spec.h"

static void rate_limiter_json(void **state)
{
	struct vmon_error err;
	struct rl_update u;
	json_t *o = json_loads(
		"{\"rate_limiter\": {\"bandwidth\": {\"size\": 1048576, "
		"\"one_time_burst\": 4096, \"refill_time\": 100}, "
		"\"ops\": {\"size\": 50, \"one_time_burst\": 0, \"refill_time\": 1000}}}",
		0, NULL);
	assert_int_equal(api_json_rate_limiter(o, "rate_limiter", "drive d", &u, &err), 0);
	assert_true(u.has_bw && u.has_ops);
	assert_int_equal(u.cfg.bw.size, 1048576);
	assert_int_equal(u.cfg.bw.one_time_burst, 4096);
	assert_int_equal(u.cfg.bw.refill_ms, 100);
	assert_int_equal(u.cfg.ops.size, 50);
	json_t *back = api_json_rate_limiter_out(&u.cfg);
	assert_true(json_equal(back, json_object_get(o, "rate_limiter")));
	json_decref(back);
	json_decref(o);
	/* one_time_burst is optional. */
	o = json_loads("{\"r\": {\"ops\": {\"size\": 5, \"refill_time\": 10}}}", 0, NULL);
	assert_int_equal(api_json_rate_limiter(o, "r", "x", &u, &err), 0);
	assert_true(u.has_ops && !u.has_bw);
	assert_int_equal(u.cfg.ops.one_time_burst, 0);
	json_decref(o);
	/* Absent: nothing; a bucket of size 0 does not limit and is not shown. */
	o = json_loads("{\"rate_limiter\": {\"ops\": {\"size\": 0, \"refill_time\": 0}}}", 0, NULL);
	assert_int_equal(api_json_rate_limiter(o, "other", "x", &u, &err), 0);
	assert_false(u.has_bw || u.has_ops);
	assert_int_equal(api_json_rate_limiter(o, "rate_limiter", "x", &u, &err), 0);
	assert_true(u.has_ops);
	assert_null(api_json_rate_limiter_out(&u.cfg));
	json_decref(o);
	static const char *const bad[] = {
		"{\"r\": 5}",
		"{\"r\": {\"bw\": {}}}",
		"{\"r\": {\"ops\": {\"size\": 1}}}",
		"{\"r\": {\"ops\": {\"size\": 1, \"refill_time\": -1}}}",
		"{\"r\": {\"ops\": {\"size\": 1.5, \"refill_time\": 1}}}",
		"{\"r\": {\"ops\": {\"size\": 1, \"refill_time\": 1, \"rate\": 2}}}",
		"{\"r\": {\"bandwidth\": {\"size\": 2251799813685249, \"refill_time\": 1}}}",
		"{\"r\": {\"bandwidth\": {\"size\": 1, \"refill_time\": 4294967297}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = json_loads(bad[i], 0, NULL);
		assert_non_null(o);
		if (api_json_rate_limiter(o, "r", "x", &u, &err) != -1)
			fail_msg("accepted %s", bad[i]);
		json_decref(o);
	}
}

static void rate_opts_cli(void **state)
{
	struct vmon_error err;
	struct rl_config d = {0};
	char rest[256];
	const struct rate_target t = {"", &d};
	assert_int_equal(rate_opts_take("--disk", "a.img,ro,bw=1M,ops=100/250,bw_burst=64K,id=x",
					true, &t, 1, rest, sizeof(rest), &err),
			 0);
	assert_string_equal(rest, "a.img,ro,id=x");
	assert_int_equal(d.bw.size, 1 << 20);
	assert_int_equal(d.bw.refill_ms, 1000);
	assert_int_equal(d.bw.one_time_burst, 64 << 10);
	assert_int_equal(d.ops.size, 100);
	assert_int_equal(d.ops.refill_ms, 250);
	/* A path that looks like an option is still the path. */
	memset(&d, 0, sizeof(d));
	assert_int_equal(rate_opts_take("--disk", "bw=3", true, &t, 1, rest, sizeof(rest), &err),
			 0);
	assert_string_equal(rest, "bw=3");
	assert_int_equal(d.bw.size, 0);
	/* --net: prefixes pick a direction, none means both. */
	struct rl_config rx = {0}, tx = {0};
	const struct rate_target nt[] = {{"rx_", &rx}, {"tx_", &tx}, {"", &rx}, {"", &tx}};
	assert_int_equal(rate_opts_take("--net", "user,ops=10,rx_bw=2K/10,mac=52:54:00:00:00:01",
					true, nt, 4, rest, sizeof(rest), &err),
			 0);
	assert_string_equal(rest, "user,mac=52:54:00:00:00:01");
	assert_int_equal(rx.ops.size, 10);
	assert_int_equal(tx.ops.size, 10);
	assert_int_equal(rx.bw.size, 2048);
	assert_int_equal(rx.bw.refill_ms, 10);
	assert_int_equal(tx.bw.size, 0);
	static const char *const bad[] = {
		"x,bw=",   "x,bw=1Q",	  "x,ops=5/0", "x,ops=5/1K",
		"x,bw=-1", "x,bw_burst=", "x,bw=1/",   "x,bw=99999999999G"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&d, 0, sizeof(d));
		if (rate_opts_take("--disk", bad[i], true, &t, 1, rest, sizeof(rest), &err) != -1)
			fail_msg("accepted '%s'", bad[i]);
	}
}

static void balloon_cli(void **state)
{
	struct vmon_error err;
	struct vm_balloon_config b;
	assert_int_equal(balloon_spec_parse("256", &b, &err), 0);
	assert_int_equal(b.amount_mib, 256);
	assert_false(b.deflate_on_oom || b.free_page_reporting);
	assert_int_equal(
		balloon_spec_parse("1G,deflate_on_oom=on,stats=5,free_page_reporting=on", &b, &err),
		0);
	assert_int_equal(b.amount_mib, 1024);
	assert_true(b.deflate_on_oom && b.free_page_reporting);
	assert_int_equal(b.stats_interval_s, 5);
	assert_int_equal(balloon_spec_parse("0", &b, &err), 0);
	assert_int_equal(b.amount_mib, 0);
	static const char *const bad[] = {
		"", "x", "4K", "1,stats=-1", "1,stats=x", "1,deflate_on_oom=yes", "1,colour=red"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (balloon_spec_parse(bad[i], &b, &err) != -1)
			fail_msg("accepted '%s'", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rate_limiter_json),
		cmocka_unit_test(rate_opts_cli),
		cmocka_unit_test(balloon_cli),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
