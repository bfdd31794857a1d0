#!/usr/bin/env bash
# SMAP and protection keys (issue 17 part 2) in the software CPU, with the
# kit guests guests/smap.c and guests/pku.c: every check (allowed and
# faulting accesses, the exact #PF error code, RIP and CR2) passes on the
# software CPU, with native runs off and with every block compiled; the
# same guests print the same lines on QEMU's TCG (-cpu max), the oracle,
# but for the one case QEMU gets wrong (it lets EFLAGS.AC allow an
# implicit supervisor access; smap's implicit_ac=0 leaves it out on both);
# and with --cpu-features -pku the guest sees no PKU and cannot set
# CR4.PKE. The ring3 kit guest checks both from user mode (STAC's #UD,
# user accesses under SMAP, PK faults, RDPKRU/WRPKRU at CPL 3) with its
# UMIP, I/O bitmap and SYSENTER checks: its lines too must equal QEMU's
# (-cpu max,vendor=GenuineIntel: the software CPU is GenuineIntel).
# Emu only: on KVM the hardware does all of this.
source "$(dirname "$0")/../lib.sh"

run_guest() { # run_guest NAME GUEST CMDLINE [ENV=VALUE...] -- VMON ARGS...
	local name=$1 guest=$2 cmdline=$3
	shift 3
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" timeout -k 5 "$TEST_TIMEOUT" "$VMON" run --backend emu \
		--kernel "$GUESTS/$guest.elf" --cmdline "$cmdline" "$@" \
		</dev/null >"$TMP/$name.raw" 2>"$TMP/$name.err"
	status=$?
	tr -d '\r' <"$TMP/$name.raw" >"$TMP/$name.out"
	expect_success "$name" "$TMP/$name.out" "$TMP/$name.err"
}

for g in smap pku; do
	run_guest emu-$g $g implicit_ac=1 --
	run_guest emu-$g-interpreted $g implicit_ac=1 VMON_EMU_NATIVE=0 --
	run_guest emu-$g-native-eager $g implicit_ac=1 VMON_EMU_NATIVE=eager --
done
# Every check the guests make was made (none skipped for lack of the
# feature), and the implicit access with AC set faulted.
if grep -q '^smap: SMAP offered' "$TMP/emu-smap.out" &&
	grep -q 'descriptor read from an LDT on a user page, AC set' "$TMP/emu-smap.out"; then
	pass emu-smap-offered
else
	fail emu-smap-offered "$(head -c 300 "$TMP/emu-smap.out" | tr '\n' ' ')"
fi
if grep -q '^pku: PKU offered' "$TMP/emu-pku.out" && grep -q 'XSAVE writes PKRU' "$TMP/emu-pku.out"; then
	pass emu-pku-offered
else
	fail emu-pku-offered "$(head -c 300 "$TMP/emu-pku.out" | tr '\n' ' ')"
fi
# A CPU model without PKU: no CPUID bit, CR4.PKE is #GP, RDPKRU #UD.
run_guest emu-pku-off pku "" -- --cpu-features=-pku
if grep -q '^pku: PKU not offered' "$TMP/emu-pku-off.out"; then
	pass emu-pku-off-cpuid
else
	fail emu-pku-off-cpuid "$(head -c 200 "$TMP/emu-pku-off.out" | tr '\n' ' ')"
fi

# QEMU TCG as the oracle: the same lines, line for line.
if ! command -v qemu-system-x86_64 >/dev/null; then
	skip qemu-smap-same "qemu-system-x86_64 is not installed (the reference oracle)"
	skip qemu-pku-same "qemu-system-x86_64 is not installed (the reference oracle)"
	skip qemu-ring3-same "qemu-system-x86_64 is not installed (the reference oracle)"
	exit 0
fi
for g in smap pku; do
	run_guest emu-$g-qemu-cmdline $g implicit_ac=0 --
	timeout -k 5 "$TEST_TIMEOUT" qemu-system-x86_64 -M microvm -accel tcg -cpu max -m 256 \
		-nographic -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$GUESTS/$g.elf" -append implicit_ac=0 </dev/null 2>&1 |
		tr -d '\r' | sed -n "/^$g: /,\$p" >"$TMP/qemu-$g.out"
	if ! grep -qx SUCCESS "$TMP/qemu-$g.out"; then
		fail qemu-$g-same "QEMU's run did not pass: $(grep -v '^ok' "$TMP/qemu-$g.out" | head -c 300 | tr '\n' ' ')"
	elif ! cmp -s "$TMP/qemu-$g.out" "$TMP/emu-$g-qemu-cmdline.out"; then
		fail qemu-$g-same "$(diff "$TMP/qemu-$g.out" "$TMP/emu-$g-qemu-cmdline.out" | head -6 | tr '\n' ' ')"
	else
		pass qemu-$g-same
	fi
done
run_guest emu-ring3 ring3 "" -- --mem 64M
timeout -k 5 "$TEST_TIMEOUT" qemu-system-x86_64 -M microvm -accel tcg -cpu max,vendor=GenuineIntel \
	-m 256 -nographic -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-kernel "$GUESTS/ring3.elf" </dev/null 2>&1 | tr -d '\r' | sed -n '/^ring3: /,$p' >"$TMP/qemu-ring3.out"
if ! grep -q 'ring3: SMAP offered, PKU offered' "$TMP/emu-ring3.out"; then
	fail qemu-ring3-same "the software CPU's ring3 run lacks its SMAP/PKU checks"
elif ! cmp -s "$TMP/qemu-ring3.out" "$TMP/emu-ring3.out"; then
	fail qemu-ring3-same "$(diff "$TMP/qemu-ring3.out" "$TMP/emu-ring3.out" | head -6 | tr '\n' ' ')"
else
	pass qemu-ring3-same
fi
