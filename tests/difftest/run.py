#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Differential instruction tester: the runner.

For every seed, generates one test per instruction class (gen.py), packs
them into one blob and boots build/guests/difftest.elf with it as the PVH
module on each backend:
  qemu  qemu-system-x86_64 -M microvm -accel tcg  (the reference oracle)
  kvm   vmon run --backend kvm  (the host kernel's instruction emulator
        here: an instruction it cannot emulate ends the run with
        KVM_EXIT_INTERNAL_ERROR; that test is then recorded as "kvm: cannot
        run <insn>" and the rest of the blob runs again without it)
  emu   vmon run --backend emu  (the software CPU under test)
and compares the final state of every test with QEMU's. A test passes when
emu matches QEMU (without an emu backend: when KVM matches QEMU). A
mismatch is bisected to the first unit (instruction plus its set-up) whose
addition makes the states differ; its seed, class, first differing
register and the listing around it are printed, and the failing prefix is
saved for a repro. KVM disagreeing with QEMU is reported as an oracle
disagreement and does not fail the test.

Ends with a coverage report (per class: tests, instructions run, matched)
and the line "N passed, N failed".
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

# -cpu max: every feature TCG has (QEMU 7.2: up to AVX2, FMA, F16C, BMI,
# AES-NI, PCLMULQDQ, XSAVE), which the extension classes need.
QEMU = ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-cpu", "max", "-m", "256",
        "-nographic", "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
RUN_TIMEOUT = 120

# Fields of an FXSAVE image compared for x87 state. FSW: every bit but
# C1 and the derived ES/B summary bits (see README: QEMU 7.2 does not
# compute C1 for arithmetic). Empty registers' contents are not compared.
FSW_MASK = 0xffff & ~0x0200 & ~0x8080


class Backend:
    def __init__(self, name, cmd_fn):
        self.name = name
        self.cmd_fn = cmd_fn

    def run(self, elf, blob, extra_cmdline=None):
        cmd = self.cmd_fn(elf, blob, extra_cmdline)
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=RUN_TIMEOUT)
            out, err, rc = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), \
                p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            err, rc = "timeout after %ds" % RUN_TIMEOUT, -1
        return parse(out, err, rc, self.name)


def qemu_backend():
    def cmd(elf, blob, extra):
        c = QEMU + ["-kernel", elf, "-initrd", blob]
        if extra:
            c += ["-append", extra]
        return c
    return Backend("qemu", cmd)


def vmon_backend(name, vmon, backend):
    def cmd(elf, blob, extra):
        c = [vmon, "run", "--backend", backend, "--kernel", elf, "--initrd", blob]
        if extra:
            c += ["--cmdline", extra]
        return c
    return Backend(name, cmd)


def native_backend(exe, layout):
    def cmd(elf, blob, extra):
        return [exe, blob] + list(layout) + (["dump"] if extra and "dump=1" in extra else [])
    return Backend("native", cmd)


def build_native(root, outdir):
    """Builds tests/difftest/native.c (with the guest's harness) when its
    binary is missing or older than the sources. Returns the path or None."""
    src = [os.path.join(root, "tests/difftest/native.c"),
           os.path.join(root, "guests/difftest/harness.h")]
    exe = os.path.join(outdir, "difftest-native")
    if os.path.exists(exe) and all(os.path.getmtime(exe) >= os.path.getmtime(x) for x in src):
        return exe
    os.makedirs(outdir, exist_ok=True)
    cc = os.environ.get("CC", "gcc")
    tmp = exe + ".tmp%d" % os.getpid()
    r = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", tmp, src[0]],
                       capture_output=True, text=True)
    if r.returncode:
        print("difftest: cannot build the native runner:\n" + r.stderr[-2000:])
        return None
    os.replace(tmp, exe)
    return exe


def guest_layout(elf):
    """The guest's code and scratch buffer addresses, from its symbols."""
    nm = subprocess.run(["nm", elf], capture_output=True, text=True, check=True).stdout
    sym = {l.split()[2]: l.split()[0] for l in nm.splitlines() if len(l.split()) == 3}
    return "0x" + sym["code_buf"], "0x" + sym["scratch"]


