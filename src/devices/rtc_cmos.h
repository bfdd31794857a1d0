/* SPDX-License-Identifier: MIT */
/*
 * MC146818 RTC + 128 bytes of CMOS RAM at ports 0x70 (index) / 0x71
 * (data).
 *
 * Index writes keep bits 0-6 (bit 7, NMI disable, is ignored); reading the
 * index port returns 0xff. Time registers (0, 2, 4, 6-9, and 0x32 as the
 * century) come from the host clock in UTC, plus an offset the guest sets
 * by writing them (with or without register B's SET bit; while SET is on
 * the time is frozen as on hardware). Encoding follows register B: DM
 * (binary/BCD) and 24/12h (bit 7 = PM in 12h mode). Register A: rate and
 * divider bits writable, UIP read as 1 during the last 244 us of each
 * second. Register C: flags, cleared by reading; UF is reported lazily
 * (set if a second boundary passed since the last read). Register D: VRT
 * (0x80). Everything else in 0x0E-0x7F (except 0x32) is plain CMOS RAM.
 *
 * The device object survives VM resets: NVRAM and the guest's clock offset
 * live here and rtc_cmos_reset() keeps them.
 *
 * Not implemented yet: periodic, alarm and update-ended interrupts on IRQ 8
 * (the line is stored for that; nothing is raised).
 *
 * Threads: bus handlers from any vCPU thread; one mutex guards the state.
 */
#ifndef VMON_DEVICES_RTC_CMOS_H
#define VMON_DEVICES_RTC_CMOS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/bus.h"
#include "core/device.h"
#include "core/error.h"
#include "core/irq.h"
#include "core/layout.h"

#define RTC_CMOS_BASE	    LAYOUT_PORT_RTC
#define RTC_CMOS_IRQ	    LAYOUT_GSI_RTC
#define RTC_CMOS_NVRAM_SIZE 128

struct rtc_cmos;

/* As a device object (core/device.h): ports [port, port+2), IRQ gsi. */
struct rtc_cmos_params {
	uint16_t port;
	unsigned gsi;
};
extern const struct device_ops rtc_cmos_device;

/* Registers ports [base, base+2) on pio. irq's router must outlive the
 * device. Call during machine setup. Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int rtc_cmos_create(struct rtc_cmos **out, struct bus *pio,
							uint16_t base, struct irq_line irq,
							struct vmon_error *err);

/* What the reset pin does: clears the interrupt enables (PIE/AIE/UIE/SQWE)
 * and flags; keeps time, NVRAM and the other registers. Any thread. */
void rtc_cmos_reset(struct rtc_cmos *rtc);

/* Presets CMOS RAM bytes [index, index+len) (for firmware-style
 * information such as memory sizes). Only 0x0E-0x7F may be written;
 * returns 0, or -1 if the range falls outside. Any thread. */
int rtc_cmos_nvram_set(struct rtc_cmos *rtc, unsigned index, const void *buf, size_t len);

/* Replaces the host clock (default: CLOCK_REALTIME), for tests. now fills
 * the current UTC time. Call before the vCPUs run. */
typedef void (*rtc_clock_fn)(void *opaque, struct timespec *now);
void rtc_cmos_set_clock(struct rtc_cmos *rtc, rtc_clock_fn now, void *opaque);

/* Frees. Call after the vCPU threads have stopped. NULL is a no-op. */
void rtc_cmos_destroy(struct rtc_cmos *rtc);

#endif
