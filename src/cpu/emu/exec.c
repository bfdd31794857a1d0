/* SPDX-License-Identifier: MIT */
/*
 * The interpreter: executes one struct dinsn at a time, and the vCPU run
 * loop around it (interrupt acceptance, halt/sleep, timers, INIT/SIPI).
 *
 * Faults: emu_raise() longjmps back to the run loop with the exception
 * recorded; instructions therefore finish every access that can fault
 * before they commit register state, so RIP and registers still describe
 * the faulting instruction.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "cpu/emu/emu.h"
#include "cpu/emu/operand.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

uint64_t emu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- Flags ---------------------------------------------------------------- */

static inline bool parity(uint64_t v)
{
	return !__builtin_parity((unsigned)(v & 0xff));
}

static uint64_t flags_szp(uint64_t res, unsigned size)
{
	uint64_t m = szmask(size), f = 0;
	if (!(res & m))
		f |= F_ZF;
	if (res & sbit(size))
		f |= F_SF;
	if (parity(res))
		f |= F_PF;
	return f;
}

static uint64_t lazy_compute(const struct emu_cpu *c)
{
	uint64_t a = c->lf_a, b = c->lf_b, r = c->lf_res;
	unsigned size = c->lf_size;
	uint64_t m = szmask(size), sb = sbit(size);
	uint64_t f = flags_szp(r, size);
	switch (c->lf_op) {
	case LF_ADD:
		if ((r & m) < (a & m))
			f |= F_CF;
		if ((a ^ r) & (b ^ r) & sb)
			f |= F_OF;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_ADC:
		if (c->lf_cf ? (r & m) <= (a & m) : (r & m) < (a & m))
			f |= F_CF;
		if ((a ^ r) & (b ^ r) & sb)
			f |= F_OF;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_SUB:
		if ((a & m) < (b & m))
			f |= F_CF;
		if ((a ^ b) & (a ^ r) & sb)
			f |= F_OF;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_SBB:
		if (c->lf_cf ? (a & m) <= (b & m) : (a & m) < (b & m))
			f |= F_CF;
		if ((a ^ b) & (a ^ r) & sb)
			f |= F_OF;
		f |= (a ^ b ^ r) & F_AF;
		break;
	case LF_LOGIC: break;
	case LF_INC:
		f |= c->lf_cf ? F_CF : 0;
		if ((r & m) == sb)
			f |= F_OF;
		f |= (a ^ r) & F_AF;
		break;
	case LF_DEC:
		f |= c->lf_cf ? F_CF : 0;
		if ((r & m) == sb - 1)
			f |= F_OF;
		f |= (a ^ r) & F_AF;
		break;
	case LF_NEG:
		if (a & m)
			f |= F_CF;
		if ((a & m) == sb)
			f |= F_OF;
		f |= (a ^ r) & F_AF;
		break;
	case LF_SHL: {
		unsigned bits = size * 8;
		bool cf = b <= bits && ((a >> (bits - b)) & 1);
		if (cf)
			f |= F_CF;
		if (!!(r & sb) ^ cf)
			f |= F_OF;
		break;
	}
	case LF_SHR:
		if (b <= size * 8 && ((a >> (b - 1)) & 1))
			f |= F_CF;
		if (a & sb)
			f |= F_OF;
		break;
	case LF_SAR: {
		int64_t sa = sext(a, size);
		if ((sa >> (b - 1 > 63 ? 63 : b - 1)) & 1)
			f |= F_CF;
		break;
	}
	case LF_MUL:
		if (c->lf_cf)
			f |= F_CF | F_OF;
		break;
	}
	return f;
}

static inline uint64_t get_flags(struct emu_cpu *c)
{
	if (c->lf_op != LF_NONE) {
		c->flags = (c->flags & ~(uint64_t)F_ARITH) | lazy_compute(c);
		c->lf_op = LF_NONE;
	}
	return c->flags;
}

/* CF alone, straight from the lazy state where that is cheap (ADC/SBB
 * chains, Jc after ADD), without materialising the other flags. */
static inline __attribute__((always_inline)) bool get_cf(struct emu_cpu *c)
{
	uint64_t m = szmask(c->lf_size), a = c->lf_a & m, r = c->lf_res & m;
	switch (c->lf_op) {
	case LF_NONE: return c->flags & F_CF;
	case LF_ADD: return r < a;
	case LF_ADC: return c->lf_cf ? r <= a : r < a;
	case LF_SUB: return a < (c->lf_b & m);
	case LF_SBB: return c->lf_cf ? a <= (c->lf_b & m) : a < (c->lf_b & m);
	case LF_LOGIC: return false;
	default: return get_flags(c) & F_CF;
	}
}

static inline void lazy(struct emu_cpu *c, int op, unsigned size, uint64_t res, uint64_t a,
			uint64_t b)
{
	c->lf_op = op;
	c->lf_size = size;
	c->lf_res = res;
	c->lf_a = a;
	c->lf_b = b;
}

/* Sets the arithmetic flags eagerly. */
static inline void set_arith(struct emu_cpu *c, uint64_t f)
{
	/* Every arithmetic flag is replaced, so pending lazy state is moot. */
	c->lf_op = LF_NONE;
	c->flags = (c->flags & ~(uint64_t)F_ARITH) | (f & F_ARITH);
}

uint64_t emu_flags(struct emu_cpu *c)
{
	return get_flags(c);
}

static inline __attribute__((always_inline)) bool cond(struct emu_cpu *c, unsigned cc)
{
	if (c->lf_op != LF_NONE) {
		uint64_t m = szmask(c->lf_size);
		switch (cc >> 1) {
		case 2: /* Z */ return !(c->lf_res & m) ^ (cc & 1);
		case 4: /* S */ return !!(c->lf_res & sbit(c->lf_size)) ^ (cc & 1);
		case 1: /* B */
			if (c->lf_op == LF_SUB)
				return ((c->lf_a & m) < (c->lf_b & m)) ^ (cc & 1);
			if (c->lf_op == LF_LOGIC)
				return cc & 1;
			if (c->lf_op == LF_ADD)
				return ((c->lf_res & m) < (c->lf_a & m)) ^ (cc & 1);
			break;
		case 3: /* BE */
			if (c->lf_op == LF_SUB)
				return ((c->lf_a & m) <= (c->lf_b & m)) ^ (cc & 1);
			if (c->lf_op == LF_LOGIC)
				return !(c->lf_res & m) ^ (cc & 1);
			break;
		case 6: /* L */
			if (c->lf_op == LF_SUB)
				return (sext(c->lf_a, c->lf_size) < sext(c->lf_b, c->lf_size)) ^
				       (cc & 1);
			if (c->lf_op == LF_LOGIC)
				return !!(c->lf_res & sbit(c->lf_size)) ^ (cc & 1);
			break;
		case 7: /* LE */
			if (c->lf_op == LF_SUB)
				return (sext(c->lf_a, c->lf_size) <= sext(c->lf_b, c->lf_size)) ^
				       (cc & 1);
			if (c->lf_op == LF_LOGIC)
				return (!(c->lf_res & m) || (c->lf_res & sbit(c->lf_size))) ^
				       (cc & 1);
			break;
		default: break;
		}
	}
	uint64_t f = get_flags(c);
	bool r;
	switch (cc >> 1) {
	case 0: r = f & F_OF; break;
	case 1: r = f & F_CF; break;
	case 2: r = f & F_ZF; break;
	case 3: r = f & (F_CF | F_ZF); break;
	case 4: r = f & F_SF; break;
	case 5: r = f & F_PF; break;
	case 6: r = !(f & F_SF) != !(f & F_OF); break;
	default: r = (f & F_ZF) || (!(f & F_SF) != !(f & F_OF)); break;
	}
	return r ^ (cc & 1);
}

/* ---- Stack ----------------------------------------------------------------- */

static inline unsigned stack_size(struct emu_cpu *c)
{
	return c->cmode == 8 ? 8 : (c->seg[SEG_SS].attr & SA_DB) ? 4 : 2;
}

static inline void set_sp(struct emu_cpu *c, uint64_t sp)
{
	unsigned ss = stack_size(c);
	if (ss == 8)
		c->r[R_SP] = sp;
	else if (ss == 4)
		c->r[R_SP] = (uint32_t)sp;
	else
		c->r[R_SP] = (c->r[R_SP] & ~0xffffULL) | (sp & 0xffff);
}

static inline void push(struct emu_cpu *c, unsigned size, uint64_t v)
{
	uint64_t sp = amask(stack_size(c), c->r[R_SP] - size);
	mwrite(c, seg_lin(c, SEG_SS, sp), size, v);
	set_sp(c, sp);
}

static inline uint64_t pop(struct emu_cpu *c, unsigned size)
{
	uint64_t sp = amask(stack_size(c), c->r[R_SP]);
	uint64_t v = mread(c, seg_lin(c, SEG_SS, sp), size);
	set_sp(c, sp + size);
	return v;
}

/* ---- ALU ------------------------------------------------------------------- */

static inline __attribute__((always_inline)) uint64_t alu(struct emu_cpu *c, int mn, unsigned size,
							  uint64_t a, uint64_t b)
{
	uint64_t r;
	switch (mn) {
	case ZYDIS_MNEMONIC_ADD:
		r = a + b;
		lazy(c, LF_ADD, size, r, a, b);
		return r;
	case ZYDIS_MNEMONIC_ADC: {
		bool cf = get_cf(c);
		r = a + b + cf;
		lazy(c, LF_ADC, size, r, a, b);
		c->lf_cf = cf;
		return r;
	}
	case ZYDIS_MNEMONIC_SUB:
	case ZYDIS_MNEMONIC_CMP:
		r = a - b;
		lazy(c, LF_SUB, size, r, a, b);
		return r;
	case ZYDIS_MNEMONIC_SBB: {
		bool cf = get_cf(c);
		r = a - b - cf;
		lazy(c, LF_SBB, size, r, a, b);
		c->lf_cf = cf;
		return r;
	}
	case ZYDIS_MNEMONIC_AND:
	case ZYDIS_MNEMONIC_TEST: r = a & b; break;
	case ZYDIS_MNEMONIC_OR: r = a | b; break;
	default: /* XOR */ r = a ^ b; break;
	}
	lazy(c, LF_LOGIC, size, r, 0, 0);
	return r;
}

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

static uint64_t rmw(struct emu_cpu *c, const struct dinsn *d, rmw_fn fn, uint64_t arg, bool locked)
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
	uint64_t lin = mem_lin(c, d);
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

static uint64_t fn_alu(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	return alu(c, d->mnem, d->op[0].size, old, arg);
}

static uint64_t fn_inc(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	bool cf = get_cf(c);
	uint64_t r = old + 1;
	lazy(c, LF_INC, d->op[0].size, r, old, 1);
	c->lf_cf = cf;
	return r;
}

static uint64_t fn_dec(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	bool cf = get_cf(c);
	uint64_t r = old - 1;
	lazy(c, LF_DEC, d->op[0].size, r, old, 1);
	c->lf_cf = cf;
	return r;
}

static uint64_t fn_neg(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	uint64_t r = 0 - old;
	lazy(c, LF_NEG, d->op[0].size, r, old, 0);
	return r;
}

static uint64_t fn_not(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	return ~old;
}

static uint64_t fn_xchg(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	return arg;
}

static uint64_t fn_xadd(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t arg)
{
	uint64_t r = old + arg;
	lazy(c, LF_ADD, d->op[0].size, r, old, arg);
	return r;
}

static uint64_t fn_bts(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t bit)
{
	return old | (1ULL << bit);
}

static uint64_t fn_btr(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t bit)
{
	return old & ~(1ULL << bit);
}

static uint64_t fn_btc(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t bit)
{
	return old ^ (1ULL << bit);
}

/* ---- Shifts and rotates ------------------------------------------------------ */

static uint64_t shift_op(struct emu_cpu *c, int mn, unsigned size, uint64_t a, unsigned cnt)
{
	unsigned bits = size * 8;
	uint64_t m = szmask(size), sb = sbit(size);
	a &= m;
	cnt &= size == 8 ? 63 : 31;
	if (!cnt)
		return a;
	uint64_t r, f = 0;
	bool cf = false, of = false;
	switch (mn) {
	case ZYDIS_MNEMONIC_SHL:
		r = cnt >= bits ? 0 : (a << cnt) & m;
		lazy(c, LF_SHL, size, r, a, cnt);
		return r;
	case ZYDIS_MNEMONIC_SHR:
		r = cnt >= bits ? 0 : a >> cnt;
		lazy(c, LF_SHR, size, r, a, cnt);
		return r;
	case ZYDIS_MNEMONIC_SAR: {
		int64_t s = sext(a, size);
		unsigned k = cnt >= bits ? bits - 1 : cnt;
		r = (uint64_t)(s >> k) & m;
		lazy(c, LF_SAR, size, r, a, cnt);
		return r;
	}
	case ZYDIS_MNEMONIC_ROL: {
		unsigned k = cnt % bits;
		r = k ? ((a << k) | (a >> (bits - k))) & m : a;
		cf = r & 1;
		of = !!(r & sb) ^ cf;
		f = get_flags(c) & (F_ZF | F_SF | F_PF | F_AF);
		break;
	}
	case ZYDIS_MNEMONIC_ROR: {
		unsigned k = cnt % bits;
		r = k ? ((a >> k) | (a << (bits - k))) & m : a;
		cf = !!(r & sb);
		of = !!(r & sb) ^ !!(r & (sb >> 1));
		f = get_flags(c) & (F_ZF | F_SF | F_PF | F_AF);
		break;
	}
	case ZYDIS_MNEMONIC_RCL: {
		unsigned k = cnt % (bits + 1);
		r = a;
		cf = get_cf(c);
		for (unsigned i = 0; i < k; i++) {
			bool out = !!(r & sb);
			r = ((r << 1) | cf) & m;
			cf = out;
		}
		of = !!(r & sb) ^ cf;
		f = get_flags(c) & (F_ZF | F_SF | F_PF | F_AF);
		break;
	}
	case ZYDIS_MNEMONIC_RCR: {
		unsigned k = cnt % (bits + 1);
		r = a;
		cf = get_cf(c);
		of = !!(r & sb) ^ cf;
		for (unsigned i = 0; i < k; i++) {
			bool out = r & 1;
			r = (r >> 1) | (cf ? sb : 0);
			cf = out;
		}
		f = get_flags(c) & (F_ZF | F_SF | F_PF | F_AF);
		break;
	}
	default: return a;
	}
	set_arith(c, f | (cf ? F_CF : 0) | (of ? F_OF : 0));
	return r;
}

static uint64_t fn_shift(struct emu_cpu *c, const struct dinsn *d, uint64_t old, uint64_t cnt)
{
	return shift_op(c, d->mnem, d->op[0].size, old, (unsigned)cnt);
}

