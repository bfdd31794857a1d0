#!/usr/bin/env bash
# The Linux boot protocol end to end, without Linux: a tiny synthetic
# bzImage whose 64-bit entry checks what vmon handed it (boot_params in RSI,
# the setup header, loader type, command line, e820 table, initrd, ACPI
# RSDP) and reports over COM1 and the debug-exit port. Then bad bzImages and
# options through the CLI: one line on stderr, status 2. Then, if `make
# guest` has run, the same limits with Debian's real kernel.
source "$(dirname "$0")/../lib.sh"

# mkbz OUT CODE.bin [FIELD=VALUE...]: wraps 64-bit code (placed at offset
# 0x200 of the protected-mode kernel) in a bzImage header. Fields:
# version, setup_sects, loadflags, xloadflags, init_size, pref, cmdline_size,
# initrd_max, boot_flag, truncate (bytes to cut off the end).
mkbz() {
	python3 - "$@" <<'EOF'
import struct, sys
out, code = sys.argv[1], open(sys.argv[2], 'rb').read()
f = dict(version=0x20f, setup_sects=4, loadflags=0x81, xloadflags=0x7f,
         init_size=0x400000, pref=0x1000000, cmdline_size=2047,
         initrd_max=0x7fffffff, boot_flag=0xaa55, truncate=0)
for a in sys.argv[3:]:
    k, v = a.split('=')
    f[k] = int(v, 0)
kernel = code.ljust((len(code) + 15) // 16 * 16, b'\0')
setup = bytearray((f['setup_sects'] + 1) * 512)
setup[0x1f1] = f['setup_sects']
struct.pack_into('<I', setup, 0x1f4, len(kernel) // 16)
struct.pack_into('<H', setup, 0x1fe, f['boot_flag'])
setup[0x200:0x202] = bytes([0xeb, 0x6a])
setup[0x202:0x206] = b'HdrS'
struct.pack_into('<H', setup, 0x206, f['version'])
setup[0x211] = f['loadflags']
struct.pack_into('<I', setup, 0x22c, f['initrd_max'])
struct.pack_into('<I', setup, 0x230, 0x200000)
setup[0x234] = 1
struct.pack_into('<H', setup, 0x236, f['xloadflags'])
struct.pack_into('<I', setup, 0x238, f['cmdline_size'])
struct.pack_into('<Q', setup, 0x258, f['pref'])
struct.pack_into('<I', setup, 0x260, f['init_size'])
data = bytes(setup) + kernel
if f['truncate']:
    data = data[:-f['truncate']]
open(out, 'wb').write(data)
EOF
}

cat >"$TMP/entry.S" <<'EOF'
	.code64
	.org 0x200
start:	mov	$0x3f8, %dx
	cmpl	$0x53726448, 0x202(%rsi)	/* "HdrS" in boot_params */
	jne	fail
	cmpb	$0xff, 0x210(%rsi)		/* type_of_loader */
	jne	fail
	mov	0x228(%rsi), %ebx		/* cmd_line_ptr -> "ok ..." */
	cmpw	$0x6b6f, (%rbx)
	jne	fail
	cmpb	$3, 0x1e8(%rsi)			/* at least 3 e820 entries */
	jb	fail
	cmpl	$1, 0x2d0+16(%rsi)		/* first one is RAM at 0 */
	jne	fail
	mov	0x218(%rsi), %ebx		/* ramdisk_image -> "ITRD" */
	test	%ebx, %ebx
	jz	fail
	cmpl	$0x44525449, (%rbx)
	jne	fail
	mov	0x70(%rsi), %rbx		/* acpi_rsdp_addr -> "RSD PTR " */
	test	%rbx, %rbx
	jz	fail
	mov	$0x2052545020445352, %rax
	cmp	%rax, (%rbx)
	jne	fail
	lea	msg(%rip), %rbx
1:	mov	(%rbx), %al
	test	%al, %al
	jz	2f
	out	%al, %dx
	inc	%rbx
	jmp	1b
2:	mov	$0, %al
	out	%al, $0xf4
	hlt
fail:	mov	$'F', %al
	out	%al, %dx
	mov	$3, %al
	out	%al, $0xf4
	hlt
msg:	.asciz	"SUCCESS\n"
EOF
if ! gcc -c -o "$TMP/entry.o" "$TMP/entry.S" 2>"$TMP/as.err" ||
	! objcopy -O binary -j .text "$TMP/entry.o" "$TMP/entry.bin"; then
	fail linux-synthetic-build "$(head -c 300 "$TMP/as.err")"
	exit 0
fi
BZ=$TMP/tiny.bzImage
mkbz "$BZ" "$TMP/entry.bin"
printf 'ITRD-initrd-contents' >"$TMP/initrd"

for b in $(usable_backends); do
	run_vmon "$TMP/out" "$TMP/err" run --backend $b --kernel "$BZ" --initrd "$TMP/initrd" \
		--cmdline "ok console=ttyS0"
	expect_success linux-synthetic-bzimage-$b "$TMP/out" "$TMP/err"
done

# The ACPI power-management ports the FADT names: sleep control (SLP_EN |
# SLP_TYP 5) powers off with status 0; the reset register resets (with
# --no-reboot: vmon ends, saying so).
asm64() { # NAME INSTRUCTIONS: a bzImage $TMP/NAME.bz entered at INSTRUCTIONS
	printf '\t.code64\n\t.org 0x200\n%s\n1:\thlt\n\tjmp 1b\n' "$2" >"$TMP/$1.S"
	gcc -c -o "$TMP/$1.o" "$TMP/$1.S" && objcopy -O binary -j .text "$TMP/$1.o" "$TMP/$1.bin" &&
		mkbz "$TMP/$1.bz" "$TMP/$1.bin"
}
asm64 poweroff 'mov $0x600, %dx; mov $0x34, %al; out %al, %dx'
asm64 reset 'mov $0x602, %dx; mov $0x01, %al; out %al, %dx'
for b in $(usable_backends); do
	run_vmon "$TMP/out" "$TMP/err" run --backend $b --kernel "$TMP/poweroff.bz"
	if [ "$status" -eq 0 ]; then pass linux-acpi-poweroff-port-$b; else
		fail linux-acpi-poweroff-port-$b "status $status: $(head -c 300 "$TMP/err")"; fi
	run_vmon "$TMP/out" "$TMP/err" run --backend $b --no-reboot --kernel "$TMP/reset.bz"
	if [ "$status" -eq 0 ] && grep -q 'reset the machine' "$TMP/err"; then
		pass linux-acpi-reset-port-$b
	else
		fail linux-acpi-reset-port-$b "status $status: $(head -c 300 "$TMP/err")"
	fi
done

# bad NAME PATTERN ARGS...: as in bad_input.sh.
bad() {
	local name=$1 pattern=$2
	shift 2
	timeout -k 5 60 "$VMON" run --backend kvm "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
	local rc=$? lines
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -ne 2 ]; then
		fail "linux-bad-$name" "status $rc (want 2); stderr: $(head -c 300 "$TMP/err" | tr '\n' ' ')"
	elif [ "$lines" -ne 1 ] || ! grep -q '^vmon: ' "$TMP/err"; then
		fail "linux-bad-$name" "want one 'vmon:' line, got $lines: $(head -c 300 "$TMP/err" | tr '\n' ' ')"
	elif ! grep -qiE "$pattern" "$TMP/err"; then
		fail "linux-bad-$name" "message does not say '$pattern': $(cat "$TMP/err")"
	else
		pass "linux-bad-$name"
	fi
}

mkbz "$TMP/old.bz" "$TMP/entry.bin" version=0x20a
bad too-old 'protocol 2\.10 is too old' --kernel "$TMP/old.bz"
mkbz "$TMP/trunc.bz" "$TMP/entry.bin" truncate=16
bad truncated 'truncated' --kernel "$TMP/trunc.bz"
mkbz "$TMP/flag.bz" "$TMP/entry.bin" boot_flag=0
bad corrupt 'corrupt' --kernel "$TMP/flag.bz"
mkbz "$TMP/k32.bz" "$TMP/entry.bin" xloadflags=0
bad no-64-bit-entry '64-bit entry' --kernel "$TMP/k32.bz"
mkbz "$TMP/big.bz" "$TMP/entry.bin" init_size=0x3000000
bad too-large-for-mem 'too large for guest RAM.*--mem 64 MiB' --mem 32M --kernel "$TMP/big.bz"
head -c $((20 << 20)) /dev/zero >"$TMP/big.initrd"
bad initrd-does-not-fit 'initrd.*does not fit' --mem 32M --kernel "$BZ" --initrd "$TMP/big.initrd"
mkbz "$TMP/short.bz" "$TMP/entry.bin" cmdline_size=10
bad cmdline-over-limit 'at most 10 \(cmdline_size\)' --kernel "$TMP/short.bz" --cmdline "0123456789a"

# Debian's kernel, when `make guest` has built it.
G=${GUEST_DIR:-$BUILD/guest}
if [ -f "$G/bzImage" ]; then
	bad real-kernel-too-large-for-mem 'too large for guest RAM' --mem 32M --kernel "$G/bzImage"
	bad real-kernel-cmdline-over-limit 'at most 2047' --kernel "$G/bzImage" \
		--cmdline "$(head -c 2048 /dev/zero | tr '\0' x)"
	bad real-kernel-initrd-does-not-fit 'does not fit' --mem 80M --kernel "$G/bzImage" \
		--initrd "$TMP/big.initrd"
	# No --kernel: the default guest (too little RAM, so it stops before
	# booting, naming the file it chose).
	VMON_GUEST_DIR=$G bad default-guest-is-used "kernel '$G/bzImage'.*too large" --mem 32M
else
	skip linux-bad-real-kernel "no $G/bzImage (run make guest)"
fi
