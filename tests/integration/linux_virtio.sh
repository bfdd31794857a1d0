#!/usr/bin/env bash
# The virtio devices under Debian's Linux guest (make guest), driven
# through the console by commands piped into vmon's stdin. Two boots.
#
# Boot 1 (disks, --net user, vsock, rng), ends with the guest's poweroff:
#   - fs: mke2fs on a virtio disk, mount, write 64 MiB made in the guest
#     from a seed (guests/linux-tools/pattern.c), drop the guest's caches
#     and md5sum it back from the disk, store the sum beside it, sync,
#     unmount; after the power-off the host takes both files out of the
#     image with debugfs and compares the data byte for byte with the same
#     pattern made on the host, and the guest's checksum with the host's;
#   - ro: a ",ro" disk reads back its contents, the guest kernel sees it
#     read-only (VIRTIO_BLK_F_RO) and refuses a write, and the image is
#     unchanged (Linux keeps the disk read-only even after blockdev
#     --setrw, so the device's own refusal is tested by the kit guest in
#     virtio_blk.sh);
#   - net-user: wget in the guest fetches a random file from a host HTTP
#     server on 127.0.0.1 through 10.0.2.2, md5 equal;
#   - vsock: guest-to-host (the guest's connection to host port 5000
#     reaches a host echo server on PATH_5000) and host-to-guest (a host
#     client on PATH writes "CONNECT 1234", the guest echoes); 300000
#     bytes each way (more than a 64 KiB credit), checksums equal;
#   - hwrng: /dev/hwrng is the virtio-rng and reads 4096 bytes twice, the
#     two reads differ and use at least 200 distinct byte values.
# Boot 2 (run inside a network namespace this test creates when it can):
#   - tap: a host server in the namespace sends a file to the guest and
#     another receives one from it over the tap device, checksums equal
#     (needs root, ip(8) and /dev/net/tun; otherwise skipped);
#   - flush: the guest writes 1 MiB to a raw disk through its page cache
#     and fsyncs it (a virtio-blk flush), prints a marker; the host then
#     kills vmon with SIGKILL and finds the data in the image.
# LINUX_BACKEND=kvm runs the same checks on the KVM backend (linux_kvm.sh
# does, where the host can; LINUX_VIRTIO_SKIP=REASON skips every check).
source "$(dirname "$0")/../lib.sh"

LB=${LINUX_BACKEND:-emu}
G=${GUEST_DIR:-$BUILD/guest}
T=$G/tools
P=linux-$LB-virtio
NAMES1=("$P-fs" "$P-fs-checksum" "$P-ro" "$P-net-user" "$P-vsock-guest-to-host"
	"$P-vsock-host-to-guest" "$P-hwrng" "$P-poweroff")
NAMES2=("$P-tap-host-to-guest" "$P-tap-guest-to-host" "$P-flush-survives-kill")
NAMES=("${NAMES1[@]}" "${NAMES2[@]}")
[ -z "${LINUX_VIRTIO_SKIP:-}" ] || skip_all "$LINUX_VIRTIO_SKIP"
need_guest_files bzImage initramfs.cpio.gz tools/pattern tools/sockcat
if ! "$VMON" run --backend "$LB" --kernel /nonexistent 2>&1 | grep -q nonexistent; then
	skip_all "this vmon has no $LB backend"
fi
LIMIT=${LINUX_VIRTIO_LIMIT:-600} # per boot; the ASan build needs ~4 min for boot 1

