#!/usr/bin/env bash
# Live migration (docs/migration.md) on the software CPU.
#   kit guest dirtymem (keeps rewriting 16 MiB and checking every page
#   against its own table: a page a migration failed to carry over makes
#   it print FAIL):
#   - migrated over a Unix socket, over loopback TCP, and compressed
#     (zstd, with a 50 ms downtime budget): `vmon migrate`
#     exits 0, the source's vmon exits 0, the target's passes go on from
#     where the source's stopped, and no check fails; over the Unix
#     socket with a NIC (--net user) its guest has no driver for: the
#     target sends a RARP for its MAC (rarps_sent in its metrics);
#   - cancelled mid-way (the stream slowed to 1 MB/s): `vmon migrate
#     --cancel` ends it, the source keeps running (its passes go on, the
#     API answers), the target ends with one line and status 2;
#   - held in its final, paused phase (a target that reads the stream and
#     never says READY): GET / and vmon ps say Paused, GET /migrate
#     "device"; a cancel resumes it (Running, its passes go on); (it
#     accepts the CPU record: migrate_cpu.sh covers a refusal there);
#   - a target that cannot build the VM (its drive's image is missing
#     there) ends with one line, refusing before round 0 (vmon migrate
#     exits 2); the source runs on, its disk's lock held;
#   - with a disk, through a relay that reads the records as they pass:
#     the source holds the image's lock until it has flushed it, and has
#     dropped it when the end record comes; the target then opens the
#     image again by its path and locks it (the guest runs on there, a
#     second writer is refused); an image replaced at its path before
#     the end record is refused by the target (one line, status 2), the
#     source running on;
#   - the receiver refuses bad streams (wrong magic, version, RAM size, a
#     page run outside RAM, a truncated stream, an unknown record, a bad
#     machine state; a version-2 stream without its CPU record first, with
#     an unknown feature or an oversized one; a version-3 stream without
#     its machine record after the CPU record, with an oversized or a
#     malformed one) with one line and status 2;
#   - plain TCP to or on a non-loopback address without --insecure is
#     refused with one line and status 2;
#   - TLS (certificates made here with certtool: a CA, the target's and
#     the source's, and a second, unrelated CA): dirtymem migrated over
#     TLS to the host's own non-loopback address when it has one (no
#     --insecure needed; 127.0.0.1 otherwise), the target's name checked;
#     refused, the target ending with one line and status 2 and the
#     source running on, when the source trusts another CA, when the
#     target does, when the name does not match, and when the source
#     speaks plain TCP to a TLS target; a missing certificate file is one
#     line and status 2 on both sides.
#   The default Linux guest with 2 vCPUs and a virtio disk, running a
#   loop that appends fsynced numbered lines to the disk, appends to a
#   file in its tmpfs and prints COUNT=N every 0.1 s, after writing 8 MiB
#   of random data to /tmp/big: migrated over a Unix socket, then again
#   over loopback TCP to a third process, then over TLS to a fourth;
#   then between two "hosts", network namespaces the test makes joined by
#   a veth pair (needs root; skipped with the reason otherwise): over a
#   Unix socket into namespace A, over TLS from A to B and back from B to
#   A — six hops in all, back and forth. The
#   guest has a NIC (--net user, eth0 up): after the first hop its driver
#   acks the announce the target asks for (announce_acks in the target's
#   metrics: VIRTIO_NET_S_ANNOUNCE, then VIRTIO_NET_CTRL_ANNOUNCE_ACK on
#   the control queue). Each time the source exits 0,
#   the counter goes on where it was, /tmp/big has the same MD5, the tmpfs
#   log holds every line, and at the end the disk holds every line the
#   guest counted.
# No timing thresholds: every wait is for an event, with a generous limit.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib/migrate_wait.sh"

G=${GUEST_DIR:-$BUILD/guest}
DIRTY=$GUESTS/dirtymem.elf
LIMIT=${MIGRATE_LIMIT:-300}
PIDS=()
NETNS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# wait_for FILE PATTERN [PID]: up to LIMIT s for PATTERN in FILE (while
# PID, if given, lives).
wait_for() {
	for _ in $(seq 1 $((LIMIT * 5))); do
		grep -qa -- "$2" "$1" 2>/dev/null && return 0
		[ -z "${3:-}" ] || kill -0 "$3" 2>/dev/null || {
			grep -qa -- "$2" "$1" 2>/dev/null
			return
		}
		sleep 0.2
	done
	return 1
}
# wait_listen PORT: until a socket listens on PORT (seen in /proc/net/tcp:
# connecting to it would be the one connection the receiver accepts).
wait_listen() {
	local hex
	hex=$(printf ':%04X' "$1")
	for _ in $(seq 1 $((LIMIT * 10))); do
		"${HOP_NS[@]}" awk -v p="$hex" 'substr($2, length($2) - 4) == p && $4 == "0A" { f = 1 }
			END { exit !f }' /proc/net/tcp && return 0
		sleep 0.1
	done
	return 1
}
# wait_metric ID REGEX: until VM ID's metrics (flushed on request through
# its API) match REGEX.
wait_metric() {
	local sock=$VMON_RUNTIME_DIR/$1.sock m=$TMP/$1.metrics
	curl -s --unix-socket "$sock" -X PUT http://localhost/metrics \
		-d "{\"metrics_path\": \"$m\"}" >/dev/null
	for _ in $(seq 1 $((LIMIT * 2))); do
		curl -s --unix-socket "$sock" -X PUT http://localhost/actions \
			-d '{"action_type": "FlushMetrics"}' >/dev/null
		grep -qE -- "$2" "$m" 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}
# one_line_2 NAME RC ERRFILE TEXT: status 2 and one line holding TEXT.
one_line_2() {
	if [ "$2" -eq 2 ] && [ "$(wc -l <"$3")" -eq 1 ] && grep -qF -- "$4" "$3"; then
		pass "$1"
	else
		fail "$1" "status $2, want 2 and one line with '$4': $(head -c 400 "$3")"
	fi
}

