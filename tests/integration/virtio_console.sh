#!/usr/bin/env bash
# virtio-console (hvc0) on every usable backend with the virtio_console kit
# guest: output to --console file:PATH; output and piped input through
# --console stdio (COM1 on a file).
source "$(dirname "$0")/../lib.sh"

for b in $(usable_backends); do
CON=$GUESTS/virtio_console.elf

run_vmon "$TMP/f.out" "$TMP/f.err" run --backend $b --kernel "$CON" --console "file:$TMP/hvc.txt"
expect_success $b-virtio-console-file "$TMP/f.out" "$TMP/f.err"
if [ "$(cat "$TMP/hvc.txt" 2>/dev/null)" = "hello from hvc0" ]; then
	pass $b-virtio-console-file-output
else
	fail $b-virtio-console-file-output "hvc0 wrote: $(head -c 200 "$TMP/hvc.txt" 2>&1)"
fi

printf 'ping from the host\n' | timeout -k 5 "$TEST_TIMEOUT" "$VMON" run --backend $b \
	--kernel "$CON" --serial "file:$TMP/serial.txt" --console stdio --cmdline input=1 \
	>"$TMP/s.out" 2>"$TMP/s.err"
status=$?
expect_success $b-virtio-console-stdio "$TMP/serial.txt" "$TMP/s.err"
if [ "$(cat "$TMP/s.out")" = "$(printf 'hello from hvc0\ngot: ping from the host')" ]; then
	pass $b-virtio-console-stdio-input
else
	fail $b-virtio-console-stdio-input "stdout: $(head -c 200 "$TMP/s.out" | tr '\n' ' ')"
fi
done
