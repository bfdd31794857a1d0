/* SPDX-License-Identifier: MIT */
/*
 * Error reporting for setup paths.
 *
 * Setup code (loaders, parsers, backend creation) never exits by itself: it
 * fills a struct vmon_error with one human-readable line and returns -1, so
 * unit tests can exercise failure paths and the CLI decides the exit status.
 */
#ifndef VMON_CORE_ERROR_H
#define VMON_CORE_ERROR_H

#include <stddef.h>

#define VMON_ERROR_MAX 512

struct vmon_error {
	char msg[VMON_ERROR_MAX];
};

/* Formats the message into err (if non-NULL). Always returns -1 so callers
 * can write `return err_setf(err, "...")`. */
int err_setf(struct vmon_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Exit statuses used by the CLI. */
enum {
	VMON_EXIT_OK = 0,
	VMON_EXIT_VM_ERROR = 1, /* the guest crashed its VM (triple fault...) */
	VMON_EXIT_USAGE = 2,	/* bad input from the user or the host */
};

/* Prints "vmon: <msg>" to stderr and exits with status. Only for the CLI
 * layer and for impossible host failures during setup. */
_Noreturn void die_status(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
