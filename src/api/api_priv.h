/* SPDX-License-Identifier: MIT */
/*
 * The API's own state, shared by its files (router.c: request handling;
 * server.c: HTTP; metrics.c; logger.c). Not for use outside src/api.
 */
#ifndef VMON_API_API_PRIV_H
#define VMON_API_API_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"

struct event_loop;
struct MHD_Daemon;

struct api {
	struct api_ctl *ctl;
	struct event_loop *loop; /* the API thread's: HTTP and the metrics timer */
	/* Counters (API thread; read by metrics on the same thread). */
	uint64_t requests, bad_requests;
	/* Logger (log_lock: the sink runs on any thread). */
	pthread_mutex_t log_lock;
	bool has_logger;
	struct api_logger_cfg logger;
	int log_fd; /* -1: none; 2: stderr (not closed) */
	/* Metrics (API thread). */
	bool has_metrics;
	struct api_metrics_cfg metrics;
	int metrics_fd;
	int metrics_timer; /* ev timer id, -1 */
	uint64_t flushes, missed_flushes;
	/* HTTP */
	struct MHD_Daemon *mhd;
	int listen_fd;
	int mhd_timer;
	char sock_path[108];
	bool shut_down;
};

/* server.c: stops the HTTP server and removes its socket (the API thread
 * has stopped). */
void api_server_stop(struct api *a);

/* logger.c */
/* Opens a log or metrics output: a file (created 0600, appended to) or a
 * FIFO that a process reads; never blocks. Returns the fd, or -1 with
 * err. */
int api_open_output(const char *path, const char *what, struct vmon_error *err);
int api_logger_set(struct api *a, const struct api_logger_cfg *l, struct vmon_error *err);
void api_logger_close(struct api *a);

/* metrics.c */
int api_metrics_set(struct api *a, const struct api_metrics_cfg *m, struct vmon_error *err);
/* Writes one metrics line. Returns 0, or -1 with err (not configured,
 * write failed). */
int api_metrics_flush(struct api *a, struct vmon_error *err);
void api_metrics_close(struct api *a);

#endif
