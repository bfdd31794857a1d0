#!/usr/bin/env bash
# The KVM backend's seccomp filters (src/core/seccomp_policy.c: the vCPU
# thread's own list of KVM's vCPU ioctls, the interrupt set of the I/O
# thread): every thread of a KVM VM is filtered, and a forbidden call from
# a vCPU, the I/O thread or the main thread ends vmon (status 159), with
# --seccomp log's line naming the thread and the call, and with the
# default. KVM is this script's subject: it skips where /dev/kvm is not
# usable (`make test-kvm` runs it in the nested L1); seccomp.sh checks the
# filters on the software CPU, and the allowlists against real use.
source "$(dirname "$0")/../lib.sh"

NAMES=(seccomp-kvm-every-thread-filtered seccomp-{log,on}-kills-{vcpu,io,main}-kvm)
if grep -q __asan_init "$VMON" 2>/dev/null; then
	for n in "${NAMES[@]}"; do
		skip "$n" "a sanitizer build: its runtime's own system calls are outside every list (the plain build runs this)"
	done
	exit 0
fi
if ! have_kvm; then
	for n in "${NAMES[@]}"; do
		skip "$n" "/dev/kvm is not usable here (make test-kvm runs it)"
	done
	exit 0
fi

B=kvm
source "$(dirname "$0")/../lib/seccomp_checks.sh"

seccomp_status seccomp-kvm-every-thread-filtered 2 --seccomp on
T=(--kernel "$GUESTS/ticker.elf")
for mode in log on; do
	violate vcpu vmon-vcpu0 $mode "${T[@]}"
	violate io vmon-io $mode "${T[@]}" --disk "$TMP/io.img"
	violate main "vmon" $mode "${T[@]}"
done
