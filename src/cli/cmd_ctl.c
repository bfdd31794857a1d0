/* SPDX-License-Identifier: MIT */
/*
 * `vmon ps`, `vmon pause|resume|stop ID`: thin clients of the API of the
 * VMs registered in the runtime directory (registry.h).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/balloon_spec.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "cli/registry.h"
#include "core/error.h"

#define QUERY_TIMEOUT_MS  2000
#define ACTION_TIMEOUT_MS 30000
#define STOP_WAIT_MS	  30000

enum { OPT_RUNTIME_DIR = 256, OPT_HELP };

static const struct option ctl_options[] = {
	{"runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* Parses --runtime-dir; returns the first operand's index, or -1 after
 * --help. */
static int parse_ctl_options(int argc, char **argv, const char **dir)
{
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", ctl_options, NULL)) != -1) {
		switch (c) {
		case OPT_RUNTIME_DIR: *dir = optarg; break;
		case OPT_HELP: print_usage(stdout); return -1;
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default: usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	return optind;
}

static void runtime_dir(const char *flag, char *out, size_t cap)
{
	struct vmon_error err = {{0}};
	if (registry_dir(flag, out, cap, &err) < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
}

static uint64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void format_uptime(uint64_t ms, char *out, size_t cap)
{
	uint64_t s = ms / 1000;
	if (s < 60)
		snprintf(out, cap, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(out, cap, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(out, cap, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60));
	else
		snprintf(out, cap, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s / 3600 % 24));
}

/* The VM's state as its API tells (GET /), else as its entry says. */
static void live_state(const struct reg_entry *e, char *out, size_t cap)
{
	struct client_reply r;
	struct vmon_error err;
	snprintf(out, cap, "%s", e->state);
	if (client_request(e->api_sock, "GET", "/", NULL, QUERY_TIMEOUT_MS, &r, &err) < 0 ||
	    r.status != 200)
		return;
	json_t *o = json_loads(r.body, 0, NULL);
	const char *s = json_string_value(json_object_get(o, "state"));
	if (s)
		snprintf(out, cap, "%s", s);
	json_decref(o);
}

int cmd_ps(int argc, char **argv)
{
	const char *flag = NULL;
	int first = parse_ctl_options(argc, argv, &flag);
	if (first < 0)
		return 0;
	if (first < argc)
		usage_error("ps: unexpected argument '%s'", argv[first]);
	char dir[REG_PATH_MAX];
	runtime_dir(flag, dir, sizeof(dir));
	struct vmon_error err = {{0}};
	struct reg_entry *v;
	int n = registry_list(dir, &v, &err);
	if (n < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
	printf("%-20s %-12s %-7s %5s %9s %9s  %s\n", "ID", "STATE", "BACKEND", "VCPUS", "MEMORY",
	       "UPTIME", "API SOCKET");
	uint64_t now = unix_ms();
	for (int i = 0; i < n; i++) {
		const struct reg_entry *e = &v[i];
		char state[32], up[32] = "-", mem[32];
		live_state(e, state, sizeof(state));
		if (e->started_unix_ms && now >= e->started_unix_ms)
			format_uptime(now - e->started_unix_ms, up, sizeof(up));
		snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)e->mem_mib);
		for (char *p = state; *p; p++)
			if (*p == ' ')
				*p = '-'; /* "Not started": one column */
		printf("%-20s %-12s %-7s %5u %9s %9s  %s\n", e->id, state,
		       e->backend[0] ? e->backend : "-", e->vcpus, mem, up, e->api_sock);
	}
	free(v);
	return 0;
}

/* Sends one request to the VM id; exits with a message unless it
 * answers 204. */
static void act(const char *dir, const char *id, const char *method, const char *path,
		const char *body, struct reg_entry *e)
{
	struct vmon_error err = {{0}};
	if (registry_find(dir, id, e, &err) < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
	struct client_reply r;
	if (client_request(e->api_sock, method, path, body, ACTION_TIMEOUT_MS, &r, &err) < 0)
		die_status(VMON_EXIT_VM_ERROR, "VM %s does not answer: %s", id, err.msg);
	if (r.status != 204)
		die_status(VMON_EXIT_USAGE, "VM %s: %s", id, r.fault[0] ? r.fault : r.body);
}

int cmd_vm_action(int argc, char **argv)
{
	const char *what = argv[0];
	const char *flag = NULL;
	int first = parse_ctl_options(argc, argv, &flag);
	if (first < 0)
		return 0;
	if (first >= argc)
		usage_error("%s: which VM? (vmon %s ID; see vmon ps)", what, what);
	if (first + 1 < argc)
		usage_error("%s: unexpected argument '%s'", what, argv[first + 1]);
	const char *id = argv[first];
	char dir[REG_PATH_MAX];
	runtime_dir(flag, dir, sizeof(dir));
	struct reg_entry e;
	if (strcmp(what, "pause") == 0) {
		act(dir, id, "PATCH", "/vm", "{\"state\":\"Paused\"}", &e);
		return 0;
	}
	if (strcmp(what, "resume") == 0) {
		act(dir, id, "PATCH", "/vm", "{\"state\":\"Resumed\"}", &e);
		return 0;
	}
	act(dir, id, "PUT", "/actions", "{\"action_type\":\"VmonStop\"}", &e);
	/* Returns once the VM's process has gone. */
	for (int waited = 0; registry_alive(&e); waited += 20) {
		if (waited >= STOP_WAIT_MS)
			die_status(VMON_EXIT_VM_ERROR, "VM %s (pid %d) has not exited after %d s",
				   id, (int)e.pid, STOP_WAIT_MS / 1000);
		usleep(20 * 1000);
	}
	return 0;
}

int cmd_balloon(int argc, char **argv)
{
	const char *flag = NULL;
	int first = parse_ctl_options(argc, argv, &flag);
	if (first < 0)
		return 0;
	if (first + 2 != argc)
		usage_error("balloon: want an id and a size (vmon balloon ID SIZE; see vmon ps)");
	struct vmon_error err = {{0}};
	uint32_t mib;
	if (balloon_size_parse("balloon", argv[first + 1], &mib, &err) < 0)
		die_status(VMON_EXIT_USAGE, "%s", err.msg);
	char dir[REG_PATH_MAX], body[64];
	runtime_dir(flag, dir, sizeof(dir));
	snprintf(body, sizeof(body), "{\"amount_mib\":%u}", mib);
	struct reg_entry e;
	act(dir, argv[first], "PATCH", "/balloon", body, &e);
	return 0;
}
