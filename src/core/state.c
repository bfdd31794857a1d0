/* SPDX-License-Identifier: MIT */
#include "core/state.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void state_put_bytes(struct state_writer *w, const void *p, size_t n)
{
	if (w->failed || n == 0)
		return;
	if (n > SIZE_MAX / 2 - w->len) {
		w->failed = true;
		return;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			w->failed = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void put_le(struct state_writer *w, uint64_t v, unsigned n)
{
	uint8_t b[8];
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	state_put_bytes(w, b, n);
}

void state_put_u8(struct state_writer *w, uint8_t v)
{
	put_le(w, v, 1);
}

void state_put_u16(struct state_writer *w, uint16_t v)
{
	put_le(w, v, 2);
}

void state_put_u32(struct state_writer *w, uint32_t v)
{
	put_le(w, v, 4);
}

void state_put_u64(struct state_writer *w, uint64_t v)
{
	put_le(w, v, 8);
}

void state_writer_free(struct state_writer *w)
{
	free(w->buf);
	*w = (struct state_writer){0};
}

void state_get_bytes(struct state_reader *r, void *dst, size_t n)
{
	if (r->failed || n > r->len - r->off) {
		r->failed = true;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, r->p + r->off, n);
	r->off += n;
}

static uint64_t get_le(struct state_reader *r, unsigned n)
{
	uint8_t b[8];
	state_get_bytes(r, b, n);
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

uint8_t state_get_u8(struct state_reader *r)
{
	return (uint8_t)get_le(r, 1);
}

uint16_t state_get_u16(struct state_reader *r)
{
	return (uint16_t)get_le(r, 2);
}

uint32_t state_get_u32(struct state_reader *r)
{
	return (uint32_t)get_le(r, 4);
}

uint64_t state_get_u64(struct state_reader *r)
{
	return get_le(r, 8);
}

bool state_reader_done(const struct state_reader *r)
{
	return !r->failed && r->off == r->len;
}

int state_save_nothing(void *dev, struct state_writer *w, struct vmon_error *err)
{
	(void)dev;
	(void)w;
	(void)err;
	return 0;
}

int state_restore_nothing(void *dev, struct state_reader *r, uint32_t version,
			  struct vmon_error *err)
{
	(void)dev;
	if (version != 1 || r->len != 0)
		return err_setf(err, "unexpected saved state for a device that keeps none");
	return 0;
}
