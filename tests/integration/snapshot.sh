#!/usr/bin/env bash
# Snapshot and restore (docs/snapshot.md) with the default Linux guest: a
# shell loop appends a numbered line to the raw virtio disk (dd with
# fsync) and then prints COUNT=N, every 0.1 s. `vmon snapshot --no-resume`
# saves it, the process is killed (SIGKILL), and `vmon restore` in a new
# process continues (the machine also has a vsock on virtio-mmio and a
# virtio console): its first COUNT follows the last one printed before
# (not 1), every line the guest reported is on the disk, and the restored
# VM, snapshotted again into the files it was restored from, goes on and
# answers `vmon stop` (the guest's timer is the LAPIC's TSC-deadline
# mode: its deadline crosses the snapshot). Then ten clones (SNAPSHOT_CLONES) restore the
# same snapshot at once (each with its own copy of the disk) and all count on; the API
# refuses bad snapshot requests with 400 and a fault_message (not paused,
# fields missing, Diff without dirty-page tracking — snapshot_diff.sh has
# the diff snapshots —, load into a started VM) and loads the snapshot
# into a fresh `vmon api` (resume_vm); and damaged vmstate files (bad
# magic, version, checksum, truncation, a CPU register, the APIC in
# x2APIC mode without EN, a TSC rate out of range and a virtqueue
# out of range with the checksum fixed up, a CPU feature the backend
# cannot give, the TSC-deadline timer in use but taken out of the
# snapshot's CPU, a missing or short memory file) each end `vmon restore`
# with its one-line message and status 2.
# On every usable backend (the KVM run under make test-kvm). Where KVM is
# usable, across backends too: a guest booted on the software CPU (pinned
# to x86-64-v2) is snapshotted, restored on KVM and counts on (emu to
# KVM), snapshotted there and restored on the software CPU and counts on
# (KVM to emu); and the snapshot of a guest booted on KVM, which turned on
# what the software CPU lacks (kvmclock, SMAP...), is refused by
# `vmon restore --backend emu` with one line naming it and status 2.
source "$(dirname "$0")/../lib.sh"

G=${GUEST_DIR:-$BUILD/guest}
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
LIMIT=${SNAPSHOT_LIMIT:-240}
CLONES=${SNAPSHOT_CLONES:-10} # the issue's "restored 10 times concurrently"

names() {
	local b=$1
	echo snapshot-$b-create snapshot-$b-counter snapshot-$b-disk snapshot-$b-stop \
		snapshot-$b-resnapshot snapshot-$b-tsc-deadline \
		snapshot-$b-clones snapshot-$b-api-not-paused snapshot-$b-api-missing \
		snapshot-$b-api-diff snapshot-$b-api-load-started snapshot-$b-api-load \
		snapshot-$b-api-load-bad snapshot-$b-bad-files
}
if [ ! -f "$G/bzImage" ] || [ ! -f "$G/initramfs.cpio.gz" ]; then
	for b in $(usable_backends); do
		for n in $(names "$b"); do skip "$n" "no $G/bzImage (run make guest)"; done
	done
	exit 0
fi
HAVE_CURL=1
command -v curl >/dev/null || HAVE_CURL=0

LOOP='i=0; while :; do i=$((i+1)); printf "L%06d\n" $i | dd of=/dev/vda bs=8 seek=$i conv=notrunc,fsync 2>/dev/null; echo "COUNT=$i"; sleep 0.1; done'

# counts FILE: the COUNT values printed in FILE, one a line (none while
# FILE does not exist yet).
counts() { { tr -d '\r' <"$1"; } 2>/dev/null | sed -n 's/^COUNT=\([0-9][0-9]*\)$/\1/p'; }
# The vmon process the waits below give up on when it is gone.
WATCH=
alive() { [ -z "$WATCH" ] || kill -0 "$WATCH" 2>/dev/null; }
# wait_for FILE PATTERN: up to LIMIT s for PATTERN in FILE.
wait_for() {
	for _ in $(seq 1 $((LIMIT * 5))); do
		grep -qa -- "$2" "$1" 2>/dev/null && return 0
		alive || return 1
		sleep 0.2
	done
	return 1
}
# wait_count FILE N: until FILE shows a COUNT above N.
wait_count() {
	for _ in $(seq 1 $((LIMIT * 5))); do
		local c
		c=$(counts "$1" | tail -n1)
		[ -n "$c" ] && [ "$c" -gt "$2" ] && return 0
		alive || return 1
		sleep 0.2
	done
	return 1
}
# disk_has IMAGE N: lines 1..N are on the disk image.
disk_has() {
	for i in $(seq 1 "$2"); do
		[ "$(dd if="$1" bs=8 skip="$i" count=1 status=none)" = "$(printf 'L%06d' "$i")" ] ||
			{
				echo "line $i missing"
				return 1
			}
	done
}
SOCK=
REQ_TIMEOUT=120
source "$(dirname "$0")/../lib/api_req.sh"
expect400() {
	if [ "$code" = 400 ] && grep -q '"fault_message"' <<<"$body" && grep -qF -- "$2" <<<"$body"; then
		pass "$1"
	else
		fail "$1" "HTTP $code, want 400 with '$2': $body"
	fi
}

