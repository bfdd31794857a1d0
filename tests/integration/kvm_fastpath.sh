#!/usr/bin/env bash
# Queue notifies and MSI-X on KVM take the in-kernel paths: the virtio_blk
# kit guest (which also moves BAR 0 twice, with decoding off and on) runs
# with zero notify writes reaching vmon (KVM_IOEVENTFD) and its interrupts
# sent through irqfds, per VMON_STATS. The same guest still passes with
# each fast path turned off (VMON_NO_IOEVENTFD=1, VMON_NO_IRQFD=1: the
# MMIO-exit and KVM_SIGNAL_MSI paths), and on the software CPU, where a
# notify is an in-process MMIO write.
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../lib/blk_image.sh"

# fast_run NAME BACKEND [ENV...]: runs the guest with VMON_STATS=1; leaves
# the virtio-blk stats line in $line.
fast_run() {
	local name=$1 backend=$2
	shift 2
	make_image "$TMP/$name.img"
	timeout -k 5 "$TEST_TIMEOUT" env VMON_STATS=1 "$@" "$VMON" run --backend "$backend" \
		--kernel "$GUESTS/virtio_blk.elf" --disk "$TMP/$name.img,id=vmon-test-disk" \
		--cmdline "sectors=$SECTORS movebar=1" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
	status=$?
	expect_success "$name" "$TMP/$name.out" "$TMP/$name.err"
	line=$(grep '^vmon: stats: [^ ]* virtio-blk:' "$TMP/$name.err")
}

# stat NAME: the counter NAME in $line.
stat() { sed -n "s/.*[:,] $1 \([0-9]*\).*/\1/p" <<<"$line"; }

check() { # check NAME CONDITION-DESCRIPTION TEST...
	local name=$1 what=$2
	shift 2
	if [ -n "$line" ] && "$@"; then pass "$name"; else fail "$name" "$what; stats: ${line:-none}"; fi
}

if have_kvm; then
	fast_run kvm-fastpath kvm
	check kvm-fastpath-no-notify-exits "want 0 notify writes through vmon and 1/1 registered" \
		eval '[ "$(stat notify_exits)" = 0 ] && [ "$(stat ioeventfds_registered)" = 1 ] &&
			[ "$(stat ioeventfds)" = 1 ]'
	check kvm-fastpath-irqfd "want MSI-X by irqfd only" \
		eval '[ "$(stat msix_irqfd)" -ge 10 ] && [ "$(stat msix_message)" = 0 ]'

	fast_run kvm-no-ioeventfd kvm VMON_NO_IOEVENTFD=1
	check kvm-no-ioeventfd-exits "want every notify through vmon" \
		eval '[ "$(stat notify_exits)" -ge 10 ] && [ "$(stat ioeventfds_registered)" = 0 ]'

	fast_run kvm-no-irqfd kvm VMON_NO_IRQFD=1
	check kvm-no-irqfd-messages "want MSI-X by KVM_SIGNAL_MSI only" \
		eval '[ "$(stat msix_irqfd)" = 0 ] && [ "$(stat msix_message)" -ge 10 ]'
else
	skip kvm-fastpath "/dev/kvm is not usable here"
fi

fast_run emu-fastpath emu
check emu-fastpath-in-process "want every notify through vmon's MMIO handler, nothing registered" \
	eval '[ "$(stat notify_exits)" -ge 10 ] && [ "$(stat ioeventfds_registered)" = 0 ]'