# ---- TLS certificates ------------------------------------------------
# mkcert NAME CN TEMPLATE-LINES [CA]: NAME.key and NAME.pem in $CERTS,
# signed by CA (self-signed without).
CERTS=$TMP/certs
mkcert() {
	certtool --generate-privkey --key-type=ecdsa --outfile "$CERTS/$1.key" 2>/dev/null &&
		printf 'cn = "%s"\nexpiration_days = 2\n%b\n' "$2" "$3" >"$CERTS/$1.tmpl" &&
		if [ -z "${4:-}" ]; then
			certtool --generate-self-signed --load-privkey "$CERTS/$1.key" \
				--template "$CERTS/$1.tmpl" --outfile "$CERTS/$1.pem" 2>/dev/null
		else
			certtool --generate-certificate --load-privkey "$CERTS/$1.key" \
				--load-ca-certificate "$CERTS/$4.pem" --load-ca-privkey "$CERTS/$4.key" \
				--template "$CERTS/$1.tmpl" --outfile "$CERTS/$1.pem" 2>/dev/null
		fi
}
# The host's own non-loopback IPv4 address, if it has one: TLS to it
# needs no --insecure.
HOST_IP=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
TLS_IP=${HOST_IP:-127.0.0.1}
HAVE_TLS=
if command -v certtool >/dev/null && mkdir -p "$CERTS" &&
	mkcert ca "vmon test CA" 'ca\ncert_signing_key' &&
	mkcert ca2 "unrelated CA" 'ca\ncert_signing_key' &&
	mkcert target vmon-target "dns_name = \"vmon-target\"\nip_address = \"127.0.0.1\"\nip_address = \"$TLS_IP\"\ntls_www_server\nsigning_key" ca &&
	mkcert source vmon-source 'tls_www_client\nsigning_key' ca; then
	HAVE_TLS=1
fi
TLS_TARGET=(--tls-cert "$CERTS/target.pem" --tls-key "$CERTS/target.key" --tls-ca "$CERTS/ca.pem")
TLS_SOURCE=(--tls-cert "$CERTS/source.pem" --tls-key "$CERTS/source.key" --tls-ca "$CERTS/ca.pem")
KIT_IN=()
KIT_SRC=()
KIT_RARP=

# ---- kit guest: dirtymem over unix and tcp ----------------------------
# kit_migrate NAME URL [MIGRATE-OPTIONS...]: dirtymem from a source to a
# receiver on URL (started with the options in KIT_IN).
kit_migrate() {
	local name=$1 url=$2 d=$TMP/$1
	shift 2
	mkdir -p "$d"
	"$VMON" run --backend emu --id "$name-src" --kernel "$DIRTY" --mem 64M \
		--cmdline "every=20" "${KIT_SRC[@]}" </dev/null >"$d/src.out" 2>"$d/src.err" &
	local spid=$!
	PIDS+=("$spid")
	if ! wait_pass "$d/src.out" 40 "$spid"; then
		fail "$name" "the source did not run: $(tail -c 300 "$d/src.err")"
		return
	fi
	"$VMON" run --incoming "$url" --id "$name-dst" "${KIT_IN[@]}" </dev/null >"$d/dst.out" 2>"$d/dst.err" &
	local dpid=$!
	PIDS+=("$dpid")
	case $url in
	unix:*) wait_sock "${url#unix:}" ;;
	tcp:*) wait_listen "${url##*:}" ;;
	esac
	"$VMON" migrate "$name-src" --to "$url" "$@" >"$d/mig.out" 2>"$d/mig.err"
	local rc=$?
	local src_rc=running
	gone_status=
	[ $rc -ne 0 ] || wait_gone "$spid"
	src_rc=${gone_status:-running}
	local last
	last=$(passes "$d/src.out" | tail -n1)
	if [ $rc -ne 0 ] || [ "$src_rc" != 0 ]; then
		fail "$name" "vmon migrate: $rc ($(cat "$d/mig.out" "$d/mig.err" | tail -c 300)); source: $src_rc ($(tail -c 300 "$d/src.err"))"
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
	if [ -n "$KIT_RARP" ]; then
		# The guest has no virtio-net driver: vmon announces its MAC.
		if wait_metric "$name-dst" '"rarps_sent": *1[,}]'; then
			pass "$KIT_RARP"
		else
			fail "$KIT_RARP" "no RARP counted on the target: $(tail -c 600 "$TMP/$name-dst.metrics")"
		fi
	fi
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
}

if [ ! -f "$DIRTY" ]; then
	for n in migrate-kit-unix migrate-kit-tcp migrate-kit-zstd migrate-kit-cancel \
		migrate-kit-target-refuses migrate-kit-tls migrate-kit-rarp migrate-paused-state \
		migrate-kit-disk-handover migrate-kit-disk-replaced; do
		skip "$n" "no $DIRTY (make)"
	done
