#!/usr/bin/env bash
# virtio-balloon under Debian's Linux guest (make guest: its initramfs loads
# virtio_balloon) on every usable backend (the software CPU here; KVM too
# under make test-kvm), 512 MiB of RAM. vmon's guest RAM is
# a memfd, so what the guest touches shows in the resident size (Rss in
# /proc/PID/smaps) of that one mapping, "vmon-guest-ram". (Not RssShmem:
# that also counts the software CPU's code arena, another memfd, which
# grows while the guest runs new code.)
# Boot 1 (--balloon 0,stats=1):
#   - inflate: the guest fills 380 MiB of a tmpfs and frees it (the host
#     keeps those pages); `vmon balloon ID 200` inflates by 200 MiB and
#     guest RAM's resident size drops by 200 MiB less the RAM that was
#     never touched before (the balloon may take such pages, and a page
#     the guest touches first meanwhile can only come from there), and by
#     at least 100 MiB; the guest's MemTotal drops
#     by 200 MiB (without deflate_on_oom, Linux takes ballooned pages off
#     its total);
#   - deflate: `vmon balloon ID 0` gives them back: MemTotal as before;
#   - stats: GET /balloon/statistics has the guest's total and free memory
#     and target/actual; GET /balloon the configuration;
#   - api-errors: a target above the guest's memory, PUT /balloon after the
#     start, turning polling off, an unknown field: 400 with fault_message;
#     a bad --balloon value: one line, status 2.
# Boot 2 (--balloon 0,free_page_reporting=on):
#   - reporting: after the guest frees 380 MiB it had filled, the guest
#     RAM's resident size falls by at least 180 MiB with no balloon target at all (the
#     guest reports free pages; polled until it happens or LIMIT s), the
#     same measure as above;
#   - stats-off: GET /balloon/statistics without stats= is a 400.
# Snapshot: boot 1 is snapshotted while its balloon holds 200 MiB (vmon
# snapshot, which resumes it); the snapshot restored in a new process has
# a balloon holding 200 MiB and a guest whose MemTotal is as before.
source "$(dirname "$0")/../lib.sh"

G=${GUEST_DIR:-$BUILD/guest}
P=balloon
NAMES=("$P-inflate-rss" "$P-inflate-memtotal" "$P-deflate" "$P-stats" "$P-api-errors"
	"$P-bad-cli" "$P-reporting" "$P-stats-off" "$P-snapshot")
need_guest_files bzImage initramfs.cpio.gz
gzip -dc "$G/initramfs.cpio.gz" | cpio -t 2>/dev/null | grep -q virtio_balloon.ko ||
	skip_all "the guest's initramfs has no virtio_balloon module (run make guest again)"
LIMIT=${BALLOON_LIMIT:-600}

"$VMON" run --backend emu --kernel /nonexistent --balloon 12parsecs >"$TMP/bad.out" 2>"$TMP/bad.err"
st=$?
if [ $st = 2 ] && [ "$(wc -l <"$TMP/bad.err")" = 1 ]; then pass "$P-bad-cli"; else
	fail "$P-bad-cli" "status $st, stderr: $(cat "$TMP/bad.err")"; fi

# boot NAME BALLOON-SPEC: starts the guest with its console on a FIFO that
# fd 3 keeps open.
boot() {
	local name=$1
	mkfifo "$TMP/$name.in"
	"$VMON" run --backend "$B" --id "$name" --kernel "$G/bzImage" \
		--initrd "$G/initramfs.cpio.gz" --cmdline "console=ttyS0 quiet" --mem 512 \
		--api-sock "$TMP/$name.sock" --balloon "$2" \
		<"$TMP/$name.in" >"$TMP/$name.raw" 2>"$TMP/$name.err" &
	vm_pid=$!
	exec 3>"$TMP/$name.in"
	echo "stty cols 4000" >&3
	SOCK=$TMP/$name.sock
	CUR=$name
}
finish() {
	echo "poweroff -f" >&3
	for _ in $(seq 300); do kill -0 $vm_pid 2>/dev/null || break; sleep 0.1; done
	kill -9 $vm_pid 2>/dev/null
	wait $vm_pid 2>/dev/null
	exec 3>&-
}
out() { tr -d '\r' <"$TMP/$CUR.raw"; }
# wait_line REGEX: the guest printed a matching line (false after LIMIT s
# or when the VM ended).
wait_line() {
	for _ in $(seq $((LIMIT * 10))); do
		out | grep -qE "$1" && return 0
		kill -0 $vm_pid 2>/dev/null || break
		sleep 0.1
	done
	out | grep -qE "$1"
}
value() { out | sed -n "s/^$1=//p" | tail -n1; }
# ram_kb [Size]: the guest RAM mapping's resident size (or its size), kB.
ram_kb() {
	awk -v f="${1:-Rss}:" '/^[0-9a-f]+-[0-9a-f]+ / { ram = index($0, "vmon-guest-ram") > 0 }
		ram && $1 == f { n += $2 } END { print n + 0 }' "/proc/$vm_pid/smaps"
}
source "$(dirname "$0")/../lib/api_req.sh"
# wait_actual MIB: until the balloon holds MIB (GET /balloon/statistics).
wait_actual() {
	for _ in $(seq $((LIMIT * 5))); do
		req GET /balloon/statistics
		echo "$body" | grep -q "\"actual_mib\":$1," && return 0
		kill -0 $vm_pid 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}
