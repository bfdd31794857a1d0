#!/usr/bin/env bash
# Debian's kernel (make guest) on the software CPU, as far as early boot:
# it must take vmon's command line, e820 map, initrd and ACPI tables (RSDP
# through boot_params, FADT, MADT with one LAPIC per vCPU and the IOAPIC
# after them). Stops the VM as soon as the last line has been seen; this
# does not need Linux to boot to a shell.
source "$(dirname "$0")/../lib.sh"

G=${GUEST_DIR:-$BUILD/guest}
if [ ! -f "$G/bzImage" ] || [ ! -f "$G/initramfs.cpio.gz" ]; then
	skip linux-early-boot-emu "no $G/bzImage (run make guest)"
	exit 0
fi
if ! "$VMON" run --backend emu --kernel /nonexistent 2>&1 | grep -q nonexistent; then
	skip linux-early-boot-emu "this vmon has no emu backend"
	exit 0
fi

LIMIT=${LINUX_EARLY_BOOT_LIMIT:-90}

# early_boot NAME KERNEL: boots KERNEL with 2 vCPUs until the last wanted
# line appears (or LIMIT seconds pass), then checks every wanted line.
early_boot() {
	local name=$1 kernel=$2
	# In a subshell without lib.sh's EXIT trap (which removes $TMP): a
	# background job killed at the wrong moment must not run it.
	(
		trap - EXIT
		exec "$VMON" run --backend emu --cpus 2 --kernel "$kernel" \
			--initrd "$G/initramfs.cpio.gz" \
			--cmdline "console=ttyS0 earlyprintk=serial vmon.test=early" </dev/null \
			>"$TMP/out" 2>"$TMP/err"
	) &
	local pid=$! w missing=""
	local want=(
		'Command line: console=ttyS0 earlyprintk=serial vmon.test=early'
		'BIOS-e820: \[mem 0x0000000000000000-0x000000000009fbff\] usable'
		'BIOS-e820: \[mem 0x000000000009fc00-0x00000000000fffff\] reserved'
		'BIOS-e820: \[mem 0x0000000000100000-0x000000000fffffff\] usable'
		'RAMDISK: \[mem 0x'
		'ACPI: RSDP 0x00000000000E0000 000024 \(v02 VMON'
		'ACPI: FACP 0x[0-9A-F]* 000114 \(v06 VMON'
		'ACPI: DSDT 0x'
		'ACPI: APIC 0x'
		'IOAPIC\[0\]: apic_id 2, version 17, address 0xfec00000, GSI 0-23'
		'ACPI: Using ACPI \(MADT\) for SMP configuration information'
		'smpboot: Allowing 2 CPUs'
	)
	local deadline=$((SECONDS + LIMIT))
	while [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null; do
		grep -qE "${want[-1]}" "$TMP/out" 2>/dev/null && break
		sleep 0.5
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	tr -d '\r' <"$TMP/out" >"$TMP/out.txt"
	for w in "${want[@]}"; do
		grep -qE "$w" "$TMP/out.txt" || missing="$missing | $w"
	done
	if [ -n "$missing" ]; then
		fail "$name" "after ${LIMIT}s the kernel had not printed:$missing; last output: $(tail -c 300 "$TMP/out" | tr '\n' ' ') $(head -c 200 "$TMP/err")"
	else
		pass "$name"
	fi
}

early_boot linux-early-boot-emu-bzimage "$G/bzImage"
if [ -f "$G/vmlinux" ]; then
	early_boot linux-early-boot-emu-vmlinux-pvh "$G/vmlinux"
else
	skip linux-early-boot-emu-vmlinux-pvh "no $G/vmlinux"
fi
