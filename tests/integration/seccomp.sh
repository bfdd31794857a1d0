#!/usr/bin/env bash
# seccomp filters (src/core/seccomp*.c, docs/architecture.md):
#   - every thread of a running VM is filtered (/proc/.../status: Seccomp
#     2), none with --seccomp off;
#   - per thread kind, a forbidden system call made from a thread of that
#     kind (test hook VMON_SECCOMP_TEST_VIOLATE=KIND) ends vmon: with
#     --seccomp log, status 159 and one line naming the thread and the
#     call; with the default (on), killed by SIGSYS (status 159), the
#     guest never finishing;
#   - bad --seccomp values: one line, status 2;
#   - the allowlists against real use: the kit's device guests and the
#     API's pause/resume run under strace -f with each kind's filter
#     exported (VMON_SECCOMP_EXPORT); every call a thread made after its
#     filter was in must be in its kind's list (else FAIL), and a call a
#     list allows that no thread of that kind made fails too unless every
#     kind may make it (memory, clocks, signals, exits) or the test's
#     table of untaken paths says which path needs it (INFO lines list
#     them all).
#     Needs strace (SKIP without). SECCOMP_LINUX=1 adds the Linux guest's
#     virtio suite (slow).
source "$(dirname "$0")/../lib.sh"

# A sanitizer build (make SANITIZE=1) defaults to --seccomp off: its
# runtime makes system calls of its own on vmon's threads (LeakSanitizer
# ptraces vmon at exit, the thread interceptors read affinities), which no
# list here allows. The filters are tested by the plain build's run.
if grep -q __asan_init "$VMON" 2>/dev/null; then
	for n in every-thread-filtered off-unfiltered bad-values \
		log-kills-{main,vcpu,io,blk,net,vsock,console,api} \
		on-kills-{main,vcpu,io,blk,net,vsock,console,api} allowlists-used; do
		skip "seccomp-$n" "a sanitizer build: its runtime's own system calls are outside every list (the plain build runs this)"
	done
	exit 0
fi

B=emu
ABS_VMON=$(cd "$(dirname "$VMON")" && pwd)/$(basename "$VMON")

source "$(dirname "$0")/../lib/seccomp_checks.sh"

# ---- every thread filtered; none with --seccomp off ----
seccomp_status seccomp-every-thread-filtered 2 --seccomp on
seccomp_status seccomp-off-unfiltered 0 --seccomp off

# ---- bad values ----
for v in yes "" ON; do
	"$VMON" run --kernel "$GUESTS/hello.elf" --seccomp "$v" </dev/null >"$TMP/bad.out" 2>"$TMP/bad.err"
	st=$?
	if [ $st -eq 2 ] && [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] && grep -q -- '--seccomp' "$TMP/bad.err"; then
		pass "seccomp-bad-value-'$v'"
	else
		fail "seccomp-bad-value-'$v'" "status $st: $(head -c 200 "$TMP/bad.err")"
	fi
done

# ---- a forbidden call per thread kind ----
T=(--kernel "$GUESTS/ticker.elf")
for mode in log on; do
	violate main "vmon" $mode "${T[@]}"
	violate vcpu vmon-vcpu0 $mode "${T[@]}"
	violate io vmon-io $mode "${T[@]}" --disk "$TMP/io.img"
	VMON_NO_IO_URING=1 violate blk vmon-blkio $mode "${T[@]}" --disk "$TMP/blk.img"
	violate net vmon-net0 $mode "${T[@]}" --net user
	violate vsock vmon-vsock $mode "${T[@]}" --vsock "3,unix:$TMP/v-$mode.sock"
	violate console vmon-con $mode "${T[@]}" --console "file:$TMP/c-$mode.out"
	violate api vmon-api $mode "${T[@]}"
done
# The KVM backend's filters: seccomp_kvm.sh.

# ---- the allowlists against the calls actually made ----
if ! command -v strace >/dev/null; then
	skip seccomp-allowlists-used "no strace (scripts/setup.sh installs it)"
	exit 0
fi
if ldd "$VMON" 2>/dev/null | grep -q -e libasan -e libtsan; then
	skip seccomp-allowlists-used "a sanitizer build: its runtime's own calls are not vmon's"
	exit 0
