#!/usr/bin/env bash
# make test-kvm: vmon's KVM-backend tests on a real KVM (tests/nested/README.md).
#
# On a host with VT-x/AMD-V (vmx/svm in /proc/cpuinfo, kvm_intel/kvm_amd
# loaded, /dev/kvm usable) the scripts run here directly. Anywhere else the
# harness builds an L1 machine (scripts/make-nested.sh), boots it under
# QEMU TCG with -cpu max (AMD SVM with nested paging), where kvm_amd gives
# a real /dev/kvm, and runs the same scripts inside (tests/nested/
# l1-stage2.sh, suite.sh). Either way it prints the scripts' lines — with
# "-nested" appended to each name when they ran in L1 — and ends with the
# summary line of tests/run.sh, "N passed, N failed, N skipped"; the exit
# status is 0 only if none failed.
#
# Knobs (environment):
#   TESTS="a b"        scripts of tests/integration/ to run (names, with or
#                      without .sh; comma or space separated). Default below.
#   NESTED=1|0         force the nested run, or the direct one (default:
#                      direct only where the host has hardware virtualization)
#   NESTED_MEM, NESTED_CPUS   L1's RAM and vCPUs (4G, 2)
#   NESTED_QEMU_CPU    L1's CPU model (max,-xsave: see below)
#   NESTED_TCG         QEMU's -accel value (tcg: one host thread per vCPU)
#   NESTED_BOOT_TIMEOUT  seconds for L1 to reach userspace (120)
#   NESTED_STALL_TIMEOUT seconds without L1's heartbeat (one line every
#                      10 s of L1's time) before the outer QEMU counts as
#                      hung (150)
#   NESTED_TIMEOUT     seconds for a whole outer run (2400)
#   BENCH_SIZES        make bench-kvm (TESTS=bench-migration-kvm, a benchmark,
#                      not a script: suite.sh): the guest sizes in MiB
#                      (256; "256,2048"); its output is printed as it comes
#                      and kept in $BUILD/nested/bench.txt; BENCH_CHAINS=kvm or
#                      across runs one of its two chains
#
# QEMU TCG now and then hangs early in a Linux boot on these machines. An
# outer run whose L1 never reaches userspace, or whose heartbeat stops (L1
# prints one every 10 s; a run where L1's timers never fired at all was
# seen on a heavily loaded host), is a hang: the harness stops
# that QEMU and boots L1 once more for the scripts not yet finished, up to
# NESTED_MAX_RUNS=6 outer runs in all (4 until a dry run on 2026-12-07
# met two hangs and a panic in one run); a hang in the last one is reported
# as "FAIL nested-outer-qemu: HANG ...", a fault of the outer emulator, not
# of a test. An L1 whose own kernel panics ("Fatal exception in
# interrupt", "corrupted stack end detected inside scheduler": L1 under
# TCG during linux_kvm.sh, in about one nested run in three on
# 2026-12-07, and twice in a row once) is retried the same way, each
# panic printed with L1's last console lines; a vmon process cannot
# legitimately panic its host kernel, so a panic in every run is reported
# as a failure, never hidden.
#
# L1's CPU is TCG's "max" without XSAVE: QEMU's TCG does not implement the
# SVM intercept of XSETBV, so a nested guest's XSETBV never reaches L1's
# KVM, which then reports a stale CPUID[0xd,0].EBX (the XSAVE area size for
# the XCR0 it believes in) and keeps loading its stale XCR0 on every entry:
# Linux warns "XSAVE consistency problem" at boot. Real hardware
# intercepts XSETBV; without XSAVE in L1 nothing depends on it.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD
OUT=$BUILD/nested
# The scripts with a KVM side that CI can afford in L1 (the kit device
# scripts run on KVM nowhere else in CI; jailer, the jailed Linux guest
# and kit guests on KVM, takes 4.5 minutes there at a load of 13, 10 at
# 20-30: L1 mounts cgroup2 for it). Left out of the default list,
# each runnable with TESTS=NAME:
#   serial        its 64 KiB piped through the UART byte by byte took five
#                 minutes in L1;
#   balloon       3.5-9 minutes of the nested run depending on the load (a
#                 512 MiB guest filling 380 MiB, twice); all nine
#                 balloon-kvm-* checks pass there (2026-12-07);
#   seccomp       about 16 minutes in L1 (strace of every thread kind; the
#                 software CPU's filters: the KVM backend's are
#                 seccomp_kvm's, in the list);
#   snapshot      about 80 minutes in L1 (docs/snapshot.md); its
#                 x86-64-v2 guest no longer has PCID (no level has it), which
#                 L1's KVM lacks;
#   linux_cross_backend  the Linux guest booted on the software CPU inside
#                 L1 (TCG twice over), then snapshot to KVM and migrations
#                 KVM -> emu -> KVM: 27 minutes in L1 at a load of 13-26,
#                 all five cross-* checks passing (2026-12-07);
#   linux_boot_protocol, difftest   need gcc and QEMU, which L1 lacks;
#   cpu_debug     QEMU's TCG, which runs L2's instructions here, makes INT1
#                 #UD: only real hardware can pass debug-kvm.
# vmon_in_vmon.sh has its own target (make test-vmon-in-vmon).
DEFAULT_TESTS="kit_backends kit_matrix concurrent bad_input kvm_fastpath virtio_mmio virtio_blk
	virtio_net virtio_vsock virtio_console virtio_bad_net terminal boot_formats linux_kvm ratelimit
	lapic_modes migrate_kvm snapshot_diff cpu_features cpu_sysfeat jailer seccomp_kvm"

