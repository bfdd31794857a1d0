#!/usr/bin/env bash
# vmon in vmon: the nested harness's L1 machine (Debian's cloud kernel with
# kvm_amd, its initramfs and root image holding vmon and the kit guests:
# scripts/make-nested.sh, build/nested/) booted by vmon's software CPU
# presenting an AMD CPU with SVM (--cpu-features +svm,+amd) instead of by
# QEMU. In L1, kvm_amd loads on that CPU and L1's vmon runs kit guests with
# --backend kvm (tests/nested/viv-l1.sh prints their results; the L1 init is
# tests/nested/viv-init, appended to L1's initramfs). Needs no /dev/kvm on
# the host: the software CPU is the hardware here. Then the default Linux
# guest boots to its shell on L1's KVM (VIV_LINUX=0 leaves it out). 35-60 s
# on a 2-core host (about 20 s less without the Linux guest); 2-3 min when
# the host is loaded (load average 16).
#
# L1 learns its TSC frequency as on an AMD machine (leaves 0x15/0x16 are
# Intel's): from the PIT, else the ACPI PM timer, refined against the PM
# timer (src/cpu/emu/README.md, "AMD vendor"; tests/integration/
# linux_amd_tsc.sh checks the figures). vmon-in-vmon-l1-tsc: L1's kernel
# calibrated it (no "TSC unstable"; before the PM timer, it got
# tsc_early_khz= here, as the PIT alone fails on a loaded host).
# (L1 ran unchained here at first: its kernel corrupted a stack with the
# translator's blocks chained. That was a RET compiled into a plain run,
# fixed in the translator (src/cpu/emu/README.md); L1 runs chained now.)
source "$(dirname "$0")/../lib.sh"

N=${NESTED_DIR:-$BUILD/nested}
NAMES=(l1-cpu-amd-svm l1-kvm-amd kvm-hello kvm-compute kvm-exceptions kvm-exitstorm kvm-timer
	kvm-linux-shell)
skip_all() {
	for n in "${NAMES[@]}" l1-tsc; do skip "vmon-in-vmon-$n" "$1"; done
	exit 0
}
for f in bzImage l1-initrd.cpio.gz l1-root.img; do
	[ -f "$N/$f" ] || skip_all "no $N/$f: the nested L1 is not built (make test-kvm or make test-vmon-in-vmon builds it; or scripts/make-nested.sh)"
done
if ! "$VMON" run --backend emu --kernel /nonexistent 2>&1 | grep -q nonexistent; then
	skip_all "this vmon has no emu backend"
fi

# L1's initramfs: the harness's, with viv-init as /init and viv-l1.sh.
mkdir -p "$TMP/ov"
cp "$(dirname "$0")/../nested/viv-init" "$TMP/ov/init"
cp "$(dirname "$0")/../nested/viv-l1.sh" "$TMP/ov/viv-l1.sh"
chmod 755 "$TMP/ov/init" "$TMP/ov/viv-l1.sh"
if ! python3 "$(dirname "$0")/../../scripts/nested_image.py" cpio "$TMP/ov" "$TMP/ov.cpio.gz" \
	>"$TMP/cpio.err" 2>&1; then
	skip_all "cannot write L1's initramfs addition: $(head -c 200 "$TMP/cpio.err")"
fi
cat "$N/l1-initrd.cpio.gz" "$TMP/ov.cpio.gz" >"$TMP/initrd"

linux=
[ "${VIV_LINUX:-1}" = 1 ] && linux=" viv.linux=1"

start=$SECONDS
timeout -k 5 "${VIV_TIMEOUT:-900}" "$VMON" run --backend emu \
	--cpu-features +svm,+amd --mem 1G --no-reboot --no-api \
	--kernel "$N/bzImage" --initrd "$TMP/initrd" --disk "$N/l1-root.img,ro" \
	--cmdline "console=ttyS0 quiet panic=-1 mitigations=off viv.limit=${VIV_LIMIT:-120}$linux" \
	</dev/null >"$TMP/l1.raw" 2>"$TMP/l1.err"
rc=$?
tr -d '\r' <"$TMP/l1.raw" >"$TMP/l1.out"
echo "# vmon-in-vmon: L1 ran $((SECONDS - start)) s (exit status $rc)" >&2
sed -n 's/^VIV-TIME /# vmon-in-vmon: /p' "$TMP/l1.out" >&2

sed -n 's/^VIV-TSC: /# vmon-in-vmon: L1 /p' "$TMP/l1.out" >&2
if ! grep -q '^VIV-TSC: .*tsc: Detected' "$TMP/l1.out"; then
	fail vmon-in-vmon-l1-tsc "no 'tsc: Detected' line from L1: $(grep -v '^VIV-DMESG' "$TMP/l1.out" | tail -c 400 | tr '\n' ' ')"
elif grep -qE '^VIV-TSC: .*(TSC unstable|No reference|PMTIMER calibration failed)' "$TMP/l1.out"; then
	fail vmon-in-vmon-l1-tsc "$(grep '^VIV-TSC' "$TMP/l1.out" | tr '\n' ' ')"
else
	pass vmon-in-vmon-l1-tsc
fi

why() { echo "L1 status $rc; console: $(grep -v '^VIV-DMESG' "$TMP/l1.out" | tail -c 600 | tr '\n' ' ') $(head -c 200 "$TMP/l1.err")"; }
for n in "${NAMES[@]}"; do
	line=$(grep -m1 -E "^VIV-RESULT (PASS|FAIL|SKIP) $n(:|$)" "$TMP/l1.out")
	if [ -z "$line" ]; then
		fail "vmon-in-vmon-$n" "no result from L1; $(why)"
		continue
	fi
	rest=${line#VIV-RESULT }
	verdict=${rest%% *}
	detail=${rest#* }
	detail=${detail#"$n"}
	detail=${detail#: }
	case $verdict in
	PASS) pass "vmon-in-vmon-$n" ;;
	SKIP) skip "vmon-in-vmon-$n" "$detail" ;;
	*)
		fail "vmon-in-vmon-$n" "$detail"
		grep '^VIV-DMESG' "$TMP/l1.out" | head -n 20 | sed 's/^/# /' >&2
		;;
	esac
done
