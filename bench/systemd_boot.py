"""Issue 16's systemd row: Debian 12 with systemd, booted from a
debootstrapped virtio-blk root (scripts/make-systemd-image.sh, cached in
build/systemd/), 1 GiB, with 1 and 2 vCPUs, on vmon's software CPU and on
QEMU TCG (a PC machine, multi-threaded TCG, virtio-blk on PCI like vmon's)
with the same kernel, initramfs, image and command line. Called by bench.py (make bench);
`bench/run.sh --only systemd` runs this section alone.

Timed on the host from spawn to the line "VMON-SYSTEMD-UP failed=N" that
the image's vmon-bench.service prints once multi-user.target is reached
(every unit started); the row also says how many units failed. Each run
boots a fresh sparse copy of the image (systemd writes to its root), made
before the clock starts. The 2-vCPU speed-up (1-vCPU time / 2-vCPU time) is
printed for each VMM.
"""
import os
import select
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = b"VMON-SYSTEMD-UP failed="
CMDLINE = "console=ttyS0 quiet panic=-1"


def build_image(build):
    """Builds the image if needed; None, or why it cannot be had."""
    env = dict(os.environ, GUEST_DIR=os.path.join(build, "guest"),
               SYSTEMD_DIR=os.path.join(build, "systemd"))
    p = subprocess.run([os.path.join(ROOT, "scripts", "make-systemd-image.sh")], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines()
        return lines[-1] if lines else f"make-systemd-image.sh: status {p.returncode}"
    return None


def boot(cmd, timeout=400):
    """Seconds from spawn to the marker line and the failed-unit count, or
    (None, why)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    buf = b""
    fd = p.stdout.fileno()
    try:
        while True:
            left = t0 + timeout - time.perf_counter()
            r, _, _ = select.select([fd], [], [], max(0.0, left))
            if not r:
                return None, "timeout"
            chunk = os.read(fd, 65536)
            if not chunk:
                tail = buf[-300:].decode(errors="replace").replace("\n", " ")
                return None, f"exited (status {p.wait()}) before the marker: {tail}"
            buf += chunk
            i = buf.find(MARK)
            if i >= 0 and b"\n" in buf[i:]:
                t = time.perf_counter() - t0
                failed = buf[i + len(MARK):].split(b"\n")[0].strip().decode(errors="replace")
                return t, failed
    finally:
        p.kill()
        p.wait()


def commands(build, disk, cpus):
    g = os.path.join(build, "guest")
    initrd = os.path.join(build, "systemd", "initramfs.cpio.gz")
    vmon = [os.path.join(build, "vmon"), "run", "--backend", "emu", "--mem", "1G",
            "--cpus", str(cpus), "--kernel", os.path.join(g, "bzImage"), "--initrd", initrd,
            "--cmdline", CMDLINE, "--disk", disk]
    # A PC (i440fx) with virtio-blk on PCI, as vmon's default transport:
    # on microvm, Linux calibrates its TSC against nothing but the PIT and
    # hangs there when this host is loaded.
    qemu = ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-M", "pc", "-m", "1024",
            "-smp", str(cpus), "-display", "none", "-vga", "none", "-serial", "stdio",
            "-monitor", "none", "-no-reboot", "-kernel", os.path.join(g, "bzImage"),
            "-initrd", initrd, "-append", CMDLINE,
            "-drive", f"file={disk},if=virtio,format=raw"]
    return {"vmon (emu)": vmon, "qemu (tcg)": qemu}


def systemd_table(build, runs):
    why = build_image(build)
    if why:
        print(f"\n(systemd boot benchmark skipped: {why})")
        return
    image = os.path.join(build, "systemd", "rootfs.ext4")
    disk = os.path.join(build, "systemd", "run.ext4")
    results = {}  # (vmm, cpus) -> [seconds], failed counts
    failed = {}
    # Round robin, each configuration once per round: this host's speed
    # drifts over minutes.
    for _ in range(runs):
        for cpus in (1, 2):
            for vmm in ("vmon (emu)", "qemu (tcg)"):
                subprocess.run(["cp", "--sparse=always", image, disk], check=True)
                t, f = boot(commands(build, disk, cpus)[vmm])
                key = (vmm, cpus)
                results.setdefault(key, [])
                if t is None:
                    print(f"systemd boot {vmm} {cpus} vCPU: {f}", file=sys.stderr)
                else:
                    results[key].append(t)
                    failed[key] = f
    try:
        os.unlink(disk)
    except OSError:
        pass
    med = {k: (statistics.median(v) if v else None) for k, v in results.items()}
    print()
    print("| Debian 12 systemd boot, virtio-blk root, 1 GiB | vmon (emu) | qemu (tcg) | vmon / qemu | failed units (vmon, qemu) | clean runs |")
    print("|---|---|---|---|---|---|")
    for cpus in (1, 2):
        a, b = med[("vmon (emu)", cpus)], med[("qemu (tcg)", cpus)]
        ratio = f"{a / b:.2f}×" if a and b else "n/a"
        fa = failed.get(("vmon (emu)", cpus), "-")
        fb = failed.get(("qemu (tcg)", cpus), "-")
        n = f"{len(results[('vmon (emu)', cpus)])}/{runs}, {len(results[('qemu (tcg)', cpus)])}/{runs}"
        print(f"| {cpus} vCPU | {a:.1f} s | " if a else f"| {cpus} vCPU | failed | ", end="")
        print(f"{b:.1f} s | {ratio} | {fa}, {fb} | {n} |" if b else f"failed | {ratio} | {fa}, {fb} | {n} |")
    for vmm in ("vmon (emu)", "qemu (tcg)"):
        one, two = med[(vmm, 1)], med[(vmm, 2)]
        if one and two:
            print(f"{vmm}: 2-vCPU speed-up {one / two:.2f}× (1 vCPU {one:.1f} s, 2 vCPUs {two:.1f} s)")
    print(f"(median of {runs} runs; spawn to vmon-bench.service's line after multi-user.target)")