passed=0 failed=0 skipped=0
result() { # result KIND NAME [WHY]
	case $1 in
	PASS) passed=$((passed + 1)) && echo "PASS $2" ;;
	FAIL) failed=$((failed + 1)) && echo "FAIL $2: $3" ;;
	SKIP) skipped=$((skipped + 1)) && echo "SKIP $2: $3" ;;
	esac
}
finish() {
	[ $((passed + failed)) -gt 0 ] || result FAIL test-kvm "no test ran"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit
}

tests=()
for t in ${TESTS:-$DEFAULT_TESTS}; do
	for n in ${t//,/ }; do
		n=${n##*/}
		n=${n%.sh}
		if [ "$n" = bench-migration-kvm ]; then
			tests+=("$n") # a benchmark (make bench-kvm; suite.sh)
		elif [ ! -f "tests/integration/$n.sh" ]; then
			result FAIL "test-kvm-$n" "no tests/integration/$n.sh"
		else
			tests+=("$n")
		fi
	done
done
[ "${#tests[@]}" -gt 0 ] || finish

# --- reading the scripts' output ----------------------------------------------
# handle_line LINE: one line of suite.sh's output (or of L1's stage 2).
# Framing markers update the state; a script's test lines are kept until
# its END marker and then printed and counted, with $SUFFIX appended to
# each test's name (so a script cut short by a hang of the outer QEMU and
# run again is not counted twice); test lines outside a script (L1's own
# checks) count at once; timing lines ("# ...") are echoed; everything
# goes to $LOG.
declare -A finished=() # script name -> 1 once its END marker came
current="" l1_up=0 l1_done=0 SUFFIX="" alive=0
pending=()
flush() { # flush NAME STATUS [SECONDS]: prints and counts the script's results
	local p kind name why fails=0
	echo "-- $1.sh${SUFFIX:+ (nested)}${3:+ ($3 s)}"
	for p in "${pending[@]}"; do
		IFS=$'\t' read -r kind name why <<<"$p"
		[ "$kind" != FAIL ] || fails=1
		result "$kind" "$name$SUFFIX" "$why"
	done
	if [ "$2" != 0 ] && [ "$fails" = 0 ]; then
		result FAIL "$1.sh$SUFFIX" "script exited $2 without a result"
	fi
	pending=()
}
handle_line() {
	local line=$1 kind rest name why
	echo "$line" >>"$LOG"
	case $line in
	"VMON-NESTED-BEGIN "*)
		current=${line#VMON-NESTED-BEGIN }
		pending=()
		;;
	"VMON-NESTED-END "*)
		read -r name rest why <<<"${line#VMON-NESTED-END }"
		flush "$name" "$rest" "$why"
		finished[$name]=1
		current=""
		;;
	VMON-NESTED-L1-UP) l1_up=1 ;;
	VMON-NESTED-DONE) l1_done=1 ;;
	VMON-NESTED-ALIVE) alive=$(date +%s) ;;
	"VMON-NESTED-L1-ERROR "*) result FAIL "nested-l1-setup" "${line#VMON-NESTED-L1-ERROR }" ;;
	"PASS "* | "FAIL "* | "SKIP "*)
		kind=${line%% *}
		rest=${line#* }
		if [ "$kind" = PASS ]; then
			name=$rest why=""
		else
			name=${rest%%: *}
			why=${rest#*: }
			[ "$name" != "$rest" ] || why="(no reason given)"
		fi
		if [ -n "$current" ]; then
			pending+=("$kind"$'\t'"$name"$'\t'"$why")
		else
			result "$kind" "$name$SUFFIX" "$why"
		fi
		;;
	"# "*) echo "$line" ;; # timings the scripts print
	"BENCH "*) # a benchmark's output (make bench-kvm), as it comes
		echo "${line#BENCH }"
		echo "${line#BENCH }" >>"$OUT/bench.txt"
		;;
	esac
}