static uint64_t fn_shd(struct emu_cpu *c, const struct dinsn *d, uint64_t a, uint64_t cnt)
{
	unsigned size = d->op[0].size, bits = size * 8;
	uint64_t m = szmask(size), sb = sbit(size);
	uint64_t b = get_reg(c, d->op[1].reg, size);
	cnt &= size == 8 ? 63 : 31;
	if (!cnt)
		return a;
	uint64_t r;
	bool cf;
	if (size == 2 && cnt > 16) {
		/* Undefined on hardware; shift through the 32-bit pair. */
		cnt &= 15;
		if (!cnt)
			return a;
	}
	if (d->mnem == ZYDIS_MNEMONIC_SHLD) {
		r = ((a << cnt) | (b >> (bits - cnt))) & m;
		cf = (a >> (bits - cnt)) & 1;
	} else {
		r = ((a >> cnt) | (b << (bits - cnt))) & m;
		cf = (a >> (cnt - 1)) & 1;
	}
	bool of = ((r ^ a) & sb) != 0;
	set_arith(c, flags_szp(r, size) | (cf ? F_CF : 0) | (of ? F_OF : 0));
	return r;
}

/* ---- I/O ---------------------------------------------------------------------- */

static void io_check(struct emu_cpu *c)
{
	if ((c->cr0 & CR0_PE) && c->cpl > (int)((c->flags & F_IOPL) >> 12))
		emu_raise_gp(c, 0);
}

static uint64_t port_in(struct emu_cpu *c, uint16_t port, unsigned size)
{
	uint64_t v = 0;
	c->slow = true; /* the device may have stopped the VM */
	if (!bus_access(&c->m->pio, &c->pio_hint, port, size, false, &v) &&
	    c->m->trace_unclaimed_io)
		fprintf(stderr, "vmon: emu: unclaimed in %#x/%u\n", port, size);
	return v & szmask(size);
}

static void port_out(struct emu_cpu *c, uint16_t port, unsigned size, uint64_t v)
{
	v &= szmask(size);
	c->slow = true;
	if (!bus_access(&c->m->pio, &c->pio_hint, port, size, true, &v) && c->m->trace_unclaimed_io)
		fprintf(stderr, "vmon: emu: unclaimed out %#x/%u = %#llx\n", port, size,
			(unsigned long long)v);
}

/* ---- String instructions -------------------------------------------------------- */

#define STRING_BATCH 65536

/* Returns true when the instruction is complete (else RIP stays and it
 * resumes after pending events). */
static bool do_string(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned size = d->osize, as = d->asize;
	bool rep = d->flags & (DI_REP | DI_REPNE);
	int mn = d->mnem;
	int sseg = d->seg == SEG_NONE ? SEG_DS : d->seg;
	int64_t step = (c->flags & F_DF) ? -(int64_t)size : (int64_t)size;
	uint64_t amsk = szmask(as);
	bool is_cmp = false;
	enum { S_MOVS, S_STOS, S_LODS, S_CMPS, S_SCAS, S_INS, S_OUTS } kind;
	switch (mn) {
	case ZYDIS_MNEMONIC_MOVSB:
	case ZYDIS_MNEMONIC_MOVSW:
	case ZYDIS_MNEMONIC_MOVSD:
	case ZYDIS_MNEMONIC_MOVSQ: kind = S_MOVS; break;
	case ZYDIS_MNEMONIC_STOSB:
	case ZYDIS_MNEMONIC_STOSW:
	case ZYDIS_MNEMONIC_STOSD:
	case ZYDIS_MNEMONIC_STOSQ: kind = S_STOS; break;
	case ZYDIS_MNEMONIC_LODSB:
	case ZYDIS_MNEMONIC_LODSW:
	case ZYDIS_MNEMONIC_LODSD:
	case ZYDIS_MNEMONIC_LODSQ: kind = S_LODS; break;
	case ZYDIS_MNEMONIC_CMPSB:
	case ZYDIS_MNEMONIC_CMPSW:
	case ZYDIS_MNEMONIC_CMPSD:
	case ZYDIS_MNEMONIC_CMPSQ:
		kind = S_CMPS;
		is_cmp = true;
		break;
	case ZYDIS_MNEMONIC_SCASB:
	case ZYDIS_MNEMONIC_SCASW:
	case ZYDIS_MNEMONIC_SCASD:
	case ZYDIS_MNEMONIC_SCASQ:
		kind = S_SCAS;
		is_cmp = true;
		break;
	case ZYDIS_MNEMONIC_INSB:
	case ZYDIS_MNEMONIC_INSW:
	case ZYDIS_MNEMONIC_INSD: kind = S_INS; break;
	case ZYDIS_MNEMONIC_OUTSB:
	case ZYDIS_MNEMONIC_OUTSW:
	case ZYDIS_MNEMONIC_OUTSD: kind = S_OUTS; break;
	default: emu_report_unimpl(c, d); emu_raise(c, EXC_UD, 0, false);
	}
	if (kind == S_INS || kind == S_OUTS)
		io_check(c);
	for (unsigned iter = 0;; iter++) {
		uint64_t cnt = c->r[R_CX] & amsk;
		if (rep && !cnt)
			return true;
		if (rep && iter >= STRING_BATCH)
			return false;
		uint64_t si = c->r[R_SI] & amsk, di = c->r[R_DI] & amsk;
		/* Fast path: forward rep movs/stos within RAM pages. */
		if (rep && step > 0 && (kind == S_STOS || kind == S_MOVS) && cnt > 1) {
			uint64_t dl = seg_lin(c, SEG_ES, di);
			uint64_t n = cnt;
			uint64_t room = (4096 - (dl & 0xfff)) / size;
			if (di + n * size - 1 > amsk) /* would wrap the address size */
				n = 1;
			if (n > room)
				n = room;
			uint64_t sl = 0;
			if (kind == S_MOVS) {
				sl = seg_lin(c, sseg, si);
				uint64_t sroom = (4096 - (sl & 0xfff)) / size;
				if (n > sroom)
					n = sroom;
				if (si + n * size - 1 > amsk)
					n = 1;
			}
			if (n > 1) {
				uint8_t *dp = lin_rmw_ptr(
					c, dl,
					(unsigned)(n * size) > 4096 ? 4096 : (unsigned)(n * size));
				const uint8_t *sp = NULL;
				if (kind == S_MOVS && dp) {
					struct tlb_entry *e = mmu_lookup(c, sl, 0, c->cpl == 3);
					sp = e->host ? e->host + (sl & 0xfff) : NULL;
					/* Overlap where dst is just above src replicates
					 * bytes: leave that to the element loop. */
					if (sp && dp > sp && dp < sp + n * size)
						sp = NULL;
				}
				if (dp && (kind == S_STOS || sp)) {
					if (kind == S_STOS) {
						uint64_t v = c->r[R_AX];
						if (size == 1)
							memset(dp, (int)(v & 0xff), n);
						else
							for (uint64_t i = 0; i < n; i++)
								memcpy(dp + i * size, &v, size);
					} else {
						memmove(dp, sp, n * size);
					}
					c->r[R_DI] =
						(c->r[R_DI] & ~amsk) | ((di + n * size) & amsk);
					if (kind == S_MOVS)
						c->r[R_SI] = (c->r[R_SI] & ~amsk) |
							     ((si + n * size) & amsk);
					c->r[R_CX] = (c->r[R_CX] & ~amsk) | ((cnt - n) & amsk);
					iter += (unsigned)n;
					continue;
				}
			}
		}
		uint64_t a, b;
		switch (kind) {
		case S_MOVS:
			a = lin_read(c, seg_lin(c, sseg, si), size);
			lin_write(c, seg_lin(c, SEG_ES, di), size, a);
			si += step;
			di += step;
			break;
		case S_STOS:
			lin_write(c, seg_lin(c, SEG_ES, di), size, c->r[R_AX]);
			di += step;
			break;
		case S_LODS:
			a = lin_read(c, seg_lin(c, sseg, si), size);
			set_reg(c, R_AX, size, a);
			si += step;
			break;
		case S_CMPS:
			a = lin_read(c, seg_lin(c, sseg, si), size);
			b = lin_read(c, seg_lin(c, SEG_ES, di), size);
			alu(c, ZYDIS_MNEMONIC_CMP, size, a, b);
			si += step;
			di += step;
			break;
		case S_SCAS:
			b = lin_read(c, seg_lin(c, SEG_ES, di), size);
			alu(c, ZYDIS_MNEMONIC_CMP, size, c->r[R_AX] & szmask(size), b);
			di += step;
			break;
		case S_INS: {
			uint64_t dl = seg_lin(c, SEG_ES, di);
			mmu_lookup(c, dl, 1, c->cpl == 3); /* fault before the port read */
			a = port_in(c, (uint16_t)c->r[R_DX], size);
			lin_write(c, dl, size, a);
			di += step;
			break;
		}
		case S_OUTS:
			a = lin_read(c, seg_lin(c, sseg, si), size);
			port_out(c, (uint16_t)c->r[R_DX], size, a);
			si += step;
			break;
		}
		c->r[R_SI] = (c->r[R_SI] & ~amsk) | (si & amsk);
		c->r[R_DI] = (c->r[R_DI] & ~amsk) | (di & amsk);
		if (!rep)
			return true;
		c->r[R_CX] = (c->r[R_CX] & ~amsk) | ((cnt - 1) & amsk);
		if (is_cmp) {
			bool zf = get_flags(c) & F_ZF;
			if ((d->flags & DI_REP) && !zf)
				return true;
			if ((d->flags & DI_REPNE) && zf)
				return true;
		}
		if (kind == S_INS || kind == S_OUTS) {
			if (vmctl_stopping(&c->m->ctl))
				return false;
		}
	}
}

/* ---- Multiply / divide ------------------------------------------------------------ */

static void do_mul1(struct emu_cpu *c, const struct dinsn *d, bool sign)
{
	unsigned size = d->op[0].size;
	uint64_t src = opr(c, d, 0);
	uint64_t lo, hi;
	bool ovf;
	if (size == 8) {
		if (sign) {
			__int128 p = (__int128)(int64_t)c->r[R_AX] * (int64_t)src;
			lo = (uint64_t)p;
			hi = (uint64_t)(p >> 64);
			ovf = p != (__int128)(int64_t)lo;
		} else {
			unsigned __int128 p = (unsigned __int128)c->r[R_AX] * src;
			lo = (uint64_t)p;
			hi = (uint64_t)(p >> 64);
			ovf = hi != 0;
		}
	} else {
		unsigned bits = size * 8;
		uint64_t a = c->r[R_AX] & szmask(size);
		if (sign) {
			int64_t p = sext(a, size) * sext(src, size);
			lo = (uint64_t)p & szmask(size);
			hi = ((uint64_t)p >> bits) & szmask(size);
			ovf = p != sext(lo, size);
		} else {
			uint64_t p = a * (src & szmask(size));
			lo = p & szmask(size);
			hi = p >> bits;
			ovf = hi != 0;
		}
	}
	if (size == 1) {
		set_reg(c, R_AX, 2, (lo & 0xff) | ((hi & 0xff) << 8));
	} else {
		set_reg(c, R_AX, size, lo);
		set_reg(c, R_DX, size, hi);
	}
	set_arith(c, flags_szp(lo, size) | (ovf ? F_CF | F_OF : 0));
}

static void do_imul_n(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned size = d->op[0].size;
	uint64_t a, b;
	if (d->nops == 3) {
		a = opr(c, d, 1);
		b = (uint64_t)d->imm;
	} else {
		a = opr(c, d, 0);
		b = opr(c, d, 1);
	}
	uint64_t lo;
	bool ovf;
	if (size == 8) {
		__int128 p = (__int128)(int64_t)a * (int64_t)b;
		lo = (uint64_t)p;
		ovf = p != (__int128)(int64_t)lo;
	} else {
		int64_t p = sext(a, size) * sext(b, size);
		lo = (uint64_t)p & szmask(size);
		ovf = p != sext(lo, size);
	}
	set_reg(c, d->op[0].reg, size, lo);
	lazy(c, LF_MUL, size, lo, 0, 0);
	c->lf_cf = ovf;
}

static void do_div(struct emu_cpu *c, const struct dinsn *d, bool sign)
{
	unsigned size = d->op[0].size;
	uint64_t src = opr(c, d, 0) & szmask(size);
	if (!src)
		emu_raise(c, EXC_DE, 0, false);
	if (size == 8) {
		if (sign) {
			__int128 n = (__int128)(((unsigned __int128)c->r[R_DX] << 64) | c->r[R_AX]);
			int64_t dv = (int64_t)src;
			if (dv == -1 && (unsigned __int128)n == ((unsigned __int128)1 << 127))
				emu_raise(c, EXC_DE, 0, false);
			__int128 q = n / dv, r = n % dv;
			if (q > INT64_MAX || q < INT64_MIN)
				emu_raise(c, EXC_DE, 0, false);
			c->r[R_AX] = (uint64_t)q;
			c->r[R_DX] = (uint64_t)r;
		} else {
			unsigned __int128 n = ((unsigned __int128)c->r[R_DX] << 64) | c->r[R_AX];
			unsigned __int128 q = n / src, r = n % src;
			if (q >> 64)
				emu_raise(c, EXC_DE, 0, false);
			c->r[R_AX] = (uint64_t)q;
			c->r[R_DX] = (uint64_t)r;
		}
		return;
	}
	unsigned bits = size * 8;
	uint64_t n;
	if (size == 1)
		n = c->r[R_AX] & 0xffff;
	else
		n = ((c->r[R_DX] & szmask(size)) << bits) | (c->r[R_AX] & szmask(size));
	uint64_t q, r;
	if (sign) {
		int64_t sn = size == 4 ? (int64_t)n : sext(n, size * 2);
		int64_t sd = sext(src, size);
		int64_t sq = sn / sd, sr = sn % sd;
		if (sq != sext((uint64_t)sq & szmask(size), size))
			emu_raise(c, EXC_DE, 0, false);
		q = (uint64_t)sq;
		r = (uint64_t)sr;
	} else {
		q = n / src;
		r = n % src;
		if (q >> bits)
			emu_raise(c, EXC_DE, 0, false);
	}
	if (size == 1) {
		set_reg(c, R_AX, 2, (q & 0xff) | ((r & 0xff) << 8));
	} else {
		set_reg(c, R_AX, size, q);
		set_reg(c, R_DX, size, r);
	}
}

/* ---- Descriptor-table instructions ------------------------------------------------- */

static void need_cpl0(struct emu_cpu *c)
{
	if (c->cpl != 0)
		emu_raise_gp(c, 0);
}

static void load_sys_seg(struct emu_cpu *c, bool is_tr, uint16_t sel)
{
	need_cpl0(c);
	struct seg *s = is_tr ? &c->tr : &c->ldtr;
	if (!(sel & ~3)) {
		if (is_tr)
			emu_raise_gp(c, 0);
		memset(s, 0, sizeof(*s));
		return;
	}
	if (sel & 4)
		emu_raise_gp(c, sel & ~3);
	uint32_t idx = sel & ~7u;
	unsigned dsize = (c->efer & EFER_LMA) ? 16 : 8;
	if (idx + dsize - 1 > c->gdtr.limit)
		emu_raise_gp(c, sel & ~3);
	uint64_t lin = c->gdtr.base + idx;
	uint64_t lo = lin_read_sys(c, lin, 8);
	uint64_t hi = dsize == 16 ? lin_read_sys(c, lin + 8, 8) : 0;
	unsigned type = (lo >> 40) & 0xf;
	if ((lo >> 44) & 1) /* S bit: must be a system descriptor */
		emu_raise_gp(c, sel & ~3);
	if (is_tr ? (type != 9 && type != 1) : type != 2)
		emu_raise_gp(c, sel & ~3);
	if (!((lo >> 47) & 1))
		emu_raise(c, EXC_NP, sel & ~3, true);
	s->sel = sel;
	s->base = ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24) | ((hi & 0xffffffff) << 32);
	s->limit = (lo & 0xffff) | ((lo >> 32) & 0xf0000);
	if ((lo >> 55) & 1)
		s->limit = (s->limit << 12) | 0xfff;
	s->attr = (lo >> 40) & 0xf0ff;
	if (is_tr) {
		lin_write_sys(c, lin, 8, lo | (2ULL << 40)); /* busy */
		s->attr |= 2;
	}
}

