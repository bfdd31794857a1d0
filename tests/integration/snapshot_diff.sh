#!/usr/bin/env bash
# Diff snapshots (docs/snapshot.md, "Diff snapshots"), on every usable
# backend (KVM's dirty log under make test-kvm):
#   - the default Linux guest started with --track-dirty-pages: a Full
#     snapshot (`vmon snapshot`, the VM resumes), the guest writes 1 MiB
#     of a known pattern to a tmpfs file, a Diff snapshot (`vmon snapshot
#     --diff`, the CLI of PUT /snapshot/create "Diff"): the diff's memory
#     file allocates far fewer blocks than the full one's (a quarter at
#     most: counted in allocated blocks, not time); `vmon snapshot-merge`
#     copies the diff onto a copy of the full memory file, and `vmon
#     restore` of that with the diff's vmstate gives a guest whose file
#     holds the whole pattern;
#   - the kit guest dirtymem (rewrites 4 MiB and checks every page against
#     its own table, "dirtymem: FAIL" on a page that is not what it last
#     wrote), tracked from the start: a first Diff (every page it wrote
#     since the start) merged onto an empty file of RAM's size, a second
#     Diff merged onto that; both restores pass on without a FAIL;
#   - Diff without tracking: PUT /snapshot/create answers 400 with a
#     fault_message saying so (before any pause), `vmon snapshot --diff`
#     exits 2 with one line, and the VM runs on; snapshot-merge refuses
#     files of different sizes with one line and status 2.
# No timing thresholds: every wait is for an event, with a generous limit.
source "$(dirname "$0")/../lib.sh"

G=${GUEST_DIR:-$BUILD/guest}
DIRTY=$GUESTS/dirtymem.elf
LIMIT=${SNAPSHOT_LIMIT:-240}
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

WATCH=
alive() { [ -z "$WATCH" ] || kill -0 "$WATCH" 2>/dev/null; }
# wait_for FILE PATTERN: up to LIMIT s for PATTERN in FILE.
wait_for() {
	for _ in $(seq 1 $((LIMIT * 5))); do
		grep -qa -- "$2" "$1" 2>/dev/null && return 0
		alive || return 1
		sleep 0.2
	done
	return 1
}
passes() { tr -d '\r' 2>/dev/null <"$1" | sed -n 's/^dirtymem: pass \([0-9]*\) ok$/\1/p'; }
# wait_pass FILE N: until FILE shows a dirtymem pass above N.
wait_pass() {
	for _ in $(seq 1 $((LIMIT * 5))); do
		local c
		c=$(passes "$1" | tail -n1)
		[ -n "$c" ] && [ "$c" -gt "$2" ] && return 0
		alive || return 1
		sleep 0.2
	done
	return 1
}
# blocks FILE: 512-byte blocks allocated to FILE.
blocks() { stat -c %b "$1"; }
stop_vm() { # stop_vm ID PID
	"$VMON" stop "$1" >/dev/null 2>&1 || kill -KILL "$2" 2>/dev/null
	wait "$2" 2>/dev/null
}

HAVE_CURL=1
command -v curl >/dev/null || HAVE_CURL=0

