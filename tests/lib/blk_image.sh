# Sourced by the virtio-blk test scripts (virtio_blk.sh, virtio_mmio.sh,
# kvm_fastpath.sh):
# the disk image the virtio_blk kit guest's protocol expects, and the
# check of what the guest must have left in it. $SECTORS is the size.
SECTORS=2048

# A 1 MiB image whose sector s holds bytes (31 * s + i) & 0xff.
make_image() {
	python3 - "$1" "$SECTORS" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    for s in range(n):
        f.write(bytes(((31 * s + i) & 0xff) for i in range(512)))
PY
}

# What the guest must have left in the image: its marker in sector 2,
# its pattern in 8..15, zeros in the discarded 16..23, the host's pattern
# elsewhere. Prints "ok" or what differs.
check_image() {
	python3 - "$1" "$SECTORS" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
if len(data) != n * 512:
    sys.exit(print(f"size {len(data)}, want {n * 512}"))
def host(s): return bytes(((31 * s + i) & 0xff) for i in range(512))
for s in range(n):
    got = data[s * 512:(s + 1) * 512]
    if s == 2:
        want = b"VMON-VIRTIO-BLK-OK".ljust(512, b"\0")
    elif 8 <= s < 16:
        want = bytes(((7 * s + 3 * i) ^ 0x5a) & 0xff for i in range(512))
    elif 16 <= s < 24:
        want = bytes(512)
    else:
        want = host(s)
    if got != want:
        sys.exit(print(f"sector {s} differs"))
print("ok")
PY
}
