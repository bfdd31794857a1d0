# Sourced by seccomp.sh and seccomp_kvm.sh: the checks of the filters
# themselves, with the backend $B.

# seccomp_status NAME EXPECT [ARGS...]: runs the ticker guest with a
# disk, a console and a vsock (an I/O thread, a console and a vsock
# thread, the API) and checks every thread's Seccomp field.
seccomp_status() {
	local name=$1 want=$2
	shift 2
	: >"$TMP/$name.img"
	truncate -s 1M "$TMP/$name.img"
	"$VMON" run --backend $B --kernel "$GUESTS/ticker.elf" \
		--disk "$TMP/$name.img" --console "file:$TMP/$name.con" \
		--vsock "3,unix:$TMP/$name.vsock" "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	local pid=$! n=0 bad="" t
	for _ in $(seq 100); do
		n=$(ls /proc/$pid/task 2>/dev/null | wc -l)
		[ "$n" -ge 5 ] && grep -q vmon-vcpu0 /proc/$pid/task/*/comm 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.3
	local seen=""
	for t in /proc/$pid/task/*; do
		local comm mode
		comm=$(cat "$t/comm" 2>/dev/null) || continue
		mode=$(awk '/^Seccomp:/ {print $2}' "$t/status" 2>/dev/null)
		seen="$seen $comm=$mode"
		[ "$mode" = "$want" ] || bad="$bad $comm=$mode"
	done
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	if [ -z "$seen" ]; then
		fail "$name" "vmon ended early: $(head -c 300 "$TMP/$name.err")"
	elif [ -n "$bad" ]; then
		fail "$name" "threads not in seccomp mode $want:$bad (all:$seen)"
	elif ! [[ "$seen" == *vmon-vcpu0=* && "$seen" == *vmon-io=* && "$seen" == *vmon-vsock=* ]]; then
		fail "$name" "expected threads missing:$seen"
	else
		pass "$name"
	fi
}

# violate KIND THREAD-NAME MODE [ARGS...]
violate() {
	local kind=$1 thread=$2 mode=$3
	shift 3
	local name=seccomp-$mode-kills-$kind
	[ "$B" = emu ] || name=$name-$B
	: >"$TMP/$kind.img"
	truncate -s 1M "$TMP/$kind.img"
	# (a subshell: its shell, not this one, reports "Bad system call")
	(timeout -k 5 60 env VMON_SECCOMP_TEST_VIOLATE="$kind" "$VMON" run --backend $B \
		--seccomp "$mode" "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
	exit $?) 2>/dev/null
	local st=$?
	local line="vmon: seccomp: thread $thread ($kind) made a forbidden system call: uname (63"
	if [ $st -ne 159 ]; then
		fail "$name" "status $st (want 159); stderr: $(head -c 300 "$TMP/$name.err")"
	elif grep -q SUCCESS "$TMP/$name.out"; then
		fail "$name" "the guest finished: the call was not stopped"
	elif [ "$mode" = log ] && ! grep -qF "$line" "$TMP/$name.err"; then
		fail "$name" "no line '$line'; stderr: $(head -c 300 "$TMP/$name.err")"
	else
		pass "$name"
	fi
}
