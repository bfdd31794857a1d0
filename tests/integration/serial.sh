#!/usr/bin/env bash
# The COM1 console: input piped into vmon reaches the guest without loss;
# --serial file: and unix: back ends carry output (and input, for unix:).
source "$(dirname "$0")/../lib.sh"

for b in $(usable_backends); do
K="run --backend $b"

# 64 KiB of random bytes (no 0x04, which ends the guest's read) piped in.
expected=$(python3 - "$TMP/in.bin" <<'PY'
import os, sys
data = bytes(b for b in os.urandom(80000) if b != 4)[:65536]
open(sys.argv[1], "wb").write(data + b"\x04")
h = 0x811c9dc5
for b in data:
    h = ((h ^ b) * 0x01000193) & 0xffffffff
print("bytes=%d sum=%08x" % (len(data), h))
PY
)
timeout -k 5 "$TEST_TIMEOUT" "$VMON" $K --kernel "$GUESTS/serial_echo.elf" <"$TMP/in.bin" >"$TMP/echo.out" 2>"$TMP/echo.err"
status=$?
if [ "$status" -eq 0 ] && grep -qx "$expected" <(tr -d '\r' <"$TMP/echo.out"); then
	pass serial-$b-piped-input-lossless
else
	fail serial-$b-piped-input-lossless "status $status; want '$expected', got: $(grep bytes= "$TMP/echo.out")"
fi

# Input arriving slowly, in pieces, through a pipe that stays open.
(printf 'abc'; sleep 1; printf 'def'; sleep 1; printf '\004') |
	timeout -k 5 "$TEST_TIMEOUT" "$VMON" $K --kernel "$GUESTS/serial_echo.elf" >"$TMP/slow.out" 2>"$TMP/slow.err"
want=$(python3 -c 'h=0x811c9dc5
for b in b"abcdef": h=((h^b)*0x01000193)&0xffffffff
print("bytes=6 sum=%08x"%h)')
if grep -qx "$want" <(tr -d '\r' <"$TMP/slow.out"); then
	pass serial-$b-input-in-pieces
else
	fail serial-$b-input-in-pieces "want '$want', got: $(cat "$TMP/slow.out" | tr '\n' ' ')"
fi

# --serial file:PATH
run_vmon "$TMP/f.out" "$TMP/f.err" $K --serial "file:$TMP/console.txt" --kernel "$GUESTS/hello.elf"
if [ "$status" -eq 0 ] && grep -q 'Hello from the vmon test kit' "$TMP/console.txt" && [ ! -s "$TMP/f.out" ]; then
	pass serial-$b-file
else
	fail serial-$b-file "status $status; file: $(head -c 200 "$TMP/console.txt" 2>/dev/null)"
fi

# --serial unix:PATH: a client connects, sends input, reads the output.
sock="$TMP/console.sock"
timeout -k 5 "$TEST_TIMEOUT" "$VMON" $K --serial "unix:$sock" --kernel "$GUESTS/serial_echo.elf" \
	</dev/null >"$TMP/u.out" 2>"$TMP/u.err" &
vpid=$!
got=$(python3 - "$sock" <<'PY'
import socket, sys, time
path = sys.argv[1]
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        break
    except OSError:
        time.sleep(0.05)
else:
    print("no socket"); sys.exit(0)
s.sendall(b"hello over unix\x04")
buf = b""
s.settimeout(60)
while b"SUCCESS" not in buf and b"FAIL" not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
print(buf.decode(errors="replace").replace("\r", ""))
PY
)
wait $vpid
status=$?
want=$(python3 -c 'h=0x811c9dc5
for b in b"hello over unix": h=((h^b)*0x01000193)&0xffffffff
print("bytes=15 sum=%08x"%h)')
if [ "$status" -eq 0 ] && grep -qx "$want" <<<"$got"; then
	pass serial-$b-unix-socket
else
	fail serial-$b-unix-socket "status $status; got: $(tr '\n' ' ' <<<"$got")"
fi
if [ ! -e "$sock" ]; then pass serial-$b-unix-socket-removed; else fail serial-$b-unix-socket-removed "socket left behind"; fi
done
