"""Live-migration downtime and total time, vmon against QEMU (issue 14's
benchmark): the default Linux guest (make guest) with 256 MiB of RAM,
migrated between two processes on this host over loopback TCP, idle (a
fresh shell) and busy (the guest rewriting 16 MiB of its tmpfs with
random data in a loop, started before the first busy hop and running
throughout), on vmon's software CPU (emu → emu) and, in the same run,
on QEMU TCG (the same bzImage and initramfs, -M pc -nodefaults,
`-incoming tcp:...` on the target, QMP `migrate` on the source). Called
by bench.py (make bench); `bench/run.sh --only migration-downtime` runs
it alone.

Both VMMs boot their guest once (not timed); then the hops alternate,
vmon's then QEMU's, `runs` times per mode, each target becoming the next
source, the other VMM's guest paused meanwhile (`vmon pause`, QMP
`stop`) so that it takes no CPU from the hop. Two downtime figures per
hop:

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
`total-time`; bytes: vmon's stream, QEMU's `ram.transferred`. Both use
a 300 ms downtime budget (their defaults); QEMU's bandwidth cap is
lifted (`max-bandwidth` 10 GiB/s: its default, 128 MiB/s, would throttle
it and vmon has none). A QEMU migration that has not completed after
300 s (a guest dirtying faster than the link: QEMU has no round cap) is
cancelled and counted as not converged. Both ends and the guest share
the host's CPUs: on a loaded host (a 2-core CI machine) the figures are
that host's.
"""
import json
import os
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

MIB = 256
BUSY_CMD = (b"(while :; do dd if=/dev/urandom of=/tmp/busy bs=1M count=16 conv=notrunc "
            b"2>/dev/null; done) & echo B$((1+1))Y\n")
BUSY_MARK = b"B2Y"
QEMU_WAIT_S = 300
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
    if g.wait_for(PROMPT) is None:
        g.stop()
        return None
    return g


def tick_gap(src, tgt, src_ended=True):
    """(ms between the source's last tick and the target's first, the
    median ms between the source's ticks in the 2 s before its last: the
    resolution of the first), or (None, None) if either has no tick. A
    vmon source has exited (its output is drained); a QEMU source stays,
    stopped: its last tick came before the target's first."""
    if tgt.wait_for(TICK, timeout=60) is None and not tgt.ticks():
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


def qemu_cmd(build, qmp, extra):
    """QEMU TCG, the pc machine without default devices (-M microvm with
    this kernel stalls in its timer calibration under TCG here), the
    guest's console on stdio, QMP on qmp."""
    g_dir = os.path.join(build, "guest")
    return ["qemu-system-x86_64", "-accel", "tcg", "-M", "pc", "-m", str(MIB), "-nodefaults",
            "-display", "none", "-serial", "stdio", "-monitor", "none",
            "-qmp", f"unix:{qmp},server=on,wait=off", "-no-reboot",
            "-kernel", os.path.join(g_dir, "bzImage"),
            "-initrd", os.path.join(g_dir, "initramfs.cpio.gz"),
            "-append", "console=ttyS0 quiet"] + extra


def vmon_cmd(build, vid):
    g_dir = os.path.join(build, "guest")
    return [os.path.join(build, "vmon"), "run", "--backend", "emu", "--mem", f"{MIB}M",
            "--id", vid, "--kernel", os.path.join(g_dir, "bzImage"),
            "--initrd", os.path.join(g_dir, "initramfs.cpio.gz"),
            "--cmdline", "console=ttyS0 quiet"]


def vmon_hop(vmon, env, src, src_id, dst_id):
    """src to a new target (migration.hop, plain TCP); (target, (downtime
    ms, total ms, bytes, ticker gap ms, tick interval ms), why)."""
    tgt, fig, why = hop(vmon, env, src, src_id, dst_id, None, guest=TimedGuest)
    if not fig:
        return tgt, None, why
    return tgt, (fig[3], fig[4], fig[2]) + tick_gap(src, tgt), why


def qemu_hop(build, src, src_qmp, work, n):
    """src (with its QMP socket) to a new QEMU target; (target, its QMP
    path, (downtime ms, total ms, bytes, ticker gap ms, tick interval
    ms), why)."""
    port = free_port()
    qmp_path = os.path.join(work, f"qmp-{n}")
    tgt = TimedGuest(qemu_cmd(build, qmp_path, ["-incoming", f"tcp:127.0.0.1:{port}"]))
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
           st.get("ram", {}).get("transferred", 0)) + gap
    return tgt, qmp_path, fig, None


