#!/usr/bin/env bash
# `vmon ps` with 20 VMs running (ticker kit guests that wait in hlt, on the
# software CPU): one row each, Running, with backend, vCPUs, memory and
# API socket; a second VM with a running VM's id is refused; a VM killed
# with SIGKILL leaves a stale entry that ps detects and removes; vmon stop
# ends them all and the directory empties.
source "$(dirname "$0")/../lib.sh"

N=20
pids=()
for i in $(seq 1 $N); do
	timeout -k 5 "$TEST_TIMEOUT" "$VMON" run --backend emu --id "ps-$i" --mem 32M \
		--kernel "$GUESTS/ticker.elf" --cmdline "every=1000000" \
		</dev/null >"$TMP/$i.out" 2>"$TMP/$i.err" &
	pids+=($!)
done
# Each registers itself once it runs: wait for all 20 rows.
rows=0
for _ in $(seq 1 $((TEST_TIMEOUT * 10))); do
	rows=$("$VMON" ps | awk 'NR > 1 && $2 == "Running"' | wc -l)
	[ "$rows" -ge $N ] && break
	sleep 0.1
done
"$VMON" ps >"$TMP/ps.txt"
if [ "$rows" = $N ] && [ "$(head -n1 "$TMP/ps.txt" | awk '{print $1, $2, $3, $4, $5, $6}')" = \
	"ID STATE BACKEND VCPUS MEMORY UPTIME" ] &&
	[ "$(awk 'NR > 1 && $3 == "emu" && $4 == 1 && $5 == "32M" && $7 ~ /\.sock$/' "$TMP/ps.txt" |
		wc -l)" = $N ]; then
	pass "ps-20-vms"
else
	fail "ps-20-vms" "$rows running; $(head -c 600 "$TMP/ps.txt" | tr '\n' '|')"
fi

timeout 10 "$VMON" run --id ps-1 --kernel "$GUESTS/hello.elf" </dev/null >"$TMP/dup.out" \
	2>"$TMP/dup.err"
s=$?
if [ "$s" = 2 ] && grep -q "^vmon: --id: a VM with the id 'ps-1' is running" "$TMP/dup.err"; then
	pass "ps-duplicate-id"
else
	fail "ps-duplicate-id" "status $s; $(cat "$TMP/dup.err")"
fi

# SIGKILL to the VM's process (the registration has its pid; $! is
# timeout's): nothing cleans up, so ps must notice the dead pid.
vpid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' \
	"$VMON_RUNTIME_DIR/ps-5.json")
kill -9 "$vpid"
wait "${pids[4]}" 2>/dev/null
"$VMON" ps >"$TMP/ps2.txt"
if ! grep -q '^ps-5 ' "$TMP/ps2.txt" && [ ! -e "$VMON_RUNTIME_DIR/ps-5.json" ] &&
	[ "$(awk 'NR > 1' "$TMP/ps2.txt" | wc -l)" = $((N - 1)) ]; then
	pass "ps-stale-entry-removed"
else
	fail "ps-stale-entry-removed" "$(tr '\n' '|' <"$TMP/ps2.txt"); $(ls "$VMON_RUNTIME_DIR")"
fi

bad=0
for i in $(seq 1 $N); do
	[ "$i" = 5 ] && continue
	"$VMON" stop "ps-$i" 2>>"$TMP/stop.err" || bad=$((bad + 1))
done
for i in "${!pids[@]}"; do
	[ "$i" = 4 ] && continue
	wait "${pids[$i]}" || bad=$((bad + 1))
done
left=$(ls "$VMON_RUNTIME_DIR" | wc -l)
if [ "$bad" = 0 ] && [ "$left" = 0 ] && [ "$("$VMON" ps | wc -l)" = 1 ]; then
	pass "ps-stop-all"
else
	fail "ps-stop-all" "$bad failures, $left files left; $(head -c 300 "$TMP/stop.err")"
fi