class Result:
    def __init__(self):
        self.tests = {}        # name -> {key: value}
        self.order = []
        self.incomplete = None  # name of the test that was running when it ended
        self.ok = False         # reached SUCCESS with the expected status
        self.stderr = ""
        self.rc = None
        self.kvm_unsupported = None  # instruction text
        self.features = None    # the guest's "features=" line, as a set


def parse(out, err, rc, backend):
    r = Result()
    r.stderr, r.rc = err, rc
    cur = None
    for line in out.replace("\r", "").splitlines():
        if line.startswith("difftest: features="):
            r.features = {f for f in line.split("=", 1)[1].split(",") if f}
        elif line.startswith("test="):
            cur = line[5:]
            r.tests[cur] = {}
            r.order.append(cur)
            r.incomplete = cur
        elif line.startswith("endtest="):
            r.incomplete = None
            cur = None
        elif line == "SUCCESS":
            r.ok = rc == (1 if backend == "qemu" else 0)
        elif cur is not None and "=" in line:
            k, v = line.split("=", 1)
            r.tests[cur][k] = v
    if r.incomplete:
        r.tests.pop(r.incomplete, None)
    if "KVM_EXIT_INTERNAL_ERROR" in err:
        m = re.search(r"insn ([0-9a-f ]+)\((.*)\)\s*$", err, re.M)
        r.kvm_unsupported = m.group(2) if m else err.strip().splitlines()[-1][:100]
    return r


def st_valid(fields):
    """Indices i of ST(i) that hold a value (FXSAVE abridged tags)."""
    try:
        top = (int(fields["fsw"], 16) >> 11) & 7
        ftw = int(fields["ftw"], 16)
    except (KeyError, ValueError):
        return set(range(8))
    return {i for i in range(8) if ftw >> ((top + i) & 7) & 1}


LENIENT = {"on": False}
# Printed but not compared: MXCSR_MASK is a property of the CPU model (the
# host here reports 0x2ffff, QEMU 0xffff), not of the instructions.
INFO_KEYS = {"mxcsr_mask"}


def compare(test, k, ref, other):
    """Differences between two outputs of test (prefix of k units):
    list of (key, ref value, other value), in output order."""
    diffs = []
    fsw_mask = FSW_MASK & ~0x7f if LENIENT["on"] else FSW_MASK
    mask = test.flags_mask(k)
    # ST(i) compared where either side holds a value: where the tags
    # differ, the ftw difference alone would hide the values otherwise
    valid = st_valid(ref) | st_valid(other)
    keys = list(ref) + [x for x in other if x not in ref]
    for key in keys:
        if key in INFO_KEYS:
            continue
        a, b = ref.get(key), other.get(key)
        if key == "rflags" and a and b:
            if int(a, 16) & mask != int(b, 16) & mask:
                diffs.append((key, "%s (compared %s)" % (a, flag_names(mask)),
                              "%s (differs: %s)" % (b, flag_names((int(a, 16) ^ int(b, 16)) & mask))))
            continue
        if key == "fsw" and a and b:
            if int(a, 16) & fsw_mask != int(b, 16) & fsw_mask:
                diffs.append((key, a, b))
            continue
        if re.fullmatch(r"st[0-7]", key) and int(key[2]) not in valid:
            continue
        if key == "mxcsr" and LENIENT["on"] and a and b:
            if int(a, 16) & ~0x3f != int(b, 16) & ~0x3f:
                diffs.append((key, a, b))
            continue
        if a != b:
            diffs.append((key, a, b))
    return diffs