else
	KIT_SRC=(--net user)
	KIT_RARP=migrate-kit-rarp
	kit_migrate migrate-kit-unix "unix:$TMP/kit.sock"
	KIT_SRC=()
	KIT_RARP=
	kit_migrate migrate-kit-tcp "tcp:127.0.0.1:$(free_port)"
	kit_migrate migrate-kit-zstd "unix:$TMP/kitz.sock" --compress --max-downtime 50
	if [ -n "$HAVE_TLS" ]; then
		echo "# migrate-kit-tls: to tcp:$TLS_IP" >&2
		KIT_IN=("${TLS_TARGET[@]}")
		kit_migrate migrate-kit-tls "tcp:$TLS_IP:$(free_port)" "${TLS_SOURCE[@]}" \
			--tls-hostname vmon-target
		KIT_IN=()
	else
		skip migrate-kit-tls "no certtool (gnutls-bin)"
	fi

	# ---- cancel ----------------------------------------------------
	d=$TMP/cancel
	mkdir -p "$d"
	"$VMON" run --backend emu --id cancel-src --kernel "$DIRTY" --mem 64M --cmdline "every=20" \
		</dev/null >"$d/src.out" 2>"$d/src.err" &
	spid=$!
	PIDS+=("$spid")
	wait_pass "$d/src.out" 20 "$spid"
	"$VMON" run --incoming "unix:$d/m.sock" --id cancel-dst </dev/null >"$d/dst.out" 2>"$d/dst.err" &
	dpid=$!
	PIDS+=("$dpid")
	wait_sock "$d/m.sock"
	# 1 MB/s: the first pass over 16 MiB of written pages takes a while.
	"$VMON" migrate cancel-src --to "unix:$d/m.sock" --bandwidth 1 >"$d/mig.out" 2>"$d/mig.err" &
	mpid=$!
	wait_for "$d/mig.out" '^round ' "$mpid"
	"$VMON" migrate --cancel cancel-src >"$d/cancel.out" 2>"$d/cancel.err"
	crc=$?
	wait "$mpid"
	mrc=$?
	wait_gone "$dpid"
	drc=${gone_status:-none}
	n=$(passes "$d/src.out" | tail -n1)
	if [ $mrc -eq 1 ] && [ $crc -eq 0 ] && [ "$drc" = 2 ] && [ "$(wc -l <"$d/dst.err")" -eq 1 ] &&
		wait_pass "$d/src.out" $((n + 20)) "$spid" && "$VMON" ps | grep -q cancel-src &&
		! grep -qa FAIL "$d/src.out"; then
		pass migrate-kit-cancel
	else
		fail migrate-kit-cancel "migrate: $mrc ($(cat "$d/mig.err")), --cancel: $crc ($(cat "$d/cancel.err")), target: $drc ($(cat "$d/dst.err")), source passes $n then $(passes "$d/src.out" | tail -n1)"
	fi
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null

	# ---- held paused: the API says so ------------------------------
	# A target that takes the whole stream and never says READY holds
	# the source in its final phase, paused: GET / and vmon ps say
	# Paused (GET /migrate: "device"); a cancel resumes it (Running
	# again, its passes go on).
	d=$TMP/held
	mkdir -p "$d"
	"$VMON" run --backend emu --id held-src --kernel "$DIRTY" --mem 64M --cmdline "every=20" \
		</dev/null >"$d/src.out" 2>"$d/src.err" &
	spid=$!
	PIDS+=("$spid")
	wait_pass "$d/src.out" 20 "$spid"
	python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
c, _ = s.accept()
def take(n):
    b = b""
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x:
            sys.exit(0)
        b += x
    return b
# The header, then (stream version 2) the CPU record: accept it; and
# answer (stream version 3) the sync the source sends before it pauses
# (the machine record, the pages and the sync go to the loop below).
take(24)
t, n = struct.unpack("<II", take(8))
take(n)
c.sendall(b"AK")
while c.recv(1 << 20):
    pass' "$d/m.sock" &
	fpid=$!
	PIDS+=("$fpid")
	wait_sock "$d/m.sock"
	"$VMON" migrate held-src --to "unix:$d/m.sock" >"$d/mig.out" 2>"$d/mig.err" &
	mpid=$!
	held_state() {
		curl -s --unix-socket "$VMON_RUNTIME_DIR/held-src.sock" "http://localhost$1" |
			sed -n 's/.*"state": *"\([^"]*\)".*/\1/p'
	}
	# wait_state PATH STATE: until GET PATH says STATE.
	wait_state() {
		for _ in $(seq 1 $((LIMIT * 5))); do
			[ "$(held_state "$1")" = "$2" ] && return 0
			sleep 0.2
		done
		return 1
	}
	if wait_state /migrate device && wait_state / Paused; then
		ps_state=$("$VMON" ps | awk '$1 == "held-src" { print $2 }')
		"$VMON" migrate --cancel held-src >"$d/cancel.out" 2>"$d/cancel.err"
		crc=$?
		wait "$mpid"
		n=$(passes "$d/src.out" | tail -n1)
		if [ "$ps_state" = Paused ] && [ $crc -eq 0 ] && wait_state / Running &&
			wait_pass "$d/src.out" $((n + 20)) "$spid" && ! grep -qa FAIL "$d/src.out"; then
			pass migrate-paused-state
		else
			fail migrate-paused-state "vmon ps said '$ps_state'; --cancel: $crc ($(cat "$d/cancel.err")); then GET /: $(held_state /), passes $n then $(passes "$d/src.out" | tail -n1)"
		fi
	else
		fail migrate-paused-state "GET /migrate: $(held_state /migrate), GET /: $(held_state /) ($(cat "$d/mig.err"))"
		kill "$mpid" 2>/dev/null
		wait "$mpid" 2>/dev/null
	fi
	kill "$spid" "$fpid" 2>/dev/null
	wait "$spid" "$fpid" 2>/dev/null

	# ---- the target cannot build the VM ----------------------------
	# Its drive's image is missing there: it ends with one line; it
	# builds the machine before round 0 (stream version 3), so it refuses
	# then, as for a CPU it cannot give: vmon migrate exits 2 (a user
	# error: refused), the source runs on, still holding its disk's lock
	# (a second writer on the image is still refused).
	d=$TMP/refuse
	mkdir -p "$d"
	truncate -s 1M "$d/disk.img"
	"$VMON" run --backend emu --id refuse-src --kernel "$DIRTY" --mem 64M --cmdline "every=20" \
		--disk "$d/disk.img,id=d0" </dev/null >"$d/src.out" 2>"$d/src.err" &
	spid=$!
	PIDS+=("$spid")
	wait_pass "$d/src.out" 20 "$spid"
	"$VMON" run --incoming "unix:$d/m.sock" --disk-path "d0=$d/missing.img" \
		</dev/null >"$d/dst.out" 2>"$d/dst.err" &
	dpid=$!
	PIDS+=("$dpid")
	wait_sock "$d/m.sock"
	"$VMON" migrate refuse-src --to "unix:$d/m.sock" >"$d/mig.out" 2>"$d/mig.err"
	mrc=$?
	wait_gone "$dpid"
	drc=${gone_status:-none}
	n=$(passes "$d/src.out" | tail -n1)
	timeout -k 5 60 "$VMON" run --backend emu --kernel "$DIRTY" --disk "$d/disk.img" \
		</dev/null >"$d/second.out" 2>"$d/second.err"
	second=$?
	if [ $mrc -eq 2 ] && grep -q 'refused.*missing.img' "$d/mig.err" && [ "$drc" = 2 ] &&
		grep -q 'missing.img' "$d/dst.err" &&
		wait_pass "$d/src.out" $((n + 20)) "$spid" && [ $second -eq 2 ] &&
		grep -q 'in use' "$d/second.err"; then
		pass migrate-kit-target-refuses
	else
		fail migrate-kit-target-refuses "migrate: $mrc ($(cat "$d/mig.err")), target: $drc ($(cat "$d/dst.err")), source passes $n then $(passes "$d/src.out" | tail -n1) ($(tail -c 200 "$d/src.err")), second writer: $second ($(cat "$d/second.err"))"
	fi
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null

	# ---- the disk's hand-over --------------------------------------
	# A relay between the source and the target (a Unix socket each
	# side) reads the stream's records as they pass: right after the
	# header the source holds its image's lock; when the end record
	# comes, the source has flushed and dropped it (an OFD lock probe
	# of the image finds it free); the relay holds the end record back
	# until the test says go. Then the target opens the image again by
	# its path and locks it (what a file system that caches by open, NFS,
	# needs to show it the source's flushed writes):
	#   migrate-kit-disk-handover: the target runs the guest on, holding
	#     the lock (a second writer is refused), with the threads the
	#     source had (none parked or left over from its early build), the
	#     source exited 0;
	#   migrate-kit-disk-replaced: the image was replaced at its path
	#     (a copy moved over it) before the end record: the target's
	#     reopen finds another file and refuses with one line, status 2;
	#     the source runs on.
	cat >"$TMP/relay.py" <<'EOF'
