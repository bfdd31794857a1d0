/* SPDX-License-Identifier: MIT */
#include "devices/rtc_cmos.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/device.h"
#include "core/state.h"

enum {
	REG_SEC = 0x00,
	REG_SEC_ALARM = 0x01,
	REG_MIN = 0x02,
	REG_MIN_ALARM = 0x03,
	REG_HOUR = 0x04,
	REG_HOUR_ALARM = 0x05,
	REG_WDAY = 0x06,
	REG_MDAY = 0x07,
	REG_MON = 0x08,
	REG_YEAR = 0x09,
	REG_A = 0x0A,
	REG_B = 0x0B,
	REG_C = 0x0C,
	REG_D = 0x0D,
	REG_NVRAM_FIRST = 0x0E,
	REG_CENTURY = 0x32,
};

#define A_UIP	    0x80
#define B_SET	    0x80
#define B_PIE	    0x40
#define B_AIE	    0x20
#define B_UIE	    0x10
#define B_SQWE	    0x08
#define B_DM_BINARY 0x04
#define B_24H	    0x02
#define C_IRQF	    0x80
#define C_PF	    0x40
#define C_AF	    0x20
#define C_UF	    0x10
#define D_VRT	    0x80

#define UIP_WINDOW_NS 244000L /* UIP rises 244 us before the update */

struct rtc_cmos {
	pthread_mutex_t lock;
	struct irq_line irq; /* IRQ 8: not driven yet */
	rtc_clock_fn now;
	void *now_opaque;
	uint8_t index;
	uint8_t cmos[RTC_CMOS_NVRAM_SIZE]; /* raw bytes; time registers unused */
	int64_t offset;			   /* guest time - host time, seconds */
	struct tm frozen;		   /* guest time while B.SET is on */
	int64_t last_c_sec;		   /* guest second at the last register C read */
};

