"""Issue 5's benchmark: storage and network inside the default Linux guest
(make guest), beside the same operations on the host. Called by bench.py
(make bench); `bench/run.sh --only linux-io` runs this section alone.

Storage: the guest runs guests/linux-tools/iobench on a raw virtio-blk
image (/dev/vda, O_DIRECT, queue depth 1): sequential 1 MiB and random
4 KiB reads and writes, a fixed time each. The same iobench binary then
runs on the host against the same image file, with O_DIRECT and through
the page cache (-B). vmon itself opens images without O_DIRECT, so the
guest's requests land in the host's page cache: the page-cache column is
the ceiling, the O_DIRECT one what the host's disk does.

Network: TCP throughput with sockcat (zero bytes, 256 KiB writes) between
the guest and a peer process on the host, both ways, through --net user
(libslirp; the peer on 127.0.0.1, the guest connects to 10.0.2.2) and, as
root, through a tap device in a network namespace made for the run (the
peer on 10.0.3.1); beside host loopback TCP between the same two programs.

All guest-side figures are timed on the host: from the arrival of a
marker line the guest prints just before the operation to the arrival of
its result line (storage), or from the peer's accept to its EOF
(guest -> host) or to the arrival of the guest's "received=" line
(host -> guest). CLOCK_MONOTONIC is the same clock in every process.
"""
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_BYTES = 256 << 20
STORAGE_OPS = [  # (label, op, block size, guest seconds)
    ("sequential read, 1 MiB", "seqread", 1 << 20, 5),
    ("sequential write, 1 MiB", "seqwrite", 1 << 20, 5),
    ("random read, 4 KiB", "randread", 4096, 5),
    ("random write, 4 KiB", "randwrite", 4096, 5),
]
HOST_SECONDS = 3


# ---- The TCP peer (run as `python3 linux_io.py peer ...`, maybe in a netns) ----

def peer(mode, addr, port, nbytes):
    """sink: accept one connection, read to EOF, print 'result T_ACCEPT
    T_EOF BYTES'. source: accept, send NBYTES zero bytes, half-close, print
    'accepted T_ACCEPT', read to EOF."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(1)
    print("listening", srv.getsockname()[1], flush=True)
    srv.settimeout(600)
    c, _ = srv.accept()
    t0 = time.monotonic()
    if mode == "source":
        print("accepted", t0, flush=True)
        left = int(nbytes)
        buf = bytes(256 << 10)
        while left:
            left -= c.send(buf[:min(left, len(buf))])
        c.shutdown(socket.SHUT_WR)
        while c.recv(1 << 16):
            pass
        return
    n = 0
    while True:
        b = c.recv(1 << 18)
        if not b:
            break
        n += len(b)
    print("result", t0, time.monotonic(), n, flush=True)


class Peer:
    def __init__(self, prefix, mode, addr, nbytes):
        self.p = subprocess.Popen(prefix + [sys.executable, os.path.abspath(__file__), "peer", mode,
                                            addr, "0", str(nbytes)],
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().split()
        if not line or line[0] != "listening":
            raise RuntimeError("the TCP peer did not start")
        self.port = int(line[1])

    def line(self):
        return self.p.stdout.readline().split()

    def close(self):
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


# ---- The guest, driven through its console ----

class Guest:
    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.buf = b""
        self.lines = []  # (arrival time, text)
        self.pos = 0

    def _read(self, deadline):
        fd = self.p.stdout.fileno()
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            raise RuntimeError("timed out; guest's last lines: "
                               + " | ".join(t for _, t in self.lines[-5:]))
        chunk = os.read(fd, 65536)
        t = time.monotonic()
        if not chunk:
            raise RuntimeError("the guest ended; its last lines: "
                               + " | ".join(t for _, t in self.lines[-5:]))
        self.buf += chunk.replace(b"\r", b"")
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.lines.append((t, line.decode(errors="replace")))

    def wait_for(self, regex, timeout=300):
        """The first line from now on that matches regex (at its start):
        (arrival time, match)."""
        deadline = time.monotonic() + timeout
        rx = re.compile(regex)
        while True:
            while self.pos < len(self.lines):
                t, text = self.lines[self.pos]
                self.pos += 1
                m = rx.match(text)
                if m:
                    return t, m
            self._read(deadline)

    def send(self, command):
        self.p.stdin.write(command.encode() + b"\n")
        self.p.stdin.flush()

    def run(self, command, regex, timeout=300):
        self.send(command)
        return self.wait_for(regex, timeout)

    def stop(self):
        try:
            self.send("poweroff -f")
            self.p.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()


# ---- Measurements ----

IOB = re.compile(r"iobench op=(\w+) bs=(\d+) ops=(\d+) bytes=(\d+) secs=([\d.]+)")


def host_iobench(tool, op, bs, path, buffered):
    cmd = [tool, "-b", str(bs), "-t", str(HOST_SECONDS)] + (["-B"] if buffered else []) + [op, path]
    out = subprocess.run(cmd, capture_output=True, text=True)
    m = IOB.search(out.stdout)
    if not m:
        return None
    return int(m.group(4)) / float(m.group(5)), int(m.group(3)) / float(m.group(5))


def guest_iobench(g, op, bs, secs, tag):
    t0, _ = g.run(f'echo "IOSTART={tag}"; iobench -b {bs} -t {secs} {op} /dev/vda', rf"IOSTART={tag}$")
    t1, m = g.wait_for(r"iobench op=|iobench: ", timeout=secs + 120)
    if not m.group(0).startswith("iobench op="):
        raise RuntimeError("iobench in the guest failed: " + g.lines[g.pos - 1][1])
    m = IOB.match(g.lines[g.pos - 1][1])
    nbytes, ops = int(m.group(4)), int(m.group(3))
    return nbytes / (t1 - t0), ops / (t1 - t0), float(m.group(5)), t1 - t0


def tcp_guest_to_host(g, prefix, addr, guest_addr, nbytes, tag):
    p = Peer(prefix, "sink", addr, 0)
    g.run(f'sockcat -z {nbytes} tcp-connect {guest_addr} {p.port} </dev/null 2>/dev/null; '
          f'echo "TX{tag}=$?"', rf"TX{tag}=(\d+)", timeout=600)
    r = p.line()
    p.close()
    if len(r) != 4 or int(r[3]) != nbytes:
        raise RuntimeError(f"guest -> host: the peer got {r}")
    return nbytes / (float(r[2]) - float(r[1]))


def tcp_host_to_guest(g, prefix, addr, guest_addr, nbytes, tag):
    p = Peer(prefix, "source", addr, nbytes)
    g.send(f'sockcat -d tcp-connect {guest_addr} {p.port} </dev/null; echo "RX{tag}=$?"')
    r = p.line()
    t1, m = g.wait_for(r"sockcat: sent=0 received=(\d+)|sockcat: ", timeout=600)
    p.close()
    if len(r) != 2 or not m.group(1) or int(m.group(1)) != nbytes:
        raise RuntimeError(f"host -> guest: peer {r}, guest '{m.group(0)}'")
    return nbytes / (t1 - float(r[1]))


def tcp_loopback(prefix, tool, nbytes):
    p = Peer(prefix, "sink", "127.0.0.1", 0)
    subprocess.run(prefix + [tool, "-z", str(nbytes), "tcp-connect", "127.0.0.1", str(p.port)],
                   stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    r = p.line()
    p.close()
    return nbytes / (float(r[2]) - float(r[1]))


def kvm_linux_reason():
    """Why KVM cannot run the Linux guest here (None if it can): the test
    suite's rule (tests/integration/linux_kvm.sh)."""
    cpu = open("/proc/cpuinfo").read()
    if not re.search(r"\b(vmx|svm)\b", cpu) or not any(
            os.path.exists(f"/sys/module/{m}") for m in ("kvm_intel", "kvm_amd")):
        return "no hardware virtualization on this host (no vmx/svm with kvm_intel/kvm_amd)"
    return None


