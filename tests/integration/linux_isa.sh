#!/usr/bin/env bash
# x86-64-v2/-v3 in Debian's kernel and user space on the software CPU
# (issue 17): the default guest (make guest) boots with a virtio disk
# holding a tar of guests/isa_check built for x86-64-v2 and for x86-64-v3
# (+AES, PCLMUL), and of the kernel's AES-NI, AVX2 SHA-256, CRC32C,
# GHASH and CRC32 (PCLMULQDQ) crypto modules taken from the kernel package
# make guest downloaded. Checks:
#   linux-isa-cpuinfo   /proc/cpuinfo lists the x86-64-v3 flags, AES, PCLMULQDQ
#   linux-isa-v2, -v3   both programs print what they print on the host
#   linux-isa-crypto    the modules load, the kernel picks aesni, sha256-avx2,
#                       crc32c-intel, ghash-clmulni and crc32-pclmul, and
#                       their self-tests pass (run at registration)
#   linux-isa-dmesg     no BUG/WARNING/failed self-test in dmesg
#   linux-isa-pinned    with --cpu-features x86-64-v2 the guest sees no AVX,
#                       the v2 program still agrees with the host and the v3
#                       one refuses to run
source "$(dirname "$0")/../lib.sh"

G=${GUEST_DIR:-$BUILD/guest}
NAMES=(linux-isa-cpuinfo linux-isa-v2 linux-isa-v3 linux-isa-crypto linux-isa-dmesg
	linux-isa-pinned)
need_guest_files bzImage initramfs.cpio.gz
V2=$BUILD/isa-check/isa-check-v2
V3=$BUILD/isa-check/isa-check-v3
[ -x "$V2" ] && [ -x "$V3" ] || skip_all "no $V2 / $V3 (run make isa-check)"
if ! "$VMON" run --backend emu --kernel /nonexistent 2>&1 | grep -q nonexistent; then
	skip_all "this vmon has no emu backend"
fi
# The host is the reference: it must run the v3 build itself.
if ! "$V3" >"$TMP/host-v3.out" 2>&1 || ! "$V2" >"$TMP/host-v2.out" 2>&1; then
	skip_all "this host cannot run the x86-64-v3 build itself (no reference): $(head -c 200 "$TMP/host-v3.out")"
fi
LIMIT=${LINUX_ISA_LIMIT:-300}

# The disk: a tar the guest's busybox unpacks from /dev/vda.
mkdir -p "$TMP/disk"
cp "$V2" "$TMP/disk/isa-check-v2"
cp "$V3" "$TMP/disk/isa-check-v3"
MODS=(cryptd crypto_simd aesni-intel sha256-ssse3 crc32c-intel ghash-clmulni-intel crc32-pclmul)
deb=$(find "$G/debs" -maxdepth 1 -name 'linux-image-*.deb' 2>/dev/null | head -n1)
have_mods=0
if [ -n "$deb" ]; then
	mkdir -p "$TMP/kpkg"
	pats=()
	for m in "${MODS[@]}"; do pats+=("*/$m.ko"); done
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$TMP/kpkg" --wildcards "${pats[@]}" 2>/dev/null
	have_mods=1
	for m in "${MODS[@]}"; do
		f=$(find "$TMP/kpkg" -name "$m.ko" | head -n1)
		if [ -z "$f" ]; then
			have_mods=0
			break
		fi
		cp "$f" "$TMP/disk/"
	done
fi
tar -C "$TMP/disk" -cf "$TMP/disk.tar" .
truncate -s "%512" "$TMP/disk.tar"

# run NAME [vmon args...]: boots with the disk; the guest script is stdin.
run_guest() {
	local name=$1
	shift
	timeout -k 5 "$LIMIT" "$VMON" run --backend emu --kernel "$G/bzImage" \
		--initrd "$G/initramfs.cpio.gz" --cmdline "console=ttyS0 quiet" \
		--disk "$TMP/disk.tar,ro" "$@" <"$TMP/$name.in" >"$TMP/$name.raw" 2>"$TMP/$name.err"
	echo $? >"$TMP/$name.rc"
	tr -d '\r' <"$TMP/$name.raw" >"$TMP/$name.out"
}
why() { echo "status $(cat "$TMP/$1.rc"); output: $(tail -c 300 "$TMP/$1.out" | tr '\n' ' ') $(head -c 200 "$TMP/$1.err")"; }

cat >"$TMP/main.in" <<EOF
mkdir /t && cd /t && tar -xf /dev/vda && echo UNPACKED
echo "FLAGS=\$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)"
./isa-check-v2 | sed 's/^/V2 /'
./isa-check-v3 | sed 's/^/V3 /'
for m in ${MODS[*]}; do [ -f \$m.ko ] && { insmod \$m.ko || echo "INSMOD-FAILED \$m"; }; done
awk '/^driver/{d=\$3} /^selftest/{print "CRYPTO", d, \$3}' /proc/crypto
echo "BAD=\$(dmesg | grep -cE 'BUG|WARNING|Call Trace|alg: .*(fail|error)')"
dmesg | grep -E 'BUG|WARNING|Call Trace|alg: ' | head -n 3 | sed 's/^/DMESG: /'
poweroff -f
EOF
run_guest main

