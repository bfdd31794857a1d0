#!/usr/bin/env bash
# Builds the Debian 12 systemd guest of the systemd-boot benchmark (make
# bench, bench/systemd_boot.py) in build/systemd/ (or $SYSTEMD_DIR):
#
#   rootfs.ext4        a 1 GiB ext4 image of `debootstrap --variant=minbase
#                      --include=systemd-sysv,udev bookworm` from the mirror
#                      this machine's apt already uses, with an fstab for
#                      /dev/vda and one unit of ours, vmon-bench.service:
#                      once multi-user.target is reached it prints
#                      "VMON-SYSTEMD-UP failed=N" (N: failed units) on the
#                      serial console and powers the machine off
#   initramfs.cpio.gz  the default guest's initramfs (make guest) with a
#                      second cpio appended that replaces its /init: load the
#                      virtio modules, mount /dev/vda, switch_root to
#                      systemd (the kernel unpacks concatenated archives in
#                      order, later files replacing earlier ones)
#
# Needs root (debootstrap), about a minute and 300 MB of downloads the first
# time; the result is cached: delete build/systemd/ to build it again.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=$(realpath -m "${SYSTEMD_DIR:-build/systemd}")
GUEST=$(realpath -m "${GUEST_DIR:-build/guest}")
say() { echo "make-systemd-image: $*" >&2; }
die() {
	say "$*"
	exit 1
}

[ -f "$GUEST/initramfs.cpio.gz" ] || die "no $GUEST/initramfs.cpio.gz (run make guest first)"
# Bumped whenever what this script puts in the image changes: a cached
# image of another version is built again.
VERSION=2
if [ -f "$OUT/rootfs.ext4" ] && [ -f "$OUT/initramfs.cpio.gz" ] &&
	[ "$(cat "$OUT/version" 2>/dev/null)" = "$VERSION" ]; then
	say "$OUT is built already"
	exit 0
fi
rm -f "$OUT/version"
[ "$(id -u)" = 0 ] || die "debootstrap needs root"
for tool in debootstrap mke2fs cpio gzip; do
	command -v "$tool" >/dev/null || die "'$tool' is missing (apt-get install debootstrap e2fsprogs cpio)"
done
MIRROR=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

mkdir -p "$OUT"
WORK=$OUT/work
rm -rf "$WORK"
mkdir -p "$WORK"
say "debootstrap bookworm from $MIRROR"
debootstrap --variant=minbase --include=systemd-sysv,udev bookworm "$WORK/root" "$MIRROR" \
	>"$WORK/debootstrap.log" 2>&1 || die "debootstrap failed: $(tail -n3 "$WORK/debootstrap.log")"

R=$WORK/root
echo "vmon-systemd" >"$R/etc/hostname"
echo "/dev/vda / ext4 rw,relatime 0 1" >"$R/etc/fstab"
: >"$R/etc/machine-id" # systemd makes one at first boot
cat >"$R/usr/local/sbin/vmon-bench-report" <<'EOF'
#!/bin/sh
# Prints the marker the benchmark waits for, with the number of failed
# units ("unknown" if systemctl cannot say), and the failed units.
if list=$(systemctl list-units --state=failed --no-legend --plain 2>&1); then
	n=$(printf '%s' "$list" | grep -c .)
else
	n=unknown
fi
echo "VMON-SYSTEMD-UP failed=$n"
[ -n "$list" ] && printf '%s\n' "$list" | sed 's/^/failed unit: /'
exec systemctl --no-block poweroff
EOF
chmod 755 "$R/usr/local/sbin/vmon-bench-report"
cat >"$R/etc/systemd/system/vmon-bench.service" <<'EOF'
[Unit]
Description=vmon benchmark: report that every unit has started, power off
After=multi-user.target

[Service]
Type=oneshot
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
ExecStart=/usr/local/sbin/vmon-bench-report

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/vmon-bench.service \
	"$R/etc/systemd/system/multi-user.target.wants/vmon-bench.service"
# No login prompt on the console: nothing is typed there.
ln -sf /dev/null "$R/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$R/etc/systemd/system/getty@tty1.service"

say "mke2fs rootfs.ext4 (1 GiB)"
mke2fs -q -F -t ext4 -L vmon-root -d "$R" "$OUT/rootfs.ext4.tmp" 1G
mv "$OUT/rootfs.ext4.tmp" "$OUT/rootfs.ext4"

# The /init that replaces the default guest's: modules, then systemd on
# /dev/vda.
mkdir -p "$WORK/overlay"
cat >"$WORK/overlay/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /etc/modules); do
	insmod /lib/modules/$m.ko 2>/dev/null || echo "init: could not load $m"
done
mkdir -p /newroot
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 0.2; done
mount -t ext4 -o rw /dev/vda /newroot || { echo "init: cannot mount /dev/vda"; poweroff -f; }
umount /sys /proc
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
EOF
chmod 755 "$WORK/overlay/init"
(cd "$WORK/overlay" && echo init | cpio -o -H newc -R 0:0 --quiet | gzip -9) >"$WORK/overlay.cpio.gz"
cat "$GUEST/initramfs.cpio.gz" "$WORK/overlay.cpio.gz" >"$OUT/initramfs.cpio.gz"
rm -rf "$WORK"
echo "$VERSION" >"$OUT/version"
say "built $OUT: rootfs.ext4, initramfs.cpio.gz"