static void do_dt(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t lin = mem_lin(c, d);
	struct dtr *t = (d->mnem == ZYDIS_MNEMONIC_LGDT || d->mnem == ZYDIS_MNEMONIC_SGDT)
				? &c->gdtr
				: &c->idtr;
	bool load = d->mnem == ZYDIS_MNEMONIC_LGDT || d->mnem == ZYDIS_MNEMONIC_LIDT;
	if (load) {
		need_cpl0(c);
		uint16_t limit = (uint16_t)lin_read(c, lin, 2);
		uint64_t base;
		if (c->cmode == 8)
			base = lin_read(c, lin + 2, 8);
		else
			base = lin_read(c, lin + 2, 4) & (d->osize == 2 ? 0xffffff : 0xffffffff);
		t->limit = limit;
		t->base = base;
	} else {
		lin_write(c, lin, 2, t->limit);
		lin_write(c, lin + 2, c->cmode == 8 ? 8 : 4, t->base);
	}
}

/* Mnemonic -> dense handler class, so exec() dispatches through one jump
 * table (Zydis mnemonics are sparse). */
const uint8_t emu_hclass[ZYDIS_MNEMONIC_MAX_VALUE + 1] = {
	[ZYDIS_MNEMONIC_NOP] = H_NOP,
	[ZYDIS_MNEMONIC_PAUSE] = H_PAUSE,
	[ZYDIS_MNEMONIC_ENDBR64] = H_ENDBR64,
	[ZYDIS_MNEMONIC_ENDBR32] = H_ENDBR32,
	[ZYDIS_MNEMONIC_PREFETCH] = H_PREFETCH,
	[ZYDIS_MNEMONIC_PREFETCHW] = H_PREFETCHW,
	[ZYDIS_MNEMONIC_PREFETCHNTA] = H_PREFETCHNTA,
	[ZYDIS_MNEMONIC_PREFETCHT0] = H_PREFETCHT0,
	[ZYDIS_MNEMONIC_PREFETCHT1] = H_PREFETCHT1,
	[ZYDIS_MNEMONIC_PREFETCHT2] = H_PREFETCHT2,
	[ZYDIS_MNEMONIC_LFENCE] = H_LFENCE,
	[ZYDIS_MNEMONIC_SFENCE] = H_SFENCE,
	[ZYDIS_MNEMONIC_CLFLUSH] = H_CLFLUSH,
	[ZYDIS_MNEMONIC_MFENCE] = H_MFENCE,
	[ZYDIS_MNEMONIC_MOV] = H_MOV,
	[ZYDIS_MNEMONIC_MOVNTI] = H_MOVNTI,
	[ZYDIS_MNEMONIC_MOVZX] = H_MOVZX,
	[ZYDIS_MNEMONIC_MOVSX] = H_MOVSX,
	[ZYDIS_MNEMONIC_MOVSXD] = H_MOVSXD,
	[ZYDIS_MNEMONIC_LEA] = H_LEA,
	[ZYDIS_MNEMONIC_ADD] = H_ADD,
	[ZYDIS_MNEMONIC_OR] = H_OR,
	[ZYDIS_MNEMONIC_ADC] = H_ADC,
	[ZYDIS_MNEMONIC_SBB] = H_SBB,
	[ZYDIS_MNEMONIC_AND] = H_AND,
	[ZYDIS_MNEMONIC_SUB] = H_SUB,
	[ZYDIS_MNEMONIC_XOR] = H_XOR,
	[ZYDIS_MNEMONIC_CMP] = H_CMP,
	[ZYDIS_MNEMONIC_TEST] = H_TEST,
	[ZYDIS_MNEMONIC_INC] = H_INC,
	[ZYDIS_MNEMONIC_DEC] = H_DEC,
	[ZYDIS_MNEMONIC_NEG] = H_NEG,
	[ZYDIS_MNEMONIC_NOT] = H_NOT,
	[ZYDIS_MNEMONIC_SHL] = H_SHL,
	[ZYDIS_MNEMONIC_SHR] = H_SHR,
	[ZYDIS_MNEMONIC_SAR] = H_SAR,
	[ZYDIS_MNEMONIC_ROL] = H_ROL,
	[ZYDIS_MNEMONIC_ROR] = H_ROR,
	[ZYDIS_MNEMONIC_RCL] = H_RCL,
	[ZYDIS_MNEMONIC_RCR] = H_RCR,
	[ZYDIS_MNEMONIC_SHLD] = H_SHLD,
	[ZYDIS_MNEMONIC_SHRD] = H_SHRD,
	[ZYDIS_MNEMONIC_MUL] = H_MUL,
	[ZYDIS_MNEMONIC_IMUL] = H_IMUL,
	[ZYDIS_MNEMONIC_DIV] = H_DIV,
	[ZYDIS_MNEMONIC_IDIV] = H_IDIV,
	[ZYDIS_MNEMONIC_XCHG] = H_XCHG,
	[ZYDIS_MNEMONIC_XADD] = H_XADD,
	[ZYDIS_MNEMONIC_CMPXCHG] = H_CMPXCHG,
	[ZYDIS_MNEMONIC_CMPXCHG8B] = H_CMPXCHG8B,
	[ZYDIS_MNEMONIC_CMPXCHG16B] = H_CMPXCHG16B,
	[ZYDIS_MNEMONIC_BT] = H_BT,
	[ZYDIS_MNEMONIC_BTS] = H_BTS,
	[ZYDIS_MNEMONIC_BTR] = H_BTR,
	[ZYDIS_MNEMONIC_BTC] = H_BTC,
	[ZYDIS_MNEMONIC_BSF] = H_BSF,
	[ZYDIS_MNEMONIC_BSR] = H_BSR,
	[ZYDIS_MNEMONIC_TZCNT] = H_TZCNT,
	[ZYDIS_MNEMONIC_BSWAP] = H_BSWAP,
	[ZYDIS_MNEMONIC_CBW] = H_CBW,
	[ZYDIS_MNEMONIC_CWDE] = H_CWDE,
	[ZYDIS_MNEMONIC_CDQE] = H_CDQE,
	[ZYDIS_MNEMONIC_CWD] = H_CWD,
	[ZYDIS_MNEMONIC_CDQ] = H_CDQ,
	[ZYDIS_MNEMONIC_CQO] = H_CQO,
	[ZYDIS_MNEMONIC_JMP] = H_JMP,
	[ZYDIS_MNEMONIC_JO] = H_JO,
	[ZYDIS_MNEMONIC_JNO] = H_JNO,
	[ZYDIS_MNEMONIC_JB] = H_JB,
	[ZYDIS_MNEMONIC_JNB] = H_JNB,
	[ZYDIS_MNEMONIC_JZ] = H_JZ,
	[ZYDIS_MNEMONIC_JNZ] = H_JNZ,
	[ZYDIS_MNEMONIC_JBE] = H_JBE,
	[ZYDIS_MNEMONIC_JNBE] = H_JNBE,
	[ZYDIS_MNEMONIC_JS] = H_JS,
	[ZYDIS_MNEMONIC_JNS] = H_JNS,
	[ZYDIS_MNEMONIC_JP] = H_JP,
	[ZYDIS_MNEMONIC_JNP] = H_JNP,
	[ZYDIS_MNEMONIC_JL] = H_JL,
	[ZYDIS_MNEMONIC_JNL] = H_JNL,
	[ZYDIS_MNEMONIC_JLE] = H_JLE,
	[ZYDIS_MNEMONIC_JNLE] = H_JNLE,
	[ZYDIS_MNEMONIC_JCXZ] = H_JCXZ,
	[ZYDIS_MNEMONIC_JECXZ] = H_JECXZ,
	[ZYDIS_MNEMONIC_JRCXZ] = H_JRCXZ,
	[ZYDIS_MNEMONIC_LOOP] = H_LOOP,
	[ZYDIS_MNEMONIC_LOOPE] = H_LOOPE,
	[ZYDIS_MNEMONIC_LOOPNE] = H_LOOPNE,
	[ZYDIS_MNEMONIC_SETO] = H_SETO,
	[ZYDIS_MNEMONIC_SETNO] = H_SETNO,
	[ZYDIS_MNEMONIC_SETB] = H_SETB,
	[ZYDIS_MNEMONIC_SETNB] = H_SETNB,
	[ZYDIS_MNEMONIC_SETZ] = H_SETZ,
	[ZYDIS_MNEMONIC_SETNZ] = H_SETNZ,
	[ZYDIS_MNEMONIC_SETBE] = H_SETBE,
	[ZYDIS_MNEMONIC_SETNBE] = H_SETNBE,
	[ZYDIS_MNEMONIC_SETS] = H_SETS,
	[ZYDIS_MNEMONIC_SETNS] = H_SETNS,
	[ZYDIS_MNEMONIC_SETP] = H_SETP,
	[ZYDIS_MNEMONIC_SETNP] = H_SETNP,
	[ZYDIS_MNEMONIC_SETL] = H_SETL,
	[ZYDIS_MNEMONIC_SETNL] = H_SETNL,
	[ZYDIS_MNEMONIC_SETLE] = H_SETLE,
	[ZYDIS_MNEMONIC_SETNLE] = H_SETNLE,
	[ZYDIS_MNEMONIC_CMOVO] = H_CMOVO,
	[ZYDIS_MNEMONIC_CMOVNO] = H_CMOVNO,
	[ZYDIS_MNEMONIC_CMOVB] = H_CMOVB,
	[ZYDIS_MNEMONIC_CMOVNB] = H_CMOVNB,
	[ZYDIS_MNEMONIC_CMOVZ] = H_CMOVZ,
	[ZYDIS_MNEMONIC_CMOVNZ] = H_CMOVNZ,
	[ZYDIS_MNEMONIC_CMOVBE] = H_CMOVBE,
	[ZYDIS_MNEMONIC_CMOVNBE] = H_CMOVNBE,
	[ZYDIS_MNEMONIC_CMOVS] = H_CMOVS,
	[ZYDIS_MNEMONIC_CMOVNS] = H_CMOVNS,
	[ZYDIS_MNEMONIC_CMOVP] = H_CMOVP,
	[ZYDIS_MNEMONIC_CMOVNP] = H_CMOVNP,
	[ZYDIS_MNEMONIC_CMOVL] = H_CMOVL,
	[ZYDIS_MNEMONIC_CMOVNL] = H_CMOVNL,
	[ZYDIS_MNEMONIC_CMOVLE] = H_CMOVLE,
	[ZYDIS_MNEMONIC_CMOVNLE] = H_CMOVNLE,
	[ZYDIS_MNEMONIC_CALL] = H_CALL,
	[ZYDIS_MNEMONIC_RET] = H_RET,
	[ZYDIS_MNEMONIC_PUSH] = H_PUSH,
	[ZYDIS_MNEMONIC_POP] = H_POP,
	[ZYDIS_MNEMONIC_PUSHF] = H_PUSHF,
	[ZYDIS_MNEMONIC_PUSHFD] = H_PUSHFD,
	[ZYDIS_MNEMONIC_PUSHFQ] = H_PUSHFQ,
	[ZYDIS_MNEMONIC_POPF] = H_POPF,
	[ZYDIS_MNEMONIC_POPFD] = H_POPFD,
	[ZYDIS_MNEMONIC_POPFQ] = H_POPFQ,
	[ZYDIS_MNEMONIC_PUSHA] = H_PUSHA,
	[ZYDIS_MNEMONIC_PUSHAD] = H_PUSHAD,
	[ZYDIS_MNEMONIC_POPA] = H_POPA,
	[ZYDIS_MNEMONIC_POPAD] = H_POPAD,
	[ZYDIS_MNEMONIC_LEAVE] = H_LEAVE,
	[ZYDIS_MNEMONIC_ENTER] = H_ENTER,
	[ZYDIS_MNEMONIC_CLC] = H_CLC,
	[ZYDIS_MNEMONIC_STC] = H_STC,
	[ZYDIS_MNEMONIC_CMC] = H_CMC,
	[ZYDIS_MNEMONIC_CLD] = H_CLD,
	[ZYDIS_MNEMONIC_STD] = H_STD,
	[ZYDIS_MNEMONIC_CLI] = H_CLI,
	[ZYDIS_MNEMONIC_STI] = H_STI,
	[ZYDIS_MNEMONIC_LAHF] = H_LAHF,
	[ZYDIS_MNEMONIC_SAHF] = H_SAHF,
	[ZYDIS_MNEMONIC_XLAT] = H_XLAT,
	[ZYDIS_MNEMONIC_HLT] = H_HLT,
	[ZYDIS_MNEMONIC_CPUID] = H_CPUID,
	[ZYDIS_MNEMONIC_RDTSC] = H_RDTSC,
	[ZYDIS_MNEMONIC_RDTSCP] = H_RDTSCP,
	[ZYDIS_MNEMONIC_RDMSR] = H_RDMSR,
	[ZYDIS_MNEMONIC_WRMSR] = H_WRMSR,
	[ZYDIS_MNEMONIC_IN] = H_IN,
	[ZYDIS_MNEMONIC_OUT] = H_OUT,
	[ZYDIS_MNEMONIC_LGDT] = H_LGDT,
	[ZYDIS_MNEMONIC_LIDT] = H_LIDT,
	[ZYDIS_MNEMONIC_SGDT] = H_SGDT,
	[ZYDIS_MNEMONIC_SIDT] = H_SIDT,
	[ZYDIS_MNEMONIC_LTR] = H_LTR,
	[ZYDIS_MNEMONIC_LLDT] = H_LLDT,
	[ZYDIS_MNEMONIC_STR] = H_STR,
	[ZYDIS_MNEMONIC_SLDT] = H_SLDT,
	[ZYDIS_MNEMONIC_SMSW] = H_SMSW,
	[ZYDIS_MNEMONIC_LMSW] = H_LMSW,
	[ZYDIS_MNEMONIC_CLTS] = H_CLTS,
	[ZYDIS_MNEMONIC_INVLPG] = H_INVLPG,
	[ZYDIS_MNEMONIC_WBINVD] = H_WBINVD,
	[ZYDIS_MNEMONIC_INVD] = H_INVD,
	[ZYDIS_MNEMONIC_SWAPGS] = H_SWAPGS,
	[ZYDIS_MNEMONIC_SYSCALL] = H_SYSCALL,
	[ZYDIS_MNEMONIC_SYSRET] = H_SYSRET,
	[ZYDIS_MNEMONIC_IRET] = H_IRET,
	[ZYDIS_MNEMONIC_IRETD] = H_IRETD,
	[ZYDIS_MNEMONIC_IRETQ] = H_IRETQ,
	[ZYDIS_MNEMONIC_INT] = H_INT,
	[ZYDIS_MNEMONIC_INT3] = H_INT3,
	[ZYDIS_MNEMONIC_INTO] = H_INTO,
	[ZYDIS_MNEMONIC_INT1] = H_INT1,
	[ZYDIS_MNEMONIC_UD0] = H_UD0,
	[ZYDIS_MNEMONIC_UD1] = H_UD1,
	[ZYDIS_MNEMONIC_UD2] = H_UD2,
	[ZYDIS_MNEMONIC_LDS] = H_LDS,
	[ZYDIS_MNEMONIC_LES] = H_LES,
	[ZYDIS_MNEMONIC_LFS] = H_LFS,
	[ZYDIS_MNEMONIC_LGS] = H_LGS,
	[ZYDIS_MNEMONIC_LSS] = H_LSS,
};

