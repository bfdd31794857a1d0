#!/usr/bin/env bash
# Differential instruction tester, fixed-seed slice (tests/difftest/README.md):
# generated instruction sequences of every class (the integer ISA, SSE,
# x87, and the x86-64-v2/-v3, AES, PCLMULQDQ and XSAVE extension classes)
# run in the difftest kit guest on QEMU TCG (the reference), on the host
# CPU (overrules QEMU where they disagree), on vmon's emu backend when
# this vmon has one (EMU_VMON picks another binary) and on the KVM backend
# where the host kernel's emulator can run them. One line per class, about
# half a minute in all. `make difftest` runs more.
source "$(dirname "$0")/../lib.sh"

ELF=$GUESTS/difftest.elf
if ! command -v qemu-system-x86_64 >/dev/null; then
	skip difftest "qemu-system-x86_64 is not installed (the reference oracle)"
	exit 0
fi
if ! command -v python3 >/dev/null || ! command -v as >/dev/null; then
	skip difftest "python3 and the GNU assembler are needed to generate tests"
	exit 0
fi

# The guest alone (built-in test) boots unchanged on QEMU microvm.
timeout -k 5 60 qemu-system-x86_64 -M microvm -accel tcg -m 256 -nographic -no-reboot \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$ELF" </dev/null >"$TMP/q.out" 2>&1
st=$?
if [ "$st" -eq 1 ] && grep -qx SUCCESS <(tr -d '\r' <"$TMP/q.out"); then
	pass difftest-guest-qemu
else
	fail difftest-guest-qemu "status $st; $(tail -c 200 "$TMP/q.out" | tr '\n' ' ')"
fi

# Its built-in test gives byte-identical output on both vmon backends.
if have_kvm; then
	for b in kvm emu; do
		run_vmon "$TMP/$b.out" "$TMP/$b.err" run --backend "$b" --kernel "$ELF"
		echo "exit status $status" >>"$TMP/$b.out"
	done
	if grep -q 'not part of this build' "$TMP/emu.err"; then
		skip difftest-guest-kvm-emu "this vmon has no emu backend"
	elif cmp -s "$TMP/kvm.out" "$TMP/emu.out" && grep -qx SUCCESS <(tr -d '\r' <"$TMP/kvm.out"); then
		pass difftest-guest-kvm-emu
	else
		fail difftest-guest-kvm-emu "$(diff "$TMP/kvm.out" "$TMP/emu.out" | head -6 | tr '\n' ' ')"
	fi
fi

# Classes with known emu bugs (listed in tests/difftest/README.md): while
# they fail they are reported as SKIP with the reason, never as PASS.
# None at the moment; an entry reads [class]="what is wrong".
declare -A KNOWN=()

SEEDS=${DIFFTEST_SEEDS:-3}

# slice PREFIX [run.py options...]: runs the fixed seeds and reports one
# line per class, named PREFIX-CLASS.
slice() {
	local prefix=$1
	shift
	timeout -k 5 300 python3 tests/difftest/run.py --build "$BUILD" --seeds "$SEEDS" --first-seed 1 \
		--class-results "$@" >"$TMP/dt.log" 2>&1
	local rc=$?
	if ! grep -q '^class ' "$TMP/dt.log"; then
		if grep -q "nothing to compare" "$TMP/dt.log"; then
			skip "$prefix" "$(grep 'nothing to compare' "$TMP/dt.log")"
		else
			fail "$prefix" "runner exited $rc: $(tail -c 400 "$TMP/dt.log" | tr '\n' ' ')"
		fi
		return
	fi
	local cls p f s n why name
	while read -r _ cls p f s n why; do
		p=${p#passed=} f=${f#failed=} s=${s#skipped=} n=${n#insns=}
		name=$prefix-$cls
		if [ "$f" -ne 0 ]; then
			if [ -n "${KNOWN[$cls]:-}" ]; then
				skip "$name" "known emu bug: ${KNOWN[$cls]} ($f of $((p + f + s)) tests fail)"
			else
				fail "$name" "$f of $((p + f + s)) tests differ; $(grep -A12 -m1 "MISMATCH.*class $cls " "$TMP/dt.log" | tr '\n' ' ' | tr -s ' ' | head -c 900)"
			fi
		elif [ "$p" -eq 0 ] && [ -n "$why" ]; then
			skip "$name" "not compared: $(echo "${why#why=}" | tr '-' ' ')"
		elif [ "$p" -eq 0 ]; then
			skip "$name" "not compared: no emu backend in this vmon and KVM here cannot run the class"
		else
			if [ "$s" -ne 0 ]; then pass "$name ($p tests, $s not compared)"; else pass "$name ($p tests, $n instructions)"; fi
		fi
	done < <(grep '^class ' "$TMP/dt.log")
}

slice difftest
# The same integer classes with every block compiled to host code on first
# sight (src/cpu/emu/native.c), so the generated sequences, which run once,
# go through translated blocks (native_chain.c), native runs and their
# bail-outs too; then with translated blocks off (native runs only).
VMON_EMU_NATIVE=eager slice difftest-native --no-kvm \
	--classes alu,shift,muldiv,divedge,cond,bitops,movext,xchg,string,bmi
VMON_EMU_NATIVE=eager VMON_EMU_CHAIN=0 slice difftest-runs --no-kvm \
	--classes alu,shift,muldiv,divedge,cond,bitops,movext,xchg,string,bmi
