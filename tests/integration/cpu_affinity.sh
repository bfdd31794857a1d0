#!/usr/bin/env bash
# --cpu-affinity and thread names (docs/architecture.md, "Threads and
# ownership"):
#   - the threads are named vmon-vcpu0, vmon-vcpu1, vmon-io, vmon-api in
#     /proc/PID/task/*/comm;
#   - LIST binds every vCPU thread, V:LIST each one alone: the kernel's
#     Cpus_allowed_list of each vCPU thread is what was asked for, and
#     the other threads keep vmon's own;
#   - the same from a config file's machine-config (vmon_cpu_affinity),
#     and GET /machine-config gives the text back;
#   - bad lists (syntax, a vCPU the VM lacks, a CPU vmon may not run
#     on): one line, status 2.
source "$(dirname "$0")/../lib.sh"

B=emu
# Two CPUs vmon may run on (the first and the last allowed), or one.
ALLOWED=$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status)
CPUS=$(python3 -c 'import os; s=sorted(os.sched_getaffinity(0)); print(s[0], s[-1])')
read -r C0 C1 <<<"$CPUS"

# affinity_of PID COMM: Cpus_allowed_list of the thread named COMM.
affinity_of() {
	local t
	for t in /proc/$1/task/*; do
		if [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ]; then
			awk '/^Cpus_allowed_list:/ {print $2}' "$t/status"
			return
		fi
	done
	echo none
}

# start NAME ARGS...: a 2-vCPU ticker in the background; $pid once its
# vCPU threads exist.
start() {
	local name=$1
	shift
	"$VMON" run --backend $B --cpus 2 "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	pid=$!
	for _ in $(seq 100); do
		grep -q vmon-vcpu1 /proc/$pid/task/*/comm 2>/dev/null && return
		sleep 0.1
	done
}
stop() {
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
}

# check NAME WANT0 WANT1: the two vCPU threads' lists; vmon-io keeps vmon's.
check() {
	local name=$1 a0 a1 io
	a0=$(affinity_of $pid vmon-vcpu0)
	a1=$(affinity_of $pid vmon-vcpu1)
	io=$(affinity_of $pid vmon-io)
	if [ "$a0" = "$2" ] && [ "$a1" = "$3" ] && [ "$io" = "$ALLOWED" ]; then
		pass "$name"
	else
		fail "$name" "vcpu0 $a0 (want $2), vcpu1 $a1 (want $3), io $io (want $ALLOWED); $(head -c 200 "$TMP/$name.err")"
	fi
}

: >"$TMP/d.img"
truncate -s 1M "$TMP/d.img"
start names --kernel "$GUESTS/ticker.elf" --disk "$TMP/d.img"
names=$(cat /proc/$pid/task/*/comm 2>/dev/null | sort | tr '\n' ' ')
stop
if [[ " $names" == *" vmon-vcpu0 "* && "$names" == *" vmon-vcpu1 "* && "$names" == *" vmon-io "* && "$names" == *" vmon-api "* ]]; then
	pass cpu-affinity-thread-names
else
	fail cpu-affinity-thread-names "threads: $names"
fi

start cpu-affinity-all --kernel "$GUESTS/ticker.elf" --disk "$TMP/d.img" --cpu-affinity "$C1"
check cpu-affinity-all "$C1" "$C1"
stop

start cpu-affinity-per-vcpu --kernel "$GUESTS/ticker.elf" --disk "$TMP/d.img" \
	--cpu-affinity "0:$C1,1:$C0"
check cpu-affinity-per-vcpu "$C1" "$C0"
stop

# vCPU 1 not named: unbound (vmon's own list).
start cpu-affinity-one-named --kernel "$GUESTS/ticker.elf" --disk "$TMP/d.img" \
	--cpu-affinity "0:$C0"
check cpu-affinity-one-named "$C0" "$ALLOWED"
stop

cat >"$TMP/cfg.json" <<EOF
{"boot-source": {"kernel_image_path": "$GUESTS/ticker.elf"},
 "machine-config": {"vcpu_count": 2, "mem_size_mib": 64, "vmon_backend": "emu",
                    "vmon_cpu_affinity": "0:$C1,1:$C0"},
 "drives": [{"drive_id": "d", "path_on_host": "$TMP/d.img", "is_root_device": false, "is_read_only": false}]}
EOF
sock=$TMP/api.sock
"$VMON" run --config-file "$TMP/cfg.json" --api-sock "$sock" </dev/null >"$TMP/cfg.out" 2>"$TMP/cfg.err" &
pid=$!
for _ in $(seq 100); do
	grep -q vmon-vcpu1 /proc/$pid/task/*/comm 2>/dev/null && [ -S "$sock" ] && break
	sleep 0.1
done
check cpu-affinity-config-file "$C1" "$C0"
got=$(curl -s --unix-socket "$sock" http://localhost/machine-config)
stop
if [[ "$got" == *"\"vmon_cpu_affinity\": \"0:$C1,1:$C0\""* || "$got" == *"\"vmon_cpu_affinity\":\"0:$C1,1:$C0\""* ]]; then
	pass cpu-affinity-get-machine-config
else
	fail cpu-affinity-get-machine-config "GET /machine-config: $got"
fi

# Bad lists: one line, status 2.
bad() {
	local name=$1 want=$2
	shift 2
	run_vmon "$TMP/$name.out" "$TMP/$name.err" run --backend $B --kernel "$GUESTS/hello.elf" "$@"
	if [ "$status" -eq 2 ] && [ "$(wc -l <"$TMP/$name.err")" -eq 1 ] && grep -q -- "$want" "$TMP/$name.err"; then
		pass "$name"
	else
		fail "$name" "status $status; stderr: $(head -c 300 "$TMP/$name.err")"
	fi
}
bad cpu-affinity-bad-syntax "not a CPU list" --cpu-affinity abc
bad cpu-affinity-bad-range "bad CPU range" --cpu-affinity 3-1
bad cpu-affinity-empty "empty CPU list" --cpu-affinity ""
bad cpu-affinity-trailing "unexpected" --cpu-affinity "0;1"
bad cpu-affinity-vcpu-twice "named twice" --cpus 2 --cpu-affinity "0:0,0:0"
bad cpu-affinity-no-such-vcpu "vCPU 1 does not exist" --cpus 1 --cpu-affinity "1:0"
bad cpu-affinity-host-cpu "host CPU 1000 is not one vmon may run on" --cpu-affinity 1000
bad cpu-affinity-mixed "must start with a vCPU number" --cpu-affinity "0,1:0"
