#!/usr/bin/env bash
# Disk image locks, held for the VM's whole life and compatible with
# QEMU's (OFD locks on QEMU's lock bytes, core/image_lock.h):
#   - a second vmon on an image a running vmon writes is refused, with or
#     without ,ro; two read-only users coexist; a writer is refused while
#     a read-only user runs;
#   - vmon refuses an image a running QEMU holds, and QEMU refuses one a
#     running vmon holds (qemu-system-x86_64, paused with -S, as the other
#     VM).
source "$(dirname "$0")/../lib.sh"

ECHO=$GUESTS/serial_echo.elf
HELLO=$GUESTS/hello.elf
truncate -s 1M "$TMP/disk.img"

# holder ARGS...: starts a vmon that keeps running (serial_echo waiting
# for input that never comes) and waits until its devices are set up;
# sets $holder_pid.
holder() {
	rm -f "$TMP/holder.out"
	timeout -k 5 "$TEST_TIMEOUT" "$VMON" run --kernel "$ECHO" --cmdline idle=1000000000000 \
		"$@" </dev/null >"$TMP/holder.out" 2>"$TMP/holder.err" &
	holder_pid=$!
	for _ in $(seq 300); do
		grep -q '^serial_echo:' "$TMP/holder.out" 2>/dev/null && return 0
		kill -0 "$holder_pid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}
stop_holder() {
	kill "$holder_pid" 2>/dev/null
	wait "$holder_pid" 2>/dev/null || true
}

# refused NAME ARGS...: vmon ARGS exits 2 with one line saying the disk is in use.
refused() {
	local name=$1
	shift
	timeout -k 5 60 "$VMON" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
	local rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q "disk.img: in use by another process" "$TMP/err"; then
		pass "$name"
	else
		fail "$name" "status $rc; stderr: $(head -c 300 "$TMP/err" | tr '\n' ' ')"
	fi
}

# runs NAME ARGS...: vmon ARGS (the hello guest) succeeds.
runs() {
	local name=$1
	shift
	run_vmon "$TMP/out" "$TMP/err" "$@"
	expect_success "$name" "$TMP/out" "$TMP/err"
}

for b in $(usable_backends); do
	K="run --backend $b --kernel $HELLO"
	if holder --backend "$b" --disk "$TMP/disk.img"; then
		refused disk-lock-$b-second-writer-refused $K --disk "$TMP/disk.img"
		refused disk-lock-$b-reader-refused-while-writer $K --disk "$TMP/disk.img,ro"
	else
		fail disk-lock-$b-holder "the holding vmon did not start: $(head -c 300 "$TMP/holder.err")"
	fi
	stop_holder
	# The lock goes with the VM: the image is free again.
	runs disk-lock-$b-released-at-exit $K --disk "$TMP/disk.img"
	if holder --backend "$b" --disk "$TMP/disk.img,ro"; then
		runs disk-lock-$b-readers-coexist $K --disk "$TMP/disk.img,ro"
		refused disk-lock-$b-writer-refused-while-reader $K --disk "$TMP/disk.img"
	else
		fail disk-lock-$b-ro-holder "the holding vmon did not start: $(head -c 300 "$TMP/holder.err")"
	fi
	stop_holder
done

# QEMU as the other VM.
QEMU=${QEMU:-qemu-system-x86_64}
if ! command -v "$QEMU" >/dev/null; then
	skip disk-lock-qemu "no $QEMU (scripts/setup.sh installs qemu-system-x86)"
	exit 0
fi
# qemu_start DRIVE-OPTIONS: a paused QEMU with the image on a virtio-blk;
# returns once QMP answers (the machine, and so the drive, is set up) or
# QEMU has exited (then $qemu_pid is gone and $TMP/qemu.err says why).
qemu_start() {
	rm -f "$TMP/qmp.sock"
	timeout -k 5 "$TEST_TIMEOUT" "$QEMU" -M pc -accel tcg -S -display none -nodefaults \
		-no-user-config -qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
		-drive "$1" </dev/null >"$TMP/qemu.out" 2>"$TMP/qemu.err" &
	qemu_pid=$!
	python3 - "$TMP/qmp.sock" "$qemu_pid" <<'PY'
import json, os, socket, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
for _ in range(600):
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)  # QEMU exited
    if os.path.exists(path):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            f = s.makefile("rw")
            f.readline()  # greeting
            for cmd in ("qmp_capabilities", "query-status"):
                f.write(json.dumps({"execute": cmd}) + "\n")
                f.flush()
                json.loads(f.readline())
            sys.exit(0)
        except OSError:
            pass
    time.sleep(0.1)
sys.exit(1)
PY
}
qemu_stop() {
	kill "$qemu_pid" 2>/dev/null
	wait "$qemu_pid" 2>/dev/null || true
}

b=$(usable_backends 2>/dev/null | awk '{print $1}')
K="run --backend $b --kernel $HELLO"
if qemu_start "file=$TMP/disk.img,format=raw,if=virtio"; then
	refused disk-lock-qemu-holds-vmon-writer-refused $K --disk "$TMP/disk.img"
	refused disk-lock-qemu-holds-vmon-reader-refused $K --disk "$TMP/disk.img,ro"
else
	fail disk-lock-qemu-holds "QEMU did not start: $(head -c 300 "$TMP/qemu.err")"
fi
qemu_stop
if qemu_start "file=$TMP/disk.img,format=raw,if=virtio,readonly=on"; then
	runs disk-lock-qemu-reader-vmon-reader-coexist $K --disk "$TMP/disk.img,ro"
	refused disk-lock-qemu-reader-vmon-writer-refused $K --disk "$TMP/disk.img"
else
	fail disk-lock-qemu-reader "QEMU did not start: $(head -c 300 "$TMP/qemu.err")"
fi
qemu_stop
# vmon holds the image: QEMU must refuse it, writable or read-only.
if holder --backend "$b" --disk "$TMP/disk.img"; then
	for mode in "" ",readonly=on"; do
		name=disk-lock-vmon-holds-qemu${mode:+-readonly}-refused
		if qemu_start "file=$TMP/disk.img,format=raw,if=virtio$mode"; then
			fail "$name" "QEMU started on the image vmon holds"
		elif grep -q 'Failed to get .*lock' "$TMP/qemu.err"; then
			pass "$name"
		else
			fail "$name" "QEMU failed otherwise: $(head -c 300 "$TMP/qemu.err")"
		fi
		qemu_stop
	done
else
	fail disk-lock-vmon-holds-qemu "the holding vmon did not start: $(head -c 300 "$TMP/holder.err")"
fi
stop_holder
