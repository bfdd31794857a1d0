/* SPDX-License-Identifier: MIT */
#include "core/bus.h"

#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	memset(bus, 0, sizeof(*bus));
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name, struct vmon_error *err)
{
	if (bus->sealed)
		return err_setf(err, "%s bus: cannot register %s after the machine started",
				bus->name, name);
	if (len == 0 || base + len < base)
		return err_setf(err, "%s bus: bad range for %s", bus->name, name);
	int pos = 0;
	while (pos < bus->nranges && bus->ranges[pos].base < base)
		pos++;
	/* Overlap with the neighbour before or the one at pos? */
	if (pos > 0) {
		const struct bus_range *p = &bus->ranges[pos - 1];
		if (p->base + p->len > base)
			return err_setf(err, "%s bus: %s at 0x%llx overlaps %s", bus->name, name,
					(unsigned long long)base, p->name);
	}
	if (pos < bus->nranges && base + len > bus->ranges[pos].base)
		return err_setf(err, "%s bus: %s at 0x%llx overlaps %s", bus->name, name,
				(unsigned long long)base, bus->ranges[pos].name);
	if (bus->nranges == bus->cap) {
		int ncap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *n = realloc(bus->ranges, (size_t)ncap * sizeof(*n));
		if (!n)
			return err_setf(err, "out of memory");
		bus->ranges = n;
		bus->cap = ncap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
		(size_t)(bus->nranges - pos) * sizeof(*bus->ranges));
	bus->ranges[pos] = (struct bus_range){
		.base = base, .len = len, .ops = ops, .opaque = opaque, .name = name};
	bus->nranges++;
	return 0;
}

void bus_seal(struct bus *bus)
{
	bus->sealed = true;
}

static bool range_holds(const struct bus_range *r, uint64_t addr, unsigned size)
{
	return addr >= r->base && addr - r->base < r->len && size <= r->len - (addr - r->base);
}

const struct bus_range *bus_find(const struct bus *bus, struct bus_hint *hint, uint64_t addr,
				 unsigned size)
{
	if (hint && hint->last && range_holds(hint->last, addr, size))
		return hint->last;
	int lo = 0, hi = bus->nranges - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (addr < r->base) {
			hi = mid - 1;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			if (!range_holds(r, addr, size))
				return NULL; /* straddles the end of a device */
			if (hint)
				hint->last = r;
			return r;
		}
	}
	return NULL;
}

bool bus_access(const struct bus *bus, struct bus_hint *hint, uint64_t addr, unsigned size,
		bool is_write, uint64_t *value)
{
	const struct bus_range *r = bus_find(bus, hint, addr, size);
	if (!r) {
		if (!is_write)
			*value = size >= 8 ? ~0ULL : ((1ULL << (size * 8)) - 1);
		return false;
	}
	if (is_write) {
		if (r->ops->write)
			r->ops->write(r->opaque, addr - r->base, size, *value);
	} else {
		*value = r->ops->read ? r->ops->read(r->opaque, addr - r->base, size)
				      : (size >= 8 ? ~0ULL : ((1ULL << (size * 8)) - 1));
	}
	return true;
}
