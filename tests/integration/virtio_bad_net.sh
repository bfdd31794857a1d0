#!/usr/bin/env bash
# Malicious virtio-net and virtio-vsock queues on every usable backend (the
# virtio_bad_net kit guest, one vmon run per case): vmon survives,
# answers as designed and the device works afterwards.
source "$(dirname "$0")/../lib.sh"

for b in $(usable_backends); do
G=$GUESTS/virtio_bad_net.elf

bad_case() { # bad_case CASE OUTCOME ARGS...
	local c=$1 outcome=$2
	shift 2
	run_vmon "$TMP/$c.out" "$TMP/$c.err" run --backend $b --kernel "$G" "$@"
	if [ "$status" -ne 0 ] || ! grep -qx SUCCESS <(tr -d '\r' <"$TMP/$c.out"); then
		fail "$b-virtio-bad-$c" "status $status; $(tail -c 300 "$TMP/$c.out" | tr '\n' ' ') $(head -c 200 "$TMP/$c.err")"
	elif ! grep -q "^outcome=$outcome" "$TMP/$c.out"; then
		fail "$b-virtio-bad-$c" "outcome is not $outcome: $(grep outcome "$TMP/$c.out")"
	else
		pass "$b-virtio-bad-$c"
	fi
}

for c in net_tx_loop net_tx_short net_tx_write net_tx_ram; do
	bad_case "$c" returned --net user --cmdline "dev=net case=$c"
done
bad_case net_rx_ro failed-request --net user --cmdline "dev=net case=net_rx_ro"
for c in net_rx_head net_tx_jump; do
	bad_case "$c" needs-reset --net user --cmdline "dev=net case=$c"
done
# A returned transmit chain always has length 0: vmon's message tells a
# rejected one apart.
if grep -q 'bad request' "$TMP/net_tx_loop.err" && grep -q 'bad request' "$TMP/net_tx_short.err" &&
	grep -q 'device needs reset' "$TMP/net_rx_head.err"; then
	pass $b-virtio-bad-net-messages
else
	fail $b-virtio-bad-net-messages "$(cat "$TMP"/net_*.err | head -c 300 | tr '\n' ' ')"
fi

# vsock: a host listener on port 5000 that accepts and never reads.
cat >"$TMP/sink.py" <<'PY'
import socket, sys, time
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(4)
conns = []
srv.settimeout(120)
while True:
    try:
        conns.append(srv.accept()[0])
    except OSError:
        break
PY
python3 "$TMP/sink.py" "$TMP/v-$b.sock_5000" &
sink_pid=$!
for _ in $(seq 100); do [ -S "$TMP/v-$b.sock_5000" ] && break; sleep 0.05; done
bad_case vs_tx_short returned --vsock "3,unix:$TMP/v-$b.sock" --cmdline "dev=vsock case=vs_tx_short"
for c in vs_rw_long vs_no_conn vs_dgram vs_credit; do
	bad_case "$c" rst --vsock "3,unix:$TMP/v-$b.sock" --cmdline "dev=vsock case=$c"
done
bad_case vs_rx_head needs-reset --vsock "3,unix:$TMP/v-$b.sock" --cmdline "dev=vsock case=vs_rx_head"
kill "$sink_pid" 2>/dev/null
wait "$sink_pid" 2>/dev/null || true
done
