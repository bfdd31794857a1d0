#!/usr/bin/env bash
# Bad --disk input: each case prints exactly one line on stderr, starting
# with "vmon: ", and exits with status 2 before any guest runs.
source "$(dirname "$0")/../lib.sh"

HELLO=$GUESTS/hello.elf

bad() { # bad NAME PATTERN ARGS...
	local name=$1 pattern=$2
	shift 2
	timeout -k 5 60 "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
	local rc=$? lines
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -ne 2 ]; then
		fail "bad-disk-$name" "status $rc (want 2); stderr: $(head -c 300 "$TMP/err" | tr '\n' ' ')"
	elif [ "$lines" -ne 1 ] || ! grep -q '^vmon: ' "$TMP/err"; then
		fail "bad-disk-$name" "want one 'vmon:' line, got $lines: $(head -c 300 "$TMP/err" | tr '\n' ' ')"
	elif ! grep -qiE "$pattern" "$TMP/err"; then
		fail "bad-disk-$name" "message does not say '$pattern': $(cat "$TMP/err")"
	elif grep -q SUCCESS "$TMP/out"; then
		fail "bad-disk-$name" "the guest ran"
	else
		pass "bad-disk-$name"
	fi
}

# --backend kvm with a KVM device that does not exist: each case must be
# reported as the bad input it is, before vmon looks for KVM, on any host.
V="env VMON_KVM_DEVICE=/nonexistent/kvm $VMON run --backend kvm --kernel $HELLO"
truncate -s 1M "$TMP/ok.img"
: >"$TMP/empty.img"

bad missing "no-such.img.*no such file" $V --disk "$TMP/no-such.img"
bad directory "$TMP.*is a directory" $V --disk "$TMP"
bad empty "empty" $V --disk "$TMP/empty.img"
bad not-a-file "not a regular file" $V --disk /dev/null
bad unknown-suboption "unknown suboption 'rw'" $V --disk "$TMP/ok.img,rw"
bad empty-suboption "unknown suboption ''" $V --disk "$TMP/ok.img,,ro"
bad no-path "names no image" $V --disk ",ro"
bad empty-id "unknown suboption 'id='" $V --disk "$TMP/ok.img,id="
bad long-id "longer than 20" $V --disk "$TMP/ok.img,id=abcdefghijklmnopqrstuvwxyz"
bad missing-value "needs a value" $V --disk
bad bad-transport "transport 'usb' in .* is not pci or mmio" $V --disk "$TMP/ok.img,transport=usb"
bad empty-transport "transport '' in .* is not pci or mmio" $V --disk "$TMP/ok.img,transport="
bad too-many-mmio "at most 4 devices with transport=mmio" $V $(for i in $(seq 5); do printf -- '--disk %s ' "$TMP/ok.img,ro,transport=mmio"; done)
bad net-transport "net: transport 'x' in 'user,transport=x' is not pci or mmio" $V --net user,transport=x
bad vsock-transport "vsock: transport 'pcie' in .* is not pci or mmio" $V --vsock "3,unix:$TMP/v.sock,transport=pcie"
bad console-transport "console: transport 'isa' in .* is not pci or mmio" $V --console "file:$TMP/hvc.out,transport=isa"
bad too-many-mmio-mixed "vsock: at most 4 devices with transport=mmio" $V $(for i in $(seq 2); do printf -- '--disk %s ' "$TMP/ok.img,ro,transport=mmio"; done) --net user,transport=mmio --net user,transport=mmio --vsock "3,unix:$TMP/v.sock,transport=mmio"
bad too-many "at most 16" $V $(for i in $(seq 17); do printf -- '--disk %s ' "$TMP/ok.img,ro"; done)
# An image locked by a running VM: tests/integration/disk_lock.sh.
# The same image twice: named as such, not as "in use by another process";
# twice read-only is fine (shared locks), so only the writable case fails.
ln -f "$TMP/ok.img" "$TMP/ok-link.img"
bad twice "ok-link.img: the same image as drive .*attached only once" $V --disk "$TMP/ok.img" --disk "$TMP/ok-link.img"
bad twice-one-ro "the same image as drive .*attached only once" $V --disk "$TMP/ok.img,ro" --disk "$TMP/ok.img"
# FIFOs: refused at once, never a blocking open() (timeout makes a hang a
# failure). A file: console needs a reader on its FIFO when vmon starts.
mkfifo "$TMP/fifo"
bad fifo "fifo: a FIFO, not a regular file or block device" $V --disk "$TMP/fifo"
bad fifo-ro "fifo: a FIFO, not a regular file or block device" $V --disk "$TMP/fifo,ro"
bad serial-fifo-no-reader "console: .*fifo is a FIFO with no reader" $V --serial "file:$TMP/fifo"
bad console-fifo-no-reader "console: .*fifo is a FIFO with no reader" $V --console "file:$TMP/fifo"
python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$TMP/a.socket"
bad serial-socket "is a socket" $V --serial "file:$TMP/a.socket"
# An output file that is one of the VM's disks: refused before it is
# opened for writing; the image survives byte for byte.
head -c 1048576 /dev/urandom >"$TMP/data.img"
cp "$TMP/data.img" "$TMP/data.orig"
bad serial-is-disk "serial file:.*data.img is the image of --disk .*data.img" \
	$V --disk "$TMP/data.img" --serial "file:$TMP/data.img"
