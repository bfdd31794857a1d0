#!/usr/bin/env python3
"""Writes a minimal ELF64 PVH image for loader tests.

usage: mkelf.py OUT PADDR [SIZE]
One PT_LOAD segment of SIZE bytes (default 4096) at physical address PADDR
holding `cli; hlt`, and a PT_NOTE with XEN_ELFNOTE_PHYS32_ENTRY = PADDR.
Used to build images whose segments fall outside guest RAM or on vmon's
own boot structures.
"""
import struct
import sys

out, paddr = sys.argv[1], int(sys.argv[2], 0)
size = int(sys.argv[3], 0) if len(sys.argv) > 3 else 4096

EH, PH = 64, 56
note_name = b"Xen\0"
note_desc = struct.pack("<I", paddr & 0xFFFFFFFF)
note = struct.pack("<III", len(note_name), len(note_desc), 18) + note_name + note_desc
note_off = EH + 2 * PH
load_off = 0x1000
code = b"\xfa\xf4" + b"\x00" * (size - 2)

ehdr = struct.pack("<16sHHIQQQIHHHHHH",
                   b"\x7fELF\x02\x01\x01" + b"\0" * 9,
                   2, 62, 1, paddr, EH, 0, 0, EH, PH, 2, 64, 0, 0)
ph_load = struct.pack("<IIQQQQQQ", 1, 5, load_off, paddr, paddr, size, size, 0x1000)
ph_note = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(note), len(note), 4)
img = bytearray(ehdr + ph_load + ph_note + note)
img += b"\0" * (load_off - len(img))
img += code
open(out, "wb").write(img)
