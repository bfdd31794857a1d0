#!/usr/bin/env bash
# Debian's kernel (make guest) on the software CPU with a disk, a NIC and
# a vsock on virtio-mmio (transport=mmio): Linux's virtio_mmio driver
# finds them through the ACPI DSDT (LNRO0005, level-triggered GSIs 20-22),
# /dev/vda reads the image's marker, eth0 gets a DHCP lease from libslirp,
# the vsock driver binds and a line written to hvc0 (virtio-console on
# MMIO) reaches the host file. The default initramfs loads virtio_mmio
# at boot (make guest), so `transport=mmio` works with the default guest.
source "$(dirname "$0")/../lib.sh"

G=${GUEST_DIR:-$BUILD/guest}
NAMES=(linux-emu-mmio-probe linux-emu-mmio-disk linux-emu-mmio-irq linux-emu-mmio-net
	linux-emu-mmio-vsock linux-emu-mmio-console)
need_guest_files bzImage initramfs.cpio.gz
truncate -s 4M "$TMP/disk.img"
printf 'VMON-DISK-MARK' | dd of="$TMP/disk.img" conv=notrunc status=none
cat >"$TMP/in" <<'IN'
echo "PROBE=$(ls /sys/bus/platform/devices/ | grep -c LNRO0005)"
echo "DISK=$(head -c 14 /dev/vda)"
echo "IRQ=$(grep -cE 'IO-APIC +2[0-3]-fasteoi +virtio' /proc/interrupts)"
ip link set eth0 up; udhcpc -i eth0 -n -q -t 5 -s /bin/true >/dev/null 2>&1 && echo NET=lease
echo "VSOCK=$(ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport/ | grep -c virtio)"
echo VMON-HVC-MMIO-OK >/dev/hvc0
poweroff -f
IN
timeout -k 5 "${LINUX_EMU_LIMIT:-240}" "$VMON" run --backend emu --kernel "$G/bzImage" \
	--initrd "$G/initramfs.cpio.gz" --cmdline "console=ttyS0 quiet" \
	--disk "$TMP/disk.img,transport=mmio" --net user,transport=mmio \
	--vsock "3,unix:$TMP/v.sock,transport=mmio" --console "file:$TMP/hvc.out,transport=mmio" \
	<"$TMP/in" >"$TMP/raw" 2>"$TMP/err"
rc=$?
tr -d '\r' <"$TMP/raw" >"$TMP/out"
value() { sed -n "s/^$1=//p" "$TMP/out" | head -n1; }
why="status $rc; output: $(tail -c 400 "$TMP/out" | tr '\n' ' ') $(head -c 200 "$TMP/err")"

if [ "$(value PROBE)" = 4 ]; then
	pass linux-emu-mmio-probe
else
	fail linux-emu-mmio-probe "want 4 LNRO0005 platform devices from the DSDT, got '$(value PROBE)'; $why"
fi
if [ "$(value DISK)" = VMON-DISK-MARK ]; then
	pass linux-emu-mmio-disk
else
	fail linux-emu-mmio-disk "/dev/vda read '$(value DISK)'; $why"
fi
# Level-triggered (fasteoi) on IOAPIC pins 20-23, as _CRS says.
if [ "$(value IRQ)" = 4 ]; then
	pass linux-emu-mmio-irq
else
	fail linux-emu-mmio-irq "want 4 'IO-APIC 2x-fasteoi virtio' lines in /proc/interrupts, got '$(value IRQ)'; $why"
fi
if [ "$(value NET)" = lease ]; then
	pass linux-emu-mmio-net
else
	fail linux-emu-mmio-net "no DHCP lease on eth0 (virtio-net over MMIO, --net user); $why"
fi
if [ "$(value VSOCK)" = 1 ]; then
	pass linux-emu-mmio-vsock
else
	fail linux-emu-mmio-vsock "the vsock driver did not bind to the MMIO device; $why"
fi
if grep -qx VMON-HVC-MMIO-OK <(tr -d '\r' <"$TMP/hvc.out" 2>/dev/null); then
	pass linux-emu-mmio-console
else
	fail linux-emu-mmio-console "hvc0 output did not reach the --console file; $why"
fi
