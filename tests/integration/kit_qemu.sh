#!/usr/bin/env bash
# Every kit ELF boots unchanged on QEMU's microvm (TCG), so benchmarks
# compare like with like: guests/qemu-check.sh runs them all there.
source "$(dirname "$0")/../lib.sh"

if ! command -v qemu-system-x86_64 >/dev/null; then
	skip kit-qemu "qemu-system-x86_64 is not installed"
	exit 0
fi
bash guests/qemu-check.sh "$BUILD" >"$TMP/q.log" 2>&1
sed -n 's/^ok   \([a-z_0-9]*\) (\(.*\)) -> .*/PASS qemu-\1 (\2)/p; s/^FAIL \([a-z_0-9]*\) \(.*\)/FAIL qemu-\1: \2/p' "$TMP/q.log"
