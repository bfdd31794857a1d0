#!/usr/bin/env bash
# Builds the L1 machine that `make test-kvm` boots under QEMU TCG when this
# host has no hardware virtualization (tests/nested/README.md), in
# $BUILD/nested/:
#
#   l1-initrd.cpio.gz   busybox-static, the modules L1 needs from Debian's
#                       cloud kernel (the default guest's: virtio for the
#                       root disk, overlay, tun, then irqbypass, kvm,
#                       kvm-amd, in that order: the package ships no
#                       modules.dep) and tests/nested/l1-init as /init
#   l1-root.img         ext4, read-only in L1 under a tmpfs overlay: the
#                       host programs the test scripts use, with the
#                       libraries `ldd` lists and the loader, Python's
#                       standard library, and in /vmon the part of this
#                       tree the tests read: build/vmon (with its
#                       libraries), the kit guests, the boot-format test
#                       images, the default Linux guest and tests/
#
# The kernel is the default guest's bzImage ($GUEST_DIR, `make guest`), whose
# .deb `make guest` keeps in $GUEST_DIR/debs. Everything is rebuilt on each
# run (a few seconds): the image always holds the current vmon and tests.
set -euo pipefail
# A command failing under set -e says which (run.sh shows the last lines).
trap 'echo "make-nested: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."

# Debian's programs only (not a pyenv or /usr/local python), as in L1.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
BUILD=${BUILD:-build}
G=${GUEST_DIR:-$BUILD/guest}
OUT=$BUILD/nested
WORK=$OUT/work

die() {
	echo "make-nested: $*" >&2
	exit 1
}

for f in "$BUILD/vmon" "$G/bzImage" "$G/vmlinux" "$G/initramfs.cpio.gz" "$G/kernel-release" "$G/tools/pattern"; do
	[ -e "$f" ] || die "$f is missing (run make and make guest)"
done
for tool in dpkg-deb mke2fs python3 ldd; do
	command -v "$tool" >/dev/null || die "'$tool' is missing (run scripts/setup.sh)"
done
release=$(cat "$G/kernel-release")
kdeb=$(find -L "$G/debs" -maxdepth 1 -name "linux-image-${release}_*.deb" 2>/dev/null | head -n1)
[ -n "$kdeb" ] || die "no linux-image-${release}_*.deb in $G/debs (run make guest)"
bdeb=$(find -L "$G/debs" -maxdepth 1 -name 'busybox-static_*.deb' 2>/dev/null | head -n1)
[ -n "$bdeb" ] || die "no busybox-static_*.deb in $G/debs (run make guest)"

rm -rf "$WORK"
mkdir -p "$WORK/kernel" "$WORK/busybox"
dpkg-deb -x "$kdeb" "$WORK/kernel"
dpkg-deb -x "$bdeb" "$WORK/busybox"
moddir=$WORK/kernel/lib/modules/$release/kernel

# --- the initramfs: busybox, modules in load order, /init -----------------
MODULES=(drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
	drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
	fs/overlayfs/overlay drivers/net/tun virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd)
init=$WORK/initrd
mkdir -p "$init"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,lib/modules,etc}
cp "$WORK/busybox/bin/busybox" "$init/bin/busybox"
"$init/bin/busybox" --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$init/$applet"
done
: >"$init/etc/modules"
for m in "${MODULES[@]}"; do
	f=$moddir/$m.ko
	if [ -f "$f.xz" ]; then
		xz -dc "$f.xz" >"$init/lib/modules/${m##*/}.ko"
	elif [ -f "$f" ]; then
		cp "$f" "$init/lib/modules/"
	else
		die "$(basename "$kdeb") has no $m.ko"
	fi
	echo "${m##*/}" >>"$init/etc/modules"
done
cp tests/nested/l1-init "$init/init"
chmod 755 "$init/init"
python3 scripts/nested_image.py cpio "$init" "$OUT/l1-initrd.cpio.gz.tmp"

# --- the root image -----------------------------------------------------------
# What tests/integration/*.sh and tests/nested/*.sh run (see their texts);
# a command missing on the host stops the build, naming it.
CMDS=(bash sh env cat chmod chown cp cut date dd dirname basename echo head id ln ls
	md5sum mkdir mktemp mv od printf readlink realpath rm rmdir seq sha256sum sleep sort
	stat stty sync tail tee timeout touch tr true false truncate uname wc xargs nproc
	kill sed grep awk cmp diff find setpriv setsid flock mount umount dmesg ip debugfs
	mke2fs python3 uniq script mkfifo curl gzip cpio strace ps)
root=$WORK/root
# glibc loads libgcc_s when a thread exits (pthread_exit's unwinding):
# in no ldd list, but Python's threads need it (make bench-kvm's bench
# aborted at its exit without it: "libgcc_s.so.1 must be installed").
python3 scripts/nested_image.py root "$root" --pydir --cmd "${CMDS[@]}" --elf "$BUILD/vmon"
# (awk reads all of ldconfig's list: an early exit could end ldconfig
# with SIGPIPE, which pipefail and set -e turned into a silent failure
# of this script.)
gcc_s=$(ldconfig -p 2>/dev/null | awk '/libgcc_s\.so\.1 .*x86-64/ && !f { print $NF; f = 1 }' || true)
if [ -n "$gcc_s" ]; then
	gcc_s=$(realpath "$gcc_s")
	mkdir -p "$root$(dirname "$gcc_s")"
	cp "$gcc_s" "$root$gcc_s"
fi
mkdir -p "$root"/{tmp,run,proc,sys,dev,root,var/tmp,etc}
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
	>"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
v=$root/vmon
mkdir -p "$v/build/guests" "$v/build/guest" "$v/build/test-images"
cp "$BUILD/vmon" "$v/build/vmon"
cp "$BUILD"/guests/*.elf "$v/build/guests/"
# jailer.sh's probe (static; make test-kvm builds it).
[ ! -x "$BUILD/tests/jail_probe" ] || { mkdir -p "$v/build/tests" && cp "$BUILD/tests/jail_probe" "$v/build/tests/"; }
[ ! -d "$BUILD/test-images" ] || cp "$BUILD"/test-images/*.bin "$v/build/test-images/" 2>/dev/null || true
cp -L "$G"/{bzImage,vmlinux,initramfs.cpio.gz,kernel-release} "$v/build/guest/"
cp -rL "$G/tools" "$v/build/guest/tools"
cp -r tests "$v/tests"
mkdir -p "$v/bench" && cp bench/*.py "$v/bench/" # make bench-kvm
find "$v/tests" -name __pycache__ -prune -exec rm -rf {} +
chmod 755 "$v/tests/nested/"*.sh

kib=$(du -sk "$root" | cut -f1)
rm -f "$OUT/l1-root.img.tmp"
mke2fs -q -t ext4 -m 0 -L vmon-l1 -E root_owner=0:0 -d "$root" "$OUT/l1-root.img.tmp" \
	"$((kib * 5 / 4 / 1024 + 32))M" >/dev/null || die "mke2fs -d failed"
mv "$OUT/l1-initrd.cpio.gz.tmp" "$OUT/l1-initrd.cpio.gz"
mv "$OUT/l1-root.img.tmp" "$OUT/l1-root.img"
rm -f "$OUT/bzImage"
cp -L "$G/bzImage" "$OUT/bzImage"
rm -rf "$WORK"
echo "make-nested: built $OUT: bzImage (Linux $release), l1-initrd.cpio.gz, l1-root.img ($((kib / 1024)) MiB of files)" >&2