fi
ST=$TMP/strace
mkdir -p "$ST/out" "$ST/pfc"
cat >"$ST/vmon" <<EOF
#!/bin/sh
VMON_SECCOMP_EXPORT=$ST/pfc exec strace -ff -qq -o $ST/out/t.\$\$ "$ABS_VMON" "\$@"
EOF
chmod +x "$ST/vmon"
SCRIPTS=(virtio_blk virtio_net virtio_vsock virtio_console serial)
[ "${SECCOMP_LINUX:-0}" = 1 ] && SCRIPTS+=(linux_virtio)
for s in "${SCRIPTS[@]}"; do
	# The scripts' own verdicts do not count here (strace slows them).
	VMON="$ST/vmon" BACKENDS=emu bash "$(dirname "$0")/$s.sh" >"$ST/$s.log" 2>&1
done
# A reboot (the main thread makes the backend and the vCPUs again under
# its filter).
timeout -k 5 120 "$ST/vmon" run --no-api --backend $B --kernel "$GUESTS/reboot.elf" \
	</dev/null >"$ST/reboot.log" 2>&1
# The API: configuration read back, pause, resume, a drive checked, and
# Ctrl-Alt-Del, which ends the kbd kit guest.
truncate -s 1M "$TMP/api.img" "$TMP/api2.img"
"$ST/vmon" run --backend $B --kernel "$GUESTS/kbd.elf" --api-sock "$ST/api.sock" \
	--disk "$TMP/api.img,id=d0" </dev/null >"$ST/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 200); do [ -S "$ST/api.sock" ] && break; sleep 0.1; done
api() { curl -s --unix-socket "$ST/api.sock" -X "$1" "http://localhost$2" ${3:+-d "$3"} >/dev/null; }
api GET /machine-config
api PATCH /vm '{"state": "Paused"}'
api PATCH /vm '{"state": "Resumed"}'
api PATCH /drives/d0 "{\"drive_id\": \"d0\", \"path_on_host\": \"$TMP/api2.img\"}"
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
for _ in $(seq 300); do kill -0 $api_pid 2>/dev/null || break; sleep 0.1; done
kill $api_pid 2>/dev/null
wait $api_pid 2>/dev/null
python3 - "$ST" <<'PY' >"$TMP/allow.out" 2>&1
import os, re, sys
st = sys.argv[1]
allowed = {}
for f in os.listdir(f"{st}/pfc"):
    kind = f[:-4]
    allowed[kind] = set(re.findall(r'# filter for syscall "([a-z0-9_]+)"', open(f"{st}/pfc/{f}").read()))
used = {}
call = re.compile(r'^([a-z0-9_]+)\(')
prefix = {"vcpu": "vcpu", "io": "io", "net": "net", "vsock": "vsock", "con": "console",
          "api": "api", "blkio": "blk"}
for f in os.listdir(f"{st}/out"):
    lines = open(f"{st}/out/{f}", errors="replace").read().splitlines()
    kind = "main" if lines and lines[0].startswith("execve(") else None
    filtered = False
    for l in lines:
        if kind is None:
            m = re.search(r'PR_SET_NAME, "vmon-([a-z]+)', l)
            if m:
                kind = prefix.get(m.group(1))
            continue
        m = call.match(l)
        if not m:
            continue
        if not filtered:
            filtered = l.startswith("seccomp(SECCOMP_SET_MODE_FILTER") and "= 0" in l
            continue
        used.setdefault(kind, set()).add(m.group(1))
# Calls every kind may make (base_calls and add_base in
# seccomp_policy.c): memory, clocks, signals and their returns, log lines,
# a thread's or the process's end, the terminal given back on a crash.
# Which of them a thread makes in one run is glibc's and the scheduler's
# choice, so they are not held against a kind.
base = set.intersection(*allowed.values())
# The other calls a kind is allowed for a path this run does not take,
# and the path. An allowed call that no thread of its kind made and that
# is not here fails the check: an entry nothing needs (remove it), or a
# path to add here or to the run above.
LOOP = {"close": "an event loop's source removed (a device's end or a rate limiter)",
        "epoll_ctl": "an event loop's source added or changed after start",
        "timerfd_settime": "a rate limiter's wake-up re-armed"}
IRQ = {"eventfd2": "KVM's irqfds (the KVM backend only)"}
THREAD = {c: "starting a thread after the filter (a migration's sender; a reboot's vCPUs)"
          for c in ("clone", "clone3", "rseq", "seccomp", "set_robust_list")}
