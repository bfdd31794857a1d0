/* SPDX-License-Identifier: MIT */
/*
 * Saved-state blobs: what a device's save() writes and its restore()
 * reads back (core/device.h). Little-endian fixed-width fields, written
 * in order; no self-description beyond what the device puts there — the
 * container (kind, version, length, checksum) is the snapshot format's.
 *
 * The reader is for untrusted bytes: every read is bounds-checked, a
 * short blob makes the reader fail (and return zeros) instead of reading
 * past the end, and state_reader_done() says whether the blob was
 * consumed exactly. Devices still check every value they read.
 *
 * Threads: a writer or reader belongs to one thread.
 */
#ifndef VMON_CORE_STATE_H
#define VMON_CORE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct state_writer {
	uint8_t *buf; /* malloc'd; the caller frees it */
	size_t len, cap;
	bool failed; /* out of memory: every later write is dropped */
};

void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u16(struct state_writer *w, uint16_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);
void state_put_bytes(struct state_writer *w, const void *p, size_t n);
void state_writer_free(struct state_writer *w);

struct state_reader {
	const uint8_t *p;
	size_t len, off;
	bool failed; /* a read ran past the end */
};

static inline struct state_reader state_reader_init(const void *p, size_t len)
{
	return (struct state_reader){.p = p, .len = len};
}

uint8_t state_get_u8(struct state_reader *r);
uint16_t state_get_u16(struct state_reader *r);
uint32_t state_get_u32(struct state_reader *r);
uint64_t state_get_u64(struct state_reader *r);
/* Copies n bytes into dst (zeros when the blob is short). */
void state_get_bytes(struct state_reader *r, void *dst, size_t n);
/* No read failed and every byte was read. */
bool state_reader_done(const struct state_reader *r);

/* save()/restore() for a device kind with no state of its own to keep
 * (its registers are write-only actions): an empty blob, and a restore
 * that accepts only that. */
struct vmon_error;
int state_save_nothing(void *dev, struct state_writer *w, struct vmon_error *err);
int state_restore_nothing(void *dev, struct state_reader *r, uint32_t version,
			  struct vmon_error *err);

#endif