import fcntl, os, socket, struct, sys, threading, time
listen_path, target_path, image, events = sys.argv[1:5]
F_OFD_GETLK = 36
FLOCK = "hh4xqqi4x"
def lock_state():
    fd = os.open(image, os.O_RDONLY)
    try:
        r = fcntl.fcntl(fd, F_OFD_GETLK, struct.pack(FLOCK, fcntl.F_WRLCK, 0, 0, 0, 0))
        return "free" if struct.unpack(FLOCK, r)[0] == fcntl.F_UNLCK else "held"
    finally:
        os.close(fd)
def note(s):
    with open(events, "a") as f:
        f.write(s + "\n")
ls = socket.socket(socket.AF_UNIX)
ls.bind(listen_path)
ls.listen(1)
src, _ = ls.accept()
dst = socket.socket(socket.AF_UNIX)
dst.connect(target_path)
def back():
    while True:
        b = dst.recv(65536)
        if not b:
            break
        src.sendall(b)
    src.shutdown(socket.SHUT_WR)
th = threading.Thread(target=back)
th.start()
def take(n):
    b = bytearray()
    while len(b) < n:
        x = src.recv(n - len(b))
        if not x:
            note("eof")
            sys.exit(0)
        b += x
    return bytes(b)
dst.sendall(take(24))
note("start " + lock_state())
while True:
    h = take(4)
    t = struct.unpack("<I", h)[0]
    if t in (3, 6, 7):  # state, CPU, machine: u32 length
        n = take(4)
        dst.sendall(h + n + take(struct.unpack("<I", n)[0]))
    elif t in (1, 2):  # pages, zero pages: u64 first, u32 count
        r = take(12)
        dst.sendall(h + r + (take(struct.unpack("<QI", r)[1] * 4096) if t == 1 else b""))
    elif t == 5:  # zstd pages: u64 first, u32 count, u32 bytes
        r = take(16)
        dst.sendall(h + r + take(struct.unpack("<QII", r)[2]))
    elif t == 8:  # sync
        dst.sendall(h)
    elif t == 4:  # end
        note("end " + lock_state())
        while not os.path.exists(events + ".go"):
            time.sleep(0.05)
        dst.sendall(h)
        break
    else:
        note("record %d" % t)
        sys.exit(1)
while True:
    b = src.recv(65536)
    if not b:
        break
    dst.sendall(b)
