#!/usr/bin/env bash
# vmon jail (issue 15): the default Linux guest boots inside a jail as an
# unprivileged uid with a cgroup memory limit, checked from the host while
# it runs (ids, capabilities, no_new_privs, namespaces, root, cgroup,
# descriptors); a probe run in place of vmon reports what a compromised
# vmon could reach from inside; a VM over its memory limit is killed alone
# while another jailed VM goes on; a writable disk is the host's file;
# --daemonize, signal forwarding, the unprivileged (user namespace) mode;
# bad arguments each give one line and status 2 and leave nothing behind.
# (tests/integration/jailer_many.sh runs 200 jailed VMs at once.)
# Needs root (CI runs as root).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../jail/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip jail "needs root (cgroups, uid changes, mknod)"
	exit 0
fi
if [ ! -x "$PROBE" ]; then
	fail jail "no $PROBE (make builds it)"
	exit 0
fi
J=(--uid 65534 --gid 65534 --chroot-base "$JAIL_BASE" --parent-cgroup "$JAIL_PARENT")

# status_field PID NAME: the value of NAME: in /proc/PID/status, tabs as spaces.
status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr '\t' ' ' | sed 's/ *$//'
}

# ---- 1. The default Linux guest, jailed, checked from the host while it runs.
lin_name=jail-linux
if [ ! -f "$BUILD/guest/bzImage" ] || [ ! -f "$BUILD/guest/initramfs.cpio.gz" ]; then
	skip $lin_name "no default guest in $BUILD/guest (make guest)"
