"""Issue 13's snapshot benchmark: snapshot create time and restore-to-
responding-guest time for the default Linux guest (make guest) with 256 MiB
and 2 GiB of RAM, on vmon's software CPU, beside QEMU TCG's migrate-to-file
and `-incoming` restore of the same guest in the same run. Called by
bench.py (make bench); `bench/run.sh --only snapshot` runs it alone.

Both VMMs boot the guest to its shell first (not timed), then:

  create    vmon: `vmon snapshot ID DIR --no-resume` (pause, RAM written
            sparse, device and CPU state, fsync), timed around the command;
            QEMU: `migrate "exec:cat > FILE"` on its monitor (the idle
            guest running: a stream of a stopped VM would restore stopped),
            timed until `info migrate` says completed
  restore   from spawning the restoring process (vmon restore DIR; QEMU
            -incoming "exec:cat FILE") to the guest's answer to a command
            typed on its console at once (the shell prints "R2K" for
            `echo R$((1+1))K`, a string the echo of the command line does not
            contain)

The console is a pipe; the bench answers the shell's one terminal query
(where the cursor is, after the prompt) as a terminal would, before the
snapshot (CURSOR_QUERY below): unanswered, busybox waits 20 ms before
running each command line.

The guests are idle (a fresh shell), so most of their RAM was never
touched; vmon's memory file is sparse and mapped back copy-on-write,
QEMU's stream skips zero pages.
"""
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

MARK_CMD = b"echo R$((1+1))K\n"
MARK = b"R2K"
PROMPT = b"vmon# "
# busybox's line editor asks the terminal where its cursor is after each
# prompt (ESC [ 6 n) and, when no answer has come by the time a command
# line is complete, sleeps 20 ms before running it (lineedit.c, so that
# a late answer does not land on the screen). A terminal answers at once;
# a console on a pipe never does. The bench answers as a terminal would,
# once the guest sits at its shell, before the snapshot: otherwise every
# restore timed here would include those 20 ms (and more, the sleep
# rounded up to the guest's timer ticks), which no one at a terminal waits.
CURSOR_QUERY = b"\x1b[6n"
CURSOR_REPLY = b"\x1b[1;7R"  # row 1, column 7: after the prompt
SIZES = [("256 MiB", 256), ("2 GiB", 2048)]


