#!/usr/bin/env bash
# Live migration with the KVM backend (docs/migration.md): KVM's dirty log
# (KVM_MEM_LOG_DIRTY_PAGES, KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG) gives
# the pages the guest wrote during pre-copy, and the machine state crosses
# backends in its neutral form. KVM is this script's subject: without a
# usable /dev/kvm it skips (make test-kvm runs it on a real KVM, nested
# where the host has none).
#   kit guest dirtymem (rewrites 4 MiB, a quarter of its pages each pass,
#   and checks every page against its own table: a page whose last write a
#   migration did not carry over makes it print FAIL), its CPU pinned to
#   x86-64-v2 so that both backends can give it:
#   - KVM to KVM over a Unix socket;
#   - the software CPU to KVM over a Unix socket;
#   - KVM to the software CPU over loopback TCP, zstd-compressed;
#   each time `vmon migrate` exits 0, the source's vmon exits 0, the
#   target's passes go on from where the source's stopped, and no check
#   fails on either side;
#   - a KVM target limited to x86-64-v2 refuses a software-CPU guest with
#     svm before the source pauses (the early CPU check against what KVM
#     offers, docs/migration.md): `vmon migrate` and the target exit 2
#     naming svm, no page was sent, and the source's guest goes on.
# No timing thresholds: every wait is for an event, with a generous limit.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib/migrate_wait.sh"

DIRTY=$GUESTS/dirtymem.elf
LIMIT=${MIGRATE_LIMIT:-300}
NAMES="migrate-kvm-to-kvm migrate-emu-to-kvm migrate-kvm-to-emu migrate-kvm-target-refuses-early"
if ! have_kvm; then
	for n in $NAMES; do skip "$n" "/dev/kvm is not usable here (make test-kvm runs it)"; done
	exit 0
fi
if [ ! -f "$DIRTY" ]; then
	for n in $NAMES; do skip "$n" "no $DIRTY (make)"; done
	exit 0
fi
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# wait_listen PORT: until a socket listens on PORT (/proc/net/tcp: a
# connection would be the one the receiver accepts).
wait_listen() {
	local hex
	hex=$(printf ':%04X' "$1")
	for _ in $(seq 1 $((LIMIT * 10))); do
		awk -v p="$hex" 'substr($2, length($2) - 4) == p && $4 == "0A" { f = 1 }
			END { exit !f }' /proc/net/tcp && return 0
		sleep 0.1
	done
	return 1
}

# kit_migrate NAME FROM TO URL [MIGRATE-OPTIONS...]: dirtymem on backend
# FROM migrated to a receiver on backend TO listening on URL.
kit_migrate() {
	local name=$1 from=$2 to=$3 url=$4 d=$TMP/$1
	shift 4
	mkdir -p "$d"
	"$VMON" run --backend "$from" --cpu-features x86-64-v2 --id "$name-src" --kernel "$DIRTY" \
		--mem 64M --cmdline "mib=4 every=20" </dev/null >"$d/src.out" 2>"$d/src.err" &
	local spid=$!
	PIDS+=("$spid")
	if ! wait_pass "$d/src.out" 40 "$spid"; then
		fail "$name" "the source did not run: $(tail -c 300 "$d/src.err")"
		return
	fi
	"$VMON" run --incoming "$url" --backend "$to" --id "$name-dst" </dev/null \
		>"$d/dst.out" 2>"$d/dst.err" &
	local dpid=$!
	PIDS+=("$dpid")
	case $url in
	unix:*) wait_sock "${url#unix:}" ;;
	tcp:*) wait_listen "${url##*:}" ;;
	esac
	"$VMON" migrate "$name-src" --to "$url" "$@" >"$d/mig.out" 2>"$d/mig.err"
	local rc=$?
	gone_status=
	[ $rc -ne 0 ] || wait_gone "$spid"
	local src_rc=${gone_status:-running}
	local last
	last=$(passes "$d/src.out" | tail -n1)
	if [ $rc -ne 0 ] || [ "$src_rc" != 0 ]; then
		fail "$name" "vmon migrate: $rc ($(cat "$d/mig.out" "$d/mig.err" | tail -c 300)); source: $src_rc ($(tail -c 300 "$d/src.err")); target: $(tail -c 300 "$d/dst.err")"
	elif ! wait_pass "$d/dst.out" $((last + 40)) "$dpid"; then
		fail "$name" "the target did not go on past pass $last: $(tail -c 300 "$d/dst.out") $(tail -c 300 "$d/dst.err")"
	elif grep -qa FAIL "$d/dst.out" "$d/src.out"; then
		fail "$name" "a page was lost: $(grep -ha FAIL "$d/dst.out" "$d/src.out" | head -c 300)"
	else
		local first
		first=$(passes "$d/dst.out" | head -n1)
		if [ "$first" -gt "$last" ]; then
			pass "$name"
		else
			fail "$name" "the target's first pass $first is not after the source's last $last"
		fi
	fi
	echo "# $name: $(grep -h 'migrated' "$d/src.err" "$d/mig.out" | tr '\n' ' ')" >&2
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
	return 0 # (the target's status, 143 after the kill, is no result)
}

kit_migrate migrate-kvm-to-kvm kvm kvm "unix:$TMP/kk.sock"
kit_migrate migrate-emu-to-kvm emu kvm "unix:$TMP/ek.sock"
kit_migrate migrate-kvm-to-emu kvm emu "tcp:127.0.0.1:$(free_port)" --compress

# ---- a KVM target refuses before the source pauses -------------------
d=$TMP/early
mkdir -p "$d"
"$VMON" run --backend emu --cpu-features x86-64-v2,+svm --id early --kernel "$DIRTY" \
	--mem 64M --cmdline "every=20" </dev/null >"$d/src.out" 2>"$d/src.err" &
spid=$!
PIDS+=("$spid")
if ! wait_pass "$d/src.out" 10 "$spid"; then
	fail migrate-kvm-target-refuses-early "the source did not run: $(tail -c 300 "$d/src.err")"
else
	"$VMON" run --incoming "unix:$d/m.sock" --backend kvm --cpu-features x86-64-v2 \
		--id early-dst </dev/null >"$d/dst.out" 2>"$d/dst.err" &
	dpid=$!
	PIDS+=("$dpid")
	wait_sock "$d/m.sock"
	"$VMON" migrate early --to "unix:$d/m.sock" >"$d/mig.out" 2>"$d/mig.err"
	mrc=$?
	wait_gone "$dpid"
	drc=${gone_status:-running}
	st=$(curl -s --unix-socket "$VMON_RUNTIME_DIR/early.sock" http://localhost/migrate)
	n=$(passes "$d/src.out" | tail -n1)
	if [ $mrc -eq 2 ] && grep -q "kvm backend.*cannot give the guest's CPU feature svm" "$d/mig.err" &&
		[ "$drc" = 2 ] && grep -q svm "$d/dst.err" &&
		echo "$st" | grep -q '"refused": *true' &&
		echo "$st" | grep -q '"pages_sent": *0[,}]' &&
		wait_pass "$d/src.out" $((n + 10)) "$spid" && ! grep -qa FAIL "$d/src.out"; then
		pass migrate-kvm-target-refuses-early
	else
		fail migrate-kvm-target-refuses-early "migrate: $mrc ($(cat "$d/mig.out" "$d/mig.err")), target: $drc ($(cat "$d/dst.err")), GET /migrate: $st, passes $n then $(passes "$d/src.out" | tail -n1)"
	fi
fi
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
exit 0 # (the source's status, 143 after the kill, is no result)
