/* SPDX-License-Identifier: MIT */
/*
 * vmon's structured log: events worth recording (API requests and their
 * outcome, VM state changes, every rate-limited message a guest caused)
 * go through vlog(). Nothing is written until a sink is installed — the
 * API layer installs one when PUT /logger names a file (one JSON object
 * per line) — so the terminal output of a plain `vmon run` is unchanged.
 *
 * Threads: vlog from any thread; the sink is called on the logging thread
 * and must be thread-safe. vlog_set_sink from any thread.
 */
#ifndef VMON_CORE_LOG_H
#define VMON_CORE_LOG_H

enum vlog_level { VLOG_ERROR, VLOG_WARNING, VLOG_INFO, VLOG_DEBUG, VLOG_TRACE };

/* "Error", "Warning", "Info", "Debug", "Trace" (Firecracker's names). */
const char *vlog_level_name(enum vlog_level level);

/* Receives each message at or below the sink's level (file and line are
 * the call site's). */
typedef void (*vlog_sink_fn)(void *opaque, enum vlog_level level, const char *file, int line,
			     const char *msg);

/* Installs (or, with fn NULL, removes) the sink; messages above level are
 * dropped before formatting. */
void vlog_set_sink(vlog_sink_fn fn, void *opaque, enum vlog_level level);

void vlog_at(enum vlog_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define vlog(level, ...) vlog_at(level, __FILE__, __LINE__, __VA_ARGS__)

#endif
