"""Live-migration downtime and total time, vmon against QEMU (issue 14's
benchmark): the default Linux guest (make guest) with 256 MiB of RAM,
migrated between two processes on this host over loopback TCP, idle (a
fresh shell) and busy (the guest rewriting 16 MiB of its tmpfs with
random data in a loop, started before the first busy hop and running
throughout), on vmon's software CPU (emu → emu) and, in the same run,
on QEMU TCG (the same bzImage and initramfs, -M pc -nodefaults,
`-incoming tcp:...` on the target, QMP `migrate` on the source). Called by bench.py
(make bench); `bench/run.sh --only migration-downtime` runs it alone.

Each VMM boots its guest once (not timed) and migrates it `runs` times
per mode, each target becoming the next source. The figures are each
VMM's own:

  vmon   the source's summary line: downtime = pause to the target's
         go, total = PUT /migrate to the target running; bytes = stream
  QEMU   `query-migrate` once completed: `downtime`, `total-time`,
         `ram.transferred`

Both use a 300 ms downtime budget (their defaults); QEMU's bandwidth cap
is lifted (`max-bandwidth` 10 GiB/s: its default, 128 MiB/s, would
throttle it and vmon has none). A QEMU migration that has not completed
after 300 s (a guest dirtying faster than the link: QEMU has no round
cap) is cancelled and counted as not converged. Downtime seen from
inside the guest is not measured: vmon's guest clocks continue from
their saved values (docs/snapshot.md), so a guest ticker does not see
the pause. Both ends and the guest share the host's CPUs: on a loaded
host (a 2-core CI machine) the figures are that host's.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from migration import free_port, hop, listening
from snapshot_restore import Guest, boot_to_shell

MIB = 256
BUSY_CMD = (b"(while :; do dd if=/dev/urandom of=/tmp/busy bs=1M count=16 conv=notrunc "
            b"2>/dev/null; done) & echo B$((1+1))Y\n")
BUSY_MARK = b"B2Y"
QEMU_WAIT_S = 300


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
    ms, total ms, bytes), why)."""
    tgt, fig, why = hop(vmon, env, src, src_id, dst_id, None)
    return tgt, (fig[3], fig[4], fig[2]) if fig else None, why


def qemu_hop(build, src, src_qmp, work, n):
    """src (with its QMP socket) to a new QEMU target; (target, its QMP
    path, (downtime ms, total ms, bytes), why)."""
    port = free_port()
    qmp_path = os.path.join(work, f"qmp-{n}")
    tgt = Guest(qemu_cmd(build, qmp_path, ["-incoming", f"tcp:127.0.0.1:{port}"]))
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
    src.stop()
    fig = (st.get("downtime", 0), st.get("total-time", 0), st.get("ram", {}).get("transferred", 0))
    return tgt, qmp_path, fig, None


def run_vmon(build, work, runs):
    """{"idle": [...], "busy": [...]} of (downtime, total, bytes); why."""
    vmon = os.path.abspath(os.path.join(build, "vmon"))
    env = dict(os.environ, VMON_RUNTIME_DIR=os.path.join(work, "run"))
    os.environ["VMON_RUNTIME_DIR"] = env["VMON_RUNTIME_DIR"]
    res = {"idle": [], "busy": []}
    n = 0
    vid = f"bench-dt-{os.getpid()}-0"
    g = boot_to_shell(vmon_cmd(build, vid))
    if not g:
        return res, "the vmon guest did not reach its shell"
    why = None
    try:
        for mode in ("idle", "busy"):
            if mode == "busy":
                g.send(BUSY_CMD)
                if g.wait_for(BUSY_MARK, timeout=120) is None:
                    why = "the vmon guest did not start its busy loop"
                    break
                time.sleep(2)
            for _ in range(runs):
                n += 1
                nid = f"bench-dt-{os.getpid()}-{n}"
                t, fig, why = vmon_hop(vmon, env, g, vid, nid)
                if t is None:
                    return res, why
                g, vid = t, nid
                if fig:
                    res[mode].append(fig)
                if why:
                    return res, why
    finally:
        g.stop()
    return res, why


def run_qemu(build, work, runs):
    res = {"idle": [], "busy": []}
    if not shutil.which("qemu-system-x86_64"):
        return res, "no qemu-system-x86_64 (scripts/setup.sh installs qemu-system-x86)"
    qmp = os.path.join(work, "qmp-0")
    g = boot_to_shell(qemu_cmd(build, qmp, []))
    if not g:
        return res, "the QEMU guest did not reach its shell"
    why = None
    n = 0
    try:
        for mode in ("idle", "busy"):
            if mode == "busy":
                g.send(BUSY_CMD)
                if g.wait_for(BUSY_MARK, timeout=120) is None:
                    return res, "the QEMU guest did not start its busy loop"
                time.sleep(2)
            for _ in range(runs):
                n += 1
                t, tq, fig, why = qemu_hop(build, g, qmp, work, n)
                if t is None:
                    return res, why
                g, qmp = t, tq
                res[mode].append(fig)
    finally:
        g.stop()
    return res, why


def med(v, i):
    return statistics.median(x[i] for x in v)


def downtime_table(build, runs):
    g_dir = os.path.join(build, "guest")
    print()
    if not all(os.path.exists(os.path.join(g_dir, f)) for f in ("bzImage", "initramfs.cpio.gz")):
        print("(migration downtime benchmark skipped: no guest in "
              f"{g_dir}: run `make guest` first)")
        return
    work = tempfile.mkdtemp(prefix="vmon-bench-mdt.")
    try:
        vres, vwhy = run_vmon(build, work, runs)
        qres, qwhy = run_qemu(build, work, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for who, why in (("vmon", vwhy), ("qemu", qwhy)):
        if why:
            print(f"migration downtime bench, {who}: {why}", file=sys.stderr)
    print(f"| Linux guest, {MIB} MiB, loopback TCP | vmon (emu→emu) downtime | total | MiB sent "
          "| QEMU (tcg→tcg) downtime | total | MiB sent | downtime vmon/QEMU | total vmon/QEMU "
          "| runs |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode, label in (("idle", "idle shell"),
                        ("busy", "busy: rewriting 16 MiB of tmpfs in a loop")):
        v, q = vres[mode], qres[mode]
        cells = []
        for r, why in ((v, vwhy), (q, qwhy)):
            if r:
                cells += [f"{med(r, 0):,.0f} ms", f"{med(r, 1):,.0f} ms",
                          f"{med(r, 2) / 2**20:,.0f}"]
            else:
                cells += ["n/a", "n/a", "n/a"]
        if v and q and med(q, 0) and med(q, 1):
            cells += [f"{med(v, 0) / med(q, 0):.2f}×", f"{med(v, 1) / med(q, 1):.2f}×"]
        else:
            cells += ["n/a", "n/a"]
        print(f"| {label} | " + " | ".join(cells) + f" | {len(v)}/{runs}, {len(q)}/{runs} |")
    notes = [f"{w}: skipped or cut short ({why})" for w, why in (("vmon", vwhy), ("QEMU", qwhy))
             if why]
    print("(median of each; each VMM's own figures: vmon's summary line, QEMU's query-migrate; "
          "300 ms budget on both, QEMU's bandwidth cap lifted"
          + ("; " + "; ".join(notes) if notes else "") + ")")
