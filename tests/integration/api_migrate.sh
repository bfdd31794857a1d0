#!/usr/bin/env bash
# The receiving side of live migration through the API (docs/api.md,
# PUT /migrate/incoming; Cloud Hypervisor's receive-migration), on a
# `vmon api` process, with the dirtymem kit guest on the software CPU:
#   - bad bodies (no receiver_url, a non-loopback plain address, an
#     unknown field, a wrong type, TLS files missing one, an unknown CPU
#     model, a CPU limit the backend cannot give, a path that cannot be
#     bound) get 400 with a fault_message and change nothing;
#   - once it listens (204), a second PUT /migrate/incoming and
#     InstanceStart get 400; GET / says "Not started";
#   - `vmon migrate` into it: exit 0, the target's GET / says Running, its
#     passes go on from the source's, vmon ps lists it; PUT
#     /migrate/incoming on the running VM: 400;
#   - with vmon_cpu_features x86-64-v2, a source with svm is refused
#     before it pauses: `vmon migrate` exits 2, the source runs on, the
#     target ends with one line and status 2;
#   - TLS: a certificate file that cannot be read is a 400; with the
#     target's certificate, key and CA (made here with certtool) the
#     source migrates into it over TLS and it runs the guest;
#   - a target killed (SIGTERM) while it listens exits and removes its
#     migration socket.
# No timing thresholds: every wait is for an event, with a generous limit.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib/api_req.sh"
source "$(dirname "$0")/../lib/migrate_wait.sh"

DIRTY=$GUESTS/dirtymem.elf
LIMIT=${MIGRATE_LIMIT:-300}
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

if ! command -v curl >/dev/null; then
	skip api-migrate "curl is not installed (scripts/setup.sh installs it)"
	exit 0
fi

SOCK=$TMP/api.sock
# bad NAME BODY TEXT: PUT /migrate/incoming answers 400 with TEXT in
# fault_message.
bad() {
	req PUT /migrate/incoming "$2"
	if [ "$code" = 400 ] && ! grep -q '"fault_message"' <<<"$body"; then
		fail "$1" "400 without a fault_message: $body"
		return
	fi
	expect "$1" 400 "$3"
}
wait_file() {
	for _ in $(seq 1 $((LIMIT * 10))); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# api_target NAME: a `vmon api` on $SOCK (its pid in $tpid) configured
# for the software CPU.
api_target() {
	rm -f "$SOCK"
	"$VMON" api --api-sock "$SOCK" --id "$1" </dev/null >"$TMP/$1.out" 2>"$TMP/$1.err" &
	tpid=$!
	PIDS+=("$tpid")
	wait_file "$SOCK"
	req PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "vmon_backend": "emu"}'
}
# source NAME CPU: dirtymem (pid in $spid).
source_vm() {
	"$VMON" run --backend emu --id "$1" --kernel "$DIRTY" --mem 64M --cmdline "every=20" \
		--cpu-features "$2" </dev/null >"$TMP/$1.out" 2>"$TMP/$1.err" &
	spid=$!
	PIDS+=("$spid")
}