why() { echo "guest: $(out | tail -c 300 | tr '\n' ' ') stderr: $(head -c 300 "$TMP/$CUR.err")"; }

# balloon_suite: boots 1 and 2 and the restore on backend $B; the test
# names carry the backend after "balloon-" on KVM (the software CPU's keep
# their first names).
balloon_suite() {
# ---- boot 1: inflate, deflate, stats, errors ------------------------------
	boot ${B}b1 0,stats=1
	cat >&3 <<-'EOF'
	echo "TOTAL0=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
	mkdir -p /t && mount -t tmpfs -o size=440m tmpfs /t
	dd if=/dev/zero of=/t/big bs=1M count=380 2>/dev/null; echo "FILLED=$?"; rm /t/big
	EOF
	if ! wait_line '^FILLED=0'; then
		for n in inflate-rss inflate-memtotal deflate stats api-errors; do
			fail "$P-$n" "the guest did not fill its memory; $(why)"
		done
	else
		r0=$(ram_kb) size=$(ram_kb Size)
		"$VMON" balloon ${B}b1 200 2>"$TMP/cli.err" || echo "# vmon balloon: $(cat "$TMP/cli.err")" >&2
		if wait_actual 200; then
			r1=$(ram_kb)
			# Never-touched RAM before the inflation: the most the drop can fall
			# short of 200 MiB by.
			need=$((200 * 1024 - (size - r0)))
			# (Under 100 MiB the check would say little: the guest left too much
			# RAM untouched; that fails too.)
			[ $need -lt $((100 * 1024)) ] && need=$((100 * 1024))
			echo "# guest RAM resident before $r0 kB (of $size), after inflating 200 MiB $r1 kB; drop needed $need kB" >&2
			if [ $((r0 - r1)) -ge $need ]; then pass "$P-inflate-rss"; else
				fail "$P-inflate-rss" "guest RAM resident $r0 -> $r1 kB (of $size): less than $need kB returned"; fi
			echo 'echo "TOTAL1=$(sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo)"' >&3
			wait_line '^TOTAL1=[0-9]'
			t0=$(value TOTAL0) t1=$(value TOTAL1)
			if [ -n "$t0" ] && [ -n "$t1" ] && [ $((t0 - t1)) = 204800 ]; then
				pass "$P-inflate-memtotal"
			else
				fail "$P-inflate-memtotal" "MemTotal $t0 -> $t1 kB, want 204800 kB less; $(why)"
			fi
			"$VMON" snapshot ${B}b1 "$TMP/$B-snap" >/dev/null 2>"$TMP/$B-snap.err" || echo "# vmon snapshot: $(cat "$TMP/$B-snap.err")" >&2
			req GET /balloon/statistics
			if echo "$body" | grep -q '"total_memory":[1-9]' &&
				echo "$body" | grep -q '"free_memory":[1-9]' &&
				echo "$body" | grep -q '"target_mib":200,'; then
				req GET /balloon
				if echo "$body" | grep -q '"amount_mib":200' &&
					echo "$body" | grep -q '"stats_polling_interval_s":1'; then
					pass "$P-stats"
				else
					fail "$P-stats" "GET /balloon: $body"
				fi
			else
				fail "$P-stats" "GET /balloon/statistics: $body"
			fi
		else
			fail "$P-inflate-rss" "the balloon never held 200 MiB: $body; $(why)"
			fail "$P-inflate-memtotal" "no inflation"
			fail "$P-stats" "no inflation"
		fi
		"$VMON" balloon ${B}b1 0
		if wait_actual 0; then
			echo 'echo "TOTAL2=$(sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo)"' >&3
			wait_line '^TOTAL2=[0-9]'
			if [ "$(value TOTAL2)" = "$(value TOTAL0)" ]; then pass "$P-deflate"; else
				fail "$P-deflate" "MemTotal $(value TOTAL0) at first, $(value TOTAL2) after the deflate"; fi
		else
			fail "$P-deflate" "the balloon did not deflate: $body"
		fi
		errs=""
		req PATCH /balloon '{"amount_mib": 4096}'
		[ "$code" = 400 ] && echo "$body" | grep -q "more than the guest's memory" || errs="$errs too-big:$code:$body"
		req PUT /balloon '{"amount_mib": 10, "deflate_on_oom": false}'
		[ "$code" = 400 ] && echo "$body" | grep -q "fault_message" || errs="$errs put-after-start:$code:$body"
		req PATCH /balloon/statistics '{"stats_polling_interval_s": 0}'
		[ "$code" = 400 ] && echo "$body" | grep -q "cannot be turned off" || errs="$errs stats-off:$code:$body"
		req PATCH /balloon '{"amount_mib": 10, "colour": 1}'
		[ "$code" = 400 ] && echo "$body" | grep -q "unknown field 'colour'" || errs="$errs field:$code:$body"
		req PATCH /balloon '{"amount_mib": -1}'
		[ "$code" = 400 ] || errs="$errs negative:$code:$body"
		if [ -z "$errs" ]; then pass "$P-api-errors"; else fail "$P-api-errors" "$errs"; fi
	fi
	finish

	# ---- the snapshot taken with 200 MiB in the balloon, restored -------------
	if [ -f "$TMP/$B-snap/vmstate" ]; then
		mkfifo "$TMP/${B}b1r.in"
		"$VMON" restore "$TMP/$B-snap" --backend $B --id ${B}b1r --api-sock "$TMP/${B}b1r.sock" \
			<"$TMP/${B}b1r.in" >"$TMP/${B}b1r.raw" 2>"$TMP/${B}b1r.err" &
		vm_pid=$!
		exec 3>"$TMP/${B}b1r.in"
		SOCK=$TMP/${B}b1r.sock CUR=${B}b1r
		if wait_actual 200; then
			echo 'echo "TOTAL3=$(sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo)"' >&3
			wait_line '^TOTAL3=[0-9]'
			if [ -n "$t1" ] && [ "$(value TOTAL3)" = "$t1" ]; then pass "$P-snapshot"; else
				fail "$P-snapshot" "restored MemTotal '$(value TOTAL3)', want '$t1' (as when saved); $(why)"; fi
		else
			fail "$P-snapshot" "the restored balloon does not hold 200 MiB: $body; $(why)"
		fi
		finish
	else
		fail "$P-snapshot" "no snapshot: $(cat "$TMP/$B-snap.err" 2>/dev/null)"
	fi

	# ---- boot 2: free page reporting -----------------------------------------
	boot ${B}b2 0,free_page_reporting=on
	echo 'mkdir -p /t && mount -t tmpfs -o size=440m tmpfs /t' >&3
	echo 'dd if=/dev/zero of=/t/big bs=1M count=380 2>/dev/null; echo "FILLED=$?"' >&3
	if ! wait_line '^FILLED=0'; then
		fail "$P-reporting" "the guest did not fill its memory; $(why)"
	else
		r0=$(ram_kb)
		echo 'rm /t/big; echo "FREED=$?"' >&3
		wait_line '^FREED=0'
		ok=0
		for _ in $(seq $((LIMIT * 5))); do
			r1=$(ram_kb)
			[ -n "$r1" ] && [ $((r0 - r1)) -ge $((180 * 1024)) ] && { ok=1; break; }
			kill -0 $vm_pid 2>/dev/null || break
			sleep 0.2
		done
		echo "# reporting: guest RAM resident $r0 -> $r1 kB" >&2
		if [ $ok = 1 ]; then pass "$P-reporting"; else
			fail "$P-reporting" "guest RAM resident $r0 -> $r1 kB after the guest freed 380 MiB; $(why)"; fi
	fi
	req GET /balloon/statistics
	if [ "$code" = 400 ] && echo "$body" | grep -q "not enabled"; then pass "$P-stats-off"; else
		fail "$P-stats-off" "HTTP $code: $body"; fi
	finish
}

for B in $(usable_backends); do
	if [ "$B" = emu ]; then P=balloon; else P=balloon-$B; fi
	balloon_suite
done
