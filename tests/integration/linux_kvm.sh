#!/usr/bin/env bash
# The Linux-guest checks of linux_emu.sh and linux_virtio.sh on the KVM
# backend. They need a host whose /dev/kvm has VT-x/AMD-V behind it: on a
# host without (such as these build machines, where the host kernel
# emulates every guest instruction and cannot run Linux), each check is
# skipped with the reason.
source "$(dirname "$0")/../lib.sh"

WHY="no hardware virtualization on this host (no vmx/svm with kvm_intel/kvm_amd): KVM cannot run Linux here"
if ! grep -qwE 'vmx|svm' /proc/cpuinfo || ! ls /sys/module 2>/dev/null | grep -qE '^kvm_(intel|amd)$'; then
	for n in shell uname checksum sleep virtio dmesg poweroff nproc concurrent reboot ctrl-alt-del nested; do
		skip "linux-kvm-$n" "$WHY"
	done
	LINUX_VIRTIO_SKIP=$WHY LINUX_BACKEND=kvm bash "$(dirname "$0")/linux_virtio.sh"
	exit 0
fi
LINUX_BACKEND=kvm bash "$(dirname "$0")/linux_emu.sh"
LINUX_BACKEND=kvm bash "$(dirname "$0")/linux_virtio.sh"
