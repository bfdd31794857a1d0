/* SPDX-License-Identifier: MIT */
/*
 * The vmstate file of a snapshot (docs/snapshot.md has the byte layout):
 * a header (magic, format version, the vmon that wrote it, the backend
 * that saved it, RAM size, vCPU count), a list of typed sections — the
 * machine config, the guest's CPU features, one neutral CPU state per
 * vCPU, the interrupt controllers and timer, one blob per device, each
 * tagged with an id, a kind and a state version — and a CRC-32 of all of
 * it. Guest RAM is in a separate memory file.
 *
 * This file only frames: building the bytes and taking them apart again
 * with every length checked. The file is untrusted: the parser refuses
 * (one line in err) a wrong magic, a format version it does not read, a
 * bad checksum, a truncated or overlong section, a bad string, more
 * sections than VMSTATE_MAX_SECTIONS; what is inside a section is checked
 * by whoever reads it (vmstate_cpu.c, vmstate_config.c, the devices).
 *
 * Threads: plain data; one thread per object.
 */
#ifndef VMON_VM_VMSTATE_H
#define VMON_VM_VMSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/state.h"

#define VMSTATE_MAGIC	       "VMONSNAP"
#define VMSTATE_FORMAT_VERSION 1
#define VMSTATE_MAX_BYTES      (64u << 20)
#define VMSTATE_MAX_SECTIONS   256
#define VMSTATE_STR_MAX	       64 /* ids, kinds, versions, backend names: < this */

enum vmstate_type {
	VMS_CONFIG = 1, /* the machine config (vmstate_config.c) */
	VMS_CPUID = 2,	/* the guest's CPU features, by name */
	VMS_CPU = 3,	/* one vCPU, id "cpuN" (vmstate_cpu.c) */
	VMS_CHIPS = 4,	/* PIC, IOAPIC, PIT (vmstate_cpu.c) */
	VMS_DEVICE = 5, /* a device's save() blob, id and kind of the device */
};

struct vmstate_header {
	char vmon_version[VMSTATE_STR_MAX];
	char backend[VMSTATE_STR_MAX];
	uint64_t mem_size;
	uint32_t ncpus;
};

struct vmstate_section {
	uint32_t type;
	char id[VMSTATE_STR_MAX];
	char kind[VMSTATE_STR_MAX];
	uint32_t version;
	const uint8_t *data; /* into the parsed buffer */
	uint32_t len;
};

/* A parsed file: the sections point into buf. */
struct vmstate {
	uint8_t *buf;
	size_t len;
	struct vmstate_header hdr;
	unsigned nsections;
	struct vmstate_section sec[VMSTATE_MAX_SECTIONS];
};

/* Building: begin, add sections, then write the file (checksum added). */
void vmstate_begin(struct state_writer *w, const struct vmstate_header *h);
void vmstate_add(struct state_writer *w, uint32_t type, const char *id, const char *kind,
		 uint32_t version, const void *data, size_t len);
/* Writes w's bytes plus the checksum to path (through a temporary file
 * renamed over it). Returns 0, or -1 with err. */
__attribute__((warn_unused_result)) int vmstate_write_file(struct state_writer *w, const char *path,
							   struct vmon_error *err);

/* Parses len bytes at buf (taking ownership of the malloc'd buf, also on
 * failure). Returns 0, or -1 with one line in err. */
__attribute__((warn_unused_result)) int vmstate_parse(struct vmstate *out, uint8_t *buf, size_t len,
						      struct vmon_error *err);
/* Reads and parses path. */
__attribute__((warn_unused_result)) int vmstate_load(struct vmstate *out, const char *path,
						     struct vmon_error *err);
void vmstate_free(struct vmstate *st);

/* The first section of type with this id (NULL: any id), or NULL. */
const struct vmstate_section *vmstate_find(const struct vmstate *st, uint32_t type, const char *id);

#endif
