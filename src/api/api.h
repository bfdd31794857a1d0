/* SPDX-License-Identifier: MIT */
/*
 * vmon's HTTP API, compatible with Firecracker's (docs/api.md): JSON
 * bodies over HTTP/1.1 on a Unix socket, served by libmicrohttpd on a
 * thread of its own ("vmon-api", an event loop: core/event_loop.h) that
 * also flushes the metrics. Requests act on a VM through its api_ctl
 * (api/control.h).
 *
 * api_handle is the whole request handling without HTTP — route, parse,
 * check, act, answer — so the server and the fuzz harness
 * (tests/fuzz/fuzz_api.c) run the same code. Every malformed request
 * (bad JSON, an unknown field, a wrong type, a value out of range, a
 * resource that cannot change after the start, a request in the wrong
 * state, an unknown path) gets 400 with {"fault_message": "..."} and
 * changes nothing.
 *
 * Threads: api_handle runs on the API thread (or the fuzzer's); the
 * logger and metrics it sets up are used from that thread and, for the
 * logger's sink, from any thread that logs. Create, serve and destroy
 * from the main thread.
 */
#ifndef VMON_API_API_H
#define VMON_API_API_H

#include <stddef.h>

#include "api/config_json.h"
#include "api/control.h"
#include "core/error.h"

struct api;

struct api_response {
	unsigned status; /* 200, 204, 400... */
	char *body;	 /* JSON (malloc'd; the caller frees it), or NULL */
};

__attribute__((warn_unused_result)) int api_create(struct api **out, struct api_ctl *ctl,
						   struct vmon_error *err);

/* Handles one request: method ("GET", "PUT", "PATCH"...), the URL's path,
 * the body (len bytes, not NUL-terminated; may be NULL when len is 0). */
void api_handle(struct api *a, const char *method, const char *path, const char *body, size_t len,
		struct api_response *out);

/* The logger and metrics of a config file, as if PUT through the API.
 * Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int
api_apply_file(struct api *a, const struct api_file_config *x, struct vmon_error *err);

/* Binds and listens on a Unix socket at path (a stale socket there is
 * replaced; a live one or another kind of file is an error) without
 * serving yet. Returns the socket, or -1 with err. */
int api_listen(const char *path, struct vmon_error *err);

/* Serves requests on the listening socket fd (taken over; path is where
 * it is bound, unlinked by api_destroy) from the API thread. Returns 0,
 * or -1 with err. */
__attribute__((warn_unused_result)) int api_serve(struct api *a, int fd, const char *path,
						  struct vmon_error *err);

/* Stops serving (a request being handled is answered first) and flushes
 * the metrics one last time. Call when the VM has ended, before it is
 * destroyed (its counters go into that last line). */
void api_shutdown(struct api *a);

/* api_shutdown if not done yet, then closes the log, removes the socket
 * and frees. NULL is a no-op. */
void api_destroy(struct api *a);

#endif
