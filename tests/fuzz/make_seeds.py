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
# The PCI bus (byte 0 bit 6): operations on configuration space and the
# MMIO window (pci_op in fuzz_virtio.c), then RAM.


def op(kind, a=0, b=0, c=0, v=0):
    return struct.pack("<BBBBI", kind, a, b, c, v)


def cfgw(slot, off, size, v):  # size 1, 2, 4
    return op(2, slot, off, {1: 0, 2: 1, 4: 2}[size], v)


def barw(slot, bar, off, size, v):  # slot 1 or 2
    a = ({1: 0, 2: 1, 4: 2, 8: 3}[size] << 2) | (bar << 1) | (slot - 1)
    return op(4, a, off & 0xff, off >> 8, v)


def barr(slot, bar, off, size):
    return op(5, *barw(slot, bar, off, size, 0)[1:4])


def pci(ops, ram=b""):
    assert len(ops) < 256
    return bytes([64, len(ops)]) + b"".join(ops) + ram


blk_setup = [
    cfgw(1, 0x04, 2, 0x6),             # memory decode, bus master
    op(6, 0, 0, 0, 0x8000),            # MSI-X on
    barw(1, 1, 0x00, 4, 0xfee00000),   # vector 0: address, data, unmasked
    barw(1, 1, 0x08, 4, 0x30),
    barw(1, 1, 0x0c, 4, 0),
    barw(1, 1, 0x10, 4, 0xfee00000),   # vector 1 (configuration changes)
    barw(1, 1, 0x18, 4, 0x31),
    barw(1, 1, 0x1c, 4, 0),
    barw(1, 0, 0x14, 1, 3),            # ACKNOWLEDGE | DRIVER
    barw(1, 0, 0x08, 4, 0),
    barw(1, 0, 0x0c, 4, (1 << 29) | (1 << 28) | (1 << 9)),
    barw(1, 0, 0x08, 4, 1),
    barw(1, 0, 0x0c, 4, 1),            # VERSION_1
    barw(1, 0, 0x14, 1, 0xb),          # FEATURES_OK
    barw(1, 0, 0x10, 2, 1),            # config vector 1
    barw(1, 0, 0x16, 2, 0),
    barw(1, 0, 0x18, 2, 4),
    barw(1, 0, 0x1a, 2, 0),            # queue vector 0
    barw(1, 0, 0x20, 4, 0x000),
    barw(1, 0, 0x28, 4, 0x100),
    barw(1, 0, 0x30, 4, 0x200),
    barw(1, 0, 0x1c, 2, 1),
    barw(1, 0, 0x14, 1, 0xf),          # DRIVER_OK
    barw(1, 0, 0x3000, 2, 0),          # notify queue 0
    op(7),
    barr(1, 1, 0x800, 8),              # PBA
]
read_ram = image(0, [], [desc(0x400, 16, N, 1), desc(0x600, 512, N | W, 2), desc(0x800, 1, W, 0)],
                 [0], [(0x400, hdr(0, 1))])[3:]
seeds["pci-blk-msix"] = pci(blk_setup, read_ram)
# The same with the vector masked, then unmasked (pending bit, then sent).
seeds["pci-blk-masked"] = pci(blk_setup[:4] + [barw(1, 1, 0x0c, 4, 1)] + blk_setup[5:]
                              + [barw(1, 1, 0x0c, 4, 0), op(6, 0, 0, 0, 0xc000),
                                 op(6, 0, 0, 0, 0x8000)], read_ram)
# INTx: MSI-X off, the interrupt raised on the shared line, the ISR read.
seeds["pci-blk-intx"] = pci([o for o in blk_setup if o[0] != 6] + [barr(1, 0, 0x1000, 1)], read_ram)
# BAR sizing, moves (overlapping the neighbour, out of the window and
# back), decode toggled, notifies at the new addresses.
seeds["pci-bars"] = pci([
    op(3, 1, 0x00, 2), op(3, 2, 0x00, 2), op(3, 0, 0x00, 2), op(3, 3, 0x00, 2),
    cfgw(1, 0x10, 4, 0xffffffff), op(3, 1, 0x10, 2), cfgw(1, 0x10, 4, 0xe0100000),
    cfgw(1, 0x04, 2, 0x6), cfgw(2, 0x04, 2, 0x6),
    cfgw(2, 0x10, 4, 0xe0100000),      # slot 2 on top of slot 1
    barw(1, 0, 0x3000, 2, 0), barw(2, 0, 0x3000, 2, 0),
    cfgw(1, 0x10, 4, 0xd0000000),      # out of the window
    barr(1, 0, 0x14, 1), cfgw(1, 0x04, 2, 0x0), cfgw(1, 0x04, 2, 0x406),
    cfgw(1, 0x10, 4, 0xe0200000), barw(1, 0, 0x3000, 2, 0), op(7),
    op(0, 0, 2, 0, 0x80000800), op(1, 4, 2), op(0, 4, 0, 0, 0xff), op(1, 5, 1),
])
# Walks the capability list through the ports.
seeds["pci-caps"] = pci([op(0, 0, 2, 0, 0x80000834), op(1, 4, 0)] +
                        [op(3, 1, off, 2) for off in range(0x40, 0x100, 4)])
# Each PCI seed again with byte 0 bit 7: its end state saved, bytes of
# the saved state flipped, and restored (a hostile snapshot).
for name in [n for n in seeds if n.startswith("pci-")]:
    b = bytearray(seeds[name])
    b[0] |= 0x80
    seeds[name + "-restore"] = bytes(b)
for name, blob in seeds.items():
    with open(f"{out}/{name}", "wb") as f:
        f.write(blob)
