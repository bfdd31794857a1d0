#!/usr/bin/env bash
# A Linux guest that moves between the software CPU and KVM (docs/
# snapshot.md and docs/migration.md, "A guest for emu and KVM hosts"):
# its CPU model is chosen by asking both backends what they give
# (`vmon cpu-features`), so that the system features one of them lacks
# (the nested harness's KVM has no PCID; the software CPU no AVX-512...)
# are left out from the start. KVM is this script's subject: without a
# usable /dev/kvm it skips (make test-kvm runs it on a real KVM, nested
# where the host has none).
#   cross-model-same            the model printed by `vmon cpu-features
#                               --cpu-features SPEC` is the same for both
#                               backends
#   cross-snapshot-emu-to-kvm   the default Linux guest booted on the
#                               software CPU with that model, counting
#                               (appending fsynced lines to its disk and
#                               printing COUNT and its uptime every
#                               0.1 s), is snapshotted, killed and restored
#                               on KVM: the count goes on from where it
#                               stopped and the shell runs a command
#   cross-migrate-kvm-to-emu    then live-migrated from KVM to the
#   cross-migrate-emu-to-kvm    software CPU and back to KVM: each time
#                               the count goes on and a command runs
#   cross-clock-disk            the guest's uptime never went back across
#                               the four machines, and every line it
#                               counted is on its disk
# No timing thresholds: every wait is for an event, with a generous limit
# (the software CPU runs under TCG inside the nested harness's L1).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib/migrate_wait.sh"

G=${GUEST_DIR:-$BUILD/guest}
NAMES="cross-model-same cross-snapshot-emu-to-kvm cross-migrate-kvm-to-emu cross-migrate-emu-to-kvm cross-clock-disk"
if ! have_kvm; then
	for n in $NAMES; do skip "$n" "/dev/kvm is not usable here (make test-kvm runs it)"; done
	exit 0
fi
if [ ! -f "$G/bzImage" ] || [ ! -f "$G/initramfs.cpio.gz" ]; then
	for n in $NAMES; do skip "$n" "no $G/bzImage (run make guest)"; done
	exit 0
fi
LIMIT=${CROSS_LIMIT:-1500}
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

counts() { { tr -d '\r' <"$1"; } 2>/dev/null | sed -n 's/^COUNT=\([0-9][0-9]*\) UP=[0-9.]*$/\1/p'; }
ups() { { tr -d '\r' <"$1"; } 2>/dev/null | sed -n 's/^COUNT=[0-9][0-9]* UP=\([0-9.]*\)$/\1/p'; }
wait_count() { wait_above counts "$@"; }
# wait_for FILE PATTERN PID: up to LIMIT s for PATTERN in FILE while PID runs.
wait_for() {
	for _ in $(seq 1 $((LIMIT * 5))); do
		tr -d '\r' <"$1" 2>/dev/null | grep -qa -- "$2" && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}
disk_has() {
	for i in $(seq 1 "$2"); do
		[ "$(dd if="$1" bs=8 skip="$i" count=1 status=none)" = "$(printf 'L%06d' "$i")" ] ||
			{
				echo "line $i missing"
				return 1
			}
	done
}
LOOP='i=0; while :; do i=$((i+1)); printf "L%06d\n" $i | dd of=/dev/vda bs=8 seek=$i conv=notrunc,fsync 2>/dev/null; echo "COUNT=$i UP=$(cut -d" " -f1 /proc/uptime)"; sleep 0.1; done'

# ---- the model both backends give ------------------------------------------
K=$("$VMON" cpu-features --backend kvm 2>&1)
E=$("$VMON" cpu-features --backend emu 2>&1)
# max less what either lacks: the features both give (svm and amd are
# the software CPU's only when named; KVM offers svm where nesting is on).
spec=max
for f in $E $K; do
	case $f in svm | amd) continue ;; esac
	if ! grep -qw -- "$f" <<<"$K" || ! grep -qw -- "$f" <<<"$E"; then spec+=",-$f"; fi
done
spec+=",-svm"
echo "# kvm offers: $K" >&2
echo "# the guest's model: $spec" >&2
se=$("$VMON" cpu-features --backend emu --cpu-features "$spec" 2>&1)
sk=$("$VMON" cpu-features --backend kvm --cpu-features "$spec" 2>&1)
if [ -n "$se" ] && [ "$se" = "$sk" ]; then
	pass cross-model-same
	echo "# both give: $se" >&2
else
	fail cross-model-same "emu: '$se'; kvm: '$sk'"
fi

X=$TMP/cross
mkdir -p "$X"
truncate -s 4M "$X/disk.img"
mkfifo "$X/in1" "$X/in2" "$X/in3" "$X/in4"
"$VMON" run --backend emu --cpu-features "$spec" --id cx1 --kernel "$G/bzImage" \
	--initrd "$G/initramfs.cpio.gz" --cmdline "console=ttyS0 quiet" --disk "$X/disk.img,id=d0" \
	<"$X/in1" >"$X/out1" 2>"$X/err1" &
p1=$!
PIDS+=("$p1")
exec 3>"$X/in1"
if ! wait_for "$X/out1" 'vmon# ' "$p1"; then
	for n in $NAMES; do
		[ "$n" = cross-model-same ] || fail "$n" "the guest did not boot on the software CPU: $(tail -c 300 "$X/err1")"
	done
	exit 0