dst.shutdown(socket.SHUT_WR)
th.join()
EOF
	# thread_names PID: the names of the process's threads, sorted.
	thread_names() { cat /proc/"$1"/task/*/comm 2>/dev/null | sort | tr '\n' ' '; }
	# handover NAME REPLACE: one relayed migration of dirtymem with a
	# disk (REPLACE 1: the image replaced before the end record goes on).
	# Sets mrc, events, d, spid, dpid and src_threads (the source's
	# thread names before the migration).
	handover() {
		d=$TMP/$1
		mkdir -p "$d"
		truncate -s 1M "$d/disk.img"
		"$VMON" run --backend emu --id "$1-src" --kernel "$DIRTY" --mem 64M --cmdline "every=20" \
			--disk "$d/disk.img,id=d0" </dev/null >"$d/src.out" 2>"$d/src.err" &
		spid=$!
		PIDS+=("$spid")
		wait_pass "$d/src.out" 20 "$spid"
		src_threads=$(thread_names "$spid")
		"$VMON" run --incoming "unix:$d/t.sock" --id "$1-dst" </dev/null >"$d/dst.out" 2>"$d/dst.err" &
		dpid=$!
		PIDS+=("$dpid")
		wait_sock "$d/t.sock"
		python3 "$TMP/relay.py" "$d/r.sock" "$d/t.sock" "$d/disk.img" "$d/events" 2>"$d/relay.err" &
		rpid=$!
		PIDS+=("$rpid")
		wait_sock "$d/r.sock"
		"$VMON" migrate "$1-src" --to "unix:$d/r.sock" >"$d/mig.out" 2>"$d/mig.err" &
		mpid=$!
		wait_for "$d/events" '^end \|^eof\|^record' "$rpid"
		if [ "$2" = 1 ]; then
			cp "$d/disk.img" "$d/disk.new" && mv "$d/disk.new" "$d/disk.img"
		fi
		touch "$d/events.go"
		wait "$mpid"
		mrc=$?
		wait_gone "$rpid"
		events=$(tr '\n' ' ' <"$d/events" 2>/dev/null)
	}
	handover disk-handover 0
	wait_gone "$spid"
	src_rc=${gone_status:-running}
	n=$(passes "$d/src.out" | tail -n1)
	timeout -k 5 60 "$VMON" run --backend emu --kernel "$DIRTY" --disk "$d/disk.img" \
		</dev/null >"$d/second.out" 2>"$d/second.err"
	second=$?
	ran=0
	wait_pass "$d/dst.out" $((n + 20)) "$dpid" && ran=1
	dst_threads=$(thread_names "$dpid")
	if [ "$events" = "start held end free " ] && [ $mrc -eq 0 ] && [ "$src_rc" = 0 ] &&
		[ $ran = 1 ] && [ $second -eq 2 ] &&
		[ "$dst_threads" = "$src_threads" ] &&
		grep -q 'in use' "$d/second.err" && ! grep -qa FAIL "$d/dst.out"; then
		pass migrate-kit-disk-handover
	else
		fail migrate-kit-disk-handover "relay saw: '$events' ($(head -c 200 "$d/relay.err")); migrate: $mrc ($(cat "$d/mig.err")); source: $src_rc; target passes after $n: $(passes "$d/dst.out" | tail -n1) ($(tail -c 200 "$d/dst.err")); second writer: $second ($(cat "$d/second.err")); threads: source '$src_threads', target '$dst_threads'"
	fi
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null

	handover disk-replaced 1
	wait_gone "$dpid"
	drc=${gone_status:-running}
	n=$(passes "$d/src.out" | tail -n1)
	if [ "$events" = "start held end free " ] && [ $mrc -ne 0 ] && [ "$drc" = 2 ] &&
		[ "$(wc -l <"$d/dst.err")" -eq 1 ] && grep -q 'not the image opened before' "$d/dst.err" &&
		wait_pass "$d/src.out" $((n + 20)) "$spid" && ! grep -qa FAIL "$d/src.out"; then
		pass migrate-kit-disk-replaced
	else
		fail migrate-kit-disk-replaced "relay saw: '$events' ($(head -c 200 "$d/relay.err")); migrate: $mrc ($(cat "$d/mig.err")); target: $drc ($(cat "$d/dst.err")); source passes $n then $(passes "$d/src.out" | tail -n1) ($(tail -c 200 "$d/src.err"))"
	fi
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
fi

# ---- hostile streams --------------------------------------------------
# bad NAME TEXT PYTHON-EXPR: the receiver, fed the bytes the expression
# makes, exits 2 with one line holding TEXT.
bad() {
	local name=$1 text=$2 expr=$3 d=$TMP/bad-$1
	mkdir -p "$d"
	"$VMON" run --incoming "unix:$d/s" </dev/null >"$d/out" 2>"$d/err" &
	local pid=$!
	PIDS+=("$pid")
	wait_sock "$d/s"
	python3 - "$d/s" "$expr" <<'EOF'
import socket, struct, sys
def hdr(version=1, ram=64 << 20, flags=0, magic=b"VMONMIGR"):
    return magic + struct.pack("<IIQ", version, flags, ram)
def rec(t, *fields):
    return struct.pack("<I", t) + b"".join(fields)
P = lambda first, count: struct.pack("<QI", first, count)
data = eval(sys.argv[2])
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(data)
except OSError:
    pass
s.shutdown(socket.SHUT_WR)
try:
    s.recv(100)
except OSError:
    pass
EOF
	wait_gone "$pid"
	one_line_2 "migrate-bad-$name" "${gone_status:-none}" "$d/err" "$text"
}
bad magic "bad magic" 'b"NOTVMON!" + hdr()[8:]'
bad version "version 7" 'hdr(version=7)'
bad ram-size "guest RAM of" 'hdr(ram=12345)'
bad page-range "outside the guest" 'hdr() + rec(1, P(16383, 2)) + bytes(8192)'
bad run-length "page record of 0 pages" 'hdr() + rec(1, P(0, 0))'
bad truncated "ended early" 'hdr() + rec(1, P(0, 4)) + bytes(5000)'
bad record "unknown record type 9" 'hdr() + rec(9)'
bad state-size "machine state of" 'hdr() + rec(3, struct.pack("<I", 0x7fffffff))'
bad state "machine state:" 'hdr() + rec(3, struct.pack("<I", 16)) + bytes(16) + rec(4)'
bad no-state "without the machine state" 'hdr() + rec(4)'
bad zstd-unannounced "did not announce compression" 'hdr() + rec(5, P(0, 1), struct.pack("<I", 8)) + bytes(8)'
bad zstd-frame "bad compressed run" 'hdr(flags=1) + rec(5, P(0, 1), struct.pack("<I", 8)) + bytes(8)'
bad flags "unknown flags" 'hdr(flags=6)'
bad v2-no-cpu "where the CPU features belong" 'hdr(version=2) + rec(1, P(0, 1)) + bytes(4096)'
bad v2-cpu-unknown "unknown feature 'quantum'" 'hdr(version=2) + rec(6, struct.pack("<I", 12)) + b"sse2 quantum"'
bad v2-cpu-size "CPU features of" 'hdr(version=2) + rec(6, struct.pack("<I", 1 << 20))'
bad v3-no-machine "where the machine belongs" 'hdr(version=3) + rec(6, struct.pack("<I", 4)) + b"sse2" + rec(1, P(0, 1)) + bytes(4096)'
bad v3-machine-size "machine record of" 'hdr(version=3) + rec(6, struct.pack("<I", 4)) + b"sse2" + rec(7, struct.pack("<I", 1 << 24))'
bad v3-machine "machine record:" 'hdr(version=3) + rec(6, struct.pack("<I", 4)) + b"sse2" + rec(7, struct.pack("<I", 16)) + bytes(16)'

# ---- non-loopback TCP --------------------------------------------------
timeout -k 5 60 "$VMON" run --incoming tcp:192.0.2.1:4444 </dev/null >/dev/null 2>"$TMP/nl.err"
one_line_2 migrate-refuse-nonloopback-incoming $? "$TMP/nl.err" "not a loopback address"
if [ -f "$DIRTY" ]; then
	"$VMON" run --backend emu --id nl-src --kernel "$DIRTY" --mem 64M </dev/null >"$TMP/nl.out" 2>&1 &
	nlpid=$!
	PIDS+=("$nlpid")
	wait_for "$TMP/nl.out" 'dirtymem:' "$nlpid"
	timeout -k 5 60 "$VMON" migrate nl-src --to tcp:192.0.2.1:4444 >/dev/null 2>"$TMP/nl2.err"
	one_line_2 migrate-refuse-nonloopback-send $? "$TMP/nl2.err" "not a loopback address"
	kill "$nlpid" 2>/dev/null
	wait "$nlpid" 2>/dev/null
else
	skip migrate-refuse-nonloopback-send "no $DIRTY"
fi

# ---- TLS refusals ------------------------------------------------------
# tls_refused NAME TEXT TARGET-OPTIONS -- MIGRATE-OPTIONS: a TLS target
# (or a plain one) and a migration that must fail: vmon migrate exits 1,
# the target ends with status 2 and one line holding TEXT, and the source
# (tls-src) runs on.
tls_refused() {
	local name=$1 text=$2 d=$TMP/$1
	shift 2
	local tin=()
	while [ "$1" != -- ]; do
		tin+=("$1")
		shift
	done
	shift
	mkdir -p "$d"
	local port
	port=$(free_port)
	"$VMON" run --incoming "tcp:127.0.0.1:$port" "${tin[@]}" </dev/null >"$d/dst.out" 2>"$d/dst.err" &
	local dpid=$!
	PIDS+=("$dpid")
	wait_listen "$port"
	"$VMON" migrate tls-src --to "tcp:127.0.0.1:$port" "$@" >"$d/mig.out" 2>"$d/mig.err"
	local mrc=$?
	gone_status=
	wait_gone "$dpid"
	local n
	n=$(passes "$TMP/tls-src.out" | tail -n1)
	if [ $mrc -eq 1 ] && wait_pass "$TMP/tls-src.out" $((n + 10)) "$tlspid"; then
		one_line_2 "$name" "${gone_status:-none}" "$d/dst.err" "$text"
	else
		fail "$name" "migrate: $mrc ($(cat "$d/mig.err")), the source's passes: $n then $(passes "$TMP/tls-src.out" | tail -n1) ($(tail -c 200 "$TMP/tls-src.err"))"
	fi
	echo "# $name: source: $(cat "$d/mig.err")" >&2
}
TLS_NAMES="migrate-tls-wrong-ca-source migrate-tls-wrong-ca-target migrate-tls-hostname migrate-tls-plain-source migrate-tls-missing-file-incoming migrate-tls-missing-file-send migrate-tls-bad-cert-send"
if [ -z "$HAVE_TLS" ] || [ ! -f "$DIRTY" ]; then
	for n in $TLS_NAMES; do skip "$n" "no certtool (gnutls-bin) or no $DIRTY"; done
else
	"$VMON" run --backend emu --id tls-src --kernel "$DIRTY" --mem 64M --cmdline "every=20" \
		</dev/null >"$TMP/tls-src.out" 2>"$TMP/tls-src.err" &
	tlspid=$!
	PIDS+=("$tlspid")
	wait_pass "$TMP/tls-src.out" 20 "$tlspid"
	tls_refused migrate-tls-wrong-ca-source "TLS handshake" "${TLS_TARGET[@]}" -- \
		--tls-cert "$CERTS/source.pem" --tls-key "$CERTS/source.key" --tls-ca "$CERTS/ca2.pem"
	tls_refused migrate-tls-wrong-ca-target "issuer is unknown" \
		--tls-cert "$CERTS/target.pem" --tls-key "$CERTS/target.key" --tls-ca "$CERTS/ca2.pem" -- \
		"${TLS_SOURCE[@]}"
	tls_refused migrate-tls-hostname "TLS handshake" "${TLS_TARGET[@]}" -- "${TLS_SOURCE[@]}" \
		--tls-hostname not-the-target
	tls_refused migrate-tls-plain-source "TLS handshake" "${TLS_TARGET[@]}" --
	timeout -k 5 60 "$VMON" run --incoming "tcp:127.0.0.1:$(free_port)" "${TLS_TARGET[@]}" \
		--tls-key "$CERTS/nonexistent.key" </dev/null >/dev/null 2>"$TMP/tlsf.err"
	one_line_2 migrate-tls-missing-file-incoming $? "$TMP/tlsf.err" "nonexistent.key"
	timeout -k 5 60 "$VMON" migrate tls-src --to "tcp:127.0.0.1:$(free_port)" "${TLS_SOURCE[@]}" \
		--tls-ca "$CERTS/nonexistent.pem" </dev/null >/dev/null 2>"$TMP/tlsf2.err"
	one_line_2 migrate-tls-missing-file-send $? "$TMP/tlsf2.err" "nonexistent.pem"
	# A file that is there but holds no certificate: the VM's PUT
	# /migrate answers 400, the VM runs on.
	timeout -k 5 60 "$VMON" migrate tls-src --to "tcp:127.0.0.1:$(free_port)" "${TLS_SOURCE[@]}" \
		--tls-cert "$CERTS/ca.tmpl" </dev/null >/dev/null 2>"$TMP/tlsf3.err"
	one_line_2 migrate-tls-bad-cert-send $? "$TMP/tlsf3.err" "ca.tmpl"
	"$VMON" ps | grep -q tls-src || fail migrate-tls-source-alive "tls-src is gone: $(tail -c 300 "$TMP/tls-src.err")"
	kill "$tlspid" 2>/dev/null
	wait "$tlspid" 2>/dev/null
fi

# ---- Linux guest: unix, then tcp ------------------------------------
LNAMES="migrate-linux-unix migrate-linux-announce migrate-linux-tcp migrate-linux-tls migrate-linux-netns-unix migrate-linux-netns-tls-ab migrate-linux-netns-tls-ba migrate-linux-disk"
if [ ! -f "$G/bzImage" ] || [ ! -f "$G/initramfs.cpio.gz" ]; then
	for n in $LNAMES; do skip "$n" "no $G/bzImage (run make guest)"; done
	exit 0
fi
counts() { tr -d '\r' <"$1" | sed -n 's/^COUNT=\([0-9][0-9]*\)$/\1/p'; }
wait_count() { wait_above counts "$@"; }
disk_has() {
	for i in $(seq 1 "$2"); do
		[ "$(dd if="$1" bs=8 skip="$i" count=1 status=none)" = "$(printf 'L%06d' "$i")" ] ||
			{
				echo "line $i missing"
				return 1
			}
	done
}
D=$TMP/linux
mkdir -p "$D"
truncate -s 4M "$D/disk.img"
LOOP='i=0; while :; do i=$((i+1)); printf "L%06d\n" $i | dd of=/dev/vda bs=8 seek=$i conv=notrunc,fsync 2>/dev/null; echo "C$i" >>/tmp/log; echo "COUNT=$i"; sleep 0.1; done'
mkfifo "$D/in0" "$D/in1" "$D/in2" "$D/in3"
"$VMON" run --backend emu --cpus 2 --id lx0 --kernel "$G/bzImage" --initrd "$G/initramfs.cpio.gz" \
	--cmdline "console=ttyS0 quiet" --disk "$D/disk.img,id=d0" --net user \
	<"$D/in0" >"$D/out0" 2>"$D/err0" &
p0=$!
PIDS+=("$p0")
exec 7>"$D/in0"
if ! wait_for "$D/out0" 'vmon# ' "$p0"; then
	for n in $LNAMES; do fail "$n" "the Linux guest did not boot: $(tail -c 300 "$D/err0")"; done
	exit 0
fi
echo 'ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0' >&7
echo 'dd if=/dev/urandom of=/tmp/big bs=1M count=8 2>/dev/null; md5sum /tmp/big | sed "s/^/MD5A=/"' >&7
wait_for "$D/out0" '^MD5A=[0-9a-f]' "$p0"
md5a=$(tr -d '\r' <"$D/out0" | sed -n 's/^MD5A=\([0-9a-f]*\) .*/\1/p' | head -n1)
echo "($LOOP) &" >&7
wait_count "$D/out0" 5 "$p0"

# lx_hop NAME FROM-PID FROM-ID FROM-OUT URL TO-ID TO-IN TO-OUT: migrates
# (the target started with the options in HOP_IN, vmon migrate given
# those in HOP_MIG), then checks the counter, /tmp/big and /tmp/log on
# the target; sets $hop_pid.
HOP_IN=()
HOP_MIG=()
HOP_NS=() # the command prefix that puts the target in a network namespace
lx_hop() {
	local name=$1 fpid=$2 fid=$3 fout=$4 url=$5 tid=$6 tin=$7 tout=$8
	"${HOP_NS[@]}" "$VMON" run --incoming "$url" --id "$tid" "${HOP_IN[@]}" <"$tin" >"$tout" 2>"$tout.err" &
	hop_pid=$!
	PIDS+=("$hop_pid")
	exec 9>"$tin" # the target's console (the FIFO opens once both ends do)
	case $url in
	unix:*) wait_sock "${url#unix:}" ;;
	tcp:*) wait_listen "${url##*:}" ;;
	esac
	"$VMON" migrate "$fid" --to "$url" "${HOP_MIG[@]}" >"$D/$name.mig" 2>&1
	local rc=$?
	gone_status=
	[ $rc -ne 0 ] || wait_gone "$fpid"
	local frc=${gone_status:-running}
	local last
	last=$(counts "$fout" | tail -n1)
	echo "# $name: $(grep -h 'migrated' "$D/$name.mig" | tr '\n' ' ')" >&2
	if [ $rc -ne 0 ] || [ "$frc" != 0 ]; then
		fail "$name" "vmon migrate: $rc ($(tail -c 300 "$D/$name.mig")); source: $frc"
		return 1
	fi
	if ! wait_count "$tout" $((last + 3)) "$hop_pid"; then
		fail "$name" "the target's counter did not go on past $last: $(tail -c 300 "$tout") $(tail -c 300 "$tout.err")"
		return 1
	fi
	local first
	first=$(counts "$tout" | head -n1)
	# The line being printed at the switch may be cut: the first whole
	# one is the next or the one after.
	if [ "$first" -lt "$last" ] || [ "$first" -gt $((last + 2)) ]; then
		fail "$name" "last count on the source $last, first on the target $first"
		return 1
	fi
	# /tmp/log must hold C1, C2, ... in order, none missing.
	echo 'md5sum /tmp/big | sed "s/^/MD5B=/"; awk '"'"'$0 != "C" NR { bad++ } END { print "LOGN=" NR " LOGBAD=" bad + 0 }'"'"' /tmp/log' >&9
	if ! wait_for "$tout" '^LOGN=[0-9]' "$hop_pid" ||
		! wait_for "$tout" '^MD5B=[0-9a-f]' "$hop_pid"; then
		fail "$name" "no answer from the target's shell: $(tail -c 300 "$tout")"
		return 1
	fi
	local md5b logn logbad
	md5b=$(tr -d '\r' <"$tout" | sed -n 's/^MD5B=\([0-9a-f]*\) .*/\1/p' | tail -n1)
	logn=$(tr -d '\r' <"$tout" | sed -n 's/^LOGN=\([0-9]*\) .*/\1/p' | tail -n1)
	logbad=$(tr -d '\r' <"$tout" | sed -n 's/^LOGN=[0-9]* LOGBAD=\([0-9]*\).*/\1/p' | tail -n1)
	if [ -n "$md5a" ] && [ "$md5a" = "$md5b" ] && [ -n "$logn" ] && [ "$logbad" = 0 ] &&
		[ "$logn" -ge "$last" ]; then
		pass "$name"
	else
		fail "$name" "/tmp/big $md5a then '$md5b'; /tmp/log $logn lines, '$logbad' out of place (source counted $last)"
		return 1
	fi
}

