/* SPDX-License-Identifier: MIT */
/*
 * The API object's life: create, the config file's logger and metrics,
 * shutdown (the last metrics) and destroy. Requests: router.c; HTTP:
 * server.c.
 */
#include <stdlib.h>

#include "api/api_priv.h"
#include "core/event_loop.h"

int api_apply_file(struct api *a, const struct api_file_config *x, struct vmon_error *err)
{
	if (x->has_logger && api_logger_set(a, &x->logger, err) < 0)
		return -1;
	if (x->has_metrics && api_metrics_set(a, &x->metrics, err) < 0)
		return -1;
	return 0;
}

int api_create(struct api **out, struct api_ctl *ctl, struct vmon_error *err)
{
	*out = NULL;
	struct api *a = calloc(1, sizeof(*a));
	if (!a)
		return err_setf(err, "out of memory");
	a->ctl = ctl;
	a->log_fd = -1;
	a->metrics_fd = -1;
	a->metrics_timer = -1;
	a->mhd_timer = -1;
	a->listen_fd = -1;
	pthread_mutex_init(&a->log_lock, NULL);
	a->loop = ev_create(err);
	if (!a->loop) {
		api_destroy(a);
		return -1;
	}
	*out = a;
	return 0;
}

void api_shutdown(struct api *a)
{
	if (!a || a->shut_down)
		return;
	a->shut_down = true;
	ev_thread_stop(a->loop);
	if (a->has_metrics) {
		struct vmon_error err;
		(void)api_metrics_flush(a, &err);
	}
}

void api_destroy(struct api *a)
{
	if (!a)
		return;
	api_shutdown(a);
	api_server_stop(a);
	api_metrics_close(a);
	api_logger_close(a);
	ev_destroy(a->loop);
	pthread_mutex_destroy(&a->log_lock);
	free(a);
}
