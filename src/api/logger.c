/* SPDX-License-Identifier: MIT */
/*
 * PUT /logger: vmon's structured log (core/log.h) into a file or FIFO, one
 * JSON object per line:
 *   {"ts": "2026-12-08T10:11:12.345Z", "level": "Info", "thread": "vmon-api",
 *    "origin": "src/api/router.c:312", "msg": "API PUT /actions: 204"}
 * "level" only with show_level, "origin" only with show_log_origin; module
 * keeps only messages whose origin starts with it (a source directory such
 * as "src/api").
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api_priv.h"

static void sink(void *opaque, enum vlog_level level, const char *file, int line, const char *msg)
{
	struct api *a = opaque;
	pthread_mutex_lock(&a->log_lock);
	if (a->log_fd < 0 || (a->logger.module[0] &&
			      strncmp(file, a->logger.module, strlen(a->logger.module)) != 0)) {
		pthread_mutex_unlock(&a->log_lock);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[40], thread[16] = "", origin[160];
	size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	pthread_getname_np(pthread_self(), thread, sizeof(thread));
	snprintf(origin, sizeof(origin), "%s:%d", file, line);
	json_t *o = json_pack("{s:s, s:s, s:s}", "ts", when, "thread", thread, "msg", msg);
	if (o && a->logger.show_level)
		json_object_set_new(o, "level", json_string(vlog_level_name(level)));
	if (o && a->logger.show_origin)
		json_object_set_new(o, "origin", json_string(origin));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s) {
		/* One write per line: lines from many threads do not mix. A
		 * FIFO nobody drains loses lines rather than stalling vmon. */
		size_t len = strlen(s);
		s[len] = '\n';
		ssize_t w = write(a->log_fd, s, len + 1);
		(void)w;
		free(s);
	}
	pthread_mutex_unlock(&a->log_lock);
}

int api_open_output(const char *path, const char *what, struct vmon_error *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == ENXIO)
			return err_setf(err, "%s: %s is a FIFO that no process reads", what, path);
		return err_setf(err, "%s: cannot open %s: %s", what, path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode))) {
		close(fd);
		return err_setf(err, "%s: %s is not a file or a FIFO", what, path);
	}
	return fd;
}

int api_logger_set(struct api *a, const struct api_logger_cfg *l, struct vmon_error *err)
{
	int fd = STDERR_FILENO;
	if (l->path[0]) {
		fd = api_open_output(l->path, "logger", err);
		if (fd < 0)
			return -1;
	}
	pthread_mutex_lock(&a->log_lock);
	int old = a->log_fd;
	a->log_fd = fd;
	a->logger = *l;
	a->has_logger = true;
	pthread_mutex_unlock(&a->log_lock);
	if (old > STDERR_FILENO)
		close(old);
	if (l->off)
		vlog_set_sink(NULL, NULL, VLOG_ERROR);
	else
		vlog_set_sink(sink, a, l->level);
	vlog(VLOG_INFO, "logger: writing to %s", l->path[0] ? l->path : "stderr");
	return 0;
}

void api_logger_close(struct api *a)
{
	vlog_set_sink(NULL, NULL, VLOG_ERROR);
	pthread_mutex_lock(&a->log_lock);
	if (a->log_fd > STDERR_FILENO)
		close(a->log_fd);
	a->log_fd = -1;
	pthread_mutex_unlock(&a->log_lock);
}
