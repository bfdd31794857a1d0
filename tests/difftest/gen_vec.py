# SPDX-License-Identifier: MIT
"""Differential instruction tester: the generators of the instruction-set
extension classes (x86-64-v2 and -v3, AES-NI, PCLMULQDQ, XSAVE), on top of
gen.py's (same conventions: R15 is the scratch page, memory operands
inside it, loads from the value slots of the FPU layout, stores above
STORE_LO). Every class here loads and compares YMM0-15 (REC_AVX), so a
legacy SSE instruction that touched bits 255:128 would show.

  sse3    ADDSUB, HADD/HSUB, MOVDDUP/MOVSHDUP/MOVSLDUP, LDDQU; VEX forms
  ssse3   PABS PSIGN PHADD PHSUB PMADDUBSW PMULHRSW PSHUFB PALIGNR on MMX,
          XMM and (VEX) YMM registers
  sse41   SSE4.1 integer and float (PMIN/PMAX, PMULLD/PMULDQ, PMOVSX/ZX,
          blends, PTEST, PEXTR/PINSR, INSERTPS/EXTRACTPS, PHMINPOSUW,
          MPSADBW, ROUND, DPPS/DPPD, MOVNTDQA); VEX forms
  sse42   PCMPESTRI/M, PCMPISTRI/M over every immediate, lengths in
          EAX/EDX, PCMPGTQ, CRC32, POPCNT
  crypto  AESENC/DEC(LAST), AESIMC, AESKEYGENASSIST, PCLMULQDQ; VEX.128
  avx     VEX float arithmetic (128/256), VCMP's 32 predicates,
          conversions, moves, VZEROUPPER/ALL, shuffles, blends,
          broadcasts, 128-bit inserts/extracts/permutes, VPERMILPS/PD,
          masked moves, VTESTPS/PD, VPTEST
  avx2    256-bit integer operations, VPERMD/Q/PS/PD, VPBROADCAST*,
          per-element shifts, VPBLENDD, VPMASKMOV, gathers
  fma     every FMA form (132/213/231, PS/PD/SS/SD, ADDSUB/SUBADD),
          register and memory, and F16C's conversions
  xsave   XSAVE/XSAVEOPT/XSAVEC/XRSTOR (standard and compacted, 32/64-bit
          x87 layouts) over x87, SSE and AVX state, XGETBV
  bmi     LZCNT TZCNT POPCNT, BMI1, BMI2, ADCX/ADOX, MOVBE, CLFLUSHOPT,
          CLWB, and
          RD/WRFSBASE, RD/WRGSBASE (each write undone in the same unit:
          the native runner's FS base is its thread pointer)
"""
import struct

import gen
from gen import (ARITH, AF, CF, OF, PF, SF, SLOTS, STORE_LO, SUFFIX, ZF, Unit, modest_double,
                 modest_float, reg)

FP_CLASSES = {"sse3", "sse41", "avx", "fma"}


