/* SPDX-License-Identifier: MIT */
/*
 * `vmon migrate ID --to unix:PATH|tcp:HOST:PORT [--max-downtime MS]
 * [--bandwidth MB/s] [--insecure] [--compress] [--tls-cert FILE --tls-key
 * FILE --tls-ca FILE [--tls-hostname NAME]]`: live-migrates VM ID to a vmon
 * waiting with `vmon run --incoming` (docs/migration.md), through the
 * VM's API (PUT /migrate), then follows GET /migrate, printing one line
 * per round, until the migration ends. Status 0: the target runs the
 * guest (the source's vmon exits); 1: it failed or was cancelled and the
 * guest runs on in the source; 2: bad input or a refusal.
 *
 * `vmon migrate --cancel ID`: stops a running migration (PUT
 * /migrate/cancel) and waits until it has; the VM runs on where it was
 * (status 0).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "cli/parse.h"
#include "cli/registry.h"
#include "core/error.h"

enum {
	OPT_TO = 256,
	OPT_DOWNTIME,
	OPT_BANDWIDTH,
	OPT_INSECURE,
	OPT_COMPRESS,
	OPT_CANCEL,
	OPT_RUNTIME_DIR,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CA,
	OPT_TLS_HOSTNAME
};

static const struct option options[] = {
	{"to", required_argument, NULL, OPT_TO},
	{"max-downtime", required_argument, NULL, OPT_DOWNTIME},
	{"bandwidth", required_argument, NULL, OPT_BANDWIDTH},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"compress", no_argument, NULL, OPT_COMPRESS},
	{"cancel", no_argument, NULL, OPT_CANCEL},
	{"runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR},
	{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
	{"tls-key", required_argument, NULL, OPT_TLS_KEY},
	{"tls-ca", required_argument, NULL, OPT_TLS_CA},
	{"tls-hostname", required_argument, NULL, OPT_TLS_HOSTNAME},
	{NULL, 0, NULL, 0},
};

/* A whole number in [0, max], or the usage line naming the option. */
static unsigned long number(const char *opt, const char *s, unsigned long max)
{
	struct vmon_error err = {0};
	long v;
	if (parse_int_range(opt, s, 0, (long)max, &v, &err) < 0)
		usage_error("%s", err.msg);
	return (unsigned long)v;
}

/* A TLS file as an absolute path: the VM's process reads it, from its
 * own working directory. */
static const char *tls_path(const char *opt, const char *path, char *out)
{
	if (!realpath(path, out))
		die_status(VMON_EXIT_USAGE, "%s %s: %s", opt, path, strerror(errno));
	return out;
}

