#!/usr/bin/env bash
# Every kit guest on the emu backend (vmon's software CPU): the guest prints SUCCESS and vmon
# exits 0; plus the ways a guest can end its VM (triple fault, reset,
# debug-exit in QEMU style).
source "$(dirname "$0")/../lib.sh"

K="run --backend emu"

kit() { # kit NAME GUEST ARGS...
	local name=$1 guest=$2
	shift 2
	run_vmon "$TMP/$name.out" "$TMP/$name.err" $K --kernel "$GUESTS/$guest.elf" "$@"
	expect_success "$name" "$TMP/$name.out" "$TMP/$name.err"
}

kit emu-hello hello
kit emu-compute compute --cmdline iters=20000
if grep -q '^checksum=' "$TMP/emu-compute.out"; then pass emu-compute-checksum-line; else fail emu-compute-checksum-line "no checksum= line"; fi
kit emu-exitstorm exitstorm --cmdline n=2000
kit emu-exceptions exceptions
kit emu-timer timer
kit emu-smp-1 smp --cpus 1 --cmdline cpus=1
kit emu-smp-2 smp --cpus 2 --cmdline cpus=2
kit emu-smp-4 smp --cpus 4 --cmdline cpus=4
kit emu-memtest memtest --mem 32M
kit emu-memtest-high memtest --mem 3200M
kit emu-reboot reboot
if grep -q 'first boot' "$TMP/emu-reboot.out" && grep -q 'second boot' "$TMP/emu-reboot.out"; then
	pass emu-reboot-twice
else
	fail emu-reboot-twice "expected a first and a second boot"
fi

# The same compute checksum for the same iteration count, every run.
run_vmon "$TMP/c2.out" "$TMP/c2.err" $K --kernel "$GUESTS/compute.elf" --cmdline iters=20000
if [ "$(grep '^checksum=' "$TMP/c2.out")" = "$(grep '^checksum=' "$TMP/emu-compute.out")" ]; then
	pass emu-compute-deterministic
else
	fail emu-compute-deterministic "checksums differ between runs"
fi

# A reset with --no-reboot ends vmon with status 0 and says so.
run_vmon "$TMP/nr.out" "$TMP/nr.err" $K --no-reboot --kernel "$GUESTS/reboot.elf"
if [ "$status" -eq 0 ] && grep -q 'first boot' "$TMP/nr.out" && ! grep -q 'second boot' "$TMP/nr.out" &&
	grep -q 'reset' "$TMP/nr.err"; then
	pass emu-no-reboot
else
	fail emu-no-reboot "status $status; $(tr '\n' ' ' <"$TMP/nr.err")"
fi

# Triple fault: a clear message and a non-zero status.
run_vmon "$TMP/tf.out" "$TMP/tf.err" $K --kernel "$GUESTS/triplefault.elf"
if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && grep -q 'triple fault' "$TMP/tf.err"; then
	pass emu-triple-fault
else
	fail emu-triple-fault "status $status; stderr: $(tr '\n' ' ' <"$TMP/tf.err")"
fi

# --debug-exit qemu: status (0 << 1) | 1 = 1 for a successful guest.
run_vmon "$TMP/q.out" "$TMP/q.err" $K --debug-exit qemu --kernel "$GUESTS/hello.elf"
if [ "$status" -eq 1 ] && grep -qx SUCCESS <(tr -d '\r' <"$TMP/q.out"); then
	pass emu-debug-exit-qemu
else
	fail emu-debug-exit-qemu "status $status (want 1)"
fi