for b in $(usable_backends); do
	D=$TMP/$b
	mkdir -p "$D"
	# ---- Linux: full, pattern, diff, merge, restore --------------------
	LN="snapshot-diff-$b-smaller snapshot-diff-$b-linux-restore"
	if [ ! -f "$G/bzImage" ]; then
		for n in $LN; do skip "$n" "no $G/bzImage (run make guest)"; done
	else
		mkfifo "$D/in1"
		"$VMON" run --backend "$b" --id "dl-$b" --track-dirty-pages --kernel "$G/bzImage" \
			--initrd "$G/initramfs.cpio.gz" --cmdline "console=ttyS0 quiet" \
			<"$D/in1" >"$D/out1" 2>"$D/err1" &
		pid=$!
		PIDS+=("$pid")
		WATCH=$pid
		exec 7>"$D/in1"
		ok=0
		if wait_for "$D/out1" 'vmon# ' &&
			"$VMON" snapshot "dl-$b" "$D/full" >"$D/full.out" 2>&1; then
			echo 'yes VMONDIFFPATTERN | head -c 1048576 >/tmp/pat; sync; echo WROTE=$((6*7))' >&7
			wait_for "$D/out1" 'WROTE=42' &&
				"$VMON" snapshot --diff --no-resume "dl-$b" "$D/diff" >"$D/diff.out" 2>&1 &&
				ok=1
		fi
		stop_vm "dl-$b" "$pid"
		exec 7>&-
		if [ $ok = 1 ]; then
			fb=$(blocks "$D/full/memory")
			db=$(blocks "$D/diff/memory")
			echo "# $b: full memory file $((fb / 2)) KiB allocated, diff $((db / 2)) KiB" >&2
			if [ "$db" -gt 0 ] && [ $((db * 4)) -le "$fb" ] &&
				[ "$(stat -c %s "$D/diff/memory")" = "$(stat -c %s "$D/full/memory")" ]; then
				pass snapshot-diff-$b-smaller
			else
				fail snapshot-diff-$b-smaller "full $fb blocks, diff $db blocks (want 0 < diff <= full/4)"
			fi
			mkdir -p "$D/merged"
			cp --sparse=always "$D/full/memory" "$D/merged/memory"
			cp "$D/diff/vmstate" "$D/merged/vmstate"
			if ! "$VMON" snapshot-merge "$D/merged/memory" "$D/diff/memory" >"$D/merge.out" 2>&1; then
				fail snapshot-diff-$b-linux-restore "snapshot-merge: $(cat "$D/merge.out")"
			else
				mkfifo "$D/in2"
				"$VMON" restore --backend "$b" --id "dl2-$b" "$D/merged" \
					<"$D/in2" >"$D/out2" 2>"$D/err2" &
				pid=$!
				PIDS+=("$pid")
				WATCH=$pid
				exec 7>"$D/in2"
				echo 'echo PAT=$(grep -c VMONDIFFPATTERN /tmp/pat)' >&7
				if wait_for "$D/out2" 'PAT=65536'; then
					pass snapshot-diff-$b-linux-restore
				else
					fail snapshot-diff-$b-linux-restore "the restored guest: $(tail -c 300 "$D/out2") $(tail -c 300 "$D/err2")"
				fi
				stop_vm "dl2-$b" "$pid"
				exec 7>&-
			fi
		else
			for n in $LN; do
				fail "$n" "snapshots: $(cat "$D/full.out" "$D/diff.out" 2>/dev/null | tail -c 300); $(tail -c 300 "$D/err1")"
			done
		fi
	fi

	# ---- dirtymem: diff from the start, then a second diff ------------
	KN="snapshot-diff-$b-kit-first snapshot-diff-$b-kit-second"
	if [ ! -f "$DIRTY" ]; then
		for n in $KN; do skip "$n" "no $DIRTY (make)"; done
	else
		"$VMON" run --backend "$b" --id "dk-$b" --track-dirty-pages --kernel "$DIRTY" --mem 64M \
			--cmdline "mib=4 every=20" </dev/null >"$D/k.out" 2>"$D/k.err" &
		pid=$!
		PIDS+=("$pid")
		WATCH=$pid
		ok=0
		if wait_pass "$D/k.out" 20 &&
			"$VMON" snapshot --diff "dk-$b" "$D/k1" >"$D/k1.out" 2>&1; then
			n=$(passes "$D/k.out" | tail -n1)
			wait_pass "$D/k.out" $((n + 20)) &&
				"$VMON" snapshot --diff --no-resume "dk-$b" "$D/k2" >"$D/k2.out" 2>&1 && ok=1
		fi
		stop_vm "dk-$b" "$pid"
		if [ $ok = 0 ]; then
			for n in $KN; do
				fail "$n" "snapshots: $(cat "$D/k1.out" "$D/k2.out" 2>/dev/null | tail -c 300); $(tail -c 300 "$D/k.err")"
			done
		else
			mkdir -p "$D/km1" "$D/km2"
			truncate -s 64M "$D/km1/memory"
			cp "$D/k1/vmstate" "$D/km1/vmstate"
			# kit_restore NAME DIR: restores DIR, passes on 40 past the
			# first pass without a FAIL.
			kit_restore() {
				"$VMON" restore --backend "$b" --id "dkr-$b" --serial "file:$2/run.out" "$2" \
					</dev/null >/dev/null 2>"$2/run.err" &
				local rp=$!
				PIDS+=("$rp")
				WATCH=$rp
				local first=
				if wait_pass "$2/run.out" 0; then
					first=$(passes "$2/run.out" | head -n1)
					wait_pass "$2/run.out" $((first + 40))
				fi
				if [ -n "$first" ] && ! grep -qa FAIL "$2/run.out" &&
					[ "$(passes "$2/run.out" | tail -n1)" -gt $((first + 40)) ]; then
					pass "$1"
				else
					fail "$1" "$(grep -ha FAIL "$2/run.out" | head -c 200) $(tail -c 200 "$2/run.out") $(tail -c 200 "$2/run.err")"
				fi
				stop_vm "dkr-$b" "$rp"
			}
			if "$VMON" snapshot-merge "$D/km1/memory" "$D/k1/memory" >"$D/km1.out" 2>&1; then
				cp --sparse=always "$D/km1/memory" "$D/km2/memory"
				kit_restore snapshot-diff-$b-kit-first "$D/km1"
				cp "$D/k2/vmstate" "$D/km2/vmstate"
				if "$VMON" snapshot-merge "$D/km2/memory" "$D/k2/memory" >"$D/km2.out" 2>&1; then
					kit_restore snapshot-diff-$b-kit-second "$D/km2"
				else
					fail snapshot-diff-$b-kit-second "snapshot-merge: $(cat "$D/km2.out")"
				fi
			else
				for n in $KN; do fail "$n" "snapshot-merge: $(cat "$D/km1.out")"; done
			fi
		fi
	fi

	# ---- Diff without tracking --------------------------------------
	if [ ! -f "$DIRTY" ]; then
		skip snapshot-diff-$b-untracked "no $DIRTY (make)"
		continue
	fi
	SOCK=$D/u.sock
	"$VMON" run --backend "$b" --id "du-$b" --api-sock "$SOCK" --kernel "$DIRTY" --mem 64M \
		--cmdline "mib=4 every=20" </dev/null >"$D/u.out" 2>"$D/u.err" &
	pid=$!
	PIDS+=("$pid")
	WATCH=$pid
	why=
	if ! wait_pass "$D/u.out" 20; then
		why="the VM did not run: $(tail -c 200 "$D/u.err")"
	else
		if [ $HAVE_CURL = 1 ]; then
			code=$(curl -s -o "$D/body" -w '%{http_code}' --max-time 60 --unix-socket "$SOCK" \
				-X PUT --data "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$D/x\", \"mem_file_path\": \"$D/y\"}" \
				http://localhost/snapshot/create)
			grep -q '"fault_message".*needs dirty-page tracking' "$D/body" && [ "$code" = 400 ] ||
				why="$why; PUT Diff: HTTP $code $(cat "$D/body")"
		fi
		"$VMON" snapshot --diff "du-$b" "$D/u" >"$D/u.snap.out" 2>"$D/u.snap.err"
		rc=$?
		[ $rc -eq 2 ] && [ "$(wc -l <"$D/u.snap.err")" -eq 1 ] &&
			grep -q "needs dirty-page tracking" "$D/u.snap.err" ||
			why="$why; vmon snapshot --diff: status $rc, $(cat "$D/u.snap.err")"
		[ ! -e "$D/y" ] || why="$why; a memory file was written"
		n=$(passes "$D/u.out" | tail -n1)
		wait_pass "$D/u.out" $((n + 20)) || why="$why; the VM did not run on"
		truncate -s 8M "$D/small"
		"$VMON" snapshot-merge "$D/small" "$D/k1/memory" >"$D/m.out" 2>"$D/m.err"
		rc=$?
		[ $rc -eq 2 ] && [ "$(wc -l <"$D/m.err")" -eq 1 ] &&
			grep -q "not memory files of the same guest" "$D/m.err" ||
			why="$why; snapshot-merge of different sizes: status $rc, $(cat "$D/m.err")"
	fi
	stop_vm "du-$b" "$pid"
	if [ -z "$why" ]; then
		pass snapshot-diff-$b-untracked
	else
		fail snapshot-diff-$b-untracked "${why#; }"
	fi
done
