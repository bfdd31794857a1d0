#!/usr/bin/env bash
# make bench: builds the native reference and runs bench/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
mkdir -p "$BUILD/bench"
cc -O2 -o "$BUILD/bench/native_compute" bench/native_compute.c -Iguests
python3 bench/bench.py --build "$BUILD" "$@" | tee "$BUILD/bench/results.md"