# ---- bad bodies and states ----------------------------------------------
api_target bodies
M=unix:$TMP/m.sock
bad api-migrate-incoming-no-url '{}' "'receiver_url' (unix:PATH or tcp:ADDR:PORT) is required"
bad api-migrate-incoming-url-type '{"receiver_url": 7}' "'receiver_url'"
bad api-migrate-incoming-nonloopback '{"receiver_url": "tcp:192.0.2.1:4444"}' "not a loopback address"
bad api-migrate-incoming-bad-url '{"receiver_url": "http://x"}' "is not unix:PATH or tcp:ADDR:PORT"
bad api-migrate-incoming-unknown-field "{\"receiver_url\": \"$M\", \"bogus\": 1}" "unknown field 'bogus'"
bad api-migrate-incoming-insecure-type "{\"receiver_url\": \"$M\", \"insecure\": 1}" "'insecure' must be true or false"
bad api-migrate-incoming-tls-partial "{\"receiver_url\": \"$M\", \"tls_cert\": \"/x.pem\"}" "tls_"
bad api-migrate-incoming-cpu-model "{\"receiver_url\": \"$M\", \"vmon_cpu_features\": \"x86-64-v9\"}" "x86-64-v9"
bad api-migrate-incoming-cpu-offer "{\"receiver_url\": \"$M\", \"vmon_cpu_features\": \"x86-64-v2,+amx_tile\"}" "cannot offer amx_tile"
bad api-migrate-incoming-bind "{\"receiver_url\": \"unix:$TMP/no/such/dir/m.sock\"}" "No such file or directory"
req GET /
expect api-migrate-incoming-bad-changed-nothing 200 '"Not started"'
req PUT /migrate/incoming "{\"receiver_url\": \"$M\"}"
expect api-migrate-incoming-listens 204
if [ -S "$TMP/m.sock" ]; then pass api-migrate-incoming-socket; else fail api-migrate-incoming-socket "no $TMP/m.sock"; fi
bad api-migrate-incoming-twice "{\"receiver_url\": \"unix:$TMP/m2.sock\"}" "waits for an incoming migration"
req PUT /actions '{"action_type": "InstanceStart"}'
expect api-migrate-incoming-no-start 400 "waits for an incoming migration"
req GET /
expect api-migrate-incoming-not-started 200 '"Not started"'

if [ ! -f "$DIRTY" ]; then
	for n in api-migrate-incoming-migrated api-migrate-incoming-running api-migrate-incoming-cpu-refused; do
		skip "$n" "no $DIRTY (make)"
	done
	kill "$tpid"
else
	# ---- a migration into it --------------------------------------------
	source_vm api-src max
	if ! wait_pass "$TMP/api-src.out" 10 "$spid"; then
		fail api-migrate-incoming-migrated "the source did not run: $(tail -c 300 "$TMP/api-src.err")"
	else
		"$VMON" migrate api-src --to "$M" >"$TMP/mig.out" 2>"$TMP/mig.err"
		mrc=$?
		[ $mrc -ne 0 ] || wait_gone "$spid"
		src_rc=${gone_status:-running}
		last=$(passes "$TMP/api-src.out" | tail -n1)
		req GET /
		if [ $mrc -eq 0 ] && [ "$src_rc" = 0 ] && grep -q '"Running"' <<<"$body" &&
			wait_pass "$TMP/bodies.out" $((last + 10)) "$tpid" &&
			"$VMON" ps | grep -q '^bodies  *Running' &&
			! grep -qa FAIL "$TMP/bodies.out" "$TMP/api-src.out"; then
			pass api-migrate-incoming-migrated
		else
			fail api-migrate-incoming-migrated "migrate: $mrc ($(cat "$TMP/mig.out" "$TMP/mig.err" | tail -c 300)), source $src_rc, GET /: $body, target: $(tail -c 300 "$TMP/bodies.err")"
		fi
		bad api-migrate-incoming-running "{\"receiver_url\": \"unix:$TMP/m4.sock\"}" "only by a microVM not started yet"
	fi
	kill "$tpid" "$spid" 2>/dev/null
	wait "$tpid" "$spid" 2>/dev/null

	# ---- the guest's CPU refused, before the source pauses -----------------
	api_target cpu
	source_vm cpu-src x86-64-v2,+svm
	req PUT /migrate/incoming "{\"receiver_url\": \"unix:$TMP/c.sock\", \"vmon_cpu_features\": \"x86-64-v2\"}"
	if [ "$code" != 204 ] || ! wait_pass "$TMP/cpu-src.out" 10 "$spid"; then
		fail api-migrate-incoming-cpu-refused "HTTP $code ($body); source: $(tail -c 300 "$TMP/cpu-src.err")"
	else
		"$VMON" migrate cpu-src --to "unix:$TMP/c.sock" >"$TMP/cmig.out" 2>"$TMP/cmig.err"
		mrc=$?
		wait_gone "$tpid"
		trc=${gone_status:-running}
		n=$(passes "$TMP/cpu-src.out" | tail -n1)
		if [ $mrc -eq 2 ] && grep -q "cannot give the guest's CPU feature svm" "$TMP/cmig.err" &&
			[ "$trc" = 2 ] && [ "$(wc -l <"$TMP/cpu.err")" -eq 1 ] &&
			wait_pass "$TMP/cpu-src.out" $((n + 10)) "$spid"; then
			pass api-migrate-incoming-cpu-refused
		else
			fail api-migrate-incoming-cpu-refused "migrate: $mrc ($(cat "$TMP/cmig.err")), target: $trc ($(cat "$TMP/cpu.err")), source passes $n then $(passes "$TMP/cpu-src.out" | tail -n1)"
		fi
	fi
	kill "$spid" "$tpid" 2>/dev/null
	wait "$spid" "$tpid" 2>/dev/null
