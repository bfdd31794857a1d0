#!/usr/bin/env bash
# Debian's kernel and busybox initramfs (make guest) booted to the shell on
# the software CPU, driven through the console by commands piped into
# vmon's stdin. One boot checks the shell, `uname -r`, a CPU-heavy
# pipeline's checksum, `sleep 1` against the guest's clock, virtio-blk and
# virtio-rng (MSI-X), a clean dmesg and the power-off status; then four
# guests boot at once (one with --cpus 2, for nproc), each running a
# command. About a minute and a half on a 2-core host.
# LINUX_BACKEND=kvm runs the same checks on the KVM backend
# (tests/integration/linux_kvm.sh does, where the host can).
source "$(dirname "$0")/../lib.sh"

LB=${LINUX_BACKEND:-emu}
G=${GUEST_DIR:-$BUILD/guest}
NAMES=(linux-$LB-shell linux-$LB-uname linux-$LB-checksum linux-$LB-sleep
	linux-$LB-virtio linux-$LB-dmesg linux-$LB-poweroff linux-$LB-nproc
	linux-$LB-concurrent linux-$LB-reboot linux-$LB-ctrl-alt-del linux-$LB-nested)
need_guest_files bzImage initramfs.cpio.gz kernel-release
if ! "$VMON" run --backend "$LB" --kernel /nonexistent 2>&1 | grep -q nonexistent; then
	skip_all "this vmon has no $LB backend"
fi

LIMIT=${LINUX_EMU_LIMIT:-240}
RELEASE=$(cat "$G/kernel-release")
SUM=$(seq 1 20000 | md5sum | cut -d' ' -f1)

# linux_run NAME INPUT [VMON ARGS...]: boots the default guest (quiet) on
# emu with INPUT on stdin; output in $TMP/NAME.out (CRs removed), stderr in
# $TMP/NAME.err, exit status in $TMP/NAME.rc.
linux_run() {
	local name=$1 input=$2
	shift 2
	printf '%s\n' "$input" >"$TMP/$name.in"
	timeout -k 5 "$LIMIT" "$VMON" run --backend "$LB" --kernel "$G/bzImage" \
		--initrd "$G/initramfs.cpio.gz" --cmdline "console=ttyS0 quiet" "$@" \
		<"$TMP/$name.in" >"$TMP/$name.raw" 2>"$TMP/$name.err"
	echo $? >"$TMP/$name.rc"
	tr -d '\r' <"$TMP/$name.raw" >"$TMP/$name.out"
}

# value NAME KEY: what the guest printed on a line "KEY=value" (its own
# output; the echoed command line starts with the command, not KEY=).
value() { sed -n "s/^$2=//p" "$TMP/$1.out" | head -n1; }

why() { echo "status $(cat "$TMP/$1.rc"); output: $(tail -c 400 "$TMP/$1.out" | tr '\n' ' ') $(head -c 200 "$TMP/$1.err")"; }

# --- one guest, many checks ---------------------------------------------------
truncate -s 4M "$TMP/disk.img"
printf 'VMON-DISK-MARK' | dd of="$TMP/disk.img" conv=notrunc status=none
linux_run main "$(
	cat <<'EOF'
echo "RELEASE=$(uname -r)"
echo "SUM=$(seq 1 20000 | md5sum | cut -d' ' -f1)"
read a _ </proc/uptime; sleep 1; read b _ </proc/uptime; echo "SLEPT=$a $b"
echo "DISK=$(head -c 14 /dev/vda)"
echo "RNG=$(head -c 64 /dev/hwrng | wc -c)"
echo "PROT=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'smep|smap|pku|ospke' | sort | tr '\n' ,)"
echo "BAD=$(dmesg | grep -cE 'BUG|WARNING|Call Trace')"
dmesg | grep -E 'BUG|WARNING|Call Trace' | head -n 3 | sed 's/^/DMESG: /'
poweroff -f
EOF
)" --disk "$TMP/disk.img"

if grep -q '^vmon guest: Linux ' "$TMP/main.out" && grep -q '^vmon# ' "$TMP/main.out"; then
	pass linux-$LB-shell
else
	fail linux-$LB-shell "no banner and prompt; $(why main)"