class Vmm:
    """One VMM's guest across its hops: boot, ticker, busy loop, paused
    while the other VMM hops."""

    def __init__(self, name, build, work):
        self.name, self.build, self.work = name, build, work
        self.res = {"idle": [], "busy": []}
        self.why = None
        self.g = None
        self.n = 0

    def start(self):
        if self.name == "vmon":
            self.vmon = os.path.abspath(os.path.join(self.build, "vmon"))
            self.env = dict(os.environ, VMON_RUNTIME_DIR=os.path.join(self.work, "run"))
            os.environ["VMON_RUNTIME_DIR"] = self.env["VMON_RUNTIME_DIR"]
            self.vid = f"bench-dt-{os.getpid()}-0"
            self.g = boot_timed(vmon_cmd(self.build, self.vid))
        else:
            if not shutil.which("qemu-system-x86_64"):
                self.why = "no qemu-system-x86_64 (scripts/setup.sh installs qemu-system-x86)"
                return
            self.qmp = os.path.join(self.work, "qmp-0")
            self.g = boot_timed(qemu_cmd(self.build, self.qmp, []))
        if not self.g:
            self.why = f"the {self.name} guest did not reach its shell"
            return
        self.g.send(TICK_CMD)
        if self.g.wait_for(TICK, timeout=120) is None:
            self.why = f"the {self.name} guest did not start its ticker"

    def ok(self):
        return self.g is not None and not self.why

    def busy(self):
        self.g.send(BUSY_CMD)
        if self.g.wait_for(BUSY_MARK, timeout=120) is None:
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
            nid = f"bench-dt-{os.getpid()}-{self.n}"
            t, fig, why = vmon_hop(self.vmon, self.env, self.g, self.vid, nid)
            if t is not None:
                self.g, self.vid = t, nid
        else:
            t, tq, fig, why = qemu_hop(self.build, self.g, self.qmp, self.work, self.n)
            if t is not None:
                self.g, self.qmp = t, tq
        if t is None:
            self.g = None
        if fig:
            self.res[mode].append(fig)
        if why:
            self.why = why

    def stop(self):
        if self.g:
            self.g.stop()


def run_both(build, work, runs):
    """Alternating hops: ({vmm: {mode: figures}}, {vmm: why})."""
    vms = [Vmm("vmon", build, work), Vmm("qemu", build, work)]
    try:
        for v in vms:
            v.start()
            if v.ok():
                v.hold(True)
        for mode in ("idle", "busy"):
            for v in vms:
                if v.ok() and mode == "busy":
                    v.hold(False)
                    v.busy()
                    if v.ok():
                        v.hold(True)
            for _ in range(runs):
                for v in vms:
                    if not v.ok():
                        continue
                    v.hold(False)
                    v.hop(mode)
                    if v.ok():
                        v.hold(True)
    finally:
        for v in vms:
            v.stop()
    return {v.name: v.res for v in vms}, {v.name: v.why for v in vms}


def med(v, i):
    return statistics.median(x[i] for x in v)


def med_some(v, i):
    x = [r[i] for r in v if r[i] is not None]
    return statistics.median(x) if x else None


def downtime_table(build, runs):
    g_dir = os.path.join(build, "guest")
    print()
    if not all(os.path.exists(os.path.join(g_dir, f)) for f in ("bzImage", "initramfs.cpio.gz")):
        print("(migration downtime benchmark skipped: no guest in "
              f"{g_dir}: run `make guest` first)")
        return
    work = tempfile.mkdtemp(prefix="vmon-bench-mdt.")
    try:
        res, whys = run_both(build, work, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for who, why in whys.items():
        if why:
            print(f"migration downtime bench, {who}: {why}", file=sys.stderr)
    print(f"| Linux guest, {MIB} MiB, loopback TCP | vmon (emu→emu) downtime, own | ticker gap "
          "(tick) | total | MiB sent | QEMU (tcg→tcg) downtime, own | ticker gap (tick) | total "
          "| MiB sent | own downtime vmon/QEMU | ticker gap vmon/QEMU | runs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mode, label in (("idle", "idle shell, ticker"),
                        ("busy", "busy: rewriting 16 MiB of tmpfs in a loop")):
        v, q = res["vmon"][mode], res["qemu"][mode]
        cells = []
        for r in (v, q):
            if r:
                gap, tick = med_some(r, 3), med_some(r, 4)
                cells += [f"{med(r, 0):,.0f} ms",
                          (f"{gap:,.0f} ms" if gap is not None else "n/a")
                          + (f" ({tick:,.0f})" if tick is not None else ""),
                          f"{med(r, 1):,.0f} ms", f"{med(r, 2) / 2**20:,.0f}"]
            else:
                cells += ["n/a"] * 4
        gv = med_some(v, 3) if v else None
        gq = med_some(q, 3) if q else None
        cells += [f"{med(v, 0) / med(q, 0):.2f}×" if v and q and med(q, 0) else "n/a",
                  f"{gv / gq:.2f}×" if gv is not None and gq else "n/a"]
        print(f"| {label} | " + " | ".join(cells) + f" | {len(v)}/{runs}, {len(q)}/{runs} |")
    notes = [f"{w}: skipped or cut short ({why})" for w, why in whys.items() if why]
    print("(median of each; own: vmon's summary line (pause to the target running), QEMU's "
          "query-migrate (stop to the stream's end); ticker gap: the guest's console, last tick "
          "on the source to first on the target, stamped as it arrives (tick: the median "
          "interval between ticks before the hop, its resolution); the hops alternate, the "
          "other VMM's guest paused; 300 ms budget on both, QEMU's bandwidth cap lifted"
          + ("; " + "; ".join(notes) if notes else "") + ")")