untaken = {
    "api": {**LOOP, **IRQ, **THREAD,
            "connect": "a migration's connection to its target",
            "socket": "a migration's connection to its target",
            "setsockopt": "TCP_NODELAY on a migration's TCP stream",
            "getrandom": "a migration's TLS keys",
            "pwrite64": "a snapshot's memory file", "ftruncate": "a snapshot's memory file",
            "fsync": "a snapshot's files", "fdatasync": "a snapshot's disks flushed",
            "lseek": "a snapshot's memory file", "unlink": "a snapshot's or metrics' file replaced",
            "sysinfo": "machine-config's memory checked against the host's",
            "timerfd_create": "the metrics' and logger's flush timers"},
    "blk": {"pwritev2": "a write the guest asked to be durable (RWF_DSYNC)"},
    "console": {**LOOP, **IRQ, "poll": "a slow unix: console reader", "sendto": "a unix: console"},
    "io": {**LOOP, **IRQ, "fallocate": "a discard or a balloon's page given back",
           "getrandom": "virtio-rng", "preadv": "a drive with the Sync engine",
           "pwritev": "a drive with the Sync engine", "pwritev2": "a Sync drive's durable write",
           "fdatasync": "a Sync drive's flush"},
    "main": {**LOOP, **IRQ, **THREAD, "epoll_create1": "a reboot's event loops",
             "getrandom": "a reboot's vCPU list (RDRAND)", "io_uring_enter": "a disk's ring drained at exit",
             "poll": "a slow console reader", "sendto": "a unix: console",
             "rt_sigaction": "a reboot's vCPU kick handler", "sched_setaffinity": "--cpu-affinity",
             "sched_yield": "a reboot waiting for its vCPUs", "sendmsg": "a TLS migration cut at exit",
             "shutdown": "API connections cut at exit", "memfd_create": "a reboot's code arena",
             "ftruncate": "a reboot's code arena", "accept4": "a unix: console's next client"},
    "net": {**LOOP, **IRQ, "connect": "the guest's TCP connections (slirp)",
            "getpeername": "the guest's TCP connections (slirp)",
            "getsockname": "the guest's TCP connections (slirp)",
            "getsockopt": "the guest's TCP connections (slirp)",
            "shutdown": "the guest's TCP connections (slirp)",
            "setsockopt": "the guest's TCP connections (slirp)",
            "openat": "slirp's DNS reading /etc/resolv.conf", "accept": "a forwarded host port"},
    "vcpu": {**IRQ, "getrandom": "RDRAND/RDSEED", "poll": "a slow serial reader",
             "sendto": "a unix: serial", "sched_yield": "the software CPU's PAUSE in a spin loop"},
    "vsock": {**LOOP, **IRQ, "fcntl": "a host connection made non-blocking",
              "getsockopt": "a host connection's error read", "connect": "a guest connecting out",
              "shutdown": "a connection half-closed"},
}
bad = 0
for kind in sorted(allowed):
    u = used.get(kind, set())
    extra = sorted(u - allowed[kind] - {"clone3"})  # clone3: ENOSYS, glibc falls back to clone
    if extra:
        print(f"FAIL {kind}: used but not allowed: {' '.join(extra)}")
        bad = 1
    known = untaken.get(kind, {})
    unexplained = sorted(allowed[kind] - u - base - set(known))
    if unexplained:
        print(f"FAIL {kind}: allowed, never used, and no untaken path names them: {' '.join(unexplained)}")
        bad = 1
    shared = set(LOOP) | set(IRQ) | set(THREAD)  # groups: a kind may have only some
    stale = sorted(set(known) - shared - allowed[kind])
    if stale:
        print(f"FAIL {kind}: the test's untaken paths name calls the list does not allow: {' '.join(stale)}")
        bad = 1
    unused = sorted(allowed[kind] - u)
    print(f"INFO {kind}: {len(u)} calls used, {len(allowed[kind])} allowed; allowed, never used: {' '.join(unused)}")
missing = sorted((set(prefix.values()) | {"main"}) - set(used))
if missing:
    print(f"FAIL no strace record of the kinds: {' '.join(missing)}")
    bad = 1
sys.exit(bad)
PY
st=$?
grep '^INFO' "$TMP/allow.out"
if [ $st -eq 0 ]; then
	pass seccomp-allowlists-used
else
	fail seccomp-allowlists-used "$(grep -v '^INFO' "$TMP/allow.out" | tr '\n' ' ' | head -c 600)"
fi
