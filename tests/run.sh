#!/usr/bin/env bash
# Runs every vmon test: the cmocka unit tests, then the integration tests
# (tests/integration/*.sh). Prints each result and ends with the summary
# line "N passed, N failed, N skipped". Exit status 0 only if none failed.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
passed=0 failed=0 skipped=0
log=$(mktemp /tmp/vmon-run.XXXXXX)
trap 'rm -f "$log"' EXIT

echo "== unit tests"
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	if "$t" >"$log" 2>&1; then rc=0; else rc=$?; fi
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed
	passed=$((passed + p)) failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name ($p passed, $f failed)"
		grep -E '^\[  (FAILED|ERROR) ' "$log" | head -n 20
		tail -n 20 "$log"
	else
		echo "PASS $name ($p cases)"
	fi
done

echo "== integration tests"
for s in tests/integration/*.sh; do
	[ -f "$s" ] || continue
	echo "-- $(basename "$s")"
	start=$SECONDS
	bash "$s" | tee "$log"
	rc=${PIPESTATUS[0]}
	echo "-- $(basename "$s"): $((SECONDS - start)) s"
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
		echo "FAIL $(basename "$s"): script exited $rc without a result"
		failed=$((failed + 1))
	fi
	passed=$((passed + $(grep -c '^PASS ' "$log")))
	failed=$((failed + $(grep -c '^FAIL ' "$log")))
	skipped=$((skipped + $(grep -c '^SKIP ' "$log")))
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
