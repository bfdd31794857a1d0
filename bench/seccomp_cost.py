"""The cost of the seccomp filters (issue 15): the same runs with
--seccomp on and --seccomp off, alternated (round robin), medians.

- exit round trip: exitstorm's port-I/O and MMIO writes. On KVM every
  exit is a KVM_RUN ioctl through the vCPU thread's filter; on the
  software CPU an exit makes no system call, so the figures there show
  only the noise floor.
- disk I/O path: the default Linux guest (make guest) running iobench
  (O_DIRECT, queue depth 1, 4 KiB random reads and writes) on a
  virtio-blk disk: each request is a notify, an io_uring submission, a
  completion and an interrupt, through the vCPU's and the I/O thread's
  filters. One boot per mode, each op IO_ROUNDS times, alternating.

Backends: emu always, kvm where /dev/kvm is usable."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

import linux_io

IO_OPS = [("random read, 4 KiB", "randread"), ("random write, 4 KiB", "randwrite")]
IO_SECONDS = 3
IO_ROUNDS = 3


def _spawn_times(cmd, markers, timeout=600):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    times = {}
    for line in iter(p.stdout.readline, b""):
        now = time.perf_counter() - t0
        s = line.decode(errors="replace").strip()
        for m in markers:
            if s.startswith(m) and m not in times:
                times[m] = now
        if now > timeout:
            p.kill()
            break
    rc = p.wait()
    times["end"] = time.perf_counter() - t0
    return times, rc


def _backends(vmon, guests):
    out = ["emu"]
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        r = subprocess.run([vmon, "run", "--no-api", "--backend", "kvm", "--kernel",
                            os.path.join(guests, "hello.elf")], stdin=subprocess.DEVNULL,
                           capture_output=True)
        if r.returncode == 0:
            out.append("kvm")
    return out


def seccomp_cost_table(build, runs, exits=20000):
    vmon = os.path.join(build, "vmon")
    guests = os.path.join(build, "guests")
    rows = []
    for b in _backends(vmon, guests):
        base = [vmon, "run", "--no-api", "--backend", b, "--mem", "256M"]
        n = exits * (50 if b == "emu" else 1)
        res = {"on": {"pio": [], "mmio": []}, "off": {"pio": [], "mmio": []}}
        if True:
            for _ in range(runs):
                for mode in ("on", "off"):
                    t, rc = _spawn_times(base + ["--seccomp", mode, "--kernel",
                                                 os.path.join(guests, "exitstorm.elf"),
                                                 "--cmdline", f"n={n}"],
                                         ["exitstorm:", "pio_writes=", "mmio_writes="])
                    if rc == 0 and len(t) == 4:
                        res[mode]["pio"].append((t["pio_writes="] - t["exitstorm:"]) / n)
                        res[mode]["mmio"].append((t["mmio_writes="] - t["pio_writes="]) / (2 * n))
        if b == "emu":
            io = linux_iops(build, base)
            for mode in ("on", "off"):
                for label, _ in IO_OPS:
                    res[mode][label] = io.get(mode, {}).get(label, [])
        rows.append((b, res))
        print(f"measured seccomp cost on {b}", file=sys.stderr)

    def med(v):
        return statistics.median(v) if v else float("nan")

    print("| backend | path | --seccomp on | --seccomp off | on / off |")
    print("|---|---|---|---|---|")
    names = {"pio": "port-I/O exit round trip (exitstorm)",
             "mmio": "MMIO exit round trip (exitstorm)"}
    for b, res in rows:
        for k in ("pio", "mmio"):
            on, off = med(res["on"][k]), med(res["off"][k])
            print(f"| {b} | {names[k]} | {on * 1e6:.3f} µs | {off * 1e6:.3f} µs | "
                  f"{on / off if off else float('nan'):.3f}× |")
        for label, _ in IO_OPS:
            if label not in res["on"]:
                continue
            on, off = med(res["on"][label]), med(res["off"][label])
            print(f"| {b} | Linux guest iobench {label}, QD1 (IOPS) | {on:,.0f} | {off:,.0f} | "
                  f"{on / off if off else float('nan'):.3f}× |")
    print()
    print(f"({runs} runs of each, alternated; medians. exitstorm n={exits} on KVM, "
          f"{exits * 50} on the software CPU; iobench: one Linux boot per mode, "
          f"{IO_ROUNDS} rounds of {IO_SECONDS} s per op, medians.)")


def linux_iops(build, base):
    """{mode: {label: [IOPS per round]}} from one Linux boot per mode."""
    g_dir = os.path.join(build, "guest")
    if not all(os.path.exists(os.path.join(g_dir, f))
               for f in ("bzImage", "initramfs.cpio.gz", "tools/iobench")):
        print("(Linux I/O part of the seccomp cost skipped: run `make guest` first)")
        return {}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        guests = {}
        try:
            for mode in ("on", "off"):
                img = os.path.join(tmp, f"io-{mode}.img")  # one each: images are locked
                with open(img, "wb") as f:
                    f.write(b"\x5a" * (64 << 20))  # written out: reads hit real blocks
                g = linux_io.Guest(base + ["--seccomp", mode, "--kernel",
                                           os.path.join(g_dir, "bzImage"), "--initrd",
                                           os.path.join(g_dir, "initramfs.cpio.gz"), "--cmdline",
                                           "console=ttyS0 quiet", "--disk", img + ",id=io"])
                guests[mode] = g
                g.wait_for(r"vmon guest: Linux ", timeout=300)
                g.run('stty cols 4000; echo "READY=$(nproc)"', r"READY=\d", timeout=120)
            tag = 0
            for _ in range(IO_ROUNDS):
                for label, op in IO_OPS:
                    for mode in ("on", "off"):
                        tag += 1
                        r = linux_io.guest_iobench(guests[mode], op, 4096, IO_SECONDS, tag)
                        out.setdefault(mode, {}).setdefault(label, []).append(r[1])
        except RuntimeError as e:
            print(f"(Linux I/O part of the seccomp cost stopped: {e})")
        finally:
            for g in guests.values():
                g.stop()
    return out


if __name__ == "__main__":
    seccomp_cost_table(os.environ.get("BUILD", "build"), int(sys.argv[1]) if len(sys.argv) > 1 else 5)