mkdir -p "$OUT"
LOG=$OUT/results.log
: >"$LOG"
: >"$OUT/bench.txt"

hw_virt() {
	grep -qwE 'vmx|svm' /proc/cpuinfo && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } &&
		[ -r /dev/kvm ] && [ -w /dev/kvm ]
}
mode=${NESTED:-auto}
if [ "$mode" = auto ]; then
	if hw_virt; then mode=0; else mode=1; fi
fi

# --- directly, on a host with hardware virtualization ----------------------
if [ "$mode" = 0 ]; then
	echo "== KVM tests on this host's /dev/kvm (hardware virtualization)"
	while IFS= read -r line; do handle_line "$line"; done < <(bash tests/nested/suite.sh "${tests[@]}")
	finish
fi

# --- nested: L1 under QEMU TCG ----------------------------------------------------
SUFFIX=-nested
echo "== KVM tests in a nested L1 machine (QEMU TCG -cpu max, kvm_amd inside)"
if ! command -v qemu-system-x86_64 >/dev/null; then
	result FAIL nested-setup "no qemu-system-x86_64 (run scripts/setup.sh: qemu-system-x86)"
	finish
fi
t0=$(date +%s)
if ! scripts/make-nested.sh >"$OUT/make.log" 2>&1; then
	result FAIL nested-setup "scripts/make-nested.sh failed: $(tail -n 3 "$OUT/make.log" | tr '\n' ' ')"
	finish
fi
echo "# nested: L1 built in $(($(date +%s) - t0)) s ($(tail -n1 "$OUT/make.log"))"

BOOT_TIMEOUT=${NESTED_BOOT_TIMEOUT:-120}
STALL_TIMEOUT=${NESTED_STALL_TIMEOUT:-150}
TOTAL_TIMEOUT=${NESTED_TIMEOUT:-2400}

