#!/usr/bin/env bash
# --config-file (Firecracker's format: the API's bodies under
# "boot-source", "drives", "machine-config"...): a good file boots the kit
# guest through `vmon run` and through `vmon api` (which starts at once when
# the file names a kernel, as Firecracker does); every bad file ends vmon
# with one line naming the file and status 2, before any guest runs.
source "$(dirname "$0")/../lib.sh"

img=$TMP/disk.img
python3 -c "import sys; open(sys.argv[1], 'wb').write(bytes(1 << 20))" "$img"

cat >"$TMP/good.json" <<EOF
{
  "boot-source": {"kernel_image_path": "$GUESTS/hello.elf", "boot_args": ""},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "vmon_backend": "emu"},
  "drives": [{"drive_id": "rootfs", "path_on_host": "$img", "is_root_device": true,
              "is_read_only": false}],
  "entropy": {},
  "metrics": {"metrics_path": "$TMP/m.json"}
}
EOF
run_vmon "$TMP/run.out" "$TMP/run.err" run --config-file "$TMP/good.json"
expect_success config-file-run "$TMP/run.out" "$TMP/run.err"
run_vmon "$TMP/api.out" "$TMP/api.err" api --api-sock "$TMP/a.sock" --config-file "$TMP/good.json"
expect_success config-file-api-starts-at-once "$TMP/api.out" "$TMP/api.err"
# The metrics section took effect: a last flush at exit.
if python3 -c 'import json,sys; m=json.loads(open(sys.argv[1]).read().splitlines()[-1]); sys.exit(0 if m["devices"]["rootfs"]["kind"] == "virtio-blk" else 1)' "$TMP/m.json" 2>/dev/null
then
	pass config-file-metrics
else
	fail config-file-metrics "$(head -c 300 "$TMP/m.json" 2>&1)"
fi
# Metrics into a FIFO a reader holds: one JSON object per line arrives.
mkfifo "$TMP/m.fifo"
cat "$TMP/m.fifo" >"$TMP/m-fifo.json" &
reader=$!
sed "s|\"metrics_path\": \"$TMP/m.json\"|\"metrics_path\": \"$TMP/m.fifo\"|" "$TMP/good.json" \
	>"$TMP/fifo.json"
run_vmon "$TMP/fifo.out" "$TMP/fifo.err" run --config-file "$TMP/fifo.json"
wait "$reader"
if [ "$status" = 0 ] && python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]; sys.exit(0 if open(sys.argv[1]).read() else 1)' "$TMP/m-fifo.json" 2>/dev/null
then
	pass config-file-metrics-fifo
else
	fail config-file-metrics-fifo "status $status; $(head -c 300 "$TMP/m-fifo.json")"
fi
# Command-line options add to it and win over it.
run_vmon "$TMP/over.out" "$TMP/over.err" run --config-file "$TMP/good.json" \
	--kernel "$GUESTS/exceptions.elf"
if [ "$status" = 0 ] && grep -q '^exceptions:' "$TMP/over.out"; then
	pass config-file-options-override
else
	fail config-file-options-override "status $status; $(head -c 200 "$TMP/over.out")"
fi

# Both of the API's disk engines serve the virtio_blk kit guest's reads,
# writes, flushes and discards under the default seccomp filters ("Sync"
# runs them on the I/O thread, whose list once lacked them: killed).
source "$(dirname "$0")/../lib/blk_image.sh"
for engine in Sync Async; do
	d=$TMP/$engine/vmon-test-disk # the guest checks the disk's id: its name
	mkdir -p "$TMP/$engine" && make_image "$d"
	cat >"$TMP/$engine.json" <<EOF
{
  "boot-source": {"kernel_image_path": "$GUESTS/virtio_blk.elf", "boot_args": "sectors=$SECTORS"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "vmon_backend": "emu"},
  "drives": [{"drive_id": "d", "path_on_host": "$d", "is_root_device": false,
              "is_read_only": false, "io_engine": "$engine", "vmon_transport": "pci"}]
}
EOF
	run_vmon "$TMP/$engine.out" "$TMP/$engine.err" run --config-file "$TMP/$engine.json"
	got=$(check_image "$d")
	if [ "$status" = 0 ] && grep -q SUCCESS "$TMP/$engine.out" && [ "$got" = ok ]; then
		pass "config-file-io-engine-$engine"
	else
		fail "config-file-io-engine-$engine" "status $status, image: $got; $(tail -c 200 "$TMP/$engine.err")"
	fi
