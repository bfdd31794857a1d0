#!/usr/bin/env bash
# Checks of the nested L1 machine itself (not of a test script), one line
# each like every test:
#   before: /dev/kvm is kvm_amd on AMD SVM with nested paging, so the
#           scripts' KVM checks run on a real KVM and not on nothing;
#   after:  L1's kernel log (the KVM host's) has no complaint KVM prints
#           about what a vmon guest did — "Unhandled WRMSR/RDMSR" and the
#           like — and no BUG, WARNING or Call Trace (but those of soft
#           lockups and of memory-cgroup OOM kills, noted).
set -u
case ${1:-} in
before)
	why=""
	grep -qw svm /proc/cpuinfo || why="no svm in L1's /proc/cpuinfo"
	[ -n "$why" ] || grep -qw npt /proc/cpuinfo || why="no npt (nested paging) in L1's /proc/cpuinfo"
	[ -n "$why" ] || [ -d /sys/module/kvm_amd ] || why="kvm_amd is not loaded"
	[ -n "$why" ] || [ -c /dev/kvm ] || why="no /dev/kvm"
	if [ -z "$why" ]; then echo "PASS l1-kvm-amd"; else echo "FAIL l1-kvm-amd: $why"; fi
	;;
after)
	# Without time stamps, pids and addresses, repeats of one complaint
	# (once per VM) collapse into one line with a count.
	bad=$(dmesg | grep -v 'ommand line:' | grep -E 'kvm|BUG|WARNING|Call Trace' |
		grep -iE 'unhandled|ignored|BUG|WARNING|Call Trace' |
		sed -E 's/^\[ *[0-9.]*\] //; s/\[[0-9]+\]/[pid]/; s/rIP: 0x[0-9a-f]+/rIP: .../')
	# The soft-lockup watchdog (and the call trace it prints) reports L1
	# itself starved by the outer emulator (TCG runs L1's vCPU threads for
	# tens of seconds without a tick under load), not KVM complaining
	# about a guest: printed as a note, not a failure, when that is all.
	# So is the call trace of an OOM kill in a memory cgroup: jailer.sh
	# runs a jailed VM over its memory.max on purpose (jail-oom-killed).
	soft=$(grep -c 'soft lockup' <<<"$bad")
	oom=$(dmesg | grep -c 'invoked oom-killer: .*oom_score_adj')
	memcg=$(dmesg | grep -c 'Memory cgroup out of memory: Killed process')
	[ "$oom" -le "$memcg" ] || oom=$memcg # only cgroup OOM kills
	traces=$(grep -c '^Call Trace:' <<<"$bad")
	rest=$(grep -v 'soft lockup' <<<"$bad" | grep -v '^Call Trace:$')
	if [ $((soft + oom)) -gt 0 ] && [ -z "$rest" ] && [ "$traces" -le $((soft + oom)) ]; then
		[ "$soft" = 0 ] || echo "# l1-kvm-host-log: L1's watchdog saw $soft soft lockup(s) (L1 starved by the outer TCG)"
		[ "$oom" = 0 ] || echo "# l1-kvm-host-log: $oom OOM kill(s) in a memory cgroup (their call traces are not KVM's)"
		bad=""
	fi
	if [ -z "$bad" ]; then
		echo "PASS l1-kvm-host-log"
	else
		echo "FAIL l1-kvm-host-log: $(echo "$bad" | sort | uniq -c | sort -rn | head -n 5 | tr -s ' \n' ' ')"
	fi
	;;
*)
	echo "usage: l1-checks.sh before|after" >&2
	exit 2
	;;
esac
