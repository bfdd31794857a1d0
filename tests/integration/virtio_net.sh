#!/usr/bin/env bash
# virtio-net on every usable backend, driven by the virtio_net kit guest:
#   - user-mode networking (libslirp): a UDP datagram to 10.0.2.2 reaches
#     a host echo server on 127.0.0.1 and the echo comes back (and does
#     not with host-loopback=off); a host
#     connection to a hostfwd port reaches the guest as a TCP SYN;
#   - tap: in a network namespace this test creates, a frame from the
#     guest reaches a host raw socket on the tap, and the host's answer
#     reaches the guest (needs root and ip(8)).
source "$(dirname "$0")/../lib.sh"

for b in $(usable_backends); do
rm -f "$TMP/fwd.out" "$TMP/tappeer.out" # polled below: none may be left from the previous backend
K="run --backend $b"
NET=$GUESTS/virtio_net.elf

# A UDP echo server on 127.0.0.1; prints its port.
cat >"$TMP/udpecho.py" <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    data, addr = s.recvfrom(65536)
    s.sendto(data, addr)
PY
rm -f "$TMP/udp.port"
python3 "$TMP/udpecho.py" >"$TMP/udp.port" &
echo_pid=$!
for _ in $(seq 50); do [ -s "$TMP/udp.port" ] && break; sleep 0.1; done
UDP_PORT=$(cat "$TMP/udp.port")

run_vmon "$TMP/user.out" "$TMP/user.err" $K --kernel "$NET" --net user \
	--cmdline "mode=user port=$UDP_PORT"
expect_success $b-virtio-net-user-udp-echo "$TMP/user.out" "$TMP/user.err"

# host-loopback=off: the same datagram to 10.0.2.2 must not reach the
# host's 127.0.0.1; the guest sees libslirp's ICMP unreachable instead.
run_vmon "$TMP/nolb.out" "$TMP/nolb.err" $K --kernel "$NET" --net user,host-loopback=off \
	--cmdline "mode=user port=$UDP_PORT blocked=1"
if [ "$status" -eq 0 ] && grep -q '^udp to 10.0.2.2: blocked' "$TMP/nolb.out"; then
	pass $b-virtio-net-user-host-loopback-off
else
	fail $b-virtio-net-user-host-loopback-off "status $status; $(tail -c 300 "$TMP/nolb.out" | tr '\n' ' ')"
fi

# mac= reaches the guest's configuration space.
run_vmon "$TMP/mac.out" "$TMP/mac.err" $K --kernel "$NET" --net user,mac=52:54:00:aa:bb:cc \
	--cmdline "mode=user port=$UDP_PORT"
if [ "$status" -eq 0 ] && grep -q '^mac=52:54:00:aa:bb:cc' "$TMP/mac.out"; then
	pass $b-virtio-net-mac
else
	fail $b-virtio-net-mac "status $status; $(head -c 300 "$TMP/mac.out" | tr '\n' ' ')"
fi

# hostfwd: a free loopback port, forwarded to guest port 2222.
FWD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
timeout -k 5 "$TEST_TIMEOUT" "$VMON" $K --kernel "$NET" \
	--net "user,hostfwd=tcp:127.0.0.1:$FWD_PORT-:2222" \
	--cmdline "mode=user port=$UDP_PORT fwd=2222" </dev/null >"$TMP/fwd.out" 2>"$TMP/fwd.err" &
vm_pid=$!
for _ in $(seq 300); do grep -q '^ready' "$TMP/fwd.out" && break; sleep 0.1; done
python3 - "$FWD_PORT" <<'PY' >"$TMP/fwd.client" 2>&1 &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
time.sleep(60)  # held open until the guest has seen the SYN
PY
client_pid=$!
wait "$vm_pid"
status=$?
kill "$client_pid" 2>/dev/null
wait "$client_pid" 2>/dev/null || true
expect_success $b-virtio-net-user-hostfwd "$TMP/fwd.out" "$TMP/fwd.err"
kill "$echo_pid" 2>/dev/null
wait "$echo_pid" 2>/dev/null || true

# tap, inside a network namespace of our own.
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || [ ! -c /dev/net/tun ]; then
	skip $b-virtio-net-tap "needs root, ip(8) and /dev/net/tun"
	continue
fi
NS=vmon-test-$$-$b
if ! ip netns add "$NS" 2>"$TMP/ns.err"; then
	skip $b-virtio-net-tap "cannot create a network namespace: $(head -c 200 "$TMP/ns.err")"
	continue
fi
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns exec "$NS" ip tuntap add dev vmtap0 mode tap &&
	ip netns exec "$NS" ip link set vmtap0 up || fail $b-virtio-net-tap "cannot set up the tap"
# The host end: answers the guest's PING frame with a PONG to its MAC.
cat >"$TMP/tappeer.py" <<'PY'
import socket, sys
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
peer_pid=$!
for _ in $(seq 50); do grep -q listening "$TMP/tappeer.out" && break; sleep 0.1; done
timeout -k 5 "$TEST_TIMEOUT" ip netns exec "$NS" "$VMON" $K --kernel "$NET" --net tap:vmtap0 \
	--cmdline "mode=tap" </dev/null >"$TMP/tap.out" 2>"$TMP/tap.err"
status=$?
expect_success $b-virtio-net-tap "$TMP/tap.out" "$TMP/tap.err"
if grep -q "got PING from 52:54:00:12:34:56" "$TMP/tappeer.out"; then
	pass $b-virtio-net-tap-guest-to-host
else
	fail $b-virtio-net-tap-guest-to-host "host side saw: $(head -c 200 "$TMP/tappeer.out")"
fi
kill "$peer_pid" 2>/dev/null
wait "$peer_pid" 2>/dev/null || true
ip netns del "$NS" 2>/dev/null
done