def expected(t, k, qf, nf):
    """The expected final state: QEMU's, except where the host CPU (native
    run) disagrees: there the hardware wins (QEMU 7.2 never raises the
    denormal flag, applies x87 NaN rules to SSE, ...), and where QEMU died
    on the test (qf None): then it is the host CPU's. Returns (fields,
    QEMU-vs-hardware differences)."""
    if qf is None:
        return nf, []
    if nf is None:
        return qf, []
    d = compare(t, k, qf, nf)
    if not d:
        return qf, []
    exp = dict(qf)
    for key, _, _ in d:
        if key in nf:
            exp[key] = nf[key]
        else:
            exp.pop(key, None)
    return exp, d


def lacks(res, cls):
    """The features class cls needs that the run res did not report (None:
    nothing known, e.g. the run failed early)."""
    if res is None or res.features is None:
        return set()
    return gen.CLASS_NEEDS.get(cls, set()) - res.features


def flag_names(bits):
    return "|".join(n for b, n in gen.FLAG_NAMES if bits & b) or "none"


class Stats:
    def __init__(self, classes):
        self.lock = threading.Lock()
        self.per = {c: dict(tests=0, insns=0, matched=0, skipped=0, kvm_tests=0, kvm_insns=0,
                            native_insns=0, disagree=0, hw=0, qemu_died=0,
                            kvm_unsupported={}, failed=0, mnems={}) for c in classes}
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.disagreements = 0
        self.hw_overrules = 0


def run_units(t):
    return sum(1 for u in t.units if not u.aux)