/* VERR/VERW/LAR/LSL: descriptor probes that set ZF instead of faulting. */
static bool exec_desc_probe(struct emu_cpu *c, const struct dinsn *d)
{
	int mn = d->mnem;
	if (mn != ZYDIS_MNEMONIC_VERR && mn != ZYDIS_MNEMONIC_VERW && mn != ZYDIS_MNEMONIC_LAR &&
	    mn != ZYDIS_MNEMONIC_LSL)
		return false;
	if (!(c->cr0 & CR0_PE))
		emu_raise(c, EXC_UD, 0, false);
	bool two = mn == ZYDIS_MNEMONIC_LAR || mn == ZYDIS_MNEMONIC_LSL;
	uint16_t sel = (uint16_t)opr(c, d, two ? 1 : 0);
	uint64_t raw;
	bool ok = emu_peek_desc(c, sel, &raw);
	if (ok) {
		unsigned type = (raw >> 40) & 0xf, dpl = (raw >> 45) & 3;
		bool sbit = (raw >> 44) & 1, code = sbit && (type & 8);
		bool conforming = code && (type & 4);
		if (!conforming && ((int)dpl < c->cpl || dpl < (sel & 3u)))
			ok = false;
		else if (mn == ZYDIS_MNEMONIC_VERR)
			ok = sbit && (!code || (type & 2));
		else if (mn == ZYDIS_MNEMONIC_VERW)
			ok = sbit && !code && (type & 2);
		else if (!sbit) /* system descriptors LAR/LSL accept */
			ok = type == 1 || type == 2 || type == 3 || type == 9 || type == 11 ||
			     (mn == ZYDIS_MNEMONIC_LAR && (type == 4 || type == 12));
	}
	get_flags(c);
	if (!ok) {
		c->flags &= ~(uint64_t)F_ZF;
		return true;
	}
	c->flags |= F_ZF;
	if (mn == ZYDIS_MNEMONIC_LAR) {
		set_reg(c, d->op[0].reg, d->op[0].size, (raw >> 32) & 0x00f0ff00);
	} else if (mn == ZYDIS_MNEMONIC_LSL) {
		uint32_t lim = (uint32_t)((raw & 0xffff) | ((raw >> 32) & 0xf0000));
		if ((raw >> 55) & 1)
			lim = (lim << 12) | 0xfff;
		set_reg(c, d->op[0].reg, d->op[0].size, lim);
	}
	return true;
}

/* Legacy (16/32-bit only) BCD adjusts, SALC, BOUND and ARPL. */
static bool exec_legacy(struct emu_cpu *c, const struct dinsn *d)
{
	int mn = d->mnem;
	uint64_t f;
	uint8_t al = (uint8_t)c->r[R_AX], ah = (uint8_t)(c->r[R_AX] >> 8);
	switch (mn) {
	case ZYDIS_MNEMONIC_DAA:
	case ZYDIS_MNEMONIC_DAS: {
		f = get_flags(c);
		bool cf = f & F_CF, af = f & F_AF;
		uint8_t old = al;
		bool ncf = false, naf = false;
		if ((al & 0xf) > 9 || af) {
			al = mn == ZYDIS_MNEMONIC_DAA ? al + 6 : al - 6;
			ncf = cf || (mn == ZYDIS_MNEMONIC_DAA ? old > 0xf9 : old < 6);
			naf = true;
		}
		if (old > 0x99 || cf) {
			al = mn == ZYDIS_MNEMONIC_DAA ? al + 0x60 : al - 0x60;
			ncf = true;
		} else if (mn == ZYDIS_MNEMONIC_DAA) {
			ncf = false; /* DAA (not DAS) clears CF here */
		}
		set_reg(c, R_AX, 1, al);
		set_arith(c, flags_szp(al, 1) | (ncf ? F_CF : 0) | (naf ? F_AF : 0));
		return true;
	}
	case ZYDIS_MNEMONIC_AAA:
	case ZYDIS_MNEMONIC_AAS: {
		f = get_flags(c);
		bool adj = (al & 0xf) > 9 || (f & F_AF);
		uint16_t ax = (uint16_t)c->r[R_AX];
		if (adj) {
			if (mn == ZYDIS_MNEMONIC_AAA) {
				ax = (uint16_t)(ax + 0x106);
			} else {
				ax = (uint16_t)(ax - 6);
				ax = (uint16_t)((ax & 0xff) | (((ax >> 8) - 1) & 0xff) << 8);
			}
		}
		ax &= 0xff0f;
		set_reg(c, R_AX, 2, ax);
		set_arith(c, (f & (F_SF | F_ZF | F_PF | F_OF)) | (adj ? F_CF | F_AF : 0));
		return true;
	}
	case ZYDIS_MNEMONIC_AAM: {
		uint8_t base = (uint8_t)d->imm;
		if (!base)
			emu_raise(c, EXC_DE, 0, false);
		set_reg(c, R_AX, 2, (uint16_t)(((al / base) << 8) | (al % base)));
		set_arith(c, flags_szp(al % base, 1));
		return true;
	}
	case ZYDIS_MNEMONIC_AAD: {
		uint8_t r = (uint8_t)(al + ah * (uint8_t)d->imm);
		set_reg(c, R_AX, 2, r);
		set_arith(c, flags_szp(r, 1));
		return true;
	}
	case ZYDIS_MNEMONIC_SALC: set_reg(c, R_AX, 1, get_cf(c) ? 0xff : 0); return true;
	case ZYDIS_MNEMONIC_BOUND: {
		unsigned sz = d->op[0].size;
		uint64_t lin = mem_lin(c, d);
		int64_t lo = sext(mread(c, lin, sz), sz), hi = sext(mread(c, lin + sz, sz), sz);
		int64_t v = sext(get_reg(c, d->op[0].reg, sz), sz);
		if (v < lo || v > hi)
			emu_raise(c, EXC_BR, 0, false);
		return true;
	}
	case ZYDIS_MNEMONIC_ARPL: {
		if (!(c->cr0 & CR0_PE))
			emu_raise(c, EXC_UD, 0, false);
		uint16_t dst = (uint16_t)opr(c, d, 0), src = (uint16_t)opr(c, d, 1);
		get_flags(c);
		if ((dst & 3) < (src & 3)) {
			opw(c, d, 0, (dst & ~3u) | (src & 3));
			c->flags |= F_ZF;
		} else {
			c->flags &= ~(uint64_t)F_ZF;
		}
		return true;
	}
	default: return false;
	}
}

/* ---- One instruction ---------------------------------------------------------------- */

static void jump_to(struct emu_cpu *c, const struct dinsn *d, uint64_t target)
{
	unsigned os = d->osize;
	if (c->cmode == 8 && os != 2)
		c->next_rip = target;
	else
		c->next_rip = os == 2 ? (target & 0xffff) : (uint32_t)target;
}

static uint64_t rel_target(struct emu_cpu *c, const struct dinsn *d)
{
	return c->next_rip + (uint64_t)d->imm;
}