bad console-is-disk-ro "console file:.*data.img is the image of --disk .*data.img" \
	$V --disk "$TMP/data.img,ro" --console "file:$TMP/data.img"
ln -s "$TMP/data.img" "$TMP/data-link.img"
bad serial-is-disk-other-name "serial file:.*data-link.img is the image of --disk" \
	$V --disk "$TMP/data.img" --serial "file:$TMP/data-link.img"
if cmp -s "$TMP/data.img" "$TMP/data.orig"; then
	pass bad-disk-output-is-disk-image-intact
else
	fail bad-disk-output-is-disk-image-intact "the image changed: $(cmp "$TMP/data.img" "$TMP/data.orig" 2>&1 | head -c 200)"
fi
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$TMP"
	cp "$HELLO" "$TMP/hello.elf" && chmod 644 "$TMP/hello.elf"
	cp "$TMP/ok.img" "$TMP/private.img" && chmod 600 "$TMP/private.img"
	cp "$TMP/ok.img" "$TMP/readonly.img" && chmod 644 "$TMP/readonly.img"
	NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
	bad unreadable "permission denied" env VMON_KVM_DEVICE=/dev/null $NOBODY \
		env VMON_KVM_DEVICE=/nonexistent/kvm "$VMON" run --backend kvm --kernel "$TMP/hello.elf" --disk "$TMP/private.img"
	bad not-writable "permission denied.*,ro" env VMON_KVM_DEVICE=/dev/null $NOBODY \
		env VMON_KVM_DEVICE=/nonexistent/kvm "$VMON" run --backend kvm --kernel "$TMP/hello.elf" --disk "$TMP/readonly.img"
else
	skip bad-disk-unreadable "needs root and setpriv to drop to an unprivileged user"
	skip bad-disk-not-writable "needs root and setpriv to drop to an unprivileged user"
fi

# --net, --vsock, --console: the same contract (the function names the
# case "bad-disk-..."; these are prefixed net-/vsock-/console-).
bad net-unknown-kind "unknown kind 'bridge'" $V --net bridge
bad net-tap-no-name "not an interface name" $V --net tap:
bad net-tap-long-name "not an interface name" $V --net tap:abcdefghijklmnopq
bad net-tap-not-a-tap "tap:lo.*cannot attach" $V --net tap:lo
bad net-bad-hostfwd "bad hostfwd 'tcp::99999-:22'" $V --net user,hostfwd=tcp::99999-:22
bad net-hostfwd-no-dash "bad hostfwd" $V --net user,hostfwd=tcp::2222:22
bad net-hostfwd-on-tap "unknown suboption 'hostfwd=" $V --net tap:vmtap0,hostfwd=tcp::2222-:22
bad net-bad-mac "bad MAC address" $V --net user,mac=01:00:5e:00:00:01
bad net-bad-host-loopback "host-loopback='maybe' is not on or off" $V --net user,host-loopback=maybe
bad net-host-loopback-on-tap "unknown suboption 'host-loopback=off'" $V --net tap:vmtap0,host-loopback=off
bad net-too-many "at most 4 network" $V --net user --net user --net user --net user --net user
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && [ -c /dev/net/tun ]; then
	bad net-tap-no-permission "tap:vmonnoperm0: cannot (open /dev/net/tun|attach)" setpriv --reuid=65534 --regid=65534 \
		--clear-groups --inh-caps=-all env VMON_KVM_DEVICE=/nonexistent/kvm "$VMON" run --backend kvm --kernel "$HELLO" --net tap:vmonnoperm0
else
	skip bad-disk-net-tap-no-permission "needs root and setpriv to drop privileges"
fi
PORT_IN_USE=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0); s.bind(('127.0.0.1',$PORT_IN_USE)); s.listen(1); print('listening', flush=True); time.sleep(20)" >"$TMP/holder.out" &
holder=$!
for _ in $(seq 100); do grep -q listening "$TMP/holder.out" 2>/dev/null && break; sleep 0.1; done
bad net-hostfwd-in-use "hostfwd tcp 127.0.0.1:$PORT_IN_USE: cannot listen" $V \
	--net "user,hostfwd=tcp:127.0.0.1:$PORT_IN_USE-:22"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null || true
bad vsock-no-path "is not CID,unix:PATH" $V --vsock 3
bad vsock-reserved-cid "CID 2 is reserved" $V --vsock "2,unix:$TMP/v.sock"
bad vsock-not-unix "is not CID,unix:PATH" $V --vsock "3,tcp:1234"
bad vsock-bad-cid "is not CID,unix:PATH" $V --vsock "x,unix:$TMP/v.sock"
bad vsock-two "only one vsock" $V --vsock "3,unix:$TMP/a.sock" --vsock "4,unix:$TMP/b.sock"
bad vsock-not-a-socket "exists and is not a socket" $V --vsock "3,unix:$TMP/ok.img"
bad console-unknown "console|stdio" $V --console tcp:1234
bad console-two-stdio "only one device can have the terminal" $V --console stdio
