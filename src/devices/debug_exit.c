/* SPDX-License-Identifier: MIT */
#include "devices/debug_exit.h"

#include <stdlib.h>

#include "core/device.h"
#include "core/state.h"

struct debug_exit {
	enum debug_exit_mode mode;
	struct vm_control *ctl;
};

int debug_exit_status(enum debug_exit_mode mode, uint64_t value, unsigned size)
{
	if (size < 8)
		value &= (1ULL << (size * 8)) - 1;
	if (mode == DEBUG_EXIT_QEMU)
		value = (value << 1) | 1;
	return (int)(value & 0xff);
}

static uint64_t dx_read(void *opaque, uint64_t offset, unsigned size)
{
	return 0;
}

static void dx_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct debug_exit *d = opaque;
	if (size == 0 || size > 8)
		return;
	vmctl_request_stop(d->ctl, VM_STOP_DEBUG_EXIT, debug_exit_status(d->mode, value, size));
}

static const struct bus_ops dx_ops = {.read = dx_read, .write = dx_write};

int debug_exit_create(struct debug_exit **out, struct bus *pio, uint16_t base, uint16_t len,
		      enum debug_exit_mode mode, struct vm_control *ctl, struct vmon_error *err)
{
	if (len == 0 || len > 8)
		return err_setf(err, "debug-exit: bad port range length %u", len);
	if (mode != DEBUG_EXIT_PLAIN && mode != DEBUG_EXIT_QEMU)
		return err_setf(err, "debug-exit: bad mode");
	if (!ctl)
		return err_setf(err, "debug-exit: no VM control");
	struct debug_exit *d = calloc(1, sizeof(*d));
	if (!d)
		return err_setf(err, "out of memory");
	d->mode = mode;
	d->ctl = ctl;
	if (bus_register(pio, base, len, &dx_ops, d, "debug-exit", err) < 0) {
		free(d);
		return -1;
	}
	*out = d;
	return 0;
}

void debug_exit_destroy(struct debug_exit *d)
{
	free(d);
}

/* ---- Device object (core/device.h) ---- */

static int debug_exit_dev_create(void **out, const struct device_env *env, const void *params,
				 struct vmon_error *err)
{
	const struct debug_exit_params *p = params;
	return debug_exit_create((struct debug_exit **)out, env->pio, p->port, p->len, p->mode,
				 env->ctl, err);
}

static void debug_exit_dev_destroy(void *dev)
{
	debug_exit_destroy(dev);
}

const struct device_ops debug_exit_device = {
	.kind = "debug-exit",
	.state_version = 1,
	.save = state_save_nothing,
	.restore = state_restore_nothing,
	.create = debug_exit_dev_create,
	.destroy = debug_exit_dev_destroy,
};
