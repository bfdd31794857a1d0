/* SPDX-License-Identifier: MIT */
/*
 * General-register instructions of the later extensions: POPCNT, LZCNT,
 * TZCNT, BMI1 (ANDN BEXTR BLSI BLSMSK BLSR), BMI2 (BZHI MULX PDEP PEXT
 * RORX SARX SHLX SHRX), ADX (ADCX ADOX), MOVBE and SSE4.2's CRC32.
 * Flags are set eagerly (set_arith); the manual's undefined flags are
 * left as they were where it allows, cleared otherwise.
 */
#include "cpu/emu/insn.h"

static inline unsigned opbits(const struct dinsn *d)
{
	return d->op[0].size * 8;
}

/* SF and ZF of a result of size bytes. */
static inline uint64_t sz_of(uint64_t r, unsigned size)
{
	return ((r & szmask(size)) ? 0 : F_ZF) | ((r & sbit(size)) ? F_SF : 0);
}

/* POPCNT: ZF if the source is 0, every other flag cleared */
void h_popcnt(struct emu_cpu *c, const struct dinsn *d)
{
	uint64_t s = opr(c, d, 1) & szmask(d->op[0].size);
	opw(c, d, 0, (uint64_t)__builtin_popcountll(s));
	set_arith(c, s ? 0 : F_ZF);
}

/* LZCNT: CF if the source is 0 (the result is then its width), ZF if the
 * result is 0 */
void h_lzcnt(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned bits = opbits(d);
	uint64_t s = opr(c, d, 1) & szmask(d->op[0].size);
	uint64_t r = s ? (uint64_t)(__builtin_clzll(s) - (64 - bits)) : bits;
	opw(c, d, 0, r);
	set_arith(c,
		  (get_flags(c) & (F_OF | F_SF | F_AF | F_PF)) | (s ? 0 : F_CF) | (r ? 0 : F_ZF));
}

/* TZCNT: as LZCNT, from the low end */
void h_tzcnt(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned bits = opbits(d);
	uint64_t s = opr(c, d, 1) & szmask(d->op[0].size);
	uint64_t r = s ? (uint64_t)__builtin_ctzll(s) : bits;
	opw(c, d, 0, r);
	set_arith(c,
		  (get_flags(c) & (F_OF | F_SF | F_AF | F_PF)) | (s ? 0 : F_CF) | (r ? 0 : F_ZF));
}

/* ANDN dst, src1, src2: NOT src1 AND src2 */
void h_andn(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size;
	uint64_t r = ~opr(c, d, 1) & opr(c, d, 2) & szmask(sz);
	opw(c, d, 0, r);
	set_arith(c, sz_of(r, sz));
}

/* BEXTR dst, src, ctl: ctl[15:8] bits of src from bit ctl[7:0] */
void h_bextr(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size, bits = sz * 8;
	uint64_t s = opr(c, d, 1) & szmask(sz), ctl = opr(c, d, 2);
	unsigned start = ctl & 0xff, len = (ctl >> 8) & 0xff;
	uint64_t r = start >= bits ? 0 : s >> start;
	if (len < 64)
		r &= (1ULL << len) - 1;
	opw(c, d, 0, r);
	set_arith(c, r ? 0 : F_ZF);
}

/* BLSI (arg 0): lowest set bit; BLSMSK (1): mask up to it; BLSR (2):
 * source without it. CF: source nonzero (BLSI) or zero (the others). */
void h_blsx(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size;
	uint64_t s = opr(c, d, 1) & szmask(sz), r, f;
	switch (insn_arg(d)) {
	case 0:
		r = s & -s;
		f = sz_of(r, sz) | (s ? F_CF : 0);
		break;
	case 1:
		r = (s ^ (s - 1)) & szmask(sz);
		f = (sz_of(r, sz) & F_SF) | (s ? 0 : F_CF);
		break;
	default:
		r = s & (s - 1);
		f = sz_of(r, sz) | (s ? 0 : F_CF);
		break;
	}
	opw(c, d, 0, r);
	set_arith(c, f);
}

/* BZHI dst, src, n: src with bits n and up cleared; CF when n is past
 * the operand */
