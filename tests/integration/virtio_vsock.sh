#!/usr/bin/env bash
# virtio-vsock on every usable backend with the virtio_vsock kit guest and the
# hybrid Unix-socket host side:
#   - guest to host: the guest connects to host port 5000, which reaches
#     an echo server listening on PATH_5000;
#   - host to guest: a host client connects to PATH, writes
#     "CONNECT 1234\n", reads "OK <port>\n", sends 300000 bytes (more than
#     the guest's 64 KiB credit, so vmon must wait for the guest's fwd_cnt)
#     and reads every byte back from the guest's echo.
source "$(dirname "$0")/../lib.sh"

for b in $(usable_backends); do
SOCK=$TMP/v-$b.sock
rm -f "$TMP/vm.out" "$TMP/host.out" # host.py watches vm.out for the guest's progress

cat >"$TMP/host.py" <<'PY'
import os, socket, sys, threading, time
path, out = sys.argv[1], sys.argv[2]

def echo_server():
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path + "_5000")
    srv.listen(1)
    c, _ = srv.accept()
    while True:
        b = c.recv(4096)
        if not b:
            break
        c.sendall(b)
    c.close()

threading.Thread(target=echo_server, daemon=True).start()
# Wait for the guest to listen on port 1234.
deadline = time.time() + 100
while time.time() < deadline:
    text = open(out, "rb").read() if os.path.exists(out) else b""
    if b"listening" in text:
        break
    if b"FAIL" in text:
        sys.exit("the guest failed first")
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(100)
s.connect(path)
s.sendall(b"CONNECT 1234\n")
line = b""
while not line.endswith(b"\n"):
    b = s.recv(1)
    if not b:
        sys.exit("closed before OK")
    line += b
if not line.startswith(b"OK "):
    sys.exit("answer: %r" % line)
payload = bytes((i * 7 + 3) & 0xff for i in range(300000))
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
t.join(100)
if bytes(got) != payload:
    sys.exit("echo: %d bytes back, %s" % (len(got), "equal prefix" if payload.startswith(bytes(got)) else "differs"))
print("client ok", line.decode().strip())
PY

# The host side first: its echo server must listen before the guest
# connects.
timeout 110 python3 "$TMP/host.py" "$SOCK" "$TMP/vm.out" >"$TMP/host.out" 2>&1 &
host_pid=$!
for _ in $(seq 100); do [ -S "${SOCK}_5000" ] && break; sleep 0.05; done
run_vmon "$TMP/vm.out" "$TMP/vm.err" run --backend $b --kernel "$GUESTS/virtio_vsock.elf" \
	--vsock "5,unix:$SOCK" --cmdline "cid=5"
wait "$host_pid"
host_rc=$?
expect_success $b-virtio-vsock "$TMP/vm.out" "$TMP/vm.err"
if grep -q '^guest-to-host: ok' "$TMP/vm.out"; then
	pass $b-virtio-vsock-guest-to-host
else
	fail $b-virtio-vsock-guest-to-host "$(tail -c 300 "$TMP/vm.out" | tr '\n' ' ')"
fi
if [ "$host_rc" -eq 0 ] && grep -q '^client ok OK ' "$TMP/host.out" &&
	grep -q '^host-to-guest: echoed 300000 bytes' "$TMP/vm.out"; then
	pass $b-virtio-vsock-host-to-guest
else
	fail $b-virtio-vsock-host-to-guest "client: $(head -c 300 "$TMP/host.out" | tr '\n' ' ')"
fi
if [ ! -e "$SOCK" ]; then
	pass $b-virtio-vsock-socket-removed
else
	fail $b-virtio-vsock-socket-removed "$SOCK is still there after vmon ended"
fi
done
