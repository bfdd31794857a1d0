/* SPDX-License-Identifier: MIT */
/*
 * HTTP for the API: libmicrohttpd on an already-bound Unix socket
 * (MHD_OPTION_LISTEN_SOCKET), in its epoll mode driven by the API thread's
 * event loop (the daemon's epoll fd is one watch; a 1 s timer runs its
 * connection timeouts). Bodies are collected whole (at most 64 KiB), then
 * handed to api_handle.
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "api/api_priv.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/unix_listen.h"

#define MAX_BODY	(64 * 1024)
#define CONN_TIMEOUT_S	30
#define MAX_CONNECTIONS 64

struct body {
	char *buf;
	size_t len;
	bool too_big;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *json)
{
	size_t len = json ? strlen(json) : 0;
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, json ? json : (char *)"",
								    json ? MHD_RESPMEM_MUST_FREE
									 : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(json);
		return MHD_NO;
	}
	if (json)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api *a = cls;
	struct body *b = *con_cls;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (b->too_big || n > MAX_BODY - b->len) {
			b->too_big = true;
			return MHD_YES;
		}
		char *nb = realloc(b->buf, b->len + n);
		if (!nb)
			return MHD_NO;
		memcpy(nb + b->len, upload_data, n);
		b->buf = nb;
		b->len += n;
		return MHD_YES;
	}
	if (b->too_big) {
		a->requests++;
		a->bad_requests++;
		json_t *o = json_pack("{s:s}", "fault_message", "the request body is too large");
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		return reply(conn, 400, s);
	}
	struct api_response out;
	api_handle(a, method, url, b->buf, b->len, &out);
	return reply(conn, out.status, out.body);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct body *b = *con_cls;
	if (b) {
		free(b->buf);
		free(b);
		*con_cls = NULL;
	}
}

/* The daemon's epoll set is edge-triggered inside: one MHD_run may leave
 * work it will not be woken for again (a connection closed and a new one
 * accepted, a response queued). It says so with a timeout of 0. */
static void run_mhd(struct api *a)
{
	MHD_UNSIGNED_LONG_LONG t;
	int rounds = 0;
	do
		MHD_run(a->mhd);
	while (++rounds < 64 && MHD_get_timeout(a->mhd, &t) == MHD_YES && t == 0);
}

static void on_mhd(void *opaque, int fd, uint32_t events)
{
	run_mhd(opaque);
}

static void on_mhd_timer(void *opaque)
{
	run_mhd(opaque);
}

int api_listen(const char *path, struct vmon_error *err)
{
	return unix_listen(path, "--api-sock", 16, err);
}

int api_serve(struct api *a, int fd, const char *path, struct vmon_error *err)
{
	snprintf(a->sock_path, sizeof(a->sock_path), "%s", path);
	a->listen_fd = fd;
	a->mhd = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, a,
				  MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_END);
	if (!a->mhd)
		return err_setf(err, "API: cannot start the HTTP server on %s", path);
	a->listen_fd = -1; /* the daemon's now: MHD_stop_daemon closes it */
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0 || ev_add(a->loop, info->epoll_fd, EPOLLIN, on_mhd, a) < 0)
		return err_setf(err, "API: cannot watch the HTTP server");
	a->mhd_timer = ev_add_timer(a->loop, 1000, on_mhd_timer, a, err);
	if (a->mhd_timer < 0)
		return -1;
	vlog(VLOG_INFO, "API: serving on %s", path);
	return ev_thread_start(a->loop, VMON_THREAD_API, "api", err);
}

void api_server_stop(struct api *a)
{
	if (a->mhd)
		MHD_stop_daemon(a->mhd);
	a->mhd = NULL;
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	a->listen_fd = -1;
	if (a->sock_path[0])
		unlink(a->sock_path);
	a->sock_path[0] = 0;
}
