#!/usr/bin/env bash
# The AMD CPU model's TSC frequency, as Linux learns it without help (no
# tsc_early_khz=). On AMD, Linux reads no frequency from CPUID (leaves
# 0x15/0x16 are Intel's): it races the PIT early (quick_pit_calibrate), and,
# if that fails (a loaded host preempts the vCPU), measures against the ACPI
# PM timer (the PIT loops are off in a hardware-reduced ACPI machine); a
# second later it refines the figure against the PM timer over a second.
# Without the PM timer the second step had no reference and the guest
# hung ("No reference (HPET/PMTIMER) available").
# The default Debian guest boots twice at once: with the default (Intel)
# model, whose CPUID 0x15 gives vmon's TSC rate ("tsc: Detected ... MHz
# TSC"), and with --cpu-features +amd, whose calibrated figures must be in a
# sane range of it:
#   linux-amd-tsc-shell       the AMD guest boots to its shell
#   linux-amd-tsc-pmtimer     its kernel found the PM timer (FADT)
#   linux-amd-tsc-calibrated  "tsc: Detected" within 3% of vmon's rate
#                             (the PM-timer fallback's window is ~200 us;
#                             3-10% off under load until the software
#                             CPU's RDTSC after a port read took that
#                             read's TSC: now within 0.7%, see
#                             src/cpu/emu/README.md "AMD vendor"), no TSC
#                             marked unstable
#   linux-amd-tsc-refined     "Refined TSC clocksource calibration" within
#                             0.5% of vmon's rate (Linux refines only a
#                             first figure within 1% of the PM timer's: a
#                             first figure further off is left as it is,
#                             and then this is skipped, saying so)
source "$(dirname "$0")/../lib.sh"

G=${GUEST_DIR:-$BUILD/guest}
NAMES=(linux-amd-tsc-shell linux-amd-tsc-pmtimer linux-amd-tsc-calibrated linux-amd-tsc-refined)
need_guest_files bzImage initramfs.cpio.gz
if ! "$VMON" run --backend emu --kernel /nonexistent 2>&1 | grep -q nonexistent; then
	skip_all "this vmon has no emu backend"
fi

LIMIT=${LINUX_EMU_LIMIT:-240}
# The refinement runs a second after the TSC clocksource's first
# registration and ends registering the final one ("clocksource: tsc:"):
# wait for that (at most 60 s) before reading dmesg.
printf '%s\n' 'echo "MARK=$((6 * 7))"' \
	'i=0; while [ $i -lt 60 ] && ! dmesg | grep -q "clocksource: tsc:"; do sleep 1; i=$((i + 1)); done' \
	"dmesg | grep -E 'tsc:|PM-Timer|clocksource'" 'poweroff -f' >"$TMP/in"
boot() {
	local name=$1
	shift
	timeout -k 5 "$LIMIT" "$VMON" run --backend emu --kernel "$G/bzImage" \
		--initrd "$G/initramfs.cpio.gz" --cmdline "console=ttyS0 quiet" "$@" \
		<"$TMP/in" >"$TMP/$name.raw" 2>"$TMP/$name.err"
	echo $? >"$TMP/$name.rc"
	tr -d '\r' <"$TMP/$name.raw" >"$TMP/$name.out"
}
boot intel &
boot amd --cpu-features +amd &
wait

why() { echo "status $(cat "$TMP/$1.rc"); output: $(tail -c 600 "$TMP/$1.out" | tr '\n' ' ') $(head -c 200 "$TMP/$1.err")"; }
# mhz NAME REGEX: the kHz figure of the first dmesg line matching REGEX
# ("... 2095.996 MHz ..." -> 2095996), empty if none.
khz() { grep -m1 -E "$2" "$TMP/$1.out" | sed -n 's/.* \([0-9]*\)\.\([0-9]\{3\}\) MHz.*/\1\2/p'; }
# within A B PERMILLE: |A - B| <= B * PERMILLE / 1000
within() { [ -n "$1" ] && [ $(($1 > $2 ? $1 - $2 : $2 - $1)) -le $(($2 * $3 / 1000)) ]; }

if grep -qx 'MARK=42' "$TMP/amd.out"; then
	pass linux-amd-tsc-shell
else
	fail linux-amd-tsc-shell "$(why amd)"
fi
if grep -q 'PM-Timer IO Port: 0x608' "$TMP/amd.out"; then
	pass linux-amd-tsc-pmtimer
else
	fail linux-amd-tsc-pmtimer "no 'PM-Timer IO Port' in dmesg: $(why amd)"
fi

ref=$(khz intel 'tsc: Detected .* MHz TSC')
[ -n "$ref" ] || ref=$(khz intel 'tsc: Detected .* MHz processor')
det=$(khz amd 'tsc: Detected .* MHz processor')
ref_line=$(grep -m1 -E 'tsc: (Refined|Detected)' "$TMP/amd.out" | tr -s ' ')
echo "# linux-amd-tsc: vmon's rate ${ref:-?} kHz; AMD guest: $(grep -E 'tsc: (Fast|Unable|using|Detected|Refined)' "$TMP/amd.out" | sed 's/^\[[^]]*\] //' | tr '\n' ';')" >&2
if [ -z "$ref" ]; then
	for n in linux-amd-tsc-calibrated linux-amd-tsc-refined; do
		fail "$n" "no TSC rate from the Intel-model guest: $(why intel)"
	done
	exit 0
fi
if grep -qE 'Marking TSC unstable|No reference|PMTIMER calibration failed' "$TMP/amd.out"; then
	fail linux-amd-tsc-calibrated "$(grep -E 'tsc:' "$TMP/amd.out" | tr '\n' ' ')"
elif within "$det" "$ref" 30; then
	pass linux-amd-tsc-calibrated
else
	fail linux-amd-tsc-calibrated "detected ${det:-nothing} kHz, vmon's rate $ref kHz ($ref_line)"
fi
refined=$(khz amd 'Refined TSC clocksource calibration')
if [ -z "$refined" ]; then
	if within "$det" "$ref" 9; then
		fail linux-amd-tsc-refined "no refined figure although the first ($det kHz) was within 1%"
	else
		skip linux-amd-tsc-refined "the first figure ($det kHz) is more than 1% off vmon's rate $ref kHz: Linux leaves it unrefined (the PM-timer fallback under load)"
	fi
elif within "$refined" "$ref" 5; then
	pass linux-amd-tsc-refined
else
	fail linux-amd-tsc-refined "refined $refined kHz, vmon's rate $ref kHz"
fi