static void host_clock(void *opaque, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static int64_t guest_now(struct rtc_cmos *r, long *ns)
{
	struct timespec ts;
	r->now(r->now_opaque, &ts);
	if (ns)
		*ns = ts.tv_nsec;
	return (int64_t)ts.tv_sec + r->offset;
}

static void guest_tm(struct rtc_cmos *r, struct tm *tm)
{
	if (r->cmos[REG_B] & B_SET) {
		*tm = r->frozen;
		return;
	}
	time_t t = (time_t)guest_now(r, NULL);
	if (!gmtime_r(&t, tm))
		memset(tm, 0, sizeof(*tm));
}

static bool binary(const struct rtc_cmos *r)
{
	return r->cmos[REG_B] & B_DM_BINARY;
}

static uint8_t encode(const struct rtc_cmos *r, int v)
{
	if (v < 0)
		v = 0;
	v %= 100;
	return binary(r) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

/* -1 if v is not a valid number in the current mode. */
static int decode(const struct rtc_cmos *r, uint8_t v)
{
	if (binary(r))
		return v;
	if ((v >> 4) > 9 || (v & 0xf) > 9)
		return -1;
	return (v >> 4) * 10 + (v & 0xf);
}

static uint8_t encode_hour(const struct rtc_cmos *r, int hour)
{
	if (r->cmos[REG_B] & B_24H)
		return encode(r, hour);
	int h12 = hour % 12 == 0 ? 12 : hour % 12;
	return (uint8_t)(encode(r, h12) | (hour >= 12 ? 0x80 : 0));
}

static int decode_hour(const struct rtc_cmos *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_24H) {
		int h = decode(r, v);
		return h >= 0 && h <= 23 ? h : -1;
	}
	int h = decode(r, v & 0x7f);
	if (h < 1 || h > 12)
		return -1;
	return h % 12 + ((v & 0x80) ? 12 : 0);
}

static uint8_t read_time_reg(struct rtc_cmos *r, unsigned reg)
{
	struct tm tm;
	guest_tm(r, &tm);
	int year = tm.tm_year + 1900;
	switch (reg) {
	case REG_SEC: return encode(r, tm.tm_sec > 59 ? 59 : tm.tm_sec);
	case REG_MIN: return encode(r, tm.tm_min);
	case REG_HOUR: return encode_hour(r, tm.tm_hour);
	case REG_WDAY: return encode(r, tm.tm_wday + 1);
	case REG_MDAY: return encode(r, tm.tm_mday);
	case REG_MON: return encode(r, tm.tm_mon + 1);
	case REG_YEAR: return encode(r, year % 100);
	case REG_CENTURY: return encode(r, year / 100);
	default: return 0;
	}
}

/* Sets one field of the guest's time; invalid values are ignored. */
static void write_time_reg(struct rtc_cmos *r, unsigned reg, uint8_t v)
{
	struct tm tm;
	guest_tm(r, &tm);
	int year = tm.tm_year + 1900;
	int x = reg == REG_HOUR ? decode_hour(r, v) : decode(r, v);
	if (x < 0)
		return;
	switch (reg) {
	case REG_SEC:
		if (x > 59)
			return;
		tm.tm_sec = x;
		break;
	case REG_MIN:
		if (x > 59)
			return;
		tm.tm_min = x;
		break;
	case REG_HOUR: tm.tm_hour = x; break;
	case REG_WDAY: return; /* derived from the date */
	case REG_MDAY:
		if (x < 1 || x > 31)
			return;
		tm.tm_mday = x;
		break;
	case REG_MON:
		if (x < 1 || x > 12)
			return;
		tm.tm_mon = x - 1;
		break;
	case REG_YEAR:
		if (x > 99)
			return;
		tm.tm_year = year / 100 * 100 + x - 1900;
		break;
	case REG_CENTURY:
		if (x > 99)
			return;
		tm.tm_year = x * 100 + year % 100 - 1900;
		break;
	default: return;
	}
	tm.tm_isdst = 0;
	time_t t = timegm(&tm); /* normalizes e.g. Feb 31 */
	if (r->cmos[REG_B] & B_SET) {
		struct tm norm;
		if (gmtime_r(&t, &norm))
			r->frozen = norm;
		return;
	}
	struct timespec ts;
	r->now(r->now_opaque, &ts);
	r->offset = (int64_t)t - (int64_t)ts.tv_sec;
}

static bool is_time_reg(unsigned reg)
{
	switch (reg) {
	case REG_SEC:
	case REG_MIN:
	case REG_HOUR:
	case REG_WDAY:
	case REG_MDAY:
	case REG_MON:
	case REG_YEAR:
	case REG_CENTURY: return true;
	default: return false;
	}
}

static uint8_t read_data(struct rtc_cmos *r)
{
	unsigned reg = r->index;
	if (is_time_reg(reg))
		return read_time_reg(r, reg);
	switch (reg) {
	case REG_A: {
		long ns;
		guest_now(r, &ns);
		uint8_t v = r->cmos[REG_A] & 0x7f;
		if (!(r->cmos[REG_B] & B_SET) && ns >= 1000000000L - UIP_WINDOW_NS)
			v |= A_UIP;
		return v;
	}
	case REG_C: {
		int64_t sec = guest_now(r, NULL);
		uint8_t v = r->cmos[REG_C];
		if (sec != r->last_c_sec && !(r->cmos[REG_B] & B_SET))
			v |= C_UF;
		r->last_c_sec = sec;
		if (v & r->cmos[REG_B] & (C_PF | C_AF | C_UF))
			v |= C_IRQF;
		r->cmos[REG_C] = 0;
		return v;
	}
	case REG_D: return D_VRT;
	default: return r->cmos[reg];
	}
}

static void write_data(struct rtc_cmos *r, uint8_t v)
{
	unsigned reg = r->index;
	if (is_time_reg(reg)) {
		write_time_reg(r, reg, v);
		return;
	}
	switch (reg) {
	case REG_A:
		r->cmos[REG_A] = v & 0x7f; /* UIP is read-only */
		break;
	case REG_B: {
		uint8_t old = r->cmos[REG_B];
		if ((v & B_SET) && !(old & B_SET)) {
			guest_tm(r, &r->frozen); /* stop the clock */
			v &= (uint8_t)~B_UIE;	 /* SET clears UIE */
		}
		r->cmos[REG_B] = v;
		if (!(v & B_SET) && (old & B_SET)) {
			/* Restart from the time the guest set. */
			struct tm tm = r->frozen;
			time_t t = timegm(&tm);
			struct timespec ts;
			r->now(r->now_opaque, &ts);
			r->offset = (int64_t)t - (int64_t)ts.tv_sec;
		}
		break;
	}
	case REG_C:
	case REG_D: break; /* read-only */
	default:
		r->cmos[reg] = v; /* alarms and CMOS RAM */
		break;
	}
}

static uint64_t rtc_read(void *opaque, uint64_t offset, unsigned size)
{
	struct rtc_cmos *r = opaque;
	uint64_t v = 0;
	if (size > 8)
		size = 8;
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < size; i++) {
		uint8_t b = offset + i == 1 ? read_data(r) : 0xff;
		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void rtc_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct rtc_cmos *r = opaque;
	if (size > 8)
		size = 8;
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(value >> (8 * i));
		if (offset + i == 0)
			r->index = b & 0x7f; /* bit 7: NMI disable, ignored */
		else if (offset + i == 1)
			write_data(r, b);
	}
	pthread_mutex_unlock(&r->lock);
}

