#!/usr/bin/env bash
# Every kit guest on each CPU backend (KVM and vmon's software CPU): the
# guest prints SUCCESS and vmon exits 0; plus the ways a guest can end its
# VM (triple fault, reset, debug-exit in QEMU style). BACKENDS overrides
# the list (tests/lib.sh: usable_backends).
source "$(dirname "$0")/../lib.sh"

for backend in $(usable_backends); do
K="run --backend $backend"

kit() { # kit NAME GUEST ARGS...
	local name=$1 guest=$2
	shift 2
	run_vmon "$TMP/$name.out" "$TMP/$name.err" $K --kernel "$GUESTS/$guest.elf" "$@"
	expect_success "$name" "$TMP/$name.out" "$TMP/$name.err"
}

kit $backend-hello hello
kit $backend-compute compute --cmdline iters=20000
if grep -q '^checksum=' "$TMP/$backend-compute.out"; then pass $backend-compute-checksum-line; else fail $backend-compute-checksum-line "no checksum= line"; fi
kit $backend-exitstorm exitstorm --cmdline n=2000
kit $backend-exitstorm-all-ones exitstorm --cmdline "n=100 ones=1"
kit $backend-exceptions exceptions
# The software CPU's page walk (reserved bits, SMEP, a fetch from no RAM)
# and its user-mode checks.
# Not on KVM: there the hardware walks, and the nested harness's
# "hardware" (QEMU 7.2 TCG) reports RSVD faults without the P bit the SDM
# requires; and KVM cannot fetch from non-RAM (its emulator ends the VM).
if [ "$backend" = emu ]; then
	kit emu-paging paging
	kit emu-paging-nonram paging --mem 32M --cmdline nonram=1
	# CPL 3: UMIP, the TSS I/O permission bitmap, SYSENTER/SYSEXIT (the
	# software CPU is GenuineIntel; an AMD host's KVM cannot SYSENTER in
	# long mode).
	kit emu-ring3 ring3 --mem 64M
	# SMAP and protection keys (tests/integration/cpu_smap_pku.sh
	# checks them against QEMU too).
	kit emu-smap smap
	kit emu-pku pku
	# Segment limits outside 64-bit mode (compatibility-mode code: data,
	# stack, expand-down and code limits, null selectors; types and
	# privilege on loads; x87, SSE, XSAVE operands). Not on KVM: the
	# nested harness's "hardware" (QEMU 7.2 TCG) checks no segment limit.
	kit emu-seglimit seglimit
	# AMD SVM (--cpu-features +svm): a tiny hypervisor's L2 exits, its
	# intercepts and interrupt controls (the same guest passes on QEMU
	# TCG -cpu max: guests/qemu-check.sh); without +svm, EFER.SVME and
	# VMRUN are refused.
	kit emu-svm svm --cpu-features +svm
	kit emu-svm-off svm --cmdline nosvm=1
	# While EFER.SVME is set a snapshot is refused in one line (the SVM
	# state is not in the snapshot format).
	"$VMON" run --backend emu --cpu-features +svm --id svmhold --kernel "$GUESTS/svm.elf" \
		--cmdline hold=1 </dev/null >"$TMP/hold.out" 2>"$TMP/hold.err" &
	hp=$!
	for _ in $(seq 1 300); do
		grep -q 'svm: holding' "$TMP/hold.out" 2>/dev/null && break
		kill -0 $hp 2>/dev/null || break
		sleep 0.2
	done
	"$VMON" snapshot --no-resume svmhold "$TMP/hsnap" >"$TMP/hsnap.out" 2>&1
	rc=$?
	"$VMON" stop svmhold >/dev/null 2>&1
	timeout 30 tail --pid=$hp -f /dev/null 2>/dev/null
	kill -KILL $hp 2>/dev/null
	wait $hp 2>/dev/null
	if [ $rc -ne 0 ] && grep -q 'uses SVM' "$TMP/hsnap.out" && [ ! -s "$TMP/hsnap/vmstate" ]; then
		pass emu-svm-snapshot-refused
	else
		fail emu-svm-snapshot-refused "status $rc: $(cat "$TMP/hsnap.out")"
	fi
fi
# PCIDs: a switch keeping a PCID's translations still sees each address
# space's own mappings; CR3 writes, INVPCID and INVLPG drop what they name.
kit $backend-pcid pcid
kit $backend-timer timer
kit $backend-smp-1 smp --cpus 1 --cmdline cpus=1
kit $backend-smp-2 smp --cpus 2 --cmdline cpus=2
kit $backend-smp-4 smp --cpus 4 --cmdline cpus=4
kit $backend-xmodify-2 xmodify --cpus 2 --cmdline cpus=2
kit $backend-xmodify-4 xmodify --cpus 4 --cmdline cpus=4
kit $backend-xmodsync-2 xmodsync --cpus 2 --cmdline cpus=2
kit $backend-xmodsync-4 xmodsync --cpus 4 --cmdline "cpus=4 rounds=20"
kit $backend-memtest memtest --mem 32M
# 3.2 GB touched page by page: minutes on the software CPU of a busy
# 2-core host (the run's hang guard, not a speed check).
TEST_TIMEOUT=600 kit $backend-memtest-high memtest --mem 3200M
kit $backend-reboot reboot
if grep -q 'first boot' "$TMP/$backend-reboot.out" && grep -q 'second boot' "$TMP/$backend-reboot.out"; then
	pass $backend-reboot-twice
else
	fail $backend-reboot-twice "expected a first and a second boot"
fi

# The same compute checksum for the same iteration count, every run.
run_vmon "$TMP/c2.out" "$TMP/c2.err" $K --kernel "$GUESTS/compute.elf" --cmdline iters=20000
if [ "$(grep '^checksum=' "$TMP/c2.out")" = "$(grep '^checksum=' "$TMP/$backend-compute.out")" ]; then
	pass $backend-compute-deterministic
else
	fail $backend-compute-deterministic "checksums differ between runs"
fi

# A reset with --no-reboot ends vmon with status 0 and says so.
run_vmon "$TMP/nr.out" "$TMP/nr.err" $K --no-reboot --kernel "$GUESTS/reboot.elf"
if [ "$status" -eq 0 ] && grep -q 'first boot' "$TMP/nr.out" && ! grep -q 'second boot' "$TMP/nr.out" &&
	grep -q 'reset' "$TMP/nr.err"; then
	pass $backend-no-reboot
else
	fail $backend-no-reboot "status $status; $(tr '\n' ' ' <"$TMP/nr.err")"
fi

# Triple fault: a clear message and a non-zero status.
run_vmon "$TMP/tf.out" "$TMP/tf.err" $K --kernel "$GUESTS/triplefault.elf"
if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && grep -q 'triple fault' "$TMP/tf.err"; then
	pass $backend-triple-fault
else
	fail $backend-triple-fault "status $status; stderr: $(tr '\n' ' ' <"$TMP/tf.err")"
fi

# --debug-exit qemu: status (0 << 1) | 1 = 1 for a successful guest.
run_vmon "$TMP/q.out" "$TMP/q.err" $K --debug-exit qemu --kernel "$GUESTS/hello.elf"
if [ "$status" -eq 1 ] && grep -qx SUCCESS <(tr -d '\r' <"$TMP/q.out"); then
	pass $backend-debug-exit-qemu
else
	fail $backend-debug-exit-qemu "status $status (want 1)"
fi
done
