/* SPDX-License-Identifier: MIT */
/* Balloon objects; see balloon_json.h. */
#include "api/balloon_json.h"
#include "api/config_json.h"

#include <string.h>

#define MAX_INTERVAL_S 86400

/* 1 read, 0 absent, -1 error. */
static int uint_in(const json_t *o, const char *key, bool required, uint64_t max, uint64_t *out,
		   const char *what, struct vmon_error *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return required ? err_setf(err, "%s: the field '%s' is required", what, key) : 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return err_setf(err, "%s: '%s' must be an integer from 0 to %llu", what, key,
				(unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

static int bool_in(const json_t *o, const char *key, bool required, bool *out, const char *what,
		   struct vmon_error *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return required ? err_setf(err, "%s: the field '%s' is required", what, key) : 0;
	if (!json_is_boolean(v))
		return err_setf(err, "%s: '%s' must be true or false", what, key);
	*out = json_is_true(v);
	return 1;
}

int api_json_balloon(const json_t *o, struct vm_balloon_config *out, struct vmon_error *err)
{
	static const char *const allowed[] = {"amount_mib", "deflate_on_oom",
					      "stats_polling_interval_s", "free_page_reporting",
					      NULL};
	const char *what = "balloon";
	struct vm_balloon_config b = {0};
	uint64_t mib, s = 0;
	if (api_json_fields(o, what, allowed, err) < 0 ||
	    uint_in(o, "amount_mib", true, UINT32_MAX / 256, &mib, what, err) < 0 ||
	    bool_in(o, "deflate_on_oom", true, &b.deflate_on_oom, what, err) < 0 ||
	    uint_in(o, "stats_polling_interval_s", false, MAX_INTERVAL_S, &s, what, err) < 0 ||
	    bool_in(o, "free_page_reporting", false, &b.free_page_reporting, what, err) < 0)
		return -1;
	b.amount_mib = (uint32_t)mib;
	b.stats_interval_s = (unsigned)s;
	*out = b;
	return 0;
}

int api_json_balloon_update(const json_t *o, uint32_t *mib, struct vmon_error *err)
{
	static const char *const allowed[] = {"amount_mib", NULL};
	uint64_t v;
	if (api_json_fields(o, "balloon", allowed, err) < 0 ||
	    uint_in(o, "amount_mib", true, UINT32_MAX / 256, &v, "balloon", err) < 0)
		return -1;
	*mib = (uint32_t)v;
	return 0;
}

int api_json_balloon_stats_update(const json_t *o, unsigned *seconds, struct vmon_error *err)
{
	static const char *const allowed[] = {"stats_polling_interval_s", NULL};
	uint64_t v;
	if (api_json_fields(o, "balloon statistics", allowed, err) < 0 ||
	    uint_in(o, "stats_polling_interval_s", true, MAX_INTERVAL_S, &v, "balloon statistics",
		    err) < 0)
		return -1;
	*seconds = (unsigned)v;
	return 0;
}

json_t *api_json_balloon_out(const struct vm_balloon_config *b)
{
	return json_pack("{s:I, s:b, s:I, s:b}", "amount_mib", (json_int_t)b->amount_mib,
			 "deflate_on_oom", b->deflate_on_oom, "stats_polling_interval_s",
			 (json_int_t)b->stats_interval_s, "free_page_reporting",
			 b->free_page_reporting);
}

json_t *api_json_balloon_stats_out(const struct balloon_stats *s)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)s->target_pages,
			      "actual_pages", (json_int_t)s->actual_pages, "target_mib",
			      (json_int_t)(s->target_pages / 256), "actual_mib",
			      (json_int_t)(s->actual_pages / 256));
	for (unsigned t = 0; o && t < BALLOON_NSTATS; t++)
		if (s->have[t])
			json_object_set_new(o, virtio_balloon_stat_name(t),
					    json_integer((json_int_t)s->val[t]));
	return o;
}
