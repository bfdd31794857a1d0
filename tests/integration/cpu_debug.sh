#!/usr/bin/env bash
# Debug exceptions (issue 17 part 2) with the kit guest guests/debug.c, on
# every usable backend: INT3's #BP and INT1's #DB with RIP after them,
# TF single-step traps (DR6.BS) after exactly the instructions stepped
# (none right after MOV SS),
# an instruction breakpoint in DR0 (#DB before the instruction, DR6.B0,
# RF from the handler lets it run), data breakpoints (write, read/write)
# and an I/O breakpoint as traps after the access, DR5 as DR7, DR7.GD's
# #DB. The guest's
# list of events must be exactly this one (QEMU's TCG gives the same, but
# for INT1 and GD which it lacks: guests/qemu-check.sh). The software CPU
# also with every hot block compiled (VMON_EMU_NATIVE=eager): stepping
# takes one instruction at a time whatever the translator did before.
source "$(dirname "$0")/../lib.sh"

cat >"$TMP/want" <<'W'
debug: int3, int1, single-step, instruction breakpoint
  #BP dr6=0 at int3_after
  #DB dr6=0 at int1_after
  #DB dr6=4000 at step_1
  #DB dr6=4000 at step_2
  #DB dr6=4000 at step_3
  #DB dr6=4000 at step_4
  #DB dr6=4000 at step_5
  #DB dr6=4000 at step_6
  #DB dr6=4000 at ss_1
  #DB dr6=4000 at ss_3
  #DB dr6=4000 at ?
  #DB dr6=4000 at ?
  #DB dr6=4000 at ?
  #DB dr6=1 at bp_at
  #DB dr6=1 at bp_at
dr7=0x401 sum=9
  #DB dr6=2 at wp_after
  #DB dr6=2 at rp_after
  #DB dr6=4 at io_after
watched=5
  #DB dr6=2000 at gd_at
SUCCESS
W

check() { # check NAME [ENV=VALUE...] -- VMON ARGS...
	local name=$1
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" timeout -k 5 "$TEST_TIMEOUT" "$VMON" run --kernel "$GUESTS/debug.elf" "$@" \
		</dev/null >"$TMP/$name.raw" 2>"$TMP/$name.err"
	status=$?
	tr -d '\r' <"$TMP/$name.raw" >"$TMP/$name.out"
	if [ $status -ne 0 ]; then
		fail "$name" "exit status $status; $(tail -c 300 "$TMP/$name.out" | tr '\n' ' ') $(head -c 200 "$TMP/$name.err")"
	elif ! cmp -s "$TMP/want" "$TMP/$name.out"; then
		fail "$name" "events differ: $(diff "$TMP/want" "$TMP/$name.out" | head -8 | tr '\n' ' ')"
	else
		pass "$name"
	fi
}

for b in $(usable_backends); do
	check debug-$b -- --backend "$b"
done
check debug-emu-native-eager VMON_EMU_NATIVE=eager -- --backend emu
