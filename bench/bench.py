#!/usr/bin/env python3
"""vmon benchmarks, side by side with QEMU in the same run.

Each figure is the median of --runs runs. Times are taken on the host from
the moment the process is spawned, and from the arrival of the guest's own
output lines, so the same kit ELF is measured the same way on every VMM:

  first serial byte   spawn -> first byte on the guest's serial console
  port-I/O exit       (time of "pio_writes=" line - time of "exitstorm:" line) / n
  MMIO exit           (time of "mmio_writes=" line - time of "pio_writes=" line) / 2n
  compute loop        time of "checksum=" line - time of "compute:" line
  resident overhead   VmRSS minus the guest RAM the guest touched, sampled
                      while serial_echo waits for input (vmon: RssAnon +
                      RssFile, since guest RAM is the memfd's RssShmem; QEMU:
                      VmRSS minus vmon's RssShmem for the same guest)
"""
import argparse
import os
import select
import statistics
import subprocess
import sys
import time

import idle_memory
import jail_startup
import linux_io
import systemd_boot
import seccomp_cost
import snapshot_restore
import migration
import migration_downtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def vmm_commands(build, guests):
    vmon = os.path.join(build, "vmon")
    qemu = ["qemu-system-x86_64", "-M", "microvm", "-m", "256", "-display", "none",
            "-serial", "stdio", "-monitor", "none", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
    return {
        "vmon (emu)": lambda elf, cmdline: [vmon, "run", "--backend", "emu", "--mem", "256M",
                                            "--kernel", elf] + (["--cmdline", cmdline] if cmdline else []),
        "vmon (kvm)": lambda elf, cmdline: [vmon, "run", "--backend", "kvm", "--mem", "256M",
                                            "--kernel", elf] + (["--cmdline", cmdline] if cmdline else []),
        "qemu (kvm)": lambda elf, cmdline: qemu + ["-accel", "kvm", "-kernel", elf]
        + (["-append", cmdline] if cmdline else []),
        "qemu (tcg)": lambda elf, cmdline: qemu + ["-accel", "tcg", "-kernel", elf]
        + (["-append", cmdline] if cmdline else []),
    }


def run_timed(cmd, markers, stdin_data=None, sample_rss_on=None, timeout=600):
    """Spawns cmd; returns (times: marker -> seconds since spawn, rss dict)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    times, rss, buf = {}, {}, b""
    fd = p.stdout.fileno()
    deadline = t0 + timeout
    while True:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.perf_counter()))
        if not r:
            p.kill()
            raise RuntimeError("timeout: " + " ".join(cmd))
        chunk = os.read(fd, 65536)
        now = time.perf_counter() - t0
        if not chunk:
            break
        if "first_byte" not in times:
            times["first_byte"] = now
        buf += chunk
        for line in buf.split(b"\n")[:-1] if b"\n" in buf else []:
            s = line.decode(errors="replace").strip()
            for m in markers:
                if s.startswith(m) and m not in times:
                    times[m] = now
        if sample_rss_on and sample_rss_on in times and not rss:
            rss = read_rss(p.pid)
            p.stdin.write(stdin_data or b"\x04")
            p.stdin.flush()
    p.wait()
    return times, rss


def read_rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                out[k] = int(v.split()[0])  # KiB
    return out


def probe(cmd):
    """Runs the hello kit guest once: None if it printed SUCCESS, else why
    not (the VMM's last stderr line), so a backend this host cannot run
    (no /dev/kvm, say) is skipped with its reason instead of failing."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if b"SUCCESS" in p.stdout:
        return None
    err = p.stderr.decode(errors="replace").strip().splitlines()
    return err[-1] if err else f"exit status {p.returncode}, no SUCCESS"


def median_of(fn, runs):
    vals = [fn() for _ in range(runs)]
    return statistics.median(vals)


def native_compute_seconds(iters):
    exe = os.path.join(BUILD, "bench", "native_compute")
    out = subprocess.run([exe, str(iters)], capture_output=True, text=True, check=True).stdout
    return float(out.split()[0])


def emu_instructions_per_iteration(build, elf):
    """Guest instructions per compute-loop iteration, from the software CPU's
    retired-instruction counter (VMON_EMU_STATS) at two iteration counts."""
    def count(iters):
        env = dict(os.environ, VMON_EMU_STATS="1")
        p = subprocess.run([os.path.join(build, "vmon"), "run", "--backend", "emu", "--kernel", elf,
                            "--cmdline", f"iters={iters}"], capture_output=True, text=True,
                           env=env, stdin=subprocess.DEVNULL)
        total = 0
        for line in p.stderr.splitlines():
            if " instructions in " in line:
                total += int(line.split(" instructions in ")[0].split()[-1])
        return total
    a, b = 100000, 1100000
    return (count(b) - count(a)) / (b - a)


def linux_boot_seconds(cmd):
    """Wall time from spawn to exit of a Linux guest whose init powers off
    at once; None if the guest did not power off cleanly."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=180)
    except subprocess.TimeoutExpired:
        return None
    t = time.perf_counter() - t0
    out = p.stdout.decode(errors="replace")
    return t if "reboot: Power down" in out else None


def linux_boot_table(build, runs):
    """Issue 4's benchmark: boot Debian's kernel to an init that powers off
    at once, on vmon's software CPU and on QEMU TCG (microvm), with the same
    kernel, initrd, memory and command line."""
    g = os.path.join(build, "guest")
    if not os.path.exists(os.path.join(g, "vmlinux")):
        print("\n(Linux boot benchmark skipped: run `make guest` first)")
        return
    cmdline = "console=ttyS0 quiet vmon.init=poweroff panic=-1"
    initrd = os.path.join(g, "initramfs.cpio.gz")
    cmds = {
        "vmon (emu), bzImage": [os.path.join(build, "vmon"), "run", "--backend", "emu", "--mem", "256M",
                                "--kernel", os.path.join(g, "bzImage"), "--initrd", initrd,
                                "--cmdline", cmdline],
        "vmon (emu), vmlinux (PVH)": [os.path.join(build, "vmon"), "run", "--backend", "emu",
                                      "--mem", "256M", "--kernel", os.path.join(g, "vmlinux"),
                                      "--initrd", initrd, "--cmdline", cmdline],
        "qemu (tcg) microvm, vmlinux": ["qemu-system-x86_64", "-accel", "tcg", "-M", "microvm",
                                        "-m", "256", "-display", "none", "-serial", "stdio",
                                        "-monitor", "none", "-no-reboot", "-kernel",
                                        os.path.join(g, "vmlinux"), "-initrd", initrd,
                                        "-append", cmdline],
    }
    # Round robin: this host's speed drifts by 10% and more over minutes,
    # so each round measures every configuration once, back to back.
    vals = {name: [] for name in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            vals[name].append(linux_boot_seconds(cmd))
    res = {}
    for name in cmds:
        ok = [v for v in vals[name] if v is not None]
        res[name] = (statistics.median(ok) if ok else None, len(ok))
        print(f"measured {name}", file=sys.stderr)
    ref = res["qemu (tcg) microvm, vmlinux"][0]
    print()
    print("| Linux boot to init + power-off (256 MiB, 1 vCPU) | wall time | vs qemu (tcg) | clean runs |")
    print("|---|---|---|---|")
    for name, (v, n) in res.items():
        r = f"{v / ref:.1f}×" if (v and ref) else "n/a"
        print(f"| {name} | {v:.2f} s | {r} | {n}/{runs} |" if v else f"| {name} | failed | n/a | 0/{runs} |")


def fmt_us(s):
    return f"{s * 1e6:,.3f} µs"


def fmt_ns(s):
    return f"{s * 1e9:,.2f} ns"


def fmt_ms(s):
    return f"{s * 1e3:,.1f} ms"


def isolated(table, *args):
    """Runs one table; what it sets in os.environ for its own processes
    (VMON_RUNTIME_DIR in a scratch directory it then removes) does not
    reach the tables after it (whose vmon runs failed on the removed
    directory)."""
    saved = dict(os.environ)
    try:
        table(*args)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main():
    global BUILD
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--exits", type=int, default=20000)
    ap.add_argument("--iters", type=int, default=200000)
    ap.add_argument("--only", choices=["linux-io", "linux-boot", "jail", "systemd", "seccomp",
                                       "snapshot", "idle-memory", "migration",
                                       "migration-downtime"],
                    help="run one section: linux-io = storage and network in the Linux guest, "
                    "linux-boot = Linux boot to power-off vs QEMU TCG, "
                    "jail = jailed start-up vs plain, "
                    "systemd = Debian systemd boot with 1 and 2 vCPUs vs QEMU TCG, "
                    "seccomp = exits and Linux disk I/O with the filters on and off, "
                    "snapshot = snapshot create and restore-to-answer vs QEMU migrate to file, "
                    "idle-memory = host memory of an idle Linux guest, with and without free "
                    "page reporting, vs QEMU TCG, "
                    "migration = live-migration throughput, plain TCP and TLS, "
                    "migration-downtime = live-migration downtime, total time and traffic, "
                    "idle and busy, 256 MiB and 2 GiB: emu→emu beside QEMU TCG's tcg→tcg, and "
                    "kvm→kvm, emu→kvm, kvm→emu where KVM runs Linux (skipped with the reason "
                    "otherwise; make bench-kvm runs those on a real or nested KVM)")
    args = ap.parse_args()
    BUILD = args.build
    if args.only == "linux-io":
        linux_io.linux_io_table(BUILD)
        return
    if args.only == "linux-boot":
        linux_boot_table(BUILD, args.runs)
        return
    if args.only == "jail":
        jail_startup.jail_startup_table(BUILD, max(args.runs, 20))
        return
    if args.only == "systemd":
        systemd_boot.systemd_table(BUILD, min(args.runs, 3))
        return
    if args.only == "seccomp":
        seccomp_cost.seccomp_cost_table(BUILD, args.runs)
        return
    if args.only == "snapshot":
        snapshot_restore.snapshot_table(BUILD, min(args.runs, 3))
        return
    if args.only == "idle-memory":
        idle_memory.idle_memory_table(BUILD, min(args.runs, 3))
        return
    if args.only == "migration":
        migration.migration_table(BUILD, min(args.runs, 3))
        return
    if args.only == "migration-downtime":
        migration_downtime.downtime_table(BUILD, min(args.runs, 3))
        return
    guests = os.path.join(BUILD, "guests")
    vmms = vmm_commands(BUILD, guests)
    elf = lambda n: os.path.join(guests, n + ".elf")
    rows = {}

    skipped = {}
    for name, mk in list(vmms.items()):
        why = probe(mk(elf("hello"), ""))
        if why:
            skipped[name] = why
            del vmms[name]
            print(f"skipped {name}: {why}", file=sys.stderr)
    for name, mk in vmms.items():
        r = {}
        # TCG translates once and then runs near native speed, so it needs
        # far longer loops for its figures to rise above timer granularity.
        scale = 200 if ("tcg" in name or name == "vmon (emu)") else 1
        n_exits, n_iters = args.exits * scale, args.iters * scale
        r["first"] = median_of(lambda: run_timed(mk(elf("hello"), ""), [])[0]["first_byte"], args.runs)

        def exits():
            t, _ = run_timed(mk(elf("exitstorm"), f"n={n_exits}"),
                             ["exitstorm:", "pio_writes=", "mmio_writes="])
            return ((t["pio_writes="] - t["exitstorm:"]) / n_exits,
                    (t["mmio_writes="] - t["pio_writes="]) / (2 * n_exits))
        ex = [exits() for _ in range(args.runs)]
        r["pio"] = statistics.median(e[0] for e in ex)
        r["mmio"] = statistics.median(e[1] for e in ex)

        def compute():
            t, _ = run_timed(mk(elf("compute"), f"iters={n_iters}"), ["compute:", "checksum="])
            return (t["checksum="] - t["compute:"]) / n_iters
        r["compute"] = median_of(compute, args.runs)

        _, rss = run_timed(mk(elf("serial_echo"), ""), ["serial_echo:"], sample_rss_on="serial_echo:")
        r["rss"] = rss
        rows[name] = r
        print(f"measured {name}", file=sys.stderr)

    vmon_ref = "vmon (kvm)" if "vmon (kvm)" in rows else "vmon (emu)"
    guest_touched = rows[vmon_ref]["rss"].get("RssShmem", 0)
    for name, r in rows.items():
        if name.startswith("vmon"):
            r["overhead_kib"] = r["rss"]["RssAnon"] + r["rss"]["RssFile"]
        else:
            r["overhead_kib"] = r["rss"]["VmRSS"] - guest_touched
    insns_per_iter = emu_instructions_per_iteration(BUILD, elf("compute"))
    for name, r in rows.items():
        r["mips"] = insns_per_iter / r["compute"] / 1e6
    native_iters = args.iters * 1000
    native = statistics.median(native_compute_seconds(native_iters)
                               for _ in range(args.runs)) / native_iters

    pairs = [(a, b) for a, b in [("vmon (kvm)", "qemu (kvm)"), ("vmon (emu)", "qemu (tcg)")]
             if a in rows and b in rows]
    print("| metric | " + " | ".join(rows) + " | "
          + " | ".join(f"{a} / {b}" for a, b in pairs) + " |")
    print("|---|" + "---|" * (len(rows) + len(pairs)))

    def ratio(a, b, key):
        return rows[a][key] / rows[b][key] if rows[b][key] else float("nan")

    def line(label, key, fmt):
        vals = [rows[n][key] for n in rows]
        print(f"| {label} | " + " | ".join(fmt(v) for v in vals) + " | "
              + " | ".join(f"{ratio(a, b, key):.2f}×" for a, b in pairs) + " |")

    line("spawn → first serial byte (hello)", "first", fmt_ms)
    line("port-I/O exit round trip (exitstorm)", "pio", fmt_us)
    line("MMIO exit round trip (exitstorm)", "mmio", fmt_us)
    line("compute loop, time per iteration", "compute", fmt_ns)
    line("guest instructions per second (compute)", "mips", lambda v: f"{v:,.1f} M")
    line("resident memory beyond guest RAM", "overhead_kib", lambda k: f"{k / 1024:.1f} MiB")
    print()
    print(f"native host code, same compute loop: {fmt_ns(native)} per iteration, "
          f"{insns_per_iter / native / 1e6:,.0f} M guest-equivalent instructions/s "
          f"({insns_per_iter:.1f} instructions per iteration); slowdown vs native: "
          + ", ".join(f"{n} {rows[n]['compute'] / native:,.1f}×" for n in rows))
    print(f"guest RAM touched by serial_echo ({vmon_ref} RssShmem): {guest_touched / 1024:.1f} MiB; "
          + ", ".join(f"{n} VmRSS {rows[n]['rss']['VmRSS'] / 1024:.1f} MiB" for n in rows))
    for name, why in skipped.items():
        print(f"{name}: not measured on this host ({why})")
    isolated(linux_boot_table, BUILD, min(args.runs, 3))
    isolated(systemd_boot.systemd_table, BUILD, min(args.runs, 3))
    isolated(snapshot_restore.snapshot_table, BUILD, min(args.runs, 3))
    isolated(idle_memory.idle_memory_table, BUILD, min(args.runs, 3))
    isolated(migration.migration_table, BUILD, min(args.runs, 3))
    isolated(migration_downtime.downtime_table, BUILD, min(args.runs, 3))
    isolated(linux_io.linux_io_table, BUILD)
    isolated(jail_startup.jail_startup_table, BUILD, max(args.runs, 20))
    print()
    isolated(seccomp_cost.seccomp_cost_table, BUILD, args.runs)
    print()
    print(f"runs per figure: {args.runs} (median; Linux boot, systemd, snapshot, idle memory and "
          f"the migration tables: {min(args.runs, 3)}); exits per run: {args.exits} "
          f"(emu and qemu tcg: {args.exits * 200}); compute iterations: {args.iters} "
          f"(emu and qemu tcg: {args.iters * 200}, native: {args.iters * 1000})")


if __name__ == "__main__":
    main()