else
	mkfifo "$TMP/lin.in"
	exec {lin_in}<>"$TMP/lin.in"
	# A descriptor the jailed vmon must not inherit.
	exec {stray}<"$0"
	timeout -k 5 300 "$VMON" jail --id lin "${J[@]}" --new-pid-ns \
		--cgroup "$MEMKEY=640M" --cgroup pids.max=100 -- --mem 256M \
		<"$TMP/lin.in" >"$TMP/lin.out" 2>"$TMP/lin.err" &
	jpid=$!
	exec {stray}<&-
	if ! wait_for "$TMP/lin.out" 'vmon# ' 240; then
		fail $lin_name-boot "no shell prompt; $(tail -c 300 "$TMP/lin.out" | tr '\r\n' '  ') $(head -c 300 "$TMP/lin.err")"
		kill "$jpid" 2>/dev/null
	else
		pass $lin_name-boot
		vpid=$(cat "$JAIL_BASE/vmon/lin/vmon.pid")
		# Ids and privileges.
		want0=0000000000000000
		got="Uid=$(status_field "$vpid" Uid) Gid=$(status_field "$vpid" Gid) Groups=$(status_field "$vpid" Groups)"
		got="$got Inh=$(status_field "$vpid" CapInh) Prm=$(status_field "$vpid" CapPrm)"
		got="$got Eff=$(status_field "$vpid" CapEff) Bnd=$(status_field "$vpid" CapBnd)"
		got="$got Amb=$(status_field "$vpid" CapAmb) NNP=$(status_field "$vpid" NoNewPrivs)"
		want="Uid=65534 65534 65534 65534 Gid=65534 65534 65534 65534 Groups="
		want="$want Inh=$want0 Prm=$want0 Eff=$want0 Bnd=$want0 Amb=$want0 NNP=1"
		if [ "$got" = "$want" ]; then
			pass $lin_name-privileges
		else
			fail $lin_name-privileges "/proc/$vpid/status says: $got"
		fi
		# Namespaces: mount, IPC, UTS, PID differ from ours; the net
		# namespace is ours (no --netns).
		bad=""
		for ns in mnt ipc uts pid; do
			[ "$(readlink /proc/$vpid/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ] || bad="$bad $ns"
		done
		[ "$(readlink /proc/$vpid/ns/net)" = "$(readlink /proc/self/ns/net)" ] || bad="$bad net(differs)"
		if [ -z "$bad" ] && grep -q '^NSpid:.*[[:space:]]1$' /proc/$vpid/status; then
			pass $lin_name-namespaces
		else
			fail $lin_name-namespaces "shared with the host:$bad; $(grep NSpid /proc/$vpid/status)"
		fi
		# Its root is the jail root: same inode, and the jail is all it
		# has; /dev/kvm only where the jailer chose KVM (no --backend:
		# the nested L1 of make test-kvm, or a host with VT-x/AMD-V).
		lin_backend=$(jail_auto_backend)
		want_dev="null urandom zero "
		[ "$lin_backend" = emu ] || want_dev="kvm $want_dev"
		if [ "$(stat -L -c %d:%i /proc/$vpid/root)" = "$(stat -c %d:%i "$JAIL_BASE/vmon/lin/root")" ] &&
			[ "$(ls /proc/$vpid/root/ | tr '\n' ' ')" = "bzImage dev initramfs.cpio.gz lib lib64 vmon " ] &&
			[ "$(ls /proc/$vpid/root/dev | tr '\n' ' ')" = "$want_dev" ] &&
			tr '\0' ' ' <"/proc/$vpid/cmdline" | grep -q -- " --backend $lin_backend "; then
			pass $lin_name-root
		else
			fail $lin_name-root "root $(stat -L -c %d:%i /proc/$vpid/root), jail $(stat -c %d:%i "$JAIL_BASE/vmon/lin/root"): $(ls /proc/$vpid/root/ /proc/$vpid/root/dev | tr '\n' ' ') (want /dev: $want_dev, backend $lin_backend); $(tr '\0' ' ' <"/proc/$vpid/cmdline")"
		fi
		# Its cgroup: holds it (alone, but for KVM's kernel thread) and
		# has the limits.
		mcg=$(jail_cgroup lin memory)
		pcg=$(jail_cgroup lin pids)
		limit=$(cat "$mcg/$MEMKEY" 2>/dev/null)
		if [ "$(cg_user_procs "$mcg")" = "$vpid" ] &&
			[ "$limit" = $((640 << 20)) ] && [ "$(cat "$pcg/pids.max" 2>/dev/null)" = 100 ] &&
			[ "$(cg_user_procs "$pcg")" = "$vpid" ]; then
			pass $lin_name-cgroup
		else
			fail $lin_name-cgroup "$mcg holds '$(cat "$mcg/cgroup.procs" 2>/dev/null | tr '\n' ' ')' (want $vpid), $MEMKEY=$limit, pids.max=$(cat "$pcg/pids.max" 2>/dev/null)"
		fi
		# Descriptors: nothing the jailer's caller had open (the fifo
		# spare, this script) beyond 0, 1 and 2; on KVM, vmon's own
		# /dev/kvm (the jail's node).
		leaked=$(for f in /proc/$vpid/fd/*; do
			n=${f##*/}
			[ "$n" -le 2 ] && continue
			t=$(readlink "$f")
			[ "$t:$lin_backend" != /dev/kvm:kvm ] || continue
			case $t in anon_inode:* | /memfd:* | socket:* | pipe:*) ;; *) echo "$n->$t" ;; esac
		done)
		if [ -z "$leaked" ] && [ "$(readlink /proc/$vpid/fd/0)" = "$(readlink /proc/$jpid/fd/0)" ]; then
			pass $lin_name-descriptors
		else
			fail $lin_name-descriptors "open in the jailed vmon: $leaked"
		fi
		printf 'echo jailed-$((6*7))\npoweroff\n' >&"$lin_in"
		wait "$jpid"
		status=$?
		if [ "$status" -eq 0 ] && tr -d '\r' <"$TMP/lin.out" | grep -qx 'jailed-42'; then
			pass $lin_name-runs
		else
			fail $lin_name-runs "status $status; $(tail -c 300 "$TMP/lin.out" | tr '\r\n' '  ')"
		fi
		# Afterwards: the cgroup and the pid file are gone, the jail stays.
		if [ ! -e "$mcg" ] && [ ! -e "$pcg" ] && [ ! -e "$JAIL_BASE/vmon/lin/vmon.pid" ] &&
			[ -d "$JAIL_BASE/vmon/lin/root" ]; then
			pass $lin_name-cleanup
		else
			fail $lin_name-cleanup "left: $(ls -d "$mcg" "$pcg" "$JAIL_BASE/vmon/lin/vmon.pid" 2>/dev/null | tr '\n' ' ')"
		fi
	fi
	exec {lin_in}>&-
fi