static long long field(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* Follows GET /migrate until the migration ends; returns the status
 * (for --cancel, 0 once it is cancelled). */
static int follow(const struct reg_entry *e, bool cancel)
{
	long long last_round = -1;
	char last_state[32] = "";
	for (;;) {
		struct client_reply r;
		struct vmon_error err = {{0}};
		if (client_request(e->api_sock, "GET", "/migrate", NULL, 5000, &r, &err) < 0 ||
		    r.status != 200) {
			/* The source waits for this loop to see "completed"
			 * before it ends (vm_migrate.c): gone before that, it
			 * ended for another reason, or took too long. */
			fprintf(stderr,
				"vmon: VM %s stopped answering during the migration (last state "
				"%s): "
				"%s\n",
				e->id, last_state[0] ? last_state : "unknown",
				err.msg[0] ? err.msg : r.fault);
			return 1;
		}
		json_t *o = json_loads(r.body, 0, NULL);
		const char *st = json_string_value(json_object_get(o, "state"));
		snprintf(last_state, sizeof(last_state), "%s", st ? st : "?");
		long long round = field(o, "round");
		if (round != last_round && strcmp(last_state, "active") == 0) {
			printf("round %lld: %lld pages sent (%lld MiB), %lld dirty, %lld pages/s "
			       "dirtied, expected downtime %lld ms\n",
			       round, field(o, "pages_sent"), field(o, "bytes_sent") >> 20,
			       field(o, "remaining_pages"), field(o, "dirty_pages_per_s"),
			       field(o, "expected_downtime_ms"));
			fflush(stdout);
			last_round = round;
		}
		int done = -1;
		if (strcmp(last_state, "completed") == 0) {
			printf("migrated: %lld rounds, %lld pages, %lld MiB sent, downtime %lld "
			       "ms, "
			       "total %lld ms\n",
			       field(o, "round"), field(o, "pages_sent"),
			       field(o, "bytes_sent") >> 20, field(o, "downtime_ms"),
			       field(o, "total_ms"));
			done = 0;
		} else if (cancel && strcmp(last_state, "cancelled") == 0) {
			printf("cancelled: VM %s runs on\n", e->id);
			done = 0;
		} else if (strcmp(last_state, "failed") == 0 ||
			   strcmp(last_state, "cancelled") == 0) {
			const char *why = json_string_value(json_object_get(o, "error"));
			/* The target cannot give the guest's CPU: a user error
			 * (pick another target, or pin the source's model), found
			 * before the source paused. */
			done = json_is_true(json_object_get(o, "refused")) ? VMON_EXIT_USAGE : 1;
			fprintf(stderr,
				"vmon: migration of VM %s %s%s%s; it runs on in its source\n",
				e->id, last_state, strcmp(last_state, "failed") == 0 ? ": " : "",
				strcmp(last_state, "failed") == 0 && why ? why : "");
		} else if (strcmp(last_state, "none") == 0) {
			fprintf(stderr, "vmon: VM %s has no migration\n", e->id);
			done = 1;
		}
		json_decref(o);
		if (done >= 0)
			return done;
		struct timespec ts = {.tv_nsec = 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int cmd_migrate(int argc, char **argv)
{
	const char *to = NULL, *flag = NULL;
	unsigned long downtime = 0, bandwidth = 0;
	bool insecure = false, cancel = false, has_downtime = false, compress = false;
	const char *tls_cert = NULL, *tls_key = NULL, *tls_ca = NULL, *tls_host = NULL;
	static char cert_abs[PATH_MAX], key_abs[PATH_MAX], ca_abs[PATH_MAX];
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (c) {
		case OPT_TO: to = optarg; break;
		case OPT_DOWNTIME:
			downtime = number("--max-downtime", optarg, 3600000);
			has_downtime = true;
			break;
		case OPT_BANDWIDTH: bandwidth = number("--bandwidth", optarg, 1000000); break;
		case OPT_INSECURE: insecure = true; break;
		case OPT_COMPRESS: compress = true; break;
		case OPT_CANCEL: cancel = true; break;
		case OPT_RUNTIME_DIR: flag = optarg; break;
		case OPT_TLS_CERT: tls_cert = tls_path("--tls-cert", optarg, cert_abs); break;
		case OPT_TLS_KEY: tls_key = tls_path("--tls-key", optarg, key_abs); break;
		case OPT_TLS_CA: tls_ca = tls_path("--tls-ca", optarg, ca_abs); break;
		case OPT_TLS_HOSTNAME: tls_host = optarg; break;
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default: usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		usage_error("migrate: vmon migrate ID --to unix:PATH|tcp:HOST:PORT, or vmon "
			    "migrate --cancel ID");
	if (!cancel && !to)
		usage_error("migrate: --to unix:PATH|tcp:HOST:PORT is needed");
	if (cancel && to)
		usage_error("migrate: --cancel takes no --to");
	if (!(tls_cert && tls_key && tls_ca) && (tls_cert || tls_key || tls_ca || tls_host))
		usage_error("migrate: TLS needs all three of --tls-cert, --tls-key and --tls-ca");
	const char *id = argv[optind];
	char rdir[REG_PATH_MAX];
	struct vmon_error err = {{0}};
	if (registry_dir(flag, rdir, sizeof(rdir), &err) < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
	struct reg_entry e;
	if (registry_find(rdir, id, &e, &err) < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
	struct client_reply r;
	if (cancel) {
		if (client_request(e.api_sock, "PUT", "/migrate/cancel", "{}", 10000, &r, &err) < 0)
			die_status(VMON_EXIT_VM_ERROR, "VM %s does not answer: %s", id, err.msg);
		if (r.status != 204)
			die_status(VMON_EXIT_USAGE, "VM %s: %s", id, r.fault[0] ? r.fault : r.body);
		return follow(&e, true);
	}
	json_t *body = json_pack("{s:s, s:b, s:b}", "destination_url", to, "insecure", insecure,
				 "compress", compress);
	if (body && has_downtime)
		json_object_set_new(body, "max_downtime_ms", json_integer((json_int_t)downtime));
	if (body && bandwidth)
		json_object_set_new(body, "bandwidth_mib_s", json_integer((json_int_t)bandwidth));
	if (body && tls_cert) {
		json_object_set_new(body, "tls_cert", json_string(tls_cert));
		json_object_set_new(body, "tls_key", json_string(tls_key));
		json_object_set_new(body, "tls_ca", json_string(tls_ca));
	}
	if (body && tls_host)
		json_object_set_new(body, "tls_hostname", json_string(tls_host));
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		die_status(VMON_EXIT_USAGE, "out of memory");
	int rc = client_request(e.api_sock, "PUT", "/migrate", text, 10000, &r, &err);
	free(text);
	if (rc < 0)
		die_status(VMON_EXIT_VM_ERROR, "VM %s does not answer: %s", id, err.msg);
	if (r.status != 204)
		die_status(VMON_EXIT_USAGE, "VM %s: %s", id, r.fault[0] ? r.fault : r.body);
	return follow(&e, false);
}
