#!/usr/bin/env bash
# virtio-blk on every usable backend (tests/lib.sh): the virtio_blk kit guest drives the disk
# through PCI (io_uring, then the thread pool), and the host checks the
# image file afterwards; then every malicious-queue case of virtio_bad
# (vmon must survive and answer as designed).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib/blk_image.sh"

for b in $(usable_backends); do
K="run --backend $b"

blk_run() { # blk_run NAME [ENV...]
	local name=$1
	shift
	make_image "$TMP/$name.img"
	timeout -k 5 "$TEST_TIMEOUT" env "$@" "$VMON" $K --kernel "$GUESTS/virtio_blk.elf" \
		--disk "$TMP/$name.img,id=vmon-test-disk" --cmdline "sectors=$SECTORS" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
	status=$?
	expect_success "$name" "$TMP/$name.out" "$TMP/$name.err"
	local r
	r=$(check_image "$TMP/$name.img")
	if [ "$r" = ok ]; then pass "$name-image"; else fail "$name-image" "$r"; fi
}

blk_run $b-virtio-blk
blk_run $b-virtio-blk-pool VMON_NO_IO_URING=1

# Two disks: both enumerate, the guest uses the first; the second image
# is opened read-only and left alone.
make_image "$TMP/two-a.img"
make_image "$TMP/two-b.img"
cp "$TMP/two-b.img" "$TMP/two-b.orig"
run_vmon "$TMP/two.out" "$TMP/two.err" $K --kernel "$GUESTS/virtio_blk.elf" \
	--disk "$TMP/two-a.img,id=vmon-test-disk" --disk "$TMP/two-b.img,ro,id=second" \
	--cmdline "sectors=$SECTORS"
expect_success $b-virtio-blk-two-disks "$TMP/two.out" "$TMP/two.err"
if [ "$(grep -c '1af4:1042' "$TMP/two.out")" -eq 2 ] && cmp -s "$TMP/two-b.img" "$TMP/two-b.orig"; then
	pass $b-virtio-blk-two-disks-enumerated
else
	fail $b-virtio-blk-two-disks-enumerated "want two 1af4:1042 functions and the ro image unchanged"
fi

# Malicious queues: one vmon run per case.
make_image "$TMP/bad.img"
bad_case() { # bad_case CASE OUTCOME [DISK-SUFFIX]
	local c=$1 outcome=$2 suffix=${3:-}
	run_vmon "$TMP/bad-$c.out" "$TMP/bad-$c.err" $K --kernel "$GUESTS/virtio_bad.elf" \
		--disk "$TMP/bad.img$suffix" --cmdline "case=$c"
	if [ "$status" -ne 0 ] || ! grep -qx SUCCESS <(tr -d '\r' <"$TMP/bad-$c.out"); then
		fail "$b-virtio-bad-$c" "status $status; $(tail -c 300 "$TMP/bad-$c.out" | tr '\n' ' ') $(head -c 200 "$TMP/bad-$c.err")"
	elif ! grep -q "^outcome=$outcome" "$TMP/bad-$c.out"; then
		fail "$b-virtio-bad-$c" "outcome is not $outcome"
	else
		pass "$b-virtio-bad-$c"
	fi
}
for c in loop long next_oob zero_len past_ram mmio wrap nested; do
	bad_case "$c" failed-request
done
for c in head_oob avail_jump ring_ram; do
	bad_case "$c" needs-reset
done
bad_case past_end ioerr
cp "$TMP/bad.img" "$TMP/bad.orig"
bad_case ro_write ioerr ,ro
if cmp -s "$TMP/bad.img" "$TMP/bad.orig"; then
	pass $b-virtio-bad-ro-image-unchanged
else
	fail $b-virtio-bad-ro-image-unchanged "the read-only image changed"
fi
# vmon names what the guest did wrong, once.
if grep -q 'device needs reset' "$TMP/bad-head_oob.err" && grep -q 'bad request' "$TMP/bad-loop.err"; then
	pass $b-virtio-bad-messages
else
	fail $b-virtio-bad-messages "stderr: $(cat "$TMP/bad-loop.err" "$TMP/bad-head_oob.err" | tr '\n' ' ')"
fi
done