class Guest:
    """A VMM process with its serial console on a pipe."""

    def __init__(self, cmd):
        self.t0 = time.perf_counter()
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.buf = b""

    def wait_for(self, what, timeout=300):
        """Seconds since spawn when `what` appeared on the console, or None."""
        fd = self.p.stdout.fileno()
        deadline = time.perf_counter() + timeout
        start = len(self.buf)
        while True:
            if what in self.buf[max(0, start - len(what)):]:
                return time.perf_counter() - self.t0
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk

    def send(self, data):
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
        except BrokenPipeError:
            pass

    def answer_time(self, timeout=120):
        """Types the marker command now and every 50 ms (input that reaches
        a VMM still loading its state may be dropped) until the guest's
        answer appears: seconds since spawn, or None."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            self.send(MARK_CMD)
            t = self.wait_for(MARK, timeout=0.05)
            if t is not None:
                return t
            if self.p.poll() is not None:
                return None
        return None

    def stop(self):
        self.p.kill()
        self.p.wait()


def boot_to_shell(cmd):
    g = Guest(cmd)
    if g.wait_for(PROMPT) is None:
        g.stop()
        return None
    answer_cursor_query(g)
    return g


def answer_cursor_query(g):
    """Answers the shell's cursor-position query (CURSOR_QUERY) as a
    terminal would, and gives the guest time to read the answer before it
    is snapshotted. A guest that does not ask is left alone."""
    after_prompt = g.buf[g.buf.rfind(PROMPT):]
    if CURSOR_QUERY not in after_prompt and g.wait_for(CURSOR_QUERY, timeout=2) is None:
        return
    g.send(CURSOR_REPLY)
    time.sleep(0.5)


def qemu_monitor(path, command, timeout=600):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    buf = b""
    while b"(qemu)" not in buf:
        buf += s.recv(4096)
    s.sendall(command.encode() + b"\n")
    buf = b""
    while buf.count(b"(qemu)") < 1 or not buf.rstrip().endswith(b"(qemu)"):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    s.close()
    return buf.decode(errors="replace")


def vmon_round(build, mib, work):
    g_dir = os.path.join(build, "guest")
    vmon = os.path.join(build, "vmon")
    rundir = os.path.join(work, "run")
    env = dict(os.environ, VMON_RUNTIME_DIR=rundir)
    vid = f"bench-snap-{os.getpid()}-{mib}"
    cmd = [vmon, "run", "--backend", "emu", "--mem", f"{mib}M", "--id", vid,
           "--kernel", os.path.join(g_dir, "bzImage"),
           "--initrd", os.path.join(g_dir, "initramfs.cpio.gz"),
           "--cmdline", "console=ttyS0 quiet"]
    os.environ["VMON_RUNTIME_DIR"] = rundir
    g = boot_to_shell(cmd)
    if not g:
        return None, None, "the guest did not reach its shell"
    snap = os.path.join(work, f"vmon-{mib}")
    shutil.rmtree(snap, ignore_errors=True)
    t0 = time.perf_counter()
    r = subprocess.run([vmon, "snapshot", vid, snap, "--no-resume"], env=env,
                       capture_output=True, text=True)
    create = time.perf_counter() - t0
    g.stop()
    if r.returncode != 0:
        return None, None, f"vmon snapshot: {r.stderr.strip()}"
    g = Guest([vmon, "restore", snap, "--id", vid + "-r", "--no-api"])
    restore = g.answer_time()
    g.stop()
    shutil.rmtree(snap, ignore_errors=True)
    return create, restore, None if restore else "the restored guest did not answer"


def qemu_cmd(build, mib, mon, extra):
    g_dir = os.path.join(build, "guest")
    return ["qemu-system-x86_64", "-accel", "tcg", "-M", "microvm", "-m", str(mib),
            "-display", "none", "-serial", "stdio", "-monitor", f"unix:{mon},server=on,wait=off",
            "-no-reboot", "-kernel", os.path.join(g_dir, "vmlinux"),
            "-initrd", os.path.join(g_dir, "initramfs.cpio.gz"),
            "-append", "console=ttyS0 quiet"] + extra


def qemu_round(build, mib, work):
    mon = os.path.join(work, "qemu.mon")
    state = os.path.join(work, f"qemu-{mib}.state")
    g = boot_to_shell(qemu_cmd(build, mib, mon, []))
    if not g:
        return None, None, "the guest did not reach its shell"
    # Not stopped first: a stream of a stopped VM restores stopped, and
    # an idle guest's live migration to a file is QEMU's usual snapshot
    # (the source ends paused when it completes).
    t0 = time.perf_counter()
    qemu_monitor(mon, f'migrate "exec:cat > {state}"')
    done = False
    while time.perf_counter() - t0 < 600:
        out = qemu_monitor(mon, "info migrate")
        if "Migration status: completed" in out:
            done = True
            break
        if "failed" in out:
            break
        time.sleep(0.01)
    create = time.perf_counter() - t0
    g.stop()
    if not done:
        return None, None, "migrate to file did not complete"
    g = Guest(qemu_cmd(build, mib, mon + "2", ["-incoming", f"exec:cat {state}"]))
    restore = g.answer_time()
    g.stop()
    os.unlink(state)
    return create, restore, None if restore else "the restored guest did not answer"


def fmt(v):
    return f"{v * 1000:,.0f} ms" if v is not None else "failed"


def snapshot_table(build, runs):
    g_dir = os.path.join(build, "guest")
    if not os.path.exists(os.path.join(g_dir, "vmlinux")):
        print("\n(snapshot benchmark skipped: run `make guest` first)")
        return
    work = tempfile.mkdtemp(prefix="vmon-bench-snap.")
    rows = []
    try:
        for label, mib in SIZES:
            res = {"vmon": ([], []), "qemu": ([], [])}
            why = {}
            for _ in range(runs):
                for name, fn in (("vmon", vmon_round), ("qemu", qemu_round)):
                    c, r, w = fn(build, mib, work)
                    if w:
                        why[name] = w
                        print(f"snapshot bench {name} {label}: {w}", file=sys.stderr)
                    if c is not None and r is not None:
                        res[name][0].append(c)
                        res[name][1].append(r)
            med = {n: tuple(statistics.median(v) if v else None for v in res[n]) for n in res}
            rows.append((label, med, {n: len(res[n][0]) for n in res}, why))
            print(f"measured snapshot/restore {label}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| Linux guest, idle shell | vmon (emu) snapshot | qemu (tcg) migrate to file | "
          "vmon restore → answer | qemu -incoming → answer | restore vmon / qemu | runs |")
    print("|---|---|---|---|---|---|---|")
    for label, med, n, why in rows:
        vc, vr = med["vmon"]
        qc, qr = med["qemu"]
        ratio = f"{vr / qr:.2f}×" if vr and qr else "n/a"
        print(f"| {label} | {fmt(vc)} | {fmt(qc)} | {fmt(vr)} | {fmt(qr)} | {ratio} | "
              f"{n['vmon']}/{runs}, {n['qemu']}/{runs} |")
    print(f"(median of {runs} runs each; restore: spawn to the guest's answer on its console)")
