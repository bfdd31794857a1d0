#!/usr/bin/env bash
# The vmon binary is built hardened (Makefile): stack protector, full
# RELRO (relocations read-only, bound at start) and, outside the ASan
# build, _FORTIFY_SOURCE's checked libc calls.
source "$(dirname "$0")/../lib.sh"

if ! command -v readelf >/dev/null; then
	skip hardening "readelf (binutils) is not installed"
	exit 0
fi
dyn=$(readelf -dW "$VMON")
syms=$(readelf --dyn-syms -W "$VMON")
if grep -q 'GNU_RELRO' <(readelf -lW "$VMON") && grep -qE 'BIND_NOW|Flags: .*NOW' <<<"$dyn"; then
	pass hardening-full-relro
else
	fail hardening-full-relro "no GNU_RELRO segment or no BIND_NOW: $(grep -E 'FLAGS' <<<"$dyn" | tr -s ' ' | tr '\n' ' ')"
fi
if grep -q '__stack_chk_fail' <<<"$syms"; then
	pass hardening-stack-protector
else
	fail hardening-stack-protector "no __stack_chk_fail: not built with -fstack-protector-strong"
fi
if grep -q '__asan_init' <<<"$syms$(readelf -sW "$VMON" 2>/dev/null | grep -m1 __asan_init)"; then
	skip hardening-fortify "an ASan build: _FORTIFY_SOURCE is left out there on purpose"
elif grep -qE '__(memcpy|snprintf|vsnprintf|fprintf)_chk' <<<"$syms"; then
	pass hardening-fortify
else
	fail hardening-fortify "no __*_chk calls: not built with -D_FORTIFY_SOURCE=2 (and -O)"
fi
