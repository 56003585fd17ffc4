#!/usr/bin/python3
"""Independent check of a kdump-compressed (or flattened) file with libkdumpfile.

Usage: kdump-libkdumpfile.py DUMP EXPECTED

EXPECTED is a list of records written by tests/unit/kdump_test.cc: u64 pfn
(little-endian), u8 kind (1 = page data follows, 0 = must not be readable),
then 4096 bytes when kind is 1. Also checks that libkdumpfile sees the
VMCOREINFO note (OSRELEASE) and the file format. Exit 0 when everything
matches. Run with Debian's /usr/bin/python3 (python3-libkdumpfile).
"""
import struct
import sys

import kdumpfile

PAGE = 4096


def main():
    dump, expected = sys.argv[1], sys.argv[2]
    k = kdumpfile.kdumpfile(dump)
    k.attr["addrxlat.ostype"] = "linux"
    fmt = k.attr["file.format"]
    rel = k.attr["linux.uts.release"]
    raw = bytes(k.attr["linux.vmcoreinfo.raw"]).decode(errors="replace")
    errors = []
    if "OSRELEASE=" not in raw:
        errors.append("no VMCOREINFO OSRELEASE seen by libkdumpfile")
    data = open(expected, "rb").read()
    pos = checked = 0
    while pos < len(data):
        pfn, kind = struct.unpack_from("<QB", data, pos)
        pos += 9
        try:
            got = k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn * PAGE, PAGE)
        except kdumpfile.exceptions.NoDataException:
            got = None
        if kind == 1:
            want = data[pos:pos + PAGE]
            pos += PAGE
            if got != want:
                errors.append(f"pfn {pfn:#x}: " + ("not readable" if got is None else "content differs"))
        elif got is not None:
            errors.append(f"pfn {pfn:#x}: readable but should be excluded")
        checked += 1
    for e in errors[:10]:
        print(e)
    print(f"kdump-libkdumpfile: format {fmt}, release {rel}, {checked} pages checked, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