fi
v=$(value main RELEASE)
if [ "$v" = "$RELEASE" ]; then
	pass linux-$LB-uname
else
	fail linux-$LB-uname "uname -r said '$v', want '$RELEASE'; $(why main)"
fi
v=$(value main SUM)
if [ "$v" = "$SUM" ]; then
	pass linux-$LB-checksum
else
	fail linux-$LB-checksum "seq 1 20000 | md5sum said '$v', want '$SUM'; $(why main)"
fi
v=$(value main SLEPT)
if [ -n "$v" ] && awk -v s="$v" 'BEGIN { split(s, t, " "); d = t[2] - t[1]; exit !(d >= 0.5 && d <= 5) }'; then
	pass linux-$LB-sleep
else
	fail linux-$LB-sleep "uptime before/after sleep 1: '$v' (want 0.5-5 s apart); $(why main)"
fi
if [ "$(value main DISK)" = VMON-DISK-MARK ] && [ "$(value main RNG)" = 64 ]; then
	pass linux-$LB-virtio
else
	fail linux-$LB-virtio "virtio-blk read '$(value main DISK)', virtio-rng gave '$(value main RNG)' bytes; $(why main)"
fi
v=$(value main BAD)
if [ "$v" = 0 ]; then
	pass linux-$LB-dmesg
else
	fail linux-$LB-dmesg "dmesg has '$v' BUG/WARNING/Call Trace lines: $(grep '^DMESG: ' "$TMP/main.out" | tr '\n' ' ')"
fi
# The software CPU offers SMEP, SMAP and protection keys, and Linux runs
# with them on (CR4.PKE shows as ospke).
if [ "$LB" = emu ]; then
	v=$(value main PROT)
	if [ "$v" = "ospke,pku,smap,smep," ]; then
		pass linux-emu-smap-pku
	else
		fail linux-emu-smap-pku "cpuinfo flags '$v', want ospke,pku,smap,smep; $(why main)"
	fi
fi
if [ "$(cat "$TMP/main.rc")" = 0 ] && grep -q 'reboot: Power down' "$TMP/main.out"; then
	pass linux-$LB-poweroff
else
	fail linux-$LB-poweroff "want status 0 after 'reboot: Power down'; $(why main)"
fi

# --- four at once, one of them with two vCPUs ---------------------------------
pids=()
# Guest 1 ends with busybox's plain poweroff (it signals /init, PID 1),
# guest 2 with reboot under --no-reboot (Linux's default reboot path ends
# at the reset vector: boot/reset_vector.h), the others with poweroff -f.
for i in 0 1 2 3; do
	extra=()
	end="poweroff -f"
	[ $i = 0 ] && extra=(--cpus 2)
	[ $i = 1 ] && end=poweroff
	[ $i = 2 ] && end=reboot && extra=(--no-reboot)
	# On KVM guest 3 gets the host's SVM/VMX (--nested), the others not
	# (LINUX_KVM_NESTED=1: see the check below).
	[ $i = 3 ] && [ "$LB" = kvm ] && [ "${LINUX_KVM_NESTED:-0}" = 1 ] && extra=(--nested)
	linux_run "c$i" "$(printf 'echo "GUEST=%s $(nproc) $(seq 1 %s | md5sum | cut -c1-12)"\necho "VIRT=$(grep -cwE "svm|vmx" /proc/cpuinfo)"\n%s\n' $i $((1000 * (i + 1))) "$end")" "${extra[@]}" &
	pids+=($!)