# ---- 2. From inside: the probe, run by the jail in place of vmon (for the
# software CPU: no /dev/kvm in its jail; section 7 probes a KVM jail).
# probe_check NAME FILE KEY=VALUE...: each line must be in FILE.
probe_check() {
	local name=$1 file=$2 miss=""
	shift 2
	grep -qx 'probe=done' "$file" || miss=" (the probe did not finish)"
	for kv in "$@"; do
		grep -qxF -- "$kv" "$file" || miss="$miss $kv"
	done
	if [ -z "$miss" ]; then
		pass "$name"
	else
		fail "$name" "missing:$miss; got: $(tr '\n' ' ' <"$file" | head -c 600)"
	fi
}

sleep 1000 &
victim=$!
timeout -k 5 60 "$VMON" jail --id probe "${J[@]}" --new-pid-ns --test-exec "$PROBE" \
	--resource-limit fsize=100000,no-file=64 -- --kernel "$GUESTS/hello.elf" --backend emu \
	--net tap:vmontest0 --serial unix:/tmp/elsewhere/probe.sock \
	--probe-pid=$victim --probe-fsize=100000 </dev/null >"$TMP/probe.out" 2>"$TMP/probe.err"
status=$?
[ "$status" -eq 0 ] || fail jail-probe "status $status: $(cat "$TMP/probe.err")"
probe_check jail-probe-privileges "$TMP/probe.out" uid=65534,65534,65534 gid=65534,65534,65534 \
	groups=0 cap_eff=0000000000000000 cap_prm=0000000000000000 cap_inh=0000000000000000 \
	cap_bnd_count=0 cap_amb_count=0 no_new_privs=1 setuid0=EPERM setgid0=EPERM
probe_check jail-probe-files "$TMP/probe.out" root=dev,hello.elf,lib,lib64,vmon \
	dev=net,null,urandom,zero open_etc_passwd=ENOENT open_proc=ENOENT open_sys=ENOENT \
	dotdot_is_root=1 write_vmon=EACCES write_dev_null_dir=EROFS open_by_handle=EPERM
probe_check jail-probe-escapes "$TMP/probe.out" chroot=EPERM mount=EPERM mknod=EPERM \
	dev_kvm=ENOENT dev_urandom=ok
probe_check jail-probe-processes "$TMP/probe.out" pid=1 kill_host=ESRCH ptrace_host=ESRCH \
	kill_all=ESRCH
probe_check jail-probe-limits "$TMP/probe.out" fds=0,1,2 rlimit_nofile=64/64 \
	rlimit_fsize=100000 "fsize_write=EFBIG written=100000"
if grep -qx "vmon jail probe: --serial socket at $JAIL_BASE/vmon/probe/root/probe.sock" "$TMP/probe.err"; then
	pass jail-probe-socket-reported
else
	fail jail-probe-socket-reported "stderr: $(cat "$TMP/probe.err")"
fi
# Without a PID namespace other processes are visible, but another uid's
# are still out of reach.
timeout -k 5 60 "$VMON" jail --id probe2 "${J[@]}" --test-exec "$PROBE" -- \
	--kernel "$GUESTS/hello.elf" --probe-pid=$victim </dev/null >"$TMP/probe2.out" 2>&1
probe_check jail-probe-no-pid-ns "$TMP/probe2.out" kill_host=EPERM ptrace_host=EPERM \
	rlimit_nofile=2048/2048 rlimit_fsize=-1
kill $victim 2>/dev/null
wait $victim 2>/dev/null

# ---- 3. Over its memory limit: killed alone; another jailed VM goes on.
# Time limits are only against a hang: TEST_TIMEOUT (120 s; 600 in the
# nested L1, where one memtest of 256 MiB on KVM took minutes under load)
# for each memtest, and the echo VM outlives both.
mkfifo "$TMP/echo.in"
exec {echo_in}<>"$TMP/echo.in"
timeout -k 5 $((2 * TEST_TIMEOUT + 120)) "$VMON" jail --id echo "${J[@]}" --cgroup "$MEMKEY=96M" -- \
	--kernel "$GUESTS/serial_echo.elf" --mem 64M --cmdline idle=4000000000 \
	<"$TMP/echo.in" >"$TMP/echo.out" 2>"$TMP/echo.err" &