# start_vm NAME INPUT-FILE [PREFIX...] -- [VMON ARGS...]: boots the default
# guest in the background with INPUT-FILE on stdin, under the command
# PREFIX (e.g. ip netns exec NS); raw output in $TMP/NAME.raw. vmon's own
# pid ends up in $TMP/NAME.pid.
start_vm() {
	local name=$1 input=$2 prefix=()
	shift 2
	while [ "$1" != -- ]; do
		prefix+=("$1")
		shift
	done
	shift
	rm -f "$TMP/$name.pid"
	# shellcheck disable=SC2016 # expanded by that sh
	"${prefix[@]}" sh -c 'echo $$ >"$0"; exec "$@"' "$TMP/$name.pid" \
		"$VMON" run --backend "$LB" --kernel "$G/bzImage" --initrd "$G/initramfs.cpio.gz" \
		--cmdline "console=ttyS0 quiet" "$@" <"$input" >"$TMP/$name.raw" 2>"$TMP/$name.err" &
	echo $! >"$TMP/$name.wrapper"
}

# wait_vm NAME: waits (up to LIMIT s from the start) for the VM to end;
# writes its exit status to $TMP/NAME.rc (124 after a timeout, when it is
# killed) and the output without CRs to $TMP/NAME.out.
wait_vm() {
	local name=$1 w rc
	w=$(cat "$TMP/$name.wrapper")
	for _ in $(seq $((LIMIT * 10))); do
		kill -0 "$w" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$w" 2>/dev/null; then
		kill -9 "$(cat "$TMP/$name.pid")" 2>/dev/null
		wait "$w"
		rc=124
	else
		wait "$w"
		rc=$?
	fi
	echo "$rc" >"$TMP/$name.rc"
	tr -d '\r' <"$TMP/$name.raw" >"$TMP/$name.out"
}

# wait_line NAME REGEX: waits until the VM's output has a line matching
# REGEX (or the VM ended, or LIMIT seconds); status 0 if it came.
wait_line() {
	local name=$1 re=$2 w
	w=$(cat "$TMP/$name.wrapper")
	for _ in $(seq $((LIMIT * 10))); do
		tr -d '\r' <"$TMP/$name.raw" | grep -qE "$re" && return 0
		kill -0 "$w" 2>/dev/null || break
		sleep 0.1
	done
	tr -d '\r' <"$TMP/$name.raw" | grep -qE "$re"
}

# value NAME KEY: what the guest printed on a line "KEY=value" (the echoed
# command line starts with the command, not with KEY=; the last such line,
# as the command's echo comes before its output).
value() { sed -n "s/^$2=//p" "$TMP/$1.out" | tail -n1; }
why() { echo "status $(cat "$TMP/$1.rc"); output: $(tail -c 500 "$TMP/$1.out" | tr '\n' ' ') $(head -c 200 "$TMP/$1.err" | tr '\n' ' ')"; }
md5() { md5sum | cut -d' ' -f1; }

# ---- boot 1: disks, net user, vsock, rng -------------------------------------
FS_BYTES=67108864
VS_BYTES=300000
truncate -s 128M "$TMP/fs.img"
"$T/pattern" 21 1048576 >"$TMP/ro.img"
RO_SUM=$(md5 <"$TMP/ro.img")
RO_HEAD=$(head -c 65536 "$TMP/ro.img" | md5)
FS_SUM=$("$T/pattern" 7 $FS_BYTES | md5)
VS_G2H=$("$T/pattern" 11 $VS_BYTES | md5)
mkdir -p "$TMP/www"
head -c 3000000 /dev/urandom >"$TMP/www/blob"
WWW_SUM=$(md5 <"$TMP/www/blob")

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$TMP/www" >"$TMP/http.out" 2>"$TMP/http.err" &
http_pid=$!
for _ in $(seq 100); do grep -q 'port [0-9]' "$TMP/http.out" && break; sleep 0.05; done
HTTP_PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$TMP/http.out" | head -n1)

# The vsock host side: an echo server on PATH_5000 for the guest's
# connection, and a client that connects to PATH once the guest listens on
# port 1234, sends the pattern (seed 12) and checks the echo.
SOCK=$TMP/v.sock
cat >"$TMP/vsock.py" <<'PY'
import os, re, socket, subprocess, sys, threading, time
path, out, pattern, nbytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def echo_server(srv):
    c, _ = srv.accept()
    n = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        n += len(b)
        c.sendall(b)
    c.shutdown(socket.SHUT_WR)
    print("echo server: echoed", n, "bytes", flush=True)

srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path + "_5000")
srv.listen(1)
threading.Thread(target=echo_server, args=(srv,), daemon=True).start()
print("ready", flush=True)
deadline = time.time() + 400
while time.time() < deadline:
    text = open(out, "rb").read().replace(b"\r", b"") if os.path.exists(out) else b""
    m = re.search(rb"^VSOCK_LISTEN=(\d+)$", text, re.M)
    if m and m.group(1) == b"1":
        break
    if m:
        sys.exit("client: the guest did not listen")
    time.sleep(0.1)
else:
    sys.exit("client: timed out waiting for the guest to listen")
payload = subprocess.run([pattern, "12", str(nbytes)], capture_output=True, check=True).stdout
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(120)
s.connect(path)
s.sendall(b"CONNECT 1234\n")
line = b""
while not line.endswith(b"\n"):
    b = s.recv(1)
    if not b:
        sys.exit("client: closed before OK, after %r" % line)
    line += b
if not line.startswith(b"OK "):
    sys.exit("client: answer %r" % line)
got = bytearray()
def reader():
    while True:
        b = s.recv(65536)
        if not b:
            break
        got.extend(b)
t = threading.Thread(target=reader)
t.start()
s.sendall(payload)
s.shutdown(socket.SHUT_WR)
t.join(120)
if bytes(got) != payload:
    sys.exit("client: %d of %d bytes came back, %s" % (len(got), len(payload),
             "an equal prefix" if payload.startswith(bytes(got)) else "different data"))
print("client ok:", line.decode().strip(), len(got), "bytes echoed", flush=True)
PY
python3 "$TMP/vsock.py" "$SOCK" "$TMP/b1.raw" "$T/pattern" "$VS_BYTES" >"$TMP/vsock.out" 2>&1 &
vsock_pid=$!
for _ in $(seq 100); do grep -q ready "$TMP/vsock.out" && break; sleep 0.05; done

# The shell echoes the commands; a wide terminal keeps its line editor
# from wrapping them, so a guest's "KEY=value" line always starts a line
# and the echoed command line starts with the command.
cat >"$TMP/b1.in" <<EOF
stty cols 4000
mke2fs -q /dev/vda >/dev/null 2>&1; echo "MKFS=\$?"
mkdir -p /mnt && mount -t ext4 /dev/vda /mnt; echo "MOUNT=\$?"
pattern 7 $FS_BYTES >/mnt/file; echo "WRITE=\$?"
sync; echo 3 >/proc/sys/vm/drop_caches; md5sum /mnt/file | cut -d' ' -f1 >/mnt/file.md5; echo "FSUM=\$(cat /mnt/file.md5)"
sync; umount /mnt; echo "UMOUNT=\$?"
echo "RO_READ=\$(head -c 65536 /dev/vdb | md5sum | cut -d' ' -f1)"
echo "RO_FLAG=\$(blockdev --getro /dev/vdb) \$(cat /sys/block/vdb/ro)"
echo "RO_WRITE=\$(dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct 2>&1 | tr '\n' ' ')"
ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
echo "WGET=\$(wget -q -O - http://10.0.2.2:$HTTP_PORT/blob | md5sum | cut -d' ' -f1)"
echo "VSOCK_G2H=\$(pattern 11 $VS_BYTES | sockcat vsock-connect 2 5000 2>/tmp/g2h.err | md5sum | cut -d' ' -f1) \$(cat /tmp/g2h.err)"
timeout 200 sockcat -e vsock-listen 1234 </dev/null >/dev/null 2>/tmp/h2g.err & vpid=\$!
for i in \$(seq 100); do grep -q listening /tmp/h2g.err && break; sleep 0.1; done; echo "VSOCK_LISTEN=\$(grep -c listening /tmp/h2g.err)"
wait \$vpid; echo "VSOCK_H2G=\$? \$(tail -n1 /tmp/h2g.err)"
echo "RNG_DEV=\$(cat /sys/class/misc/hw_random/rng_current)"
head -c 4096 /dev/hwrng >/tmp/r1; head -c 4096 /dev/hwrng >/tmp/r2
echo "RNG=\$(wc -c </tmp/r1) \$(wc -c </tmp/r2) \$(cmp -s /tmp/r1 /tmp/r2 && echo same || echo differ) \$(od -An -v -tu1 /tmp/r1 | tr -s ' ' '\n' | grep . | sort -u | wc -l)"
poweroff -f
EOF
t0=$(date +%s)
start_vm b1 "$TMP/b1.in" -- --disk "$TMP/fs.img" --disk "$TMP/ro.img,ro" --net user \
	--vsock "3,unix:$SOCK"