class Runner:
    def __init__(self, args, backends, elf, workdir, outdir):
        self.a = args
        self.backends = backends  # dict name -> Backend
        self.elf = elf
        self.work = workdir
        self.out = outdir
        self.stats = Stats(args.classes)
        self.print_lock = threading.Lock()
        self.kvm_skip = {}  # class -> instruction KVM could not run (twice)
        self.kvm_fail_count = {}
        self.qemu_died = {}  # test name -> QEMU's exit status when it died in it

    def log(self, text):
        with self.print_lock:
            print(text, flush=True)

    def blob(self, tests, tag):
        path = os.path.join(self.work, "%s.blob" % tag)
        offsets = gen.assemble(tests, path)
        return path, offsets

    def run_kvm(self, tests, tag):
        """Runs tests on KVM, dropping (and recording) each test whose
        instructions KVM cannot emulate. Returns {name: fields},
        {name: unsupported insn}."""
        kvm = self.backends["kvm"]
        results, unsupported = {}, {}
        todo = [t for t in tests if t.cls not in self.kvm_skip]
        for t in tests:
            if t.cls in self.kvm_skip:
                unsupported[t.name] = self.kvm_skip[t.cls]
        attempt = 0
        while todo:
            attempt += 1
            path, _ = self.blob(todo, "%s-kvm%d" % (tag, attempt))
            r = kvm.run(self.elf, path)
            for t in todo:
                miss = lacks(r, t.cls)
                if miss:
                    r.tests.pop(t.name, None)
                    unsupported[t.name] = "KVM here does not offer " + ",".join(sorted(miss))
            results.update(r.tests)
            if r.ok:
                break
            if r.incomplete is None or not r.kvm_unsupported:
                self.log("kvm: %s: run failed (status %s): %s" % (
                    tag, r.rc, r.stderr.strip()[-300:]))
                for t in todo:
                    if t.name not in results:
                        unsupported[t.name] = "run failed"
                break
            bad = next(t for t in todo if t.name == r.incomplete)
            unsupported[bad.name] = r.kvm_unsupported
            with self.stats.lock:
                n = self.kvm_fail_count.get(bad.cls, 0) + 1
                self.kvm_fail_count[bad.cls] = n
                if n >= self.a.kvm_give_up:
                    self.kvm_skip[bad.cls] = r.kvm_unsupported
            i = todo.index(bad)
            todo = [t for t in todo[i + 1:] if t.cls not in self.kvm_skip]
        return results, unsupported

    def run_qemu(self, tests, tag, path):
        """Runs the blob on QEMU. Where QEMU itself dies in a test (QEMU 7.2
        takes SIGFPE on a 32-bit IDIV of 0x80000000:00000000 by -1: it
        divides INT64_MIN by -1 on the host), that test is recorded in
        self.qemu_died, and the rest of the blob runs again without it, so
        the other classes keep their reference."""
        Q = self.backends["qemu"]
        r = Q.run(self.elf, path)
        todo, attempt = list(tests), 0
        cur = r
        while not cur.ok and cur.incomplete is not None and cur.rc is not None and cur.rc < 0:
            with self.stats.lock:
                self.qemu_died[cur.incomplete] = cur.rc
            self.log("note: qemu died (status %d) in test %s: the host CPU's state is expected "
                     "there; the rest of the blob runs again without it" % (cur.rc, cur.incomplete))
            i = next(k for k, t in enumerate(todo) if t.name == cur.incomplete)
            todo = todo[i + 1:]
            if not todo:
                r.ok = True
                break
            attempt += 1
            p2, _ = self.blob(todo, "%s-qemu%d" % (tag, attempt))
            cur = Q.run(self.elf, p2)
            r.tests.update(cur.tests)
            r.ok, r.rc, r.stderr = cur.ok, cur.rc, cur.stderr
        return r

    def seed_task(self, seed):
        tests = [gen.make_test(seed, c, self.a.units) for c in self.a.classes]
        tag = "s%d" % seed
        path, offsets = self.blob(tests, tag)
        outs = {}
        for name in ("qemu", "emu", "native"):
            if name in self.backends:
                if name == "qemu":
                    outs[name] = self.run_qemu(tests, tag, path)
                else:
                    outs[name] = self.backends[name].run(self.elf, path)
                if not outs[name].ok:
                    self.log("%s did not finish seed %d (status %s): %s" % (
                        name, seed, outs[name].rc, outs[name].stderr.strip()[-300:]))
        kvm_res, kvm_uns = ({}, {})
        if "kvm" in self.backends:
            kvm_res, kvm_uns = self.run_kvm(tests, tag)
        for ti, t in enumerate(tests):
            others = {}
            if "kvm" in self.backends:
                others["kvm"] = kvm_res.get(t.name)
            if "native" in outs:
                others["native"] = outs["native"].tests.get(t.name)
            self.judge(t, offsets[ti], outs["qemu"], outs.get("emu"), others, kvm_uns)

    def judge(self, t, offs, ref, emu, others, kvm_uns):
        """Verdict for one test. The expected state is QEMU's, overruled by
        the host CPU where that ran and disagrees (reported, never a
        failure). With emu: emu must match the expected state. Without emu:
        KVM must, where it could run the test (else the test is skipped)."""
        st = self.stats
        n = run_units(t)
        k = len(t.units)
        rf = ref.tests.get(t.name)
        problems = []
        nf = others.get("native")
        if rf is None and (nf is None or t.name not in self.qemu_died):
            problems.append("qemu produced no result (status %s): %s" % (
                ref.rc, ref.stderr.strip()[-200:]))
        elif rf is None:
            with st.lock:
                st.per[t.cls]["qemu_died"] += 1
        exp, hw = expected(t, k, rf, nf)
        if hw:
            with st.lock:
                st.hw_overrules += 1
                st.per[t.cls]["hw"] += 1
            self.report(t, offs, "native", hw, nf, rf, kind="hw")
        kvm_ok = None
        kf = others.get("kvm")
        if exp is not None and kf is not None:
            d = compare(t, k, exp, kf)
            kvm_ok = not d
            if d:
                with st.lock:
                    st.disagreements += 1
                    st.per[t.cls]["disagree"] += 1
                self.report(t, offs, "kvm", d, kf, exp, kind="mismatch" if emu is None else "oracle")
        ok = False
        skipped = False
        emu_lacks = lacks(emu, t.cls)
        if emu is not None and emu_lacks:
            # the software CPU does not offer it on this host (its FP unit
            # lacks what it would run these on): nothing to judge
            skipped = True
            with st.lock:
                st.per[t.cls].setdefault("emu_lacks", set()).update(emu_lacks)
        elif emu is not None:
            ef = emu.tests.get(t.name)
            if ef is None:
                problems.append("emu produced no result (status %s): %s" % (
                    emu.rc, emu.stderr.strip()[-200:]))
            elif exp is not None:
                d = compare(t, k, exp, ef)
                ok = not d
                if d:
                    self.report(t, offs, "emu", d, ef, exp, kind="mismatch", stderr=emu.stderr)
        elif kvm_ok is None:
            skipped = exp is not None
        else:
            ok = kvm_ok
        for p in problems:
            self.log("FAIL %s: %s" % (t.name, p))
        with st.lock:
            c = st.per[t.cls]
            c["tests"] += 1
            c["insns"] += n
            if skipped:
                # no emu backend and KVM could not run it: nothing of vmon's
                # was compared
                c["skipped"] += 1
                st.skipped += 1
            elif ok:
                c["matched"] += n
                st.passed += 1
            else:
                c["failed"] += 1
                st.failed += 1
            if kvm_ok is not None:
                c["kvm_tests"] += 1
                c["kvm_insns"] += n if kvm_ok else 0
            if nf is not None:
                c["native_insns"] += n if not hw else 0
            if t.name in kvm_uns:
                u = kvm_uns[t.name]
                c["kvm_unsupported"][u] = c["kvm_unsupported"].get(u, 0) + 1
            for u in t.units:
                if not u.aux:
                    m = c["mnems"].setdefault(u.mnem, [0, 0])
                    m[0] += 1
                    m[1] += 1 if ok else 0
        if self.a.verbose:
            self.log("%s %s" % ("skip" if skipped else "ok  " if ok else "FAIL", t.name))

    # ---- mismatch reports ----
    def bisect(self, t, who):
        """Smallest k such that after the first k units `who` differs from
        the expected state (QEMU's, overruled by the host CPU; for who =
        native: from QEMU's), with k-1 units agreeing. None if the whole
        test agrees when run alone. Returns (k, diffs, expected fields,
        who's fields, expected fields before unit k)."""
        B = self.backends[who]
        N = self.backends.get("native") if who != "native" else None
        Q = self.backends["qemu"]

        def probe(k):
            p = t.prefix(k)
            path, _ = self.blob([p], "bis-%s-%s-%d" % (t.name, who, k))
            fq = Q.run(self.elf, path).tests.get(t.name)
            fb = B.run(self.elf, path).tests.get(t.name)
            if N is not None:
                fq, _ = expected(t, k, fq, N.run(self.elf, path).tests.get(t.name))
            if fq is None or fb is None:
                return [("result", "missing" if fq is None else "ok",
                         "missing" if fb is None else "ok")], fq, fb
            return compare(t, k, fq, fb), fq, fb

        hi = len(t.units)
        d, fa, fb = probe(hi)
        if not d:
            return None
        lo = 0
        best = (hi, d, fa, fb)
        before = None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            d, fa, fb = probe(mid)
            if d:
                hi = mid
                best = (mid, d, fa, fb)
            else:
                lo = mid
                before = fa
        if before is None:
            before = probe(lo)[1]
        return best + (before,)

    def report(self, t, offs, who, diffs, theirs, ref, kind, stderr=""):
        """kind: mismatch (fails the test), oracle (KVM disagrees while emu
        is judged), hw (QEMU disagrees with the host CPU: one line unless
        --verbose)."""
        lines = []
        ref_name = "qemu" if kind == "hw" else "expected"
        title = {"mismatch": "MISMATCH %s" % who, "oracle": "oracle disagreement: %s" % who,
                 "hw": "qemu vs host CPU (the host CPU is taken)"}[kind]
        if kind == "hw" and not self.a.verbose:
            found = self.bisect(t, who) if self.a.bisect else None
            where = ("unit %d `%s`" % (found[0] - 1, t.units[found[0] - 1].text())) if found else \
                "(whole test)"
            d = found[1] if found else diffs
            self.log("note: %s: seed %d class %s %s: %s" % (
                title, t.seed, t.cls, where, "; ".join(
                    "%s qemu %s, host %s" % x for x in d[:2])))
            return
        lines.append("---- %s: seed %d class %s (test %s)" % (title, t.seed, t.cls, t.name))
        key, rv, ov = diffs[0]
        lines.append("  first difference: %s: %s %s, %s %s%s" % (
            key, ref_name, rv, who, ov, "" if len(diffs) == 1 else " (+%d more)" % (len(diffs) - 1)))
        for k2, a, b in diffs[1:6]:
            lines.append("    also %s: %s %s, %s %s" % (k2, ref_name, a, who, b))
        exc = theirs.get("exc", "none")
        if exc != "none" and exc != ref.get("exc"):
            m = re.match(r"(\d+)@([0-9a-f]+)", exc)
            if m:
                off = int(m.group(2), 16)
                j = max(i for i, o in enumerate(offs) if o <= off) if off >= offs[0] else 0
                if j < len(t.units):
                    lines.append("  %s faulted (vector %s) in unit %d: %s" % (
                        who, m.group(1), j, t.units[j].text()))
        if stderr:
            for l in stderr.strip().splitlines()[:3]:
                lines.append("  %s stderr: %s" % (who, l))
        found = None
        if self.a.bisect and who in self.backends:
            found = self.bisect(t, who)
        if found:
            k, d, fa, fb, before = found
            u = t.units[k - 1]
            lines.append("  bisected: unit %d is the first to differ: %s" % (k - 1, u.text()))
            key, rv, ov = d[0]
            lines.append("    state after it: %s: %s %s, %s %s%s" % (
                key, ref_name, rv, who, ov, "" if len(d) == 1 else " (+%d more)" % (len(d) - 1)))
            for k2, a, b in d[1:4]:
                lines.append("    also %s: %s %s, %s %s" % (k2, ref_name, a, who, b))
            if before:
                lines.append("    state before it (both agree): " + ", ".join(
                    "%s=%s" % (r, before.get(r)) for r in self.inputs_of(u) if before.get(r)))
            lo = max(0, k - 4)
            lines.append("  listing (units %d..%d of %d):" % (lo, k - 1, len(t.units)))
            for j in range(lo, k):
                lines.append("    %s%3d  %s%s" % ("=>" if j == k - 1 else "  ", j,
                                                 "(aux) " if t.units[j].aux else "",
                                                 t.units[j].text()))
            rp = self.save_repro(t, k, who)
            lines.append("  repro: " + rp)
        else:
            lines.append("  listing:")
            for j, uu in enumerate(t.units):
                lines.append("    %3d  %s%s" % (j, "(aux) " if uu.aux else "", uu.text()))
            if self.a.bisect and who in self.backends:
                lines.append("  (the difference does not reproduce when the test runs alone)")
        self.log("\n".join(lines))

    def inputs_of(self, u):
        regs = set(re.findall(r"%([a-z0-9]+)", u.text()))
        out = []
        for i, n in enumerate(gen.GPR64):
            names = {n, gen.GPR32[i], gen.GPR16[i], gen.GPR8[i]}
            if i < 4:
                names.add(gen.HIGH8[i])
            if regs & names and n != "rsp":
                out.append(n)
        out.append("rflags")
        for x in sorted({int(m) for m in re.findall(r"%[xy]mm(\d+)", u.text())}):
            out.append("xmm%d" % x)
            out.append("ymmh%d" % x)
        return out

    def save_repro(self, t, k, who):
        os.makedirs(self.out, exist_ok=True)
        base = os.path.join(self.out, "%s-%s-u%d" % (t.name.replace(".", "-s"), who, k - 1))
        p = t.prefix(k)
        gen.assemble([p], base + ".blob", keep_asm=base + ".s")
        if who == "native":
            run = "%s %s.blob %s" % (self.a.native_display, base, " ".join(self.layout))
        else:
            vm = {"emu": "%s run --backend emu" % self.a.emu_vmon_display,
                  "kvm": "%s run --backend kvm" % self.a.vmon}[who]
            run = "%s --kernel %s --initrd %s.blob" % (vm, self.elf, base)
        return "%s  (vs: %s -kernel %s -initrd %s.blob; asm in %s.s)" % (
            run, " ".join(QEMU), self.elf, base, base)

    def coverage(self):
        st = self.stats
        lines = ["", "coverage (instructions = generated instructions of interest; set-up "
                 "and flag-refresh instructions not counted):",
                 "  %-8s %6s %7s %8s %8s  %s" % ("class", "tests", "insns", "matched", "failed",
                                                "other oracles: insns that agreed with qemu")]
        for c in self.a.classes:
            p = st.per[c]
            kvm = "%d in %d tests" % (p["kvm_insns"], p["kvm_tests"])
            if "native" in self.backends:
                kvm = "native: %d; kvm: %s" % (p["native_insns"], kvm)
            if p["disagree"]:
                kvm += "; kvm disagreed in %d tests" % p["disagree"]
            if p["hw"]:
                kvm += "; host CPU overruled qemu in %d tests" % p["hw"]
            if p["qemu_died"]:
                kvm += "; qemu died in %d tests (host CPU taken)" % p["qemu_died"]
            if p["kvm_unsupported"]:
                top = sorted(p["kvm_unsupported"].items(), key=lambda x: -x[1])[:2]
                kvm += "; could not run %d (e.g. %s)" % (
                    sum(p["kvm_unsupported"].values()), ", ".join(u for u, _ in top))
            if p["skipped"]:
                kvm += "; %d tests not compared" % p["skipped"]
            if p.get("emu_lacks"):
                kvm += " (emu does not offer %s here)" % ",".join(sorted(p["emu_lacks"]))
            lines.append("  %-8s %6d %7d %8d %8d  %s" % (c, p["tests"], p["insns"], p["matched"],
                                                      p["failed"], kvm))
            if self.a.mnemonics:
                ms = sorted(p["mnems"].items())
                lines.append("           " + ", ".join(
                    "%s %d/%d" % (m, v[1], v[0]) for m, v in ms))
        lines.append("backends: qemu (reference), " + ", ".join(
            b for b in ("emu", "kvm", "native") if b in self.backends))
        if st.hw_overrules:
            lines.append("qemu disagreed with the host CPU in %d tests: the host CPU's values were "
                         "expected there" % st.hw_overrules)
        if st.disagreements and "emu" in self.backends:
            lines.append("kvm disagreed with the expected state in %d tests (not held against "
                         "emu)" % st.disagreements)
        return "\n".join(lines)


