/* SPDX-License-Identifier: MIT */
#include "devices/acpi_pm.h"

#include <stdlib.h>

#include "core/device.h"
#include "core/state.h"

struct acpi_pm {
	struct vm_control *ctl;
};

static uint64_t pm_read(void *opaque, uint64_t offset, unsigned size)
{
	return 0;
}

static void pm_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	uint8_t v = (uint8_t)value; /* each register is one byte wide */
	switch (ACPI_PM_SLEEP_CTL_PORT + offset) {
	case ACPI_PM_SLEEP_CTL_PORT:
		if ((v & ACPI_PM_SLP_EN) &&
		    ((v >> ACPI_PM_SLP_TYP_SHIFT) & 7) == ACPI_PM_SLP_TYP_S5)
			vmctl_request_stop(pm->ctl, VM_STOP_POWEROFF, 0);
		break;
	case ACPI_PM_RESET_PORT:
		if (v == ACPI_PM_RESET_VALUE)
			vmctl_request_stop(pm->ctl, VM_STOP_RESET, 0);
		break;
	default: break; /* sleep status: nothing to clear */
	}
}

static const struct bus_ops pm_ops = {.read = pm_read, .write = pm_write};

int acpi_pm_create(struct acpi_pm **out, struct bus *pio, struct vm_control *ctl,
		   struct vmon_error *err)
{
	if (!ctl)
		return err_setf(err, "acpi-pm: no VM control");
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return err_setf(err, "out of memory");
	pm->ctl = ctl;
	if (bus_register(pio, ACPI_PM_SLEEP_CTL_PORT, ACPI_PM_NPORTS, &pm_ops, pm, "acpi-pm", err) <
	    0) {
		free(pm);
		return -1;
	}
	*out = pm;
	return 0;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	free(pm);
}

/* ---- Device object (core/device.h) ---- */

static int acpi_pm_dev_create(void **out, const struct device_env *env, const void *params,
			      struct vmon_error *err)
{
	return acpi_pm_create((struct acpi_pm **)out, env->pio, env->ctl, err);
}

static void acpi_pm_dev_destroy(void *dev)
{
	acpi_pm_destroy(dev);
}

const struct device_ops acpi_pm_device = {
	.kind = "acpi-pm",
	.state_version = 1,
	.save = state_save_nothing,
	.restore = state_restore_nothing,
	.create = acpi_pm_dev_create,
	.destroy = acpi_pm_dev_destroy,
};
