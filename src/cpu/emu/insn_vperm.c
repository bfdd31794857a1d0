/* SPDX-License-Identifier: MIT */
/*
 * Vector element movement, SSE4.1 to AVX2: blends (by immediate and by
 * mask), sign/zero extensions (PMOVSX/PMOVZX), element extracts and
 * inserts (PEXTR*, PINSR*, EXTRACTPS, INSERTPS), broadcasts, 128-bit lane
 * inserts/extracts/permutes, and the permutes across the whole register
 * (VPERMD/PS, VPERMQ/PD) or within lanes (VPERMILPS/PD).
 */
#include <string.h>

#include "cpu/emu/insn.h"
#include "cpu/emu/insn_sse.h"

/* BLENDPS BLENDPD PBLENDW VPBLENDD (arg: element size): imm bit i picks
 * src2's element i (PBLENDW: the same 8 bits for each lane) */
void h_blend(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d), es = (unsigned)insn_arg(d), imm = (unsigned)(d->imm & 0xff);
	union ymmreg a, b;
	vec_check(c, d);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	for (unsigned i = 0; i < W / es; i++)
		if ((imm >> (es == 2 ? i % 8 : i)) & 1)
			vset(&a, es, i, vel(&b, es, i));
	vec_wr(c, d, 0, &a, false);
}

/* BLENDVPS BLENDVPD PBLENDVB (arg: element size): the mask's sign bits
 * pick src2's elements; the mask is XMM0 (legacy) or the is4 register */
void h_blendv(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d), es = (unsigned)insn_arg(d);
	union ymmreg a, b, m;
	vec_check(c, d);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, true);
	ymm_get(c, vec_vex(d) ? (int)((d->imm >> 4) & 15) : 0, &m);
	for (unsigned i = 0; i < W / es; i++)
		if (vels(&m, es, i) < 0)
			vset(&a, es, i, vel(&b, es, i));
	vec_wr(c, d, 0, &a, false);
}

/* PMOVSX* PMOVZX* (arg: PMX(source size, result size, signed)): the low
 * elements of the source, extended */
void h_pmovx(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d), arg = (unsigned)insn_arg(d);
	unsigned ses = arg & 0xf, des = (arg >> 4) & 0xf;
	bool sgn = arg >> 8;
	union ymmreg s, r;
	vec_check(c, d);
	vec_rd(c, d, 1, &s, false);
	memset(&r, 0, sizeof(r));
	for (unsigned i = 0; i < W / des; i++)
		vset(&r, des, i, sgn ? (uint64_t)vels(&s, ses, i) : vel(&s, ses, i));
	vec_wr(c, d, 0, &r, false);
}

/* PEXTRB PEXTRW PEXTRD PEXTRQ EXTRACTPS (arg: element size): element
 * imm of the source to a GPR (zero-extended) or memory */
void h_pextr(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = d->op[1].kind == DOP_MMX ? 8 : 16, es = (unsigned)insn_arg(d);
	union ymmreg s, r;
	vec_check(c, d);
	if (W == 8)
		mmx_enter(c);
	vec_rd(c, d, 1, &s, false);
	memset(&r, 0, sizeof(r));
	r.q[0] = vel(&s, es, (unsigned)d->imm & (W / es - 1));
	if (d->op[0].kind == DOP_REG)
		set_reg(c, d->op[0].reg, d->op[0].size, r.q[0]);
	else
		vec_wr(c, d, 0, &r, false);
}

/* PINSRB PINSRW PINSRD PINSRQ (arg: element size): src1 with element imm
 * replaced by the GPR or memory value */
void h_pinsr(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = d->op[0].kind == DOP_MMX ? 8 : 16, es = (unsigned)insn_arg(d);
	union ymmreg a, b;
	vec_check(c, d);
	if (W == 8)
		mmx_enter(c);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, false);
	vset(&a, es, (unsigned)d->imm & (W / es - 1), b.q[0]);
	vec_wr(c, d, 0, &a, false);
}

/* INSERTPS: a dword of src2 (element imm[7:6], or the m32) into element
 * imm[5:4] of src1, then the elements of imm[3:0] zeroed */
void h_insertps(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned imm = (unsigned)(d->imm & 0xff);
	union ymmreg a, b;
	vec_check(c, d);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, false);
	uint32_t v = d->op[vec_vex(d) ? 2 : 1].kind == DOP_MEM ? b.d[0] : b.d[imm >> 6];
	a.d[(imm >> 4) & 3] = v;
	for (unsigned i = 0; i < 4; i++)
		if ((imm >> i) & 1)
			a.d[i] = 0;
	memset(&a.x[1], 0, 16);
	vec_wr(c, d, 0, &a, false);
}

