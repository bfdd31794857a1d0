#!/usr/bin/env bash
# Firecracker's getting-started sequence (docs/getting-started.md in
# Firecracker's repository) against `vmon api`, with only the file paths
# changed: the same curl calls set the logger, the boot source (plus the
# default guest's initramfs, which Firecracker's rootfs does not need),
# the root drive, a tap NIC with Firecracker's MAC, the machine config
# (2 vCPUs, 1024 MiB) and InstanceStart. The default Linux guest (make
# guest) boots to its shell and finds what was configured: 2 CPUs, about
# 1 GiB, the drive as /dev/vda and eth0 with that MAC, which reaches the
# host's end of the tap (ping). The tap lives in a network namespace the
# test creates (root only).
source "$(dirname "$0")/../lib.sh"

G=${GUEST_DIR:-$BUILD/guest}
NAMES=(firecracker-sequence firecracker-guest-boots firecracker-vcpus firecracker-memory
	firecracker-root-drive firecracker-nic firecracker-tap-ping firecracker-logger
	firecracker-poweroff)
need_guest_files bzImage initramfs.cpio.gz
command -v curl >/dev/null || skip_all "curl is not installed (scripts/setup.sh installs it)"
command -v mkfs.ext4 >/dev/null || skip_all "no mkfs.ext4 (e2fsprogs)"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (a network namespace and a tap device)"
command -v ip >/dev/null || skip_all "no ip(8) (iproute2)"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
NS=vmon-fc-$$
ip netns add "$NS" 2>"$TMP/ns.err" || skip_all "cannot create a network namespace: $(cat "$TMP/ns.err")"
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT

# Firecracker's tap setup, inside the namespace.
TAP_DEV="tap0"
TAP_IP="172.16.0.1"
MASK_SHORT="/30"
ip netns exec "$NS" ip tuntap add dev "$TAP_DEV" mode tap
ip netns exec "$NS" ip addr add "${TAP_IP}${MASK_SHORT}" dev "$TAP_DEV"
ip netns exec "$NS" ip link set dev "$TAP_DEV" up

mkfs.ext4 -q -F "$TMP/rootfs.ext4" 16M >/dev/null 2>&1
cat >"$TMP/console.in" <<'EOF'
echo NPROC=$(nproc)
echo MEM=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)
echo VDA=$(cat /sys/block/vda/size)
echo MAC=$(cat /sys/class/net/eth0/address)
ip addr add 172.16.0.2/30 dev eth0 && ip link set eth0 up && ping -c 1 -W 20 172.16.0.1 >/dev/null && echo PING=ok
poweroff -f
EOF

API_SOCKET="$TMP/firecracker.socket"
# Remove API unix socket
rm -f $API_SOCKET
ip netns exec "$NS" timeout -k 5 600 "$VMON" api --api-sock "${API_SOCKET}" \
	<"$TMP/console.in" >"$TMP/console.raw" 2>"$TMP/vmon.err" &
pid=$!
for _ in $(seq 1 500); do
	[ -S "$API_SOCKET" ] && break
	sleep 0.02
done

codes=()
# curl as in Firecracker's guide, with -w to keep each status.
fc() { codes+=("$(curl -s -o "$TMP/last.body" -w '%{http_code}' "$@")"); }

LOGFILE="$TMP/firecracker.log"
# Set log file
fc -X PUT --unix-socket "${API_SOCKET}" \
	--data "{
        \"log_path\": \"${LOGFILE}\",
        \"level\": \"Debug\",
        \"show_level\": true,
        \"show_log_origin\": true
    }" \
	"http://localhost/logger"

KERNEL="$G/bzImage"
INITRD="$G/initramfs.cpio.gz"
KERNEL_BOOT_ARGS="console=ttyS0 reboot=k panic=1"

