/* SPDX-License-Identifier: MIT */
/*
 * AES-NI (AESENC, AESENCLAST, AESDEC, AESDECLAST, AESIMC,
 * AESKEYGENASSIST) and PCLMULQDQ, legacy and VEX.128. The AES state is
 * the register's 16 bytes in column order (byte r + 4c is row r of
 * column c), as FIPS-197 lays out a block; the S-boxes are computed once
 * from their definition (the inverse in GF(2^8), then the affine map).
 */
#include <pthread.h>
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_sse.h"

static uint8_t sbox[256], inv_sbox[256];
static pthread_once_t sbox_once = PTHREAD_ONCE_INIT;

/* Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1. */
static uint8_t gmul(uint8_t a, uint8_t b)
{
	uint8_t p = 0;
	while (b) {
		if (b & 1)
			p ^= a;
		a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1b : 0));
		b >>= 1;
	}
	return p;
}

static uint8_t rotl8(uint8_t x, int n)
{
	return (uint8_t)((x << n) | (x >> (8 - n)));
}

static void make_sboxes(void)
{
	for (int x = 0; x < 256; x++) {
		/* x^254 is x's inverse (0 for 0) */
		uint8_t inv = 1, b = (uint8_t)x;
		for (int e = 254; e; e >>= 1) {
			if (e & 1)
				inv = gmul(inv, b);
			b = gmul(b, b);
		}
		if (!x)
			inv = 0;
		uint8_t s =
			inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^ rotl8(inv, 4) ^ 0x63;
		sbox[x] = s;
		inv_sbox[s] = (uint8_t)x;
	}
}

static void shift_rows(uint8_t *s, bool inv)
{
	uint8_t t[16];
	for (int r = 0; r < 4; r++)
		for (int col = 0; col < 4; col++)
			t[r + 4 * col] = s[r + 4 * ((col + (inv ? 4 - r : r)) % 4)];
	memcpy(s, t, 16);
}

static void sub_bytes(uint8_t *s, bool inv)
{
	for (int i = 0; i < 16; i++)
		s[i] = inv ? inv_sbox[s[i]] : sbox[s[i]];
}

static void mix_columns(uint8_t *s, bool inv)
{
	static const uint8_t fwd[4] = {2, 3, 1, 1}, bwd[4] = {14, 11, 13, 9};
	const uint8_t *m = inv ? bwd : fwd;
	for (int col = 0; col < 4; col++) {
		uint8_t a[4], *p = s + 4 * col;
		memcpy(a, p, 4);
		for (int r = 0; r < 4; r++)
			p[r] = gmul(a[0], m[(4 - r) % 4]) ^ gmul(a[1], m[(5 - r) % 4]) ^
			       gmul(a[2], m[(6 - r) % 4]) ^ gmul(a[3], m[(7 - r) % 4]);
	}
}

/* AESENC (arg 0), AESENCLAST (1), AESDEC (2), AESDECLAST (3): one round
 * of the state (src1) with the round key (src2) */
void h_aes(struct emu_cpu *c, const struct dinsn *d)
{
	int k = insn_arg(d);
	bool dec = k >= 2, last = k & 1;
	union ymmreg a, b;
	pthread_once(&sbox_once, make_sboxes);
	vec_check(c, d);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	shift_rows(a.b, dec);
	sub_bytes(a.b, dec);
	if (!last)
		mix_columns(a.b, dec);
	a.q[0] ^= b.q[0];
	a.q[1] ^= b.q[1];
	memset(&a.x[1], 0, 16);
	vec_wr(c, d, 0, &a, false);
}

/* AESIMC: InvMixColumns of the source */
void h_aesimc(struct emu_cpu *c, const struct dinsn *d)
{
	union ymmreg a;
	vec_check(c, d);
	vec_rd(c, d, 1, &a, !vec_vex(d));
	mix_columns(a.b, true);
	memset(&a.x[1], 0, 16);
	vec_wr(c, d, 0, &a, false);
}

/* AESKEYGENASSIST: SubWord and RotWord of the source's dwords 1 and 3,
 * with the immediate as round constant */
void h_aeskeygen(struct emu_cpu *c, const struct dinsn *d)
{
	union ymmreg a, r;
	pthread_once(&sbox_once, make_sboxes);
	vec_check(c, d);
	vec_rd(c, d, 1, &a, !vec_vex(d));
	uint32_t rcon = (uint32_t)(d->imm & 0xff);
	memset(&r, 0, sizeof(r));
	for (int k = 0; k < 2; k++) {
		uint32_t x = a.d[2 * k + 1], s = 0;
		for (int i = 0; i < 4; i++)
			s |= (uint32_t)sbox[(x >> (8 * i)) & 0xff] << (8 * i);
		r.d[2 * k] = s;
		r.d[2 * k + 1] = ((s >> 8) | (s << 24)) ^ rcon;
	}
	vec_wr(c, d, 0, &r, false);
}

/* PCLMULQDQ: the carry-less product of a qword of src1 (imm bit 0) and
 * one of src2 (imm bit 4) */
void h_pclmul(struct emu_cpu *c, const struct dinsn *d)
{
	union ymmreg a, b, r;
	vec_check(c, d);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	uint64_t x = a.q[d->imm & 1], y = b.q[(d->imm >> 4) & 1], lo = 0, hi = 0;
	for (int i = 0; i < 64; i++) {
		if (!((y >> i) & 1))
			continue;
		lo ^= x << i;
		if (i)
			hi ^= x >> (64 - i);
	}
	memset(&r, 0, sizeof(r));
	r.q[0] = lo;
	r.q[1] = hi;
	vec_wr(c, d, 0, &r, false);
}
