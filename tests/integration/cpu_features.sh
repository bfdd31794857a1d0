#!/usr/bin/env bash
# --cpu-features (src/cpu/cpu_model.c): one CPU model for both backends.
# The difftest kit guest prints the instruction-set features CPUID reports
# ("difftest: features=..."), which is what is checked:
#   cpu-features-<backend>-default   everything the backend offers (emu:
#                                    x86-64-v3 and more)
#   cpu-features-<backend>-v2, -v3   a pinned level: exactly its features
#                                    (or, on KVM, one clear error when the
#                                    host's KVM cannot offer them)
#   cpu-features-<backend>-minus     max with -avx2,-aes: those (and what
#                                    needs them) gone, the rest kept
#   cpu-features-same                emu and KVM report the same set for a
#                                    pinned model both can offer
#   cpu-features-bad-input           bad values: one "vmon: " line, status 2
source "$(dirname "$0")/../lib.sh"

ELF=$GUESTS/difftest.elf
# An empty test blob (header only: magic, version 2, no tests): the guest
# prints its features line only when it runs a blob.
printf '\x44\x44\x54\x31\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' >"$TMP/empty.blob"

# features BACKEND [ARGS...]: the guest's feature list, one per line, in
# $TMP/f.out; the run's status in $status, stderr in $TMP/f.err.
features() {
	local b=$1
	shift
	run_vmon "$TMP/f.raw" "$TMP/f.err" run --backend "$b" --kernel "$ELF" \
		--initrd "$TMP/empty.blob" "$@"
	tr -d '\r' <"$TMP/f.raw" | sed -n 's/^difftest: features=//p' | tr ',' '\n' | sort >"$TMP/f.out"
}
has() { grep -qx "$1" "$TMP/f.out"; }

V2="sse3 ssse3 sse4_1 sse4_2 popcnt"
V3="avx avx2 bmi1 bmi2 fma f16c movbe abm xsave"
EXTRA="aes pclmulqdq rdrand rdseed rdpid fsgsbase adx clflushopt clwb xsaveopt xsavec xgetbv1"

# check NAME WANT_PRESENT WANT_ABSENT: against $TMP/f.out
check() {
	local name=$1 yes=$2 no=$3 miss="" extra=""
	for f in $yes; do has "$f" || miss+=" $f"; done
	for f in $no; do ! has "$f" || extra+=" $f"; done
	if [ "$status" -ne 0 ]; then
		fail "$name" "status $status: $(head -c 200 "$TMP/f.err")"
	elif [ -n "$miss$extra" ]; then
		fail "$name" "missing:${miss:- none}; unexpected:${extra:- none}"
	else
		pass "$name"
	fi
}

kvm_lacks_popcnt=
for b in $(usable_backends); do
	if [ "$b" = emu ]; then
		features emu
		check cpu-features-emu-default "$V2 $V3 $EXTRA" ""
	fi
	for lv in v2 v3; do
		features "$b" --cpu-features "x86-64-$lv"
		if [ "$lv" = v2 ]; then yes=$V2 no="$V3 aes pclmulqdq"; else yes="$V2 $V3" no="aes pclmulqdq rdrand"; fi
		if [ "$b" = kvm ] && [ "$status" -eq 2 ] && grep -q "kvm backend cannot offer" "$TMP/f.err"; then
			grep -q "cannot offer popcnt" "$TMP/f.err" && kvm_lacks_popcnt=1
			if [ "$(wc -l <"$TMP/f.err")" -eq 1 ] && grep -q '^vmon: ' "$TMP/f.err"; then
				pass "cpu-features-kvm-$lv (this host's KVM cannot: $(head -c 120 "$TMP/f.err"))"
			else
				fail "cpu-features-kvm-$lv" "not one clear line: $(head -c 300 "$TMP/f.err" | tr '\n' ' ')"
			fi
			continue
		fi
		check "cpu-features-$b-$lv" "$yes" "$no"
		[ "$b" = emu ] && cp "$TMP/f.out" "$TMP/emu-$lv.out"
		[ "$b" = kvm ] && [ "$status" -eq 0 ] && cp "$TMP/f.out" "$TMP/kvm-$lv.out"
	done
	features "$b"
	cp "$TMP/f.out" "$TMP/$b-max.out"
	features "$b" --cpu-features -avx2,-aes
	if [ "$b" = emu ]; then
		check cpu-features-emu-minus "$V2 avx fma bmi2 pclmulqdq" "avx2 aes"
	elif grep -qx popcnt "$TMP/kvm-max.out" && [ -n "$kvm_lacks_popcnt" ]; then
		# KVM_GET_SUPPORTED_CPUID has no POPCNT, yet the guest sees it:
		# this KVM lets the guest run CPUID natively
		skip cpu-features-kvm-minus "this host's KVM does not virtualise CPUID (the guest sees the host's, whatever vmon sets)"
	else
		# what KVM offers here, less those two
		grep -vx -e avx2 -e aes "$TMP/kvm-max.out" >"$TMP/want"
		if [ "$status" -eq 0 ] && cmp -s "$TMP/want" "$TMP/f.out"; then
			pass cpu-features-kvm-minus
		else
			fail cpu-features-kvm-minus "status $status; $(diff "$TMP/want" "$TMP/f.out" | tr '\n' ' ' | head -c 200)"
		fi
	fi
done

# The software CPU's side of the comparison even where only KVM's scripts
# run (make test-kvm sets BACKENDS=kvm): two short boots of the kit guest.
for lv in v2 v3; do
	if [ -f "$TMP/kvm-$lv.out" ] && [ ! -f "$TMP/emu-$lv.out" ]; then
		features emu --cpu-features "x86-64-$lv"
		[ "$status" -eq 0 ] && cp "$TMP/f.out" "$TMP/emu-$lv.out"
	fi
done
same=""
for lv in v3 v2; do
	if [ -f "$TMP/emu-$lv.out" ] && [ -f "$TMP/kvm-$lv.out" ]; then
		same=$lv
		break
	fi
done
if [ -z "$same" ]; then
	if [ -f "$TMP/kvm-max.out" ]; then
		skip cpu-features-same "no pinned model both backends could offer here (KVM here reports: $(tr '\n' ' ' <"$TMP/kvm-max.out" | head -c 100))"
	else
		skip cpu-features-same "no usable /dev/kvm here to compare with"
	fi
elif cmp -s "$TMP/emu-$same.out" "$TMP/kvm-$same.out"; then
	pass "cpu-features-same (x86-64-$same)"
else
	fail cpu-features-same "x86-64-$same: $(diff "$TMP/emu-$same.out" "$TMP/kvm-$same.out" | tr '\n' ' ')"
fi

bad=0
why=""
for v in "" "x86-64-v9" "+nosuch" "-sse2" "avx,,aes" "x86-64-v3," "+"; do
	timeout -k 5 30 "$VMON" run --backend emu --kernel "$ELF" --cpu-features "$v" \
		</dev/null >"$TMP/b.out" 2>"$TMP/b.err"
	st=$?
	if [ "$st" -ne 2 ] || [ "$(wc -l <"$TMP/b.err")" -ne 1 ] || ! grep -q '^vmon: --cpu-features' "$TMP/b.err"; then
		bad=1
		why+="'$v': status $st, $(head -c 100 "$TMP/b.err" | tr '\n' ' '); "
	fi
done
if [ "$bad" -eq 0 ]; then
	pass cpu-features-bad-input
else
	fail cpu-features-bad-input "$why"
fi