# outer_run LIST...: one boot of L1 running the scripts LIST; streams
# their lines through handle_line. Sets $outcome: done (L1 finished and
# powered off), hang-boot (no L1 userspace within BOOT_TIMEOUT), hang
# (STALL_TIMEOUT without a heartbeat), timeout (TOTAL_TIMEOUT), ended (QEMU or
# L1 ended before finishing).
outer_run() {
	local list res con n=0 total start last now qpid
	list=$(
		IFS=,
		echo "$*"
	)
	runs=$((runs + 1))
	res=$OUT/ttyS1.$runs.log con=$OUT/console.$runs.log mon=$OUT/monitor.sock
	: >"$res"
	: >"$con"
	rm -f "$mon"
	l1_up=0 l1_done=0 current="" alive=0
	rm -f "$OUT/qemu.pid"
	# --foreground: QEMU stays in this script's process group, so it goes
	# when the harness is interrupted (and the EXIT trap stops it too).
	timeout --foreground -k 10 "$TOTAL_TIMEOUT" qemu-system-x86_64 -accel "${NESTED_TCG:-tcg}" \
		-cpu "${NESTED_QEMU_CPU:-max,-xsave}" \
		-smp "${NESTED_CPUS:-2}" -m "${NESTED_MEM:-4G}" -nodefaults -no-user-config \
		-display none -no-reboot -serial "file:$con" -serial "file:$res" \
		-monitor "unix:$mon,server=on,wait=off" -pidfile "$OUT/qemu.pid" \
		-kernel "$OUT/bzImage" -initrd "$OUT/l1-initrd.cpio.gz" \
		-append "console=ttyS0 quiet panic=-1 vmon.tests=$list${BENCH_SIZES:+ vmon.bench_sizes=$BENCH_SIZES}${BENCH_CHAINS:+ vmon.bench_chains=$BENCH_CHAINS}" \
		-drive "file=$OUT/l1-root.img,format=raw,if=virtio,readonly=on" \
		</dev/null >"$OUT/qemu.out" 2>&1 &
	qpid=$!
	start=$(date +%s)
	last=$start
	outcome=ended
	while :; do
		total=$(wc -l <"$res")
		if [ "$total" -gt "$n" ]; then
			while IFS= read -r line; do handle_line "$line"; done < <(sed -n "$((n + 1)),${total}p" "$res" | tr -d '\r')
			n=$total
			last=$(date +%s)
		fi
		kill -0 "$qpid" 2>/dev/null || break
		now=$(date +%s)
		if [ "$l1_up" = 0 ] && [ $((now - start)) -ge "$BOOT_TIMEOUT" ]; then
			outcome=hang-boot
			break
		fi
		# Counted from L1's first sign of life or its last heartbeat.
		[ "$alive" -gt 0 ] || [ "$l1_up" = 0 ] || alive=$last
		if [ "$l1_up" = 1 ] && [ $((now - alive)) -ge "$STALL_TIMEOUT" ]; then
			outcome=hang
			break
		fi
		sleep 1
	done
	if kill -0 "$qpid" 2>/dev/null; then
		[ "$outcome" = ended ] || hang_report
		kill "$qpid" 2>/dev/null
	fi
	wait "$qpid"
	local rc=$?
	rm -f "$OUT/qemu.pid" # QEMU is gone: nothing for the EXIT trap to stop
	total=$(wc -l <"$res")
	if [ "$total" -gt "$n" ]; then
		while IFS= read -r line; do handle_line "$line"; done < <(sed -n "$((n + 1)),${total}p" "$res" | tr -d '\r')
	fi
	if [ "$outcome" = ended ]; then
		if [ "$l1_done" = 1 ]; then
			outcome=done
		elif [ "$rc" = 124 ]; then
			outcome=timeout
		elif grep -q 'Kernel panic - not syncing' "$con" 2>/dev/null; then
			# L1's own kernel died (its console says why): a fault of
			# the emulated L1 machine, retried as a hang is.
			outcome=panic
		fi
	fi
	echo "# nested: outer run of $(($(date +%s) - start)) s: $outcome (QEMU status $rc)"
}

