/* SPDX-License-Identifier: MIT */
/*
 * The command line's side of the API: one HTTP request to a VM's Unix
 * socket through libcurl (`vmon ps`, `vmon pause ID`...).
 *
 * Threads: any; each call makes its own connection.
 */
#ifndef VMON_CLI_CLIENT_H
#define VMON_CLI_CLIENT_H

#include <stddef.h>

#include "core/error.h"

struct client_reply {
	long status;	 /* HTTP status, 0 if no answer */
	char body[4096]; /* the answer, truncated, NUL-terminated */
	char fault[512]; /* its fault_message, if any */
};

/* method on path with body (NULL: none) through the socket sock, waiting
 * at most timeout_ms. Returns 0 with *r filled (any status), or -1 with
 * err (no answer: the VM is gone or not listening). */
int client_request(const char *sock, const char *method, const char *path, const char *body,
		   long timeout_ms, struct client_reply *r, struct vmon_error *err);

#endif
