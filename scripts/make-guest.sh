#!/usr/bin/env bash
# Builds vmon's default Linux guest in build/guest/ from Debian packages:
#
#   bzImage             Debian's cloud kernel (linux-image-cloud-amd64 -> the
#                       versioned linux-image-6.1.*-cloud-amd64 it depends on)
#   vmlinux             the uncompressed ELF inside it (PVH entry note), for
#                       --kernel vmlinux and for QEMU -M microvm comparisons
#   initramfs.cpio.gz   busybox-static, the virtio modules, our test tools
#                       (guests/linux-tools/*.c, static: sockcat, iobench,
#                       pattern in /usr/bin), and an /init that mounts
#                       proc/sys/dev, loads the modules, prints a banner and
#                       starts a shell on the console
#   tools/              the same static tools, for the host side of tests
#                       and benchmarks
#   kernel-release      the kernel's `uname -r`
#
# The .debs come from `apt-get download` (no root needed) and are checked
# against the SHA256 that `apt-cache show` lists. Work already done is
# skipped: delete build/guest/ to start over. Command-line knobs the /init
# understands: vmon.init=poweroff (power off at once, for the boot
# benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=$(realpath -m "${GUEST_DIR:-build/guest}")
DEBS=$OUT/debs
WORK=$OUT/work
mkdir -p "$DEBS" "$WORK"

say() { echo "make-guest: $*" >&2; }
die() {
	echo "make-guest: $*" >&2
	exit 1
}

for tool in apt-get apt-cache dpkg-deb lz4 gzip python3 sha256sum gcc; do
	command -v "$tool" >/dev/null || die "'$tool' is missing (run scripts/setup.sh)"
done

# Resolves a package to "name=version" (the candidate apt would install).
candidate() {
	local v
	v=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
	[ -n "$v" ] && [ "$v" != "(none)" ] || return 1
	echo "$1=$v"
}