# bad_file B NAME MESSAGE: vmon restore of $TMP/bad exits 2 with MESSAGE.
bad_file() {
	local out
	out=$(timeout -k 5 60 "$VMON" restore --backend "$1" --no-api "$TMP/bad" </dev/null 2>&1 >/dev/null)
	local rc=$?
	if [ $rc -ne 2 ] || ! grep -qF -- "$3" <<<"$out" || [ "$(wc -l <<<"$out")" -ne 1 ]; then
		BAD_WHY="$BAD_WHY; $2: status $rc, '$out' (want 2, one line with '$3')"
	fi
}

# hostile SRC DST SECTION OFFSET HEXBYTES: copies the vmstate SRC to DST
# with bytes at OFFSET of the data of section SECTION replaced and the
# checksum made right again (the file is valid but for that value).
hostile() {
	python3 - "$@" <<'EOF'
import struct, sys, zlib
src, dst, sec, off, val = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), bytes.fromhex(sys.argv[5])
# a negative OFFSET counts from the end of the section's data
b = bytearray(open(src, 'rb').read()[:-4])
p = 12
for _ in range(2):
    p += 1 + b[p]
p += 12
while p < len(b):
    p += 4
    sid = b[p + 1:p + 1 + b[p]].decode(); p += 1 + b[p]
    p += 1 + b[p]
    p += 4
    n = struct.unpack_from('<I', b, p)[0]; p += 4
    if sid == sec:
        o = off + n if off < 0 else off
        b[p + o:p + o + len(val)] = val
    p += n
open(dst, 'wb').write(bytes(b) + struct.pack('<I', zlib.crc32(bytes(b)) & 0xffffffff))
EOF
}

# tsc_rate_off SRC: the offset from the end of cpu0's section data of its
# TSC rate (version 2: u32 kHz, u8 vector, u32 tail length, the tail).
tsc_rate_off() {
	python3 - "$1" <<'EOF'
import struct, sys
b = open(sys.argv[1], 'rb').read()[:-4]
p = 12
for _ in range(2):
    p += 1 + b[p]
p += 12
while p < len(b):
    p += 4
    sid = b[p + 1:p + 1 + b[p]].decode(); p += 1 + b[p]
    p += 1 + b[p]
    p += 4
    n = struct.unpack_from('<I', b, p)[0]; p += 4
    if sid == 'cpu0':
        d = b[p:p + n]
        for tail in range(0, min(3264, n - 9) + 1):
            if struct.unpack_from('<I', d, n - tail - 4)[0] == tail:
                print(-(9 + tail))
                break
    p += n
EOF
}

# add_feature SRC DST NAME: SRC with CPU feature NAME added to the
# snapshot's CPU features (checksum made right); drop_feature SRC DST
# NAME: with NAME taken out of them.
add_feature() { edit_features "$1" "$2" "+$3"; }
drop_feature() { edit_features "$1" "$2" "-$3"; }
edit_features() {
	python3 - "$@" <<'EOF'
import struct, sys, zlib
src, dst, name = sys.argv[1], sys.argv[2], sys.argv[3].encode()
b = open(src, 'rb').read()[:-4]
p = 12
for _ in range(2):
    p += 1 + b[p]
p += 12
out = bytearray(b[:p])
while p < len(b):
    start = p
    p += 4
    sid = b[p + 1:p + 1 + b[p]]; p += 1 + b[p]
    p += 1 + b[p]
    p += 4
    n = struct.unpack_from('<I', b, p)[0]
    head = b[start:p]
    data = b[p + 4:p + 4 + n]
    p += 4 + n
    if sid == b'cpuid':
        if name[:1] == b'+':
            data = data + b' ' + name[1:]
        else:
            data = b' '.join(f for f in data.split(b' ') if f != name[1:])
    out += head + struct.pack('<I', len(data)) + data
out = bytes(out)
open(dst, 'wb').write(out + struct.pack('<I', zlib.crc32(out) & 0xffffffff))
EOF
}

