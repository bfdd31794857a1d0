/* SPDX-License-Identifier: MIT */
/* RateLimiter objects; see rate_limiter_json.h. */
#include "api/rate_limiter_json.h"

#include <stdio.h>
#include <string.h>

static int bucket(const json_t *b, const char *what, const char *name, struct tb_config *out,
		  struct vmon_error *err)
{
	if (!json_is_object(b))
		return err_setf(err,
				"%s: '%s' must be an object (size, one_time_burst, "
				"refill_time)",
				what, name);
	const char *key;
	json_t *v;
	uint64_t vals[3] = {0, 0, 0};
	bool seen[3] = {false, false, false};
	static const char *const keys[] = {"size", "one_time_burst", "refill_time"};
	json_object_foreach((json_t *)b, key, v)
	{
		int k = -1;
		for (int i = 0; i < 3; i++)
			if (strcmp(key, keys[i]) == 0)
				k = i;
		if (k < 0)
			return err_setf(err, "%s: %s: unknown field '%.64s'", what, name, key);
		if (json_is_null(v))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return err_setf(err, "%s: %s: '%s' must be an integer of 0 or more", what,
					name, key);
		vals[k] = (uint64_t)json_integer_value(v);
		seen[k] = true;
	}
	if (!seen[0] || !seen[2])
		return err_setf(err, "%s: %s: 'size' and 'refill_time' are required", what, name);
	*out = (struct tb_config){.size = vals[0], .one_time_burst = vals[1], .refill_ms = vals[2]};
	char w[160];
	snprintf(w, sizeof(w), "%s: %s", what, name);
	return tb_config_check(out, w, err);
}

int api_json_rate_limiter(const json_t *o, const char *key, const char *what, struct rl_update *out,
			  struct vmon_error *err)
{
	memset(out, 0, sizeof(*out));
	json_t *rl = json_object_get(o, key);
	if (!rl || json_is_null(rl))
		return 0;
	if (!json_is_object(rl))
		return err_setf(err, "%s: '%s' must be an object (bandwidth, ops)", what, key);
	const char *k;
	json_t *v;
	json_object_foreach(rl, k, v)
	{
		char name[64];
		snprintf(name, sizeof(name), "%s.%s", key, k);
		if (strcmp(k, "bandwidth") == 0) {
			if (json_is_null(v))
				continue;
			if (bucket(v, what, name, &out->cfg.bw, err) < 0)
				return -1;
			out->has_bw = true;
		} else if (strcmp(k, "ops") == 0) {
			if (json_is_null(v))
				continue;
			if (bucket(v, what, name, &out->cfg.ops, err) < 0)
				return -1;
			out->has_ops = true;
		} else {
			return err_setf(err, "%s: %s: unknown field '%.64s' (bandwidth, ops)", what,
					key, k);
		}
	}
	return 0;
}

static json_t *bucket_out(const struct tb_config *c)
{
	return json_pack("{s:I, s:I, s:I}", "size", (json_int_t)c->size, "one_time_burst",
			 (json_int_t)c->one_time_burst, "refill_time", (json_int_t)c->refill_ms);
}

json_t *api_json_rate_limiter_out(const struct rl_config *c)
{
	bool bw = tb_config_limits(&c->bw), ops = tb_config_limits(&c->ops);
	if (!bw && !ops)
		return NULL;
	json_t *o = json_object();
	if (bw)
		json_object_set_new(o, "bandwidth", bucket_out(&c->bw));
	if (ops)
		json_object_set_new(o, "ops", bucket_out(&c->ops));
	return o;
}