def netns_setup():
    """A network namespace with tap vmtap0 (10.0.3.1/24) and lo up, or
    (None, why not)."""
    if os.geteuid() != 0:
        return None, "needs root (network namespace and tap device)"
    if not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
        return None, "needs ip(8) and /dev/net/tun"
    ns = f"vmon-bench-{os.getpid()}"
    steps = [["ip", "netns", "add", ns],
             ["ip", "netns", "exec", ns, "ip", "tuntap", "add", "dev", "vmtap0", "mode", "tap"],
             ["ip", "netns", "exec", ns, "ip", "addr", "add", "10.0.3.1/24", "dev", "vmtap0"],
             ["ip", "netns", "exec", ns, "ip", "link", "set", "vmtap0", "up"],
             ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]]
    for s in steps:
        r = subprocess.run(s, capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            return None, f"'{' '.join(s)}' failed: {r.stderr.strip()}"
    return ns, None


def fmt_rate(bps):
    return f"{bps / 1048576:,.1f} MiB/s"


def fmt_storage(label, v):
    if v is None:
        return "failed"
    bps, iops = v
    return f"{iops:,.0f} IOPS ({fmt_rate(bps)})" if "random" in label else fmt_rate(bps)


def linux_io_table(build, backends=("emu", "kvm"), tcp_bytes=32 << 20):
    g_dir = os.path.join(build, "guest")
    tools = os.path.join(g_dir, "tools")
    if not all(os.path.exists(os.path.join(g_dir, f)) for f in ("bzImage", "initramfs.cpio.gz")) \
            or not os.path.exists(os.path.join(tools, "iobench")):
        print("\n(Linux storage/network benchmark skipped: run `make guest` first)")
        return
    workdir = os.path.join(build, "bench")
    os.makedirs(workdir, exist_ok=True)
    image = os.path.join(workdir, "linux-io.img")
    with open(image, "wb") as f:  # written out, not sparse: reads hit real blocks
        subprocess.run([os.path.join(tools, "pattern"), "5", str(IMAGE_BYTES)], stdout=f, check=True)
    os.sync()

    host = {}
    for label, op, bs, _ in STORAGE_OPS:
        host[label] = (host_iobench(os.path.join(tools, "iobench"), op, bs, image, False),
                       host_iobench(os.path.join(tools, "iobench"), op, bs, image, True))
    print("measured host storage", file=sys.stderr)

    ns, ns_why = netns_setup()
    prefix = ["ip", "netns", "exec", ns] if ns else []
    results, notes = {}, []
    try:
        loop = tcp_loopback(prefix, os.path.join(tools, "sockcat"), 1 << 30)
        for be in backends:
            if be == "kvm":
                why = kvm_linux_reason()
                if why:
                    notes.append(f"kvm backend skipped: {why}; KVM cannot run Linux here.")
                    continue
            cmd = prefix + [os.path.join(build, "vmon"), "run", "--backend", be, "--mem", "256M",
                            "--kernel", os.path.join(g_dir, "bzImage"),
                            "--initrd", os.path.join(g_dir, "initramfs.cpio.gz"),
                            "--cmdline", "console=ttyS0 quiet", "--disk", image,
                            "--net", "user"] + (["--net", "tap:vmtap0"] if ns else [])
            g = Guest(cmd)
            r = {}
            try:
                g.wait_for(r"vmon guest: Linux ", timeout=300)
                g.run('stty cols 4000; echo "READY=$(nproc)"', r"READY=\d", timeout=120)
                g.run("ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; "
                      'echo "NET=$?"', r"NET=\d")
                if ns:
                    g.run("ip link set eth1 up; ip addr add 10.0.3.2/24 dev eth1; "
                          'echo "TAP=$?"', r"TAP=\d")
                for i, (label, op, bs, secs) in enumerate(STORAGE_OPS):
                    r[label] = guest_iobench(g, op, bs, secs, i)
                print(f"measured {be} storage", file=sys.stderr)
                r["tcp g2h user"] = tcp_guest_to_host(g, prefix, "127.0.0.1", "10.0.2.2", tcp_bytes, 1)
                r["tcp h2g user"] = tcp_host_to_guest(g, prefix, "127.0.0.1", "10.0.2.2", tcp_bytes, 2)
                if ns:
                    r["tcp g2h tap"] = tcp_guest_to_host(g, prefix, "10.0.3.1", "10.0.3.1", tcp_bytes, 3)
                    r["tcp h2g tap"] = tcp_host_to_guest(g, prefix, "10.0.3.1", "10.0.3.1", tcp_bytes, 4)
                print(f"measured {be} network", file=sys.stderr)
            except RuntimeError as e:
                notes.append(f"{be}: stopped early: {e}")
            finally:
                g.stop()
            results[be] = r
    finally:
        if ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        os.unlink(image)

    print()
    for be, r in results.items():
        print(f"| storage, vmon ({be}) guest vs host, raw image, QD1 | guest (O_DIRECT) "
              f"| host O_DIRECT | guest / host O_DIRECT | host page cache | guest / host page cache |")
        print("|---|---|---|---|---|---|")
        for label, _, _, _ in STORAGE_OPS:
            gv = r.get(label)
            hd, hb = host[label]
            k = 1 if "random" in label else 0  # compare IOPS or bytes/s
            rd = f"{gv[k] / hd[k]:.3g}×" if gv and hd else "n/a"
            rb = f"{gv[k] / hb[k]:.3g}×" if gv and hb else "n/a"
            print(f"| {label} | {fmt_storage(label, gv[:2] if gv else None)} | {fmt_storage(label, hd)} "
                  f"| {rd} | {fmt_storage(label, hb)} | {rb} |")
        print()
        print(f"| TCP, vmon ({be}) | throughput | vs host loopback |")
        print("|---|---|---|")
        print(f"| host loopback (sockcat → peer, 1 GiB) | {fmt_rate(loop)} | 1× |")
        for key, label in (("tcp g2h user", "guest → host, --net user"),
                           ("tcp h2g user", "host → guest, --net user"),
                           ("tcp g2h tap", "guest → host, tap"),
                           ("tcp h2g tap", "host → guest, tap")):
            if key in r:
                print(f"| {label} ({tcp_bytes >> 20} MiB) | {fmt_rate(r[key])} | {r[key] / loop:.3g}× |")
            elif key.endswith("tap") and not ns:
                print(f"| {label} | skipped: {ns_why} | |")
        print()
        clock = [f"{label.split(',')[0].replace('sequential', 'seq').replace('random', 'rand')} "
                 f"{v[2]:.2f} s guest clock / {v[3]:.2f} s host" for label, v in r.items()
                 if label in host and v]
        print(f"guest storage runs ({be}): " + "; ".join(clock))
    for n in notes:
        print(n)
    print("one run per figure; guest figures timed on the host (see bench/linux_io.py)")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "peer":
        peer(*sys.argv[2:])
    else:
        linux_io_table(os.environ.get("BUILD", "build"))