class GenVec(gen.GenFP):
    def init_state(self):
        super().init_state()
        rng, t = self.rng, self.t
        if t.cls in FP_CLASSES:
            self.xkind = []
            for x in range(16):
                k = rng.choice("df")
                self.xkind.append(k)
                for half, arr in ((0, t.xmm), (1, t.ymmh)):
                    if k == "d":
                        arr[2 * x] = modest_double(rng, 0.08)
                        arr[2 * x + 1] = modest_double(rng, 0.08)
                    else:
                        f = [modest_float(rng, 0.08) for _ in range(4)]
                        arr[2 * x] = f[0] | f[1] << 32
                        arr[2 * x + 1] = f[2] | f[3] << 32
            if rng.random() < 0.4:
                t.mxcsr = 0x1f80 | rng.randrange(4) << 13
            if rng.random() < 0.1:
                t.mxcsr |= rng.choice([0x8000, 0x40, 0x8040])  # FZ, DAZ
        elif t.cls == "bmi":
            self.xkind = ["i"] * 16

    # ---- operands ----
    def xn(self, kind=None, exclude=()):
        if kind and getattr(self, "xkind", None) and self.rng.random() < 0.85:
            c = [i for i in range(16) if self.xkind[i] == kind and i not in exclude]
            if c:
                return self.rng.choice(c)
        return self.rng.choice([i for i in range(16) if i not in exclude])

    def v(self, w, kind=None, exclude=()):
        """A vector register of w bytes (8: MMX, 16: XMM, 32: YMM)."""
        if w == 8:
            return "%%mm%d" % self.rng.randrange(8)
        return "%%%smm%d" % ("y" if w == 32 else "x", self.xn(kind, exclude))

    def vsrc(self, w, kind=None, align=True, mem_prob=0.3):
        """A register or memory source of w bytes (a value slot of kind)."""
        if self.rng.random() < mem_prob:
            if kind in ("d", "f") and w <= 16:
                return self.slot(kind, w)
            if w == 32:
                s = self.rng.randrange(0, SLOTS - 1)
                return "%d(%%r15)" % (16 * s)
            return self.mem(w, align=w if align else 1, hi=STORE_LO)[0]
        return self.v(w, kind)

    def msrc(self, size):
        """A memory source of size bytes (any alignment) in the value slots."""
        return self.mem(size, hi=STORE_LO)[0]

    def setk(self, dst, k):
        if getattr(self, "xkind", None) and dst.startswith(("%xmm", "%ymm")):
            self.xkind[int(dst[4:])] = k

    def emit(self, mnem, lines, defined=0, undefined=0):
        self.add(Unit(mnem, lines if isinstance(lines, list) else [lines]),
                 defined=defined, undefined=undefined)

    def w(self, vex_prob=0.35, y_prob=0.5):
        """(vex, width) for a form with legacy, VEX.128 and VEX.256 variants."""
        if self.rng.random() < vex_prob:
            return True, 32 if self.rng.random() < y_prob else 16
        return False, 16

    def binop(self, op, vex, w, kind=None, imm=None, align=True, legacy_mmx=False):
        """op src2, src1, dst (VEX) or op src, dst (legacy)."""
        i = "$%d, " % imm if imm is not None else ""
        if vex:
            line = "v%s %s%s, %s, %s" % (op, i, self.vsrc(w, kind, align=False), self.v(w, kind),
                                          self.v(w, kind))
        else:
            ww = 8 if legacy_mmx else w
            line = "%s %s%s, %s" % (op, i, self.vsrc(ww, kind, align=align), self.v(ww, kind))
        self.emit(op, line)

    def unop(self, op, vex, w, kind=None, imm=None, align=True, src_w=None):
        i = "$%d, " % imm if imm is not None else ""
        sw = src_w or w
        p = "v" if vex else ""
        self.emit(op, "%s%s %s%s, %s" % (p, op, i, self.vsrc(sw, kind, align=align and not vex),
                                          self.v(w, kind)))

    # ---- SSE3 ----
    def u_sse3(self):
        rng = self.rng
        vex, w = self.w()
        r = rng.random()
        k = rng.choice("df")
        if r < 0.5:
            op = rng.choice(["addsub", "hadd", "hsub"]) + "p" + ("d" if k == "d" else "s")
            self.binop(op, vex, w, k)
        elif r < 0.8:
            op = rng.choice(["movddup", "movshdup", "movsldup"])
            if op == "movddup" and w == 16 and rng.random() < 0.3:
                src = self.slot("d", 8)
            else:
                src = self.vsrc(w, None, align=not vex)
            self.emit(op, "%s%s %s, %s" % ("v" if vex else "", op, src, self.v(w)))
        else:
            self.emit("lddqu", "%slddqu %s, %s" % ("v" if vex else "", self.msrc(w), self.v(w)))

    # ---- SSSE3 ----
    SSSE3_BIN = ["psignb", "psignw", "psignd", "phaddw", "phaddd", "phaddsw", "phsubw", "phsubd",
                 "phsubsw", "pmaddubsw", "pmulhrsw", "pshufb"]

    def u_ssse3(self):
        rng = self.rng
        mmx = rng.random() < 0.2
        vex, w = (False, 8) if mmx else self.w()
        r = rng.random()
        if r < 0.6:
            op = rng.choice(self.SSSE3_BIN)
            if mmx:
                self.emit(op, "%s %s, %s" % (op, self.vsrc(8), self.v(8)))
            else:
                self.binop(op, vex, w)
        elif r < 0.8:
            op = rng.choice(["pabsb", "pabsw", "pabsd"])
            if mmx:
                self.emit(op, "%s %s, %s" % (op, self.vsrc(8), self.v(8)))
            else:
                self.unop(op, vex, w)
        else:
            imm = rng.choice([rng.randrange(0, 33), rng.randrange(256)])
            if mmx:
                self.emit("palignr", "palignr $%d, %s, %s" % (imm, self.vsrc(8), self.v(8)))
            else:
                self.binop("palignr", vex, w, imm=imm)

    # ---- SSE4.1 ----
    S41_BIN = ["pminsb", "pminsd", "pminuw", "pminud", "pmaxsb", "pmaxsd", "pmaxuw", "pmaxud",
               "pmulld", "pmuldq", "pcmpeqq", "packusdw"]
    PMOVX = [("bw", 8), ("bd", 4), ("bq", 2), ("wd", 8), ("wq", 4), ("dq", 8)]

    def u_sse41(self):
        rng = self.rng
        vex, w = self.w()
        r = rng.random()
        if r < 0.22:
            self.binop(rng.choice(self.S41_BIN), vex, w)
        elif r < 0.32:
            s, n = rng.choice(self.PMOVX)
            op = "pmov%sx%s" % (rng.choice("sz"), s)
            srcw = {"bw": w // 2, "bd": w // 4, "bq": w // 8, "wd": w // 2, "wq": w // 4,
                    "dq": w // 2}[s]
            src = self.msrc(srcw) if rng.random() < 0.3 else self.v(16)
            self.emit(op, "%s%s %s, %s" % ("v" if vex else "", op, src, self.v(w)))
        elif r < 0.42:
            op = rng.choice(["pblendw", "blendps", "blendpd"] + (["pblendd"] if vex else []))
            if op == "pblendd":
                self.emit(op, "vpblendd $%d, %s, %s, %s" % (rng.randrange(256), self.vsrc(w),
                                                           self.v(w), self.v(w)))
            else:
                self.binop(op, vex, w, imm=rng.randrange(256))
        elif r < 0.5:
            op = rng.choice(["pblendvb", "blendvps", "blendvpd"])
            if vex:
                self.emit(op, "v%s %s, %s, %s, %s" % (op, self.v(w), self.vsrc(w), self.v(w),
                                                      self.v(w)))
            else:
                self.emit(op, "%s %%xmm0, %s, %s" % (op, self.vsrc(16), self.v(16)))
        elif r < 0.56:
            op = "ptest"
            self.emit(op, "%sptest %s, %s" % ("v" if vex else "", self.vsrc(w, align=not vex),
                                              self.v(w)), defined=ARITH)
        elif r < 0.66:
            es, op = rng.choice([(1, "pextrb"), (2, "pextrw"), (4, "pextrd"), (8, "pextrq"),
                                 (4, "extractps")])
            imm = rng.randrange(256)
            if rng.random() < 0.4:
                dst = self.store(es)
            else:
                dst = reg(self.rreg(), 64 if es == 8 else 32)
            self.emit(op, "%s%s $%d, %s, %s" % ("v" if vex else "", op, imm, self.v(16), dst))
        elif r < 0.76:
            es, op = rng.choice([(1, "pinsrb"), (2, "pinsrw"), (4, "pinsrd"), (8, "pinsrq"),
                                 (4, "insertps")])
            imm = rng.randrange(256)
            if op == "insertps":
                src = self.msrc(4) if rng.random() < 0.3 else self.v(16)
            elif rng.random() < 0.4:
                src = self.msrc(es)
            else:
                src = reg(self.rreg(), 64 if es == 8 else 32)
            if vex:
                self.emit(op, "v%s $%d, %s, %s, %s" % (op, imm, src, self.v(16), self.v(16)))
            else:
                self.emit(op, "%s $%d, %s, %s" % (op, imm, src, self.v(16)))
        elif r < 0.82:
            op = rng.choice(["phminposuw", "mpsadbw"])
            if op == "phminposuw":
                self.unop(op, vex, 16)
            else:
                self.binop(op, vex, w, imm=rng.randrange(256))
        elif r < 0.92:
            k = rng.choice("df")
            p = "d" if k == "d" else "s"
            op = rng.choice(["roundp" + p, "rounds" + p, "dpp" + p])
            imm = rng.randrange(16) if op.startswith("round") else rng.randrange(256)
            ww = 16 if op in ("dppd",) or op.startswith("rounds") else w
            if op.startswith("rounds"):
                esz = 8 if k == "d" else 4
                src = self.slot(k, esz) if rng.random() < 0.3 else self.v(16, k)
                if vex:
                    self.emit(op, "v%s $%d, %s, %s, %s" % (op, imm, src, self.v(16, k),
                                                           self.v(16, k)))
                else:
                    self.emit(op, "%s $%d, %s, %s" % (op, imm, src, self.v(16, k)))
            elif op.startswith("round"):
                self.unop(op, vex, ww, k, imm=imm)
            else:
                self.binop(op, vex, ww, k, imm=imm)
        else:
            self.emit("movntdqa", "%smovntdqa %s, %s" % (
                "v" if vex else "", self.mem(w, align=w, hi=STORE_LO)[0], self.v(w)))

    # ---- SSE4.2, POPCNT ----
    def u_sse42(self):
        rng = self.rng
        r = rng.random()
        if r < 0.6:
            op = rng.choice(["pcmpestri", "pcmpestrm", "pcmpistri", "pcmpistrm"])
            vex = rng.random() < 0.3
            imm = rng.randrange(128)
            setup = []
            if "pcmpe" in op:
                for rr in ("eax", "edx"):
                    v = rng.choice([rng.randrange(-20, 21), rng.randrange(0, 17),
                                    rng.getrandbits(32) - (1 << 31)])
                    setup.append("movl $%d, %%%s" % (v, rr))
            if rng.random() < 0.5:
                # a zero element for the implicit-length forms
                z = self.rreg(exclude=(0, 2))
                setup += ["xorl %s, %s" % (reg(z, 32), reg(z, 32)),
                          "pinsrw $%d, %s, %%xmm%d" % (rng.randrange(8), reg(z, 32), self.xn())]
            src = self.msrc(16) if rng.random() < 0.3 else self.v(16)
            line = "%s%s $%d, %s, %s" % ("v" if vex else "", op, imm, src, self.v(16))
            self.emit(op, setup + [line], defined=ARITH)
        elif r < 0.7:
            vex, w = self.w()
            self.binop("pcmpgtq", vex, w)
        elif r < 0.9:
            bits = rng.choice([8, 16, 32, 64])
            dbits = 64 if bits == 64 else 32
            src = self.rm(bits, [], mem_prob=0.3)
            self.emit("crc32", "crc32%s %s, %s" % (SUFFIX[bits], src, reg(self.rreg(), dbits)))
        else:
            bits = rng.choice([16, 32, 64])
            setup = []
            src = self.rm(bits, setup)
            self.emit("popcnt", setup + ["popcnt%s %s, %s" % (SUFFIX[bits], src,
                                                               reg(self.rreg(), bits))],
                      defined=ARITH)

    # ---- AES-NI, PCLMULQDQ ----
    def u_crypto(self):
        rng = self.rng
        vex = rng.random() < 0.35
        r = rng.random()
        if r < 0.55:
            op = rng.choice(["aesenc", "aesenclast", "aesdec", "aesdeclast"])
            self.binop(op, vex, 16)
        elif r < 0.65:
            self.unop("aesimc", vex, 16)
        elif r < 0.75:
            self.unop("aeskeygenassist", vex, 16, imm=rng.randrange(256))
        else:
            self.binop("pclmulqdq", vex, 16, imm=rng.choice([0, 1, 0x10, 0x11,
                                                             rng.randrange(256)]))

    # ---- AVX: float and moves ----
    AVX_ARITH = ["add", "sub", "mul", "div", "min", "max"]

    def u_avx(self):
        rng = self.rng
        w = 32 if rng.random() < 0.6 else 16
        k = rng.choice("df")
        p = "d" if k == "d" else "s"
        esz = 8 if k == "d" else 4
        r = rng.random()
        X = lambda kk=None, ww=w: self.v(ww, kk)
        if r < 0.25:
            op = rng.choice(self.AVX_ARITH + ["sqrt", "addsub", "hadd", "hsub"])
            scalar = op in self.AVX_ARITH + ["sqrt"] and rng.random() < 0.4
            if scalar:
                mn = "v%ss%s" % (op, p)
                src = self.slot(k, esz) if rng.random() < 0.3 else X(k, 16)
                self.emit(mn, "%s %s, %s, %s" % (mn, src, X(k, 16), X(k, 16)))
            elif op == "sqrt":
                mn = "vsqrtp" + p
                self.emit(mn, "%s %s, %s" % (mn, self.vsrc(w, k, align=False), X(k)))
            else:
                mn = "v%sp%s" % (op, p)
                self.emit(mn, "%s %s, %s, %s" % (mn, self.vsrc(w, k, align=False), X(k), X(k)))
        elif r < 0.33:
            scalar = rng.random() < 0.3
            mn = "vcmp%s%s" % ("s" if scalar else "p", p)
            ww = 16 if scalar else w
            src = (self.slot(k, esz) if scalar else self.vsrc(w, k, align=False)) \
                if rng.random() < 0.3 else X(k, ww)
            self.emit(mn, "%s $%d, %s, %s, %s" % (mn, rng.randrange(32), src, X(k, ww), X(k, ww)))
        elif r < 0.38:
            mn = rng.choice(["vrcpps", "vrsqrtps", "vrcpss", "vrsqrtss"])
            if mn.endswith("ss"):
                self.emit(mn, "%s %s, %s, %s" % (mn, X("f", 16), X("f", 16), X("f", 16)))
            else:
                self.emit(mn, "%s %s, %s" % (mn, self.vsrc(w, "f", align=False), X("f")))
        elif r < 0.46:
            mn = rng.choice(["vroundp" + p, "vrounds" + p, "vdpps"])
            imm = rng.randrange(16) if "round" in mn else rng.randrange(256)
            if mn.startswith("vrounds"):
                self.emit(mn, "%s $%d, %s, %s, %s" % (mn, imm, X(k, 16), X(k, 16), X(k, 16)))
            elif mn == "vdpps":
                self.emit(mn, "vdpps $%d, %s, %s, %s" % (imm, self.vsrc(w, "f", align=False),
                                                        X("f"), X("f")))
            else:
                self.emit(mn, "%s $%d, %s, %s" % (mn, imm, self.vsrc(w, k, align=False), X(k)))
        elif r < 0.56:
            f = rng.random()
            if f < 0.3:
                mn, sk, dk, sw, dw = rng.choice([
                    ("vcvtdq2ps", None, "f", w, w), ("vcvtps2dq", "f", None, w, w),
                    ("vcvttps2dq", "f", None, w, w), ("vcvtps2pd", "f", "d", w // 2, w),
                    ("vcvtdq2pd", None, "d", w // 2, w)])
                src = self.v(max(sw, 16), sk) if sw >= 16 or rng.random() < 0.6 else \
                    self.slot(sk or "i", sw) if sk else self.msrc(sw)
                dst = X(dk, dw)
                self.setk(dst, dk or "f")
                self.emit(mn, "%s %s, %s" % (mn, src, dst))
            elif f < 0.5:
                mn = rng.choice(["vcvtpd2ps", "vcvtpd2dq", "vcvttpd2dq"])
                sfx = "y" if w == 32 else "x"
                src = X("d", w)
                dst = X(None, 16)
                self.setk(dst, "f" if mn == "vcvtpd2ps" else "f")
                self.emit(mn, "%s%s %s, %s" % (mn, sfx, src, dst))
            elif f < 0.7:
                bits = rng.choice([32, 64])
                mn = "vcvtsi2s" + p
                src = reg(self.rreg(), bits) if rng.random() < 0.7 else self.slot("i", bits // 8)
                dst = X(None, 16)
                self.setk(dst, k)
                self.emit(mn, "%s%s %s, %s, %s" % (mn, SUFFIX[bits], src, X(k, 16), dst))
            elif f < 0.85:
                bits = rng.choice([32, 64])
                mn = rng.choice(["vcvts", "vcvtts"]) + p + "2si"
                src = X(k, 16) if rng.random() < 0.7 else self.slot(k, esz)
                self.emit(mn, "%s %s, %s" % (mn, src, reg(self.rreg(), bits)))
            else:
                mn = rng.choice(["vcvtss2sd", "vcvtsd2ss"])
                sk = "f" if mn == "vcvtss2sd" else "d"
                dst = X(None, 16)
                self.setk(dst, "d" if sk == "f" else "f")
                self.emit(mn, "%s %s, %s, %s" % (mn, X(sk, 16), X(None, 16), dst))
        elif r < 0.6:
            mn = rng.choice(["vcomis", "vucomis"]) + p
            src = X(k, 16) if rng.random() < 0.7 else self.slot(k, esz)
            self.emit(mn, "%s %s, %s" % (mn, src, X(k, 16)), defined=ARITH)
        elif r < 0.72:
            f = rng.random()
            if f < 0.3:
                mn = rng.choice(["vmovaps", "vmovapd", "vmovdqa", "vmovups", "vmovupd", "vmovdqu"])
                al = w if "a" in mn[4:6] else 1
                g = rng.random()
                if g < 0.35:
                    line = "%s %s, %s" % (mn, self.mem(w, align=al, hi=STORE_LO)[0], X())
                elif g < 0.65:
                    line = "%s %s, %s" % (mn, X(), self.store(w, align=al))
                else:
                    line = "%s %s, %s" % (mn, X(), X())
            elif f < 0.5:
                mn = "vmovs" + p
                g = rng.random()
                if g < 0.3:
                    line = "%s %s, %s" % (mn, self.slot(k, esz), X(k, 16))
                elif g < 0.5:
                    line = "%s %s, %s" % (mn, X(k, 16), self.store(esz))
                else:
                    line = "%s %s, %s, %s" % (mn, X(k, 16), X(k, 16), X(k, 16))
            elif f < 0.65:
                mn = rng.choice(["vmovlps", "vmovhps", "vmovlpd", "vmovhpd"])
                if rng.random() < 0.5:
                    line = "%s %s, %s, %s" % (mn, self.msrc(8), X(None, 16), X(None, 16))
                else:
                    line = "%s %s, %s" % (mn, X(None, 16), self.store(8))
            elif f < 0.75:
                mn = rng.choice(["vmovhlps", "vmovlhps"])
                line = "%s %s, %s, %s" % (mn, X(None, 16), X(None, 16), X(None, 16))
            elif f < 0.85:
                mn = rng.choice(["vmovd", "vmovq"])
                bits = 32 if mn == "vmovd" else 64
                g = rng.random()
                if g < 0.3:
                    line = "%s %s, %s" % (mn, reg(self.rreg(), bits), X(None, 16))
                elif g < 0.6:
                    line = "%s %s, %s" % (mn, X(None, 16), reg(self.rreg(), bits))
                elif g < 0.8:
                    line = "%s %s, %s" % (mn, self.msrc(bits // 8), X(None, 16))
                else:
                    line = "%s %s, %s" % (mn, X(None, 16), self.store(bits // 8))
            else:
                mn = rng.choice(["vmovmskps", "vmovmskpd"])
                line = "%s %s, %s" % (mn, X(), reg(self.rreg(), 32))
            self.emit(mn, line)
        elif r < 0.75:
            mn = rng.choice(["vzeroupper", "vzeroall"] if rng.random() < 0.3 else ["vzeroupper"])
            self.emit(mn, mn)
        elif r < 0.85:
            f = rng.random()
            if f < 0.3:
                mn = rng.choice(["vshufps", "vshufpd"])
                self.emit(mn, "%s $%d, %s, %s, %s" % (mn, rng.randrange(256), self.vsrc(w, align=False),
                                                      X(), X()))
            elif f < 0.5:
                mn = rng.choice(["vunpcklps", "vunpckhps", "vunpcklpd", "vunpckhpd", "vandps",
                                 "vandnpd", "vorps", "vxorpd"])
                self.emit(mn, "%s %s, %s, %s" % (mn, self.vsrc(w, align=False), X(), X()))
            elif f < 0.7:
                mn = rng.choice(["vblendps", "vblendpd"])
                self.emit(mn, "%s $%d, %s, %s, %s" % (mn, rng.randrange(256), self.vsrc(w, align=False),
                                                      X(), X()))
            else:
                mn = rng.choice(["vblendvps", "vblendvpd"])
                self.emit(mn, "%s %s, %s, %s, %s" % (mn, X(), self.vsrc(w, align=False), X(), X()))
        elif r < 0.95:
            f = rng.random()
            if f < 0.2:
                mn = rng.choice(["vbroadcastss", "vbroadcastsd", "vbroadcastf128"])
                if mn == "vbroadcastss":
                    ww = w
                    src = self.msrc(4)
                elif mn == "vbroadcastsd":
                    ww, src = 32, self.msrc(8)
                else:
                    ww, src = 32, self.msrc(16)
                line = "%s %s, %s" % (mn, src, X(None, ww))
            elif f < 0.4:
                if rng.random() < 0.5:
                    mn = "vinsertf128"
                    src = self.msrc(16) if rng.random() < 0.3 else X(None, 16)
                    line = "vinsertf128 $%d, %s, %s, %s" % (rng.randrange(2), src, X(None, 32),
                                                            X(None, 32))
                else:
                    mn = "vextractf128"
                    dst = self.store(16) if rng.random() < 0.3 else X(None, 16)
                    line = "vextractf128 $%d, %s, %s" % (rng.randrange(2), X(None, 32), dst)
            elif f < 0.55:
                mn = "vperm2f128"
                line = "vperm2f128 $%d, %s, %s, %s" % (rng.randrange(256), self.vsrc(32, align=False),
                                                       X(None, 32), X(None, 32))
            elif f < 0.75:
                mn = rng.choice(["vpermilps", "vpermilpd"])
                if rng.random() < 0.5:
                    line = "%s $%d, %s, %s" % (mn, rng.randrange(256), self.vsrc(w, align=False), X())
                else:
                    line = "%s %s, %s, %s" % (mn, self.vsrc(w, align=False), X(), X())
            else:
                mn = rng.choice(["vmaskmovps", "vmaskmovpd"])
                if rng.random() < 0.5:
                    line = "%s %s, %s, %s" % (mn, self.msrc(w), X(), X())
                else:
                    line = "%s %s, %s, %s" % (mn, X(), X(), self.store(w))
            self.emit(mn, line)
        else:
            mn = rng.choice(["vtestps", "vtestpd", "vptest"])
            self.emit(mn, "%s %s, %s" % (mn, self.vsrc(w, align=False), X()), defined=ARITH)

    # ---- AVX2: integer ----
    AVX2_BIN = ["vpaddb", "vpaddw", "vpaddd", "vpaddq", "vpsubb", "vpsubw", "vpsubd", "vpsubq",
                "vpaddsb", "vpaddsw", "vpaddusb", "vpaddusw", "vpsubsb", "vpsubsw", "vpsubusb",
                "vpsubusw", "vpmullw", "vpmulhw", "vpmulhuw", "vpmuludq", "vpmaddwd", "vpand",
                "vpandn", "vpor", "vpxor", "vpcmpeqb", "vpcmpeqw", "vpcmpeqd", "vpcmpeqq",
                "vpcmpgtb", "vpcmpgtw", "vpcmpgtd", "vpcmpgtq", "vpunpcklbw", "vpunpcklwd",
                "vpunpckldq", "vpunpcklqdq", "vpunpckhbw", "vpunpckhwd", "vpunpckhdq",
                "vpunpckhqdq", "vpacksswb", "vpackssdw", "vpackuswb", "vpackusdw", "vpavgb",
                "vpavgw", "vpminub", "vpmaxub", "vpminsw", "vpmaxsw", "vpsadbw", "vpminsb",
                "vpminsd", "vpminuw", "vpminud", "vpmaxsb", "vpmaxsd", "vpmaxuw", "vpmaxud",
                "vpmulld", "vpmuldq", "vpshufb", "vpsignb", "vpsignw", "vpsignd", "vphaddw",
                "vphaddd", "vphaddsw", "vphsubw", "vphsubd", "vphsubsw", "vpmaddubsw",
                "vpmulhrsw", "vpsllvd", "vpsllvq", "vpsrlvd", "vpsrlvq", "vpsravd"]
    SHIFTS = ["vpsllw", "vpslld", "vpsllq", "vpsrlw", "vpsrld", "vpsrlq", "vpsraw", "vpsrad"]

    def gather(self):
        """A gather unit: indices built in the store area, then loaded."""
        rng = self.rng
        mn, ixs, es = rng.choice([("vgatherdps", 4, 4), ("vgatherdpd", 4, 8),
                                  ("vgatherqps", 8, 4), ("vgatherqpd", 8, 8),
                                  ("vpgatherdd", 4, 4), ("vpgatherdq", 4, 8),
                                  ("vpgatherqd", 8, 4), ("vpgatherqq", 8, 8)])
        l256 = rng.random() < 0.6
        n = (32 if l256 else 16) // max(ixs, es)
        iw = 32 if (ixs == 4 and es == 4 and l256) or (ixs == 8 and l256) else 16
        dw = 32 if (es == 8 and l256) or (es == 4 and ixs == 4 and l256) else 16
        scale = rng.choice([1, 2, 4, 8])
        regs = rng.sample(range(16), 3)
        d, ix, mk = regs
        off = rng.randrange(STORE_LO, 4096 - 64, 32)
        setup = []
        for i in range(iw // ixs):
            v = rng.randrange(-100, 100)
            if ixs == 4:
                setup.append("movl $%d, %d(%%r15)" % (v, off + 4 * i))
            else:
                setup.append("movq $%d, %d(%%r15)" % (v, off + 8 * i))
        setup.append("vmovdqu %d(%%r15), %%%smm%d" % (off, "y" if iw == 32 else "x", ix))
        if rng.random() < 0.3:
            setup.append("vpcmpeqd %%ymm%d, %%ymm%d, %%ymm%d" % (mk, mk, mk))
        line = "%s %%%smm%d, 1024(%%r15,%%%smm%d,%d), %%%smm%d" % (
            mn, "y" if dw == 32 else "x", mk, "y" if iw == 32 else "x", ix, scale,
            "y" if dw == 32 else "x", d)
        self.emit(mn, setup + [line])

    def u_avx2(self):
        rng = self.rng
        w = 32 if rng.random() < 0.8 else 16
        r = rng.random()
        X = lambda ww=w: self.v(ww)
        if r < 0.4:
            mn = rng.choice(self.AVX2_BIN)
            self.emit(mn, "%s %s, %s, %s" % (mn, self.vsrc(w, align=False), X(), X()))
        elif r < 0.5:
            mn = rng.choice(self.SHIFTS + ["vpslldq", "vpsrldq"])
            if mn.endswith("dq") or rng.random() < 0.5:
                c = rng.randrange(0, 20) if mn.endswith("dq") else rng.randrange(0, 70)
                line = "%s $%d, %s, %s" % (mn, c, X(), X())
                self.emit(mn, line)
            else:
                c = rng.choice([rng.randrange(0, 70), rng.getrandbits(64)])
                xc = self.xn()
                self.emit(mn, ["movabsq $%d, %%rax" % c, "vmovq %%rax, %%xmm%d" % xc,
                               "%s %%xmm%d, %s, %s" % (mn, xc, X(), X())])
        elif r < 0.58:
            mn = rng.choice(["vpshufd", "vpshuflw", "vpshufhw", "vpalignr", "vmpsadbw",
                             "vpblendw", "vpblendd"])
            if mn in ("vpalignr", "vmpsadbw", "vpblendw", "vpblendd"):
                self.emit(mn, "%s $%d, %s, %s, %s" % (mn, rng.randrange(256), self.vsrc(w, align=False),
                                                      X(), X()))
            else:
                self.emit(mn, "%s $%d, %s, %s" % (mn, rng.randrange(256), self.vsrc(w, align=False),
                                                  X()))
        elif r < 0.64:
            s, n = rng.choice(self.PMOVX)
            mn = "vpmov%sx%s" % (rng.choice("sz"), s)
            srcw = {"bw": w // 2, "bd": w // 4, "bq": w // 8, "wd": w // 2, "wq": w // 4,
                    "dq": w // 2}[s]
            src = self.msrc(srcw) if rng.random() < 0.3 else self.v(16)
            self.emit(mn, "%s %s, %s" % (mn, src, X()))
        elif r < 0.7:
            mn = rng.choice(["vpabsb", "vpabsw", "vpabsd", "vpmovmskb"])
            if mn == "vpmovmskb":
                self.emit(mn, "vpmovmskb %s, %s" % (X(), reg(self.rreg(), 32)))
            else:
                self.emit(mn, "%s %s, %s" % (mn, self.vsrc(w, align=False), X()))
        elif r < 0.8:
            f = rng.random()
            if f < 0.3:
                mn = rng.choice(["vpbroadcastb", "vpbroadcastw", "vpbroadcastd", "vpbroadcastq",
                                 "vbroadcastss", "vbroadcastsd"])
                es = {"b": 1, "w": 2, "d": 4, "q": 8, "s": 4}[mn[-1]] if mn != "vbroadcastsd" else 8
                ww = 32 if mn == "vbroadcastsd" else w
                src = self.msrc(es) if rng.random() < 0.3 else self.v(16)
                line = "%s %s, %s" % (mn, src, X(ww))
            elif f < 0.45:
                mn = rng.choice(["vpermd", "vpermps"])
                line = "%s %s, %s, %s" % (mn, self.vsrc(32, align=False), X(32), X(32))
            elif f < 0.6:
                mn = rng.choice(["vpermq", "vpermpd"])
                line = "%s $%d, %s, %s" % (mn, rng.randrange(256), self.vsrc(32, align=False), X(32))
            elif f < 0.7:
                mn = "vperm2i128"
                line = "vperm2i128 $%d, %s, %s, %s" % (rng.randrange(256), self.vsrc(32, align=False),
                                                       X(32), X(32))
            elif f < 0.85:
                if rng.random() < 0.5:
                    mn = "vinserti128"
                    src = self.msrc(16) if rng.random() < 0.3 else X(16)
                    line = "vinserti128 $%d, %s, %s, %s" % (rng.randrange(2), src, X(32), X(32))
                else:
                    mn = "vextracti128"
                    dst = self.store(16) if rng.random() < 0.3 else X(16)
                    line = "vextracti128 $%d, %s, %s" % (rng.randrange(2), X(32), dst)
            else:
                mn = "vbroadcasti128"
                line = "vbroadcasti128 %s, %s" % (self.msrc(16), X(32))
            self.emit(mn, line)
        elif r < 0.87:
            mn = rng.choice(["vpmaskmovd", "vpmaskmovq"])
            if rng.random() < 0.5:
                line = "%s %s, %s, %s" % (mn, self.msrc(w), X(), X())
            else:
                line = "%s %s, %s, %s" % (mn, X(), X(), self.store(w))
            self.emit(mn, line)
        elif r < 0.95:
            self.gather()
        else:
            mn = rng.choice(["vpblendvb"])
            self.emit(mn, "%s %s, %s, %s, %s" % (mn, X(), self.vsrc(w, align=False), X(), X()))

    # ---- FMA, F16C ----
    def u_fma(self):
        rng = self.rng
        if rng.random() < 0.15:
            w = rng.choice([16, 32])
            if rng.random() < 0.5:
                mn = "vcvtph2ps"
                src = self.msrc(w // 2) if rng.random() < 0.3 else self.v(16)
                dst = self.v(w)
                self.setk(dst, "f")
                self.emit(mn, "%s %s, %s" % (mn, src, dst))
            else:
                mn = "vcvtps2ph"
                dst = self.store(w // 2) if rng.random() < 0.3 else self.v(16)
                self.emit(mn, "%s $%d, %s, %s" % (mn, rng.randrange(8), self.v(w, "f"), dst))
            return
        k = rng.choice("df")
        p = "d" if k == "d" else "s"
        kind = rng.choice(["fmadd", "fmsub", "fnmadd", "fnmsub", "fmaddsub", "fmsubadd"])
        order = rng.choice(["132", "213", "231"])
        scalar = kind not in ("fmaddsub", "fmsubadd") and rng.random() < 0.35
        mn = "v%s%s%s%s" % (kind, order, "s" if scalar else "p", p)
        w = 16 if scalar else rng.choice([16, 32])
        if rng.random() < 0.3:
            src = self.slot(k, 8 if k == "d" else 4) if scalar else self.vsrc(w, k, align=False,
                                                                             mem_prob=1.0)
        else:
            src = self.v(w, k)
        self.emit(mn, "%s %s, %s, %s" % (mn, src, self.v(w, k), self.v(w, k)))

    # ---- XSAVE ----
    def u_xsave(self):
        rng = self.rng
        t = self.t
        if not t.units:
            # the x87 in use for good (a non-default control word): every
            # implementation then saves it, whatever its XINUSE tracking
            o = self.store(2, align=2)
            self.emit("fldcw", ["movw $0x27f, %s" % o, "fldcw %s" % o])
        r = rng.random()
        area = rng.randrange(STORE_LO, 4096 - 832 + 1, 64)
        rfbm = rng.choice([7, 7, 3, 1, 2, 4, 5, 6, rng.randrange(8)])
        setup = ["movl $%d, %%eax" % rfbm, "xorl %edx, %edx"]
        if r < 0.45:
            mn = rng.choice(["xsave", "xsave64", "xsaveopt", "xsaveopt64", "xsavec", "xsavec64"])
            # SSE and AVX in use too (all ones in YMM15), so XSAVEOPT and
            # XSAVEC write what XSAVE does on every implementation
            pre = ["vpcmpeqd %ymm15, %ymm15, %ymm15"]
            # MXCSR_MASK is the CPU model's (INFO_KEYS in run.py): AMD hosts
            # set bit 17 (misaligned SSE mode), QEMU and vmon do not; clear
            # that bit of the saved image, keep the rest compared
            post = ["andl $0xfffdffff, %d(%%r15)" % (area + 28)]
            self.emit(mn, pre + setup + ["%s %d(%%r15)" % (mn, area)] + post)
        elif r < 0.85:
            mn = rng.choice(["xrstor", "xrstor64"])
            bv = rng.randrange(8)
            compact = rng.random() < 0.3
            lines = ["movq $%d, %d(%%r15)" % (bv, area + 512)]
            if compact:
                comp = bv | rng.choice([0, 1, 2, 4, 7]) & 7
                lines.append("movabsq $0x%x, %%rcx" % ((1 << 63) | comp))
                lines.append("movq %%rcx, %d(%%r15)" % (area + 520))
            else:
                lines.append("movq $0, %d(%%r15)" % (area + 520))
            for q in range(2, 8):
                lines.append("movq $0, %d(%%r15)" % (area + 512 + 8 * q))
            mx = 0x1f80 | rng.randrange(4) << 13 | rng.choice([0, 0, 0x3f, 0x8040])
            lines.append("movl $0x%x, %d(%%r15)" % (mx, area + 24))
            # x87 last-instruction opcode, instruction and data pointers:
            # zero. Intel restores and saves them always; AMD hosts (this
            # project's build machines are EPYCs) only while an x87
            # exception is pending (FSW.ES), and read them as zero
            # otherwise, so a random value made the host's expected image
            # differ from every other implementation's (xsave seed 5).
            lines.append("movw $0, %d(%%r15)" % (area + 6))
            lines.append("movq $0, %d(%%r15)" % (area + 8))
            lines.append("movq $0, %d(%%r15)" % (area + 16))
            if rng.random() < 0.04:
                lines.append("movq $1, %d(%%r15)" % (area + 536))  # a reserved byte: #GP
            self.emit(mn, lines + setup + ["%s %d(%%r15)" % (mn, area)])
        else:
            self.emit("xgetbv", ["xorl %ecx, %ecx", "xgetbv", "andl $7, %eax", "xorl %edx, %edx"])

    # ---- BMI1, BMI2, ADX, LZCNT, MOVBE, FSGSBASE ----
    def u_bmi(self):
        rng = self.rng
        bits = rng.choice([32, 64])
        setup = []
        R = lambda ex=(): reg(self.rreg(ex), bits)
        r = rng.random()
        if r < 0.2:
            op = rng.choice(["lzcnt", "tzcnt", "popcnt"])
            b = rng.choice([16, 32, 64])
            src = self.rm(b, setup)
            d = ARITH if op == "popcnt" else CF | ZF
            u = 0 if op == "popcnt" else OF | SF | AF | PF
            self.emit(op, setup + ["%s%s %s, %s" % (op, SUFFIX[b], src, reg(self.rreg(), b))],
                      defined=d, undefined=u)
        elif r < 0.4:
            op = rng.choice(["andn", "bextr", "bzhi", "blsi", "blsmsk", "blsr"])
            src = self.rm(bits, setup)
            if op == "andn":
                line = "andn %s, %s, %s" % (src, R(), R())
                d, u = OF | SF | ZF | CF, AF | PF
            elif op in ("bextr", "bzhi"):
                cr = self.rreg()
                v = rng.choice([rng.randrange(0, 0x4848), rng.randrange(0, 72) | rng.randrange(0, 72) << 8,
                                rng.getrandbits(32)])
                setup.append("movl $%d, %s" % (v, reg(cr, 32)))
                line = "%s %s, %s, %s" % (op, reg(cr, bits), src, R())
                if op == "bextr":
                    d, u = ZF | CF | OF, AF | SF | PF
                else:
                    d, u = ZF | SF | CF | OF, AF | PF
            else:
                line = "%s %s, %s" % (op, src, R())
                d, u = OF | SF | ZF | CF, AF | PF
            self.emit(op, setup + [line], defined=d, undefined=u)
        elif r < 0.6:
            op = rng.choice(["mulx", "pdep", "pext", "rorx", "sarx", "shlx", "shrx"])
            src = self.rm(bits, setup)
            if op == "rorx":
                line = "rorx $%d, %s, %s" % (rng.randrange(256), src, R())
            elif op in ("sarx", "shlx", "shrx"):
                line = "%s %s, %s, %s" % (op, R(), src, R())
            else:
                line = "%s %s, %s, %s" % (op, src, R(), R())
            self.emit(op, setup + [line])
        elif r < 0.75:
            op = rng.choice(["adcx", "adox"])
            self.reads(CF if op == "adcx" else OF)
            src = self.rm(bits, setup)
            self.emit(op, setup + ["%s %s, %s" % (op, src, R())],
                      defined=CF if op == "adcx" else OF)
        elif r < 0.9:
            b = rng.choice([16, 32, 64])
            if rng.random() < 0.1:
                op = rng.choice(["clflushopt", "clwb"])
                m = self.mem(1, setup=setup)[0]
                self.emit(op, setup + ["%s %s" % (op, m)])
                return
            if rng.random() < 0.5:
                line = "movbe %s, %s" % (self.mem(b // 8, setup=setup)[0], reg(self.rreg(), b))
            else:
                line = "movbe %s, %s" % (reg(self.rreg(), b), self.store(b // 8))
            self.emit("movbe", setup + [line])
        else:
            # write, read back, and put the old base back
            seg = rng.choice(["fs", "gs"])
            a, b2, c = rng.sample([i for i in gen.USABLE], 3)
            v = rng.choice([rng.getrandbits(47), rng.getrandbits(32)])
            lines = ["rd%sbase %s" % (seg, reg(a, 64)),
                     "movabsq $%d, %s" % (v, reg(b2, 64)),
                     "wr%sbase %s" % (seg, reg(b2, rng.choice([32, 64]))),
                     "rd%sbase %s" % (seg, reg(c, 64)),
                     "wr%sbase %s" % (seg, reg(a, 64)),
                     "xorl %s, %s" % (reg(a, 32), reg(a, 32))]
            self.emit("wr%sbase" % seg, lines)
