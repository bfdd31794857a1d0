#!/usr/bin/env bash
# The console on a terminal (a pty from script(1)): raw mode passes every
# byte (Ctrl-D, Ctrl-A Ctrl-A) to the guest, Ctrl-A x quits with status 0,
# and the terminal's settings are restored afterwards.
source "$(dirname "$0")/../lib.sh"

if ! command -v script >/dev/null; then
	skip terminal "script(1) from util-linux is not installed"
	exit 0
fi
for b in $(usable_backends); do
ECHO="$VMON run --backend $b --kernel $GUESTS/serial_echo.elf"

(sleep 1; printf 'hello'; sleep 0.5; printf '\001x') |
	timeout -k 5 60 script -qec "$ECHO" /dev/null >"$TMP/quit.out" 2>&1
status=$?
if [ "$status" -eq 0 ] && grep -q 'serial_echo:' "$TMP/quit.out" && ! grep -q SUCCESS "$TMP/quit.out"; then
	pass terminal-$b-ctrl-a-x-quits
else
	fail terminal-$b-ctrl-a-x-quits "status $status: $(tr '\r\n' '  ' <"$TMP/quit.out")"
fi

want=$(python3 -c 'h=0x811c9dc5
for b in b"ab\x01cd": h=((h^b)*0x01000193)&0xffffffff
print("bytes=5 sum=%08x"%h)')
(sleep 1; printf 'ab\001\001cd\004') |
	timeout -k 5 60 script -qec "$ECHO" /dev/null >"$TMP/raw.out" 2>&1
if grep -qx "$want" <(tr -d '\r' <"$TMP/raw.out"); then
	pass terminal-$b-raw-bytes-reach-guest
else
	fail terminal-$b-raw-bytes-reach-guest "want '$want': $(tr '\r\n' '  ' <"$TMP/raw.out")"
fi

# The pty's settings after vmon has quit must match those before it.
(sleep 1; printf '\001x') |
	timeout -k 5 60 script -qec "stty -g; $ECHO >/dev/null; stty -g" /dev/null >"$TMP/stty.out" 2>&1
before=$(tr -d '\r' <"$TMP/stty.out" | grep -E '^[0-9a-f]+(:[0-9a-f]+)+$' | sed -n 1p)
after=$(tr -d '\r' <"$TMP/stty.out" | grep -E '^[0-9a-f]+(:[0-9a-f]+)+$' | sed -n 2p)
if [ -n "$before" ] && [ "$before" = "$after" ]; then
	pass terminal-$b-restored
else
	fail terminal-$b-restored "before '$before' after '$after'"
fi
done