# netns_hops: two "hosts", network namespaces joined by a veth pair
# (10.99.0.1 in A, 10.99.0.2 in B): the guest moves from this namespace
# into A over a Unix socket (path sockets cross namespaces), then A to B
# and back B to A over TLS on the veth link, each hop checked as above.
# Sets last_* to the VM that runs at the end, or NETNS_WHY when the host
# cannot make namespaces (not root, no ip-netns).
netns_hops() {
	local a=vmon-mig-a-$$ b=vmon-mig-b-$$
	if ! ip netns add "$a" 2>/dev/null; then
		NETNS_WHY="cannot create a network namespace here (needs root and ip netns)"
		return
	fi
	NETNS+=("$a")
	if ! ip netns add "$b" || ! NETNS+=("$b") ||
		! ip link add "va$$" netns "$a" type veth peer name "vb$$" netns "$b" ||
		! ip -n "$a" addr add 10.99.0.1/24 dev "va$$" || ! ip -n "$b" addr add 10.99.0.2/24 dev "vb$$" ||
		! ip -n "$a" link set "va$$" up || ! ip -n "$b" link set "vb$$" up ||
		! ip -n "$a" link set lo up || ! ip -n "$b" link set lo up; then
		NETNS_WHY="could not join two namespaces with a veth pair"
		return
	fi
	mkfifo "$D/in4" "$D/in5" "$D/in6"
	exec 6>&-
	exec 5>"$D/in3" # keeps lx3's console open while fd 9 moves on
	HOP_NS=(ip netns exec "$a")
	HOP_IN=()
	HOP_MIG=()
	NETNS_DONE="${NETNS_DONE:-} migrate-linux-netns-unix"
	lx_hop migrate-linux-netns-unix "$last_pid" lx3 "$D/out3" "unix:$D/m4.sock" lx4 "$D/in4" "$D/out4" ||
		{ NETNS_WHY="the migration into namespace A failed" && HOP_NS=() && return; }
	last_pid=$hop_pid last_id=lx4 last_out=$D/out4
	exec 5>&-
	exec 4>"$D/in4"
	HOP_NS=(ip netns exec "$b")
	HOP_IN=("${TLS_TARGET[@]}")
	HOP_MIG=("${TLS_SOURCE[@]}" --tls-hostname vmon-target)
	NETNS_DONE="${NETNS_DONE:-} migrate-linux-netns-tls-ab"
	lx_hop migrate-linux-netns-tls-ab "$last_pid" lx4 "$D/out4" "tcp:10.99.0.2:$(free_port)" lx5 "$D/in5" "$D/out5" ||
		{ NETNS_WHY="the migration from A to B failed" && HOP_NS=() && return; }
	last_pid=$hop_pid last_id=lx5 last_out=$D/out5
	exec 4>&-
	exec 5>"$D/in5"
	HOP_NS=(ip netns exec "$a")
	NETNS_DONE="${NETNS_DONE:-} migrate-linux-netns-tls-ba"
	lx_hop migrate-linux-netns-tls-ba "$last_pid" lx5 "$D/out5" "tcp:10.99.0.1:$(free_port)" lx6 "$D/in6" "$D/out6" ||
		{ NETNS_WHY="the migration from B back to A failed" && HOP_NS=() && return; }
	last_pid=$hop_pid last_id=lx6 last_out=$D/out6
	HOP_NS=()
}

