/* SPDX-License-Identifier: MIT */
#include "jail/libs.h"

#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

struct walk {
	struct jail_libs *libs;
	struct vmon_error *err;
	int rc;
};

static int add(struct walk *w, const char *path)
{
	struct jail_libs *l = w->libs;
	if (path[0] != '/') /* the vDSO ("linux-vdso.so.1"): not a file */
		return 0;
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->path[i], path) == 0)
			return 0;
	if (l->n == JAIL_MAX_LIBS)
		return err_setf(w->err, "vmon needs more than %d shared libraries", JAIL_MAX_LIBS);
	if (strlen(path) >= sizeof(l->path[0]) || strstr(path, "/../") || strstr(path, "/./"))
		return err_setf(w->err, "cannot place the library '%.128s' in the jail", path);
	snprintf(l->path[l->n++], sizeof(l->path[0]), "%s", path);

	const char *p = path + 1;
	size_t len = strcspn(p, "/");
	if (len == 0 || len > NAME_MAX || !p[len])
		return err_setf(w->err, "cannot place the library '%.128s' in the jail", path);
	for (int i = 0; i < l->ntop; i++)
		if (strlen(l->top[i]) == len && strncmp(l->top[i], p, len) == 0)
			return 0;
	memcpy(l->top[l->ntop], p, len);
	l->top[l->ntop][len] = '\0';
	l->ntop++;
	return 0;
}

static int on_object(struct dl_phdr_info *info, size_t size, void *opaque)
{
	struct walk *w = opaque;
	(void)size;
	if (info->dlpi_name && info->dlpi_name[0]) {
		w->rc = add(w, info->dlpi_name);
		return w->rc;
	}
	/* The main program (empty name): its PT_INTERP names the loader. */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type != PT_INTERP)
			continue;
		const char *interp = (const char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
		w->rc = add(w, interp);
		return w->rc;
	}
	return 0;
}

int jail_libs_list(struct jail_libs *libs, struct vmon_error *err)
{
	memset(libs, 0, sizeof(*libs));
	struct walk w = {.libs = libs, .err = err};
	/* The main program is reported first, so the interpreter leads. */
	dl_iterate_phdr(on_object, &w);
	return w.rc;
}
