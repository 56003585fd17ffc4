#!/usr/bin/env python3
"""Writes a sparse ELF vmcore of SIZE GiB (default 64) for memory benchmarks.

The notes (PRSTATUS, VMCOREINFO) are copied from a real vmcore so the dump
has an identity; memory is one PT_LOAD of holes that read as zeros, so the
file costs no disk. Usage: make-sparse-vmcore.py SOURCE_VMCORE OUT [GIB]
"""
import struct
import sys

src, out = sys.argv[1], sys.argv[2]
gib = int(sys.argv[3]) if len(sys.argv) > 3 else 64
PAGE = 4096
with open(src, "rb") as f:
    eh = f.read(64)
    phoff, = struct.unpack_from("<Q", eh, 32)
    phnum, = struct.unpack_from("<H", eh, 56)
    f.seek(phoff)
    notes = b""
    for i in range(phnum):
        ph = f.read(56)
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", ph)
        if p_type == 4:
            here = f.tell()
            f.seek(p_offset)
            notes = f.read(p_filesz)
            f.seek(here)
            break
size = gib << 30
note_off = PAGE
load_off = note_off + ((len(notes) + PAGE - 1) // PAGE) * PAGE
ehdr = bytearray(eh)
struct.pack_into("<Q", ehdr, 32, 64)        # e_phoff
struct.pack_into("<Q", ehdr, 40, 0)         # e_shoff
struct.pack_into("<HHHHHH", ehdr, 52, 64, 56, 2, 0, 0, 0)
note = struct.pack("<IIQQQQQQ", 4, 0, note_off, 0, 0, len(notes), len(notes), 0)
# RAM from 1 MiB up, direct-mapped at the usual 4-level page_offset.
load = struct.pack("<IIQQQQQQ", 1, 7, load_off, 0xffff888000100000, 0x100000, size, size, 0)
with open(out, "wb") as f:
    f.write(ehdr + note + load)
    f.seek(note_off)
    f.write(notes)
    f.truncate(load_off + size)
print(out)
