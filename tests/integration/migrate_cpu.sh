#!/usr/bin/env bash
# Live migration's early CPU check (docs/migration.md, stream version 2),
# on the software CPU with the dirtymem kit guest. The target is started
# with --cpu-features, the most it accepts:
#   - migrate-cpu-refused: a source pinned to x86-64-v2 plus svm, a target
#     limited to x86-64-v2. The target refuses on the stream's first
#     record: `vmon migrate` exits 2 with one line naming svm, the target
#     ends with one line and status 2, and the source was never paused:
#     GET /migrate says failed, refused, round 0, no page sent (the pause
#     comes after the rounds), and the guest goes on (its passes on the
#     serial console, GET / Running);
#   - migrate-cpu-within: the same source without svm moves to the same
#     kind of target (its features lie within): migrated, the target's
#     passes go on from the source's;
#   - migrate-cpu-bad-limit: a target asked for a feature its backend
#     cannot give ends before it listens, one line and status 2.
# No timing thresholds: every wait is for an event, with a generous limit.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib/migrate_wait.sh"

DIRTY=$GUESTS/dirtymem.elf
LIMIT=${MIGRATE_LIMIT:-300}
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

api() { curl -s --unix-socket "$VMON_RUNTIME_DIR/$1.sock" "http://localhost$2"; }

if [ ! -f "$DIRTY" ]; then
	for n in migrate-cpu-refused migrate-cpu-within; do skip "$n" "no $DIRTY (make)"; done
else
	# start NAME CPU-FEATURES: a source; its pid in $spid.
	start() {
		mkdir -p "$TMP/$1"
		"$VMON" run --backend emu --id "$1" --kernel "$DIRTY" --mem 64M --cmdline "every=20" \
			--cpu-features "$2" </dev/null >"$TMP/$1/src.out" 2>"$TMP/$1/src.err" &
		spid=$!
		PIDS+=("$spid")
	}
	# target NAME LIMIT: a receiver on $TMP/NAME/m.sock; its pid in $dpid.
	target() {
		"$VMON" run --incoming "unix:$TMP/$1/m.sock" --backend emu --cpu-features "$2" \
			--id "$1-dst" </dev/null >"$TMP/$1/dst.out" 2>"$TMP/$1/dst.err" &
		dpid=$!
		PIDS+=("$dpid")
		wait_sock "$TMP/$1/m.sock"
	}

	# ---- refused before the source pauses ------------------------------
	d=$TMP/refused
	start refused x86-64-v2,+svm
	if ! wait_pass "$d/src.out" 10 "$spid"; then
		fail migrate-cpu-refused "the source did not run: $(tail -c 300 "$d/src.err")"
	else
		target refused x86-64-v2
		"$VMON" migrate refused --to "unix:$d/m.sock" >"$d/mig.out" 2>"$d/mig.err"
		mrc=$?
		wait_gone "$dpid"
		drc=${gone_status:-running}
		st=$(api refused /migrate)
		n=$(passes "$d/src.out" | tail -n1)
		if [ $mrc -eq 2 ] && [ "$(wc -l <"$d/mig.err")" -eq 1 ] &&
			grep -q "cannot give the guest's CPU feature svm" "$d/mig.err" &&
			[ "$drc" = 2 ] && [ "$(wc -l <"$d/dst.err")" -eq 1 ] && grep -q svm "$d/dst.err" &&
			echo "$st" | grep -q '"state": *"failed"' &&
			echo "$st" | grep -q '"refused": *true' &&
			echo "$st" | grep -q '"round": *0[,}]' &&
			echo "$st" | grep -q '"pages_sent": *0[,}]' &&
			wait_pass "$d/src.out" $((n + 10)) "$spid" &&
			api refused / | grep -q '"state": *"Running"' &&
			! grep -qa FAIL "$d/src.out"; then
			pass migrate-cpu-refused
		else
			fail migrate-cpu-refused "migrate: $mrc ($(cat "$d/mig.out" "$d/mig.err")), target: $drc ($(cat "$d/dst.err")), GET /migrate: $st, passes $n then $(passes "$d/src.out" | tail -n1)"
		fi
		echo "# migrate-cpu-refused: $(cat "$d/mig.err")" >&2
	fi
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null

	# ---- within the target's limit: migrated ---------------------------
	d=$TMP/within
	start within x86-64-v2
	if ! wait_pass "$d/src.out" 10 "$spid"; then
		fail migrate-cpu-within "the source did not run: $(tail -c 300 "$d/src.err")"
	else
		target within x86-64-v2
		"$VMON" migrate within --to "unix:$d/m.sock" >"$d/mig.out" 2>"$d/mig.err"
		mrc=$?
		[ $mrc -ne 0 ] || wait_gone "$spid"
		src_rc=${gone_status:-running}
		last=$(passes "$d/src.out" | tail -n1)
		if [ $mrc -eq 0 ] && [ "$src_rc" = 0 ] && wait_pass "$d/dst.out" $((last + 10)) "$dpid" &&
			! grep -qa FAIL "$d/dst.out" "$d/src.out"; then
			pass migrate-cpu-within
		else
			fail migrate-cpu-within "migrate: $mrc ($(cat "$d/mig.out" "$d/mig.err" | tail -c 300)), source: $src_rc, target: $(tail -c 300 "$d/dst.err")"
		fi
	fi
	kill "$spid" "$dpid" 2>/dev/null
	wait "$spid" "$dpid" 2>/dev/null
fi

# ---- a limit the backend cannot give ---------------------------------
timeout -k 5 60 "$VMON" run --incoming "unix:$TMP/never.sock" --backend emu \
	--cpu-features x86-64-v2,+amx_tile </dev/null >/dev/null 2>"$TMP/bad.err"
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] && grep -q amx_tile "$TMP/bad.err" &&
	[ ! -e "$TMP/never.sock" ]; then
	pass migrate-cpu-bad-limit
else
	fail migrate-cpu-bad-limit "status $rc: $(cat "$TMP/bad.err")"
fi
