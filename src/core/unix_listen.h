/* SPDX-License-Identifier: MIT */
/*
 * Listening Unix stream sockets at a path the user named (the vsock's
 * host side, the API socket).
 */
#ifndef VMON_CORE_UNIX_LISTEN_H
#define VMON_CORE_UNIX_LISTEN_H

#include "core/error.h"

/* Binds and listens (backlog) on path. A stale socket there (nothing
 * accepts on it) is replaced; anything else there, or a socket another
 * process listens on, is an error. Messages start with what ("--vsock",
 * "--api-sock"). Returns the fd (close-on-exec, non-blocking), or -1 with
 * err. */
int unix_listen(const char *path, const char *what, int backlog, struct vmon_error *err);

#endif