if lx_hop migrate-linux-unix "$p0" lx0 "$D/out0" "unix:$D/m1.sock" lx1 "$D/in1" "$D/out1"; then
	p1=$hop_pid
	# Its virtio-net driver negotiated GUEST_ANNOUNCE: asked to announce
	# itself on the target, it acks on the control queue.
	if wait_metric lx1 '"announce_acks": *1[,}]'; then
		pass migrate-linux-announce
	else
		fail migrate-linux-announce "no announce acknowledged: $(tail -c 600 "$TMP/lx1.metrics")"
	fi
	exec 7>&-
	exec 8>"$D/in1" # keeps lx1's console open while fd 9 moves on
	if lx_hop migrate-linux-tcp "$p1" lx1 "$D/out1" "tcp:127.0.0.1:$(free_port)" lx2 "$D/in2" "$D/out2"; then
		p2=$hop_pid
		last_pid=$p2
		last_id=lx2
		last_out=$D/out2
		if [ -z "$HAVE_TLS" ]; then
			skip migrate-linux-tls "no certtool (gnutls-bin)"
			NETNS_WHY="no certtool (gnutls-bin)"
		else
			exec 8>&-
			exec 6>"$D/in2" # keeps lx2's console open while fd 9 moves on
			HOP_IN=("${TLS_TARGET[@]}")
			HOP_MIG=("${TLS_SOURCE[@]}" --tls-hostname vmon-target)
			if lx_hop migrate-linux-tls "$p2" lx2 "$D/out2" "tcp:$TLS_IP:$(free_port)" lx3 "$D/in3" "$D/out3"; then
				last_pid=$hop_pid
				last_id=lx3
				last_out=$D/out3
				netns_hops
			else
				NETNS_WHY="the migration before failed"
			fi
			HOP_IN=()
			HOP_MIG=()
		fi
		for n in migrate-linux-netns-unix migrate-linux-netns-tls-ab migrate-linux-netns-tls-ba; do
			case " ${NETNS_DONE:-} " in
			*" $n "*) ;;
			*) skip "$n" "${NETNS_WHY:-the migration before failed}" ;;
			esac
		done
		"$VMON" stop "$last_id" >/dev/null 2>&1
		wait_gone "$last_pid"
		n=$(counts "$last_out" | tail -n1)
		if why=$(disk_has "$D/disk.img" "${n:-0}") && [ -n "$n" ]; then
			pass migrate-linux-disk
		else
			fail migrate-linux-disk "$why (the guest counted to $n)"
		fi
	else
		for n in migrate-linux-tls migrate-linux-netns-unix migrate-linux-netns-tls-ab \
			migrate-linux-netns-tls-ba migrate-linux-disk; do
			skip "$n" "the migration before failed"
		done
	fi
else
	skip migrate-linux-announce "the unix migration failed"
	skip migrate-linux-tcp "the unix migration failed"
	for n in migrate-linux-tls migrate-linux-netns-unix migrate-linux-netns-tls-ab \
		migrate-linux-netns-tls-ba migrate-linux-disk; do
		skip "$n" "the migration before failed"
	done
fi
exit 0
