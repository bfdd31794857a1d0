#!/usr/bin/env bash
# The local APIC's system features (issue 17 part 2) with the kit guests
# that exercise them, on every usable backend:
#   lapic-<backend>-x2apic, -x2apic-smp   x2APIC mode: IA32_APIC_BASE
#        transitions, the MSR interface, SELF IPI, ICR self IPI, the timer
#        in x2APIC mode; with 2 vCPUs INIT/SIPI and IPIs each way through
#        the ICR MSR (physical and logical cluster destinations)
#   lapic-<backend>-tscdeadline           TSC-deadline timer: arming,
#        firing after the TSC passed, disarming with 0, a past deadline,
#        mode changes
#   lapic-<backend>-nmi                   NMI self IPIs: taken with IF=0,
#        blocked until IRET, before a pending maskable interrupt
# and on the software CPU with --cpu-features -x2apic,-tsc-deadline
# (Linux's /proc/cpuinfo names work too): the guests see neither CPUID bit
# and setting EXTD or writing IA32_TSC_DEADLINE raises #GP.
source "$(dirname "$0")/../lib.sh"

kit() { # kit NAME GUEST ARGS...
	local name=$1 guest=$2
	shift 2
	run_vmon "$TMP/$name.out" "$TMP/$name.err" run --kernel "$GUESTS/$guest.elf" "$@"
	expect_success "$name" "$TMP/$name.out" "$TMP/$name.err"
}

# has NAME FILE LINE: FILE holds LINE.
has() {
	if grep -qxF -- "$3" <(tr -d '\r' <"$2"); then
		pass "$1"
	else
		fail "$1" "no '$3' line; output: $(tail -c 300 "$2" | tr '\n' ' ')"
	fi
}

for b in $(usable_backends); do
	kit lapic-$b-x2apic x2apic --backend "$b"
	has lapic-$b-x2apic-offered "$TMP/lapic-$b-x2apic.out" "transitions ok"
	if [ "$b" = emu ]; then # as the SDM says (KVM takes it as an EOI)
		has lapic-emu-x2apic-eoi-nonzero "$TMP/lapic-emu-x2apic.out" "EOI 1: #GP"
	fi
	kit lapic-$b-x2apic-smp x2apic --backend "$b" --cpus 2 --cmdline cpus=2
	has lapic-$b-x2apic-smp-ipi "$TMP/lapic-$b-x2apic-smp.out" "ap id=1 ldr=0x2: ipi each way ok"
	kit lapic-$b-tscdeadline tscdeadline --backend "$b"
	# Both backends offer it (KVM's in-kernel LAPIC through
	# KVM_CAP_TSC_DEADLINE_TIMER, src/cpu/kvm/kvm_cpuid.c).
	has lapic-$b-tscdeadline-offered "$TMP/lapic-$b-tscdeadline.out" "disarm ok"
	kit lapic-$b-nmi nmi --backend "$b"
	has lapic-$b-nmi-order "$TMP/lapic-$b-nmi.out" "events: N.N|FN.N|FN.N|FN.NF"
done

# Turned off on the software CPU: no CPUID bit, and no feature behind it.
kit lapic-emu-x2apic-off x2apic --backend emu --cpu-features=-x2apic
has lapic-emu-x2apic-off-cpuid "$TMP/lapic-emu-x2apic-off.out" "x2APIC not offered"
has lapic-emu-x2apic-off-gp "$TMP/lapic-emu-x2apic-off.out" "EXTD: #GP"
kit lapic-emu-tscdeadline-off tscdeadline --backend emu --cpu-features x86-64-v2,-tsc_deadline_timer
has lapic-emu-tscdeadline-off-cpuid "$TMP/lapic-emu-tscdeadline-off.out" "TSC-deadline not offered"
has lapic-emu-tscdeadline-off-gp "$TMP/lapic-emu-tscdeadline-off.out" "IA32_TSC_DEADLINE: #GP"
# A named model keeps them; the other one stays when one is removed.
kit lapic-emu-x2apic-v2 x2apic --backend emu --cpu-features x86-64-v2,-tsc-deadline
has lapic-emu-x2apic-v2-offered "$TMP/lapic-emu-x2apic-v2.out" "transitions ok"