void h_bzhi(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size, bits = sz * 8;
	uint64_t s = opr(c, d, 1) & szmask(sz);
	unsigned n = opr(c, d, 2) & 0xff;
	uint64_t r = n < bits ? s & ((1ULL << n) - 1) : s;
	opw(c, d, 0, r);
	set_arith(c, sz_of(r, sz) | (n > bits - 1 ? F_CF : 0));
}

/* MULX hi, lo, src: rDX * src unsigned, flags untouched; the high half
 * wins when both destinations are one register */
void h_mulx(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size;
	uint64_t s = opr(c, d, 2), hi, lo;
	if (sz == 8) {
		unsigned __int128 p = (unsigned __int128)c->r[R_DX] * s;
		lo = (uint64_t)p;
		hi = (uint64_t)(p >> 64);
	} else {
		uint64_t p = (uint64_t)(uint32_t)c->r[R_DX] * (uint32_t)s;
		lo = (uint32_t)p;
		hi = p >> 32;
	}
	opw(c, d, 1, lo);
	opw(c, d, 0, hi);
}

/* PDEP dst, src, mask (arg 0): src's low bits to mask's set positions;
 * PEXT (arg 1): the bits at mask's set positions, packed low */
void h_pdep(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size;
	uint64_t s = opr(c, d, 1) & szmask(sz), m = opr(c, d, 2) & szmask(sz), r = 0;
	unsigned k = 0;
	for (unsigned i = 0; i < sz * 8; i++) {
		if (!((m >> i) & 1))
			continue;
		if (insn_arg(d) == 0)
			r |= ((s >> k) & 1) << i;
		else
			r |= ((s >> i) & 1) << k;
		k++;
	}
	opw(c, d, 0, r);
}

/* RORX dst, src, imm8 (arg 0); SARX (1), SHLX (2), SHRX (3) dst, src,
 * count: the count masked to the operand, flags untouched */
void h_shiftx(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size, bits = sz * 8;
	uint64_t s = opr(c, d, 1) & szmask(sz), r;
	unsigned n = (unsigned)((insn_arg(d) == 0 ? (uint64_t)d->imm : opr(c, d, 2)) & (bits - 1));
	switch (insn_arg(d)) {
	case 0: r = n ? (s >> n) | (s << (bits - n)) : s; break;
	case 1: r = (uint64_t)(sext(s, sz) >> n); break;
	case 2: r = s << n; break;
	default: r = s >> n; break;
	}
	opw(c, d, 0, r & szmask(sz));
}

/* ADCX (arg 0: through CF), ADOX (arg 1: through OF): unsigned add with
 * carry, only that flag changes */
void h_adcx(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size;
	uint64_t f = get_flags(c), bit = insn_arg(d) ? F_OF : F_CF;
	uint64_t a = opr(c, d, 0) & szmask(sz), b = opr(c, d, 1) & szmask(sz);
	uint64_t cin = (f & bit) ? 1 : 0, r = (a + b + cin) & szmask(sz);
	bool cout = cin ? r <= a : r < a;
	opw(c, d, 0, r);
	set_arith(c, (f & ~bit) | (cout ? bit : 0));
}

/* MOVBE: a load or store with the bytes reversed */
void h_movbe(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned sz = d->op[0].size;
	uint64_t v = opr(c, d, 1);
	switch (sz) {
	case 2: v = __builtin_bswap16((uint16_t)v); break;
	case 4: v = __builtin_bswap32((uint32_t)v); break;
	default: v = __builtin_bswap64(v); break;
	}
	opw(c, d, 0, v);
}

/* CRC32: CRC-32C (Castagnoli, reflected) of the source's bytes, from the
 * destination's low 32 bits; the result zero-extends */
void h_crc32(struct emu_cpu *c, const struct dinsn *d)
{
	uint32_t crc = (uint32_t)c->r[d->op[0].reg & 15];
	uint64_t s = opr(c, d, 1);
	for (unsigned i = 0; i < d->op[1].size; i++) {
		crc ^= (uint8_t)(s >> (8 * i));
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	c->r[d->op[0].reg & 15] = crc;
}
