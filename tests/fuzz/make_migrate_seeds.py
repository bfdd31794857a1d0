#!/usr/bin/env python3
"""Seed streams for fuzz_migrate (docs/migration.md, stream versions 1
to 3): headers, the CPU record (v2), the machine record and sync (v3), page and zero runs, a machine state
(a real vmstate file when make_vmstate_seeds.py's corpus is given, else a
framed one), the end."""
import os
import struct
import sys
import zlib

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
RAM = 1 << 20


def zpages(first, count, frame):
    return struct.pack("<IQII", 5, first, count, len(frame)) + frame


# A zstd frame: one RLE block of 4096 bytes 0xAB (window 4 KiB, no size,
# no checksum).
ZFRAME = bytes.fromhex("28b52ffd00100380 00ab".replace(" ", ""))


def hdr(ram=RAM, version=1, flags=0):
    return b"VMONMIGR" + struct.pack("<IIQ", version, flags, ram)


def cpu(names=b"fpu tsc msr cx8 cmov sse sse2 lm"):
    return struct.pack("<II", 6, len(names)) + names


def hdr2(ram=RAM, flags=0, names=b"fpu tsc msr cx8 cmov sse sse2 lm"):
    return hdr(ram, 2, flags) + cpu(names)


def pages(first, count, fill=0x5A):
    return struct.pack("<IQI", 1, first, count) + bytes([fill]) * (4096 * count)


def zero(first, count):
    return struct.pack("<IQI", 2, first, count)


def vmstate(ram=RAM):
    # A framed vmstate (header, no sections) with a right checksum: the
    # state parser accepts the frame, the loaders refuse the rest.
    def s(x):
        return bytes([len(x)]) + x
    body = b"VMONSNAP" + struct.pack("<I", 1) + s(b"fuzz") + s(b"emu") + struct.pack("<QI", ram, 1)
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def state(blob):
    return struct.pack("<II", 3, len(blob)) + blob


def machine(ram=RAM, ncpus=2, names=b"fpu tsc msr cx8 cmov sse sse2 lm", config=True):
    # A vmstate with a config section (its bytes opaque to the stream) and
    # the CPU features: what a v3 target builds its machine from.
    def s(x):
        return bytes([len(x)]) + x

    def sec(t, i, k, data):
        return struct.pack("<I", t) + s(i) + s(k) + struct.pack("<II", 1, len(data)) + data
    body = (b"VMONSNAP" + struct.pack("<I", 1) + s(b"fuzz") + s(b"emu")
            + struct.pack("<QI", ram, ncpus))
    if config:
        body += sec(1, b"config", b"machine", b"\x00" * 16)
    body += sec(2, b"cpuid", b"features", names)
    body += struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)
    return struct.pack("<II", 7, len(body)) + body


def hdr3(ram=RAM, flags=0, ncpus=2, names=b"fpu tsc msr cx8 cmov sse sse2 lm"):
    return hdr(ram, 3, flags) + cpu(names) + machine(ram, ncpus, names)


SYNC = struct.pack("<I", 8)
END = struct.pack("<I", 4)
seeds = {
    "header": hdr(),
    "zstd": hdr(flags=1) + zpages(3, 1, ZFRAME) + pages(4, 1) + state(vmstate()) + END,
    "zstd-unannounced": hdr() + zpages(3, 1, ZFRAME),
    "pages": hdr() + pages(0, 2) + pages(255, 1, 0x11) + zero(0, 1) + state(vmstate()) + END,
    "zero-only": hdr() + zero(0, 256) + state(vmstate()) + END,
    "state-bad-ram": hdr() + state(vmstate(2 * RAM)) + END,
    "no-state": hdr() + END,
    "truncated": hdr() + pages(0, 1)[:100],
    "big-ram": hdr(ram=1 << 40),
    "v2": hdr2() + pages(0, 2) + zero(0, 1) + state(vmstate()) + END,
    "v2-zstd": hdr2(flags=1) + zpages(3, 1, ZFRAME) + state(vmstate()) + END,
    "v2-svm-refused": hdr2(names=b"fpu sse2 svm") + pages(0, 1) + END,
    "v2-unknown-feature": hdr2(names=b"fpu quantum") + END,
    "v2-no-cpu": hdr(version=2) + pages(0, 1) + state(vmstate()) + END,
    "v2-cpu-empty": hdr(version=2) + cpu(b"") + state(vmstate()) + END,
    "v2-cpu-late": hdr2() + cpu() + END,
    "v2-cpu-huge": hdr(version=2) + struct.pack("<II", 6, 1 << 20),
    "v3-no-cpu": hdr(version=3) + END,
    "v3": hdr3() + pages(0, 2) + SYNC + zero(0, 1) + SYNC + state(vmstate()) + END,
    "v3-zstd": hdr3(flags=1) + zpages(3, 1, ZFRAME) + SYNC + state(vmstate()) + END,
    "v3-one-cpu-refused": hdr3(ncpus=1) + pages(0, 1) + END,
    "v3-svm-refused": hdr3(names=b"fpu sse2 svm") + END,
    "v3-no-machine": hdr(version=3) + cpu() + pages(0, 1) + END,
    "v3-machine-cpu-differs": hdr(version=3) + cpu() + machine(names=b"fpu sse2") + END,
    "v3-machine-ram-differs": hdr(version=3) + cpu() + machine(ram=2 * RAM) + END,
    "v3-machine-no-config": hdr(version=3) + cpu() + machine(config=False) + END,
    "v3-machine-huge": hdr(version=3) + cpu() + struct.pack("<II", 7, 1 << 24),
    "v3-machine-late": hdr3() + machine() + END,
    "v3-sync-after-state": hdr3() + state(vmstate()) + SYNC + END,
    "v2-sync": hdr2() + SYNC + END,
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