static void exec(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned os = d->osize;
	int mn = d->mnem;
	uint64_t v, a;

	switch (d->hclass) {
	case H_STRING:
		if (!do_string(c, d))
			c->next_rip = c->rip;
		return;

	/* Specialised forms (decode.c: fast_class): 32/64-bit operands only. */
	case H_F_MOV_RR:
		v = c->r[d->op[1].reg];
		c->r[d->op[0].reg] = os == 8 ? v : (uint32_t)v;
		return;
	case H_F_MOV_RI: c->r[d->op[0].reg] = os == 8 ? (uint64_t)d->imm : (uint32_t)d->imm; return;
	case H_F_LOAD: c->r[d->op[0].reg] = mread(c, mem_lin(c, d), os); return;
	case H_F_STORE: mwrite(c, mem_lin(c, d), os, c->r[d->op[1].reg]); return;
	case H_F_LEA:
		v = ea_off(c, d);
		c->r[d->op[0].reg] = os == 8 ? v : (uint32_t)v;
		return;
#define FAST_ALU(H, LF, EXPR, WRITE)                                                               \
	case H: {                                                                                  \
		uint64_t fa = c->r[d->op[0].reg];                                                  \
		uint64_t fb = d->op[1].kind == DOP_REG ? c->r[d->op[1].reg] : (uint64_t)d->imm;    \
		uint64_t fr = (EXPR);                                                              \
		lazy(c, LF, os, fr, fa, fb);                                                       \
		if (WRITE)                                                                         \
			c->r[d->op[0].reg] = os == 8 ? fr : (uint32_t)fr;                          \
		return;                                                                            \
	}
		FAST_ALU(H_F_ADD, LF_ADD, fa + fb, true)
		FAST_ALU(H_F_SUB, LF_SUB, fa - fb, true)
		FAST_ALU(H_F_CMP, LF_SUB, fa - fb, false)
		FAST_ALU(H_F_AND, LF_LOGIC, fa & fb, true)
		FAST_ALU(H_F_OR, LF_LOGIC, fa | fb, true)
		FAST_ALU(H_F_XOR, LF_LOGIC, fa ^ fb, true)
		FAST_ALU(H_F_TEST, LF_LOGIC, fa & fb, false)
#undef FAST_ALU
	case H_F_INC:
	case H_F_DEC: {
		bool cf = get_cf(c);
		a = c->r[d->op[0].reg];
		v = d->hclass == H_F_INC ? a + 1 : a - 1;
		lazy(c, d->hclass == H_F_INC ? LF_INC : LF_DEC, os, v, a, 1);
		c->lf_cf = cf;
		c->r[d->op[0].reg] = os == 8 ? v : (uint32_t)v;
		return;
	}
	case H_F_JCC: /* 64-bit mode */
		if (cond(c, d->opcode & 0xf))
			c->next_rip += (uint64_t)d->imm;
		return;
	case H_F_PUSH: { /* 64-bit mode */
		uint64_t sp = c->r[R_SP] - 8;
		mwrite(c, sp, 8, c->r[d->op[0].reg]);
		c->r[R_SP] = sp;
		return;
	}
	case H_F_POP:
		v = mread(c, c->r[R_SP], 8);
		c->r[R_SP] += 8;
		c->r[d->op[0].reg] = v;
		return;
	case H_F_CALL: {
		uint64_t sp = c->r[R_SP] - 8;
		mwrite(c, sp, 8, c->next_rip);
		c->r[R_SP] = sp;
		c->next_rip += (uint64_t)d->imm;
		return;
	}
	case H_F_RET:
		v = mread(c, c->r[R_SP], 8);
		c->r[R_SP] += 8;
		c->next_rip = v;
		return;

	case H_NOP:
	case H_PAUSE:
	case H_ENDBR64:
	case H_ENDBR32:
	case H_PREFETCH:
	case H_PREFETCHW:
	case H_PREFETCHNTA:
	case H_PREFETCHT0:
	case H_PREFETCHT1:
	case H_PREFETCHT2:
	case H_LFENCE:
	case H_SFENCE:
	case H_CLFLUSH: return;
	case H_MFENCE: __atomic_thread_fence(__ATOMIC_SEQ_CST); return;

	case H_MOV:
		if (d->op[0].kind == DOP_CR || d->op[1].kind == DOP_CR) {
			need_cpl0(c);
			if (d->op[0].kind == DOP_CR) {
				emu_write_cr(c, d->op[0].reg, get_reg(c, d->op[1].reg, 8));
			} else {
				uint64_t cr;
				switch (d->op[1].reg) {
				case 0: cr = c->cr0; break;
				case 2: cr = c->cr2; break;
				case 3: cr = c->cr3; break;
				case 4: cr = c->cr4; break;
				case 8: cr = c->apic.tpr >> 4; break;
				default: emu_raise(c, EXC_UD, 0, false);
				}
				set_reg(c, d->op[0].reg, c->cmode == 8 ? 8 : 4, cr);
			}
			return;
		}
		if (d->op[0].kind == DOP_DR || d->op[1].kind == DOP_DR) {
			need_cpl0(c);
			if (d->op[0].kind == DOP_DR)
				c->dr[d->op[0].reg & 7] = get_reg(c, d->op[1].reg, 8);
			else
				set_reg(c, d->op[0].reg, c->cmode == 8 ? 8 : 4,
					c->dr[d->op[1].reg & 7]);
			return;
		}
		if (d->op[0].kind == DOP_SEG) {
			if (d->op[0].reg == SEG_CS)
				emu_raise(c, EXC_UD, 0, false);
			emu_load_seg(c, d->op[0].reg, (uint16_t)opr(c, d, 1));
			if (d->op[0].reg == SEG_SS) {
				c->irq_shadow = 1;
				c->slow = true;
			}
			return;
		}
		opw(c, d, 0, opr(c, d, 1));
		return;
	case H_MOVNTI: opw(c, d, 0, opr(c, d, 1)); return;
	case H_MOVZX: opw(c, d, 0, opr(c, d, 1)); return;
	case H_MOVSX:
	case H_MOVSXD: opw(c, d, 0, (uint64_t)sext(opr(c, d, 1), d->op[1].size)); return;
	case H_LEA: set_reg(c, d->op[0].reg, d->op[0].size, ea_off(c, d)); return;

	case H_ADD:
	case H_OR:
	case H_ADC:
	case H_SBB:
	case H_AND:
	case H_SUB:
	case H_XOR:
		v = opr(c, d, 1);
		if (d->op[0].kind == DOP_REG && d->op[1].kind == DOP_REG &&
		    d->op[0].reg == d->op[1].reg &&
		    (mn == ZYDIS_MNEMONIC_XOR || mn == ZYDIS_MNEMONIC_SUB)) {
			set_reg(c, d->op[0].reg, d->op[0].size, 0);
			lazy(c, mn == ZYDIS_MNEMONIC_XOR ? LF_LOGIC : LF_SUB, d->op[0].size, 0, v,
			     v);
			return;
		}
		if (d->op[0].kind == DOP_REG) {
			uint8_t r = d->op[0].reg;
			unsigned sz = d->op[0].size;
			set_reg(c, r, sz, alu(c, mn, sz, get_reg(c, r, sz), v));
			return;
		}
		rmw(c, d, fn_alu, v, d->flags & DI_LOCK);
		return;
	case H_CMP:
	case H_TEST: alu(c, mn, d->op[0].size, opr(c, d, 0), opr(c, d, 1)); return;
	case H_INC: rmw(c, d, fn_inc, 0, d->flags & DI_LOCK); return;
	case H_DEC: rmw(c, d, fn_dec, 0, d->flags & DI_LOCK); return;
	case H_NEG: rmw(c, d, fn_neg, 0, d->flags & DI_LOCK); return;
	case H_NOT: rmw(c, d, fn_not, 0, d->flags & DI_LOCK); return;

	case H_SHL:
	case H_SHR:
	case H_SAR:
	case H_ROL:
	case H_ROR:
	case H_RCL:
	case H_RCR:
		v = d->nops >= 2 ? opr(c, d, 1) : 1;
		if (d->op[0].kind == DOP_REG) {
			uint8_t r = d->op[0].reg;
			unsigned sz = d->op[0].size;
			set_reg(c, r, sz, shift_op(c, mn, sz, get_reg(c, r, sz), (unsigned)v));
			return;
		}
		rmw(c, d, fn_shift, v, false);
		return;
	case H_SHLD:
	case H_SHRD:
		v = opr(c, d, 2);
		rmw(c, d, fn_shd, v, false);
		return;

	case H_MUL: do_mul1(c, d, false); return;
	case H_IMUL:
		if (d->nops == 1)
			do_mul1(c, d, true);
		else
			do_imul_n(c, d);
		return;
	case H_DIV: do_div(c, d, false); return;
	case H_IDIV: do_div(c, d, true); return;

	case H_XCHG:
		if (d->op[0].kind == DOP_REG && d->op[1].kind == DOP_REG) {
			a = opr(c, d, 0);
			v = opr(c, d, 1);
			opw(c, d, 0, v);
			opw(c, d, 1, a);
			return;
		}
		if (d->op[1].kind == DOP_MEM) {
			/* normalise: memory first */
			struct dinsn t = *d;
			t.op[0] = d->op[1];
			t.op[1] = d->op[0];
			v = get_reg(c, t.op[1].reg, t.op[1].size);
			a = rmw(c, &t, fn_xchg, v, true);
			set_reg(c, t.op[1].reg, t.op[1].size, a);
			return;
		}
		v = get_reg(c, d->op[1].reg, d->op[1].size);
		a = rmw(c, d, fn_xchg, v, true);
		set_reg(c, d->op[1].reg, d->op[1].size, a);
		return;
	case H_XADD:
		v = get_reg(c, d->op[1].reg, d->op[1].size);
		if (d->op[0].kind == DOP_REG) {
			/* SRC = DEST, then DEST = sum: with one register as both
			 * operands the sum is what remains */
			a = get_reg(c, d->op[0].reg, d->op[0].size);
			set_reg(c, d->op[1].reg, d->op[1].size, a);
			set_reg(c, d->op[0].reg, d->op[0].size, fn_xadd(c, d, a, v));
			return;
		}
		a = rmw(c, d, fn_xadd, v, d->flags & DI_LOCK);
		set_reg(c, d->op[1].reg, d->op[1].size, a);
		return;
	case H_CMPXCHG: {
		unsigned size = d->op[0].size;
		uint64_t acc = c->r[R_AX] & szmask(size);
		uint64_t src = get_reg(c, d->op[1].reg, size);
		uint64_t old;
		if (d->op[0].kind == DOP_REG) {
			old = get_reg(c, d->op[0].reg, size);
			if (old == acc)
				set_reg(c, d->op[0].reg, size, src);
		} else {
			uint64_t lin = mem_lin(c, d);
			void *p = lin_rmw_ptr(c, lin, size);
			if (p) {
				old = acc;
				cas_sz(p, size, &old, src);
			} else {
				old = lin_read(c, lin, size);
				lin_write(c, lin, size, old == acc ? src : old);
			}
		}
		alu(c, ZYDIS_MNEMONIC_CMP, size, acc, old);
		if (old != acc)
			set_reg(c, R_AX, size, old);
		return;
	}
	case H_CMPXCHG8B: {
		uint64_t lin = mem_lin(c, d);
		uint64_t exp = (c->r[R_AX] & 0xffffffff) | (c->r[R_DX] << 32);
		uint64_t nv = (c->r[R_BX] & 0xffffffff) | (c->r[R_CX] << 32);
		void *p = lin_rmw_ptr(c, lin, 8);
		uint64_t old;
		bool ok;
		if (p) {
			old = exp;
			ok = cas_sz(p, 8, &old, nv);
		} else {
			old = lin_read(c, lin, 8);
			ok = old == exp;
			lin_write(c, lin, 8, ok ? nv : old);
		}
		get_flags(c);
		if (ok) {
			c->flags |= F_ZF;
		} else {
			c->flags &= ~(uint64_t)F_ZF;
			c->r[R_AX] = (uint32_t)old;
			c->r[R_DX] = old >> 32;
		}
		return;
	}

	case H_CMPXCHG16B: {
		/* The operand must be 16-byte aligned (#GP(0) otherwise), so it
		 * never crosses a page; on RAM it is one host lock cmpxchg16b,
		 * atomic against the other vCPUs like every LOCK operation. */
		uint64_t lin = mem_lin(c, d);
		if (lin & 15)
			emu_raise_gp(c, 0);
		uint64_t exp_lo = c->r[R_AX], exp_hi = c->r[R_DX];
		uint64_t new_lo = c->r[R_BX], new_hi = c->r[R_CX];
		uint64_t old_lo, old_hi;
		bool ok;
		void *p = lin_rmw_ptr(c, lin, 16);
		if (p) {
			old_lo = exp_lo;
			old_hi = exp_hi;
			__asm__ volatile("lock cmpxchg16b %2"
					 : "+a"(old_lo), "+d"(old_hi),
					   "+m"(*(volatile __int128 *)p), "=@ccz"(ok)
					 : "b"(new_lo), "c"(new_hi)
					 : "memory");
		} else {
			old_lo = lin_read(c, lin, 8);
			old_hi = lin_read(c, lin + 8, 8);
			ok = old_lo == exp_lo && old_hi == exp_hi;
			/* The write happens either way, as on hardware. */
			lin_write(c, lin, 8, ok ? new_lo : old_lo);
			lin_write(c, lin + 8, 8, ok ? new_hi : old_hi);
		}
		get_flags(c);
		if (ok) {
			c->flags |= F_ZF;
		} else {
			c->flags &= ~(uint64_t)F_ZF;
			c->r[R_AX] = old_lo;
			c->r[R_DX] = old_hi;
		}
		return;
	}

	case H_BT:
	case H_BTS:
	case H_BTR:
	case H_BTC: {
		unsigned size = d->op[0].size, bits = size * 8;
		uint64_t off = opr(c, d, 1);
		struct dinsn t;
		const struct dinsn *dd = d;
		if (d->op[0].kind == DOP_MEM && d->op[1].kind == DOP_REG) {
			int64_t so = sext(off, d->op[1].size);
			int64_t words = so >= 0 ? so / (int64_t)bits : -((-so + bits - 1) / bits);
			t = *d;
			t.imm = ((d->flags & DI_DISP64) ? d->imm : d->disp) + words * (int64_t)size;
			t.flags |= DI_DISP64;
			dd = &t;
			off = (uint64_t)(so - words * (int64_t)bits);
		} else {
			off &= bits - 1;
		}
		uint64_t old;
		if (mn == ZYDIS_MNEMONIC_BT)
			old = opr(c, dd, 0);
		else
			old = rmw(c, dd,
				  mn == ZYDIS_MNEMONIC_BTS   ? fn_bts
				  : mn == ZYDIS_MNEMONIC_BTR ? fn_btr
							     : fn_btc,
				  off, d->flags & DI_LOCK);
		get_flags(c);
		c->flags = (c->flags & ~(uint64_t)F_CF) | ((old >> off) & 1);
		return;
	}
	case H_BSF:
	case H_BSR:
	case H_TZCNT: /* not advertised: rep bsf behaves as bsf */
		v = opr(c, d, 1);
		get_flags(c);
		if (!v) {
			c->flags |= F_ZF;
			return;
		}
		c->flags &= ~(uint64_t)F_ZF;
		set_reg(c, d->op[0].reg, d->op[0].size,
			mn == ZYDIS_MNEMONIC_BSR ? 63 - __builtin_clzll(v) : __builtin_ctzll(v));
		return;
	case H_BSWAP:
		v = get_reg(c, d->op[0].reg, d->op[0].size);
		set_reg(c, d->op[0].reg, d->op[0].size,
			d->op[0].size == 8 ? __builtin_bswap64(v) : __builtin_bswap32((uint32_t)v));
		return;

	case H_CBW: set_reg(c, R_AX, 2, (uint64_t)(int8_t)c->r[R_AX]); return;
	case H_CWDE: set_reg(c, R_AX, 4, (uint64_t)(int16_t)c->r[R_AX]); return;
	case H_CDQE: c->r[R_AX] = (uint64_t)(int32_t)c->r[R_AX]; return;
	case H_CWD: set_reg(c, R_DX, 2, (c->r[R_AX] & 0x8000) ? 0xffff : 0); return;
	case H_CDQ: set_reg(c, R_DX, 4, (c->r[R_AX] & 0x80000000) ? 0xffffffff : 0); return;
	case H_CQO: c->r[R_DX] = (int64_t)c->r[R_AX] < 0 ? ~0ULL : 0; return;

	case H_JMP:
		if (d->flags & DI_FAR) {
			if (d->op[0].kind == DOP_PTR) {
				emu_far_jump(c, (uint16_t)d->imm2, (uint64_t)d->imm, false, os);
			} else {
				uint64_t lin = mem_lin(c, d);
				uint64_t off = lin_read(c, lin, os);
				uint16_t sel = (uint16_t)lin_read(c, lin + os, 2);
				emu_far_jump(c, sel, off, false, os);
			}
			return;
		}
		jump_to(c, d, (d->flags & DI_RELBR) ? rel_target(c, d) : opr(c, d, 0));
		return;
	case H_JO:
	case H_JNO:
	case H_JB:
	case H_JNB:
	case H_JZ:
	case H_JNZ:
	case H_JBE:
	case H_JNBE:
	case H_JS:
	case H_JNS:
	case H_JP:
	case H_JNP:
	case H_JL:
	case H_JNL:
	case H_JLE:
	case H_JNLE:
		if (cond(c, d->opcode & 0xf))
			jump_to(c, d, rel_target(c, d));
		return;
	case H_JCXZ:
	case H_JECXZ:
	case H_JRCXZ:
		if (!(c->r[R_CX] & szmask(d->asize)))
			jump_to(c, d, rel_target(c, d));
		return;
	case H_LOOP:
	case H_LOOPE:
	case H_LOOPNE: {
		uint64_t m = szmask(d->asize);
		uint64_t cnt = (c->r[R_CX] - 1) & m;
		c->r[R_CX] = (c->r[R_CX] & ~m) | cnt;
		bool take = cnt != 0;
		if (mn == ZYDIS_MNEMONIC_LOOPE)
			take = take && (get_flags(c) & F_ZF);
		else if (mn == ZYDIS_MNEMONIC_LOOPNE)
			take = take && !(get_flags(c) & F_ZF);
		if (take)
			jump_to(c, d, rel_target(c, d));
		return;
	}
	case H_SETO:
	case H_SETNO:
	case H_SETB:
	case H_SETNB:
	case H_SETZ:
	case H_SETNZ:
	case H_SETBE:
	case H_SETNBE:
	case H_SETS:
	case H_SETNS:
	case H_SETP:
	case H_SETNP:
	case H_SETL:
	case H_SETNL:
	case H_SETLE:
	case H_SETNLE: opw(c, d, 0, cond(c, d->opcode & 0xf)); return;
	case H_CMOVO:
	case H_CMOVNO:
	case H_CMOVB:
	case H_CMOVNB:
	case H_CMOVZ:
	case H_CMOVNZ:
	case H_CMOVBE:
	case H_CMOVNBE:
	case H_CMOVS:
	case H_CMOVNS:
	case H_CMOVP:
	case H_CMOVNP:
	case H_CMOVL:
	case H_CMOVNL:
	case H_CMOVLE:
	case H_CMOVNLE:
		v = opr(c, d, 1); /* the source is read (and may fault) either way */
		if (cond(c, d->opcode & 0xf))
			set_reg(c, d->op[0].reg, d->op[0].size, v);
		else if (d->op[0].size == 4)
			set_reg(c, d->op[0].reg, 4, get_reg(c, d->op[0].reg, 4));
		return;

	case H_CALL:
		if (d->flags & DI_FAR) {
			uint64_t off;
			uint16_t sel;
			if (d->op[0].kind == DOP_PTR) {
				off = (uint64_t)d->imm;
				sel = (uint16_t)d->imm2;
			} else {
				uint64_t lin = mem_lin(c, d);
				off = lin_read(c, lin, os);
				sel = (uint16_t)lin_read(c, lin + os, 2);
			}
			emu_far_jump(c, sel, off, true, os);
			return;
		}
		v = (d->flags & DI_RELBR) ? rel_target(c, d) : opr(c, d, 0);
		push(c, os, c->next_rip);
		jump_to(c, d, v);
		return;
	case H_RET:
		if (d->flags & DI_FAR) {
			emu_far_ret(c, os, d->nops ? (uint16_t)d->imm : 0);
			return;
		}
		v = pop(c, os);
		if (d->nops)
			set_sp(c, c->r[R_SP] + (uint16_t)d->imm);
		jump_to(c, d, v);
		return;
	case H_PUSH:
		if (d->op[0].kind == DOP_SEG) {
			push(c, os, c->seg[d->op[0].reg].sel);
			return;
		}
		v = opr(c, d, 0);
		if (d->op[0].kind == DOP_IMM)
			v = (uint64_t)d->imm;
		push(c, os, v);
		return;
	case H_POP:
		if (d->op[0].kind == DOP_SEG) {
			uint64_t sp = c->r[R_SP];
			v = pop(c, os);
			c->r[R_SP] = sp;
			emu_load_seg(c, d->op[0].reg, (uint16_t)v);
			pop(c, os);
			if (d->op[0].reg == SEG_SS) {
				c->irq_shadow = 1;
				c->slow = true;
			}
			return;
		}
		if (d->op[0].kind == DOP_MEM) {
			/* The address uses RSP after the pop. */
			uint64_t sp = c->r[R_SP];
			v = pop(c, os);
			uint64_t lin;
			lin = mem_lin(c, d);
			uint64_t nsp = c->r[R_SP];
			c->r[R_SP] = sp;
			lin_write(c, lin, os, v);
			c->r[R_SP] = nsp;
			return;
		}
		v = pop(c, os);
		set_reg(c, d->op[0].reg, os, v);
		return;
	case H_PUSHF:
	case H_PUSHFD:
	case H_PUSHFQ: push(c, os, get_flags(c) & ~(uint64_t)(F_RF | F_VM)); return;
	case H_POPF:
	case H_POPFD:
	case H_POPFQ: {
		v = pop(c, os);
		uint64_t mask = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID;
		if (c->cpl == 0)
			mask |= F_IOPL;
		if (c->cpl <= (int)((c->flags & F_IOPL) >> 12) || !(c->cr0 & CR0_PE))
			mask |= F_IF;
		if (os == 2)
			mask &= 0xffff;
		get_flags(c);
		c->flags = (c->flags & ~mask) | (v & mask) | 2;
		emu_poke(c);
		return;
	}
	case H_PUSHA:
	case H_PUSHAD: {
		uint64_t sp = c->r[R_SP];
		for (int i = 0; i < 8; i++)
			push(c, os, i == R_SP ? sp : c->r[i]);
		return;
	}
	case H_POPA:
	case H_POPAD:
		for (int i = 7; i >= 0; i--) {
			v = pop(c, os);
			if (i != R_SP)
				set_reg(c, i, os, v);
		}
		return;
	case H_LEAVE: {
		unsigned ss = stack_size(c);
		uint64_t bp = c->r[R_BP] & szmask(ss);
		v = lin_read(c, seg_lin(c, SEG_SS, bp), os);
		set_sp(c, bp + os);
		set_reg(c, R_BP, os, v);
		return;
	}
	case H_ENTER: {
		if (d->imm2 & 0x1f) {
			emu_report_unimpl(c, d);
			emu_raise(c, EXC_UD, 0, false);
		}
		push(c, os, c->r[R_BP]);
		uint64_t fp = c->r[R_SP];
		set_sp(c, c->r[R_SP] - (uint16_t)d->imm);
		set_reg(c, R_BP, os, fp);
		return;
	}

	case H_CLC:
		get_flags(c);
		c->flags &= ~(uint64_t)F_CF;
		return;
	case H_STC:
		get_flags(c);
		c->flags |= F_CF;
		return;
	case H_CMC:
		get_flags(c);
		c->flags ^= F_CF;
		return;
	case H_CLD: c->flags &= ~(uint64_t)F_DF; return;
	case H_STD: c->flags |= F_DF; return;
	case H_CLI:
		io_check(c);
		c->flags &= ~(uint64_t)F_IF;
		return;
	case H_STI:
		io_check(c);
		if (!(c->flags & F_IF))
			c->irq_shadow = 1;
		c->flags |= F_IF;
		emu_poke(c);
		return;
	case H_LAHF: set_reg(c, 4 | DOP_F_HI8, 1, (get_flags(c) & 0xd5) | 2); return;
	case H_SAHF:
		get_flags(c);
		c->flags = (c->flags & ~0xd5ULL) | ((c->r[R_AX] >> 8) & 0xd5);
		return;
	case H_XLAT: {
		uint64_t off = amask(d->asize, c->r[R_BX] + (c->r[R_AX] & 0xff));
		int s = d->seg == SEG_NONE ? SEG_DS : d->seg;
		set_reg(c, R_AX, 1, lin_read(c, seg_lin(c, s, off), 1));
		return;
	}

	case H_HLT:
		need_cpl0(c);
		c->halted = true;
		emu_poke(c);
		return;
	case H_CPUID: emu_cpuid(c); return;
	case H_RDTSC:
	case H_RDTSCP:
		if ((c->cr4 & 0x4) && c->cpl)
			emu_raise_gp(c, 0);
		v = __rdtsc() + c->tsc_offset;
		c->r[R_AX] = (uint32_t)v;
		c->r[R_DX] = v >> 32;
		if (d->hclass == H_RDTSCP)
			c->r[R_CX] = c->tsc_aux;
		return;
	case H_RDMSR: {
		need_cpl0(c);
		bool ok;
		v = emu_rdmsr(c, (uint32_t)c->r[R_CX], &ok);
		if (!ok)
			emu_raise_gp(c, 0);
		c->r[R_AX] = (uint32_t)v;
		c->r[R_DX] = v >> 32;
		return;
	}
	case H_WRMSR:
		need_cpl0(c);
		if (!emu_wrmsr(c, (uint32_t)c->r[R_CX],
			       (c->r[R_AX] & 0xffffffff) | (c->r[R_DX] << 32)))
			emu_raise_gp(c, 0);
		return;
	case H_IN: {
		io_check(c);
		uint16_t port =
			d->op[1].kind == DOP_IMM ? (uint16_t)(d->imm & 0xff) : (uint16_t)c->r[R_DX];
		set_reg(c, R_AX, d->op[0].size, port_in(c, port, d->op[0].size));
		return;
	}
	case H_OUT: {
		io_check(c);
		uint16_t port =
			d->op[0].kind == DOP_IMM ? (uint16_t)(d->imm & 0xff) : (uint16_t)c->r[R_DX];
		port_out(c, port, d->op[1].size, c->r[R_AX]);
		return;
	}

	case H_LGDT:
	case H_LIDT:
	case H_SGDT:
	case H_SIDT: do_dt(c, d); return;
	case H_LTR: load_sys_seg(c, true, (uint16_t)opr(c, d, 0)); return;
	case H_LLDT: load_sys_seg(c, false, (uint16_t)opr(c, d, 0)); return;
	case H_STR: opw(c, d, 0, c->tr.sel); return;
	case H_SLDT: opw(c, d, 0, c->ldtr.sel); return;
	case H_SMSW: opw(c, d, 0, c->cr0 & szmask(d->op[0].size)); return;
	case H_LMSW:
		need_cpl0(c);
		v = opr(c, d, 0) & 0xf;
		/* lmsw can set PE but not clear it */
		emu_write_cr(c, 0, (c->cr0 & ~0xeULL) | v | (c->cr0 & 1));
		return;
	case H_CLTS:
		need_cpl0(c);
		c->cr0 &= ~(uint64_t)CR0_TS;
		return;
	case H_INVLPG:
		need_cpl0(c);
		tlb_flush_page(c, mem_lin(c, d));
		return;
	case H_WBINVD:
	case H_INVD: need_cpl0(c); return;
	case H_SWAPGS:
		if (c->cmode != 8)
			emu_raise(c, EXC_UD, 0, false);
		need_cpl0(c);
		v = c->seg[SEG_GS].base;
		c->seg[SEG_GS].base = c->kernel_gs_base;
		c->kernel_gs_base = v;
		return;
	case H_SYSCALL: emu_syscall(c); return;
	case H_SYSRET: emu_sysret(c, os); return;

	case H_IRET:
	case H_IRETD:
	case H_IRETQ: emu_iret(c, os); return;
	case H_INT:
		emu_deliver(c, (int)(d->imm & 0xff), 0, false, true, c->next_rip);
		c->next_rip = c->rip; /* the handler */
		return;
	case H_INT3:
		emu_deliver(c, EXC_BP, 0, false, true, c->next_rip);
		c->next_rip = c->rip;
		return;
	case H_INTO:
		if (get_flags(c) & F_OF) {
			emu_deliver(c, EXC_OF, 0, false, true, c->next_rip);
			c->next_rip = c->rip;
		}
		return;
	case H_INT1:
		emu_deliver(c, EXC_DB, 0, false, false, c->next_rip);
		c->next_rip = c->rip;
		return;
	case H_UD0:
	case H_UD1:
	case H_UD2: emu_raise(c, EXC_UD, 0, false);

	case H_LDS:
	case H_LES:
	case H_LFS:
	case H_LGS:
	case H_LSS: {
		uint64_t lin = mem_lin(c, d);
		unsigned sz = d->op[0].size;
		uint64_t off = lin_read(c, lin, sz);
		uint16_t sel = (uint16_t)lin_read(c, lin + sz, 2);
		int s = mn == ZYDIS_MNEMONIC_LDS   ? SEG_DS
			: mn == ZYDIS_MNEMONIC_LES ? SEG_ES
			: mn == ZYDIS_MNEMONIC_LFS ? SEG_FS
			: mn == ZYDIS_MNEMONIC_LGS ? SEG_GS
						   : SEG_SS;
		emu_load_seg(c, s, sel);
		set_reg(c, d->op[0].reg, sz, off);
		return;
	}

	default:
		if (emu_exec_sse(c, d) || emu_exec_x87(c, d) || exec_desc_probe(c, d) ||
		    exec_legacy(c, d))
			return;
		emu_report_unimpl(c, d);
		emu_raise(c, EXC_UD, 0, false);
	}
}

