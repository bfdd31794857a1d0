/* SPDX-License-Identifier: MIT */
/*
 * Framing of the vmstate file (vmstate.h, docs/snapshot.md): header,
 * sections, CRC-32 (zlib's). The parser is for hostile bytes: every
 * length is checked against what is left before it is used.
 */
#include "vm/vmstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static void put_str(struct state_writer *w, const char *s)
{
	size_t n = strnlen(s, VMSTATE_STR_MAX - 1);
	state_put_u8(w, (uint8_t)n);
	state_put_bytes(w, s, n);
}

void vmstate_begin(struct state_writer *w, const struct vmstate_header *h)
{
	state_put_bytes(w, VMSTATE_MAGIC, 8);
	state_put_u32(w, VMSTATE_FORMAT_VERSION);
	put_str(w, h->vmon_version);
	put_str(w, h->backend);
	state_put_u64(w, h->mem_size);
	state_put_u32(w, h->ncpus);
}

void vmstate_add(struct state_writer *w, uint32_t type, const char *id, const char *kind,
		 uint32_t version, const void *data, size_t len)
{
	state_put_u32(w, type);
	put_str(w, id);
	put_str(w, kind);
	state_put_u32(w, version);
	if (len > UINT32_MAX) {
		w->failed = true;
		return;
	}
	state_put_u32(w, (uint32_t)len);
	state_put_bytes(w, data, len);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int vmstate_write_file(struct state_writer *w, const char *path, struct vmon_error *err)
{
	if (w->failed)
		return err_setf(err, "out of memory building the vmstate");
	uint32_t crc = (uint32_t)crc32(0L, w->buf, (uInt)w->len);
	state_put_u32(w, crc);
	if (w->failed)
		return err_setf(err, "out of memory building the vmstate");
	char tmp[4200];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return err_setf(err, "%s: path too long", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_setf(err, "%s: %s", tmp, strerror(errno));
	if (write_all(fd, w->buf, w->len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return err_setf(err, "%s: %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return err_setf(err, "%s: %s", path, strerror(e));
	}
	return 0;
}

/* A string field: 1..VMSTATE_STR_MAX-1 printable bytes (0 allowed for
 * ids only when empty is fine: the caller decides). */
static int get_str(struct state_reader *r, char *out, const char *what, struct vmon_error *err)
{
	uint8_t n = state_get_u8(r);
	if (r->failed || n >= VMSTATE_STR_MAX || r->len - r->off < n)
		return err_setf(err, "vmstate is truncated (in %s)", what);
	state_get_bytes(r, out, n);
	out[n] = 0;
	for (unsigned i = 0; i < n; i++)
		if (out[i] < 0x20 || out[i] > 0x7e)
			return err_setf(err, "vmstate has a bad %s", what);
	return 0;
}

static int parse_sections(struct vmstate *st, struct state_reader *r, struct vmon_error *err)
{
	for (uint32_t i = 0; r->off < r->len; i++) {
		if (i >= VMSTATE_MAX_SECTIONS)
			return err_setf(err, "vmstate has more than %u sections",
					VMSTATE_MAX_SECTIONS);
		struct vmstate_section *s = &st->sec[i];
		s->type = state_get_u32(r);
		if (get_str(r, s->id, "section id", err) < 0 ||
		    get_str(r, s->kind, "section kind", err) < 0)
			return -1;
		s->version = state_get_u32(r);
		s->len = state_get_u32(r);
		if (r->failed || s->len > r->len - r->off)
			return err_setf(err, "vmstate is truncated (section %u '%s')", i, s->id);
		s->data = r->p + r->off;
		r->off += s->len;
		st->nsections = i + 1;
	}
	return 0;
}

static int parse(struct vmstate *st, struct vmon_error *err)
{
	/* magic 8 + version 4 ... + crc 4 */
	if (st->len < 16)
		return err_setf(err, "vmstate is truncated (%zu bytes)", st->len);
	if (memcmp(st->buf, VMSTATE_MAGIC, 8) != 0)
		return err_setf(err, "not a vmon vmstate file (bad magic)");
	uint32_t ver;
	memcpy(&ver, st->buf + 8, 4);
	if (ver != VMSTATE_FORMAT_VERSION)
		return err_setf(err, "vmstate format version %u (this vmon reads version %u)", ver,
				VMSTATE_FORMAT_VERSION);
	size_t body = st->len - 4;
	uint32_t want;
	memcpy(&want, st->buf + body, 4);
	if ((uint32_t)crc32(0L, st->buf, (uInt)body) != want)
		return err_setf(err,
				"vmstate checksum mismatch (the file is corrupt or truncated)");
	struct state_reader r = state_reader_init(st->buf, body);
	r.off = 12;
	if (get_str(&r, st->hdr.vmon_version, "vmon version", err) < 0 ||
	    get_str(&r, st->hdr.backend, "backend name", err) < 0)
		return -1;
	st->hdr.mem_size = state_get_u64(&r);
	st->hdr.ncpus = state_get_u32(&r);
	if (r.failed)
		return err_setf(err, "vmstate is truncated (header)");
	return parse_sections(st, &r, err);
}

int vmstate_parse(struct vmstate *out, uint8_t *buf, size_t len, struct vmon_error *err)
{
	memset(out, 0, sizeof(*out));
	out->buf = buf;
	out->len = len;
	if (parse(out, err) < 0) {
		vmstate_free(out);
		return -1;
	}
	return 0;
}

int vmstate_load(struct vmstate *out, const char *path, struct vmon_error *err)
{
	memset(out, 0, sizeof(*out));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_setf(err, "%s: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return err_setf(err, "%s: not a regular file", path);
	}
	if (sb.st_size > (off_t)VMSTATE_MAX_BYTES) {
		close(fd);
		return err_setf(err, "%s: too large for a vmstate (%lld bytes)", path,
				(long long)sb.st_size);
	}
	size_t len = (size_t)sb.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		return err_setf(err, "out of memory");
	}
	size_t got = 0;
	while (got < len) {
		ssize_t k = read(fd, buf + got, len - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (vmstate_parse(out, buf, got, err) < 0) {
		char m[sizeof(err->msg)];
		snprintf(m, sizeof(m), "%s", err->msg);
		return err_setf(err, "%s: %s", path, m);
	}
	return 0;
}

void vmstate_free(struct vmstate *st)
{
	free(st->buf);
	st->buf = NULL;
	st->nsections = 0;
}

const struct vmstate_section *vmstate_find(const struct vmstate *st, uint32_t type, const char *id)
{
	for (unsigned i = 0; i < st->nsections; i++)
		if (st->sec[i].type == type && (!id || strcmp(st->sec[i].id, id) == 0))
			return &st->sec[i];
	return NULL;
}
