#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Differential instruction tester: the generator.

Produces, for a seed and an instruction class, a test: an initial state
(GPRs, arithmetic flags and DF, XMM registers, MXCSR, x87 control word, a
4 KiB scratch image) and a sequence of units. A unit is one instruction of
interest plus the set-up instructions it needs (a count in CL, a dividend in
RDX:RAX, pointers for a string instruction...). Tests are assembled with the
host GNU assembler (AT&T syntax) into a blob that guests/difftest.c loads as
its PVH module (format: see that file).

Conventions the snippets keep:
- R15 holds the scratch page address (the guest forces it) and is never
  written; RSP is never touched. Memory operands are disp(%r15) or
  disp(%r15,%idx,scale) with the index register loaded just before.
- Flags: the generator tracks which arithmetic flags are architecturally
  undefined after each unit (AF after logic ops, OF after multi-bit shifts,
  SF/ZF/AF/PF after MUL/IMUL, everything after DIV, ...). An instruction
  that reads a flag which is undefined at that point is preceded by a CMP
  (an auxiliary unit) so that no result depends on an undefined flag, and
  the final RFLAGS comparison masks the flags still undefined at the end
  (Test.flags_mask(k) for a prefix of k units).
- Results that are architecturally undefined, or where the references
  disagree, are avoided rather than compared: SHLD/SHRD of a 16-bit
  operand by 16..31, BSWAP r16; a 32-bit BSF/BSR destination gets its
  upper half cleared first (see README.md, "What is compared").

Usage as a script:  gen.py --seed N --class alu [--units K] [-o out.blob]
                    [--asm out.s]   (writes the blob and/or the assembly)
