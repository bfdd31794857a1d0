#!/usr/bin/env bash
# Runs the integration scripts named on the command line (tests/integration/
# NAME.sh) as the KVM tests of `make test-kvm`: inside the nested L1
# machine, or directly on a host with VT-x/AMD-V. Each script's output is
# framed by "VMON-NESTED-BEGIN NAME" and "VMON-NESTED-END NAME STATUS
# SECONDS" lines for tests/nested/run.sh. The scripts are the checks; this
# only chooses their knob: BACKENDS=kvm (tests/lib.sh, usable_backends), so
# the scripts that loop over the backends run their kit guests on KVM only
# -- the software CPU's runs are make test's. (kit_matrix.sh compares both
# backends whatever BACKENDS says.)
set -u
cd "$(dirname "$0")/../.."
#
# Inside the nested L1 (l1-stage2.sh sets NESTED_RETRY=1), a script with
# a failure runs once more, and its second run counts; the first run's
# FAIL lines are quoted as "# first try: FAIL ..." comments. The hardware
# there is QEMU TCG's emulated SVM, which has now and then failed an L2
# guest that passed on the next run (a 2-vCPU Linux guest triple-faulted
# during boot once in about a dozen runs, 2026-12-07). A defect of vmon's
# fails both runs. On real hardware (NESTED_RETRY unset) one run counts.
run_script() {
	BACKENDS=${BACKENDS:-kvm} bash "tests/integration/$1.sh" 2>&1
}
# A benchmark instead of a script (make bench-kvm): bench-migration-kvm
# runs bench/migration_downtime.py's KVM rows (kvm→kvm, emu→kvm and
# kvm→emu; sizes from BENCH_SIZES, 256 MiB by default; BENCH_CHAINS=kvm or
# across for one of the two chains); every line of its
# output comes back as "BENCH LINE", then PASS if it ran to its end. Run
# once (no retry): its figures are the output.
run_bench() {
	case $1 in
	bench-migration-kvm)
		python3 bench/migration_downtime.py --build build --chains "${BENCH_CHAINS:-kvm,across}" \
			--sizes "${BENCH_SIZES:-256}" --runs "${BENCH_RUNS:-3}" 2>&1 | sed 's/^/BENCH /'
		local st=${PIPESTATUS[0]}
		if [ "$st" = 0 ]; then echo "PASS $1"; else echo "FAIL $1: the benchmark exited $st"; fi
		;;
	*) echo "FAIL $1: no such benchmark" ;;
	esac
}
for t in "$@"; do
	echo "VMON-NESTED-BEGIN $t"
	t0=$(date +%s)
	if [ "${t#bench-}" != "$t" ]; then
		run_bench "$t"
		echo "VMON-NESTED-END $t 0 $(($(date +%s) - t0))"
		continue
	fi
	out=$(run_script "$t")
	st=$?
	if [ "${NESTED_RETRY:-0}" = 1 ] && grep -q '^FAIL ' <<<"$out"; then
		grep '^FAIL ' <<<"$out" | sed 's/^/# first try: /'
		out=$(run_script "$t")
		st=$?
	fi
	printf '%s\n' "$out"
	echo "VMON-NESTED-END $t $st $(($(date +%s) - t0))"
done