/* ---- The run loop --------------------------------------------------------------------- */

/* ---- Per-instruction handlers ------------------------------------------------
 *
 * Each decoded instruction carries the function that executes it
 * (dinsn.fn, chosen once by emu_insn_handler at decode time). The most
 * common forms get small handlers specialised by operand size and
 * condition code, so the block loop calls straight into a few lines of
 * code; everything else goes through exec()'s switch.
 */

#define F_RR(NAME, T, EXPR)                                                                        \
	static inline __attribute__((always_inline)) void NAME(struct emu_cpu *c,                  \
							       const struct dinsn *d)              \
	{                                                                                          \
		(void)d;                                                                           \
		EXPR;                                                                              \
	}

F_RR(f_mov_rr64, 8, c->r[d->op[0].reg] = c->r[d->op[1].reg])
F_RR(f_mov_rr32, 4, c->r[d->op[0].reg] = (uint32_t)c->r[d->op[1].reg])
F_RR(f_mov_ri64, 8, c->r[d->op[0].reg] = (uint64_t)d->imm)
F_RR(f_mov_ri32, 4, c->r[d->op[0].reg] = (uint32_t)d->imm)
F_RR(f_load64, 8, c->r[d->op[0].reg] = mread(c, mem_lin(c, d), 8))
F_RR(f_load32, 4, c->r[d->op[0].reg] = mread(c, mem_lin(c, d), 4))
F_RR(f_store64, 8, mwrite(c, mem_lin(c, d), 8, c->r[d->op[1].reg]))
F_RR(f_store32, 4, mwrite(c, mem_lin(c, d), 4, c->r[d->op[1].reg]))
F_RR(f_lea64, 8, c->r[d->op[0].reg] = ea_off(c, d))
F_RR(f_lea32, 4, c->r[d->op[0].reg] = (uint32_t)ea_off(c, d))
#undef F_RR

/* ALU ops on a register destination; B is a register or the immediate. */
#define F_ALU(NAME, SIZE, LF, EXPR, WRITE, BSRC)                                                   \
	static inline __attribute__((always_inline)) void NAME(struct emu_cpu *c,                  \
							       const struct dinsn *d)              \
	{                                                                                          \
		uint64_t fa = c->r[d->op[0].reg];                                                  \
		uint64_t fb = (BSRC);                                                              \
		uint64_t fr = (EXPR);                                                              \
		if (LF != LF_NONE)                                                                 \
			lazy(c, LF, SIZE, fr, fa, fb);                                             \
		if (WRITE)                                                                         \
			c->r[d->op[0].reg] = SIZE == 8 ? fr : (uint32_t)fr;                        \
	}
