"""Jailed start-up time vs plain (issue 15): the hello kit guest on vmon's
software CPU, from spawn to its first serial byte and to the end of the
run, started by `vmon run` and by `vmon jail` (an unprivileged uid, its own
cgroup with a memory limit, with and without a PID namespace). Round
robin, medians. Needs root (the jailer does); skipped otherwise."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd):
    """(seconds to the first stdout byte, seconds to exit), or None."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    first = p.stdout.read(1)
    t_first = time.perf_counter() - t0
    p.stdout.read()
    rc = p.wait()
    t_end = time.perf_counter() - t0
    return (t_first, t_end) if first and rc == 0 else None


def memory_key():
    """The memory limit file the jailer's default cgroup version uses."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            rest = line.split(" - ", 1)[1].split()
            if rest[0] == "cgroup" and "memory" in rest[2].split(","):
                return "memory.limit_in_bytes"
    return "memory.max"


def jail_startup_table(build, runs):
    if os.geteuid() != 0:
        print("\n(jailed start-up benchmark skipped: the jailer needs root)")
        return
    vmon = os.path.join(build, "vmon")
    hello = os.path.join(build, "guests", "hello.elf")
    run_args = ["--backend", "emu", "--mem", "64M", "--kernel", hello]
    base = tempfile.mkdtemp(prefix="vmon-bench-jail.")
    parent = f"vmon-bench-{os.getpid()}"
    key = memory_key()
    n = [0]

    def jail(extra):
        def cmd():
            n[0] += 1
            return [vmon, "jail", "--id", f"b{n[0]}", "--uid", "65534", "--gid", "65534",
                    "--chroot-base", base, "--parent-cgroup", parent,
                    "--cgroup", f"{key}=256M"] + extra + ["--"] + run_args
        return cmd

    configs = {
        "vmon run": lambda: [vmon, "run"] + run_args,
        "vmon jail": jail([]),
        "vmon jail --new-pid-ns": jail(["--new-pid-ns"]),
    }
    vals = {name: [] for name in configs}
    try:
        for _ in range(runs):
            for name, mk in configs.items():
                r = timed(mk())
                if r:
                    vals[name].append(r)
            shutil.rmtree(os.path.join(base, "vmon"), ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        for c in ("memory", "cpu", "pids"):
            for root in (f"/sys/fs/cgroup/{c}", "/sys/fs/cgroup"):
                try:
                    os.rmdir(os.path.join(root, parent))
                except OSError:
                    pass
    print(f"measured jailed start-up", file=sys.stderr)
    ref = statistics.median(v[0] for v in vals["vmon run"]) if vals["vmon run"] else None
    print()
    print("| hello kit guest (emu, 64 MiB) | spawn → first serial byte | spawn → exit | "
          "first byte vs vmon run | clean runs |")
    print("|---|---|---|---|---|")
    for name, v in vals.items():
        if not v:
            print(f"| {name} | failed | failed | n/a | 0/{runs} |")
            continue
        first = statistics.median(x[0] for x in v)
        end = statistics.median(x[1] for x in v)
        extra = f"+{(first - ref) * 1e3:.1f} ms" if ref and name != "vmon run" else "—"
        print(f"| {name} | {first * 1e3:.1f} ms | {end * 1e3:.1f} ms | {extra} | {len(v)}/{runs} |")
