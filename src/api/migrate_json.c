/* SPDX-License-Identifier: MIT */
/*
 * PUT /migrate's body and GET /migrate's answer (migrate_json.h).
 */
#include "api/migrate_json.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/config_json.h"
#include "cpu/cpu_model.h"

#define W "migrate"

static int opt_uint(const json_t *o, const char *key, uint64_t max, uint64_t *out,
		    struct vmon_error *err)
{
	const json_t *v = json_object_get(o, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return err_setf(err, W ": '%s' must be an integer from 0 to %llu", key,
				(unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int api_json_migrate(const json_t *o, struct vm_migrate_params *out, struct vmon_error *err)
{
	static const char *const allowed[] = {
		"destination_url", "max_downtime_ms", "bandwidth_mib_s", "insecure",	 "compress",
		"tls_cert",	   "tls_key",	      "tls_ca",		 "tls_hostname", NULL};
	memset(out, 0, sizeof(*out));
	if (api_json_fields(o, W, allowed, err) < 0)
		return -1;
	const json_t *url = json_object_get(o, "destination_url");
	if (!json_is_string(url))
		return err_setf(err, W ": 'destination_url' (unix:PATH or tcp:ADDR:PORT) is "
				       "required");
	const json_t *ins = json_object_get(o, "insecure");
	if (ins && !json_is_boolean(ins))
		return err_setf(err, W ": 'insecure' must be true or false");
	const json_t *z = json_object_get(o, "compress");
	if (z && !json_is_boolean(z))
		return err_setf(err, W ": 'compress' must be true or false");
	out->compress = z && json_is_true(z);
	static const struct {
		const char *key;
		size_t off, cap;
	} tls[] = {
		{"tls_cert", offsetof(struct mig_tls_files, cert), MIG_TLS_PATH_MAX},
		{"tls_key", offsetof(struct mig_tls_files, key), MIG_TLS_PATH_MAX},
		{"tls_ca", offsetof(struct mig_tls_files, ca), MIG_TLS_PATH_MAX},
		{"tls_hostname", offsetof(struct mig_tls_files, hostname), MIG_TLS_NAME_MAX},
	};
	for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++) {
		const json_t *v = json_object_get(o, tls[i].key);
		char what[64];
		snprintf(what, sizeof(what), W ": '%s'", tls[i].key);
		if (!v)
			continue;
		if (!json_is_string(v))
			return err_setf(err, "%s must be a string", what);
		if (mig_tls_set((char *)&out->tls + tls[i].off, tls[i].cap, json_string_value(v),
				what, err) < 0)
			return -1;
	}
	struct vmon_error e2 = {{0}};
	if (mig_tls_check(&out->tls, true, &e2) < 0)
		return err_setf(err, W ": %s", e2.msg);
	uint64_t down = 0, bw = 0;
	if (opt_uint(o, "max_downtime_ms", 3600000, &down, err) < 0 ||
	    opt_uint(o, "bandwidth_mib_s", 1000000, &bw, err) < 0)
		return -1;
	const char *s = json_string_value(url);
	if (strlen(s) >= sizeof(out->to_text))
		return err_setf(err, W ": 'destination_url' too long");
	bool plain_ok = (ins && json_is_true(ins)) || mig_tls_wanted(&out->tls);
	if (mig_endpoint_parse(s, plain_ok, W ": destination_url", &out->to, err) < 0)
		return -1;
	snprintf(out->to_text, sizeof(out->to_text), "%s", s);
	out->max_downtime_ms = (uint32_t)down;
	out->bandwidth = bw << 20;
	return 0;
}

#define WI "migrate/incoming"

int api_json_migrate_incoming(const json_t *o, struct mig_incoming_params *out,
			      struct vmon_error *err)
{
	static const char *const allowed[] = {
		"receiver_url", "insecure",	     "tls_cert", "tls_key",
		"tls_ca",	"vmon_cpu_features", NULL};
	memset(out, 0, sizeof(*out));
	if (api_json_fields(o, WI, allowed, err) < 0)
		return -1;
	const json_t *url = json_object_get(o, "receiver_url");
	if (!json_is_string(url))
		return err_setf(err, WI ": 'receiver_url' (unix:PATH or tcp:ADDR:PORT) is "
					"required");
	const json_t *ins = json_object_get(o, "insecure");
	if (ins && !json_is_boolean(ins))
		return err_setf(err, WI ": 'insecure' must be true or false");
	static const struct {
		const char *key;
		size_t off;
	} tls[] = {
		{"tls_cert", offsetof(struct mig_tls_files, cert)},
		{"tls_key", offsetof(struct mig_tls_files, key)},
		{"tls_ca", offsetof(struct mig_tls_files, ca)},
	};
	for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++) {
		const json_t *v = json_object_get(o, tls[i].key);
		char what[64];
		snprintf(what, sizeof(what), WI ": '%s'", tls[i].key);
		if (!v)
			continue;
		if (!json_is_string(v))
			return err_setf(err, "%s must be a string", what);
		if (mig_tls_set((char *)&out->tls + tls[i].off, MIG_TLS_PATH_MAX,
				json_string_value(v), what, err) < 0)
			return -1;
	}
	struct vmon_error e2 = {{0}};
	if (mig_tls_check(&out->tls, true, &e2) < 0)
		return err_setf(err, WI ": %s", e2.msg);
	const json_t *cpu = json_object_get(o, "vmon_cpu_features");
	if (cpu) {
		struct cpu_model m;
		if (!json_is_string(cpu))
			return err_setf(err, WI ": 'vmon_cpu_features' must be a string");
		const char *t = json_string_value(cpu);
		if (strlen(t) >= sizeof(out->cpu_limit))
			return err_setf(err, WI ": 'vmon_cpu_features' too long");
		if (cpu_model_parse(t, &m, &e2) < 0)
			return err_setf(err, WI ": 'vmon_cpu_features': %s", e2.msg);
		snprintf(out->cpu_limit, sizeof(out->cpu_limit), "%s", t);
	}
	const char *s = json_string_value(url);
	if (strlen(s) >= sizeof(out->url))
		return err_setf(err, WI ": 'receiver_url' too long");
	bool plain_ok = (ins && json_is_true(ins)) || mig_tls_wanted(&out->tls);
	if (mig_endpoint_parse(s, plain_ok, WI ": receiver_url", &out->ep, err) < 0)
		return -1;
	snprintf(out->url, sizeof(out->url), "%s", s);
	return 0;
}

json_t *api_json_migrate_out(const struct vm_migrate_status *s)
{
	json_t *o = json_pack(
		"{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "state",
		vm_migrate_phase_name(s->phase), "round", (json_int_t)s->round, "pages_sent",
		(json_int_t)s->pages_sent, "zero_pages", (json_int_t)s->zero_pages, "bytes_sent",
		(json_int_t)s->bytes_sent, "ram_pages", (json_int_t)s->ram_pages, "remaining_pages",
		(json_int_t)s->remaining_pages, "dirty_pages_per_s", (json_int_t)s->dirty_rate,
		"expected_downtime_ms", (json_int_t)s->expected_downtime_ms, "downtime_ms",
		(json_int_t)s->downtime_ms, "total_ms", (json_int_t)s->total_ms);
	if (o && s->error[0])
		json_object_set_new(o, "error", json_string(s->error));
	if (o && s->refused)
		json_object_set_new(o, "refused", json_true());
	return o;
}