"""
import argparse
import os
import random
import struct
import subprocess
import sys
import tempfile

CF, PF, AF, ZF, SF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x800
DF = 0x400
ARITH = CF | PF | AF | ZF | SF | OF
FLAG_NAMES = [(OF, "OF"), (DF, "DF"), (SF, "SF"), (ZF, "ZF"), (AF, "AF"), (PF, "PF"), (CF, "CF")]

BLOB_MAGIC = 0x31544444
BLOB_VERSION = 2
REC_FPU = 0x1
REC_AVX = 0x2
SCRATCH = 4096

GPR64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
GPR32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] + \
    ["r%dd" % i for i in range(8, 16)]
GPR16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"] + \
    ["r%dw" % i for i in range(8, 16)]
GPR8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"] + \
    ["r%db" % i for i in range(8, 16)]
HIGH8 = ["ah", "ch", "dh", "bh"]
REGS = {8: GPR8, 16: GPR16, 32: GPR32, 64: GPR64}
SUFFIX = {8: "b", 16: "w", 32: "l", 64: "q"}
USABLE = [i for i in range(16) if i not in (4, 15)]  # not RSP, not R15

# Condition codes and the flags each reads.
CONDS = {
    "o": OF, "no": OF, "b": CF, "ae": CF, "e": ZF, "ne": ZF, "be": CF | ZF,
    "a": CF | ZF, "s": SF, "ns": SF, "p": PF, "np": PF, "l": SF | OF,
    "ge": SF | OF, "le": ZF | SF | OF, "g": ZF | SF | OF,
}

# The instruction-set extension classes (gen_vec.py): x86-64-v2 and -v3,
# AES-NI, PCLMULQDQ, XSAVE. They load and compare YMM registers (REC_AVX).
VEC_CLASSES = ["sse3", "ssse3", "sse41", "sse42", "crypto", "avx", "avx2", "fma", "xsave"]
CLASSES = ["alu", "shift", "muldiv", "divedge", "string", "bitops", "cond", "xchg",
           "movext", "sse_int", "sse_fp", "x87", "bmi"] + VEC_CLASSES
FPU_CLASSES = {"sse_int", "sse_fp", "x87"} | set(VEC_CLASSES)
AVX_CLASSES = set(VEC_CLASSES)
# What a backend must report (the difftest guest's "features=" line) for a
# class's tests to mean anything there.
CLASS_NEEDS = {
    "sse3": {"avx", "sse3"},
    "ssse3": {"avx2", "ssse3"},
    "sse41": {"avx2", "sse4_1"},
    "sse42": {"avx", "sse4_2", "popcnt"},
    "crypto": {"avx", "aes", "pclmulqdq"},
    "avx": {"avx"},
    "avx2": {"avx2"},
    "fma": {"fma", "f16c"},
    "xsave": {"avx", "xsave", "xsaveopt", "xsavec"},
    "bmi": {"bmi1", "bmi2", "adx", "abm", "movbe", "popcnt", "fsgsbase"},
}


def reg(i, bits):
    return "%" + REGS[bits][i]


def special_values(bits):
    m = (1 << bits) - 1
    h = 1 << (bits - 1)
    vals = {0, 1, 2, 3, m, m - 1, h, h - 1, h + 1, 0x7f, 0x80, 0xff, 0x100,
            0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff}
    return sorted(v & m for v in vals)


def rand_val(rng, bits):
    m = (1 << bits) - 1
    r = rng.random()
    if r < 0.3:
        return rng.choice(special_values(bits))
    if r < 0.45:
        return rng.randrange(0, 64)
    if r < 0.55:
        return (-rng.randrange(1, 64)) & m
    return rng.getrandbits(bits)


def signed(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def imm_for(rng, bits):
    """An immediate the assembler accepts for an operand of this size (a
    64-bit operand takes a sign-extended 32-bit immediate)."""
    ib = 32 if bits == 64 else bits
    v = rand_val(rng, ib)
    return signed(v, ib)


class Unit:
    def __init__(self, mnem, lines, aux=False, trap=False):
        self.mnem = mnem      # coverage key
        self.lines = lines    # assembly lines
        self.aux = aux        # set-up inserted by the generator (a CMP)
        self.trap = trap      # the line marked '!TRAP ' is expected to #DE
        self.undef_after = 0  # arithmetic flags undefined after this unit

    def text(self):
        return "; ".join(l.replace("!TRAP ", "") for l in self.lines)


class Test:
    def __init__(self, name, cls, seed):
        self.name = name
        self.cls = cls
        self.seed = seed
        self.fpu = cls in FPU_CLASSES
        self.avx = cls in AVX_CLASSES
        self.gpr = [0] * 16
        self.rflags = 0
        self.xmm = [0] * 32
        self.ymmh = [0] * 32
        self.mxcsr = 0x1f80
        self.fcw = 0x37f
        self.scratch = bytearray(SCRATCH)
        self.units = []

    def flags_mask(self, k=None):
        """RFLAGS bits worth comparing after the first k units."""
        units = self.units if k is None else self.units[:k]
        undef = units[-1].undef_after if units else 0
        return (ARITH | DF) & ~undef

    def prefix(self, k):
        t = Test(self.name, self.cls, self.seed)
        t.__dict__.update({k2: v for k2, v in self.__dict__.items() if k2 != "units"})
        t.units = self.units[:k]
        return t


class Gen:
    """Generates one test's units; subclassed per class by methods u_*."""

    def __init__(self, rng, test):
        self.rng = rng
        self.t = test
        self.undef = 0

    # ---- flags bookkeeping ----
    def reads(self, flags):
        """Before an instruction that reads flags: define any undefined."""
        if self.undef & flags:
            a, b = self.rng.sample(USABLE, 2)
            bits = self.rng.choice([8, 16, 32, 64])
            if self.rng.random() < 0.5:
                line = "cmp%s %s, %s" % (SUFFIX[bits], reg(a, bits), reg(b, bits))
            else:
                line = "cmp%s $%d, %s" % (SUFFIX[bits], imm_for(self.rng, bits), reg(b, bits))
            self.add(Unit("cmp", [line], aux=True), defined=ARITH)

    def add(self, unit, defined=0, undefined=0):
        self.undef = (self.undef & ~defined) | undefined
        unit.undef_after = self.undef
        self.t.units.append(unit)

    # ---- operands ----
    def rreg(self, exclude=()):
        return self.rng.choice([i for i in USABLE if i not in exclude])

    def mem(self, size, align=1, lo=0, hi=SCRATCH, exclude=(), setup=None):
        """A memory operand for `size` bytes inside [lo, hi) of scratch.
        May load an index register: its line goes into setup."""
        rng = self.rng
        off = rng.randrange(lo, hi - size + 1)
        off -= off % max(align, 1)
        if setup is not None and rng.random() < 0.3:
            idx = self.rreg(exclude)
            scale = rng.choice([1, 2, 4, 8])
            k = rng.randrange(0, 64)
            disp = off - k * scale
            setup.append("movl $%d, %s" % (k, reg(idx, 32)))
            return "%d(%%r15,%s,%d)" % (disp, reg(idx, 64), scale), off
        return "%d(%%r15)" % off, off

    def rm(self, bits, setup, exclude=(), mem_prob=0.35, align=1):
        """Register or memory operand text for bits."""
        if self.rng.random() < mem_prob:
            return self.mem(bits // 8, align=align, setup=setup, exclude=exclude)[0]
        return reg(self.rreg(exclude), bits)

    def size(self, choices=(8, 16, 32, 64)):
        return self.rng.choice(choices)

    # ---- initial state ----
    def init_state(self):
        rng, t = self.rng, self.t
        for i in range(16):
            r = rng.random()
            if r < 0.5:
                t.gpr[i] = rand_val(rng, 64)
            else:
                bits = rng.choice([8, 16, 32])
                t.gpr[i] = (rng.getrandbits(64) & ~((1 << bits) - 1)) | rand_val(rng, bits)
                if rng.random() < 0.3:
                    t.gpr[i] &= (1 << bits) - 1
        t.rflags = rng.getrandbits(64) & (ARITH | DF)
        t.scratch = bytearray(rng.getrandbits(8) for _ in range(SCRATCH))
        for i in range(32):
            t.xmm[i] = rand_val(rng, 64)
        for i in range(32):
            t.ymmh[i] = rand_val(rng, 64)


# ---------------------------------------------------------------- classes


def div_traps(op, bits, dividend, d):
    """Does DIV/IDIV of dividend (2*bits wide) by d raise #DE?"""
    if d == 0:
        return True
    if op == "div":
        return dividend // d >= 1 << bits
    q = abs(dividend) // abs(d)
    if (dividend < 0) != (d < 0):
        q = -q
    return not -(1 << (bits - 1)) <= q < 1 << (bits - 1)


DIV_EDGES = ["zero", "hi=d", "max", "all-ones", "by-one"]
IDIV_EDGES = ["zero", "min/-1", "lo/-1", "hi+1/-1", "lo", "lo-1", "hi", "hi+1", "lo,neg",
              "lo-1,neg", "min-divisor"]


def divedge_cases():
    """(op, bits, kind) for every divedge case, in a fixed order."""
    return [(op, bits, kind) for bits in (8, 16, 32, 64)
            for op, kinds in (("div", DIV_EDGES), ("idiv", IDIV_EDGES)) for kind in kinds]


ALU2 = ["add", "adc", "sub", "sbb", "and", "or", "xor", "cmp", "test"]
LOGIC = {"and", "or", "xor", "test"}


class GenInt(Gen):
    def u_alu(self):
        rng = self.rng
        r = rng.random()
        setup = []
        bits = self.size()
        sfx = SUFFIX[bits]
        if r < 0.6:
            op = rng.choice(ALU2)
            if op in ("adc", "sbb"):
                self.reads(CF)
            form = rng.random()
            if bits == 8 and form < 0.1:
                a = rng.choice(HIGH8 + GPR8[:4])
                b = rng.choice(HIGH8 + GPR8[:4])
                line = "%s%s %%%s, %%%s" % (op, sfx, a, b)
            elif form < 0.35:
                line = "%s%s %s, %s" % (op, sfx, reg(self.rreg(), bits), reg(self.rreg(), bits))
            elif form < 0.55:
                line = "%s%s $%d, %s" % (op, sfx, imm_for(rng, bits),
                                        self.rm(bits, setup))
            elif form < 0.65 and op != "test":
                # the short accumulator or sign-extended imm8 encodings
                line = "%s%s $%d, %s" % (op, sfx, rng.randrange(-128, 128),
                                        rng.choice([reg(0, bits), reg(self.rreg(), bits)]))
            elif form < 0.82 and op != "test":
                line = "%s%s %s, %s" % (op, sfx, self.mem(bits // 8, setup=setup)[0],
                                       reg(self.rreg(), bits))
            else:
                lock = "lock " if op not in ("cmp", "test") and rng.random() < 0.3 else ""
                line = "%s%s%s %s, %s" % (lock, op, sfx, reg(self.rreg(), bits),
                                         self.mem(bits // 8, setup=setup)[0])
            if op in LOGIC:
                self.add(Unit(op, setup + [line]), defined=ARITH & ~AF, undefined=AF)
            else:
                self.add(Unit(op, setup + [line]), defined=ARITH)
        elif r < 0.85:
            op = rng.choice(["inc", "dec", "neg", "not"])
            lock = "lock " if rng.random() < 0.2 and op != "neg" else ""
            dst = self.rm(bits, setup)
            if "(" not in dst:
                lock = ""
            line = "%s%s%s %s" % (lock, op, sfx, dst)
            if op in ("inc", "dec"):
                self.add(Unit(op, setup + [line]), defined=ARITH & ~CF)
            elif op == "neg":
                self.add(Unit(op, setup + [line]), defined=ARITH)
            else:
                self.add(Unit(op, setup + [line]))
        else:
            op = rng.choice(["clc", "stc", "cmc", "lahf", "sahf"])
            if op == "cmc":
                self.reads(CF)
            if op == "lahf":
                self.reads(ARITH & ~OF)
            d = {"clc": CF, "stc": CF, "cmc": CF, "lahf": 0, "sahf": ARITH & ~OF}[op]
            self.add(Unit(op, [op]), defined=d)

    def shift_count(self, bits, op):
        """Returns (count text, setup lines, count value)."""
        rng = self.rng
        r = rng.random()
        if r < 0.15:
            return None, [], 1            # the implicit-1 form
        c = rng.randrange(0, 64) if rng.random() < 0.9 else rng.randrange(64, 256)
        if op in ("shld", "shrd") and bits == 16:
            while (c & 31) > 15:
                c = rng.randrange(0, 256)
        if r < 0.6:
            return "$%d" % c, [], c
        return "%cl", ["movb $%d, %%cl" % c], c

    def u_shift(self):
        rng = self.rng
        setup = []
        if rng.random() < 0.8:
            op = rng.choice(["shl", "sal", "shr", "sar", "rol", "ror", "rcl", "rcr"])
            bits = self.size()
            cnt, setup, c = self.shift_count(bits, op)
            dst = self.rm(bits, setup, exclude=(1,) if cnt == "%cl" else ())
            if dst == reg(1, bits):
                dst = reg(0, bits)
            line = "%s%s %s" % (op, SUFFIX[bits], dst) if cnt is None else \
                "%s%s %s, %s" % (op, SUFFIX[bits], cnt, dst)
        else:
            op = rng.choice(["shld", "shrd"])
            bits = self.size((16, 32, 64))
            cnt, setup, c = self.shift_count(bits, op)
            if cnt is None:
                cnt, c = "$1", 1
            excl = (1,) if cnt == "%cl" else ()
            dst = self.rm(bits, setup, exclude=excl)
            line = "%s%s %s, %s, %s" % (op, SUFFIX[bits], cnt, reg(self.rreg(excl), bits), dst)
        if op in ("rcl", "rcr"):
            self.reads(CF)
        m = c & (0x3f if bits == 64 else 0x1f)
        unit = Unit(op, setup + [line])
        if m == 0:
            self.add(unit)
            return
        of = OF if m == 1 else 0
        if op in ("rol", "ror", "rcl", "rcr"):
            self.add(unit, defined=CF | of, undefined=OF & ~of)
            return
        cf = CF
        if op in ("shl", "sal", "shr") and m >= bits:
            cf = 0
        defined = cf | of | SF | ZF | PF
        self.add(unit, defined=defined, undefined=ARITH & ~defined)

    def u_muldiv(self):
        rng = self.rng
        r = rng.random()
        setup = []
        if r < 0.25:
            op = rng.choice(["mul", "imul"])
            bits = self.size()
            line = "%s%s %s" % (op, SUFFIX[bits], self.rm(bits, setup))
            self.add(Unit(op + "1", setup + [line]), defined=CF | OF, undefined=SF | ZF | AF | PF)
        elif r < 0.4:
            bits = self.size((16, 32, 64))
            line = "imul%s %s, %s" % (SUFFIX[bits], self.rm(bits, setup), reg(self.rreg(), bits))
            self.add(Unit("imul2", setup + [line]), defined=CF | OF, undefined=SF | ZF | AF | PF)
        elif r < 0.55:
            bits = self.size((16, 32, 64))
            imm = rng.randrange(-128, 128) if rng.random() < 0.5 else imm_for(rng, bits)
            line = "imul%s $%d, %s, %s" % (SUFFIX[bits], imm, self.rm(bits, setup),
                                          reg(self.rreg(), bits))
            self.add(Unit("imul3", setup + [line]), defined=CF | OF, undefined=SF | ZF | AF | PF)
        else:
            self.div_unit()

    def div_unit(self):
        rng = self.rng
        op = rng.choice(["div", "idiv"])
        bits = self.size()
        sgn = op == "idiv"
        expect_de = rng.random() < 0.1
        lo_q, hi_q = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if sgn else (0, (1 << bits) - 1)
        for _ in range(1000):
            d = signed(rand_val(rng, bits), bits) if sgn else rand_val(rng, bits)
            if expect_de:
                if rng.random() < 0.4:
                    d = 0
                    dividend = signed(rng.getrandbits(2 * bits), 2 * bits) if sgn \
                        else rng.getrandbits(2 * bits)
                    break
                if d == 0:
                    continue
                q = rng.choice([hi_q + 1, hi_q + rng.randrange(1, 1000)] +
                               ([lo_q - 1] if sgn else []))
                dividend = q * d
                if -(1 << (2 * bits - 1)) <= dividend < (1 << (2 * bits - 1)) if sgn \
                        else 0 <= dividend < (1 << (2 * bits)):
                    break
                continue
            if d == 0:
                continue
            q = rng.choice([rand_val(rng, bits), rng.randrange(0, 100)])
            q = signed(q, bits) if sgn else q
            if not lo_q <= q <= hi_q:
                continue
            rr = rng.randrange(0, abs(d))
            if sgn and (q * d < 0 or (q == 0 and rng.random() < 0.5)):
                rr = -rr
            dividend = q * d + rr
            if sgn:
                if not -(1 << (2 * bits - 1)) <= dividend < (1 << (2 * bits - 1)):
                    continue
                qq = abs(dividend) // abs(d)
                if (dividend < 0) != (d < 0):
                    qq = -qq
                if qq != q:
                    continue
            elif not 0 <= dividend < (1 << (2 * bits)):
                continue
            break
        else:
            raise RuntimeError("no dividend found")
        self.emit_div(op, bits, dividend, d)

    def emit_div(self, op, bits, dividend, d):
        """One DIV/IDIV unit: RDX:RAX (AX for 8 bits) = dividend, the divisor
        d in a register or in scratch memory; marked to trap when it #DEs."""
        rng = self.rng
        expect_de = div_traps(op, bits, dividend, d)
        dv = dividend & ((1 << (2 * bits)) - 1)
        m = (1 << bits) - 1
        setup = []
        if bits == 8:
            setup.append("movw $%d, %%ax" % dv)
        else:
            setup.append("mov%s $%d, %s" % ("abs" if bits == 64 else SUFFIX[bits],
                                            dv & m, reg(0, bits)))
            setup.append("mov%s $%d, %s" % ("abs" if bits == 64 else SUFFIX[bits],
                                            dv >> bits, reg(2, bits)))
        dm = d & m
        if rng.random() < 0.5:
            r = self.rreg(exclude=(0, 2))
            setup.append(("movabs $%d, %s" if bits == 64 else "mov" + SUFFIX[bits] + " $%d, %s")
                         % (dm, reg(r, bits)))
            src = reg(r, bits)
        else:
            src, _ = self.mem(bits // 8)
            if bits == 64:
                setup.append("movl $%d, %s" % (dm & 0xffffffff, src))
                setup.append("movl $%d, %s" % (dm >> 32, src.replace("(%r15)", "+4(%r15)")))
            else:
                setup.append("mov%s $%d, %s" % (SUFFIX[bits], dm, src))
        line = ("!TRAP " if expect_de else "") + "%s%s %s" % (op, SUFFIX[bits], src)
        unit = Unit(op, setup + [line], trap=expect_de)
        if expect_de:
            self.add(unit)   # faults before writing anything
        else:
            self.add(unit, undefined=ARITH)

    def u_divedge(self):
        """The DIV/IDIV edge cases of issue 12 (3.1), every width: divisor 0,
        the most negative dividend by -1 (the host's INT64_MIN / -1 for a
        32-bit IDIV), quotients one past either end and exactly at them.
        The cases are taken in turn from where the seed's share starts, so
        seeds 1-3 (the make-test slice) run every one of them."""
        rng = self.rng
        cases = divedge_cases()
        k = (self.t.seed - 1) * 40 + sum(1 for u in self.t.units if not u.aux)
        op, bits, kind = cases[k % len(cases)]
        hi = 1 << (bits - 1)
        lo_q, hi_q = -hi, hi - 1
        d = 0
        while d == 0:
            d = rand_val(rng, bits) if op == "div" else signed(rand_val(rng, bits), bits)
        dpos = rng.randrange(1, hi)  # a positive signed divisor
        if kind == "zero":
            d = 0
            dividend = rng.getrandbits(2 * bits)
            if op == "idiv":
                dividend = signed(dividend, 2 * bits)
        elif kind == "hi=d":          # DIV: the quotient is 2^bits
            dividend = d << bits
        elif kind == "max":           # DIV: the largest quotient, 2^bits - 1
            dividend = (d << bits) - 1
        elif kind == "all-ones":      # DIV: (2^2b - 1) / (2^b - 1) = 2^b + 1
            d = (1 << bits) - 1
            dividend = (1 << (2 * bits)) - 1
        elif kind == "by-one":
            d = 1
            dividend = rng.getrandbits(bits)
        elif kind == "min/-1":        # IDIV: -2^(2b-1) / -1
            d, dividend = -1, -(1 << (2 * bits - 1))
        elif kind == "lo/-1":         # IDIV: -2^(b-1) / -1 = 2^(b-1)
            d, dividend = -1, lo_q
        elif kind == "hi+1/-1":       # IDIV: 2^(b-1) / -1 = -2^(b-1), fits
            d, dividend = -1, hi
        elif kind == "lo":            # quotient exactly -2^(b-1), remainder <= 0
            d = dpos
            dividend = lo_q * d - rng.randrange(0, d)
        elif kind == "lo-1":
            d = dpos
            dividend = (lo_q - 1) * d
        elif kind == "hi":            # quotient exactly 2^(b-1) - 1, remainder >= 0
            d = dpos
            dividend = hi_q * d + rng.randrange(0, d)
        elif kind == "hi+1":
            d = dpos
            dividend = (hi_q + 1) * d
        elif kind == "lo,neg":        # positive dividend, negative divisor
            d = -dpos
            dividend = lo_q * d
        elif kind == "lo-1,neg":
            d = -dpos
            dividend = (lo_q - 1) * d
        elif kind == "min-divisor":   # divisor -2^(b-1)
            d = lo_q
            dividend = signed(rng.getrandbits(2 * bits - 2), 2 * bits - 2)
        else:
            raise RuntimeError("unknown divedge case " + kind)
        self.emit_div(op, bits, dividend, d)

    def u_string(self):
        rng = self.rng
        op = rng.choice(["movs", "stos", "lods", "cmps", "scas"])
        bits = self.size()
        n = bits // 8
        rep = rng.choice(["", "rep "] if op in ("movs", "stos", "lods") else
                         ["", "repe ", "repne "])
        count = rng.randrange(0, 17) if rep else 1
        down = rng.random() < 0.5
        span = n * max(count, 1)
        setup = ["std" if down else "cld"]
        addr32 = rng.random() < 0.15

        def ptr(regname):
            if down:
                off = rng.randrange(span - n, SCRATCH - n + 1)
            else:
                off = rng.randrange(0, SCRATCH - span + 1)
            if rng.random() < 0.7:
                off -= off % n
            setup.append("leaq %d(%%r15), %%%s" % (off, regname))

        if op in ("movs", "cmps"):
            ptr("rsi")
            ptr("rdi")
        elif op == "lods":
            ptr("rsi")
        else:
            ptr("rdi")
        if rep:
            setup.append("movl $%d, %%ecx" % count)
        line = "%s%s%s%s" % ("addr32 " if addr32 else "", rep, op, SUFFIX[bits])
        unit = Unit("%s%s" % (rep.strip() + " " if rep else "", op), setup + [line])
        if op in ("cmps", "scas") and (count > 0 or not rep):
            self.add(unit, defined=ARITH | DF)
        else:
            self.add(unit, defined=DF)

    def u_bitops(self):
        rng = self.rng
        setup = []
        if rng.random() < 0.65:
            op = rng.choice(["bt", "bts", "btr", "btc"])
            bits = self.size((16, 32, 64))
            r = rng.random()
            if r < 0.3:
                line = "%s%s $%d, %s" % (op, SUFFIX[bits], rng.randrange(0, 256),
                                        self.rm(bits, setup))
            elif r < 0.6:
                line = "%s%s %s, %s" % (op, SUFFIX[bits], reg(self.rreg(), bits),
                                       reg(self.rreg(), bits))
            else:
                # register bit offset into memory: a signed offset that may
                # leave the operand; keep the access inside scratch
                b = self.rreg()
                k = rng.randrange(-1000 * 8, 1000 * 8)
                setup.append("mov%s $%d, %s" % ("abs" if bits == 64 else SUFFIX[bits],
                                               k & ((1 << bits) - 1), reg(b, bits)))
                dst, _ = self.mem(bits // 8, lo=1032, hi=3064, exclude=(b,), setup=setup)
                lock = "lock " if op != "bt" and rng.random() < 0.3 else ""
                line = "%s%s%s %s, %s" % (lock, op, SUFFIX[bits], reg(b, bits), dst)
            self.add(Unit(op, setup + [line]), defined=CF, undefined=OF | SF | AF | PF)
        else:
            op = rng.choice(["bsf", "bsr"])
            bits = self.size((16, 32, 64))
            src_i = self.rreg()
            if rng.random() < 0.2:
                setup.append("xorl %s, %s" % (reg(src_i, 32), reg(src_i, 32)))
            src = reg(src_i, bits) if rng.random() < 0.7 else self.rm(bits, setup, mem_prob=1)
            dst = self.rreg()
            if bits == 32:
                # a zero source leaves the destination unchanged (QEMU
                # zero-extends it, the host CPU under KVM does not): clear
                # its upper half first so both readings agree
                setup.append("movl %s, %s" % (reg(dst, 32), reg(dst, 32)))
            line = "%s%s %s, %s" % (op, SUFFIX[bits], src, reg(dst, bits))
            self.add(Unit(op, setup + [line]), defined=ZF, undefined=CF | OF | SF | AF | PF)

    def flag_producer(self):
        """A random flag-defining ALU instruction (counted as aux)."""
        rng = self.rng
        bits = self.size()
        op = rng.choice(["add", "sub", "cmp", "adc", "sbb", "neg"])
        if op in ("adc", "sbb"):
            self.reads(CF)
        if op == "neg":
            line = "neg%s %s" % (SUFFIX[bits], reg(self.rreg(), bits))
        elif rng.random() < 0.5:
            line = "%s%s %s, %s" % (op, SUFFIX[bits], reg(self.rreg(), bits), reg(self.rreg(), bits))
        else:
            line = "%s%s $%d, %s" % (op, SUFFIX[bits], imm_for(rng, bits), reg(self.rreg(), bits))
        self.add(Unit(op, [line], aux=True), defined=ARITH)

    def u_cond(self):
        rng = self.rng
        if rng.random() < 0.4:
            self.flag_producer()
        cc = rng.choice(list(CONDS))
        self.reads(CONDS[cc])
        setup = []
        r = rng.random()
        if r < 0.45:
            bits = self.size((16, 32, 64))
            line = "cmov%s%s %s, %s" % (cc, SUFFIX[bits], self.rm(bits, setup),
                                       reg(self.rreg(), bits))
            mnem = "cmovcc"
        elif r < 0.8:
            dst = self.rm(8, setup) if rng.random() < 0.9 else "%" + rng.choice(HIGH8)
            line = "set%s %s" % (cc, dst)
            mnem = "setcc"
        else:
            a = self.rreg()
            line = "j%s 1f; notq %s; 1:" % (cc, reg(a, 64))
            mnem = "jcc"
        self.add(Unit(mnem, setup + [line]))

    def u_xchg(self):
        rng = self.rng
        setup = []
        op = rng.choice(["xchg", "cmpxchg", "xadd"])
        bits = self.size()
        sfx = SUFFIX[bits]
        mem_dst = rng.random() < 0.5
        lock = "lock " if op != "xchg" and mem_dst and rng.random() < 0.5 else ""
        if op == "cmpxchg":
            src = self.rreg()
            if mem_dst:
                dst, _ = self.mem(bits // 8, exclude=(0,), setup=setup)
            else:
                dreg = self.rreg()
                dst = reg(dreg, bits)
            if rng.random() < 0.5:
                # make the comparison succeed (the accumulator equals dst);
                # for 32 bits keep RAX's upper half (mostly) nonzero, since
                # a successful CMPXCHG r/m32 must leave it alone
                if bits == 32 and not mem_dst:
                    setup.append("movq %s, %%rax" % reg(dreg, 64))
                elif bits == 32:
                    setup.append("movslq %s, %%rax" % dst)
                else:
                    setup.append("mov%s %s, %s" % (sfx, dst, reg(0, bits)))
            # 32 bits, 64-bit mode (SDM pseudocode; the host CPU decides):
            # a failed compare loads EAX, zero-extending RAX, and leaves a
            # register destination alone, upper half included; a successful
            # one writes the destination (zero-extending a register) and
            # leaves RAX alone.
            line = "%s%s%s %s, %s" % (lock, op, sfx, reg(src, bits), dst)
            self.add(Unit(op, setup + [line]), defined=ARITH)
            return
        if mem_dst:
            dst, _ = self.mem(bits // 8, setup=setup)
        else:
            dst = reg(self.rreg(), bits)
        if op == "xchg" and rng.random() < 0.15:
            src = reg(0, bits)  # the short XCHG-with-accumulator encodings
        else:
            src = reg(self.rreg(), bits)
        line = "%s%s%s %s, %s" % (lock, op, sfx, src, dst)
        self.add(Unit(op, setup + [line]), defined=ARITH if op == "xadd" else 0)

    def u_movext(self):
        rng = self.rng
        setup = []
        r = rng.random()
        if r < 0.3:
            op = rng.choice(["movz", "movs"])
            sb = self.size((8, 16))
            db = rng.choice([b for b in (16, 32, 64) if b > sb])
            if sb == 8 and db != 64 and rng.random() < 0.15:
                src = "%" + rng.choice(HIGH8)
                dst = reg(rng.choice([0, 1, 2, 3, 5, 6, 7]), db)
            else:
                src = self.rm(sb, setup)
                dst = reg(self.rreg(), db)
            line = "%s%s%s %s, %s" % (op, SUFFIX[sb], SUFFIX[db], src, dst)
            self.add(Unit(op + "x", setup + [line]))
        elif r < 0.4:
            line = "movslq %s, %s" % (self.rm(32, setup), reg(self.rreg(), 64))
            self.add(Unit("movsxd", setup + [line]))
        elif r < 0.55:
            op = rng.choice(["cbtw", "cwtl", "cltq", "cwtd", "cltd", "cqto"])
            self.add(Unit(op, [op]))
        elif r < 0.8:
            bits = self.size((16, 32, 64))
            f = rng.random()
            b, i = self.rreg(), self.rreg()
            ab = 32 if rng.random() < 0.15 else 64   # addr32: 32-bit address
            disp = signed(rand_val(rng, 32), 32) if rng.random() < 0.5 else rng.randrange(-128, 128)
            sc = rng.choice([1, 2, 4, 8])
            if f < 0.3:
                src = "%d(%s)" % (disp, reg(b, ab))
            elif f < 0.8:
                src = "%d(%s,%s,%d)" % (disp, reg(b, ab), reg(i, ab), sc)
            elif f < 0.9:
                src = "%d(,%s,%d)" % (disp, reg(i, ab), sc)
            else:
                src = "%d(%%rip)" % rng.randrange(-100, 100)
            line = "lea%s %s, %s" % (SUFFIX[bits], src, reg(self.rreg(), bits))
            self.add(Unit("lea", [line]))
        elif r < 0.9:
            bits = self.size((32, 64))
            self.add(Unit("bswap", ["bswap %s" % reg(self.rreg(), bits)]))
        else:
            # moves: partial-register writes and the 32-bit zero extension
            bits = self.size()
            f = rng.random()
            if f < 0.4:
                line = "mov%s %s, %s" % (SUFFIX[bits], self.rm(bits, setup), reg(self.rreg(), bits))
            elif f < 0.7:
                line = "mov%s $%d, %s" % (SUFFIX[bits], imm_for(rng, bits), self.rm(bits, setup))
            else:
                line = "movabsq $%d, %s" % (rng.getrandbits(64), reg(self.rreg(), 64))
            self.add(Unit("mov", setup + [line]))



# ------------------------------------------------------------ FPU classes
#
# Scratch layout for FPU tests: 0..2047 are 128 value slots of 16 bytes,
# each holding one kind of modest value: 'd' two doubles, 'f' four floats,
# 'i' an int16 at +0, an int32 at +4 and an int64 at +8, 't' one 80-bit
# extended at +0. Loads read value slots of the right kind; stores go to
# 2048..4095 (initially random bytes), so the kinds never change.

SLOTS = 128
STORE_LO = 2048
QNAN = 0x7ff8000000000000
INF = 0x7ff0000000000000


def modest_double(rng, special):
    """Bits of a double: mostly small, exact or simple values."""
    r = rng.random()
    if r < special:
        return rng.choice([0, 1 << 63, INF, INF | 1 << 63, QNAN, QNAN | 1 << 63,
                           0x7ff4000000000000, 1, 0x000fffffffffffff, 0x0010000000000000,
                           struct.unpack("<Q", struct.pack("<d", 1e300))[0]])
    if r < 0.3:
        v = float(rng.randrange(-100, 101))
    elif r < 0.5:
        v = rng.choice([0.5, 0.25, 0.1, 1 / 3, 2 / 3, 1e-3, 3.14159, 1.5, 10.0]) * \
            rng.choice([1, -1]) * 2.0 ** rng.randrange(-10, 11)
    else:
        v = rng.uniform(-1000, 1000)
    return struct.unpack("<Q", struct.pack("<d", v))[0]


def modest_float(rng, special):
    r = rng.random()
    if r < special:
        return rng.choice([0, 1 << 31, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
                           0x7fa00000, 1, 0x007fffff, 0x00800000, 0x7f7fffff])
    d = struct.unpack("<d", struct.pack("<Q", modest_double(rng, 0)))[0]
    return struct.unpack("<I", struct.pack("<f", d))[0]


def extended(rng):
    """An 80-bit value as (mantissa, sign|exponent) from a modest double."""
    d = modest_double(rng, 0.02)
    sign = d >> 63
    exp = (d >> 52) & 0x7ff
    frac = d & ((1 << 52) - 1)
    if exp == 0 and frac == 0:
        return 0, sign << 15
    if exp == 0x7ff:
        return (1 << 63) | (frac << 11), (sign << 15) | 0x7fff
    if exp == 0:  # denormal double: give it as a tiny normal extended
        return (1 << 63) | (frac << 11), (sign << 15) | (0x3c01 - 52)
    return (1 << 63) | (frac << 11), (sign << 15) | (exp - 1023 + 16383)


class GenFP(GenInt):
    def init_state(self):
        super().init_state()
        rng, t = self.rng, self.t
        self.depth = 0
        if not t.fpu:
            return
        sp = 0.0 if t.cls == "x87" else 0.08
        self.kinds = []
        for s in range(SLOTS):
            k = rng.choice("dfit" if t.cls == "x87" else "dfi")
            self.kinds.append(k)
            o = 16 * s
            if k == "d":
                struct.pack_into("<QQ", t.scratch, o, modest_double(rng, sp), modest_double(rng, sp))
            elif k == "f":
                struct.pack_into("<4I", t.scratch, o, *[modest_float(rng, sp) for _ in range(4)])
            elif k == "i":
                struct.pack_into("<hiq", t.scratch, o, rng.randrange(-1000, 1000),
                                 signed(rand_val(rng, 32), 32) if rng.random() < 0.3
                                 else rng.randrange(-100000, 100000),
                                 signed(rand_val(rng, 64), 64) if rng.random() < 0.3
                                 else rng.randrange(-10 ** 9, 10 ** 9))
            else:
                m, se = extended(rng)
                struct.pack_into("<QH", t.scratch, o, m, se)
        if t.cls == "sse_fp":
            self.xkind = []
            for x in range(16):
                if rng.random() < 0.5:
                    t.xmm[2 * x] = modest_double(rng, sp)
                    t.xmm[2 * x + 1] = modest_double(rng, sp)
                    self.xkind.append("d")
                else:
                    f = [modest_float(rng, sp) for _ in range(4)]
                    t.xmm[2 * x] = f[0] | f[1] << 32
                    t.xmm[2 * x + 1] = f[2] | f[3] << 32
                    self.xkind.append("f")
            if rng.random() < 0.4:
                t.mxcsr = 0x1f80 | rng.randrange(4) << 13
            if rng.random() < 0.1:
                t.mxcsr |= rng.choice([0x8000, 0x40, 0x8040])  # FZ, DAZ
        if t.cls == "x87" and rng.random() < 0.3:
            t.fcw = 0x37f & ~0xc00 | rng.randrange(4) << 10

    def slot(self, kind, size):
        """Operand text of a value of `kind` and `size` bytes."""
        s = self.rng.choice([i for i in range(SLOTS) if self.kinds[i] == kind])
        if kind == "i":
            off = {2: 0, 4: 4, 8: 8}[size]
        elif kind == "t":
            off = 0
        else:
            off = self.rng.randrange(0, 16, size) if size < 16 else 0
        return "%d(%%r15)" % (16 * s + off)

    def store(self, size, align=1):
        return self.mem(size, align=align, lo=STORE_LO)[0]

    def xr(self, kind=None):
        if kind and self.rng.random() < 0.85:
            c = [i for i in range(16) if self.xkind[i] == kind]
            if c:
                return self.rng.choice(c)
        return self.rng.randrange(16)

    # ---- SSE2 integer ----
    PINT = ["paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq",
            "paddsb", "paddsw", "paddusb", "paddusw", "psubsb", "psubsw", "psubusb",
            "psubusw", "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd", "pand",
            "pandn", "por", "pxor", "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpgtb",
            "pcmpgtw", "pcmpgtd", "punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq",
            "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq", "packsswb", "packssdw",
            "packuswb", "pavgb", "pavgw", "pminub", "pmaxub", "pminsw", "pmaxsw", "psadbw"]
    PSHIFT = ["psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"]

    def u_sse_int(self):
        rng = self.rng
        x = lambda: "%%xmm%d" % rng.randrange(16)
        m128 = lambda: self.mem(16, align=16)[0]
        r = rng.random()
        setup = []
        if r < 0.5:
            op = rng.choice(self.PINT)
            src = m128() if rng.random() < 0.3 else x()
            self.add(Unit(op, ["%s %s, %s" % (op, src, x())]))
        elif r < 0.65:
            op = rng.choice(self.PSHIFT + ["pslldq", "psrldq"])
            if op.endswith("dq") or rng.random() < 0.6:
                c = rng.randrange(0, 20) if op.endswith("dq") else rng.choice(
                    [rng.randrange(0, 16), rng.randrange(0, 70)])
                line = "%s $%d, %s" % (op, c, x())
            else:
                c = rng.choice([rng.randrange(0, 70), rng.getrandbits(64)])
                xc = x()
                setup = ["movabsq $%d, %%rax" % c, "movq %%rax, %s" % xc]
                line = "%s %s, %s" % (op, xc, x())
            self.add(Unit(op, setup + [line]))
        elif r < 0.75:
            op = rng.choice(["pshufd", "pshuflw", "pshufhw"])
            src = m128() if rng.random() < 0.3 else x()
            self.add(Unit(op, ["%s $%d, %s, %s" % (op, rng.randrange(256), src, x())]))
        elif r < 0.82:
            op = rng.choice(["pmovmskb", "pextrw", "pinsrw"])
            if op == "pmovmskb":
                line = "pmovmskb %s, %s" % (x(), reg(self.rreg(), 32))
            elif op == "pextrw":
                line = "pextrw $%d, %s, %s" % (rng.randrange(8), x(), reg(self.rreg(), 32))
            else:
                src = reg(self.rreg(), 32) if rng.random() < 0.6 else self.mem(2)[0]
                line = "pinsrw $%d, %s, %s" % (rng.randrange(8), src, x())
            self.add(Unit(op, [line]))
        else:
            op = rng.choice(["movdqa", "movdqu", "movq", "movd"])
            f = rng.random()
            if op in ("movdqa", "movdqu"):
                al = 16 if op == "movdqa" else 1
                if f < 0.4:
                    line = "%s %s, %s" % (op, self.mem(16, align=al)[0], x())
                elif f < 0.7:
                    line = "%s %s, %s" % (op, x(), self.mem(16, align=al, lo=STORE_LO)[0])
                else:
                    line = "%s %s, %s" % (op, x(), x())
            elif op == "movq":
                if f < 0.25:
                    line = "movq %s, %s" % (self.mem(8)[0], x())
                elif f < 0.5:
                    line = "movq %s, %s" % (x(), self.store(8))
                elif f < 0.65:
                    line = "movq %s, %s" % (reg(self.rreg(), 64), x())
                elif f < 0.8:
                    line = "movq %s, %s" % (x(), reg(self.rreg(), 64))
                else:
                    line = "movq %s, %s" % (x(), x())
            else:
                if f < 0.3:
                    line = "movd %s, %s" % (self.mem(4)[0], x())
                elif f < 0.5:
                    line = "movd %s, %s" % (x(), self.store(4))
                elif f < 0.75:
                    line = "movd %s, %s" % (reg(self.rreg(), 32), x())
                else:
                    line = "movd %s, %s" % (x(), reg(self.rreg(), 32))
            self.add(Unit(op, [line]))

    # ---- SSE2 floating point ----
    def u_sse_fp(self):
        rng = self.rng
        r = rng.random()
        kind = rng.choice("df")
        ps = "d" if kind == "d" else "s"
        esz = 8 if kind == "d" else 4
        X = lambda k=None: "%%xmm%d" % self.xr(k)

        def setk(dst, k):
            self.xkind[int(dst[4:])] = k

        if r < 0.4:
            op = rng.choice(["add", "sub", "mul", "div", "min", "max", "sqrt"])
            scalar = rng.random() < 0.55
            mn = op + ("s" if scalar else "p") + ps
            if rng.random() < 0.3:
                src = self.slot(kind, esz) if scalar else self.slot(kind, 16)
            else:
                src = X(kind)
            dst = X(kind)
            self.add(Unit(mn, ["%s %s, %s" % (mn, src, dst)]))
        elif r < 0.5:
            op = rng.choice(["and", "andn", "or", "xor"]) + "p" + ps
            src = X() if rng.random() < 0.7 else self.slot(kind, 16)
            self.add(Unit(op, ["%s %s, %s" % (op, src, X())]))
        elif r < 0.6:
            scalar = rng.random() < 0.5
            mn = "cmp" + ("s" if scalar else "p") + ps
            src = X(kind) if rng.random() < 0.7 else self.slot(kind, esz if scalar else 16)
            self.add(Unit(mn, ["%s $%d, %s, %s" % (mn, rng.randrange(8), src, X(kind))]))
        elif r < 0.7:
            mn = rng.choice(["ucomis", "comis"]) + ps
            src = X(kind) if rng.random() < 0.7 else self.slot(kind, esz)
            self.add(Unit(mn, ["%s %s, %s" % (mn, src, X(kind))]), defined=ARITH)
        elif r < 0.85:
            f = rng.random()
            if f < 0.25:
                bits = self.size((32, 64))
                src = reg(self.rreg(), bits) if rng.random() < 0.7 else \
                    self.slot("i", bits // 8)
                mn = "cvtsi2s" + ps
                dst = X()
                setk(dst, kind)
                self.add(Unit(mn, ["%s%s %s, %s" % (mn, SUFFIX[bits], src, dst)]))
            elif f < 0.5:
                bits = self.size((32, 64))
                mn = rng.choice(["cvtts", "cvts"]) + ps + "2si"
                src = X(kind) if rng.random() < 0.7 else self.slot(kind, esz)
                self.add(Unit(mn, ["%s %s, %s" % (mn, src, reg(self.rreg(), bits))]))
            else:
                mn, sk, dk = rng.choice([
                    ("cvtsd2ss", "d", "f"), ("cvtss2sd", "f", "d"), ("cvtdq2pd", "i", "d"),
                    ("cvtdq2ps", "i", "f"), ("cvtps2dq", "f", "i"), ("cvttps2dq", "f", "i"),
                    ("cvtpd2dq", "d", "i"), ("cvttpd2dq", "d", "i"), ("cvtps2pd", "f", "d"),
                    ("cvtpd2ps", "d", "f")])
                src = X(sk if sk != "i" else None)
                dst = X()
                setk(dst, dk if dk != "i" else "f")
                self.add(Unit(mn, ["%s %s, %s" % (mn, src, dst)]))
        else:
            f = rng.random()
            if f < 0.3:
                mn = rng.choice(["mova", "movu"]) + "p" + ps
                al = 16 if mn.startswith("mova") else 1
                g = rng.random()
                if g < 0.4:
                    line = "%s %s, %s" % (mn, self.slot(kind, 16) if al == 16 or rng.random() < .5
                                          else self.mem(16)[0], X())
                elif g < 0.7:
                    line = "%s %s, %s" % (mn, X(), self.store(16, align=al))
                else:
                    line = "%s %s, %s" % (mn, X(), X())
            elif f < 0.55:
                mn = "movs" + ps
                g = rng.random()
                if g < 0.4:
                    line = "%s %s, %s" % (mn, self.slot(kind, esz), X())
                elif g < 0.7:
                    line = "%s %s, %s" % (mn, X(kind), self.store(esz))
                else:
                    line = "%s %s, %s" % (mn, X(kind), X(kind))
            elif f < 0.75:
                mn = rng.choice(["unpcklp", "unpckhp"]) + ps
                line = "%s %s, %s" % (mn, X(kind), X(kind))
            elif f < 0.9:
                mn = "shufp" + ps
                line = "%s $%d, %s, %s" % (mn, rng.randrange(256 if ps == "s" else 4), X(kind), X(kind))
            else:
                mn = "movmskp" + ps
                line = "%s %s, %s" % (mn, X(kind), reg(self.rreg(), 32))
            self.add(Unit(mn, [line]))

    # ---- x87 ----
    def u_x87(self):
        rng = self.rng
        d = self.depth
        st = lambda n: "%%st(%d)" % n
        choices = []
        if d <= 6:
            choices += ["fld"] * 4 + ["fild", "fldconst"]
        if d >= 1:
            choices += ["fstp", "fst", "fistp", "fist", "arith_m", "fiarith", "unary",
                        "unary", "fcom_m", "fnstsw"]
        if d >= 2:
            choices += ["arith_r", "arith_r", "arith_p", "fcom_r", "fcomi", "fxch",
                        "fstp_r"]
        if d >= 1 and rng.random() < 0.05:
            choices.append("fldcw")
        c = rng.choice(choices)
        sizes_f = {4: "s", 8: "l"}
        sizes_i = {2: "s", 4: "l", 8: "ll"}
        if c == "fld":
            g = rng.random()
            if g < 0.6:
                sz = rng.choice([4, 8, 10])
                if sz == 10:
                    self.emit_x87("fld", "fldt %s" % self.slot("t", 10), +1)
                else:
                    self.emit_x87("fld", "fld%s %s" % (sizes_f[sz], self.slot("f" if sz == 4 else "d", sz)), +1)
            else:
                self.emit_x87("fld", "fld %s" % st(rng.randrange(d) if d else 0), +1) if d else \
                    self.emit_x87("fld", "fld1", +1)
        elif c == "fild":
            sz = rng.choice([2, 4, 8])
            self.emit_x87("fild", "fild%s %s" % (sizes_i[sz], self.slot("i", sz)), +1)
        elif c == "fldconst":
            op = rng.choice(["fld1", "fldz", "fldpi", "fldl2e", "fldl2t", "fldlg2", "fldln2"])
            self.emit_x87(op, op, +1)
        elif c in ("fstp", "fst"):
            sz = rng.choice([4, 8, 10] if c == "fstp" else [4, 8])
            sfx = "t" if sz == 10 else sizes_f[sz]
            self.emit_x87(c, "%s%s %s" % (c, sfx, self.store(sz)), -1 if c == "fstp" else 0)
        elif c in ("fistp", "fist"):
            sz = rng.choice([2, 4, 8] if c == "fistp" else [2, 4])
            self.emit_x87(c, "%s%s %s" % (c, sizes_i[sz], self.store(sz)), -1 if c == "fistp" else 0)
        elif c == "fstp_r":
            self.emit_x87("fstp", "fstp %s" % st(rng.randrange(1, d)), -1)
        elif c == "arith_m":
            op = rng.choice(["fadd", "fsub", "fsubr", "fmul", "fdiv", "fdivr"])
            sz = rng.choice([4, 8])
            self.emit_x87(op, "%s%s %s" % (op, sizes_f[sz], self.slot("f" if sz == 4 else "d", sz)), 0)
        elif c == "fiarith":
            op = rng.choice(["fiadd", "fisub", "fisubr", "fimul", "fidiv", "fidivr"])
            sz = rng.choice([2, 4])
            self.emit_x87(op, "%s%s %s" % (op, sizes_i[sz], self.slot("i", sz)), 0)
        elif c == "arith_r":
            op = rng.choice(["fadd", "fsub", "fsubr", "fmul", "fdiv", "fdivr"])
            i = rng.randrange(1, d)
            if rng.random() < 0.5:
                self.emit_x87(op, "%s %s, %%st" % (op, st(i)), 0)
            else:
                self.emit_x87(op, "%s %%st, %s" % (op, st(i)), 0)
        elif c == "arith_p":
            op = rng.choice(["faddp", "fsubp", "fsubrp", "fmulp", "fdivp", "fdivrp"])
            self.emit_x87(op, "%s %%st, %s" % (op, st(rng.randrange(1, d))), -1)
        elif c == "unary":
            op = rng.choice(["fchs", "fabs", "fsqrt", "frndint", "ftst", "fxam", "fprem",
                             "fscale"] if d >= 2 else ["fchs", "fabs", "fsqrt", "frndint",
                                                         "ftst", "fxam"])
            self.emit_x87(op, op, 0)
        elif c == "fcom_m":
            op = rng.choice(["fcom", "fcomp"])
            sz = rng.choice([4, 8])
            self.emit_x87(op, "%s%s %s" % (op, sizes_f[sz], self.slot("f" if sz == 4 else "d", sz)),
                          -1 if op == "fcomp" else 0)
        elif c == "fcom_r":
            op = rng.choice(["fcom", "fcomp", "fucom", "fucomp", "fcompp", "fucompp"])
            if op.endswith("pp"):
                self.emit_x87(op, op, -2)
            else:
                self.emit_x87(op, "%s %s" % (op, st(rng.randrange(1, d))), -1 if op.endswith("p") else 0)
        elif c == "fcomi":
            op = rng.choice(["fcomi", "fucomi", "fcomip", "fucomip"])
            # ZF PF CF are defined; the SDM clears OF SF AF, QEMU 7.2
            # leaves them alone: compared as undefined (see README).
            self.emit_x87(op, "%s %s, %%st" % (op, st(rng.randrange(1, d))),
                          -1 if op.endswith("p") else 0, defined=ZF | PF | CF,
                          undefined=OF | SF | AF)
        elif c == "fxch":
            self.emit_x87("fxch", "fxch %s" % st(rng.randrange(1, d)), 0)
        elif c == "fnstsw":
            self.emit_x87("fnstsw", "fnstsw %ax", 0)
        elif c == "fldcw":
            o = self.store(2, align=2)
            cw = 0x37f & ~0xc00 | rng.randrange(4) << 10
            self.add(Unit("fldcw", ["movw $%d, %s" % (cw, o), "fldcw %s" % o]))

    def emit_x87(self, mnem, line, delta, defined=0, undefined=0):
        self.depth += delta
        self.add(Unit(mnem, [line]), defined=defined, undefined=undefined)


# ------------------------------------------------------------- assembling

def make_test(seed, cls, units=40, name=None):
    """The test for (seed, class): deterministic in both."""
    import gen_vec  # noqa: E402 (it builds on this module)
    rng = random.Random("%d:%s" % (seed, cls))
    t = Test(name or "%s.%d" % (cls, seed), cls, seed)
    g = gen_vec.GenVec(rng, t)
    g.init_state()
    step = getattr(g, "u_" + cls)
    while sum(1 for u in t.units if not u.aux) < units:
        step()
    return t


def asm_text(tests):
    out = ['\t.section .blob,"a"', "\t.p2align 3",
           "\t.long 0x%x, %d, %d, 0" % (BLOB_MAGIC, BLOB_VERSION, len(tests))]
    for i, t in enumerate(tests):
        traps = [(j, u) for j, u in enumerate(t.units) if u.trap]
        name = t.name.encode()[:23]
        out += ["rec%d:" % i,
                "\t.long rec%d_end - rec%d, %d, code%d_end - code%d, %d, 0x%x, 0x%x" % (
                    i, i, (REC_FPU if t.fpu else 0) | (REC_AVX if t.avx else 0), i, i,
                    len(traps), t.mxcsr, t.fcw),
                "\t.byte " + ", ".join(str(b) for b in name.ljust(24, b"\0")),
                "\t.quad " + ", ".join("0x%x" % v for v in t.gpr),
                "\t.quad 0x%x" % t.rflags,
                "\t.quad " + ", ".join("0x%x" % v for v in t.xmm),
                "\t.quad " + ", ".join("0x%x" % v for v in t.ymmh)]
        q = struct.unpack("<512Q", bytes(t.scratch))
        for k in range(0, 512, 16):
            out.append("\t.quad " + ", ".join("0x%x" % v for v in q[k:k + 16]))
        for j, _ in traps:
            out.append("\t.long t%d_f%d - code%d, t%d_r%d - code%d" % (i, j, i, i, j, i))
        out.append("code%d:" % i)
        for j, u in enumerate(t.units):
            out.append("t%d_u%d:" % (i, j))
            for line in u.lines:
                if line.startswith("!TRAP "):
                    out.append("t%d_f%d:\t%s" % (i, j, line[6:]))
                    out.append("t%d_r%d:" % (i, j))
                else:
                    out.append("\t" + line)
        out += ["t%d_end:" % i, "\tret", "code%d_end:" % i, "\t.p2align 3", "rec%d_end:" % i]
    return "\n".join(out) + "\n"


def assemble(tests, path, keep_asm=None):
    """Writes the blob for tests to path. Returns, per test, the code
    offset where each unit starts (plus the end), for mapping a RIP back to
    a unit."""
    text = asm_text(tests)
    with tempfile.TemporaryDirectory(prefix="difftest-") as d:
        s, o = os.path.join(d, "t.s"), os.path.join(d, "t.o")
        with open(s, "w") as f:
            f.write(text)
        if keep_asm:
            with open(keep_asm, "w") as f:
                f.write(text)
        r = subprocess.run(["as", "--64", "-o", o, s], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("as failed:\n" + r.stderr[:4000])
        subprocess.run(["objcopy", "-O", "binary", "-j", ".blob", o, path], check=True)
        nm = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
    sym = {}
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 3:
            sym[parts[2]] = int(parts[0], 16)
    offsets = []
    for i, t in enumerate(tests):
        base = sym["code%d" % i]
        offs = [sym["t%d_u%d" % (i, j)] - base for j in range(len(t.units))]
        offs.append(sym["t%d_end" % i] - base)
        offsets.append(offs)
    return offsets


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--class", dest="cls", default="alu", choices=CLASSES)
    ap.add_argument("--units", type=int, default=40)
    ap.add_argument("-o", "--output", help="blob file to write")
    ap.add_argument("--asm", help="also write the assembly here")
    a = ap.parse_args()
    t = make_test(a.seed, a.cls, a.units)
    if a.output:
        assemble([t], a.output, keep_asm=a.asm)
    else:
        for j, u in enumerate(t.units):
            print("%3d %s%s" % (j, "(aux) " if u.aux else "", u.text()))


if __name__ == "__main__":
    sys.exit(main())
