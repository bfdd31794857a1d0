/* SPDX-License-Identifier: MIT */
#include "devices/acpi_pm.h"

#include <stdlib.h>
#include <time.h>

#include "core/device.h"
#include "core/state.h"

struct acpi_pm {
	struct vm_control *ctl;
	/* The timer's time in ns is the host's CLOCK_MONOTONIC plus this
	 * (modulo 2^64); 0 until a restore sets it. */
	uint64_t timer_offset_ns;
};

/* The host clock the guest's TSC keeps pace with: the software CPU's
 * TSC frequency is measured against CLOCK_MONOTONIC (cpu/emu/cpu.c), and
 * its PIT counts by it. */
static uint64_t host_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t timer_ns(const struct acpi_pm *pm, uint64_t now_ns)
{
	return now_ns + pm->timer_offset_ns;
}

uint32_t acpi_pm_timer_at(const struct acpi_pm *pm, uint64_t now_ns)
{
	unsigned __int128 ticks =
		(unsigned __int128)timer_ns(pm, now_ns) * ACPI_PM_TIMER_HZ / 1000000000ULL;
	return (uint32_t)ticks & ACPI_PM_TIMER_MASK;
}

/* Any width at any offset inside the 32-bit register: the bytes of the
 * count there (the top byte reads 0). */
static uint64_t timer_read(void *opaque, uint64_t offset, unsigned size)
{
	const struct acpi_pm *pm = opaque;
	if (offset >= ACPI_PM_TIMER_NPORTS)
		return 0;
	uint64_t v = acpi_pm_timer_at(pm, host_now_ns()) >> (8 * offset);
	return size >= 4 ? v : v & ((1ULL << (8 * size)) - 1);
}

static void timer_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	/* read-only */
}

static const struct bus_ops timer_ops = {.read = timer_read, .write = timer_write};

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
		    0 ||
	    bus_register(pio, ACPI_PM_TIMER_PORT, ACPI_PM_TIMER_NPORTS, &timer_ops, pm,
			 "acpi-pm-timer", err) < 0) {
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

/* The timer's time (ns) when saved: a restore continues from it, as the
 * vCPUs' TSCs continue from theirs. */
static int acpi_pm_save(void *dev, struct state_writer *w, struct vmon_error *err)
{
	const struct acpi_pm *pm = dev;
	state_put_u64(w, timer_ns(pm, host_now_ns()));
	return 0;
}

static int acpi_pm_restore(void *dev, struct state_reader *r, uint32_t version,
			   struct vmon_error *err)
{
	struct acpi_pm *pm = dev;
	/* Version 1 (before the timer) saved nothing: its guest's FADT, in
	 * the snapshot's memory, names no PM timer, so the time is free. */
	uint64_t t = version >= 2 ? state_get_u64(r) : host_now_ns();
	if (version < 1 || version > 2 || !state_reader_done(r))
		return err_setf(err, "acpi-pm: bad saved state (version %u or its length)",
				version);
	pm->timer_offset_ns = t - host_now_ns(); /* any value: the time wraps */
	return 0;
}

const struct device_ops acpi_pm_device = {
	.kind = "acpi-pm",
	.state_version = 2, /* 2: the PM timer's time */
	.save = acpi_pm_save,
	.restore = acpi_pm_restore,
	.create = acpi_pm_dev_create,
	.destroy = acpi_pm_dev_destroy,
};
