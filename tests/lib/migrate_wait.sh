# Sourced by the live-migration test scripts (migrate.sh, migrate_kvm.sh,
# migrate_cpu.sh, api_migrate.sh): waiting on the dirtymem kit guest's
# passes, on a process's end and on a receiver's socket. Each waits up to
# LIMIT seconds (the script sets LIMIT).

# passes FILE: the dirtymem pass numbers in FILE.
passes() { tr -d '\r' 2>/dev/null <"$1" | sed -n 's/^dirtymem: pass \([0-9]*\) ok$/\1/p'; }
# wait_above LIST FILE N [PID]: until the last number the function LIST
# finds in FILE is above N (false as soon as PID, if given, has ended).
wait_above() {
	for _ in $(seq 1 $((LIMIT * 5))); do
		local c
		c=$("$1" "$2" | tail -n1)
		[ -n "$c" ] && [ "$c" -gt "$3" ] && return 0
		[ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}
# wait_pass FILE N [PID]: until FILE shows a pass above N.
wait_pass() { wait_above passes "$@"; }
# wait_gone PID: until PID (a child of this shell) has exited; its status
# in $gone_status (empty if it did not end).
wait_gone() {
	gone_status=
	for _ in $(seq 1 $((LIMIT * 5))); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1" 2>/dev/null
			gone_status=$?
			return 0
		fi
		sleep 0.2
	done
	return 1
}
# wait_sock PATH: until a receiver listens on the Unix socket PATH.
wait_sock() {
	for _ in $(seq 1 $((LIMIT * 5))); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# free_port: a TCP port free on 127.0.0.1 just now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