for b in $(usable_backends); do
	D=$TMP/$b
	mkdir -p "$D"
	truncate -s 4M "$D/disk.img"
	mkfifo "$D/in1"
	"$VMON" run --backend "$b" --id "s1-$b" --kernel "$G/bzImage" --initrd "$G/initramfs.cpio.gz" \
		--cmdline "console=ttyS0 quiet" --disk "$D/disk.img,id=d0" \
		--vsock "3,unix:$D/v.sock,transport=mmio" --console "file:$D/hvc.out" <"$D/in1" >"$D/out1" 2>"$D/err1" &
	pid=$!
	PIDS+=("$pid")
	WATCH=$pid
	exec 7>"$D/in1"
	wait_for "$D/out1" 'vmon# ' &&
		echo 'echo "CE=$(cat /sys/devices/system/clockevents/clockevent0/current_device)"' >&7 &&
		echo "$LOOP" >&7
	wait_count "$D/out1" 5
	"$VMON" snapshot --no-resume "s1-$b" "$D/snap" >"$D/snap.out" 2>"$D/snap.err"
	rc=$?
	last=$(counts "$D/out1" | tail -n1)
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	exec 7>&-
	if [ $rc -eq 0 ] && [ -s "$D/snap/vmstate" ] && [ -f "$D/snap/memory" ] && [ -n "$last" ]; then
		pass snapshot-$b-create
	else
		fail snapshot-$b-create "status $rc: $(cat "$D/snap.err") last count '$last'; $(tail -c 300 "$D/err1")"
		for n in $(names "$b"); do [ "$n" = snapshot-$b-create ] || skip "$n" "no snapshot"; done
		continue
	fi

	# --- restore in a new process ------------------------------------
	mkfifo "$D/in2"
	"$VMON" restore --backend "$b" --id "s2-$b" "$D/snap" <"$D/in2" >"$D/out2" 2>"$D/err2" &
	pid=$!
	PIDS+=("$pid")
	WATCH=$pid
	exec 7>"$D/in2"
	wait_count "$D/out2" $((last + 3))
	first=$(counts "$D/out2" | head -n1)
	now=$(counts "$D/out2" | tail -n1)
	# The line being printed at the snapshot may be cut: the first whole
	# one is the next or the one after.
	if [ -n "$first" ] && [ "$first" -ge "$last" ] && [ "$first" -le $((last + 2)) ] &&
		[ "$now" -gt "$first" ]; then
		pass snapshot-$b-counter
	else
		fail snapshot-$b-counter "last before $last, first after '$first', now '$now'; $(tail -c 300 "$D/err2")"
	fi

	# The guest's timer was the LAPIC's TSC-deadline mode (its clockevent
	# lapic-deadline): the counting after the restore ran on the deadline
	# the snapshot carried.
	ce=$(tr -d '\r' <"$D/out1" | sed -n 's/^CE=//p' | head -n1)
	if [ "$ce" = lapic-deadline ]; then
		pass snapshot-$b-tsc-deadline
	else
		fail snapshot-$b-tsc-deadline "the guest's clockevent was '$ce', want lapic-deadline"
	fi

	# --- the API of the restored (running) VM -------------------------
	SOCK=$VMON_RUNTIME_DIR/s2-$b.sock
	if [ $HAVE_CURL = 1 ]; then
		req PUT /snapshot/create "{\"snapshot_path\": \"$D/x\", \"mem_file_path\": \"$D/y\"}"
		expect400 snapshot-$b-api-not-paused "must be paused"
		req PUT /snapshot/create "{\"snapshot_path\": \"$D/x\"}"
		expect400 snapshot-$b-api-missing "'mem_file_path' is required"
		req PUT /snapshot/create "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$D/x\", \"mem_file_path\": \"$D/y\"}"
		expect400 snapshot-$b-api-diff "a Diff snapshot needs dirty-page tracking"
		req PUT /snapshot/load "{\"snapshot_path\": \"$D/snap/vmstate\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$D/snap/memory\"}}"
		expect400 snapshot-$b-api-load-started "not started"
	else
		for n in api-not-paused api-missing api-diff api-load-started; do
			skip snapshot-$b-$n "curl is not installed"
		done
	fi

	# A snapshot of the restored VM into the very files it runs from
	# (new files renamed over them: its RAM mapping keeps the old ones).
	"$VMON" snapshot "s2-$b" "$D/snap" >"$D/snap2.out" 2>&1
	rc=$?
	n=$(counts "$D/out2" | tail -n1)
	if [ $rc -eq 0 ] && wait_count "$D/out2" $((n + 3)); then
		pass snapshot-$b-resnapshot
	else
		fail snapshot-$b-resnapshot "status $rc ($(cat "$D/snap2.out")); count $n then $(counts "$D/out2" | tail -n1); $(tail -c 300 "$D/err2")"
	fi

	"$VMON" stop "s2-$b" >"$D/stop.out" 2>&1
	src=$?
	wait "$pid" 2>/dev/null
	vrc=$?
	exec 7>&-
	if [ $src -eq 0 ] && [ $vrc -eq 0 ]; then
		pass snapshot-$b-stop
	else
		fail snapshot-$b-stop "vmon stop: $src ($(cat "$D/stop.out")), vmon restore: $vrc; $(tail -c 300 "$D/err2")"
	fi
	n=$(counts "$D/out2" | tail -n1)
	if why=$(disk_has "$D/disk.img" "${n:-0}") && [ -n "$n" ]; then
		pass snapshot-$b-disk
	else
		fail snapshot-$b-disk "$n lines reported: $why"
	fi

	# --- clones: the same snapshot CLONES times at once ----------------
	cpids=()
	for k in $(seq 1 "$CLONES"); do
		cp "$D/disk.img" "$D/disk$k.img"
		"$VMON" restore --backend "$b" --id "c$k-$b" --disk-path "d0=$D/disk$k.img" \
			--vsock-path "$D/v$k.sock" --console "file:$D/hvc$k.out" \
			--serial "file:$D/clone$k.out" "$D/snap" </dev/null >/dev/null 2>"$D/clone$k.err" &
		cpids+=($!)
		PIDS+=($!)
	done
	ok=1
	why=
	for k in $(seq 1 "$CLONES"); do
		WATCH=${cpids[$((k - 1))]}
		if ! wait_count "$D/clone$k.out" $((last + 3)); then
			ok=0
			why="$why clone $k: $(counts "$D/clone$k.out" | tail -n1) $(tail -c 200 "$D/clone$k.err")"
		fi
	done
	for k in $(seq 1 "$CLONES"); do "$VMON" stop "c$k-$b" >/dev/null 2>&1; done
	for p in "${cpids[@]}"; do wait "$p" 2>/dev/null; done
	if [ $ok = 1 ]; then pass snapshot-$b-clones; else fail snapshot-$b-clones "$why"; fi

	# --- PUT /snapshot/load into a fresh vmon api ----------------------
	if [ $HAVE_CURL = 1 ]; then
		SOCK=$D/api.sock
		"$VMON" api --api-sock "$SOCK" --id "a-$b" </dev/null >"$D/api.out" 2>"$D/api.err" &
		apid=$!
		PIDS+=("$apid")
		WATCH=$apid
		for _ in $(seq 1 500); do [ -S "$SOCK" ] && break; sleep 0.02; done
		head -c 64 /dev/zero | tr '\0' x >"$D/garbage"
		req PUT /snapshot/load "{\"snapshot_path\": \"$D/garbage\", \"mem_file_path\": \"$D/snap/memory\"}"
		expect400 snapshot-$b-api-load-bad "bad magic"
		req PUT /snapshot/load "{\"snapshot_path\": \"$D/snap/vmstate\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$D/snap/memory\"}, \"resume_vm\": true}"
		if [ "$code" = 204 ] && wait_count "$D/api.out" $((last + 3)); then
			pass snapshot-$b-api-load
		else
			fail snapshot-$b-api-load "HTTP $code $body; $(tail -c 200 "$D/api.out") $(tail -c 200 "$D/api.err")"
		fi
		"$VMON" stop "a-$b" >/dev/null 2>&1
		# (a vmon api whose load failed has no VM to stop)
		[ "$code" = 204 ] || kill -KILL "$apid" 2>/dev/null
		wait "$apid" 2>/dev/null
	else
		skip snapshot-$b-api-load "curl is not installed"
		skip snapshot-$b-api-load-bad "curl is not installed"
	fi

	# --- damaged vmstate files ----------------------------------------
	BAD_WHY=
	mkdir -p "$TMP/bad"
	ln -sf "$D/snap/memory" "$TMP/bad/memory"
	V=$D/snap/vmstate
	printf 'NOTVMON!' | cat - <(tail -c +9 "$V") >"$TMP/bad/vmstate"
	bad_file "$b" magic "bad magic"
	python3 -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[8]=9; open(sys.argv[2],'wb').write(b)" "$V" "$TMP/bad/vmstate"
	bad_file "$b" version "format version 9"
	python3 -c "import sys; b=bytearray(open(sys.argv[1],'rb').read()); b[len(b)//2]^=1; open(sys.argv[2],'wb').write(b)" "$V" "$TMP/bad/vmstate"
	bad_file "$b" checksum "checksum mismatch"
	head -c 1000 "$V" >"$TMP/bad/vmstate"
	bad_file "$b" truncated "checksum mismatch"
	head -c 10 "$V" >"$TMP/bad/vmstate"
	bad_file "$b" tiny "truncated"
	# cpu0's CR0 (after 16 GPRs, RIP, RFLAGS, 8 segments, GDTR, IDTR)
	hostile "$V" "$TMP/bad/vmstate" cpu0 308 00000000ffffffff
	bad_file "$b" cr0 "bad CR0"
	# cpu0's APIC_BASE (after CR0-XCR0, DR0-7 and 9 MSRs) with x2APIC
	# mode (EXTD) but not EN: the invalid APIC state
	hostile "$V" "$TMP/bad/vmstate" cpu0 500 0004e0fe00000000
	bad_file "$b" apic-extd "bad local APIC state"
	# cpu0's TSC rate, the first of version 2's fields after the LAPIC
	# (u32 kHz, u8 vector, u32 XSAVE tail length and the tail: PKRU's
	# on the software CPU once Linux set it)
	hostile "$V" "$TMP/bad/vmstate" cpu0 "$(tsc_rate_off "$V")" ffffffff
	bad_file "$b" cpu-tsc-rate "bad TSC rate 4294967295 kHz"
	# drive d0's queue 0: its size (after the 37-byte virtio header)...
	hostile "$V" "$TMP/bad/vmstate" d0 37 0300
	bad_file "$b" queue-size "bad size 3"
	# ... and its descriptor table outside guest RAM
	hostile "$V" "$TMP/bad/vmstate" d0 41 00000000000f0000
	bad_file "$b" queue-addr "not in guest RAM"
	# the guest's timer is in TSC-deadline mode (snapshot-$b-tsc-deadline)
	# and the snapshot's CPU lacks it: refused before the guest runs
	# (KVM would drop the mode in KVM_SET_LAPIC: kvm_state_fit.c)
	drop_feature "$V" "$TMP/bad/vmstate" tsc_deadline_timer
	bad_file "$b" no-tsc-deadline "TSC-deadline mode"
	if [ "$b" = emu ]; then
		# a feature the software CPU does not have (it stops at x86-64-v3)
		add_feature "$V" "$TMP/bad/vmstate" avx512f
		bad_file "$b" cpu-feature "the snapshot's CPU: the emu backend cannot offer avx512f"
	fi
	cp "$V" "$TMP/bad/vmstate"
	rm "$TMP/bad/memory"
	bad_file "$b" no-memory "memory: No such file"
	head -c 4096 "$D/snap/memory" >"$TMP/bad/memory"
	bad_file "$b" short-memory "but the snapshot's guest has"
	if [ -z "$BAD_WHY" ]; then
		pass snapshot-$b-bad-files
	else
		fail snapshot-$b-bad-files "${BAD_WHY#; }"
	fi
	rm -rf "$TMP/bad"
