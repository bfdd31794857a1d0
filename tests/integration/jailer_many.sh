#!/usr/bin/env bash
# Many jailed VMs at once: N (VMON_JAIL_MANY, default 200, as issue 15
# asks; about 7 s on 2 cores) serial_echo kit guests, each jailed as an
# unprivileged uid in its own cgroup with its own PID namespace. Every one
# must be running, in its cgroup, at the same moment; then each gets its
# input and must answer with the right byte count and exit 0; every cgroup
# must be gone afterwards. Needs root (CI runs as root).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../jail/lib.sh"

N=${VMON_JAIL_MANY:-200}
name=jail-many-$N
if [ "$(id -u)" -ne 0 ]; then
	skip "$name" "needs root (cgroups, uid changes)"
	exit 0
fi

declare -a fds jpids
for i in $(seq 1 "$N"); do
	mkfifo "$TMP/in$i"
	exec {fd}<>"$TMP/in$i"
	fds[$i]=$fd
	# nice: N guests poll their UART while they wait; the jailers and
	# this script come first.
	timeout -k 5 900 nice -n 19 "$VMON" jail --id "many-$i" --uid 65534 --gid 65534 \
		--chroot-base "$JAIL_BASE" --parent-cgroup "$JAIL_PARENT" --new-pid-ns \
		--cgroup pids.max=64 -- --kernel "$GUESTS/serial_echo.elf" --mem 32M \
		--backend emu --cmdline idle=4000000000 \
		<"$TMP/in$i" >"$TMP/out$i" 2>"$TMP/err$i" &
	jpids[$i]=$!
done

# All running at once: each jailed vmon's pid is in its own cgroup.
running=0
for t in $(seq 1 3000); do
	running=0
	for i in $(seq 1 "$N"); do
		pidf=$JAIL_BASE/vmon/many-$i/vmon.pid
		[ -s "$pidf" ] || continue
		p=$(cat "$pidf")
		grep -qx "$p" "$(jail_cgroup many-$i pids)/cgroup.procs" 2>/dev/null &&
			running=$((running + 1))
	done
	[ "$running" -eq "$N" ] && break
	sleep 0.1
done
if [ "$running" -eq "$N" ]; then
	pass "$name-all-running"
else
	fail "$name-all-running" "only $running of $N jailed VMs were running in their cgroups"
fi

for i in $(seq 1 "$N"); do
	printf 'vm %d\004' "$i" >&"${fds[$i]}"
done
bad=0
why=""
for i in $(seq 1 "$N"); do
	wait "${jpids[$i]}"
	rc=$?
	exec {fds[$i]}>&-
	want="bytes=$((3 + ${#i}))"
	if [ "$rc" -ne 0 ] || ! tr -d '\r' <"$TMP/out$i" | grep -qx SUCCESS ||
		! grep -q "^$want " "$TMP/out$i"; then
		bad=$((bad + 1))
		why="vm $i: status $rc: $(tail -c 200 "$TMP/out$i" | tr '\r\n' '  ') $(head -c 200 "$TMP/err$i")"
	fi
done
left=0
for i in $(seq 1 "$N"); do
	[ -e "$(jail_cgroup many-$i pids)" ] && left=$((left + 1))
done
if [ "$bad" -eq 0 ] && [ "$left" -eq 0 ]; then
	pass "$name"
else
	fail "$name" "$bad failures, $left cgroups left; last: $why"
fi