echo_pid=$!
wait_for "$TMP/echo.out" 'serial_echo:' 60
# memtest touches every page of its 256 MiB: far over a 64 MiB limit...
timeout -k 5 "$TEST_TIMEOUT" "$VMON" jail --id hog "${J[@]}" --cgroup "$MEMKEY=64M" -- \
	--kernel "$GUESTS/memtest.elf" --mem 256M </dev/null >"$TMP/hog.out" 2>"$TMP/hog.err"
hog=$?
# ... and within a 512 MiB one.
timeout -k 5 "$TEST_TIMEOUT" "$VMON" jail --id fits "${J[@]}" --cgroup "$MEMKEY=512M" -- \
	--kernel "$GUESTS/memtest.elf" --mem 256M </dev/null >"$TMP/fits.out" 2>"$TMP/fits.err"
fits=$?
alive=no
kill -0 "$echo_pid" 2>/dev/null && [ -s "$JAIL_BASE/vmon/echo/vmon.pid" ] &&
	kill -0 "$(cat "$JAIL_BASE/vmon/echo/vmon.pid")" 2>/dev/null && alive=yes
printf 'still here\004' >&"$echo_in"
wait "$echo_pid"
echo_status=$?
exec {echo_in}>&-
if [ "$hog" -eq 137 ] && grep -q '^vmon: jail: vmon (pid [0-9]*) was killed by signal 9' "$TMP/hog.err" &&
	! grep -qx SUCCESS <(tr -d '\r' <"$TMP/hog.out"); then
	pass jail-oom-killed
else
	fail jail-oom-killed "status $hog (want 137); $(head -c 300 "$TMP/hog.err")"
fi
if [ "$fits" -eq 0 ] && grep -qx SUCCESS <(tr -d '\r' <"$TMP/fits.out"); then
	pass jail-oom-control
else
	fail jail-oom-control "memtest within its limit: status $fits; $(head -c 300 "$TMP/fits.err")"
fi
if [ "$alive" = yes ] && [ "$echo_status" -eq 0 ] && grep -q '^bytes=10 ' "$TMP/echo.out"; then
	pass jail-oom-others-go-on
else
	fail jail-oom-others-go-on "alive=$alive status $echo_status; $(tail -c 200 "$TMP/echo.out" | tr '\r\n' '  ')"
fi

# ---- 4. A writable disk: the jail's link is the host's image.
python3 -c "
import sys
with open(sys.argv[1], 'wb') as f:
    for s in range(2048):
        f.write(bytes(((31 * s + i) & 0xff) for i in range(512)))" "$TMP/disk.img"
chown 65534:65534 "$TMP/disk.img"
timeout -k 5 120 "$VMON" jail --id disk "${J[@]}" -- --kernel "$GUESTS/virtio_blk.elf" \
	--disk "$TMP/disk.img,id=vmon-test-disk" --cmdline sectors=2048 </dev/null \
	>"$TMP/disk.out" 2>"$TMP/disk.err"
status=$?
if [ "$status" -eq 0 ] && grep -qx SUCCESS <(tr -d '\r' <"$TMP/disk.out") &&
	[ "$(dd if="$TMP/disk.img" bs=512 skip=2 count=1 2>/dev/null | head -c 18)" = VMON-VIRTIO-BLK-OK ]; then
	pass jail-disk
else
	fail jail-disk "status $status; $(tail -c 200 "$TMP/disk.out" | tr '\r\n' '  ') $(head -c 200 "$TMP/disk.err")"
fi
# A disk the jailed uid may not write is refused before anything is made.
cp "$TMP/disk.img" "$TMP/rootdisk.img"
chown 0:0 "$TMP/rootdisk.img"
chmod 644 "$TMP/rootdisk.img"
"$VMON" jail --id rdisk "${J[@]}" -- --kernel "$GUESTS/hello.elf" --disk "$TMP/rootdisk.img" \
	</dev/null >/dev/null 2>"$TMP/rdisk.err"
status=$?
if [ "$status" -eq 2 ] && [ "$(wc -l <"$TMP/rdisk.err")" -eq 1 ] &&
	grep -q '^vmon: jail: --disk: uid 65534 gid 65534 may not read and write' "$TMP/rdisk.err" &&
	[ ! -e "$JAIL_BASE/vmon/rdisk" ] && [ ! -e "$(jail_cgroup rdisk memory)" ]; then
	pass jail-disk-permission