done
# And one more beside them: the API's SendCtrlAltDel reaches the guest's
# keyboard (the i8042 in the DSDT, Linux's atkbd), whose Ctrl-Alt-Del
# restarts the machine (--no-reboot: vmon ends, status 0).
cad_why=""
if command -v curl >/dev/null; then
	linux_run cad "$(printf 'echo CAD-READY\nsleep 200\n')" --no-reboot --api-sock "$TMP/cad.sock" &
	cad_pid=$!
	for _ in $(seq 1 "$LIMIT"); do grep -q '^CAD-READY' "$TMP/cad.raw" 2>/dev/null && break; sleep 1; done
	code=$(curl -s -o "$TMP/cad.body" -w '%{http_code}' --unix-socket "$TMP/cad.sock" \
		-X PUT http://localhost/actions -d '{"action_type": "SendCtrlAltDel"}')
	[ "$code" = 204 ] || cad_why="SendCtrlAltDel answered $code: $(cat "$TMP/cad.body" 2>/dev/null)"
	wait "$cad_pid"
else
	cad_why="no curl(1) to call the API"
fi
wait "${pids[@]}"
# --nested: on KVM the guest's CPU flags show svm or vmx with it and not
# without; the software CPU refuses it (no SVM of its own yet) in one line.
if [ "$LB" = kvm ] && [ "${LINUX_KVM_NESTED:-0}" != 1 ]; then
	# In make test-kvm's nested L1 (QEMU TCG's SVM), L1's own kernel
	# panicked twice in runs that had this guest (not proven to be its
	# doing: tests/nested/README.md); opt in where KVM is real hardware.
	skip linux-$LB-nested "opt-in (LINUX_KVM_NESTED=1): an L2 with SVM under the nested harness coincided with L1 kernel panics"
elif [ "$LB" = kvm ]; then
	if [ "$(value c3 VIRT)" -ge 1 ] 2>/dev/null && [ "$(value c1 VIRT)" = 0 ]; then
		pass linux-$LB-nested
	else
		fail linux-$LB-nested "svm/vmx in /proc/cpuinfo: '$(value c3 VIRT)' with --nested (want >= 1), '$(value c1 VIRT)' without (want 0); $(why c3)"
	fi
else
	timeout -k 5 60 "$VMON" run --backend "$LB" --nested --kernel "$G/bzImage" </dev/null >"$TMP/nest.out" 2>"$TMP/nest.err"
	rc=$?
	if [ "$rc" = 2 ] && [ "$(wc -l <"$TMP/nest.err")" = 1 ] && grep -q -- '--nested: the software CPU' "$TMP/nest.err" && [ "$(value c1 VIRT)" = 0 ]; then
		pass linux-$LB-nested
	else
		fail linux-$LB-nested "--nested on $LB: status $rc, stderr '$(cat "$TMP/nest.err")'; svm/vmx lines without it: '$(value c1 VIRT)'"
	fi
fi
v=$(value c0 GUEST)
if [ "${v#0 }" != "$v" ] && [ "$(echo "$v" | cut -d' ' -f2)" = 2 ]; then
	pass linux-$LB-nproc
else
	fail linux-$LB-nproc "with --cpus 2 the guest said '$v' (want nproc 2); $(why c0)"
fi
bad=""
for i in 0 1 2 3; do
	want="$i $([ $i = 0 ] && echo 2 || echo 1) $(seq 1 $((1000 * (i + 1))) | md5sum | cut -c1-12)"
	v=$(value "c$i" GUEST)
	if [ "$v" != "$want" ] || [ "$(cat "$TMP/c$i.rc")" != 0 ]; then
		bad="$bad | guest $i: got '$v' want '$want'; $(why "c$i")"
	fi
done
if [ -z "$bad" ]; then
	pass linux-$LB-concurrent
else
	fail linux-$LB-concurrent "${bad# | }"
fi
if grep -q 'reboot: Restarting system' "$TMP/c2.out" && grep -q 'exiting (--no-reboot)' "$TMP/c2.err" &&
	[ "$(cat "$TMP/c2.rc")" = 0 ]; then
	pass linux-$LB-reboot
else
	fail linux-$LB-reboot "reboot with --no-reboot: want 'Restarting system', vmon's --no-reboot line and status 0; $(why c2)"
fi
if [ "$cad_why" = "no curl(1) to call the API" ]; then
	skip linux-$LB-ctrl-alt-del "$cad_why"
elif [ -z "$cad_why" ] && grep -q 'reboot: Restarting system' "$TMP/cad.out" &&
	grep -q 'exiting (--no-reboot)' "$TMP/cad.err" && [ "$(cat "$TMP/cad.rc")" = 0 ]; then
	pass linux-$LB-ctrl-alt-del
else
	fail linux-$LB-ctrl-alt-del "want 'Restarting system', vmon's --no-reboot line and status 0 ${cad_why:+($cad_why)}; $(why cad)"
fi
