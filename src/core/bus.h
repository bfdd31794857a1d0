/* SPDX-License-Identifier: MIT */
/*
 * Port-I/O and MMIO buses.
 *
 * A device registers [base, base+len) with an ops struct and an opaque
 * pointer. Registration happens during machine setup, before any vCPU runs;
 * after bus_seal() the range table is read-only, so lookups from many vCPU
 * threads need no lock. Devices do their own locking.
 *
 * Both CPU backends dispatch guest accesses here, so a device never knows
 * which backend runs it.
 */
#ifndef VMON_CORE_BUS_H
#define VMON_CORE_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

struct bus_ops {
	/* offset is relative to the registered base; size is 1, 2, 4 or 8. */
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
	void (*write)(void *opaque, uint64_t offset, unsigned size, uint64_t value);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;	  /* "pio" or "mmio", for messages */
	struct bus_range *ranges; /* sorted by base, non-overlapping */
	int nranges;
	int cap;
	bool sealed;
};

/* Per-vCPU lookup hint: the last range hit (kvmtool/bhyve style). */
struct bus_hint {
	const struct bus_range *last;
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/* Registers a device range. Fails (with err) on overlap, zero length,
 * wrap-around, or after bus_seal(). */
__attribute__((warn_unused_result)) int bus_register(struct bus *bus, uint64_t base, uint64_t len,
						     const struct bus_ops *ops, void *opaque,
						     const char *name, struct vmon_error *err);
void bus_seal(struct bus *bus);

/* Finds the range containing [addr, addr+size); NULL if none. */
const struct bus_range *bus_find(const struct bus *bus, struct bus_hint *hint, uint64_t addr,
				 unsigned size);

/* Dispatches an access. Unclaimed reads return all ones, unclaimed writes
 * are dropped (as on real hardware); returns false in those cases so the
 * caller may log. *value is in/out. */
bool bus_access(const struct bus *bus, struct bus_hint *hint, uint64_t addr, unsigned size,
		bool is_write, uint64_t *value);

#endif
