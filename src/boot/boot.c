/* SPDX-License-Identifier: MIT */
/* boot_load(): read the kernel file, find the loader for its format, run it,
 * then write the boot GDT. */
#include "boot/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot_priv.h"
#include "boot/gdt.h"

/* Probe order (see boot.h). */
static const struct boot_loader *const boot_loaders[] = {
	&boot_loader_pvh,
	&boot_loader_multiboot,
	&boot_loader_linux,
	&boot_loader_flat,
};

/* Reads the whole kernel file into a malloc'd buffer. */
static int read_kernel(const char *path, uint8_t **data, uint64_t *size, struct vmon_error *err)
{
	*data = NULL;
	*size = 0;
	uint64_t len;
	int fd = boot_open_file("kernel", path, &len, err);
	if (fd < 0)
		return -1;
	if (len > BOOT_KERNEL_MAX_FILE) {
		close(fd);
		return err_setf(err, "kernel '%s': file is too large (%llu bytes)", path,
				(unsigned long long)len);
	}
	uint8_t *buf = malloc(len);
	if (!buf) {
		close(fd);
		return err_setf(err, "kernel '%s': out of memory reading %llu bytes", path,
				(unsigned long long)len);
	}
	if (boot_read_fd(fd, buf, len) < 0) {
		int e = errno;
		free(buf);
		close(fd);
		return err_setf(err, "kernel '%s': read failed: %s", path, strerror(e));
	}
	close(fd);
	*data = buf;
	*size = len;
	return 0;
}

int boot_load(struct guest_mem *gm, const struct boot_config *cfg, struct boot_cpu_state *cpu,
	      struct boot_info *info, struct vmon_error *err)
{
	memset(cpu, 0, sizeof(*cpu));
	memset(info, 0, sizeof(*info));
	if (!cfg->kernel_path || !cfg->kernel_path[0])
		return err_setf(err, "no kernel image given");
	if (gm_low_ram_end(gm) < BOOT_AREA_END) {
		char have[32];
		return err_setf(err,
				"guest RAM (%s) is too small: vmon's boot area needs 0x%llx bytes",
				boot_fmt_size(have, gm->size), BOOT_AREA_END);
	}
	if (cfg->cmdline && strlen(cfg->cmdline) > BOOT_CMDLINE_MAX - 1)
		return err_setf(err, "kernel command line is %zu bytes long; at most %llu allowed",
				strlen(cfg->cmdline), BOOT_CMDLINE_MAX - 1);

	uint8_t *data;
	uint64_t size;
	if (read_kernel(cfg->kernel_path, &data, &size, err) < 0)
		return -1;
	struct boot_area area = {.placed = false};
	struct boot_image img = {
		.path = cfg->kernel_path, .data = data, .size = size, .area = &area};

	const struct boot_loader *loader = NULL;
	struct vmon_error why = {.msg = ""};
	for (size_t i = 0; i < sizeof(boot_loaders) / sizeof(boot_loaders[0]); i++) {
		struct vmon_error reason = {.msg = ""};
		if (boot_loaders[i]->probe(&img, cfg, &reason)) {
			loader = boot_loaders[i];
			break;
		}
		if (!why.msg[0] && reason.msg[0])
			why = reason;
	}

	int r;
	if (!loader) {
		if (why.msg[0])
			r = err_setf(err, "%s", why.msg);
		else
			r = boot_errf(
				err, &img,
				"is not a PVH ELF, multiboot image or (with --load-addr) flat "
				"binary, nor a Linux bzImage");
	} else {
		r = loader->load(gm, cfg, &img, cpu, info, err);
		if (r == 0 && !area.placed) /* a loader's mistake: no boot area */
			r = boot_errf(err, &img, "internal error: the boot area was not placed");
		if (r == 0) {
			info->boot_area = area.base;
			r = boot_gdt_setup(gm, boot_gpa(&img, BOOT_OFF_GDT), cpu, err);
		}
	}
	free(data);
	if (r < 0) {
		memset(cpu, 0, sizeof(*cpu));
		memset(info, 0, sizeof(*info));
	}
	return r;
}
