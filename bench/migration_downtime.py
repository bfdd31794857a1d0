"""Live-migration downtime and total time, vmon against QEMU (issue 14's
benchmark): the default Linux guest (make guest) with 256 MiB and with
2 GiB of RAM, migrated between two processes on this host over loopback
TCP, idle (a fresh shell) and busy (the guest rewriting 16 MiB of its
tmpfs with random data in a loop, started before the first busy hop and
running throughout):

  emu→emu   vmon's software CPU, and in the same run QEMU TCG (the same
            bzImage and initramfs, -M pc -nodefaults, `-incoming
            tcp:...` on the target, QMP `migrate` on the source);
  kvm→kvm   vmon's KVM backend on both ends;
  emu→kvm, kvm→emu   across backends: one guest, booted on KVM, hopping
            back and forth, its CPU pinned to x86-64-v2 (--cpu-features)
            so that both backends can give it, and `no5lvl nopv` on its
            command line (ACROSS_CMDLINE below).

The KVM rows need a KVM that runs Linux (vmx/svm with kvm_intel/kvm_amd
and a usable /dev/kvm); without one they are skipped with the reason
printed. `make bench-kvm` runs them on a real KVM: directly on a host
with VT-x/AMD-V, else inside the nested L1 machine of `make test-kvm`
(QEMU TCG with emulated SVM, tests/nested/README.md), where the guest is
an L2 under an emulated CPU: its absolute times say little. Called by
bench.py (make bench); `bench/run.sh --only migration-downtime` runs it
alone, and `python3 bench/migration_downtime.py --help` names its knobs
(sizes, chains, runs).

For emu→emu both VMMs boot their guest once (not timed); then the hops
alternate, vmon's then QEMU's, `runs` times per mode, each target
becoming the next source, the other VMM's guest paused meanwhile (`vmon
pause`, QMP `stop`) so that it takes no CPU from the hop. The KVM chains
run alone, one guest each (the across chain hops 2 × runs times per
mode, each direction `runs` times). Two downtime figures per hop:

  own     each VMM's: vmon's summary line (from before the pause to the
          target's word that the guest runs), QEMU's `query-migrate`
          `downtime` (from its stop to the end of the stream: its
          target's loading of the device state and resume are not in it)
  ticker  the guest's: each guest runs a ticker (a shell loop printing
          a line, then sleeping 1 ms without a fork); this script stamps
          every chunk of the consoles' output as it arrives and takes the
          time between the last tick the source printed and the first
          the target printed. The guests' clocks do not see the pause
          (both VMMs carry the clock over), so the gap is the pause as
          the guest's output shows it outside, plus up to one tick: the
          table gives the median interval between ticks before the hop
          beside it (on the software CPUs of a loaded host, tens of ms,
          not 1).

Totals: vmon's summary (`PUT /migrate` to the target running), QEMU's
`total-time`; bytes: vmon's stream, QEMU's `ram.transferred`. Touched
memory (vmon only): the source process's RssShmem right before the hop,
the pages of the guest's RAM memfd that exist (vmon's round 0 skips the
holes); the issue's floor is traffic ≤ 1.1× that for an idle guest. Both
use a 300 ms downtime budget (their defaults); QEMU's bandwidth cap is
lifted (`max-bandwidth` 10 GiB/s: its default, 128 MiB/s, would throttle
it and vmon has none). A QEMU migration that has not completed after
300 s (a guest dirtying faster than the link: QEMU has no round cap) is
cancelled and counted as not converged. Both ends and the guest share
the host's CPUs: on a loaded host (a 2-core CI machine) the figures are
that host's.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from migration import free_port, hop, listening
from snapshot_restore import PROMPT, Guest

BUSY_CMD = (b"(while :; do dd if=/dev/urandom of=/tmp/busy bs=1M count=16 conv=notrunc "
            b"2>/dev/null; done) & echo B$((1+1))Y\n")
BUSY_MARK = b"B2Y"
QEMU_WAIT_S = 300
# Waits for the guests (boot, ticker, busy loop, first tick after a hop)
# are multiplied by this: make bench-kvm's nested L1 runs the software CPU
# under TCG (its Linux boots take minutes there).
SLOW = float(os.environ.get("BENCH_TIME_SCALE", "1"))
# The ticker: a shell loop that prints a line and sleeps 1 ms without a
# fork (`read -t` on a FIFO opened read-write: nothing ever comes, the
# timeout is the sleep; busybox's usleep forks, ~10 ticks/s under emu).
TICK_CMD = (b"mkfifo /tmp/tkf; (t=tk; while :; do echo \":$t:\"; read -t 0.001 x <> /tmp/tkf; "
            b"done) &\n")
TICK = b":tk:"


class TimedGuest(Guest):
    """A Guest whose console output a thread reads as it comes, each chunk
    stamped with time.monotonic() (the ticker's gap across a hop)."""

    def __init__(self, cmd):
        super().__init__(cmd)
        self.chunks = []  # (time, end offset in buf)
        self.cond = threading.Condition()
        self.eof = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        fd = self.p.stdout.fileno()
        while True:
            try:
                b = os.read(fd, 65536)
            except OSError:
                b = b""
            t = time.monotonic()
            with self.cond:
                if not b:
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.buf += b
                self.chunks.append((t, len(self.buf)))
                self.cond.notify_all()

    def wait_for(self, what, timeout=300):
        deadline = time.perf_counter() + timeout
        with self.cond:
            start = len(self.buf)
            while True:
                if what in self.buf[max(0, start - len(what)):]:
                    return time.perf_counter() - self.t0
                left = deadline - time.perf_counter()
                if self.eof or left <= 0:
                    return None
                self.cond.wait(left)

    def ticks(self):
        """The arrival time of every tick line so far."""
        with self.cond:
            buf, chunks = self.buf, list(self.chunks)
        out, i, pos = [], 0, buf.find(TICK)
        while pos >= 0:
            end = pos + len(TICK)
            while chunks[i][1] < end:
                i += 1
            out.append(chunks[i][0])
            pos = buf.find(TICK, end)
        return out

    def drained(self, timeout=30):
        """Waits for the end of its output (the process exited)."""
        self.reader.join(timeout)


def boot_timed(cmd):
    g = TimedGuest(cmd)
    if g.wait_for(PROMPT, timeout=300 * SLOW) is None:
        g.stop()
        return None
    return g


def tick_gap(src, tgt, src_ended=True):
    """(ms between the source's last tick and the target's first, the
    median ms between the source's ticks in the 2 s before its last: the
    resolution of the first), or (None, None) if either has no tick. A
    vmon source has exited (its output is drained); a QEMU source stays,
    stopped: its last tick came before the target's first."""
    if tgt.wait_for(TICK, timeout=60 * SLOW) is None and not tgt.ticks():
        return None, None
    if src_ended:
        src.drained()
    a, b = src.ticks(), tgt.ticks()
    if not a or not b:
        return None, None
    before = [x for x in a if x >= a[-1] - 2]
    iv = [(y - x) * 1000 for x, y in zip(before, before[1:])]
    return (b[0] - a[-1]) * 1000, statistics.median(iv) if iv else None


class Qmp:
    """A QMP connection (the greeting read, capabilities negotiated)."""

    def __init__(self, path, timeout=60):
        deadline = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.s.settimeout(timeout)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            line = self.f.readline()
            if not line:
                raise OSError("QMP connection closed")
            r = json.loads(line)
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise OSError(r["error"].get("desc", "QMP error"))

    def close(self):
        self.f.close()
        self.s.close()


def qemu_cmd(build, qmp, extra, mib):
    """QEMU TCG, the pc machine without default devices (-M microvm with
    this kernel stalls in its timer calibration under TCG here), the
    guest's console on stdio, QMP on qmp."""
    g_dir = os.path.join(build, "guest")
    return ["qemu-system-x86_64", "-accel", "tcg", "-M", "pc", "-m", str(mib), "-nodefaults",
            "-display", "none", "-serial", "stdio", "-monitor", "none",
            "-qmp", f"unix:{qmp},server=on,wait=off", "-no-reboot",
            "-kernel", os.path.join(g_dir, "bzImage"),
            "-initrd", os.path.join(g_dir, "initramfs.cpio.gz"),
            "-append", "console=ttyS0 quiet"] + extra


def vmon_cmd(build, vid, mib, backend, cpu=None, cmdline=""):
    g_dir = os.path.join(build, "guest")
    return ([os.path.join(build, "vmon"), "run", "--backend", backend, "--mem", f"{mib}M",
             "--id", vid, "--kernel", os.path.join(g_dir, "bzImage"),
             "--initrd", os.path.join(g_dir, "initramfs.cpio.gz"),
             "--cmdline", ("console=ttyS0 quiet " + cmdline).strip()]
            + (["--cpu-features", cpu] if cpu else []))


def kvm_reason():
    """Why vmon's KVM backend cannot run the Linux guest here (None if it
    can): the test suite's rule (tests/integration/linux_kvm.sh)."""
    try:
        cpu = open("/proc/cpuinfo").read()
    except OSError:
        cpu = ""
    if not re.search(r"\b(vmx|svm)\b", cpu) or not any(
            os.path.exists(f"/sys/module/{m}") for m in ("kvm_intel", "kvm_amd")):
        return "no hardware virtualization on this host (no vmx/svm with kvm_intel/kvm_amd)"
    dev = os.environ.get("VMON_KVM_DEVICE") or "/dev/kvm"
    if not os.access(dev, os.R_OK | os.W_OK):
        return f"{dev} is not usable here"
    return None


def shmem_bytes(pid):
    """The process's RssShmem (the guest RAM memfd's pages that exist), or
    None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssShmem:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def vmon_hop(vmon, env, src, src_id, dst_id, backend):
    """src to a new target on backend (migration.hop, plain TCP); (target,
    (downtime ms, total ms, bytes, ticker gap ms, tick interval ms,
    touched bytes), why)."""
    touched = shmem_bytes(src.p.pid)
    tgt, fig, why = hop(vmon, env, src, src_id, dst_id, None, guest=TimedGuest,
                        target_args=["--backend", backend])
    if not fig:
        return tgt, None, why
    return tgt, (fig[3], fig[4], fig[2]) + tick_gap(src, tgt) + (touched,), why


def qemu_hop(build, src, src_qmp, work, n, mib):
    """src (with its QMP socket) to a new QEMU target; (target, its QMP
    path, (downtime ms, total ms, bytes, ticker gap ms, tick interval
    ms, None), why)."""
    port = free_port()
    qmp_path = os.path.join(work, f"qmp-{n}")
    tgt = TimedGuest(qemu_cmd(build, qmp_path, ["-incoming", f"tcp:127.0.0.1:{port}"], mib))
    if not listening(port):
        tgt.stop()
        return None, None, None, "the QEMU target did not listen"
    q = Qmp(src_qmp)
    try:
        q.cmd("migrate-set-parameters", **{"max-bandwidth": 10 << 30, "downtime-limit": 300})
        q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
        t0 = time.time()
        while True:
            st = q.cmd("query-migrate")
            if st.get("status") == "completed":
                break
            if st.get("status") in ("failed", "cancelled"):
                tgt.stop()
                return None, None, None, f"QEMU migration {st.get('status')}"
            if time.time() - t0 > QEMU_WAIT_S:
                q.cmd("migrate_cancel")
                tgt.stop()
                return None, None, None, f"QEMU did not converge in {QEMU_WAIT_S} s"
            time.sleep(0.05)
    finally:
        q.close()
    gap = tick_gap(src, tgt, src_ended=False)
    src.stop()
    fig = (st.get("downtime", 0), st.get("total-time", 0),
           st.get("ram", {}).get("transferred", 0)) + gap + (None,)
    return tgt, qmp_path, fig, None


class Vmm:
    """One VMM's guest across its hops: boot, ticker, busy loop, paused
    while the other VMM hops. For vmon, backends: the backend it boots on
    and those of its targets, in turn (["emu"], ["kvm"], or ["emu",
    "kvm"]: back and forth); cpu: its --cpu-features."""

    def __init__(self, name, build, work, mib, backends=("emu",), cpu=None, cmdline=""):
        self.name, self.build, self.work, self.mib = name, build, work, mib
        self.backends, self.cpu, self.cmdline = list(backends), cpu, cmdline
        self.res = {}  # (mode, "a→b") -> [figures]
        self.why = None
        self.g = None
        self.n = 0

    def backend(self, n):
        return self.backends[n % len(self.backends)]

    def start(self):
        if self.name == "vmon":
            self.vmon = os.path.abspath(os.path.join(self.build, "vmon"))
            self.env = dict(os.environ, VMON_RUNTIME_DIR=os.path.join(self.work, "run"))
            os.environ["VMON_RUNTIME_DIR"] = self.env["VMON_RUNTIME_DIR"]
            self.vid = f"bench-dt-{os.getpid()}-{self.mib}-{self.backends[-1]}-0"
            self.g = boot_timed(vmon_cmd(self.build, self.vid, self.mib, self.backend(0),
                                         self.cpu, self.cmdline))
        else:
            if not shutil.which("qemu-system-x86_64"):
                self.why = "no qemu-system-x86_64 (scripts/setup.sh installs qemu-system-x86)"
                return
            self.qmp = os.path.join(self.work, f"qmp-{self.mib}-0")
            self.g = boot_timed(qemu_cmd(self.build, self.qmp, [], self.mib))
        if not self.g:
            self.why = f"the {self.name} guest did not reach its shell"
            return
        self.g.send(TICK_CMD)
        if self.g.wait_for(TICK, timeout=120 * SLOW) is None:
            self.why = f"the {self.name} guest did not start its ticker"

    def ok(self):
        return self.g is not None and not self.why

    def busy(self):
        self.g.send(BUSY_CMD)
        if self.g.wait_for(BUSY_MARK, timeout=120 * SLOW) is None:
            self.why = f"the {self.name} guest did not start its busy loop"
        else:
            time.sleep(2)

    def hold(self, on):
        """Pauses (on) or resumes the guest while the other VMM hops."""
        if self.name == "vmon":
            subprocess.run([self.vmon, "pause" if on else "resume", self.vid], env=self.env,
                           capture_output=True, timeout=120)
        else:
            q = Qmp(self.qmp)
            try:
                q.cmd("stop" if on else "cont")
            finally:
                q.close()

    def hop(self, mode):
        self.n += 1
        if self.name == "vmon":
            pair = f"{self.backend(self.n - 1)}→{self.backend(self.n)}"
            nid = f"bench-dt-{os.getpid()}-{self.mib}-{self.backends[-1]}-{self.n}"
            t, fig, why = vmon_hop(self.vmon, self.env, self.g, self.vid, nid,
                                   self.backend(self.n))
            if t is not None:
                self.g, self.vid = t, nid
        else:
            pair = "tcg→tcg"
            t, tq, fig, why = qemu_hop(self.build, self.g, self.qmp, self.work, self.n,
                                       self.mib)
            if t is not None:
                self.g, self.qmp = t, tq
        if t is None:
            self.g = None
        if fig:
            self.res.setdefault((mode, pair), []).append(fig)
        if why:
            self.why = f"{pair}, {mode}: {why}"

    def stop(self):
        if self.g:
            self.g.stop()


def run_chain(vms, hops):
    """The VMMs' guests booted, then per mode (idle, then busy) `hops` hops
    each, alternating between the VMMs (the others paused meanwhile when
    there are several). Fills each Vmm's res and why."""
    several = len(vms) > 1
    try:
        for v in vms:
            v.start()
            if v.ok() and several:
                v.hold(True)
        for mode in ("idle", "busy"):
            for v in vms:
                if v.ok() and mode == "busy":
                    if several:
                        v.hold(False)
                    v.busy()
                    if v.ok() and several:
                        v.hold(True)
            for _ in range(hops):
                for v in vms:
                    if not v.ok():
                        continue
                    if several:
                        v.hold(False)
                    v.hop(mode)
                    if v.ok() and several:
                        v.hold(True)
    finally:
        for v in vms:
            v.stop()


def med(v, i):
    return statistics.median(x[i] for x in v)


def med_some(v, i):
    x = [r[i] for r in v if r[i] is not None]
    return statistics.median(x) if x else None


CHAINS = ("emu", "kvm", "across")
SIZES = (256, 2048)
ACROSS_CPU = "x86-64-v2"
# Linux turns on 5-level paging (CR4.LA57) on KVM even with the CPU
# pinned to x86-64-v2 (the feature list has no la57 to take away, so a
# KVM that offers it passes it through: seen in make bench-kvm's nested
# L1), and the software CPU, which lacks it, then refuses the guest after
# the pause. The across chain's guest is told not to (no5lvl), and not
# to use KVM's paravirtual clock, which the software CPU does not give
# (nopv: docs/migration.md's limits; the target refuses it otherwise).
ACROSS_CMDLINE = "no5lvl nopv"


def measure(build, runs, sizes, chains):
    """({(mib, mode, pair): [figures]}, [notes]) for every size and chain
    asked (QEMU TCG's tcg→tcg beside emu→emu); the KVM chains skipped
    with a note where KVM cannot run Linux."""
    res, notes = {}, []
    why_kvm = kvm_reason() if any(c != "emu" for c in chains) else None
    if why_kvm:
        notes.append(f"KVM rows (kvm→kvm, emu→kvm, kvm→emu) skipped: {why_kvm}; `make "
                     "bench-kvm` runs them on a real KVM (nested under QEMU TCG where the host "
                     "has none)")
    for mib in sizes:
        for chain in chains:
            if chain != "emu" and why_kvm:
                continue
            work = tempfile.mkdtemp(prefix="vmon-bench-mdt.")
            try:
                if chain == "emu":
                    vms = [Vmm("vmon", build, work, mib), Vmm("qemu", build, work, mib)]
                    hops = runs
                elif chain == "kvm":
                    vms, hops = [Vmm("vmon", build, work, mib, ("kvm",))], runs
                else:
                    # Booted on KVM (a Linux boot on the software CPU
                    # inside make bench-kvm's nested L1 did not reach its
                    # shell in 20 minutes), then back and forth.
                    vms = [Vmm("vmon", build, work, mib, ("kvm", "emu"), ACROSS_CPU,
                               ACROSS_CMDLINE)]
                    hops = 2 * runs
                t0 = time.time()
                run_chain(vms, hops)
                print(f"measured migration downtime, {mib} MiB, {chain}: "
                      f"{time.time() - t0:.0f} s", file=sys.stderr)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            for v in vms:
                for (mode, pair), figs in v.res.items():
                    res[(mib, mode, pair)] = figs
                if v.why:
                    notes.append(f"{mib} MiB, {v.name} ({chain}): skipped or cut short "
                                 f"({v.why})")
                    print(f"migration downtime bench, {mib} MiB, {v.name} ({chain}): {v.why}",
                          file=sys.stderr)
    return res, notes


def cells(r):
    """Downtime, ticker gap (tick), total, MiB sent [/ touched, ratio]."""
    if not r:
        return ["n/a"] * 4
    gap, tick = med_some(r, 3), med_some(r, 4)
    touched = med_some(r, 5)
    sent = f"{med(r, 2) / 2**20:,.0f}"
    if touched:
        sent += f" / {touched / 2**20:,.0f} ({med(r, 2) / touched:.2f}×)"
    return [f"{med(r, 0):,.0f} ms",
            (f"{gap:,.0f} ms" if gap is not None else "n/a")
            + (f" ({tick:,.0f})" if tick is not None else ""),
            f"{med(r, 1):,.0f} ms", sent]


def floors(res):
    """The issue's floors, each with its figures and whether it is met."""
    out = []
    v, q = res.get((256, "idle", "emu→emu")), res.get((256, "idle", "tcg→tcg"))
    if v:
        own, gap = med(v, 0), med_some(v, 3)
        ok = own <= 50 and (gap is None or gap <= 50)
        out.append(f"idle 256 MiB emu→emu downtime ≤ 50 ms: own {own:,.0f} ms, ticker gap "
                   + (f"{gap:,.0f} ms" if gap is not None else "n/a")
                   + (": met" if ok else ": not met"))
    if v and q:
        gv, gq = med_some(v, 3), med_some(q, 3)
        ok = med(v, 0) <= med(q, 0) and (gv is None or gq is None or gv <= gq)
        out.append(f"no worse than QEMU TCG's in this run: own {med(v, 0):,.0f} vs "
                   f"{med(q, 0):,.0f} ms, ticker gap "
                   + (f"{gv:,.0f} vs {gq:,.0f} ms" if gv is not None and gq is not None
                      else "n/a") + (": met" if ok else ": not met"))
    for (mib, mode, pair), r in sorted(res.items()):
        if mode != "idle" or pair == "tcg→tcg" or med_some(r, 5) is None:
            continue
        ratio = med(r, 2) / med_some(r, 5)
        out.append(f"idle {mib} MiB {pair} traffic ≤ 1.1× touched memory: {ratio:.2f}×"
                   + (": met" if ratio <= 1.1 else ": not met"))
    return out


def downtime_table(build, runs, sizes=SIZES, chains=CHAINS):
    g_dir = os.path.join(build, "guest")
    print()
    if not all(os.path.exists(os.path.join(g_dir, f)) for f in ("bzImage", "initramfs.cpio.gz")):
        print("(migration downtime benchmark skipped: no guest in "
              f"{g_dir}: run `make guest` first)")
        return
    res, notes = measure(build, runs, sizes, chains)
    lines = []
    labels = {"idle": "idle shell, ticker", "busy": "busy: rewriting 16 MiB of tmpfs"}
    pairs = [p for c, p in (("emu", "emu→emu"), ("kvm", "kvm→kvm"), ("across", "emu→kvm"),
                            ("across", "kvm→emu")) if c in chains]
    for mib in sizes:
        for pair in pairs:
            for mode in ("idle", "busy"):
                v = res.get((mib, mode, pair), [])
                q = res.get((mib, mode, "tcg→tcg"), []) if pair == "emu→emu" else None
                if not v and not q and pair != "emu→emu" and any(
                        n.startswith("KVM rows") for n in notes):
                    continue
                row = cells(v) + (cells(q) if q is not None else ["–"] * 4)
                gv = med_some(v, 3) if v else None
                gq = med_some(q, 3) if q else None
                row += [f"{med(v, 0) / med(q, 0):.2f}×" if v and q and med(q, 0) else "n/a",
                        f"{gv / gq:.2f}×" if gv is not None and gq else "n/a"]
                n = f"{len(v)}/{runs}" + (f", {len(q)}/{runs}" if q is not None else "")
                lines.append(f"| {mib} MiB, {pair}, {labels[mode]} | " + " | ".join(row)
                             + f" | {n} |")
    if lines:
        print("| Linux guest, loopback TCP | vmon downtime, own | ticker gap (tick) | total "
              "| MiB sent / touched | QEMU TCG (tcg→tcg) downtime, own | ticker gap (tick) "
              "| total | MiB sent | own downtime vmon/QEMU | ticker gap vmon/QEMU | runs |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(lines))
    print("(median of each; own: vmon's summary line (pause to the target running), QEMU's "
          "query-migrate (stop to the stream's end); ticker gap: the guest's console, last tick "
          "on the source to first on the target, stamped as it arrives (tick: the median "
          "interval between ticks before the hop, its resolution); touched: the source's "
          "RssShmem before the hop; emu→emu hops alternate with QEMU's, the other VMM's guest "
          f"paused; emu→kvm and kvm→emu: one guest booted on KVM hopping back and forth, "
          f"--cpu-features {ACROSS_CPU}, {ACROSS_CMDLINE}; 300 ms budget on both, QEMU's bandwidth cap lifted)")
    for f in floors(res):
        print(f"floor: {f}")
    for n in notes:
        print(f"({n})")


def main():
    ap = argparse.ArgumentParser(description="Live-migration downtime (bench/migration_downtime.py)")
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES),
                    help="guest RAM sizes in MiB, comma separated (256,2048)")
    ap.add_argument("--chains", default=",".join(CHAINS),
                    help="emu (emu→emu beside QEMU TCG), kvm (kvm→kvm), across (emu→kvm and "
                    "kvm→emu), comma separated")
    args = ap.parse_args()
    chains = [c for c in args.chains.split(",") if c]
    bad = [c for c in chains if c not in CHAINS]
    if bad:
        ap.error(f"unknown chain {bad[0]} (emu, kvm, across)")
    downtime_table(args.build, args.runs, [int(s) for s in args.sizes.split(",") if s], chains)


if __name__ == "__main__":
    main()
