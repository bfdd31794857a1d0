#!/usr/bin/env bash
# The two CPU backends run the same machine: every kit guest, with 1 and
# with several vCPUs, gives byte-identical serial output and the same exit
# status on --backend kvm and --backend emu.
source "$(dirname "$0")/../lib.sh"

if ! have_kvm; then
	skip kit-matrix "/dev/kvm is not usable here: nothing to compare emu against"
	exit 0
fi

# name | guest | vmon arguments
cases=(
	"hello|hello|"
	"compute|compute|--cmdline iters=30000"
	"exitstorm|exitstorm|--cmdline n=500"
	"exceptions|exceptions|"
	"timer|timer|"
	"memtest|memtest|--mem 48M"
	"reboot|reboot|"
	"triplefault|triplefault|"
	"serial_echo|serial_echo|"
	"smp|smp|--cmdline cpus=CPUS"
)
printf 'matrix input\004' >"$TMP/in"
for c in "${cases[@]}"; do
	IFS='|' read -r name guest args <<<"$c"
	for cpus in 1 3; do
		a=${args//CPUS/$cpus}
		for b in kvm emu; do
			timeout -k 5 "$TEST_TIMEOUT" "$VMON" run --backend "$b" --cpus "$cpus" \
				--kernel "$GUESTS/$guest.elf" $a <"$TMP/in" >"$TMP/$b.out" 2>"$TMP/$b.err"
			echo "exit status $?" >>"$TMP/$b.out"
		done
		if cmp -s "$TMP/kvm.out" "$TMP/emu.out"; then
			pass "matrix-$name-cpus$cpus"
		else
			fail "matrix-$name-cpus$cpus" "kvm and emu differ: $(diff "$TMP/kvm.out" "$TMP/emu.out" | head -6 | tr '\n' ' ')"
		fi
	done
done