def vmon_has_emu(vmon, elf):
    if not vmon or not os.path.exists(vmon):
        return False
    p = subprocess.run([vmon, "run", "--backend", "emu", "--kernel", elf],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return p.returncode == 0 and b"SUCCESS" in p.stdout


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    ap = argparse.ArgumentParser(description="vmon differential instruction tester")
    ap.add_argument("--seeds", type=int, default=int(os.environ.get("SEEDS", "10")),
                    help="number of seeds (env SEEDS; default 10)")
    ap.add_argument("--first-seed", type=int, default=int(os.environ.get("FIRST_SEED", "1")))
    ap.add_argument("--classes", default=os.environ.get("CLASSES", ",".join(gen.CLASSES)),
                    help="comma-separated classes (env CLASSES): " + ",".join(gen.CLASSES))
    ap.add_argument("--units", type=int, default=int(os.environ.get("UNITS", "40")),
                    help="instructions of interest per test (default 40)")
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--vmon", help="vmon for the kvm backend (default BUILD/vmon)")
    ap.add_argument("--emu-vmon", default=os.environ.get("EMU_VMON"),
                    help="vmon for the emu backend (env EMU_VMON; default BUILD/vmon "
                         "when it has --backend emu)")
    ap.add_argument("--no-kvm", action="store_true")
    ap.add_argument("--no-emu", action="store_true")
    ap.add_argument("--no-native", action="store_true",
                    help="do not run the snippets on the host CPU as a third oracle")
    ap.add_argument("--no-bisect", dest="bisect", action="store_false")
    ap.add_argument("--kvm-give-up", type=int, default=2,
                    help="stop trying a class on KVM after it failed to emulate it N times")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", help="where repro blobs go (default BUILD/difftest)")
    ap.add_argument("--mnemonics", action="store_true", help="per-mnemonic coverage")
    ap.add_argument("--class-results", action="store_true",
                    help="also print one 'class NAME passed=N failed=N skipped=N insns=N' "
                         "line per class (for tests/integration/difftest.sh)")
    ap.add_argument("--lenient-fp-flags", action="store_true",
                    help="diagnosis only: ignore the x87/SSE exception flags in FSW and MXCSR "
                         "(FNSTSW results still count), to see past a backend that lacks them")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    os.chdir(root)
    a.classes = [c for c in a.classes.split(",") if c]
    LENIENT["on"] = a.lenient_fp_flags
    bad = [c for c in a.classes if c not in gen.CLASSES]
    if bad:
        ap.error("unknown class %s (classes: %s)" % (",".join(bad), ",".join(gen.CLASSES)))
    elf = os.path.join(a.build, "guests", "difftest.elf")
    if not os.path.exists(elf):
        ap.error("%s is missing: run make first" % elf)
    a.vmon = a.vmon or os.path.join(a.build, "vmon")
    a.emu_vmon_display = a.emu_vmon or a.vmon
    out = a.out or os.path.join(a.build, "difftest")

    backends = {}
    if shutil.which(QEMU[0]) is None:
        print("difftest: %s is not installed: QEMU is the reference oracle" % QEMU[0])
        return 2
    backends["qemu"] = qemu_backend()
    work = tempfile.mkdtemp(prefix="vmon-difftest.")
    try:
        if not a.no_emu:
            cand = a.emu_vmon or a.vmon
            if vmon_has_emu(cand, elf):
                # a private copy: the tree it came from may be rebuilt meanwhile
                priv = os.path.join(work, "vmon-emu")
                shutil.copy(cand, priv)
                a.emu_vmon_display = cand
                backends["emu"] = vmon_backend("emu", priv, "emu")
            else:
                print("difftest: no emu backend in %s (set EMU_VMON or --emu-vmon)" % cand)
        if not a.no_kvm and os.access("/dev/kvm", os.R_OK | os.W_OK) and os.path.exists(a.vmon):
            backends["kvm"] = vmon_backend("kvm", a.vmon, "kvm")
        layout = guest_layout(elf)
        a.native_display = None
        if not a.no_native:
            exe = build_native(root, out)
            if exe:
                backends["native"] = native_backend(exe, layout)
                a.native_display = exe
        if len(backends) < 2:
            print("difftest: only QEMU is available: nothing to compare")
            return 2
        print("difftest: seeds %d..%d, classes %s, %d instructions each; backends: %s" % (
            a.first_seed, a.first_seed + a.seeds - 1, ",".join(a.classes), a.units,
            ", ".join(backends)), flush=True)
        r = Runner(a, backends, elf, work, out)
        r.layout = layout
        seeds = range(a.first_seed, a.first_seed + a.seeds)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
            for f in [ex.submit(r.seed_task, s) for s in seeds]:
                f.result()
        print(r.coverage())
        if a.class_results:
            for c in a.classes:
                p = r.stats.per[c]
                why = ""
                if p.get("emu_lacks"):
                    why = " why=the-emu-backend-does-not-offer-%s-on-this-host" % "+".join(
                        sorted(p["emu_lacks"]))
                print("class %s passed=%d failed=%d skipped=%d insns=%d%s" % (
                    c, p["tests"] - p["failed"] - p["skipped"], p["failed"], p["skipped"],
                    p["insns"], why))
        if r.stats.skipped:
            print("%d tests not compared (no emu backend, and KVM cannot run them)" %
                  r.stats.skipped)
        print("%d passed, %d failed" % (r.stats.passed, r.stats.failed))
        return 0 if r.stats.failed == 0 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