done

# bad NAME TEXT JSON: vmon run --config-file with that content fails with
# status 2 and one line "vmon: --config-file FILE: ...TEXT...".
bad() {
	local name=$1 text=$2
	printf '%s\n' "$3" >"$TMP/$name.json"
	timeout -k 5 "$TEST_TIMEOUT" "$VMON" run --config-file "$TMP/$name.json" </dev/null \
		>"$TMP/$name.out" 2>"$TMP/$name.err"
	local s=$?
	if [ "$s" = 2 ] && [ "$(wc -l <"$TMP/$name.err")" = 1 ] &&
		grep -qF -- "vmon: --config-file $TMP/$name.json: " "$TMP/$name.err" &&
		grep -qF -- "$text" "$TMP/$name.err" && [ ! -s "$TMP/$name.out" ]; then
		pass "config-file-$name"
	else
		fail "config-file-$name" "status $s; stderr: $(cat "$TMP/$name.err")"
	fi
}
K="\"kernel_image_path\": \"$GUESTS/hello.elf\""
bad not-json "unexpected token near end of file" '{"boot-source": '
bad not-object "must be a JSON object" '[]'
bad unknown-section "unknown field 'boot_source'" "{\"boot_source\": {$K}}"
bad unknown-field "unknown field 'cpus'" "{\"boot-source\": {$K}, \"machine-config\": {\"cpus\": 2}}"
bad wrong-type "'vcpu_count' must be an integer" \
	"{\"boot-source\": {$K}, \"machine-config\": {\"vcpu_count\": \"2\", \"mem_size_mib\": 64}}"
bad out-of-range "'vcpu_count' is 65, out of range" \
	"{\"boot-source\": {$K}, \"machine-config\": {\"vcpu_count\": 65, \"mem_size_mib\": 64}}"
bad drives-not-array "'drives' must be an array" "{\"boot-source\": {$K}, \"drives\": {}}"
bad missing-image "drive d: /nonexistent.img" \
	"{\"boot-source\": {$K}, \"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"/nonexistent.img\", \"is_root_device\": false}]}"
bad missing-kernel "cannot open kernel_image_path /nonexistent" \
	'{"boot-source": {"kernel_image_path": "/nonexistent"}}'
bad balloon "the field 'deflate_on_oom' is required" "{\"boot-source\": {$K}, \"balloon\": {\"amount_mib\": 1}}"
bad mmds "'mmds-config' is not supported" "{\"boot-source\": {$K}, \"mmds-config\": {}}"
bad duplicate-key "duplicate object key" "{\"boot-source\": {$K}, \"boot-source\": {$K}}"
bad two-roots "is the root device already" \
	"{\"boot-source\": {$K}, \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"$img\", \"is_root_device\": true, \"is_read_only\": true}, {\"drive_id\": \"b\", \"path_on_host\": \"$img\", \"is_root_device\": true, \"is_read_only\": true}]}"

timeout -k 5 "$TEST_TIMEOUT" "$VMON" run --config-file "$TMP/nosuch.json" </dev/null \
	>/dev/null 2>"$TMP/nosuch.err"
s=$?
if [ "$s" = 2 ] && [ "$(wc -l <"$TMP/nosuch.err")" = 1 ] &&
	grep -q "^vmon: --config-file $TMP/nosuch.json: " "$TMP/nosuch.err"; then
	pass config-file-missing
else
	fail config-file-missing "status $s; $(cat "$TMP/nosuch.err")"
fi
