#!/usr/bin/env bash
# The CLI's informational commands.
source "$(dirname "$0")/../lib.sh"

if "$VMON" --help >"$TMP/out" 2>&1 && grep -q -- '--backend kvm|emu|auto' "$TMP/out" &&
	grep -q 'EXIT STATUS' "$TMP/out"; then
	pass cli-help
else
	fail cli-help "vmon --help did not print the manual"
fi

if "$VMON" --version >"$TMP/out" 2>&1 && grep -qE '^vmon [0-9]+\.[0-9]+\.[0-9]+' "$TMP/out"; then
	pass cli-version
else
	fail cli-version "vmon --version printed: $(cat "$TMP/out")"
fi

"$VMON" >"$TMP/out" 2>&1
if [ $? -eq 2 ]; then pass cli-no-args; else fail cli-no-args "expected status 2"; fi

# --backend auto on a host without VT-x/AMD-V must pick the software CPU:
# with KVM made unavailable, the guest still runs.
if grep -qwE 'vmx|svm' /proc/cpuinfo; then
	skip cli-auto-picks-emu "this host has hardware virtualization"
else
	VMON_KVM_DEVICE=/nonexistent/kvm timeout 60 "$VMON" run --kernel "$GUESTS/hello.elf" </dev/null >"$TMP/out" 2>"$TMP/err"
	if [ $? -eq 0 ] && grep -q SUCCESS "$TMP/out"; then
		pass cli-auto-picks-emu
	else
		fail cli-auto-picks-emu "$(cat "$TMP/err")"
	fi
fi