# hang_report: what the stalled QEMU was doing, in $OUT/hang.$runs.txt
# (its CPU use over 5 s, and its monitor's "info cpus" and "info
# registers"), for the HANG lines.
hang_report() {
	local q f=$OUT/hang.$runs.txt t1 t2
	q=$(cat "$OUT/qemu.pid" 2>/dev/null)
	[ -n "$q" ] && [ -r "/proc/$q/stat" ] || return 0
	t1=$(awk '{print $14 + $15}' "/proc/$q/stat" 2>/dev/null)
	sleep 5
	t2=$(awk '{print $14 + $15}' "/proc/$q/stat" 2>/dev/null)
	{
		echo "outcome $outcome; QEMU CPU time over 5 s: $(((${t2:-0} - ${t1:-0}) * 100 / $(getconf CLK_TCK) / 5))%"
		printf 'info cpus\ninfo registers -a\n' |
			python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
for line in sys.stdin:
    s.sendall(line.encode()); time.sleep(0.5)
time.sleep(1); out = b""
try:
    while True:
        b = s.recv(65536)
        if not b: break
        out += b
except OSError: pass
sys.stdout.write(out.decode(errors="replace"))' "$mon" 2>&1
	} >"$f"
	hang_cpu=$(head -n1 "$f")
}

why_console() { echo "L1 console: $(tr -d '\r' <"$OUT/console.$runs.log" | tail -n 4 | tr '\n' ' ' | cut -c1-300)"; }

todo=("${tests[@]}")
retried=0 runs=0 hang_cpu=""
# An interrupted harness leaves no QEMU behind.
trap 'q=$(cat "$OUT/qemu.pid" 2>/dev/null); [ -z "$q" ] || kill "$q" 2>/dev/null' EXIT
while [ "${#todo[@]}" -gt 0 ]; do
	outer_run "${todo[@]}"
	interrupted=$current
	left=()
	for t in "${todo[@]}"; do [ -n "${finished[$t]:-}" ] || left+=("$t"); done
	case $outcome in
	done)
		for t in "${left[@]}"; do result FAIL "$t.sh-nested" "L1 finished without running it"; done
		break
		;;
	hang-boot | hang | panic)
		# Every hang or panic boots L1 again, up to NESTED_MAX_RUNS outer
		# runs in all (each one's cause is printed above the results).
		retried=0
		[ "$runs" -lt "${NESTED_MAX_RUNS:-6}" ] || retried=1
		what="no L1 userspace within $BOOT_TIMEOUT s"
		[ "$outcome" = hang ] && what="no heartbeat from L1 for $STALL_TIMEOUT s${interrupted:+ during $interrupted.sh}"
		[ "$outcome" = panic ] && what="L1's kernel panicked${interrupted:+ during $interrupted.sh}: $(why_console)"
		if [ "$retried" = 0 ]; then
			echo "# nested: HANG of the outer QEMU ($what; $hang_cpu; see $OUT/hang.$runs.txt); booting L1 again for: ${left[*]}"
			pending=() # the interrupted script runs again from the start
			retried=1
			todo=("${left[@]}")
			continue
		fi
		[ -z "$interrupted" ] || flush "$interrupted" 0
		result FAIL nested-outer-qemu "HANG: the outer QEMU hung again before its retry finished a script, or after $runs runs ($what; $hang_cpu; see $OUT/hang.$runs.txt); $(why_console)"
		;;
	timeout)
		[ -z "$interrupted" ] || flush "$interrupted" 0
		[ -z "$interrupted" ] || result FAIL "$interrupted.sh-nested" "still running when the whole nested run reached NESTED_TIMEOUT=$TOTAL_TIMEOUT s"
		;;
	*)
		[ -z "$interrupted" ] || flush "$interrupted" 0
		[ -z "$interrupted" ] || result FAIL "$interrupted.sh-nested" "L1 ended while it ran; $(why_console)"
		;;
	esac
	for t in "${left[@]}"; do
		[ "$t" = "$interrupted" ] || result FAIL "$t.sh-nested" "not run: the nested run ended early ($outcome)"
	done
	break
done
echo "# nested: $(($(date +%s) - t0)) s in all; full output in $LOG"
finish
