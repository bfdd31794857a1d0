#!/bin/sh
# Boots every kit guest on QEMU microvm (TCG) and checks the end protocol:
# last line SUCCESS and exit status 1 ((0 << 1) | 1 from isa-debug-exit).
# Usage: guests/qemu-check.sh [BUILD_DIR]   (default: build)
set -u
B=${1:-build}/guests
Q="qemu-system-x86_64 -M microvm -accel tcg -nographic -device isa-debug-exit,iobase=0xf4,iosize=0x04"
pass=0
fail=0

# run NAME EXPECTED_STATUS EXPECTED_TEXT STDIN QEMU_ARGS...
run() {
	name=$1 want=$2 text=$3 input=$4
	shift 4
	out=$(timeout 60 $Q "$@" <"$input" 2>&1)
	st=$?
	if [ "$st" = "$want" ] && printf '%s\n' "$out" | grep -q "$text"; then
		pass=$((pass + 1))
		echo "ok   $name ($*) -> $st"
	else
		fail=$((fail + 1))
		echo "FAIL $name ($*) -> status $st, wanted $want and '$text'"
		printf '%s\n' "$out" | sed 's/^/     | /'
	fi
}

tmp=$(mktemp)
printf 'The quick brown fox\n' >"$tmp"
printf '\004' >>"$tmp"

run hello 1 '^SUCCESS' /dev/null -m 256 -no-reboot -kernel $B/hello.elf
run compute 1 '^SUCCESS' /dev/null -m 256 -no-reboot -kernel $B/compute.elf
run compute 1 'checksum=9d0b8b8dc526f652' /dev/null -m 256 -no-reboot -kernel $B/compute.elf -append iters=1000
run exitstorm 1 '^SUCCESS' /dev/null -m 256 -no-reboot -kernel $B/exitstorm.elf
run exceptions 1 '^SUCCESS' /dev/null -m 256 -no-reboot -kernel $B/exceptions.elf
run timer 1 '^SUCCESS' /dev/null -m 256 -no-reboot -kernel $B/timer.elf
for n in 1 2 4; do
	run smp 1 "^cpus=$n counter=$((n * 10000))" /dev/null -m 256 -no-reboot -smp $n \
		-kernel $B/smp.elf -append "cpus=$n"
done
# Cross-modifying code synchronized by an IPI (as text_poke_bp).
run xmodsync 1 '^SUCCESS' /dev/null -m 256 -no-reboot -smp 2 -kernel $B/xmodsync.elf \
	-append "cpus=2"
# QEMU's TCG implements SVM (-cpu max): the reference for svm's exit codes.
run svm 1 '^SUCCESS' /dev/null -m 256 -no-reboot -cpu max -kernel $B/svm.elf
# QEMU 7.2's TCG offers neither x2APIC nor TSC-deadline: these two check
# that the guest sees them absent.
run x2apic 1 '^SUCCESS' /dev/null -m 256 -no-reboot -kernel $B/x2apic.elf
run tscdeadline 1 '^SUCCESS' /dev/null -m 256 -no-reboot -kernel $B/tscdeadline.elf
run nmi 1 '^events: N.N|FN.N|FN.N|FN.NF' /dev/null -m 256 -no-reboot -kernel $B/nmi.elf
# Its TCG makes INT1 (0xf1) #UD instead of #DB and ignores DR7.GD:
# int1=0 gd=0 leave them out.
run debug 1 '^SUCCESS' /dev/null -m 256 -no-reboot -kernel $B/debug.elf -append 'int1=0 gd=0'
# SMAP and PKU need -cpu max; QEMU lets EFLAGS.AC allow an implicit
# supervisor access (the SDM does not): implicit_ac=0 leaves that out.
run smap 1 '^SUCCESS' /dev/null -m 256 -no-reboot -cpu max -kernel $B/smap.elf -append implicit_ac=0
run pku 1 '^SUCCESS' /dev/null -m 256 -no-reboot -cpu max -kernel $B/pku.elf
# QEMU 7.2's TCG checks no segment limit (nor a null selector) in
# compatibility mode: faults=0 runs only seglimit's accesses that must work.
run seglimit 1 '^SUCCESS' /dev/null -m 256 -no-reboot -kernel $B/seglimit.elf -append faults=0
run memtest 1 '^SUCCESS' /dev/null -m 64 -no-reboot -kernel $B/memtest.elf
run memtest 1 '^SUCCESS' /dev/null -m 256 -no-reboot -kernel $B/memtest.elf
run serial_echo 1 'bytes=20 sum=4bda9238' "$tmp" -m 256 -no-reboot -kernel $B/serial_echo.elf
# A triple fault with -no-reboot makes QEMU exit with status 0.
run triplefault 0 'triplefault:' /dev/null -m 256 -no-reboot -kernel $B/triplefault.elf
# Without -no-reboot the machine resets and the second boot passes.
run reboot 1 '^second boot' /dev/null -m 256 -kernel $B/reboot.elf
rm -f "$tmp"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
