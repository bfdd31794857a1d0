#!/usr/bin/env bash
# vmon pause / resume / stop on a running VM, on every usable backend: the
# ticker kit guest prints "tick N" from its LAPIC timer; while the VM is
# paused no tick appears (the vCPU is parked, so the guest's clock-driven
# work stops), and after resume the count goes on from where it stopped,
# one by one. `vmon ps` shows the state; `vmon stop` ends the VM with
# status 0 and its registration goes away.
source "$(dirname "$0")/../lib.sh"

# last_tick FILE: the highest N of "tick N" so far (0 if none).
last_tick() {
	local n
	n=$(tr -d '\r' <"$1" | sed -n 's/^tick \([0-9]*\)$/\1/p' | tail -n1)
	echo "${n:-0}"
}
# wait_tick FILE N: until tick N or later is out (false after the timeout).
wait_tick() {
	for _ in $(seq 1 $((TEST_TIMEOUT * 20))); do
		[ "$(last_tick "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
ps_state() { "$VMON" ps | awk -v id="$1" '$1 == id { print $2 }'; }

for b in $(usable_backends); do
	id=tick-$b
	out=$TMP/$b.out
	timeout -k 5 "$TEST_TIMEOUT" "$VMON" run --backend "$b" --id "$id" \
		--kernel "$GUESTS/ticker.elf" </dev/null >"$out" 2>"$TMP/$b.err" &
	pid=$!
	if ! wait_tick "$out" 3; then
		fail "pause-$b-ticks" "no ticks; stderr: $(head -c 300 "$TMP/$b.err")"
		kill "$pid" 2>/dev/null
		continue
	fi
	if [ "$(ps_state "$id")" = Running ]; then pass "pause-$b-ps-running"; else
		fail "pause-$b-ps-running" "$("$VMON" ps 2>&1 | tr '\n' '|')"; fi

	if ! "$VMON" pause "$id" 2>"$TMP/$b.pause.err"; then
		fail "pause-$b-pause" "$(cat "$TMP/$b.pause.err")"
		kill "$pid" 2>/dev/null
		continue
	fi
	# A line the guest was writing when the pause came may still land;
	# after that, nothing for a while (observed, not timed: any tick in
	# the window is a failure whatever the host's speed).
	sleep 0.2
	paused_at=$(last_tick "$out")
	size=$(wc -c <"$out")
	sleep 1.5
	if [ "$(wc -c <"$out")" = "$size" ]; then pass "pause-$b-no-ticks-while-paused"; else
		fail "pause-$b-no-ticks-while-paused" "tick $paused_at -> $(last_tick "$out") while paused"
	fi
	if [ "$(ps_state "$id")" = Paused ]; then pass "pause-$b-ps-paused"; else
		fail "pause-$b-ps-paused" "$("$VMON" ps 2>&1 | tr '\n' '|')"; fi
	if "$VMON" pause "$id" 2>/dev/null; then pass "pause-$b-pause-twice"; else
		fail "pause-$b-pause-twice" "a second pause failed"; fi

	"$VMON" resume "$id"
	if wait_tick "$out" $((paused_at + 3)); then
		seq_ok=$(tr -d '\r' <"$out" | sed -n 's/^tick \([0-9]*\)$/\1/p' |
			awk 'NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { print bad ? "no" : "yes" }')
		if [ "$seq_ok" = yes ]; then pass "pause-$b-resume-continues"; else
			fail "pause-$b-resume-continues" "ticks not consecutive: $(tr '\n' ' ' <"$out" | tail -c 200)"
		fi
	else
		fail "pause-$b-resume-continues" "no tick after $paused_at since resume"
	fi
	if [ "$(ps_state "$id")" = Running ]; then pass "pause-$b-ps-running-again"; else
		fail "pause-$b-ps-running-again" "$("$VMON" ps 2>&1 | tr '\n' '|')"; fi

	"$VMON" stop "$id"
	wait "$pid"
	status=$?
	if [ "$status" = 0 ] && [ ! -e "$VMON_RUNTIME_DIR/$id.json" ] &&
		[ ! -e "$VMON_RUNTIME_DIR/$id.sock" ]; then
		pass "pause-$b-stop"
	else
		fail "pause-$b-stop" "status $status; left: $(ls "$VMON_RUNTIME_DIR")"
	fi
done

# The command line's mistakes: one line, status 2.
check_bad() { # check_bad NAME TEXT ARGS...
	local name=$1 text=$2
	shift 2
	"$VMON" "$@" >"$TMP/bad.out" 2>"$TMP/bad.err"
	local s=$?
	if [ "$s" = 2 ] && [ "$(wc -l <"$TMP/bad.err")" = 1 ] && grep -q "^vmon: .*$text" "$TMP/bad.err"
	then
		pass "$name"
	else
		fail "$name" "status $s; stderr: $(cat "$TMP/bad.err")"
	fi
}
check_bad pause-unknown-id "no VM with the id 'nosuch'" pause nosuch
check_bad pause-bad-id "is not a VM id" resume 'a/b'
check_bad pause-no-id "which VM" stop
check_bad run-bad-id "is not a valid id" run --id 'bad id!' --kernel "$GUESTS/hello.elf"
