#!/usr/bin/env python3
"""Writes a few well-formed inputs for fuzz_virtio into DIR, so a short
fuzzing run starts from requests that get deep into the device."""
import struct
import sys

out = sys.argv[1]


def desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def image(flags, ops, descs, heads, extra, size=0x1000):
    ram = bytearray(size)
    for i, d in enumerate(descs):
        ram[16 * i:16 * i + 16] = d
    ram[0x100:0x104] = struct.pack("<HH", 0, len(heads))
    for i, h in enumerate(heads):
        ram[0x104 + 2 * i:0x106 + 2 * i] = struct.pack("<H", h)
    for addr, blob in extra:
        ram[addr:addr + len(blob)] = blob
    return bytes([flags, 3, len(ops)]) + b"".join(ops) + bytes(ram)


N, W, I = 1, 2, 4
hdr = lambda t, s: struct.pack("<IIQ", t, 0, s)
seeds = {
    "read": image(0, [], [desc(0x400, 16, N, 1), desc(0x600, 512, N | W, 2), desc(0x800, 1, W, 0)],
                  [0], [(0x400, hdr(0, 1))]),
    "write": image(2, [], [desc(0x400, 16, N, 1), desc(0x600, 1024, N, 2), desc(0x800, 1, W, 0)],
                   [0], [(0x400, hdr(1, 4))]),
    "indirect": image(4, [], [desc(0x900, 48, I, 0)], [0],
                      [(0x400, hdr(0, 2)), (0x900, desc(0x400, 16, N, 1) + desc(0x600, 512, N | W, 2)
                                            + desc(0x800, 1, W, 0))]),
    "discard": image(0, [], [desc(0x400, 16, N, 1), desc(0x500, 16, N, 2), desc(0x800, 1, W, 0)],
                     [0], [(0x400, hdr(11, 0)), (0x500, struct.pack("<QII", 8, 8, 1))]),
    "getid": image(0, [], [desc(0x400, 16, N, 1), desc(0x600, 20, N | W, 2), desc(0x800, 1, W, 0)],
                   [0], [(0x400, hdr(8, 0))]),
    "rng": image(1, [], [desc(0x600, 64, W, 0)], [0], []),
    "regs": image(0, [struct.pack("<HBBI", 0x14, 0, 0, 0), struct.pack("<HBBI", 0x1c, 1, 0, 1)],
                  [desc(0x400, 16, N, 1)], [0], []),
}


def q1(descs, heads):
    """Queue 1 (net/vsock transmit) rings at 0x3000, as extra blobs."""
    ring = b"".join(descs)
    avail = struct.pack("<HH", 0, len(heads)) + b"".join(struct.pack("<H", h) for h in heads)
    return [(0x3000, ring), (0x3100, avail)]


def vhdr(op, sport, dport, length=0, typ=1):
    return struct.pack("<QQIIIHHIII", 3, 2, sport, dport, length, typ, op, 0, 65536, 0)


eth = bytes.fromhex("ffffffffffff525400123456") + b"\x88\xb5" + b"fuzz".ljust(46, b"\0")
seeds["net"] = image(8, [], [desc(0x800, 2048, W, 0)], [0],
                     [(0x400, bytes(12) + eth)] + q1([desc(0x400, 12 + len(eth), 0, 0)], [0]),
                     0x3300)
seeds["vsock"] = image(16, [], [desc(0x800, 1024, W, 0), desc(0xc00, 1024, W, 0)], [0, 1],
                       [(0x400, vhdr(1, 7000, 5)), (0x500, vhdr(5, 7000, 5, 16) + b"x" * 16)]
                       + q1([desc(0x400, 44, 0, 0), desc(0x500, 60, 0, 0)], [0, 1]), 0x3300)
seeds["vsock-rst"] = image(16, [], [desc(0x800, 1024, W, 0)], [0],
                           [(0x400, vhdr(5, 7001, 9, 4))] + q1([desc(0x400, 48, 0, 0)], [0]),
                           0x3300)
# virtio-blk on the MMIO transport (byte 0 bit 5); register ops use MMIO
# offsets (0x44 QueueReady, 0x38 QueueNum).
seeds["mmio-read"] = image(32 | 2, [], [desc(0x400, 16, N, 1), desc(0x600, 512, N | W, 2),
                                        desc(0x800, 1, W, 0)], [0], [(0x400, hdr(0, 1))])
seeds["mmio-regs"] = image(32, [struct.pack("<HBBI", 0x44, 2, 0, 0), struct.pack("<HBBI", 0x38, 2, 0, 4096),
                                struct.pack("<HBBI", 0x44, 2, 0, 1), struct.pack("<HBBI", 0x64, 2, 0, 3)],
                           [desc(0x400, 16, N, 1)], [0], [])
for name, blob in seeds.items():
    with open(f"{out}/{name}", "wb") as f:
        f.write(blob)