wait_vm b1
echo "# boot 1: $(($(date +%s) - t0)) s" >&2
kill "$http_pid" "$vsock_pid" 2>/dev/null
wait "$vsock_pid" 2>/dev/null
wait "$http_pid" 2>/dev/null

# fs: the file and the guest's checksum, out of the image by debugfs.
if ! command -v debugfs >/dev/null; then
	skip "$P-fs" "no debugfs on the host (e2fsprogs)"
	skip "$P-fs-checksum" "no debugfs on the host (e2fsprogs)"
else
	debugfs -R "dump /file $TMP/file.out" "$TMP/fs.img" >"$TMP/debugfs.log" 2>&1
	debugfs -R "dump /file.md5 $TMP/file.md5" "$TMP/fs.img" >>"$TMP/debugfs.log" 2>&1
	steps="mke2fs '$(value b1 MKFS)' mount '$(value b1 MOUNT)' write '$(value b1 WRITE)' umount '$(value b1 UMOUNT)'"
	if [ ! -s "$TMP/file.out" ]; then
		fail "$P-fs" "debugfs found no /file in the image ($(tail -n1 "$TMP/debugfs.log")); guest: $steps; $(why b1)"
	elif ! cmp <("$T/pattern" 7 $FS_BYTES) "$TMP/file.out" >"$TMP/cmp.out" 2>&1; then
		fail "$P-fs" "the image's /file ($(stat -c %s "$TMP/file.out") bytes) differs from the pattern: $(head -c 200 "$TMP/cmp.out"); guest: $steps"
	else
		pass "$P-fs"
	fi
	v=$(value b1 FSUM)
	if [ "$v" = "$FS_SUM" ] && [ "$(cat "$TMP/file.md5" 2>/dev/null)" = "$FS_SUM" ]; then
		pass "$P-fs-checksum"
	else
		fail "$P-fs-checksum" "guest md5 after dropping its caches '$v', in the image '$(cat "$TMP/file.md5" 2>/dev/null)', want $FS_SUM; $(why b1)"
	fi
fi

# ro: reads work, both kinds of write fail, image unchanged.
v_read=$(value b1 RO_READ) v_flag=$(value b1 RO_FLAG) v_w=$(value b1 RO_WRITE)
if [ "$v_read" != "$RO_HEAD" ]; then
	fail "$P-ro" "the read-only disk read back '$v_read', want $RO_HEAD; $(why b1)"
elif [ "$v_flag" != "1 1" ]; then
	fail "$P-ro" "the guest does not see the disk read-only (blockdev --getro, sysfs ro: '$v_flag')"
elif ! echo "$v_w" | grep -qiE 'read-only|not permitted|permission denied'; then
	fail "$P-ro" "a write to the read-only disk said '$v_w' (want a read-only refusal)"
elif [ "$(md5 <"$TMP/ro.img")" != "$RO_SUM" ]; then
	fail "$P-ro" "the read-only image changed"
else
	pass "$P-ro"
fi

v=$(value b1 WGET)
if [ "$v" = "$WWW_SUM" ]; then
	pass "$P-net-user"
