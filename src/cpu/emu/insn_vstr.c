/* SPDX-License-Identifier: MIT */
/*
 * SSE4.2's string compares PCMPESTRI, PCMPESTRM, PCMPISTRI, PCMPISTRM
 * (and their VEX.128 forms), as the manual's SSE4.2 text-processing
 * chapter defines them: the immediate picks the element format (bytes or
 * words, signed or not), the aggregation (equal any, ranges, equal each,
 * equal ordered), the polarity and the output (an index in ECX, or a
 * mask in XMM0); lengths are explicit (EAX, EDX: absolute values,
 * saturated) or implicit (up to the first zero element). Memory operands
 * need no alignment.
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_sse.h"

/* PCMPESTRI (arg 1), PCMPESTRM (3), PCMPISTRI (0), PCMPISTRM (2): bit 0
 * explicit lengths, bit 1 mask output */
void h_pcmpstr(struct emu_cpu *c, const struct dinsn *d)
{
	int arg = insn_arg(d);
	bool expl = arg & 1, mask_out = arg & 2;
	unsigned imm = (unsigned)(d->imm & 0xff);
	bool words = imm & 1, sgn = imm & 2;
	unsigned agg = (imm >> 2) & 3, pol = (imm >> 4) & 3;
	unsigned n = words ? 8 : 16, es = words ? 2 : 1;
	union ymmreg a, b;
	vec_check(c, d);
	vec_rd(c, d, 0, &a, false);
	vec_rd(c, d, 1, &b, false);

	/* lengths of src1 (a) and src2 (b) */
	unsigned la = n, lb = n;
	if (expl) {
		bool w64 = d->osize == 8;
		int64_t ea = w64 ? (int64_t)c->r[R_AX] : (int32_t)c->r[R_AX];
		int64_t ed = w64 ? (int64_t)c->r[R_DX] : (int32_t)c->r[R_DX];
		uint64_t ua = ea < 0 ? -(uint64_t)ea : (uint64_t)ea;
		uint64_t ud = ed < 0 ? -(uint64_t)ed : (uint64_t)ed;
		la = ua < n ? (unsigned)ua : n;
		lb = ud < n ? (unsigned)ud : n;
	} else {
		for (la = 0; la < n && vel(&a, es, la); la++)
			;
		for (lb = 0; lb < n && vel(&b, es, lb); lb++)
			;
	}

	/* element i of a compared with element j of b */
#define EL(v, i) (sgn ? vels(v, es, i) : (int64_t)vel(v, es, i))
	uint32_t res = 0;
	for (unsigned j = 0; j < n; j++) {
		bool bit = false;
		switch (agg) {
		case 0: /* equal any: b[j] is one of a's elements */
			for (unsigned i = 0; i < la && j < lb && !bit; i++)
				bit = EL(&a, i) == EL(&b, j);
			break;
		case 1: /* ranges: b[j] within one of a's (low, high) pairs */
			for (unsigned i = 0; i + 1 < n && j < lb && !bit; i += 2)
				bit = i < la && i + 1 < la && EL(&b, j) >= EL(&a, i) &&
				      EL(&b, j) <= EL(&a, i + 1);
			break;
		case 2: /* equal each: a[j] == b[j], two missing elements agree */
			if (j >= la && j >= lb)
				bit = true;
			else if (j < la && j < lb)
				bit = EL(&a, j) == EL(&b, j);
			break;
		default: /* equal ordered: a as a substring of b at j */
			bit = true;
			for (unsigned i = 0; i < n - j && bit; i++) {
				unsigned k = j + i;
				if (i >= la)
					break; /* the needle ended */
				bit = k < lb && EL(&a, i) == EL(&b, k);
			}
			break;
		}
		if (bit)
			res |= 1u << j;
	}
#undef EL
	uint32_t all = (1u << n) - 1;
	if (pol == 1)
		res ^= all;
	else if (pol == 3)
		res ^= (1u << lb) - 1;

	uint64_t f = (res ? F_CF : 0) | (lb < n ? F_ZF : 0) | (la < n ? F_SF : 0) |
		     ((res & 1) ? F_OF : 0);
	if (mask_out) {
		union ymmreg m;
		memset(&m, 0, sizeof(m));
		if (imm & 0x40) {
			for (unsigned j = 0; j < n; j++)
				if ((res >> j) & 1)
					vset(&m, es, j, words ? 0xffff : 0xff);
		} else {
			m.d[0] = res;
		}
		c->xmm[0] = m.x[0];
		if (vec_vex(d))
			memset(&c->ymmh[0], 0, 16);
	} else {
		unsigned idx = n;
		if (res)
			idx = (imm & 0x40) ? 31 - (unsigned)__builtin_clz(res)
					   : (unsigned)__builtin_ctz(res);
		c->r[R_CX] = idx;
	}
	set_arith(c, f);
}