#define F_ALU4(OP, LF, EXPR, WRITE)                                                                \
	F_ALU(f_##OP##_rr64, 8, LF, EXPR, WRITE, c->r[d->op[1].reg])                               \
	F_ALU(f_##OP##_rr32, 4, LF, EXPR, WRITE, c->r[d->op[1].reg])                               \
	F_ALU(f_##OP##_ri64, 8, LF, EXPR, WRITE, (uint64_t)d->imm)                                 \
	F_ALU(f_##OP##_ri32, 4, LF, EXPR, WRITE, (uint64_t)d->imm)                                 \
	F_ALU(f_##OP##_rr64_nf, 8, LF_NONE, EXPR, WRITE, c->r[d->op[1].reg])                       \
	F_ALU(f_##OP##_rr32_nf, 4, LF_NONE, EXPR, WRITE, c->r[d->op[1].reg])                       \
	F_ALU(f_##OP##_ri64_nf, 8, LF_NONE, EXPR, WRITE, (uint64_t)d->imm)                         \
	F_ALU(f_##OP##_ri32_nf, 4, LF_NONE, EXPR, WRITE, (uint64_t)d->imm)
F_ALU4(add, LF_ADD, fa + fb, true)
F_ALU4(sub, LF_SUB, fa - fb, true)
F_ALU4(cmp, LF_SUB, fa - fb, false)
F_ALU4(and, LF_LOGIC, fa &fb, true)
F_ALU4(or, LF_LOGIC, fa | fb, true)
F_ALU4(xor, LF_LOGIC, fa ^ fb, true)
F_ALU4(test, LF_LOGIC, fa &fb, false)
#undef F_ALU4
#undef F_ALU

/* Near Jcc in 64-bit mode, one handler per condition code. */
#define F_JCC(CC)                                                                                  \
	static inline __attribute__((always_inline)) void f_jcc##CC(struct emu_cpu *c,             \
								    const struct dinsn *d)         \
	{                                                                                          \
		if (cond(c, CC))                                                                   \
			c->next_rip += (uint64_t)d->imm;                                           \
	}
F_JCC(0)
F_JCC(1)
F_JCC(2)
F_JCC(3)
F_JCC(4)
F_JCC(5)
F_JCC(6)
F_JCC(7)
F_JCC(8)
F_JCC(9)
F_JCC(10)
F_JCC(11)
F_JCC(12)
F_JCC(13)
F_JCC(14)
F_JCC(15)
#undef F_JCC

/* SETcc and CMOVcc, one handler per condition code. */
#define F_CC(CC)                                                                                   \
	static inline __attribute__((always_inline)) void f_set##CC(struct emu_cpu *c,             \
								    const struct dinsn *d)         \
	{                                                                                          \
		opw(c, d, 0, cond(c, CC));                                                         \
	}                                                                                          \
	static inline __attribute__((always_inline)) void f_cmov##CC(struct emu_cpu *c,            \
								     const struct dinsn *d)        \
	{                                                                                          \
		uint64_t v = opr(c, d, 1); /* read (and may fault) either way */                   \
		if (cond(c, CC))                                                                   \
			set_reg(c, d->op[0].reg, d->op[0].size, v);                                \
		else if (d->op[0].size == 4)                                                       \
			c->r[d->op[0].reg] = (uint32_t)c->r[d->op[0].reg];                         \
	}
F_CC(0)
F_CC(1)
F_CC(2)
F_CC(3)
F_CC(4)
F_CC(5)
F_CC(6)
F_CC(7)
F_CC(8)
F_CC(9)
F_CC(10)
F_CC(11)
F_CC(12)
F_CC(13)
F_CC(14)
F_CC(15)
#undef F_CC

/* SHL/SHR/SAR of a 32/64-bit register by an immediate (_i) or CL (_c). */
#define F_SHIFT(NAME, SIZE, LF, EXPR, COUNT)                                                       \
	static inline __attribute__((always_inline)) void NAME(struct emu_cpu *c,                  \
							       const struct dinsn *d)              \
	{                                                                                          \
		uint64_t *r = &c->r[d->op[0].reg];                                                 \
		uint64_t a = SIZE == 8 ? *r : (uint32_t)*r;                                        \
		unsigned cnt = (unsigned)(COUNT) & (SIZE == 8 ? 63 : 31);                          \
		if (cnt) {                                                                         \
			uint64_t v = (EXPR);                                                       \
			if (LF != LF_NONE)                                                         \
				lazy(c, LF, SIZE, v, a, cnt);                                      \
			a = v;                                                                     \
		}                                                                                  \
		*r = a;                                                                            \
	}
#define F_SHIFT2(NAME, SIZE, LF, EXPR)                                                             \
	F_SHIFT(NAME##_i, SIZE, LF, EXPR, d->imm)                                                  \
	F_SHIFT(NAME##_c, SIZE, LF, EXPR, c->r[R_CX])                                              \
	F_SHIFT(NAME##_i_nf, SIZE, LF_NONE, EXPR, d->imm)                                          \
	F_SHIFT(NAME##_c_nf, SIZE, LF_NONE, EXPR, c->r[R_CX])
F_SHIFT2(f_shl64, 8, LF_SHL, a << cnt)
F_SHIFT2(f_shl32, 4, LF_SHL, (uint32_t)(a << cnt))
F_SHIFT2(f_shr64, 8, LF_SHR, a >> cnt)
F_SHIFT2(f_shr32, 4, LF_SHR, a >> cnt)
F_SHIFT2(f_sar64, 8, LF_SAR, (uint64_t)((int64_t)a >> cnt))
F_SHIFT2(f_sar32, 4, LF_SAR, (uint32_t)((int32_t)a >> cnt))
#undef F_SHIFT2
#undef F_SHIFT

/* IMUL r, r/m (2 operands) and IMUL r, r/m, imm (3), 32/64-bit: the
 * product's low half, CF = OF = it did not fit (LF_MUL with lf_cf). */
#define F_IMUL(NAME, SIZE, A, B, FLAGS)                                                            \
	static inline __attribute__((always_inline)) void NAME(struct emu_cpu *c,                  \
							       const struct dinsn *d)              \
	{                                                                                          \
		uint64_t a = (A), b = (B), lo;                                                     \
		bool ovf;                                                                          \
		if (SIZE == 8) {                                                                   \
			__int128 p = (__int128)(int64_t)a * (int64_t)b;                            \
			lo = (uint64_t)p;                                                          \
			ovf = p != (__int128)(int64_t)lo;                                          \
		} else {                                                                           \
			int64_t p = (int64_t)(int32_t)a * (int32_t)b;                              \
			lo = (uint32_t)p;                                                          \
			ovf = p != (int64_t)(int32_t)lo;                                           \
		}                                                                                  \
		c->r[d->op[0].reg] = lo;                                                           \
		if (FLAGS) {                                                                       \
			lazy(c, LF_MUL, SIZE, lo, 0, 0);                                           \
			c->lf_cf = ovf;                                                            \
		}                                                                                  \
		(void)ovf;                                                                         \
	}
F_IMUL(f_imul_rr64, 8, c->r[d->op[0].reg], c->r[d->op[1].reg], true)
F_IMUL(f_imul_rr32, 4, c->r[d->op[0].reg], c->r[d->op[1].reg], true)
F_IMUL(f_imul_rri64, 8, c->r[d->op[1].reg], (uint64_t)d->imm, true)
F_IMUL(f_imul_rri32, 4, c->r[d->op[1].reg], (uint64_t)d->imm, true)
F_IMUL(f_imul_rr64_nf, 8, c->r[d->op[0].reg], c->r[d->op[1].reg], false)
F_IMUL(f_imul_rr32_nf, 4, c->r[d->op[0].reg], c->r[d->op[1].reg], false)
F_IMUL(f_imul_rri64_nf, 8, c->r[d->op[1].reg], (uint64_t)d->imm, false)
F_IMUL(f_imul_rri32_nf, 4, c->r[d->op[1].reg], (uint64_t)d->imm, false)
#undef F_IMUL

/* MOVSXD r64, r32 and MOVZX/MOVSX r32/64, r8/r16 from a register. */
static inline __attribute__((always_inline)) void f_movsxd_rr(struct emu_cpu *c,
							      const struct dinsn *d)
{
	c->r[d->op[0].reg] = (uint64_t)(int64_t)(int32_t)c->r[d->op[1].reg];
}

/* ALU ops with a register destination, any source (ADC/SBB included). */
static inline __attribute__((always_inline)) void f_alu_reg(struct emu_cpu *c,
							    const struct dinsn *d)
{
	uint8_t r = d->op[0].reg;
	unsigned sz = d->op[0].size;
	uint64_t v = opr(c, d, 1);
	set_reg(c, r, sz, alu(c, d->mnem, sz, get_reg(c, r, sz), v));
}

static inline __attribute__((always_inline)) void f_cmp_any(struct emu_cpu *c,
							    const struct dinsn *d)
{
	alu(c, d->mnem, d->op[0].size, opr(c, d, 0), opr(c, d, 1));
}

static inline __attribute__((always_inline)) void f_movzx_reg(struct emu_cpu *c,
							      const struct dinsn *d)
{
	set_reg(c, d->op[0].reg, d->op[0].size, opr(c, d, 1));
}

static inline __attribute__((always_inline)) void f_movsx_reg(struct emu_cpu *c,
							      const struct dinsn *d)
{
	set_reg(c, d->op[0].reg, d->op[0].size, (uint64_t)sext(opr(c, d, 1), d->op[1].size));
}

static inline __attribute__((always_inline)) void f_imul_n(struct emu_cpu *c, const struct dinsn *d)
{
	do_imul_n(c, d);
}

static inline __attribute__((always_inline)) void f_nop(struct emu_cpu *c, const struct dinsn *d)
{
	(void)c;
	(void)d;
}

/* 64-bit mode stack and near-branch forms (decode.c: fast_class). */
static inline __attribute__((always_inline)) void f_push64(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t sp = c->r[R_SP] - 8;
	mwrite(c, sp, 8, c->r[d->op[0].reg]);
	c->r[R_SP] = sp;
}

static inline __attribute__((always_inline)) void f_pop64(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t v = mread(c, c->r[R_SP], 8);
	c->r[R_SP] += 8;
	c->r[d->op[0].reg] = v;
}

static inline __attribute__((always_inline)) void f_call64(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t sp = c->r[R_SP] - 8;
	mwrite(c, sp, 8, c->next_rip);
	c->r[R_SP] = sp;
	c->next_rip += (uint64_t)d->imm;
}

static inline __attribute__((always_inline)) void f_ret64(struct emu_cpu *c, const struct dinsn *d)
{
	(void)d;
	uint64_t v = mread(c, c->r[R_SP], 8);
	c->r[R_SP] += 8;
	c->next_rip = v;
}

static inline __attribute__((always_inline)) void f_jmp_rel64(struct emu_cpu *c,
							      const struct dinsn *d)
{
	c->next_rip += (uint64_t)d->imm;
}

static inline __attribute__((always_inline)) void f_exec(struct emu_cpu *c, const struct dinsn *d)
{
	exec(c, d);
}

/* A native run (struct native_hdr): guest flags in only when it reads
 * them; the returned flags are the guest's when the exit says so. */
static inline __attribute__((always_inline)) uint64_t f_native(struct emu_cpu *c,
							       const struct native_hdr *h)
{
	uint64_t in = 0x2; /* reserved bit 1; TF, DF, AC and the rest stay clear */
	if (h->flags_in)
		in |= get_flags(c) & F_ARITH;
	struct native_ret r = h->fn(c->r, in, c->rip);
	if (r.exit & NATIVE_EXIT_FLAGS)
		set_arith(c, r.rflags);
	return r.exit;
}

/* Every handler, in one list: the dispatch table in run_blocks() and the
 * FOP_* numbers decode.c stores in dinsn.fop come from it. */
#define CC16(X, P)                                                                                 \
	X(P##0)                                                                                    \
	X(P##1)                                                                                    \
	X(P##2)                                                                                    \
	X(P##3)                                                                                    \
	X(P##4)                                                                                    \
	X(P##5)                                                                                    \
	X(P##6)                                                                                    \
	X(P##7)                                                                                    \
	X(P##8)                                                                                    \
	X(P##9)                                                                                    \
	X(P##10)                                                                                   \
	X(P##11)                                                                                   \
	X(P##12)                                                                                   \
	X(P##13)                                                                                   \
	X(P##14)                                                                                   \
	X(P##15)
#define ALU4(X, OP) X(f_##OP##_rr64) X(f_##OP##_rr32) X(f_##OP##_ri64) X(f_##OP##_ri32)
/* Handlers that only read memory and write registers, and never branch:
 * the run loop needs no checks after them but the block's end. */
#define PURE_OPS(X)                                                                                \
	X(f_mov_rr64)                                                                              \
	X(f_mov_rr32)                                                                              \
	X(f_mov_ri64)                                                                              \
	X(f_mov_ri32)                                                                              \
	X(f_load64)                                                                                \
	X(f_load32)                                                                                \
	X(f_lea64)                                                                                 \
	X(f_lea32)                                                                                 \
	ALU4(X, add)                                                                               \
	ALU4(X, sub)                                                                               \
	ALU4(X, cmp)                                                                               \
	ALU4(X, and)                                                                               \
	ALU4(X, or)                                                                                \
	ALU4(X, xor)                                                                               \
	ALU4(X, test)                                                                              \
	CC16(X, f_cmov)                                                                            \
	X(f_shl64_i)                                                                               \
	X(f_shl32_i)                                                                               \
	X(f_shr64_i)                                                                               \
	X(f_shr32_i)                                                                               \
	X(f_sar64_i)                                                                               \
	X(f_sar32_i)                                                                               \
	X(f_shl64_c)                                                                               \
	X(f_shl32_c)                                                                               \
	X(f_shr64_c)                                                                               \
	X(f_shr32_c)                                                                               \
	X(f_sar64_c)                                                                               \
	X(f_sar32_c)                                                                               \
	X(f_imul_rr64)                                                                             \
	X(f_imul_rr32)                                                                             \
	X(f_imul_rri64)                                                                            \
	X(f_imul_rri32)                                                                            \
	X(f_movsxd_rr)                                                                             \
	X(f_alu_reg)                                                                               \
	X(f_cmp_any)                                                                               \
	X(f_movzx_reg)                                                                             \
	X(f_movsx_reg)                                                                             \
	X(f_imul_n)                                                                                \
	X(f_nop)                                                                                   \
	X(f_pop64)
/* Handlers that may write memory (a write into the running block's page
 * sets c->slow), branch, or do anything else (f_exec). */
#define FULL_OPS(X)                                                                                \
	X(f_exec)                                                                                  \
	X(f_store64)                                                                               \
	X(f_store32)                                                                               \
	CC16(X, f_jcc)                                                                             \
	CC16(X, f_set)                                                                             \
	X(f_push64)                                                                                \
	X(f_call64)                                                                                \
	X(f_ret64)                                                                                 \
	X(f_jmp_rel64)
/* Pure handlers with a twin that skips the flags (FLAGLESS_OPS(X) lists
 * the twins, in the same order as FLAGGED_OPS). */
#define ALU_NF(X, OP, S)                                                                           \
	X(f_##OP##_rr64##S) X(f_##OP##_rr32##S) X(f_##OP##_ri64##S) X(f_##OP##_ri32##S)
#define SHIFT_NF(X, OP, S) X(OP##64_i##S) X(OP##32_i##S) X(OP##64_c##S) X(OP##32_c##S)
#define TWINS(X, S)                                                                                \
	ALU_NF(X, add, S)                                                                          \
	ALU_NF(X, sub, S)                                                                          \
	ALU_NF(X, and, S)                                                                          \
	ALU_NF(X, or, S)                                                                           \
	ALU_NF(X, xor, S)                                                                          \
	SHIFT_NF(X, f_shl, S)                                                                      \
	SHIFT_NF(X, f_shr, S)                                                                      \
	SHIFT_NF(X, f_sar, S)                                                                      \
	X(f_imul_rr64##S) X(f_imul_rr32##S) X(f_imul_rri64##S) X(f_imul_rri32##S)
#define FLAGGED_OPS(X)	TWINS(X, )
#define FLAGLESS_OPS(X) TWINS(X, _nf)
/* f_native heads a run of instructions compiled to host code (native.c);
 * run_blocks() has its own code for it, as it steps over the whole run. */
#define INSN_OPS(X) FULL_OPS(X) PURE_OPS(X) FLAGLESS_OPS(X) X(f_native)

enum {
#define X(name) FOP_##name,
	INSN_OPS(X)
#undef X
		FOP_COUNT
};
_Static_assert(FOP_COUNT <= 256, "dinsn.fop is a byte");
const uint8_t emu_fop_native = FOP_f_native;

/* The handler that does what fop does minus the arithmetic flags, or fop
 * itself when there is none (CMP/TEST without flags do nothing). */
uint8_t emu_insn_flagless(uint8_t fop)
{
	static const uint8_t flagged[] = {
#define X(name) FOP_##name,
		FLAGGED_OPS(X)
#undef X
	};
	static const uint8_t flagless[] = {
#define X(name) FOP_##name,
		FLAGLESS_OPS(X)
#undef X
	};
	_Static_assert(sizeof(flagged) == sizeof(flagless), "every flagged op has its twin");
	switch (fop) {
#define X(name) case FOP_##name:
		ALU_NF(X, cmp, ) ALU_NF(X, test, ) return FOP_f_nop;
#undef X
	default: break;
	}
	for (size_t i = 0; i < sizeof(flagged); i++)
		if (flagged[i] == fop)
			return flagless[i];
	return fop;
}

/* True for handlers that only touch registers: they cannot fault, write
 * memory or branch, so the flags before them need not be exact unless
 * they read them. */
bool emu_insn_reg_only(uint8_t fop)
{
	switch (fop) {
#define X(name) case FOP_##name:
		X(f_mov_rr64)
		X(f_mov_rr32)
		X(f_mov_ri64)
		X(f_mov_ri32)
		X(f_lea64)
		X(f_lea32)
		X(f_movsxd_rr)
		X(f_nop)
		ALU_NF(X, cmp, )
		ALU_NF(X, test, )
		FLAGGED_OPS(X)
		FLAGLESS_OPS(X)
		return true;
#undef X
	default: return false;
	}
}

uint8_t emu_insn_handler(const struct dinsn *d, int cmode)
{
	static const uint8_t jcc[16] = {FOP_f_jcc0,  FOP_f_jcc1,  FOP_f_jcc2,  FOP_f_jcc3,
					FOP_f_jcc4,  FOP_f_jcc5,  FOP_f_jcc6,  FOP_f_jcc7,
					FOP_f_jcc8,  FOP_f_jcc9,  FOP_f_jcc10, FOP_f_jcc11,
					FOP_f_jcc12, FOP_f_jcc13, FOP_f_jcc14, FOP_f_jcc15};
	static const uint8_t setcc[16] = {FOP_f_set0,  FOP_f_set1,  FOP_f_set2,	 FOP_f_set3,
					  FOP_f_set4,  FOP_f_set5,  FOP_f_set6,	 FOP_f_set7,
					  FOP_f_set8,  FOP_f_set9,  FOP_f_set10, FOP_f_set11,
					  FOP_f_set12, FOP_f_set13, FOP_f_set14, FOP_f_set15};
	static const uint8_t cmovcc[16] = {FOP_f_cmov0,	 FOP_f_cmov1,  FOP_f_cmov2,  FOP_f_cmov3,
					   FOP_f_cmov4,	 FOP_f_cmov5,  FOP_f_cmov6,  FOP_f_cmov7,
					   FOP_f_cmov8,	 FOP_f_cmov9,  FOP_f_cmov10, FOP_f_cmov11,
					   FOP_f_cmov12, FOP_f_cmov13, FOP_f_cmov14, FOP_f_cmov15};
	bool q = d->osize == 8, imm = d->op[1].kind == DOP_IMM;
	bool plain = !(d->flags & (DI_LOCK | DI_REP | DI_REPNE | DI_FAR));
	bool reg0 = d->op[0].kind == DOP_REG, hi8 = reg0 && (d->op[0].reg & DOP_F_HI8);
	bool reg0_48 = reg0 && !hi8 && (d->op[0].size == 4 || d->op[0].size == 8);
	/* op[1] a full register of op[0]'s size */
	bool reg1_same = d->op[1].kind == DOP_REG && d->op[1].size == d->op[0].size;
	/* shift count: an immediate, or CL (Zydis shows the implicit 1 as an immediate) */
	bool shift_imm = d->nops >= 2 && d->op[1].kind == DOP_IMM;
	bool shift_cl = d->nops >= 2 && d->op[1].kind == DOP_REG && d->op[1].reg == R_CX &&
			d->op[1].size == 1;
	bool shift_ok = shift_imm || shift_cl;
#define SHIFT(OP)                                                                                  \
	(shift_imm ? (q ? FOP_f_##OP##64_i : FOP_f_##OP##32_i)                                     \
		   : (q ? FOP_f_##OP##64_c : FOP_f_##OP##32_c))
#define PICK(OP)                                                                                   \
	(imm ? (q ? FOP_f_##OP##_ri64 : FOP_f_##OP##_ri32)                                         \
	     : (q ? FOP_f_##OP##_rr64 : FOP_f_##OP##_rr32))
	switch (d->hclass) {
	case H_F_MOV_RR: return q ? FOP_f_mov_rr64 : FOP_f_mov_rr32;
	case H_F_MOV_RI: return q ? FOP_f_mov_ri64 : FOP_f_mov_ri32;
	case H_F_LOAD: return q ? FOP_f_load64 : FOP_f_load32;
	case H_F_STORE: return q ? FOP_f_store64 : FOP_f_store32;
	case H_F_LEA: return q ? FOP_f_lea64 : FOP_f_lea32;
	case H_F_ADD: return PICK(add);
	case H_F_SUB: return PICK(sub);
	case H_F_CMP: return PICK(cmp);
	case H_F_AND: return PICK(and);
	case H_F_OR: return PICK(or);
	case H_F_XOR: return PICK(xor);
	case H_F_TEST: return PICK(test);
	case H_F_JCC: return jcc[d->opcode & 0xf];
	case H_F_PUSH: return FOP_f_push64;
	case H_F_POP: return FOP_f_pop64;
	case H_F_CALL: return FOP_f_call64;
	case H_F_RET: return FOP_f_ret64;
	case H_JMP:
		return cmode == 8 && q && plain && (d->flags & DI_RELBR) ? FOP_f_jmp_rel64
									 : FOP_f_exec;
	case H_NOP:
	case H_ENDBR64:
	case H_ENDBR32:
	case H_PREFETCH:
	case H_PREFETCHW:
	case H_PREFETCHNTA:
	case H_PREFETCHT0:
	case H_PREFETCHT1:
	case H_PREFETCHT2: return FOP_f_nop;
	case H_SHL: return plain && reg0_48 && shift_ok ? SHIFT(shl) : FOP_f_exec;
	case H_SHR: return plain && reg0_48 && shift_ok ? SHIFT(shr) : FOP_f_exec;
	case H_SAR: return plain && reg0_48 && shift_ok ? SHIFT(sar) : FOP_f_exec;
	case H_ADD:
	case H_OR:
	case H_ADC:
	case H_SBB:
	case H_AND:
	case H_SUB:
	case H_XOR: return plain && reg0 ? FOP_f_alu_reg : FOP_f_exec;
	case H_CMP:
	case H_TEST: return plain ? FOP_f_cmp_any : FOP_f_exec;
	case H_MOVZX: return plain && reg0 ? FOP_f_movzx_reg : FOP_f_exec;
	case H_MOVSXD:
		if (plain && reg0 && d->op[0].size == 8 && d->op[1].kind == DOP_REG &&
		    d->op[1].size == 4)
			return FOP_f_movsxd_rr;
		return plain && reg0 ? FOP_f_movsx_reg : FOP_f_exec;
	case H_MOVSX: return plain && reg0 ? FOP_f_movsx_reg : FOP_f_exec;
	case H_IMUL:
		if (!plain || d->nops < 2 || !reg0)
			return FOP_f_exec;
		if (reg0_48 && reg1_same && d->nops == 2)
			return q ? FOP_f_imul_rr64 : FOP_f_imul_rr32;
		if (reg0_48 && reg1_same && d->nops == 3 && d->op[2].kind == DOP_IMM)
			return q ? FOP_f_imul_rri64 : FOP_f_imul_rri32;
		return FOP_f_imul_n;
	default: break;
	}
	if (plain && d->hclass >= H_SETO && d->hclass <= H_SETO + 15)
		return setcc[d->opcode & 0xf];
	if (plain && reg0 && d->hclass >= H_CMOVO && d->hclass <= H_CMOVO + 15)
		return cmovcc[d->opcode & 0xf];
	return FOP_f_exec;
#undef SHIFT
#undef PICK
}

static bool pic_intr_allowed(struct emu_cpu *c)
{
	if (c->index != 0)
		return false;
	if (!(c->apic.apic_base & 0x800))
		return true;
	uint32_t l0 = c->apic.lvt[3];
	return !(l0 & 0x10000) && ((l0 >> 8) & 7) == 7;
}

/* Delivers one external interrupt if one is pending and allowed. Returns
 * true if something was delivered (or woke the vCPU). */
static bool try_interrupt(struct emu_cpu *c)
{
	int vec = lapic_pending(c);
	if (vec >= 0) {
		lapic_ack(c, vec);
		c->halted = false;
		emu_deliver(c, vec, 0, false, false, c->rip);
		return true;
	}
	if (pic_intr_allowed(c) && c->vm->pic_out) {
		int pv = pic_ack(c->vm);
		if (pv >= 0) {
			c->halted = false;
			emu_deliver(c, pv, 0, false, false, c->rip);
			return true;
		}
	}
	return false;
}

static bool irq_possible(struct emu_cpu *c)
{
	if (lapic_pending(c) >= 0)
		return true;
	return pic_intr_allowed(c) && c->vm->pic_out;
}

static uint64_t next_deadline(struct emu_cpu *c)
{
	uint64_t dl = c->apic.timer_deadline_ns;
	if (c->index == 0) {
		uint64_t p = atomic_load(&c->vm->pit_deadline_ns);
		if (p && (!dl || p < dl))
			dl = p;
	}
	return dl;
}

static void check_timers(struct emu_cpu *c)
{
	uint64_t now = emu_now_ns();
	lapic_timer_check(c, now);
	if (c->index == 0)
		pit_check(c->vm, now);
}

static void handle_init(struct emu_cpu *c)
{
	if (c->index == 0)
		return; /* INIT to the BSP is not modelled */
	uint64_t apic_base = c->apic.apic_base;
	uint32_t id = c->apic.id;
	emu_reset(c);
	lapic_reset(c, false);
	c->apic.apic_base = apic_base;
	c->apic.id = id;
	c->wait_sipi = true;
}

static void handle_sipi(struct emu_cpu *c)
{
	if (!c->wait_sipi)
		return;
	uint32_t vec = atomic_load(&c->sipi_vector) & 0xff;
	c->wait_sipi = false;
	c->halted = false;
	emu_load_seg(c, SEG_CS, (uint16_t)(vec << 8));
	c->rip = 0;
	emu_update_mode(c);
}

/* Sleeps until an event arrives or the timer deadline passes. */
static void sleep_until_event(struct emu_cpu *c)
{
	uint64_t dl = c->wait_sipi ? 0 : next_deadline(c);
	pthread_mutex_lock(&c->sleep_lock);
	while (!atomic_load(&c->events) && !vmctl_stopping(&c->m->ctl)) {
		if (dl) {
			uint64_t now = emu_now_ns();
			if (now >= dl)
				break;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t wait = dl - now;
			ts.tv_sec += wait / 1000000000ULL;
			ts.tv_nsec += wait % 1000000000ULL;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&c->sleep_cond, &c->sleep_lock, &ts);
		} else {
			pthread_cond_wait(&c->sleep_cond, &c->sleep_lock);
		}
	}
	pthread_mutex_unlock(&c->sleep_lock);
}

static bool df_class(int prev, int vec)
{
	bool contrib_prev = prev == 0 || (prev >= 10 && prev <= 13);
	bool contrib_vec = vec == 0 || (vec >= 10 && vec <= 13);
	if (prev == EXC_PF)
		return vec == EXC_PF || contrib_vec;
	return contrib_prev && contrib_vec;
}

static void handle_fault(struct emu_cpu *c)
{
	int vec = c->pending_exc;
	uint32_t err = c->pending_err;
	bool has_err = c->pending_has_err;
	c->pending_exc = -1;
	if (vec < 0)
		return;
	c->lf_op = c->lf_op; /* flags stay lazy; delivery materialises them */
	if (c->delivering >= 0) {
		int prev = c->delivering;
		if (prev == EXC_DF) {
			char text[128];
			emu_format_insn(c, c->rip, text, sizeof(text));
			fprintf(stderr,
				"vmon: emu: cpu%d: triple fault (exception %d while delivering "
				"#DF) "
				"at rip=%#llx: %s\n",
				c->index, vec, (unsigned long long)c->rip, text);
			c->delivering = -1;
			vmctl_request_stop(&c->m->ctl, VM_STOP_TRIPLE_FAULT, 1);
			return;
		}
		if (df_class(prev, vec)) {
			vec = EXC_DF;
			err = 0;
			has_err = true;
		}
	}
	c->delivering = vec;
	emu_deliver(c, vec, err, has_err, false, c->rip);
	c->delivering = -1;
}

#define TIMER_CHECK_INSNS 1024

/* Everything that is not "fetch, decode, execute": events from other
 * threads, stop requests, INIT/SIPI, halt, timers, interrupt acceptance.
 * Returns false when the vCPU must return to the VM layer. */
static bool slow_path(struct emu_cpu *c)
{
	struct machine *m = c->m;
	/* Code written by another vCPU or by a device becomes visible here:
	 * blocks are compared with guest memory again before they run. */
	c->code_epoch++;
	for (;;) {
		c->slow = false;
		if (vmctl_stopping(&m->ctl))
			return false;
		if (vmctl_pause_requested(&m->ctl)) {
			/* Between blocks the vCPU's state is whole: park. */
			vmctl_park(&m->ctl);
			continue;
		}
		uint32_t ev = atomic_exchange(&c->events, 0);
		if (ev) {
			if (ev & EV_INIT)
				handle_init(c);
			if (ev & EV_SIPI)
				handle_sipi(c);
			c->irq_maybe = true;
		}
		if (c->budget <= 0) {
			c->budget = TIMER_CHECK_INSNS;
			check_timers(c);
		}
		if (c->wait_sipi) {
			sleep_until_event(c);
			continue;
		}
		if (c->halted) {
			check_timers(c);
			if ((c->flags & F_IF) && irq_possible(c)) {
				c->halted = false;
				c->irq_maybe = true;
			} else {
				sleep_until_event(c);
				continue;
			}
		}
		if (c->irq_shadow) {
			/* STI / MOV SS: one more instruction first, then look again. */
			c->irq_shadow = 0;
			c->slow = true;
			return true;
		}
		if (c->irq_maybe && (c->flags & F_IF)) {
			if (!try_interrupt(c))
				c->irq_maybe = false;
		}
		return true;
	}
}

const void *const *emu_op_labels;

/* Runs blocks until the slow path is wanted (returns true) or the VM
 * stops (false). A fault longjmps out of here to emu_cpu_run. */
static bool run_blocks(struct emu_cpu *c)
{
	static const void *const op_labels[] = {
#define X(name) &&L_##name,
		INSN_OPS(X)
#undef X
	};
	const struct dblock *prev = NULL;
	emu_op_labels = op_labels;
	for (;;) {
		if (unlikely(c->slow || atomic_load_explicit(&c->events, memory_order_relaxed))) {
			if (!slow_path(c))
				return false;
		}
		const struct dblock *b = emu_block(c, prev);
		if (b && unlikely(b->runs < c->native_hot)) {
			struct dblock *w = (struct dblock *)b;
			if (++w->runs == c->native_hot)
				emu_native_block(c, w);
		}
		prev = b;
		c->exec_page = b ? c->fetch_host : NULL;
		if (unlikely(!b)) {
			/* One instruction on its own (straddles a page), or #UD. */
			const struct dinsn *d = emu_fetch_decode(c);
			c->next_rip = c->rip + d->len;
			if (c->cmode != 8)
				c->next_rip &= c->cmode == 4 ? 0xffffffffULL : 0xffffULL;
			exec(c, d);
			c->rip = c->next_rip;
			c->icount++;
			if (unlikely(--c->budget <= 0))
				c->slow = true;
			continue;
		}
		/* The block runs until its end, a jump away from the straight
		 * line, or something that wants the slow path (an instruction
		 * that changes the interrupt state sets c->slow; a fault
		 * longjmps out). Interrupts are taken between blocks. */
		const struct dinsn *d = b->insn, *end = d + b->n;
		uint64_t mask = c->cmode == 8 ? ~0ULL : c->cmode == 4 ? 0xffffffffULL : 0xffffULL;
		uint64_t seq = (c->rip + d->len) & mask;
		c->budget -= b->n;
		c->next_rip = seq;
		/* Threaded dispatch: each handler ends with its own jump to the
		 * next one, which the host's branch predictor learns per site. */
		goto *(void *)d->label;
#define X(name)                                                                                    \
	L_##name : name(c, d);                                                                     \
	c->rip = c->next_rip;                                                                      \
	d++;                                                                                       \
	if (unlikely(c->slow || c->rip != seq) || d == end)                                        \
		goto block_done;                                                                   \
	seq = (c->rip + d->len) & mask;                                                            \
	c->next_rip = seq;                                                                         \
	goto *(void *)d->label;
		FULL_OPS(X)
#undef X
#define X(name)                                                                                    \
	L_##name : name(c, d);                                                                     \
	c->rip = seq;                                                                              \
	if (++d == end)                                                                            \
		goto block_done;                                                                   \
	seq = (seq + d->len) & mask;                                                               \
	c->next_rip = seq;                                                                         \
	goto *(void *)d->label;
		PURE_OPS(X)
		FLAGLESS_OPS(X)
#undef X
	L_f_native : {
		/* A native run from d (native.c): its instructions run as host
		 * code up to the end, or up to one the interpreter must do
		 * (a TLB miss, MMIO, ...), where it takes over. */
		const struct native_hdr *h = (const void *)(c->native_rx + ((size_t)d->imm2 << 8));
		uint64_t ex = 0;
		if (__builtin_expect(h->cpl == c->cpl, 1))
			ex = f_native(c, h);
		unsigned k = (unsigned)(ex & 0xff);
		c->native_insns += k;
		if (k == h->n) {
			d += k;
			c->rip = (c->rip + h->bytes) & mask;
			if (ex & NATIVE_EXIT_TAKEN) /* a final JMP/Jcc: d[-1] */
				c->rip = (c->rip + (uint64_t)d[-1].imm) & mask;
			if (d == end)
				goto block_done;
		} else {
			c->native_bails++;
			for (unsigned i = 0; i < k; i++)
				c->rip += d[i].len;
			c->rip &= mask;
			d += k;
		}
		seq = (c->rip + d->len) & mask;
		c->next_rip = seq;
		goto *(k == 0 ? emu_op_labels[d->fop] : d->label);
	}
	block_done:
		c->icount += (uint64_t)(d - b->insn);
		if (unlikely(c->budget <= 0))
			c->slow = true;
	}
}

void emu_cpu_run(struct emu_cpu *c)
{
	c->delivering = -1;
	c->pending_exc = -1;
	c->irq_maybe = true;
	c->slow = true;
	c->budget = TIMER_CHECK_INSNS;
	if (setjmp(c->fault_jmp)) {
		handle_fault(c);
		emu_poke(c);
	}
	run_blocks(c);
}
