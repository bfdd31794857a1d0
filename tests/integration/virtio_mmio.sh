#!/usr/bin/env bash
# virtio-blk over virtio-mmio (--disk PATH,transport=mmio): the virtio_mmio
# kit guest finds the device at its fixed window (0xd0000000, GSI 20),
# drives it with level-triggered interrupts and leaves its marks in the
# image, which the host checks byte for byte as virtio_blk.sh does — on
# KVM (notify through KVM_IOEVENTFD) and on the software CPU.
source "$(dirname "$0")/../lib.sh"

source "$(dirname "$0")/../lib/blk_image.sh"

mmio_run() { # mmio_run NAME BACKEND [EXTRA-ARGS...]; $EXTRA_CMDLINE: more for the guest
	local name=$1 backend=$2
	shift 2
	make_image "$TMP/$name.img"
	VMON_STATS=1 run_vmon "$TMP/$name.out" "$TMP/$name.err" run --backend "$backend" \
		--kernel "$GUESTS/virtio_mmio.elf" "$@" \
		--disk "$TMP/$name.img,id=vmon-test-disk,transport=mmio" --cmdline "sectors=$SECTORS ${EXTRA_CMDLINE:-}"
	expect_success "$name" "$TMP/$name.out" "$TMP/$name.err"
	local r
	r=$(check_image "$TMP/$name.img")
	if [ "$r" = ok ]; then pass "$name-image"; else fail "$name-image" "$r"; fi
}

# notifies NAME: how many of the MMIO disk's queue notifies reached vmon
# (VMON_STATS: notify_exits of the device at mmio_base 0xd0000000).
notifies() {
	sed -n 's/.*stats: .* mmio_base 0xd0000000, .*notify_exits \([0-9]*\).*/\1/p' \
		"$TMP/$1.err"
}
check_notifies() { # check_notifies NAME zero|some
	local n
	n=$(notifies "$1")
	if [ -z "$n" ]; then
		fail "$1-notify-path" "no VMON_STATS line for the MMIO disk"
	elif [ "$2" = zero ] && [ "$n" -ne 0 ]; then
		fail "$1-notify-path" "$n notifies reached vmon (want 0: KVM_IOEVENTFD)"
	elif [ "$2" = some ] && [ "$n" -eq 0 ]; then
		fail "$1-notify-path" "no notify reached vmon's handler"
	else
		pass "$1-notify-path"
	fi
}

if have_kvm; then
	mmio_run kvm-virtio-mmio-blk kvm
	check_notifies kvm-virtio-mmio-blk zero
	VMON_NO_IOEVENTFD=1 mmio_run kvm-virtio-mmio-blk-no-ioeventfd kvm
	check_notifies kvm-virtio-mmio-blk-no-ioeventfd some
else
	skip kvm-virtio-mmio-blk "/dev/kvm is not usable here (KVM_IOEVENTFD is this check's subject)"
fi
mmio_run emu-virtio-mmio-blk emu
check_notifies emu-virtio-mmio-blk some
for b in $(usable_backends); do
	# A machine reset with the queue live: the device comes back reset
	# (on KVM its notify is registered again with the new KVM VM, so no
	# notify reaches vmon over both boots).
	EXTRA_CMDLINE=reboot=1 mmio_run $b-virtio-mmio-blk-reboot $b
	if [ "$b" = kvm ]; then check_notifies kvm-virtio-mmio-blk-reboot zero; fi
	if grep -q 'second boot: device reset' "$TMP/$b-virtio-mmio-blk-reboot.out"; then
		pass $b-virtio-mmio-blk-reboot-twice
	else
		fail $b-virtio-mmio-blk-reboot-twice "no second boot: $(tail -c 300 "$TMP/$b-virtio-mmio-blk-reboot.out" | tr '\n' ' ')"
	fi
	# With a PCI disk first: the MMIO disk still takes window 0.
	make_image "$TMP/pci.img"
	mmio_run $b-virtio-mmio-blk-beside-pci $b --disk "$TMP/pci.img,ro"
done