else
	fail jail-disk-permission "status $status: $(cat "$TMP/rdisk.err"); left: $(ls -d "$JAIL_BASE/vmon/rdisk" "$(jail_cgroup rdisk memory)" 2>/dev/null)"
fi

# ---- 5. --daemonize: prints the pid, detaches, still cleans up.
"$VMON" jail --id daemon "${J[@]}" --daemonize -- --kernel "$GUESTS/serial_echo.elf" \
	--serial unix:/daemon.sock --cmdline idle=4000000000 </dev/null >"$TMP/daemon.out" \
	2>"$TMP/daemon.err"
status=$?
dpid=$(cat "$TMP/daemon.out")
pidfile=$(cat "$JAIL_BASE/vmon/daemon/vmon.pid" 2>/dev/null)
dsid=$(ps -o sid= -p "$dpid" | tr -d ' ')
sock=$JAIL_BASE/vmon/daemon/root/daemon.sock
for i in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
reply=$(python3 - "$sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"daemon\x04")
s.settimeout(60)
data = b""
while b"SUCCESS" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode(errors="replace").replace("\r", "").replace("\n", " "))
PY
)
if [ "$status" -eq 0 ] && [ "$dpid" -gt 1 ] 2>/dev/null &&
	[ "$pidfile" = "$dpid" ] && [ -n "$dsid" ] && [ "$dsid" != "$(ps -o sid= -p $$ | tr -d ' ')" ] &&
	grep -qx "vmon jail daemon: --serial socket at $sock" "$TMP/daemon.err" &&
	[[ "$reply" == *"bytes=6 "*SUCCESS* ]]; then
	pass jail-daemonize
else
	fail jail-daemonize "status $status, stdout '$dpid', pid file '$pidfile', session '$dsid', reply '$reply', stderr $(cat "$TMP/daemon.err")"
fi
for i in $(seq 1 100); do [ -e "$(jail_cgroup daemon memory)" ] || break; sleep 0.1; done
if [ ! -e "$(jail_cgroup daemon memory)" ] && [ ! -e "$JAIL_BASE/vmon/daemon/vmon.pid" ]; then
	pass jail-daemonize-cleanup
else
	fail jail-daemonize-cleanup "cgroup or pid file left after vmon ended"
fi

# ---- 6. SIGTERM to the jailer reaches vmon (pid 1 of its namespace).
mkfifo "$TMP/term.in"
exec {term_in}<>"$TMP/term.in"
"$VMON" jail --id term "${J[@]}" --new-pid-ns -- --kernel "$GUESTS/serial_echo.elf" \
	--cmdline idle=4000000000 <"$TMP/term.in" >"$TMP/term.out" 2>"$TMP/term.err" &
tpid=$!
wait_for "$TMP/term.out" 'serial_echo:' 60
kill -TERM "$tpid"
timeout 60 tail --pid="$tpid" -f /dev/null
if ! kill -0 "$tpid" 2>/dev/null && [ ! -e "$(jail_cgroup term memory)" ]; then
	pass jail-sigterm
else
	fail jail-sigterm "the jailer or its cgroup outlived SIGTERM"
	kill -KILL "$tpid" 2>/dev/null
fi
exec {term_in}>&-

# ---- 7. KVM inside the jail, where the host has a usable /dev/kvm.
if have_kvm; then
	timeout -k 5 120 "$VMON" jail --id kvm "${J[@]}" -- --kernel "$GUESTS/hello.elf" \
		--backend kvm </dev/null >"$TMP/kvm.out" 2>"$TMP/kvm.err"
	status=$?
	expect_success jail-kvm "$TMP/kvm.out" "$TMP/kvm.err"
	# The KVM jail's /dev, seen from inside: its /dev/kvm opens.
	timeout -k 5 60 "$VMON" jail --id kprobe "${J[@]}" --test-exec "$PROBE" -- \
		--kernel "$GUESTS/hello.elf" --backend kvm </dev/null >"$TMP/kprobe.out" 2>&1
	probe_check jail-kvm-probe "$TMP/kprobe.out" dev=kvm,null,urandom,zero dev_kvm=ok
