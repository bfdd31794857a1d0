/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the API's request handling (api_handle): each
 * input is "METHOD PATH\n" followed by the body. The VM is not started;
 * an InstanceStart that passes the checks is answered by a stand-in for
 * the main thread that refuses to build it, so the whole pre-boot state
 * machine is reachable. After every request the harness checks the
 * contract: a 400 carries a fault_message and leaves GET /vm/config as it
 * was; anything else is 200 with a body or 204 without.
 *
 * Requests that would write files (/logger, /metrics) and bodies naming
 * absolute paths are skipped: the harness runs in a scratch directory
 * with the files its seeds name (tests/fuzz/make_api_seeds.py).
 */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "api/api.h"
#include "api/control.h"
#include "vm/vm_config.h"

static struct api_ctl *ctl;
static struct api *api;

/* The main thread's side of InstanceStart: never builds a VM. */
static void *starter(void *p)
{
	int efd = epoll_create1(0);
	struct epoll_event e = {.events = EPOLLIN};
	epoll_ctl(efd, EPOLL_CTL_ADD, api_ctl_start_fd(ctl), &e);
	static struct vm_config cfg;
	for (;;) {
		struct epoll_event got;
		if (epoll_wait(efd, &got, 1, -1) <= 0)
			continue;
		if (api_ctl_take_start(ctl, &cfg)) {
			struct vmon_error err = {.msg = "fuzzing: no VM is built"};
			api_ctl_start_failed(ctl, &err);
		}
	}
	return p;
}

static void setup(void)
{
	static struct vm_config cfg;
	vm_config_init(&cfg);
	cfg.machine.mem_size = 128ULL << 20;
	struct vmon_error err;
	const struct api_ctl_params p = {.id = "fuzz", .cfg = &cfg, .allow_overcommit = true};
	if (api_ctl_create(&ctl, &p, &err) < 0 || api_create(&api, ctl, &err) < 0)
		abort();
	pthread_t t;
	pthread_create(&t, NULL, starter, NULL);
}

static char *vm_config_json(void)
{
	struct api_response r;
	api_handle(api, "GET", "/vm/config", NULL, 0, &r);
	if (r.status != 200 || !r.body)
		abort();
	return r.body;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ctl)
		setup();
	const uint8_t *nl = memchr(data, '\n', size);
	if (!nl || nl - data > 200)
		return 0;
	char line[208];
	memcpy(line, data, (size_t)(nl - data));
	line[nl - data] = 0;
	char *sp = strchr(line, ' ');
	if (!sp || strchr(line, 0) != line + (nl - data))
		return 0;
	*sp = 0;
	const char *method = line, *path = sp + 1;
	const char *body = (const char *)nl + 1;
	size_t len = size - (size_t)(nl + 1 - data);
	if (strstr(path, "/logger") || strstr(path, "/metrics") || memchr(body, '/', len) ||
	    memmem(body, len, "\\u", 2))
		return 0;

	char *before = vm_config_json();
	struct api_response r;
	api_handle(api, method, path, len ? body : NULL, len, &r);
	if (r.status == 400) {
		json_t *o = r.body ? json_loads(r.body, 0, NULL) : NULL;
		if (!json_is_string(json_object_get(o, "fault_message")))
			abort(); /* a 400 says why */
		json_decref(o);
		char *after = vm_config_json();
		if (strcmp(before, after) != 0)
			abort(); /* a refused request changed the configuration */
		free(after);
	} else if (r.status == 200) {
		if (!r.body)
			abort();
	} else if (r.status != 204 || r.body) {
		abort();
	}
	free(r.body);
	free(before);
	return 0;
}