static const struct bus_ops rtc_ops = {.read = rtc_read, .write = rtc_write};

void rtc_cmos_reset(struct rtc_cmos *r)
{
	pthread_mutex_lock(&r->lock);
	r->cmos[REG_B] &= (uint8_t) ~(B_PIE | B_AIE | B_UIE | B_SQWE);
	r->cmos[REG_C] = 0;
	r->index = 0;
	pthread_mutex_unlock(&r->lock);
}

int rtc_cmos_nvram_set(struct rtc_cmos *r, unsigned index, const void *buf, size_t len)
{
	if (index < REG_NVRAM_FIRST || index > RTC_CMOS_NVRAM_SIZE ||
	    len > RTC_CMOS_NVRAM_SIZE - index)
		return -1;
	pthread_mutex_lock(&r->lock);
	memcpy(&r->cmos[index], buf, len);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void rtc_cmos_set_clock(struct rtc_cmos *r, rtc_clock_fn now, void *opaque)
{
	pthread_mutex_lock(&r->lock);
	r->now = now ? now : host_clock;
	r->now_opaque = now ? opaque : NULL;
	r->last_c_sec = guest_now(r, NULL);
	pthread_mutex_unlock(&r->lock);
}

int rtc_cmos_create(struct rtc_cmos **out, struct bus *pio, uint16_t base, struct irq_line irq,
		    struct vmon_error *err)
{
	struct rtc_cmos *r = calloc(1, sizeof(*r));
	if (!r)
		return err_setf(err, "out of memory");
	pthread_mutex_init(&r->lock, NULL);
	r->irq = irq;
	r->now = host_clock;
	r->cmos[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	r->cmos[REG_B] = B_24H;
	r->last_c_sec = guest_now(r, NULL);
	if (bus_register(pio, base, 2, &rtc_ops, r, "rtc-cmos", err) < 0) {
		pthread_mutex_destroy(&r->lock);
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

void rtc_cmos_destroy(struct rtc_cmos *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- Device object (core/device.h) ---- */

static int rtc_dev_create(void **out, const struct device_env *env, const void *params,
			  struct vmon_error *err)
{
	const struct rtc_cmos_params *p = params;
	return rtc_cmos_create((struct rtc_cmos **)out, env->pio, p->port,
			       (struct irq_line){.router = env->irq, .gsi = p->gsi}, err);
}

static void rtc_dev_reset(void *dev)
{
	rtc_cmos_reset(dev);
}

static void rtc_dev_destroy(void *dev)
{
	rtc_cmos_destroy(dev);
}

/* Snapshots: the index, the NVRAM and the guest's clock as an offset
 * from the host's (so a restored guest's wall clock keeps the offset it
 * set, and moves on with real time like a battery-backed RTC). */
static int rtc_cmos_save(void *dev, struct state_writer *w, struct vmon_error *err)
{
	(void)err;
	struct rtc_cmos *r = dev;
	pthread_mutex_lock(&r->lock);
	state_put_u8(w, r->index);
	state_put_bytes(w, r->cmos, sizeof(r->cmos));
	state_put_u64(w, (uint64_t)r->offset);
	state_put_u64(w, (uint64_t)r->last_c_sec);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int rtc_cmos_restore(void *dev, struct state_reader *rd, uint32_t version,
			    struct vmon_error *err)
{
	struct rtc_cmos *r = dev;
	uint8_t index = state_get_u8(rd);
	uint8_t cmos[RTC_CMOS_NVRAM_SIZE];
	state_get_bytes(rd, cmos, sizeof(cmos));
	int64_t offset = (int64_t)state_get_u64(rd);
	int64_t last_c = (int64_t)state_get_u64(rd);
	if (version != 1 || !state_reader_done(rd))
		return err_setf(err, "rtc-cmos: bad saved state (version %u or its length)",
				version);
	/* Within +-1000 years: anything further is no clock. */
	if (offset > 32000000000LL || offset < -32000000000LL)
		return err_setf(err, "rtc-cmos: saved clock offset out of range");
	pthread_mutex_lock(&r->lock);
	r->index = index & 0x7f;
	memcpy(r->cmos, cmos, sizeof(r->cmos));
	r->offset = offset;
	r->last_c_sec = last_c;
	/* A clock frozen for a SET in progress resumes from now. */
	r->cmos[0x0b] &= (uint8_t)~0x80;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

const struct device_ops rtc_cmos_device = {
	.kind = "rtc-cmos",
	.state_version = 1,
	.save = rtc_cmos_save,
	.restore = rtc_cmos_restore,
	.create = rtc_dev_create,
	.reset = rtc_dev_reset,
	.destroy = rtc_dev_destroy,
};
