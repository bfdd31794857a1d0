#!/usr/bin/env bash
# Many VMs at once, on each usable backend: 50 vmon processes started together on kit guests
# (hello, compute with distinct iteration counts, smp); every one's output
# and exit status is checked.
source "$(dirname "$0")/../lib.sh"

N=${VMON_CONCURRENT:-50}
for b in $(usable_backends); do
pids=()
for i in $(seq 1 "$N"); do
	case $((i % 3)) in
	0) args=(--kernel "$GUESTS/hello.elf") ;;
	1) args=(--kernel "$GUESTS/compute.elf" --cmdline "iters=$((1000 + i))") ;;
	2) args=(--kernel "$GUESTS/smp.elf" --cpus 2 --cmdline cpus=2) ;;
	esac
	timeout -k 5 600 "$VMON" run --backend $b --mem 64M "${args[@]}" </dev/null \
		>"$TMP/vm$i.out" 2>"$TMP/vm$i.err" &
	pids[$i]=$!
done
bad=0
why=""
for i in $(seq 1 "$N"); do
	wait "${pids[$i]}"
	rc=$?
	if [ "$rc" -ne 0 ] || ! grep -qx SUCCESS <(tr -d '\r' <"$TMP/vm$i.out"); then
		bad=$((bad + 1))
		why="vm$i status $rc: $(tail -c 200 "$TMP/vm$i.err" | tr '\n' ' ')"
	fi
done
# Each compute VM's checksum must match a serial re-run of the same count.
for i in 1 4; do
	timeout -k 5 120 "$VMON" run --backend $b --mem 64M --kernel "$GUESTS/compute.elf" \
		--cmdline "iters=$((1000 + i))" </dev/null >"$TMP/ref$i.out" 2>/dev/null
	if [ "$(grep '^checksum=' "$TMP/ref$i.out")" != "$(grep '^checksum=' "$TMP/vm$i.out")" ]; then
		bad=$((bad + 1))
		why="vm$i checksum differs from a lone run"
	fi
done
if [ "$bad" -eq 0 ]; then
	pass "concurrent-$b-$N"
else
	fail "concurrent-$b-$N" "$bad failures; last: $why"
fi
done
