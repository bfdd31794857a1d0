/* SPDX-License-Identifier: MIT */
/* The chardev and vsock option grammars; see specs.h. */
#include "cli/specs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* ---- Parsing ---- */

int chardev_parse(const char *spec, struct chardev_spec *out, struct vmon_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!spec)
		return err_setf(err, "console: missing back end (stdio, file:PATH or unix:PATH)");
	if (strcmp(spec, "stdio") == 0) {
		out->kind = CHARDEV_STDIO;
		return 0;
	}
	const char *path;
	if (strncmp(spec, "file:", 5) == 0) {
		out->kind = CHARDEV_FILE;
		path = spec + 5;
	} else if (strncmp(spec, "unix:", 5) == 0) {
		out->kind = CHARDEV_UNIX;
		path = spec + 5;
	} else {
		return err_setf(
			err,
			"console: unknown back end '%.64s' (use stdio, file:PATH or unix:PATH)",
			spec);
	}
	size_t n = strlen(path);
	if (n == 0)
		return err_setf(err, "console: '%.64s' needs a path", spec);
	if (n >= sizeof(out->path))
		return err_setf(err, "console: path too long");
	if (out->kind == CHARDEV_UNIX && n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return err_setf(err, "console: unix socket path longer than %zu bytes",
				sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	memcpy(out->path, path, n + 1);
	return 0;
}

/* ---- Parsing ---- */

int vsock_spec_parse(const char *arg, struct vsock_spec *out, struct vmon_error *err)
{
	memset(out, 0, sizeof(*out));
	char *end;
	errno = 0;
	unsigned long long cid = strtoull(arg, &end, 10);
	if (end == arg || *end != ',' || errno || arg[0] == '-')
		return err_setf(err, "--vsock: '%s' is not CID,unix:PATH", arg);
	if (cid < 3 || cid > 0xfffffffeULL)
		return err_setf(err, "--vsock: guest CID %llu is reserved (use 3 to 4294967294)",
				cid);
	const char *p = end + 1;
	if (strncmp(p, "unix:", 5) != 0 || !p[5])
		return err_setf(err, "--vsock: '%s' is not CID,unix:PATH", arg);
	p += 5;
	if (strlen(p) > VSOCK_PATH_MAX)
		return err_setf(err, "--vsock: socket path longer than %d bytes", VSOCK_PATH_MAX);
	out->cid = (uint32_t)cid;
	strcpy(out->path, p);
	return 0;
}
