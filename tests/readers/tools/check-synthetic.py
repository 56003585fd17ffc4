#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Reads salvage's synthetic ELF and LKCD dumps with libkdumpfile (an
# independent reader, python3-libkdumpfile) and checks every page against the
# pattern in tests/unit/elflkcd-fixture.h. Usage: check-synthetic.py DIR
import struct
import sys

import kdumpfile

PAGE = 4096
MAX_PFN = 0x900


def kept(pfn):
    """The fixture's kept set: A = pfns 1..0x9e minus 0x10..0x14; B = 0x100..0x8ff
    minus 0x400..0x52b and 0x89c..0x8ff."""
    if 1 <= pfn <= 0x9E:
        return not (0x10 <= pfn < 0x15)
    if 0x100 <= pfn < 0x900:
        return not (0x400 <= pfn < 0x52C or pfn >= 0x89C)
    return False


def pattern(pfn):
    p = bytearray((pfn * 31 + i) & 0xFF for i in range(PAGE))
    if pfn % 7 == 0:
        p[2048:] = bytes(2048)
    p[0:8] = struct.pack("<Q", pfn)
    return bytes(p)


def check(path, fmt, excluded_may_read_zero):
    k = kdumpfile.kdumpfile(path)
    got = k.attr["file.format"]
    assert got == fmt, f"{path}: libkdumpfile says format {got!r}, expected {fmt!r}"
    data = zero = missing = gap = 0
    for pfn in range(0, MAX_PFN + 16):
        try:
            b = bytes(k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn * PAGE, PAGE))
        except kdumpfile.exceptions.NoDataException:
            assert not kept(pfn), f"{path}: kept pfn {pfn:#x} not readable"
            missing += 1
            continue
        if kept(pfn):
            assert b == pattern(pfn), f"{path}: pfn {pfn:#x} content differs"
            data += 1
        elif excluded_may_read_zero and 0x10 <= pfn < 0x15 and b == pattern(pfn):
            # ELF: a gap shorter than 256 pages stays in p_filesz with its
            # real contents, as makedumpfile -E writes it.
            gap += 1
        else:
            assert excluded_may_read_zero and b == bytes(PAGE), f"{path}: excluded pfn {pfn:#x} has data"
            zero += 1
    n_kept = sum(kept(p) for p in range(MAX_PFN))
    assert data == n_kept, f"{path}: read {data} kept pages, expected {n_kept}"
    return k, data, zero, missing


def main():
    d = sys.argv[1]
    # ELF: VMCOREINFO and PRSTATUS reach libkdumpfile through the PT_NOTE.
    k, data, zero, missing = check(f"{d}/synthetic.elf", "elf", True)
    assert k.attr["linux.vmcoreinfo.lines.OSRELEASE"] == "6.1.0-synthetic"
    assert k.attr["cpu.number"] == 2 and k.attr["cpu.1.pid"] == 4242
    print(f"synthetic.elf: {data} pages match, {zero} zero-filled, {missing} absent (libkdumpfile)")
    for name in ("synthetic-raw.lkcd", "synthetic-zlib.lkcd"):
        k, data, zero, missing = check(f"{d}/{name}", "lkcd", False)
        assert k.attr["file.description"] == "Linux Kernel Crash Dump v9"
        assert k.attr["linux.uts.release"] == "6.1.0-synthetic"
        assert k.attr["linux.uts.machine"] == "x86_64"
        print(f"{name}: {data} pages match, {missing} absent (libkdumpfile)")
    print("check-synthetic: OK")


if __name__ == "__main__":
    main()