else
	skip jail-kvm "/dev/kvm is not usable here"
	skip jail-kvm-probe "/dev/kvm is not usable here"
fi

# ---- 8. Started unprivileged: a user namespace (uid 65534 jails itself).
# Without --backend the jailer picks KVM only if uid 65534 may open
# /dev/kvm itself (in L1 it is root's, 0600: the software CPU).
ubase=$TMP/ujails
mkdir -p "$ubase/bin"
chmod 755 "$TMP"
cp "$VMON" "$ubase/bin/vmon"
cp "$GUESTS/hello.elf" "$PROBE" "$ubase/bin/"
chown -R 65534:65534 "$ubase"
setpriv --reuid=65534 --regid=65534 --clear-groups "$ubase/bin/vmon" jail --id user --uid 1000 \
	--gid 1000 --chroot-base "$ubase" -- --kernel "$ubase/bin/hello.elf" </dev/null \
	>"$TMP/user.out" 2>"$TMP/user.err"
status=$?
if grep -q 'user namespaces may be disabled' "$TMP/user.err"; then
	skip jail-unprivileged "this host refuses unprivileged user namespaces"
else
	expect_success jail-unprivileged "$TMP/user.out" "$TMP/user.err"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$ubase/bin/vmon" jail --id uprobe \
		--uid 1000 --gid 1000 --chroot-base "$ubase" --test-exec "$ubase/bin/jail_probe" -- \
		--kernel "$ubase/bin/hello.elf" --backend emu --probe-pid=$$ </dev/null >"$TMP/uprobe.out" 2>&1
	probe_check jail-unprivileged-probe "$TMP/uprobe.out" uid=1000,1000,1000 \
		gid=1000,1000,1000 cap_eff=0000000000000000 cap_prm=0000000000000000 \
		cap_bnd_count=0 cap_amb_count=0 no_new_privs=1 pid=1 kill_host=ESRCH \
		open_etc_passwd=ENOENT mount=EPERM mknod=EPERM dev=null,urandom,zero fds=0,1,2
fi

# ---- 8b. --netns: a tap in a network namespace of the test's own, owned by
# the jailed uid; the jail has /dev/net/tun and nothing else of the host's
# network.
NS=vmon-test-jail-$$
if ! command -v ip >/dev/null || [ ! -c /dev/net/tun ] || ! ip netns add "$NS" 2>"$TMP/ns.err"; then
	fail jail-netns-tap "cannot create a network namespace with a tap: $(head -c 200 "$TMP/ns.err" 2>/dev/null)"
else
	ip netns exec "$NS" ip tuntap add dev vmtap0 mode tap user 65534 &&
		ip netns exec "$NS" ip link set vmtap0 up
	cat >"$TMP/tappeer.py" <<'PY'
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind(("vmtap0", 0x88b5))
print("listening", flush=True)
s.settimeout(100)
while True:
    f = s.recv(65536)
    if f[14:27] == b"VMON-TAP-PING":
        print("got PING from", f[6:12].hex(":"), flush=True)
        s.send(f[6:12] + bytes.fromhex("020000000001") + b"\x88\xb5" + b"VMON-TAP-PONG".ljust(46, b"\0"))
        break
PY
	ip netns exec "$NS" python3 "$TMP/tappeer.py" >"$TMP/tappeer.out" 2>&1 &
	peer=$!
	wait_for "$TMP/tappeer.out" listening 10
	timeout -k 5 120 "$VMON" jail --id netns "${J[@]}" --netns "/run/netns/$NS" -- \
		--kernel "$GUESTS/virtio_net.elf" --net tap:vmtap0 --cmdline mode=tap </dev/null \
		>"$TMP/netns.out" 2>"$TMP/netns.err"
	status=$?
	expect_success jail-netns-tap "$TMP/netns.out" "$TMP/netns.err"
	if grep -q "got PING from 52:54:00:12:34:56" "$TMP/tappeer.out"; then
		pass jail-netns-tap-reached-host
	else
		fail jail-netns-tap-reached-host "the namespace's tap saw: $(head -c 200 "$TMP/tappeer.out")"
	fi
	kill "$peer" 2>/dev/null
	wait "$peer" 2>/dev/null
	ip netns del "$NS"