done

# --- across backends (where KVM is usable) ---------------------------------
CROSS="snapshot-emu-to-kvm snapshot-kvm-to-emu snapshot-kvm-booted-to-emu"
if ! have_kvm; then
	for n in $CROSS; do skip "$n" "/dev/kvm is not usable here (make test-kvm runs it)"; done
	exit 0
fi
# restore_counts NAME BACKEND SNAPDIR ID OUT LAST: vmon restore on BACKEND
# counts on from LAST; passes or fails NAME. Leaves the VM running.
restore_counts() {
	local name=$1 be=$2 dir=$3 id=$4 out=$5 last=$6
	"$VMON" restore --backend "$be" --id "$id" --disk-path "d0=$X/disk.img" \
		--serial "file:$out" "$dir" </dev/null >/dev/null 2>"$out.err" &
	XPID=$!
	PIDS+=("$XPID")
	WATCH=$XPID
	local first now
	wait_count "$out" $((last + 3))
	first=$(counts "$out" | head -n1)
	now=$(counts "$out" | tail -n1)
	if [ -n "$first" ] && [ "$first" -ge "$last" ] && [ "$first" -le $((last + 2)) ] &&
		[ "$now" -gt "$first" ]; then
		pass "$name"
		return 0
	fi
	fail "$name" "last before $last, first after '$first', now '$now'; $(tail -c 300 "$out.err")"
	return 1
}
X=$TMP/cross
mkdir -p "$X"
truncate -s 4M "$X/disk.img"
mkfifo "$X/in"
# The software CPU inside the nested harness's L1 runs under TCG: its boot
# gets more room.
LIMIT=${SNAPSHOT_CROSS_LIMIT:-$((LIMIT * 4))}
"$VMON" run --backend emu --cpu-features x86-64-v2 --id "x1" --kernel "$G/bzImage" \
	--initrd "$G/initramfs.cpio.gz" --cmdline "console=ttyS0 quiet" --disk "$X/disk.img,id=d0" \
	<"$X/in" >"$X/out1" 2>"$X/err1" &
