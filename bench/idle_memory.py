"""Issue 15's idle-VM memory benchmark: how much host memory one idle Linux
guest (make guest's kernel and initramfs, 256 MiB, its shell waiting on the
console) costs, on vmon's software CPU with and without virtio-balloon
free page reporting, beside QEMU TCG booting the same guest, in the same
run. Called by bench.py (make bench); `bench/run.sh --only idle-memory`
runs it alone.

Each VMM boots the guest to its shell, then waits SETTLE seconds (Linux
reports freed memory about 2 s after it is freed, in blocks of 2 MiB and
more) and reads /proc/PID/status and /proc/PID/smaps:

  total     PSS (/proc/PID/smaps_rollup): every page the process holds,
            a page it maps twice counted once (vmon's translation arena is
            one memfd mapped writable and executable; VmRSS would count it
            twice) and shared-library pages in proportion to their users
  guest     the resident part of vmon's guest-RAM memfd mapping
            ("vmon-guest-ram"); QEMU's RAM is anonymous memory mixed with
            its own, so only its total is given
  VMM       total less guest: vmon's own memory (code, heap, the software
            CPU's translation arena, thread stacks)

Firecracker documents a VMM overhead of at most 5 MiB per microVM with
KVM (its SPECIFICATION.md); that figure is quoted, not measured here.
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

import snapshot_restore

MIB = 256
SETTLE = 8.0


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def guest_ram_kib(pid):
    """Rss of the mapping of vmon's guest-RAM memfd, in KiB."""
    total, in_ram = 0, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split(" ", 1)[0]
            if "-" in first and all(c in "0123456789abcdef-" for c in first):
                in_ram = "vmon-guest-ram" in line
            elif in_ram and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


def measure(cmd, is_vmon):
    g = snapshot_restore.boot_to_shell(cmd)
    if not g:
        return None, "the guest did not reach its shell"
    try:
        time.sleep(SETTLE)
        pid = g.p.pid
        total = pss_kib(pid)
        guest = guest_ram_kib(pid) if is_vmon else None
        return (total, guest), None
    finally:
        g.stop()


def idle_memory_table(build, runs):
    g_dir = os.path.join(build, "guest")
    if not os.path.exists(os.path.join(g_dir, "vmlinux")):
        print("\n(idle-memory benchmark skipped: run `make guest` first)")
        return
    work = tempfile.mkdtemp(prefix="vmon-bench-idle.")
    os.environ["VMON_RUNTIME_DIR"] = os.path.join(work, "run")
    vmon = [os.path.join(build, "vmon"), "run", "--backend", "emu", "--mem", f"{MIB}M",
            "--kernel", os.path.join(g_dir, "bzImage"),
            "--initrd", os.path.join(g_dir, "initramfs.cpio.gz"),
            "--cmdline", "console=ttyS0 quiet"]
    qemu = ["qemu-system-x86_64", "-accel", "tcg", "-M", "microvm", "-m", str(MIB),
            "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", os.path.join(g_dir, "vmlinux"),
            "-initrd", os.path.join(g_dir, "initramfs.cpio.gz"),
            "-append", "console=ttyS0 quiet"]
    configs = [
        ("vmon (emu)", vmon, True),
        ("vmon (emu), free page reporting", vmon + ["--balloon", "0,free_page_reporting=on"], True),
        ("qemu (tcg)", qemu, False),
    ]
    if not shutil.which("qemu-system-x86_64"):
        configs.pop()
    rows = []
    try:
        for name, cmd, is_vmon in configs:
            totals, guests, why = [], [], None
            for _ in range(runs):
                r, w = measure(cmd, is_vmon)
                if w:
                    why = w
                    print(f"idle-memory bench {name}: {w}", file=sys.stderr)
                    continue
                totals.append(r[0])
                if r[1] is not None:
                    guests.append(r[1])
            rows.append((name, statistics.median(totals) if totals else None,
                         statistics.median(guests) if guests else None, len(totals), why))
            print(f"measured idle memory: {name}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def mib(k):
        return f"{k / 1024:.1f} MiB" if k is not None else "n/a"

    qemu_total = next((t for n, t, _, _, _ in rows if n.startswith("qemu")), None)
    print()
    print(f"| idle Linux guest, {MIB} MiB, shell waiting | total (PSS) | guest RAM resident | "
          "VMM (total less guest) | total / qemu (tcg) | runs |")
    print("|---|---|---|---|---|---|")
    for name, total, guest, n, why in rows:
        vmm = total - guest if total is not None and guest is not None else None
        ratio = f"{total / qemu_total:.2f}×" if total and qemu_total else "n/a"
        print(f"| {name} | {mib(total)} | {mib(guest)} | {mib(vmm)} | {ratio} | {n}/{runs} |"
              + (f" ({why})" if why and not n else ""))
    print(f"(median of {runs} runs; measured {SETTLE:.0f} s after the shell prompt; "
          "Firecracker documents at most 5 MiB of VMM overhead per microVM, with KVM)")
