#!/usr/bin/env python3
"""Seed streams for fuzz_migrate (docs/migration.md, stream versions 1
and 2): headers, the CPU record (v2), page and zero runs, a machine state
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
    "v3": hdr(version=3) + END,
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