else
	fail "$P-net-user" "wget of http://10.0.2.2:$HTTP_PORT/blob gave md5 '$v', want $WWW_SUM; http server: $(tail -n2 "$TMP/http.err" | tr '\n' ' '); $(why b1)"
fi

v=$(value b1 VSOCK_G2H)
if [ "${v%% *}" = "$VS_G2H" ] && grep -q "echoed $VS_BYTES bytes" "$TMP/vsock.out"; then
	pass "$P-vsock-guest-to-host"
else
	fail "$P-vsock-guest-to-host" "guest: '$v' (want md5 $VS_G2H); host: $(tr '\n' ' ' <"$TMP/vsock.out")"
fi
v=$(value b1 VSOCK_H2G)
if grep -q "^client ok: OK [0-9]* $VS_BYTES bytes echoed" "$TMP/vsock.out" && [ "${v%% *}" = 0 ]; then
	pass "$P-vsock-host-to-guest"
else
	fail "$P-vsock-host-to-guest" "guest listener: '$(value b1 VSOCK_LISTEN)', ended '$v'; host: $(tr '\n' ' ' <"$TMP/vsock.out")"
fi

v=$(value b1 RNG)
read -r n1 n2 cmpres distinct <<<"$v"
if [ "$(value b1 RNG_DEV)" != virtio_rng.0 ]; then
	fail "$P-hwrng" "rng_current is '$(value b1 RNG_DEV)', want virtio_rng.0; $(why b1)"
elif [ "${n1:-}" = 4096 ] && [ "${n2:-}" = 4096 ] && [ "${cmpres:-}" = differ ] && [ "${distinct:-0}" -ge 200 ]; then
	pass "$P-hwrng"
else
	fail "$P-hwrng" "two 4096-byte reads of /dev/hwrng: '$v' (want '4096 4096 differ' and >= 200 distinct byte values)"
fi

if [ "$(cat "$TMP/b1.rc")" = 0 ] && grep -q 'reboot: Power down' "$TMP/b1.out"; then
	pass "$P-poweroff"
else
	fail "$P-poweroff" "want status 0 after 'reboot: Power down'; $(why b1)"
fi

# ---- boot 2: tap (in a namespace of our own) and flush-then-SIGKILL --------------
TAP_WHY=""
if [ "$(id -u)" -ne 0 ]; then
	TAP_WHY="needs root (a network namespace and a tap device)"
elif ! command -v ip >/dev/null; then
	TAP_WHY="no ip(8) (iproute2)"
elif [ ! -c /dev/net/tun ]; then
	TAP_WHY="no /dev/net/tun"
fi
NS=vmon-lv-$$
if [ -z "$TAP_WHY" ] && ! ip netns add "$NS" 2>"$TMP/ns.err"; then
	TAP_WHY="cannot create a network namespace: $(head -c 200 "$TMP/ns.err")"
fi
prefix=()
net=()
TAP_BYTES=2000000
echo 'stty cols 4000' >"$TMP/b2.in"
if [ -z "$TAP_WHY" ]; then
	trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
	if ip netns exec "$NS" ip tuntap add dev vmtap0 mode tap 2>"$TMP/tap.err" &&
		ip netns exec "$NS" ip addr add 10.0.3.1/24 dev vmtap0 2>>"$TMP/tap.err" &&
		ip netns exec "$NS" ip link set vmtap0 up 2>>"$TMP/tap.err" &&
		ip netns exec "$NS" ip link set lo up 2>>"$TMP/tap.err"; then
		head -c $TAP_BYTES /dev/urandom >"$TMP/tap.h2g"
		TAP_H2G=$(md5 <"$TMP/tap.h2g")
		TAP_G2H=$("$T/pattern" 13 $TAP_BYTES | md5)
		ip netns exec "$NS" "$T/sockcat" tcp-listen 7001 <"$TMP/tap.h2g" >/dev/null 2>"$TMP/tap1.err" &
		s1=$!
		ip netns exec "$NS" "$T/sockcat" tcp-listen 7002 </dev/null >"$TMP/tap.g2h" 2>"$TMP/tap2.err" &
		s2=$!
		for _ in $(seq 100); do
			grep -q listening "$TMP/tap1.err" && grep -q listening "$TMP/tap2.err" && break
			sleep 0.05
		done
		prefix=(ip netns exec "$NS")
		net=(--net tap:vmtap0)
		cat >>"$TMP/b2.in" <<EOF
