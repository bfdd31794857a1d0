# Shared helpers for the jailer's integration tests (sourced after
# tests/lib.sh). The jailer needs root (CI runs as root); JAIL_BASE is the
# --chroot-base, JAIL_PARENT a parent cgroup of this run's own, so that a
# check for leftovers sees only what this run made.

JAIL_BASE=$TMP/jails
mkdir -p "$JAIL_BASE"
JAIL_PARENT=vmon-test-$$
PROBE=${PROBE:-$BUILD/tests/jail_probe}

# The hierarchy version the jailer picks by default: 1 where a v1 hierarchy
# has a controller (legacy or hybrid hosts), else 2.
if awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup" && $(i + 3) !~ /^rw,(xattr,)?name=[^,]*$/) f = 1; break } } END { exit !f }' /proc/self/mountinfo; then
	CG_VERSION=1
	MEMKEY=memory.limit_in_bytes
else
	CG_VERSION=2
	MEMKEY=memory.max
fi

# cg_mount CONTROLLER: the mount point of the v1 hierarchy that has it; on
# v2 the cgroup2 mount.
cg_mount() {
	awk -v c="$1" -v v="$CG_VERSION" '{
		for (i = 7; i <= NF; i++) if ($i == "-") {
			if (v == 2 && $(i + 1) == "cgroup2") { print $5; exit }
			if (v == 1 && $(i + 1) == "cgroup") {
				n = split($(i + 3), o, ",")
				for (j = 1; j <= n; j++) if (o[j] == c) { print $5; exit }
			}
			break
		}
	}' /proc/self/mountinfo
}

# jail_cgroup ID CONTROLLER: where the jail ID's cgroup is (or would be).
jail_cgroup() {
	echo "$(cg_mount "$2")/$JAIL_PARENT/$1"
}

# jail_leftovers BASE PARENT: prints what a failed jail left behind under
# the chroot base BASE and the parent cgroup PARENT (nothing: empty).
jail_leftovers() {
	local c m
	[ -e "$1/vmon" ] && echo "$1/vmon"
	for c in memory cpu pids cpuset; do
		m=$(cg_mount $c)
		[ -n "$m" ] && [ -e "$m/$2" ] && echo "$m/$2"
	done
	return 0
}

# jail_auto_backend: the backend vmon jail gives a VM that names none
# (src/jail/run_args.c): kvm where the host has hardware virtualization
# (vmx/svm in /proc/cpuinfo, kvm_intel/kvm_amd loaded) and the caller may
# open /dev/kvm (as in the nested L1 of make test-kvm), else emu.
jail_auto_backend() {
	if grep -qwE 'vmx|svm' /proc/cpuinfo && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } &&
		have_kvm; then
		echo kvm
	else
		echo emu
	fi
}

# cg_user_procs DIR: the pids in the cgroup DIR's cgroup.procs, one a line,
# less kernel threads (PF_KTHREAD in /proc/PID/stat's flags): KVM starts
# one per VM (kvm-nx-lpage-recovery) and moves it into the cgroups of the
# process that made the VM, so a jail on KVM holds vmon and that thread.
cg_user_procs() {
	local p flags
	for p in $(cat "$1/cgroup.procs" 2>/dev/null); do
		flags=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $7}')
		[ -n "$flags" ] && [ $((flags & 0x00200000)) -ne 0 ] && continue
		echo "$p"
	done
}

# wait_for FILE PATTERN SECONDS: until grep finds PATTERN in FILE, for at
# most SECONDS of wall time (a deadline, not a count of polls: in the
# nested L1 under TCG each grep and sleep took a good part of a second, and
# 2400 polls of a 240 s wait ran for more than 30 minutes).
wait_for() {
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	grep -q -- "$2" "$1" 2>/dev/null
}

# Removes this run's parent cgroups (empty by the time tests end).
jail_cleanup() {
	local c m
	for c in memory cpu pids cpuset; do
		m=$(cg_mount $c)
		[ -n "$m" ] && [ -d "$m/$JAIL_PARENT" ] && rmdir "$m/$JAIL_PARENT" 2>/dev/null
		[ -n "$m" ] && [ -d "$m/$JAIL_PARENT-bad" ] && rmdir "$m/$JAIL_PARENT-bad" 2>/dev/null
	done
	[ -n "${JAIL_KEEP:-}" ] || rm -rf "$TMP"
}
trap jail_cleanup EXIT
