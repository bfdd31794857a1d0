#!/usr/bin/env bash
# virtio-console (hvc0) on the KVM backend with the virtio_console kit
# guest: output to --console file:PATH; output and piped input through
# --console stdio (COM1 on a file).
source "$(dirname "$0")/../lib.sh"

if ! have_kvm; then
	skip virtio-console "/dev/kvm is not usable here"
	exit 0
fi
CON=$GUESTS/virtio_console.elf

run_vmon "$TMP/f.out" "$TMP/f.err" run --backend kvm --kernel "$CON" --console "file:$TMP/hvc.txt"
expect_success kvm-virtio-console-file "$TMP/f.out" "$TMP/f.err"
if [ "$(cat "$TMP/hvc.txt" 2>/dev/null)" = "hello from hvc0" ]; then
	pass kvm-virtio-console-file-output
else
	fail kvm-virtio-console-file-output "hvc0 wrote: $(head -c 200 "$TMP/hvc.txt" 2>&1)"
fi

printf 'ping from the host\n' | timeout -k 5 "$TEST_TIMEOUT" "$VMON" run --backend kvm \
	--kernel "$CON" --serial "file:$TMP/serial.txt" --console stdio --cmdline input=1 \
	>"$TMP/s.out" 2>"$TMP/s.err"
status=$?
expect_success kvm-virtio-console-stdio "$TMP/serial.txt" "$TMP/s.err"
if [ "$(cat "$TMP/s.out")" = "$(printf 'hello from hvc0\ngot: ping from the host')" ]; then
	pass kvm-virtio-console-stdio-input
else
	fail kvm-virtio-console-stdio-input "stdout: $(head -c 200 "$TMP/s.out" | tr '\n' ' ')"
fi