pid=$!
PIDS+=("$pid")
WATCH=$pid
exec 7>"$X/in"
wait_for "$X/out1" 'vmon# ' && echo "$LOOP" >&7
wait_count "$X/out1" 3
"$VMON" snapshot --no-resume x1 "$X/s1" >"$X/snap1.out" 2>&1
rc=$?
last=$(counts "$X/out1" | tail -n1)
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exec 7>&-
if [ $rc -ne 0 ] || [ -z "$last" ]; then
	for n in $CROSS; do
		[ "$n" = snapshot-kvm-booted-to-emu ] ||
			fail "$n" "the software-CPU snapshot: status $rc $(cat "$X/snap1.out"), last count '$last'; $(tail -c 300 "$X/err1")"
	done
elif restore_counts snapshot-emu-to-kvm kvm "$X/s1" x2 "$X/out2" "$last"; then
	"$VMON" snapshot --no-resume x2 "$X/s2" >"$X/snap2.out" 2>&1
	rc=$?
	last=$(counts "$X/out2" | tail -n1)
	kill -KILL "$XPID" 2>/dev/null
	wait "$XPID" 2>/dev/null
	if [ $rc -eq 0 ] && [ -n "$last" ]; then
		restore_counts snapshot-kvm-to-emu emu "$X/s2" x3 "$X/out3" "$last"
		"$VMON" stop x3 >/dev/null 2>&1
		wait "$XPID" 2>/dev/null
	else
		fail snapshot-kvm-to-emu "the KVM snapshot: status $rc $(cat "$X/snap2.out"), last count '$last'"
	fi
else
	kill -KILL "$XPID" 2>/dev/null
	skip snapshot-kvm-to-emu "no KVM snapshot (emu to KVM failed)"
fi
# A guest booted on KVM: refused by the software CPU with one line.
if [ -s "$TMP/kvm/snap/vmstate" ]; then
	out=$(timeout -k 5 120 "$VMON" restore --backend emu --no-api "$TMP/kvm/snap" </dev/null 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <<<"$out")" -eq 1 ] &&
		grep -qE "which the software CPU lacks|the emu backend cannot offer" <<<"$out"; then
		pass snapshot-kvm-booted-to-emu
	else
		fail snapshot-kvm-booted-to-emu "status $rc, '$out' (want 2 and one line saying what the software CPU lacks)"
	fi
else
	skip snapshot-kvm-booted-to-emu "no snapshot of a KVM-booted guest"
fi
