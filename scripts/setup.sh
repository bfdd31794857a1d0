#!/usr/bin/env bash
# Installs what vmon's build, tests and benchmarks need (Debian packages),
# then builds vmon and the test-guest kit. Idempotent: packages already
# present are not fetched again. Run as root (or through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	build-essential make gcc        # the build
	libzydis-dev                    # x86 decoder/formatter (error messages, software CPU)
	libcmocka-dev                   # unit-test framework
	liburing-dev                    # io_uring: asynchronous disk I/O (virtio-blk)
	libslirp-dev                    # user-mode networking (virtio-net --net user)
	libcap-ng-dev                   # vmon jail: dropping capabilities
	libseccomp-dev                  # seccomp-bpf filters on every thread
	strace                          # tests/integration/seccomp.sh: the allowlists against real use
	procps                          # ps: jailer.sh checks the session of a --daemonize jail
	iproute2                        # ip netns / ip tuntap, for the tap test
	clang libclang-rt-14-dev        # make fuzz (libFuzzer + ASan)
	python3                         # small test helpers (image generators)
	util-linux                      # setpriv, for the permission tests
	qemu-system-x86                 # reference for benchmarks, oracle for tests
	clang-format                    # make format-check
	lz4 xz-utils cpio               # make guest: kernel payload, modules, initramfs checks
	e2fsprogs                       # debugfs: the Linux-guest disk test reads the guest's file system
	debootstrap                     # make bench: the Debian systemd image (scripts/make-systemd-image.sh)
	libmicrohttpd-dev libjansson-dev # the HTTP API (server side, JSON)
	zlib1g-dev # snapshots: the vmstate checksum (CRC-32)
	libzstd-dev                     # live migration: compressed page runs (vmon migrate --compress)
	libgnutls28-dev                 # live migration over TLS (--tls-cert/--tls-key/--tls-ca)
	gnutls-bin                      # certtool: tests/integration/migrate.sh makes its test certificates
	libcurl4-openssl-dev curl       # vmon ps/pause/...: API client; the API tests drive it with curl
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "setup: installing ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

make -j"$(nproc)" >/dev/null
echo "setup: built build/vmon and the test-guest kit in build/guests/"
