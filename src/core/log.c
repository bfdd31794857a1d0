/* SPDX-License-Identifier: MIT */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_rwlock_t sink_lock = PTHREAD_RWLOCK_INITIALIZER;
static vlog_sink_fn sink;
static void *sink_opaque;
static enum vlog_level sink_level;

const char *vlog_level_name(enum vlog_level level)
{
	static const char *const names[] = {"Error", "Warning", "Info", "Debug", "Trace"};
	return (unsigned)level < sizeof(names) / sizeof(names[0]) ? names[level] : "Info";
}

void vlog_set_sink(vlog_sink_fn fn, void *opaque, enum vlog_level level)
{
	pthread_rwlock_wrlock(&sink_lock);
	sink = fn;
	sink_opaque = opaque;
	sink_level = level;
	pthread_rwlock_unlock(&sink_lock);
}

void vlog_at(enum vlog_level level, const char *file, int line, const char *fmt, ...)
{
	pthread_rwlock_rdlock(&sink_lock);
	if (sink && level <= sink_level) {
		char msg[1024];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		sink(sink_opaque, level, file, line, msg);
	}
	pthread_rwlock_unlock(&sink_lock);
}