fi
echo "($LOOP) &" >&3
wait_count "$X/out1" 3 "$p1"
"$VMON" snapshot --no-resume cx1 "$X/s1" >"$X/snap1.out" 2>&1
rc=$?
last=$(counts "$X/out1" | tail -n1)
kill -KILL "$p1" 2>/dev/null
wait "$p1" 2>/dev/null

# went_on NAME OUT PID LAST N: the machine writing OUT (process PID) counts
# on from LAST (its first whole count is LAST to LAST+2: the line being
# printed at the switch may be cut) and its shell answers command N.
went_on() {
	local name=$1 out=$2 pid=$3 last=$4 n=$5 fd=$6 first
	if ! wait_count "$out" $((last + 3)) "$pid"; then
		fail "$name" "the count did not go on past $last: $(tail -c 300 "$out") $(tail -c 300 "$out.err")"
		return 1
	fi
	first=$(counts "$out" | head -n1)
	if [ "$first" -lt "$last" ] || [ "$first" -gt $((last + 2)) ]; then
		fail "$name" "the last count before was $last, the first after $first"
		return 1
	fi
	echo "echo CMD$n=\$(($n * 7))" >&"$fd"
	if ! wait_for "$out" "^CMD$n=$((n * 7))\$" "$pid"; then
		fail "$name" "the shell did not answer: $(tail -c 300 "$out")"
		return 1
	fi
	pass "$name"
}

if [ $rc -ne 0 ] || [ -z "$last" ]; then
	for n in $NAMES; do
		[ "$n" = cross-model-same ] ||
			fail "$n" "the software-CPU snapshot: status $rc $(cat "$X/snap1.out"), last count '$last'; $(tail -c 300 "$X/err1")"
	done
	exit 0
fi
"$VMON" restore --backend kvm --id cx2 --disk-path "d0=$X/disk.img" "$X/s1" \
	<"$X/in2" >"$X/out2" 2>"$X/out2.err" &
p2=$!
PIDS+=("$p2")
exec 4>"$X/in2"
if ! went_on cross-snapshot-emu-to-kvm "$X/out2" "$p2" "$last" 1 4; then
	for n in cross-migrate-kvm-to-emu cross-migrate-emu-to-kvm cross-clock-disk; do
		skip "$n" "the guest did not run on KVM"
	done
	exit 0
fi

# hop NAME FROM-ID FROM-PID FROM-OUT TO-BACKEND TO-ID TO-IN TO-OUT FD N:
# live-migrates FROM to a new target; sets $hop_pid.
hop() {
	local name=$1 fid=$2 fpid=$3 fout=$4 be=$5 tid=$6 tin=$7 tout=$8 fd=$9 n=${10}
	"$VMON" run --incoming "unix:$X/$tid.sock" --backend "$be" --id "$tid" \
		<"$tin" >"$tout" 2>"$tout.err" &
	hop_pid=$!
	PIDS+=("$hop_pid")
	eval "exec $fd>\"\$tin\""
	wait_sock "$X/$tid.sock"
	"$VMON" migrate "$fid" --to "unix:$X/$tid.sock" >"$X/$name.mig" 2>&1
	local mrc=$?
	gone_status=
	[ $mrc -ne 0 ] || wait_gone "$fpid"
	echo "# $name: $(grep -h migrated "$X/$name.mig" | tr '\n' ' ')" >&2
	if [ $mrc -ne 0 ] || [ "${gone_status:-running}" != 0 ]; then
		fail "$name" "vmon migrate: $mrc ($(tail -c 300 "$X/$name.mig")); source: ${gone_status:-running}; target: $(tail -c 300 "$tout.err")"
		return 1
	fi
	went_on "$name" "$tout" "$hop_pid" "$(counts "$fout" | tail -n1)" "$n" "$fd"
}

if ! hop cross-migrate-kvm-to-emu cx2 "$p2" "$X/out2" emu cx3 "$X/in3" "$X/out3" 5 2; then
	skip cross-migrate-emu-to-kvm "the guest did not move to the software CPU"
	skip cross-clock-disk "the guest did not move to the software CPU"
	exit 0
fi
p3=$hop_pid
if ! hop cross-migrate-emu-to-kvm cx3 "$p3" "$X/out3" kvm cx4 "$X/in4" "$X/out4" 6 3; then
	skip cross-clock-disk "the guest did not move back to KVM"
	exit 0
fi
p4=$hop_pid
wait_count "$X/out4" "$(($(counts "$X/out4" | tail -n1) + 2))" "$p4"
"$VMON" stop cx4 >/dev/null 2>&1
wait_gone "$p4"
n=$(counts "$X/out4" | tail -n1)
# The uptimes the guest printed, in order over the four machines.
back=$(for o in "$X/out1" "$X/out2" "$X/out3" "$X/out4"; do ups "$o"; done |
	awk 'NR > 1 && $1 + 0 < prev + 0 { print "uptime " prev " then " $1; exit } { prev = $1 }')
if ! why=$(disk_has "$X/disk.img" "$n"); then
	fail cross-clock-disk "the disk after $n counts: $why"
elif [ -n "$back" ]; then
	fail cross-clock-disk "the guest's clock went back: $back"
else
	pass cross-clock-disk
fi
exit 0