if ! grep -q '^UNPACKED' "$TMP/main.out"; then
	for n in "${NAMES[@]:0:5}"; do fail "$n" "the guest did not unpack the disk; $(why main)"; done
else
	flags=" $(sed -n 's/^FLAGS=//p' "$TMP/main.out" | head -n1) "
	missing=""
	for f in pni ssse3 sse4_1 sse4_2 popcnt cx16 lahf_lm avx avx2 bmi1 bmi2 fma f16c abm movbe \
		xsave aes pclmulqdq; do
		[[ $flags == *" $f "* ]] || missing+=" $f"
	done
	if [ -z "$missing" ]; then
		pass linux-isa-cpuinfo
	else
		fail linux-isa-cpuinfo "missing:$missing; flags:$flags"
	fi
	for lv in v2 v3; do
		L=${lv^^}
		sed -n "s/^$L //p" "$TMP/main.out" >"$TMP/guest-$lv.out"
		if cmp -s "$TMP/guest-$lv.out" "$TMP/host-$lv.out"; then
			pass "linux-isa-$lv ($(grep -c = "$TMP/host-$lv.out") results equal the host's)"
		else
			fail "linux-isa-$lv" "guest and host differ: $(diff "$TMP/host-$lv.out" "$TMP/guest-$lv.out" | head -n 6 | tr '\n' ' ')"
		fi
	done
	if [ "$have_mods" -ne 1 ]; then
		skip linux-isa-crypto "no kernel package in $G/debs to take the crypto modules from (make guest)"
	else
		want="aes-aesni sha256-avx2 crc32c-intel ghash-clmulni crc32-pclmul"
		bad=""
		for d in $want; do
			grep -q "^CRYPTO $d passed" "$TMP/main.out" || bad+=" $d"
		done
		failed=$(grep '^CRYPTO' "$TMP/main.out" | grep -v ' passed$' | head -n 3 | tr '\n' ' ')
		if [ -z "$bad" ] && [ -z "$failed" ] && ! grep -q '^INSMOD-FAILED' "$TMP/main.out"; then
			pass "linux-isa-crypto ($(grep -c '^CRYPTO' "$TMP/main.out") algorithms, self-tests passed)"
		else
			fail linux-isa-crypto "not selected or not passed:$bad; $failed $(grep '^INSMOD-FAILED' "$TMP/main.out" | tr '\n' ' ')"
		fi
	fi
	v=$(sed -n 's/^BAD=//p' "$TMP/main.out" | head -n1)
	if [ "$v" = 0 ]; then
		pass linux-isa-dmesg
	else
		fail linux-isa-dmesg "'$v' suspicious lines: $(grep '^DMESG' "$TMP/main.out" | tr '\n' ' ')"
	fi
fi

# Pinned to x86-64-v2: the same disk, the CPU without v3.
cat >"$TMP/pinned.in" <<'EOF'
mkdir /t && cd /t && tar -xf /dev/vda && echo UNPACKED
echo "FLAGS=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)"
./isa-check-v2 | sed 's/^/V2 /'
./isa-check-v3 >v3.out 2>&1; echo "V3STATUS=$? $(head -c 120 v3.out | tr '\n' ' ')"
poweroff -f
EOF
run_guest pinned --cpu-features x86-64-v2
flags=" $(sed -n 's/^FLAGS=//p' "$TMP/pinned.out" | head -n1) "
sed -n 's/^V2 //p' "$TMP/pinned.out" >"$TMP/pinned-v2.out"
st=$(sed -n 's/^V3STATUS=//p' "$TMP/pinned.out" | head -n1)
if ! grep -q '^UNPACKED' "$TMP/pinned.out"; then
	fail linux-isa-pinned "the guest did not unpack the disk; $(why pinned)"
elif [[ $flags == *" avx "* || $flags == *" avx2 "* || $flags == *" xsave "* || $flags != *" sse4_2 "* ]]; then
	fail linux-isa-pinned "x86-64-v2 guest flags:$flags"
elif ! cmp -s "$TMP/pinned-v2.out" "$TMP/host-v2.out"; then
	fail linux-isa-pinned "the v2 program differs: $(diff "$TMP/host-v2.out" "$TMP/pinned-v2.out" | head -n 4 | tr '\n' ' ')"
elif [ "${st%% *}" = 0 ] || [ -z "$st" ]; then
	fail linux-isa-pinned "the v3 program ran on a v2 CPU: '$st'"
else
	pass "linux-isa-pinned (v3 build refused: ${st:0:60})"
fi
