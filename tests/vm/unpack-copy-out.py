#!/usr/bin/env python3
"""unpack-copy-out.py DISK OUTDIR: unpack what labinit's lab.copy_out wrote
to a raw disk ("F <octal mode> <size> <path>\\n" + bytes, "D <mode> 0 <path>\\n",
ending "E\\n") into OUTDIR, and print "<octal mode> <path>" for each entry, so
the caller checks the modes as they were on the guest's file system."""
import os
import sys

disk, out = sys.argv[1], sys.argv[2]
with open(disk, "rb") as f:
    while True:
        line = f.readline()
        if not line or line == b"E\n":
            break
        kind, mode, size, path = line.decode().rstrip("\n").split(" ", 3)
        if ".." in path.split("/") or path.startswith("/"):
            sys.exit(f"unsafe path {path!r}")
        dest = os.path.join(out, path)
        if kind == "D":
            os.makedirs(dest, exist_ok=True)
        elif kind == "F":
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            left = int(size)
            with open(dest, "wb") as o:
                while left:
                    chunk = f.read(min(left, 1 << 20))
                    if not chunk:
                        sys.exit(f"{path}: truncated")
                    o.write(chunk)
                    left -= len(chunk)
        else:
            sys.exit(f"bad record {line!r}")
        print(mode, path)
    else:
        pass
