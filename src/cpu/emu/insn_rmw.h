/* SPDX-License-Identifier: MIT */
/*
 * Read-modify-write of an instruction's operand 0, shared by the families
 * that update a register or memory in place (ALU, shifts, bit ops,
 * exchanges): memory goes through a host pointer where it can, with a
 * compare-and-swap loop for LOCK (and XCHG), so locked operations are
 * atomic against the other vCPUs; MMIO and page-crossing operands fall
 * back to a read and a write.
 */
#ifndef VMON_CPU_EMU_INSN_RMW_H
#define VMON_CPU_EMU_INSN_RMW_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/emu/insn.h"

static inline uint64_t atomic_load_sz(void *p, unsigned size)
{
	switch (size) {
	case 1: return __atomic_load_n((uint8_t *)p, __ATOMIC_RELAXED);
	case 2: return __atomic_load_n((uint16_t *)p, __ATOMIC_RELAXED);
	case 4: return __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
	default: return __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
	}
}

/* Compare-and-swap of size bytes at p; on failure *old gets the current value. */
static inline bool cas_sz(void *p, unsigned size, uint64_t *old, uint64_t nv)
{
	switch (size) {
	case 1: {
		uint8_t o = *old;
		bool ok = __atomic_compare_exchange_n((uint8_t *)p, &o, (uint8_t)nv, false,
						      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = o;
		return ok;
	}
	case 2: {
		uint16_t o = *old;
		bool ok = __atomic_compare_exchange_n((uint16_t *)p, &o, (uint16_t)nv, false,
						      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = o;
		return ok;
	}
	case 4: {
		uint32_t o = *old;
		bool ok = __atomic_compare_exchange_n((uint32_t *)p, &o, (uint32_t)nv, false,
						      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = o;
		return ok;
	}
	default:
		return __atomic_compare_exchange_n((uint64_t *)p, old, nv, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	}
}

static inline void store_sz(void *p, unsigned size, uint64_t v)
{
	memcpy(p, &v, size);
}

static inline uint64_t load_sz(const void *p, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, p, size);
	return v;
}

/* Read-modify-write of operand 0 with fn(c, old, arg) -> new. Memory
 * destinations are updated through a host pointer when possible, with a
 * CAS loop for LOCK (and XCHG); fn may set flags and is retried on
 * contention. */
typedef uint64_t (*rmw_fn)(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg);

static inline uint64_t rmw(struct emu_cpu *c, const struct dinsn *d, rmw_fn fn, uint64_t arg,
			   bool locked)
{
	const struct dop *o = &d->op[0];
	unsigned size = o->size;
	if (o->kind == DOP_REG) {
		uint64_t old = get_reg(c, o->reg, size);
		set_reg(c, o->reg, size, fn(c, d, old, arg));
		return old;
	}
	if (o->kind != DOP_MEM)
		emu_raise(c, EXC_UD, 0, false);
	uint64_t lin = mem_lin_w(c, d, size);
	void *p = lin_rmw_ptr(c, lin, size);
	if (p) {
		if (locked) {
			uint64_t old = atomic_load_sz(p, size);
			for (;;) {
				uint64_t nv = fn(c, d, old, arg);
				if (cas_sz(p, size, &old, nv))
					return old;
			}
		}
		uint64_t old = load_sz(p, size);
		store_sz(p, size, fn(c, d, old, arg));
		return old;
	}
	uint64_t old = lin_read(c, lin, size);
	lin_write(c, lin, size, fn(c, d, old, arg));
	return old;
}

#endif