# Set boot source
fc -X PUT --unix-socket "${API_SOCKET}" \
	--data "{
        \"kernel_image_path\": \"${KERNEL}\",
        \"initrd_path\": \"${INITRD}\",
        \"boot_args\": \"${KERNEL_BOOT_ARGS}\"
    }" \
	"http://localhost/boot-source"

ROOTFS="$TMP/rootfs.ext4"

# Set rootfs
fc -X PUT --unix-socket "${API_SOCKET}" \
	--data "{
        \"drive_id\": \"rootfs\",
        \"path_on_host\": \"${ROOTFS}\",
        \"is_root_device\": true,
        \"is_read_only\": false
    }" \
	"http://localhost/drives/rootfs"

FC_MAC="06:00:AC:10:00:02"

# Set network interface
fc -X PUT --unix-socket "${API_SOCKET}" \
	--data "{
        \"iface_id\": \"net1\",
        \"guest_mac\": \"$FC_MAC\",
        \"host_dev_name\": \"$TAP_DEV\"
    }" \
	"http://localhost/network-interfaces/net1"

# Set the machine configuration (earlier versions of the guide)
fc -X PUT --unix-socket "${API_SOCKET}" \
	--data "{
        \"vcpu_count\": 2,
        \"mem_size_mib\": 1024
    }" \
	"http://localhost/machine-config"

# API requests are handled asynchronously, it is important the configuration is
# set, before `InstanceStart`.
sleep 0.015s

# Start microVM
fc -X PUT --unix-socket "${API_SOCKET}" \
	--data "{
        \"action_type\": \"InstanceStart\"
    }" \
	"http://localhost/actions"

if [ "${codes[*]}" = "204 204 204 204 204 204" ]; then
	pass firecracker-sequence
else
	fail firecracker-sequence "statuses ${codes[*]}; last: $(cat "$TMP/last.body")"
fi
wait "$pid"
rc=$?
tr -d '\r' <"$TMP/console.raw" >"$TMP/console.out"
why() { echo "exit $rc; $(head -c 300 "$TMP/vmon.err" | tr '\n' ' '); $(tail -c 400 "$TMP/console.out" | tr '\n' ' ')"; }
value() { sed -n "s/^$1=\(.*\)$/\1/p" "$TMP/console.out" | tail -n1; }

if grep -q '^vmon guest: Linux ' "$TMP/console.out" && grep -q '^vmon# ' "$TMP/console.out"; then
	pass firecracker-guest-boots
else
	fail firecracker-guest-boots "no banner and prompt; $(why)"
fi
[ "$(value NPROC)" = 2 ] && pass firecracker-vcpus || fail firecracker-vcpus "nproc '$(value NPROC)'; $(why)"
mem=$(value MEM)
# 1024 MiB less what the kernel keeps for itself.
if [ -n "$mem" ] && [ "$mem" -gt 900000 ] && [ "$mem" -le 1048576 ]; then
	pass firecracker-memory
else
	fail firecracker-memory "MemTotal '$mem' kB; $(why)"
fi
[ "$(value VDA)" = 32768 ] && pass firecracker-root-drive ||
	fail firecracker-root-drive "vda size '$(value VDA)' sectors; $(why)"
[ "$(value MAC)" = 06:00:ac:10:00:02 ] && pass firecracker-nic ||
	fail firecracker-nic "eth0 MAC '$(value MAC)'; $(why)"
[ "$(value PING)" = ok ] && pass firecracker-tap-ping || fail firecracker-tap-ping "$(why)"
if grep -q '"level":"Info"' "$LOGFILE" && grep -q '"origin":"src/' "$LOGFILE" &&
	grep -q 'InstanceStart\|PUT /actions: 204' "$LOGFILE"; then
	pass firecracker-logger
else
	fail firecracker-logger "$(head -c 300 "$LOGFILE" 2>&1)"
fi
[ "$rc" = 0 ] && pass firecracker-poweroff || fail firecracker-poweroff "$(why)"
