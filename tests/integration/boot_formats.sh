#!/usr/bin/env bash
# Boot protocols end to end on every usable backend: a multiboot v1 kernel in
# a.out-kludge form (checks EAX magic and the command line in
# multiboot_info), and a flat binary at --load-addr, also below 64 KiB. (PVH is every kit
# guest; the loaders' details are unit-tested in tests/unit/test_boot.c.)
source "$(dirname "$0")/../lib.sh"

for b in $(usable_backends); do
IMG=$BUILD/test-images

run_vmon "$TMP/mb.out" "$TMP/mb.err" run --backend $b --kernel "$IMG/mb_aout.bin" --cmdline "mbtest one"
expect_success boot-$b-multiboot-aout "$TMP/mb.out" "$TMP/mb.err"

# The same kernel must see the command line it was given: another one fails it.
run_vmon "$TMP/mb2.out" "$TMP/mb2.err" run --backend $b --kernel "$IMG/mb_aout.bin" --cmdline "other"
if [ "$status" -eq 6 ]; then pass boot-$b-multiboot-cmdline-checked; else fail boot-$b-multiboot-cmdline-checked "status $status (want 6)"; fi

run_vmon "$TMP/fl.out" "$TMP/fl.err" run --backend $b --kernel "$IMG/flat.bin" --load-addr 0x200000
expect_success boot-$b-flat-binary "$TMP/fl.out" "$TMP/fl.err"

# Below 64 KiB, over vmon's usual boot area (0x3000 is where the command
# line would go): vmon moves its boot structures instead of refusing.
for at in 0x8000 0x3000; do
	run_vmon "$TMP/fl.out" "$TMP/fl.err" run --backend $b --kernel "$IMG/flat.bin" --load-addr $at --cmdline "a command line that would overwrite the image"
	expect_success boot-$b-flat-binary-at-$at "$TMP/fl.out" "$TMP/fl.err"
done

# Without --load-addr a flat binary is not a recognised image.
run_vmon "$TMP/fl2.out" "$TMP/fl2.err" run --backend $b --kernel "$IMG/flat.bin"
if [ "$status" -eq 2 ] && [ "$(wc -l <"$TMP/fl2.err")" -eq 1 ]; then
	pass boot-$b-flat-needs-load-addr
else
	fail boot-$b-flat-needs-load-addr "status $status: $(cat "$TMP/fl2.err")"
fi
done