/* VBROADCASTSS VBROADCASTSD VPBROADCASTB/W/D/Q VBROADCASTF128
 * VBROADCASTI128 (arg: element size): the low element of the source
 * into every element */
void h_broadcast(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d), es = (unsigned)insn_arg(d);
	union ymmreg s, r;
	avx_check(c);
	vec_rd(c, d, 1, &s, false);
	memset(&r, 0, sizeof(r));
	for (unsigned i = 0; i < W / es; i++)
		memcpy(&r.b[i * es], &s.b[0], es);
	vec_wr(c, d, 0, &r, false);
}

/* VINSERTF128 VINSERTI128: src1 with lane imm[0] replaced by src2 */
void h_vinsert128(struct emu_cpu *c, const struct dinsn *d)
{
	union ymmreg a, b;
	avx_check(c);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, false);
	a.x[d->imm & 1] = b.x[0];
	vec_wr(c, d, 0, &a, false);
}

/* VEXTRACTF128 VEXTRACTI128: lane imm[0] of the source */
void h_vextract128(struct emu_cpu *c, const struct dinsn *d)
{
	union ymmreg s, r;
	avx_check(c);
	vec_rd(c, d, 1, &s, false);
	memset(&r, 0, sizeof(r));
	r.x[0] = s.x[d->imm & 1];
	vec_wr(c, d, 0, &r, false);
}

/* VPERM2F128 VPERM2I128: each result lane any lane of src1:src2 (imm
 * nibble bits 1:0), or zero (bit 3) */
void h_vperm2x128(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned imm = (unsigned)(d->imm & 0xff);
	union ymmreg a, b, r;
	avx_check(c);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, false);
	const union xmmreg *src[4] = {&a.x[0], &a.x[1], &b.x[0], &b.x[1]};
	for (unsigned l = 0; l < 2; l++) {
		unsigned k = imm >> (4 * l);
		if (k & 8)
			memset(&r.x[l], 0, 16);
		else
			r.x[l] = *src[k & 3];
	}
	vec_wr(c, d, 0, &r, false);
}

/* VPERMD VPERMPS: dword i of the result is src2's dword src1[i] & 7 */
void h_vpermd(struct emu_cpu *c, const struct dinsn *d)
{
	union ymmreg a, b, r;
	avx_check(c);
	vec_src1(c, d, &a);
	vec_src2(c, d, &b, false);
	for (unsigned i = 0; i < 8; i++)
		r.d[i] = b.d[a.d[i] & 7];
	vec_wr(c, d, 0, &r, false);
}

/* VPERMQ VPERMPD: qword i of the result is the source's imm[2i+1:2i] */
void h_vpermq(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned imm = (unsigned)(d->imm & 0xff);
	union ymmreg s, r;
	avx_check(c);
	vec_rd(c, d, 1, &s, false);
	for (unsigned i = 0; i < 4; i++)
		r.q[i] = s.q[(imm >> (2 * i)) & 3];
	vec_wr(c, d, 0, &r, false);
}

/* VPERMILPS (arg 4), VPERMILPD (arg 8): elements picked within each lane,
 * by the immediate or by a control vector (src2) */
void h_vpermil(struct emu_cpu *c, const struct dinsn *d)
{
	unsigned W = vec_width(d), es = (unsigned)insn_arg(d);
	union ymmreg s, k, r;
	avx_check(c);
	bool by_imm = d->op[2].kind == DOP_IMM;
	if (by_imm) {
		vec_rd(c, d, 1, &s, false);
	} else {
		vec_src1(c, d, &s);
		vec_src2(c, d, &k, false);
	}
	unsigned imm = (unsigned)(d->imm & 0xff);
	for (unsigned i = 0; i < W / es; i++) {
		if (es == 4) {
			unsigned sel = by_imm ? (imm >> (2 * (i & 3))) & 3 : k.d[i] & 3;
			r.d[i] = s.d[(i & ~3u) + sel];
		} else {
			unsigned sel = by_imm ? (imm >> i) & 1 : (k.q[i] >> 1) & 1;
			r.q[i] = s.q[(i & ~1u) + sel];
		}
	}
	if (W == 16)
		memset(&r.x[1], 0, 16);
	vec_wr(c, d, 0, &r, false);
}