# fetch NAME=VERSION: downloads the .deb into $DEBS unless a copy with the
# right checksum is there; prints its path.
fetch() {
	local spec=$1 name=${1%%=*} ver=${1#*=} sha file
	sha=$(apt-cache show "$spec" 2>/dev/null | sed -n 's/^SHA256: //p' | head -n1)
	[ -n "$sha" ] || die "apt-cache show $spec lists no SHA256 (run apt-get update?)"
	# apt-get names the file name_version_arch.deb with ':' as %3a.
	file=$(find "$DEBS" -maxdepth 1 -name "${name}_${ver//:/%3a}_*.deb" | head -n1)
	if [ -z "$file" ] || ! echo "$sha  $file" | sha256sum -c --status; then
		rm -f "$file"
		say "downloading $spec"
		(cd "$DEBS" && apt-get download -q "$spec" >/dev/null 2>"$WORK/apt.err") ||
			die "apt-get download $spec failed: $(tail -n1 "$WORK/apt.err")"
		file=$(find "$DEBS" -maxdepth 1 -name "${name}_${ver//:/%3a}_*.deb" | head -n1)
		[ -n "$file" ] || die "apt-get download $spec left no .deb in $DEBS"
		echo "$sha  $file" | sha256sum -c --status ||
			die "$file: SHA256 does not match apt-cache show ($sha)"
	fi
	echo "$file"
}

# --- which packages -------------------------------------------------------
# The metapackage only depends on the real, versioned kernel package.
meta=linux-image-cloud-amd64
kpkg=$(apt-cache depends "$meta" 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-6\.1\.[^ ]*-cloud-amd64\)$/\1/p' | head -n1)
[ -n "$kpkg" ] || die "cannot resolve $meta to a linux-image-6.1.*-cloud-amd64 package (apt-get update?)"
kspec=$(candidate "$kpkg") || die "no installable version of $kpkg"
bspec=$(candidate busybox-static) || die "no installable version of busybox-static"

TOOLS=(guests/linux-tools/*.c)
stamp="$kspec $bspec $(cat "$0" "${TOOLS[@]}" | sha256sum | cut -c1-16)"
if [ -f "$OUT/bzImage" ] && [ -f "$OUT/vmlinux" ] && [ -f "$OUT/initramfs.cpio.gz" ] &&
	[ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ]; then
	say "$OUT is up to date ($kspec, $bspec)"
	exit 0
fi

kdeb=$(fetch "$kspec")
bdeb=$(fetch "$bspec")

# --- kernel: bzImage and vmlinux ------------------------------------------
rm -rf "$WORK/kernel" "$WORK/busybox"
mkdir -p "$WORK/kernel" "$WORK/busybox"
say "unpacking $(basename "$kdeb")"
dpkg-deb -x "$kdeb" "$WORK/kernel"
dpkg-deb -x "$bdeb" "$WORK/busybox"
vmlinuz=$(find "$WORK/kernel/boot" -name 'vmlinuz-*' | head -n1)
[ -n "$vmlinuz" ] || die "$(basename "$kdeb") has no /boot/vmlinuz-*"
release=${vmlinuz##*/vmlinuz-}
moddir=$WORK/kernel/lib/modules/$release
[ -d "$moddir" ] || die "$(basename "$kdeb") has no /lib/modules/$release"
cp "$vmlinuz" "$OUT/bzImage.tmp"

# The payload is where the setup header says (setup_sects, payload_offset,
# payload_length); Debian compresses it with LZ4 in the legacy frame format
# (magic 02 21 4c 18). Its last 4 bytes are the uncompressed size, which
# the lz4 tool does not expect, so cut them off.
magic=$(python3 - "$vmlinuz" "$WORK/payload.lz4" <<'EOF2'
import struct, sys
d = open(sys.argv[1], 'rb').read()
if d[0x202:0x206] != b'HdrS':
    sys.exit("not a bzImage")
setup = (d[0x1f1] or 4) + 1
poff, plen = struct.unpack_from('<II', d, 0x248)
start = setup * 512 + poff
if plen < 8 or start + plen > len(d):
    sys.exit("payload outside the file")
open(sys.argv[2], 'wb').write(d[start:start + plen - 4])
print(d[start:start + 4].hex())
EOF2
) || die "$vmlinuz: cannot find the payload through its setup header"
[ "$magic" = 02214c18 ] || die "$vmlinuz: payload is not LZ4 (legacy frame), magic $magic"
lz4 -dc "$WORK/payload.lz4" >"$OUT/vmlinux.tmp" 2>"$WORK/lz4.err" ||
	die "lz4 could not decompress the kernel payload: $(tail -n1 "$WORK/lz4.err")"
rm -f "$WORK/payload.lz4"
[ "$(head -c 4 "$OUT/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
	die "the decompressed payload is not an ELF file"

# --- modules, in dependency order -----------------------------------------
WANT=(virtio_ring virtio virtio_mmio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
	virtio_blk failover net_failover virtio_net virtio-rng virtio_console
	vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport virtio_balloon)
# A module file's bytes (Debian may ship them xz-compressed).
modbytes() { if [[ $1 == *.xz ]]; then xz -dc "$1"; else cat "$1"; fi; }
declare -A path deps
for m in "${WANT[@]}"; do
	f=$(find "$moddir" \( -name "$m.ko" -o -name "$m.ko.xz" \) | head -n1)
	[ -n "$f" ] || continue # built in, or not in this kernel
	path[$m]=$f
	deps[$m]=$(modbytes "$f" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1)
done
order=()
declare -A placed
place() { # depth-first: a module after everything it depends on
	local m=$1 d
	[ -n "${placed[$m]:-}" ] && return
	placed[$m]=1
	for d in ${deps[$m]//,/ }; do
		# depends= spells names with '_'; virtio-rng's file has a '-'.
		if [ -n "${path[$d]:-}" ]; then
			place "$d"
		elif [ -n "${path[${d//_/-}]:-}" ]; then
			place "${d//_/-}"
		else
			die "module $m needs $d, which is not in the list"
		fi
	done
	order+=("$m")
}
for m in "${WANT[@]}"; do [ -n "${path[$m]:-}" ] && place "$m"; done

# --- initramfs --------------------------------------------------------------
root=$WORK/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root,lib/modules}
cp "$WORK/busybox/bin/busybox" "$root/bin/busybox"
# Applet links made now, so /init does not spend boot time on --install.
"$root/bin/busybox" --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
done
: >"$root/etc/modules"
for m in "${order[@]}"; do
	f=${path[$m]}
	modbytes "$f" >"$root/lib/modules/$m.ko"
	echo "$m" >>"$root/etc/modules"
done
echo "$release" >"$root/etc/kernel-release"
# Our own test tools: static, so they need no libraries in the guest and
# run on the host as they are.
rm -rf "$OUT/tools.tmp"
mkdir -p "$OUT/tools.tmp"
for src in "${TOOLS[@]}"; do
	t=$(basename "$src" .c)
	gcc -static -O2 -Wall -Wextra -o "$OUT/tools.tmp/$t" "$src" 2>"$WORK/gcc.err" ||
		die "cannot build $src (static glibc: libc6-dev): $(head -n3 "$WORK/gcc.err")"
	cp "$OUT/tools.tmp/$t" "$root/usr/bin/$t"
done
cat >"$root/init" <<'EOF'
#!/bin/sh
# vmon default guest: mount the pseudo file systems, load the virtio
# modules, start a shell on the console. Leaving the shell, or poweroff,
# powers off; reboot restarts.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
case " $(cat /proc/cmdline) " in
*" vmon.init=poweroff "*) poweroff -f ;;
esac
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
for m in $(cat /etc/modules); do
	insmod /lib/modules/$m.ko 2>/dev/null || echo "init: could not load $m"
done
hostname vmon-guest
echo
echo "vmon guest: Linux $(uname -r), busybox $(busybox | head -n1 | cut -d' ' -f2), $(nproc) CPU(s)"
echo "Type 'poweroff' (or exit the shell) to end the VM, 'reboot' to restart it."
setsid cttyhack sh -l &
shell=$!
# busybox's poweroff, reboot and halt signal PID 1 (USR2, TERM, USR1): this
# script is PID 1, so it does what they ask.
trap 'poweroff -f' USR2
trap 'reboot -f' TERM
trap 'halt -f' USR1
while kill -0 "$shell" 2>/dev/null; do wait "$shell"; done
poweroff -f
EOF
chmod 755 "$root/init"
cat >"$root/etc/profile" <<'EOF'
PS1='vmon# '
export PS1
EOF

# cpio newc written here rather than by cpio(1): every entry root-owned with
# time 0 (reproducible, no root needed), plus the /dev/console node the
# kernel opens for /init before devtmpfs is mounted.
python3 - "$root" "$OUT/initramfs.cpio.gz.tmp" <<'EOF'
import gzip, os, stat, sys
root, out = sys.argv[1], sys.argv[2]
ino = [1]
def entry(name, mode, data=b'', rdev=(0, 0), nlink=1):
    hdr = '070701' + ''.join('%08x' % v for v in (
        ino[0], mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
        len(name) + 1, 0))
    ino[0] += 1
    b = hdr.encode() + name.encode() + b'\0'
    b += b'\0' * (-len(b) % 4) + data
    return b + b'\0' * (-len(b) % 4)
parts = []
for dirpath, dirs, files in os.walk(root):
    dirs.sort()
    rel = os.path.relpath(dirpath, root)
    if rel != '.':
        parts.append(entry(rel, stat.S_IFDIR | 0o755, nlink=2))
    for f in sorted(files):
        p = os.path.join(dirpath, f)
        name = os.path.normpath(os.path.join(rel, f))
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            parts.append(entry(name, stat.S_IFLNK | 0o777, os.readlink(p).encode()))
        else:
            with open(p, 'rb') as fh:
                parts.append(entry(name, stat.S_IFREG | (st.st_mode & 0o777), fh.read()))
    for d in dirs:
        p = os.path.join(dirpath, d)
        if os.path.islink(p):
            parts.append(entry(os.path.normpath(os.path.join(rel, d)),
                               stat.S_IFLNK | 0o777, os.readlink(p).encode()))
parts.append(entry('dev/console', stat.S_IFCHR | 0o600, rdev=(5, 1)))
parts.append(entry('TRAILER!!!', 0))
with gzip.GzipFile(out, 'wb', compresslevel=9, mtime=0) as g:
    g.write(b''.join(parts))
EOF

mv "$OUT/bzImage.tmp" "$OUT/bzImage"
mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
rm -rf "$OUT/tools"
mv "$OUT/tools.tmp" "$OUT/tools"
echo "$release" >"$OUT/kernel-release"
echo "$stamp" >"$OUT/.stamp"
rm -rf "$WORK/kernel" "$WORK/busybox"
say "built $OUT: bzImage, vmlinux, initramfs.cpio.gz, tools/ (Linux $release, modules: ${order[*]:-none})"
