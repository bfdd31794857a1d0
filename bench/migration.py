"""Live-migration throughput, plain TCP against TLS (docs/migration.md):
the default Linux guest (make guest) with 512 MiB of RAM on vmon's
software CPU, 256 MiB of random data written to its tmpfs (so that the
pages are neither zero nor compressible), then migrated between vmon
processes on this host over loopback TCP, alternately plain and TLS
(certificates made with certtool, ECDSA P-256; GnuTLS's default
priorities: TLS 1.3 with AES-GCM where the host has AES-NI). Called by
bench.py (make bench); `bench/run.sh --only migration` runs it alone.

Each hop is timed by the source (vmon's own figures: stream bytes and
total time from the start of PUT /migrate to the target's RUNNING), so
the figure is the whole migration's rate — the guest is an idle shell,
so it is one full pass and one short round — not the link's alone. Both
ends and the guest share the host's CPUs: on a loaded host (a 2-core
CI machine) the figures are that host's.
"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from snapshot_restore import Guest, boot_to_shell

MIB = 512
FILL_MIB = 256
LINE = re.compile(rb"migrated to \S+: (\d+) rounds, (\d+) pages sent, (\d+) bytes, "
                  rb"downtime (\d+) ms, total (\d+) ms")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port, timeout=60):
    """Waits until a socket listens on port (/proc/net/tcp: connecting
    would be the one connection the receiver accepts)."""
    want = f":{port:04X}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if parts[1].endswith(want) and parts[3] == "0A":
                    return True
        time.sleep(0.05)
    return False


def make_certs(d):
    """CA, target and source certificates in d; False without certtool."""
    if not shutil.which("certtool"):
        return False

    def mk(name, cn, extra, ca=None):
        key, pem, tmpl = (os.path.join(d, name + s) for s in (".key", ".pem", ".tmpl"))
        with open(tmpl, "w") as f:
            f.write(f'cn = "{cn}"\nexpiration_days = 2\n{extra}\n')
        subprocess.run(["certtool", "--generate-privkey", "--key-type=ecdsa", "--outfile", key],
                       check=True, capture_output=True)
        if ca:
            cmd = ["certtool", "--generate-certificate", "--load-ca-certificate",
                   os.path.join(d, ca + ".pem"), "--load-ca-privkey", os.path.join(d, ca + ".key")]
        else:
            cmd = ["certtool", "--generate-self-signed"]
        subprocess.run(cmd + ["--load-privkey", key, "--template", tmpl, "--outfile", pem],
                       check=True, capture_output=True)

    mk("ca", "bench CA", "ca\ncert_signing_key")
    mk("target", "vmon-target", 'ip_address = "127.0.0.1"\ntls_www_server\nsigning_key', "ca")
    mk("source", "vmon-source", "tls_www_client\nsigning_key", "ca")
    return True


def tls_opts(d, side):
    return ["--tls-cert", os.path.join(d, side + ".pem"), "--tls-key",
            os.path.join(d, side + ".key"), "--tls-ca", os.path.join(d, "ca.pem")]


def hop(vmon, env, src, src_id, dst_id, certs, guest=Guest, target_args=()):
    """Migrates src to a new target (over TLS when certs is given; the
    target a `guest`, Guest or a subclass, started with target_args too,
    such as its --backend); returns (target, the source's
    summary (rounds, pages, bytes, downtime ms, total ms), None), or
    (None or the target, None, why)."""
    port = free_port()
    url = f"tcp:127.0.0.1:{port}"
    tgt = guest([vmon, "run", "--incoming", url, "--id", dst_id] + list(target_args) +
                (tls_opts(certs, "target") if certs else []))
    if not listening(port):
        tgt.stop()
        return None, None, "the target did not listen"
    r = subprocess.run([vmon, "migrate", src_id, "--to", url] +
                       (tls_opts(certs, "source") + ["--tls-hostname", "127.0.0.1"]
                        if certs else []),
                       env=env, capture_output=True, timeout=900)
    if r.returncode != 0:
        tgt.stop()
        return None, None, f"vmon migrate: {r.stderr.decode(errors='replace').strip()}"
    try:
        src.p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        src.stop()
    m = LINE.search(src.p.stderr.read())
    if not m:
        return tgt, None, "no summary line from the source"
    return tgt, tuple(int(g) for g in m.groups()), None


def migration_table(build, runs):
    g_dir = os.path.join(build, "guest")
    vmon = os.path.abspath(os.path.join(build, "vmon"))
    if not os.path.exists(os.path.join(g_dir, "bzImage")):
        print("\n(migration benchmark skipped: run `make guest` first)")
        return
    work = tempfile.mkdtemp(prefix="vmon-bench-mig.")
    env = dict(os.environ, VMON_RUNTIME_DIR=os.path.join(work, "run"))
    os.environ["VMON_RUNTIME_DIR"] = env["VMON_RUNTIME_DIR"]
    certs = os.path.join(work, "certs")
    os.makedirs(certs)
    have_tls = make_certs(certs)
    res = {"plain": [], "tls": []}
    why = None
    g = None
    try:
        vid = f"bench-mig-{os.getpid()}-0"
        g = boot_to_shell([vmon, "run", "--backend", "emu", "--mem", f"{MIB}M", "--id", vid,
                           "--kernel", os.path.join(g_dir, "bzImage"),
                           "--initrd", os.path.join(g_dir, "initramfs.cpio.gz"),
                           "--cmdline", "console=ttyS0 quiet"])
        if not g:
            why = "the guest did not reach its shell"
        else:
            g.send(f"dd if=/dev/urandom of=/tmp/fill bs=1M count={FILL_MIB} 2>/dev/null; "
                   "echo FILL$((1+1))\n".encode())
            if g.wait_for(b"FILL2", timeout=900) is None:
                why = "the guest did not fill its tmpfs"
        n = 0
        order = ["plain", "tls"] if have_tls else ["plain"]
        for _ in range(runs if not why else 0):
            for kind in order:
                n += 1
                nid = f"bench-mig-{os.getpid()}-{n}"
                t, fig, w = hop(vmon, env, g, vid, nid, certs if kind == "tls" else None)
                if w:
                    why = w
                    print(f"migration bench {kind}: {w}", file=sys.stderr)
                if t is None:
                    break
                g, vid = t, nid
                if fig:
                    res[kind].append((fig[2], fig[4]))  # bytes, total ms
            if why:
                break
    finally:
        if g:
            g.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"| Linux guest, {MIB} MiB, {FILL_MIB} MiB random in tmpfs, emu → emu, loopback TCP "
          "| MiB sent | total | MB/s | runs |")
    print("|---|---|---|---|---|")
    rates = {}
    for kind, label in (("plain", "plain TCP"), ("tls", "TLS (GnuTLS, mutual X.509)")):
        v = res[kind]
        if not v:
            note = "no certtool (gnutls-bin)" if kind == "tls" and not have_tls else (why or "n/a")
            print(f"| {label} | n/a | n/a | n/a | 0/{runs} ({note}) |")
            continue
        b = statistics.median(x[0] for x in v)
        ms = statistics.median(x[1] for x in v)
        rate = statistics.median(x[0] / 1e6 / (x[1] / 1e3) for x in v if x[1])
        rates[kind] = rate
        print(f"| {label} | {b / 2**20:,.0f} | {ms:,.0f} ms | {rate:,.0f} | {len(v)}/{runs} |")
    if "plain" in rates and "tls" in rates:
        print(f"(median of each; TLS runs at {rates['tls'] / rates['plain']:.2f}× the plain rate; "
              "vmon's own figures: stream bytes over PUT /migrate to the target running)")
