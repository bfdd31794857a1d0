/* SPDX-License-Identifier: MIT */
/*
 * The shared objects vmon needs at run time: the jailer is the vmon binary
 * itself, so the objects loaded into it right now (dl_iterate_phdr: its
 * DT_NEEDED closure, e.g. libc, libZydis, liburing, libslirp, glib) plus
 * its program interpreter are exactly what the jailed vmon's loader will
 * open. vmon dlopen()s nothing. The jail gets each at the same absolute
 * path (see layout.h), so the loader finds them after pivot_root without
 * /etc/ld.so.cache.
 */
#ifndef VMON_JAIL_LIBS_H
#define VMON_JAIL_LIBS_H

#include <limits.h>

#include "core/error.h"

#define JAIL_MAX_LIBS 32

struct jail_libs {
	int n;
	char path[JAIL_MAX_LIBS][PATH_MAX]; /* absolute, as the loader names it */
	/* The distinct first path components ("lib", "lib64", "usr"...): names
	 * the jail root reserves for them. */
	int ntop;
	char top[JAIL_MAX_LIBS][NAME_MAX + 1];
};

/* Fills libs; the interpreter comes first. Returns 0, or -1 with err. */
int jail_libs_list(struct jail_libs *libs, struct vmon_error *err);

#endif