fi

# ---- TLS: a missing file is a 400, then a migration over TLS ---------------
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
if [ ! -f "$DIRTY" ] || ! command -v certtool >/dev/null || ! mkdir -p "$CERTS" ||
	! mkcert ca "vmon test CA" 'ca\ncert_signing_key' ||
	! mkcert target vmon-target 'ip_address = "127.0.0.1"\ntls_www_server\nsigning_key' ca ||
	! mkcert source vmon-source 'tls_www_client\nsigning_key' ca; then
	skip api-migrate-incoming-tls-missing-file "no certtool (gnutls-bin) or no $DIRTY"
	skip api-migrate-incoming-tls "no certtool (gnutls-bin) or no $DIRTY"
else
	api_target tls
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	bad api-migrate-incoming-tls-missing-file "{\"receiver_url\": \"tcp:127.0.0.1:$port\", \"tls_cert\": \"$CERTS/none.pem\", \"tls_key\": \"$CERTS/target.key\", \"tls_ca\": \"$CERTS/ca.pem\"}" "none.pem"
	source_vm tls-src max
	req PUT /migrate/incoming "{\"receiver_url\": \"tcp:127.0.0.1:$port\", \"tls_cert\": \"$CERTS/target.pem\", \"tls_key\": \"$CERTS/target.key\", \"tls_ca\": \"$CERTS/ca.pem\"}"
	if [ "$code" != 204 ] || ! wait_pass "$TMP/tls-src.out" 10 "$spid"; then
		fail api-migrate-incoming-tls "HTTP $code ($body); source: $(tail -c 300 "$TMP/tls-src.err")"
	else
		"$VMON" migrate tls-src --to "tcp:127.0.0.1:$port" --tls-cert "$CERTS/source.pem" \
			--tls-key "$CERTS/source.key" --tls-ca "$CERTS/ca.pem" --tls-hostname 127.0.0.1 \
			>"$TMP/tmig.out" 2>"$TMP/tmig.err"
		mrc=$?
		[ $mrc -ne 0 ] || wait_gone "$spid"
		last=$(passes "$TMP/tls-src.out" | tail -n1)
		req GET /
		if [ $mrc -eq 0 ] && grep -q '"Running"' <<<"$body" &&
			wait_pass "$TMP/tls.out" $((last + 10)) "$tpid" && ! grep -qa FAIL "$TMP/tls.out"; then
			pass api-migrate-incoming-tls
		else
			fail api-migrate-incoming-tls "migrate: $mrc ($(cat "$TMP/tmig.out" "$TMP/tmig.err" | tail -c 300)), GET /: $body, target: $(tail -c 300 "$TMP/tls.err")"
		fi
	fi
	kill "$tpid" "$spid" 2>/dev/null
	wait "$tpid" "$spid" 2>/dev/null
fi

# ---- SIGTERM while it listens ---------------------------------------------
api_target term
req PUT /migrate/incoming "{\"receiver_url\": \"unix:$TMP/t.sock\"}"
if [ "$code" = 204 ] && [ -S "$TMP/t.sock" ]; then
	kill -TERM "$tpid"
	wait_gone "$tpid"
	if [ -n "$gone_status" ] && [ ! -e "$TMP/t.sock" ] && [ ! -e "$SOCK" ]; then
		pass api-migrate-incoming-sigterm
	else
		fail api-migrate-incoming-sigterm "status ${gone_status:-running}; left: $(ls "$TMP"/*.sock 2>/dev/null)"
	fi
else
	fail api-migrate-incoming-sigterm "HTTP $code ($body)"
fi
