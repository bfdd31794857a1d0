#!/usr/bin/env python3
"""Seeds for fuzz_vmstate: a small valid vmstate file (docs/snapshot.md
has the layout) with a config, CPU features, one vCPU, the chips and a
device blob, in the CPU/chips sections' version 1 and version 2 (the KVM
fields: TSC rate, interrupt in delivery, XSAVE past AVX, kvmclock), plus
variants cut short. Usage: make_vmstate_seeds.py DIR"""
import os
import struct
import sys
import zlib


def s8(t):
    b = t.encode()
    return bytes([len(b)]) + b


def s16(t):
    b = t.encode()
    return struct.pack('<H', len(b)) + b


def section(typ, sid, kind, ver, data):
    return struct.pack('<I', typ) + s8(sid) + s8(kind) + struct.pack('<II', ver, len(data)) + data


def config():
    c = struct.pack('<IQ', 1, 256 << 20) + s16('') + bytes(2)
    c += s16('vmlinux') + s16('') + s16('console=ttyS0') + b'\0' + struct.pack('<Q', 0)
    c += struct.pack('<I', 1) + s16('d0') + s16('disk.img') + s16('') + s16('') + bytes(3)
    c += struct.pack('<II', 0, 0)
    c += struct.pack('<I', 0)  # NICs
    c += b'\0' + s16('') + struct.pack('<II', 0, 0) + s16('')  # vsock
    c += b'\0' + struct.pack('<II', 0, 0) + s16('')  # console
    c += b'\1' + struct.pack('<I', 0) + b'\0'
    return c


def cpu():
    d = bytearray()
    d += bytes(16 * 8) + struct.pack('<QQ', 0xfff0, 2)
    for _ in range(8):
        d += struct.pack('<QIHI', 0, 0xffff, 0, 0x93)
    d += struct.pack('<QH', 0, 0xffff) + struct.pack('<QH', 0, 0x3ff)
    d += struct.pack('<7Q', 0x60000010, 0, 0, 0, 0, 0, 1)  # CR0 2 3 4 8 EFER XCR0
    d += bytes(8 * 8)
    d += struct.pack('<14Q', 0, 0, 0, 0, 0, 0, 0, 0, 0x0007040600070406, 0xfee00900, 1, 0, 0, 0)
    d += struct.pack('<I', 0)
    x = bytearray(832)
    struct.pack_into('<HH', x, 0, 0x37f, 0)
    struct.pack_into('<I', x, 24, 0x1f80)
    d += x
    d += bytes([0xff, 0]) + struct.pack('<I', 0) + bytes(5)
    d += bytes(8 * 4) + bytes(24 * 4) + struct.pack('<6I', *([0x10000] * 6)) + struct.pack('<IIQ', 0, 0, 0)
    return bytes(d)


def chips():
    d = bytes(13) * 2 + struct.pack('<III', 0, 0, 0) + struct.pack('<Q', 0x10000) * 24
    for _ in range(3):
        d += struct.pack('<H', 0) + bytes([3, 3, 0, 0, 0, 0, 0, 0, 1, 0]) + struct.pack('<HQ', 0, 0)
    return d + b'\0' + struct.pack('<I', 0)


def cpu_v2():
    # version 1 + TSC kHz, interrupt in delivery, XSAVE bytes past AVX
    ext = bytes(64) + b'\x01\x02'
    return cpu() + struct.pack('<IBI', 2500000, 0x31, len(ext)) + ext


def chips_v2():
    return chips() + b'\x01' + struct.pack('<Q', 123456789)


def vmstate(backend, cpu_ver, cpu_data, chips_data):
    body = b'VMONSNAP' + struct.pack('<I', 1) + s8('0.1.0') + s8(backend) + struct.pack('<QI', 256 << 20, 1)
    body += section(1, 'config', 'machine', 1, config())
    body += section(2, 'cpuid', 'features', 1, b'fpu tsc cx8 cmov mmx fxsr sse sse2')
    body += section(3, 'cpu0', 'x86-64', cpu_ver, cpu_data)
    body += section(4, 'chips', 'pc', cpu_ver, chips_data)
    body += section(5, 'com1', 'uart16550', 1, bytes(11) + b'\0')
    return body


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, body in (('valid', vmstate('emu', 1, cpu(), chips())),
                       ('valid-v2', vmstate('kvm', 2, cpu_v2(), chips_v2()))):
        whole = body + struct.pack('<I', zlib.crc32(body) & 0xffffffff)
        with open(os.path.join(out, name), 'wb') as f:
            f.write(whole)
        for n in (12, 40, 200, len(whole) // 2, len(whole) - 40):
            cut = body[:n]
            with open(os.path.join(out, '%s-cut%d' % (name, n)), 'wb') as f:
                f.write(cut + struct.pack('<I', zlib.crc32(cut) & 0xffffffff))


main()