ip link set eth0 up; ip addr add 10.0.3.2/24 dev eth0
echo "TAP_H2G=\$(sockcat tcp-connect 10.0.3.1 7001 </dev/null 2>/tmp/t1.err | md5sum | cut -d' ' -f1) \$(cat /tmp/t1.err)"
pattern 13 $TAP_BYTES | sockcat tcp-connect 10.0.3.1 7002 >/dev/null 2>/tmp/t2.err; echo "TAP_G2H=\$? \$(cat /tmp/t2.err)"
EOF
	else
		TAP_WHY="cannot set up a tap device in the namespace: $(head -c 200 "$TMP/tap.err")"
	fi
fi
truncate -s 4M "$TMP/flush.img"
FLUSH_SUM=$("$T/pattern" 99 1048576 | md5)
cat >>"$TMP/b2.in" <<'EOF'
pattern 99 1048576 | dd of=/dev/vda bs=65536 conv=fsync 2>/tmp/dd.err; echo "FLUSHED=$? $(tail -n1 /tmp/dd.err)"
sleep 1000
EOF
t0=$(date +%s)
start_vm b2 "$TMP/b2.in" "${prefix[@]}" -- --disk "$TMP/flush.img" "${net[@]}"
# (stderr: no "Killed" notice from bash for the job)
if wait_line b2 '^FLUSHED=[0-9]' 2>/dev/null; then
	kill -9 "$(cat "$TMP/b2.pid")" 2>/dev/null
fi
wait_vm b2 2>/dev/null
echo "# boot 2: $(($(date +%s) - t0)) s" >&2

if [ -n "$TAP_WHY" ]; then
	skip "$P-tap-host-to-guest" "$TAP_WHY"
	skip "$P-tap-guest-to-host" "$TAP_WHY"
else
	kill "$s1" "$s2" 2>/dev/null
	wait "$s1" "$s2" 2>/dev/null
	v=$(value b2 TAP_H2G)
	if [ "${v%% *}" = "$TAP_H2G" ]; then
		pass "$P-tap-host-to-guest"
	else
		fail "$P-tap-host-to-guest" "guest got md5 '$v', want $TAP_H2G; host: $(tr '\n' ' ' <"$TMP/tap1.err"); $(why b2)"
	fi
	v=$(value b2 TAP_G2H)
	if [ "${v%% *}" = 0 ] && [ "$(md5 <"$TMP/tap.g2h")" = "$TAP_G2H" ]; then
		pass "$P-tap-guest-to-host"
	else
		fail "$P-tap-guest-to-host" "guest: '$v'; host received $(stat -c %s "$TMP/tap.g2h") bytes, md5 $(md5 <"$TMP/tap.g2h"), want $TAP_G2H; host: $(tr '\n' ' ' <"$TMP/tap2.err")"
	fi
fi

v=$(value b2 FLUSHED)
if [ "${v%% *}" != 0 ]; then
	fail "$P-flush-survives-kill" "the guest's write and fsync did not complete: '$v'; $(why b2)"
elif [ "$(cat "$TMP/b2.rc")" != 137 ]; then
	fail "$P-flush-survives-kill" "vmon was not ended by SIGKILL after the marker (status $(cat "$TMP/b2.rc"))"
elif [ "$(head -c 1048576 "$TMP/flush.img" | md5)" != "$FLUSH_SUM" ]; then
	fail "$P-flush-survives-kill" "after SIGKILL the image's first MiB is not what the guest wrote and flushed"
else
	pass "$P-flush-survives-kill"
fi