fi

# ---- 8c. cgroup v2 where a cgroup2 hierarchy is mounted (on hybrid hosts
# it usually has no controllers: then the jail gets a bare cgroup there).
v2mnt=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -n 1)
if [ -z "$v2mnt" ]; then
	skip jail-cgroup-v2 "no cgroup2 hierarchy is mounted here"
else
	v2keys=()
	grep -qw pids "$v2mnt/cgroup.controllers" && v2keys=(--cgroup pids.max=77)
	mkfifo "$TMP/v2.in"
	exec {v2_in}<>"$TMP/v2.in"
	timeout -k 5 120 "$VMON" jail --id v2 "${J[@]}" --cgroup-version 2 "${v2keys[@]}" -- \
		--kernel "$GUESTS/serial_echo.elf" --cmdline idle=4000000000 <"$TMP/v2.in" \
		>"$TMP/v2.out" 2>"$TMP/v2.err" &
	v2pid=$!
	wait_for "$TMP/v2.out" 'serial_echo:' 60
	vp=$(cat "$JAIL_BASE/vmon/v2/vmon.pid" 2>/dev/null)
	cgdir=$v2mnt/$JAIL_PARENT/v2
	got="$(grep '^0::' /proc/$vp/cgroup 2>/dev/null) procs=$(cg_user_procs "$cgdir")"
	[ ${#v2keys[@]} -gt 0 ] && got="$got pids.max=$(cat "$cgdir/pids.max")"
	want="0::/$JAIL_PARENT/v2 procs=$vp"
	[ ${#v2keys[@]} -gt 0 ] && want="$want pids.max=77"
	printf 'x\004' >&"$v2_in"
	wait "$v2pid"
	status=$?
	exec {v2_in}>&-
	if [ "$got" = "$want" ] && [ "$status" -eq 0 ] && [ ! -e "$cgdir" ]; then
		pass jail-cgroup-v2
	else
		fail jail-cgroup-v2 "got '$got', want '$want'; status $status; $(head -c 200 "$TMP/v2.err")"
	fi
	rmdir "$v2mnt/$JAIL_PARENT" 2>/dev/null
fi

# ---- 9. Bad arguments: one line, status 2, nothing left behind (a chroot
# base and a parent cgroup of their own, which must not even be made).
BB=$TMP/badjails
mkdir -p "$BB"
BP=$JAIL_PARENT-bad
touch "$TMP/plainfile"
printf '#!/bin/sh\necho hi\n' >"$TMP/script"
chmod 755 "$TMP/script"
bad_case() { # bad_case NAME EXPECTED-TEXT JAIL-ARGS...
	local name=$1 want=$2
	shift 2
	timeout -k 5 60 "$VMON" jail "$@" </dev/null >"$TMP/bad.out" 2>"$TMP/bad.err"
	local st=$? lines left
	lines=$(wc -l <"$TMP/bad.err")
	left=$(jail_leftovers "$BB" "$BP")
	if [ "$st" -eq 2 ] && [ "$lines" -eq 1 ] && grep -q '^vmon: jail: ' "$TMP/bad.err" &&
		grep -qF -- "$want" "$TMP/bad.err" && [ -z "$left" ] && [ ! -s "$TMP/bad.out" ]; then
		pass "jail-bad-$name"
	else
		fail "jail-bad-$name" "status $st, $lines lines: $(head -c 300 "$TMP/bad.err"); left: $left"
	fi
}
JB=(--uid 65534 --gid 65534 --chroot-base "$BB" --parent-cgroup "$BP")
B=(--id b "${JB[@]}")
K=(--kernel "$GUESTS/hello.elf")
bad_case no-id "--id is required" "${JB[@]}"
bad_case id-chars "--id: 'a/b'" --id a/b "${JB[@]}"
bad_case id-long "is not 1 to 64" --id "$(printf 'x%.0s' $(seq 65))" "${JB[@]}"
bad_case uid-root "0 is root" --id b --uid 0 --gid 65534 --chroot-base "$BB"
bad_case uid-text "--uid: 'nobody'" --id b --uid nobody --gid 65534 --chroot-base "$BB"
bad_case no-base "--chroot-base is required" --id b --uid 65534 --gid 65534
bad_case base-missing "--chroot-base: cannot use" --id b --uid 1 --gid 1 --chroot-base /nonexistent \
	-- "${K[@]}"
bad_case base-file "is not a directory" --id b --uid 1 --gid 1 --chroot-base "$TMP/plainfile" \
	-- "${K[@]}"
bad_case unknown-option "unknown option '--frobnicate'" "${B[@]}" --frobnicate
bad_case cgroup-syntax "is not a controller file name" "${B[@]}" --cgroup "memory/max=1"
bad_case cgroup-own "the cgroup's own interface" "${B[@]}" --cgroup cgroup.procs=1
bad_case cgroup-controller "nosuch" "${B[@]}" --cgroup nosuch.file=1 -- "${K[@]}"
bad_case cgroup-value "the kernel refused it" "${B[@]}" --cgroup "$MEMKEY=banana" -- "${K[@]}"
if [ "$CG_VERSION" = 1 ]; then
	bad_case cgroup-other-version "on v1 use memory.limit_in_bytes" "${B[@]}" \
		--cgroup memory.max=64M -- "${K[@]}"
else
	bad_case cgroup-other-version "on v2 use memory.max" "${B[@]}" \
		--cgroup memory.limit_in_bytes=64M -- "${K[@]}"
fi
bad_case cgroup-version "--cgroup-version: '3'" "${B[@]}" --cgroup-version 3
bad_case parent-cgroup "--parent-cgroup: '../up'" --id b --uid 1 --gid 1 --chroot-base "$BB" \
	--parent-cgroup ../up
bad_case rlimit "no-file '1'" "${B[@]}" --resource-limit no-file=1
bad_case rlimit-name "unknown resource 'cpu'" "${B[@]}" --resource-limit cpu=1
bad_case netns-missing "--netns: cannot open" "${B[@]}" --netns /nonexistent -- "${K[@]}"
bad_case netns-not-ns "is not a network namespace" "${B[@]}" --netns "$TMP/plainfile" -- "${K[@]}"
bad_case kernel-missing "--kernel: cannot use '/nonexistent.elf'" "${B[@]}" -- --kernel /nonexistent.elf
bad_case run-abbreviated "is abbreviated" "${B[@]}" -- --kern "$GUESTS/hello.elf"
bad_case run-backend "--backend: 'qemu'" "${B[@]}" -- "${K[@]}" --backend qemu
bad_case run-disk-device "not a regular file or a block device" "${B[@]}" -- "${K[@]}" --disk /dev/null
mkfifo "$TMP/fifo.elf" "$TMP/fifo.img"
bad_case run-kernel-fifo "is not a regular file" "${B[@]}" -- --kernel "$TMP/fifo.elf"
bad_case run-disk-fifo "not a regular file or a block device" "${B[@]}" -- "${K[@]}" --disk "$TMP/fifo.img,ro"
bad_case run-serial "unknown back end" "${B[@]}" -- "${K[@]}" --serial tcp:1234
bad_case stray-argument "unexpected argument 'stray'" "${B[@]}" stray
bad_case run-option-before "vmon run's options go after --" "${B[@]}" "${K[@]}"
bad_case test-exec "is not a regular file everyone may run" "${B[@]}" --test-exec "$TMP/plainfile" -- "${K[@]}"
# The child fails after the jail was built (no /bin/sh inside): undone too.
bad_case exec-fails "cannot run /vmon in the jail" "${B[@]}" --test-exec "$TMP/script" -- "${K[@]}"
# An existing jail is refused, and left as it was.
mkdir -p "$TMP/existing/vmon/b/root"
timeout -k 5 60 "$VMON" jail --id b --uid 65534 --gid 65534 --chroot-base "$TMP/existing" \
	--parent-cgroup "$BP" -- "${K[@]}" </dev/null >/dev/null 2>"$TMP/bad.err"
status=$?
if [ "$status" -eq 2 ] && [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] &&
	grep -q '^vmon: jail: .*already exists' "$TMP/bad.err" && [ -d "$TMP/existing/vmon/b/root" ] &&
	[ -z "$(jail_leftovers "$BB" "$BP")" ]; then
	pass jail-bad-exists
else
	fail jail-bad-exists "status $status: $(cat "$TMP/bad.err")"
fi
