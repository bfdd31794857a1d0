#!/usr/bin/env bash
# The system features of the CPU model (src/cpu/cpu_model.c: pcid,
# invpcid, smep, smap, umip), named in --cpu-features like the
# instruction-set ones, with the kit guest guests/sysfeat.c (it prints
# what CPUID reports, then checks that an absent feature behaves as on
# hardware without it: its CR4 bit #GP, INVPCID #UD, STAC/CLAC #UD; and a
# present one works). On every usable backend (KVM under make test-kvm):
#   cpu-sysfeat-<b>-default   no --cpu-features: CPUID reports what
#                             `vmon cpu-features --backend b` lists
#   cpu-sysfeat-<b>-off       -pcid,-invpcid,-smep,-smap,-umip: none in
#                             CPUID, and each refused as above (on KVM,
#                             which enforces CR4 and INVPCID by the
#                             guest's CPUID, but cannot make STAC #UD: the
#                             guest leaves STAC out there, stac=0)
#   cpu-sysfeat-<b>-model     x86-64-v2 has none of them (no level
#                             does: a level is a CPU both backends give),
#                             x86-64-v2,+smep,+umip those two
#   cpu-sysfeat-<b>-list      `vmon cpu-features --backend b
#                             --cpu-features SPEC` prints what the guest
#                             gets (SPEC's features less the baseline)
#   cpu-sysfeat-kvm-offers-svm  where kvm_amd's nested parameter is on,
#                             KVM's offer (a migration target's early
#                             check) includes svm: a nested guest is
#                             taken, not refused before it is built
# and once:
#   cpu-sysfeat-list-bad      vmon cpu-features with a bad SPEC, or a
#                             feature the backend cannot give: one line,
#                             status 2
source "$(dirname "$0")/../lib.sh"

ELF=$GUESTS/sysfeat.elf
SYS="pcid invpcid smep smap umip"

# run_sysfeat NAME BACKEND [VMON ARGS...]: boots the guest; its CPUID line
# ("pcid=1 invpcid=0 ...") in $line, SUCCESS checked.
run_sysfeat() {
	local name=$1 b=$2 cmdline=""
	shift 2
	[ "$b" = kvm ] && cmdline=stac=0
	run_vmon "$TMP/$name.raw" "$TMP/$name.err" run --backend "$b" --no-api --kernel "$ELF" \
		--cmdline "$cmdline" "$@"
	tr -d '\r' <"$TMP/$name.raw" >"$TMP/$name.out"
	line=$(sed -n 's/^sysfeat: //p' "$TMP/$name.out")
}
# want_line LIST: the CPUID line for the features of LIST (names, one a
# line or space separated) among SYS.
want_line() {
	local out="" f v
	for f in $SYS; do
		v=0
		grep -qw "$f" <<<"$1" && v=1
		out+="${out:+ }$f=$v"
	done
	echo "$out"
}
# check NAME WANT: the guest passed and reported WANT.
check() {
	if [ "$status" -ne 0 ] || ! grep -qx SUCCESS "$TMP/$1.out"; then
		fail "$1" "status $status: $(grep -v '^ok' "$TMP/$1.out" | tail -c 300 | tr '\n' ' ') $(head -c 200 "$TMP/$1.err")"
	elif [ "$line" != "$2" ]; then
		fail "$1" "CPUID says '$line', want '$2'"
	else
		pass "$1"
	fi
}

for b in $(usable_backends); do
	offer=$("$VMON" cpu-features --backend "$b" 2>"$TMP/offer.err")
	if [ -z "$offer" ]; then
		for n in default off model list; do
			fail "cpu-sysfeat-$b-$n" "vmon cpu-features --backend $b: $(head -c 200 "$TMP/offer.err")"
		done
		continue
	fi
	echo "# $b offers: $offer" >&2
	[ "$b" != emu ] || [ "$(want_line "$offer")" = "$(want_line "$SYS")" ] ||
		fail "cpu-sysfeat-emu-offer" "the software CPU should offer all of $SYS: $offer"

	if [ "$b" = kvm ]; then
		nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null)
		case $nested in
		1 | Y)
			if grep -qw svm <<<"$offer"; then
				pass cpu-sysfeat-kvm-offers-svm
			else
				fail cpu-sysfeat-kvm-offers-svm "kvm_amd nested=$nested, but the offer lacks svm: $offer"
			fi
			;;
		*) skip cpu-sysfeat-kvm-offers-svm "no kvm_amd with nested=1 here" ;;
		esac
	fi

	run_sysfeat "cpu-sysfeat-$b-default" "$b"
	check "cpu-sysfeat-$b-default" "$(want_line "$offer")"

	run_sysfeat "cpu-sysfeat-$b-off" "$b" --cpu-features=-pcid,-invpcid,-smep,-smap,-umip
	check "cpu-sysfeat-$b-off" "$(want_line "")"

	run_sysfeat "cpu-sysfeat-$b-model" "$b" --cpu-features x86-64-v2
	if [ "$status" -eq 2 ] && grep -q "cannot offer" "$TMP/cpu-sysfeat-$b-model.err"; then
		skip "cpu-sysfeat-$b-model" "this host's $b cannot give x86-64-v2: $(head -c 150 "$TMP/cpu-sysfeat-$b-model.err")"
	elif check "cpu-sysfeat-$b-model" "$(want_line "")" >"$TMP/v2.res" && grep -q '^PASS' "$TMP/v2.res"; then
		run_sysfeat "cpu-sysfeat-$b-model" "$b" --cpu-features x86-64-v2,+smep,+umip
		if [ "$status" -eq 2 ] && grep -q "cannot offer" "$TMP/cpu-sysfeat-$b-model.err"; then
			skip "cpu-sysfeat-$b-model" "this host's $b cannot give smep and umip: $(head -c 150 "$TMP/cpu-sysfeat-$b-model.err")"
		else
			check "cpu-sysfeat-$b-model" "$(want_line "smep umip")"
		fi
	else
		cat "$TMP/v2.res"
	fi

	# The listing of a SPEC is what that SPEC gives.
	spec=-pcid,-umip
	got=$("$VMON" cpu-features --backend "$b" --cpu-features "$spec" 2>&1)
	want=$(tr ' ' '\n' <<<"$offer" | grep -vx -e pcid -e umip -e svm -e amd | tr '\n' ' ')
	got_n=$(tr ' ' '\n' <<<"$got" | grep -vx -e svm -e amd | tr '\n' ' ')
	if [ "$got_n" = "$want" ]; then
		pass "cpu-sysfeat-$b-list"
	else
		fail "cpu-sysfeat-$b-list" "--cpu-features $spec lists '$got', want '$want'"
	fi
done

bad=""
for args in "--cpu-features +nosuch" "--cpu-features -sse2" "--backend nosuch" "stray" \
	"--backend emu --cpu-features +avx512f,+avx512vp2intersect"; do
	# (the software CPU offers no AVX-512)
	# shellcheck disable=SC2086
	timeout -k 5 30 "$VMON" cpu-features $args >"$TMP/b.out" 2>"$TMP/b.err"
	st=$?
	if [ "$st" -ne 2 ] || [ "$(wc -l <"$TMP/b.err")" -ne 1 ] || ! grep -q '^vmon: ' "$TMP/b.err" ||
		[ -s "$TMP/b.out" ]; then
		bad+="'$args': status $st, $(head -c 100 "$TMP/b.err" | tr '\n' ' '); "
	fi
done
if [ -z "$bad" ]; then
	pass cpu-sysfeat-list-bad
else
	fail cpu-sysfeat-list-bad "$bad"
fi
