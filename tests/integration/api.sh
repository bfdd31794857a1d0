#!/usr/bin/env bash
# The HTTP API (docs/api.md), driven with curl on the Unix socket of
# `vmon api`: every malformed request gets 400 with its fault message and
# changes nothing (GET /vm/config is the same before and after); then a
# configured VM starts with InstanceStart, refuses pre-boot changes, swaps
# a drive's image (PATCH), flushes metrics on request and periodically,
# logs JSON lines, and ends when SendCtrlAltDel reaches the kbd kit guest
# through the i8042.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib/api_req.sh"

if ! command -v curl >/dev/null; then
	skip api "curl is not installed (scripts/setup.sh installs it)"
	exit 0
fi

SOCK=$TMP/api.sock
# bad NAME METHOD PATH BODY TEXT: 400 with TEXT in fault_message.
bad() {
	local name=$1
	shift
	req "$1" "$2" "$3"
	if [ "$code" = 400 ] && ! grep -q '"fault_message"' <<<"$body"; then
		fail "$name" "400 without a fault_message: $body"
		return
	fi
	expect "$name" 400 "$4"
}
wait_socket() {
	for _ in $(seq 1 500); do
		[ -S "$SOCK" ] && return 0
		sleep 0.02
	done
	return 1
}

for b in $(usable_backends); do
	rm -f "$SOCK"
	timeout -k 5 "$TEST_TIMEOUT" "$VMON" api --api-sock "$SOCK" </dev/null \
		>"$TMP/$b.out" 2>"$TMP/$b.err" &
	pid=$!
	if ! wait_socket; then
		fail "api-$b-socket" "no socket; stderr: $(head -c 300 "$TMP/$b.err")"
		kill "$pid" 2>/dev/null
		continue
	fi
	req GET /
	expect "api-$b-instance-info" 200 '"state":"Not started"'

	req GET /vm/config
	before=$body
	bad "api-$b-bad-json" PUT /boot-source '{"kernel_image_path": ' "not valid JSON"
	bad "api-$b-not-an-object" PUT /boot-source '[1]' "must be a JSON object"
	bad "api-$b-unknown-field" PUT /boot-source \
		"{\"kernel_image_path\": \"$GUESTS/kbd.elf\", \"colour\": 1}" "unknown field 'colour'"
	bad "api-$b-wrong-type" PUT /boot-source '{"kernel_image_path": 5}' "must be a string"
	bad "api-$b-missing-kernel" PUT /boot-source '{"kernel_image_path": "/nonexistent/k"}' \
		"cannot open kernel_image_path"
	bad "api-$b-required" PUT /machine-config '{"mem_size_mib": 64}' "'vcpu_count' is required"
	bad "api-$b-out-of-range" PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 64}' \
		"out of range"
	bad "api-$b-smt" PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64, "smt": true}' \
		"'smt' true is not supported"
	bad "api-$b-backend" PATCH /machine-config '{"vmon_backend": "qemu"}' "'vmon_backend' must be"
	bad "api-$b-cpu-features" PATCH /machine-config '{"vmon_cpu_features": "x86-64-v9"}' \
		"'vmon_cpu_features':"
	bad "api-$b-nested-type" PATCH /machine-config '{"vmon_nested": "yes"}' \
		"'vmon_nested' must be true or false"
	bad "api-$b-id-mismatch" PUT /drives/d1 \
		"{\"drive_id\": \"d2\", \"path_on_host\": \"$TMP/x\", \"is_root_device\": false}" \
		"does not match"
	bad "api-$b-drive-missing" PUT /drives/d1 \
		'{"drive_id": "d1", "path_on_host": "/nonexistent.img", "is_root_device": false}' \
		"drive d1: /nonexistent.img"
	bad "api-$b-rate-limiter" PUT /entropy '{"rate_limiter": {"bandwidth": {"size": 100}}}' \
		"'size' and 'refill_time' are required"
	bad "api-$b-rate-limiter-field" PUT /entropy '{"rate_limiter": {"bytes": {}}}' \
		"unknown field 'bytes'"
	bad "api-$b-rate-limiter-negative" PUT /drives/d1 \
		"{\"drive_id\": \"d1\", \"path_on_host\": \"$TMP/x\", \"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": -1, \"refill_time\": 100}}}" \
		"must be an integer of 0 or more"
	bad "api-$b-patch-net-early" PATCH /network-interfaces/n1 \
		'{"iface_id": "n1", "tx_rate_limiter": {"ops": {"size": 10, "refill_time": 100}}}' \
		"PATCH is for a started"
	bad "api-$b-mtu" PUT /network-interfaces/n1 \
		'{"iface_id": "n1", "host_dev_name": "vmtap0", "mtu": 1500}' "'mtu' is not supported"
	bad "api-$b-vsock-cid" PUT /vsock "{\"guest_cid\": 2, \"uds_path\": \"$TMP/v.sock\"}" \
		"out of range"
	bad "api-$b-pause-early" PATCH /vm '{"state": "Paused"}' "not started yet"
	bad "api-$b-vm-state" PATCH /vm '{"state": "Sleeping"}' "'state' must be"
	bad "api-$b-cad-early" PUT /actions '{"action_type": "SendCtrlAltDel"}' "not started yet"
	bad "api-$b-unknown-action" PUT /actions '{"action_type": "Dance"}' "unknown action_type"
	bad "api-$b-flush-unset" PUT /actions '{"action_type": "FlushMetrics"}' "not configured"
	bad "api-$b-start-unset" PUT /actions '{"action_type": "InstanceStart"}' \
		"boot source is not set"
	bad "api-$b-patch-drive-early" PATCH /drives/d1 \
		"{\"drive_id\": \"d1\", \"path_on_host\": \"$TMP/x\"}" "PATCH is for a started"
	bad "api-$b-unknown-path" GET /nowhere '' "invalid request method and/or path"
	bad "api-$b-unknown-method" DELETE /machine-config '' "invalid request method and/or path"
	bad "api-$b-snapshot" PUT /snapshot/create \
		"{\"snapshot_path\": \"$TMP/s\", \"mem_file_path\": \"$TMP/m\"}" "not started yet"
	mkfifo "$TMP/$b.fifo"
	bad "api-$b-fifo-no-reader" PUT /metrics "{\"metrics_path\": \"$TMP/$b.fifo\"}" \
		"no process reads"
	req GET /vm/config
	if [ "$body" = "$before" ]; then pass "api-$b-bad-requests-change-nothing"; else
		fail "api-$b-bad-requests-change-nothing" "before: $before; after: $body"; fi

	# A configuration that works.
	python3 -c "import sys; open(sys.argv[1], 'wb').write(bytes(1 << 20))" "$TMP/$b-a.img"
	python3 -c "import sys; open(sys.argv[1], 'wb').write(bytes(2 << 20))" "$TMP/$b-b.img"
	req PUT /logger "{\"log_path\": \"$TMP/$b.log\", \"level\": \"info\", \"show_level\": true}"
	expect "api-$b-logger" 204
	req PUT /metrics "{\"metrics_path\": \"$TMP/$b.metrics\", \"vmon_flush_interval_ms\": 100}"
	expect "api-$b-metrics" 204
	bad "api-$b-metrics-twice" PUT /metrics "{\"metrics_path\": \"$TMP/$b.metrics\"}" \
		"initialized already"
	req PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/kbd.elf\"}"
	expect "api-$b-boot-source" 204
	# A pinned CPU model on emu (a KVM may not be able to offer it).
	feat=""
	[ "$b" = emu ] && feat=', "vmon_cpu_features": "x86-64-v2"'
	req PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"vmon_backend\": \"$b\"$feat}"
	expect "api-$b-machine-config" 204
	req PUT /drives/d1 \
		"{\"drive_id\": \"d1\", \"path_on_host\": \"$TMP/$b-a.img\", \"is_root_device\": true}"
	expect "api-$b-drive" 204
	bad "api-$b-second-root" PUT /drives/d2 \
		"{\"drive_id\": \"d2\", \"path_on_host\": \"$TMP/$b-b.img\", \"is_root_device\": true}" \
		"is the root device already"
	req PUT /entropy '{}'
	expect "api-$b-entropy" 204
	req GET /machine-config
	expect "api-$b-machine-config-read" 200 "\"vmon_backend\":\"$b\""
	[ "$b" != emu ] || expect "api-$b-machine-config-read-features" 200 "\"vmon_cpu_features\":\"x86-64-v2\""
	req PUT /actions '{"action_type": "InstanceStart"}'
	expect "api-$b-start" 204
	req GET /
	expect "api-$b-running" 200 '"state":"Running"'
	bad "api-$b-start-twice" PUT /actions '{"action_type": "InstanceStart"}' "already running"
	bad "api-$b-after-start" PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/hello.elf\"}" \
		"not supported after starting"
	bad "api-$b-drive-after-start" PUT /drives/d2 \
		"{\"drive_id\": \"d2\", \"path_on_host\": \"$TMP/$b-b.img\", \"is_root_device\": false}" \
		"not supported after starting"
	req PATCH /drives/d1 "{\"drive_id\": \"d1\", \"path_on_host\": \"$TMP/$b-b.img\"}"
	expect "api-$b-patch-drive" 204
	req GET /vm/config
	expect "api-$b-patched-path" 200 "\"path_on_host\":\"$TMP/$b-b.img\""
	bad "api-$b-patch-unknown-drive" PATCH /drives/d9 \
		"{\"drive_id\": \"d9\", \"path_on_host\": \"$TMP/$b-a.img\"}" "no drive 'd9'"
	req PUT /actions '{"action_type": "FlushMetrics"}'
	expect "api-$b-flush" 204
	# Periodic flushes: three lines at least, each one JSON object.
	for _ in $(seq 1 500); do
		[ "$(wc -l <"$TMP/$b.metrics")" -ge 3 ] && break
		sleep 0.02
	done
	r=$(python3 - "$TMP/$b.metrics" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
if len(lines) < 3:
    print("only %d lines" % len(lines)); sys.exit()
m = json.loads(lines[-1])
d = m["devices"]
if d.get("d1", {}).get("kind") != "virtio-blk" or "reads" not in d["d1"]:
    print("no virtio-blk counters for d1: %s" % d.get("d1")); sys.exit()
if m["vmm"]["state"] != "Running" or not m["vcpus"] or "rng" not in d:
    print("vmm/vcpus/rng missing: %s" % lines[-1][:300]); sys.exit()
print("ok")
PY
	)
	if [ "$r" = ok ]; then pass "api-$b-metrics-lines"; else fail "api-$b-metrics-lines" "$r"; fi
	req PUT /actions '{"action_type": "SendCtrlAltDel"}'
	expect "api-$b-ctrl-alt-del" 204
	wait "$pid"
	status=$?
	expect_success "api-$b-guest-saw-ctrl-alt-del" "$TMP/$b.out" "$TMP/$b.err"
	if grep -q '"level":"Info"' "$TMP/$b.log" &&
		grep -q '"msg":"API PUT /actions: 204"' "$TMP/$b.log" &&
		python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$TMP/$b.log"; then
		pass "api-$b-log-json-lines"
	else
		fail "api-$b-log-json-lines" "$(head -c 400 "$TMP/$b.log")"
	fi
	if [ ! -e "$SOCK" ]; then pass "api-$b-socket-removed"; else
		fail "api-$b-socket-removed" "$SOCK still exists"; fi
done
