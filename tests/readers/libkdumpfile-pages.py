#!/usr/bin/python3
"""python3-libkdumpfile reads back salvage's kdump (every codec) and ELF output.

Every page libkdumpfile returns must be byte-identical to the same page of the
source vmcore, and the set of pages it can read must be exactly the set it can
read from makedumpfile's output at the same dump level: an independent oracle
for both the filter and the writer. Run with Debian's /usr/bin/python3.
"""
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

import kdumpfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGE = 4096


def lab_paths(cache):
    out = subprocess.run([os.path.join(ROOT, "tests/vm/lab-paths.sh"), cache],
                         check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        env[k] = v.strip("'")
    return env


def ram_pfns(vmcore):
    """pfns fully covered by a direct-map PT_LOAD, from the raw ELF headers."""
    with open(vmcore, "rb") as f:
        eh = f.read(64)
        phoff, = struct.unpack_from("<Q", eh, 32)
        phnum, = struct.unpack_from("<H", eh, 56)
        f.seek(phoff)
        loads = []
        for _ in range(phnum):
            p_type, _, off, vaddr, paddr, filesz, memsz, _ = struct.unpack("<IIQQQQQQ", f.read(56))
            if p_type == 1 and vaddr < 0xffffffff80000000:
                loads.append((paddr, off, filesz))
    pages = {}
    for paddr, off, filesz in loads:
        first = (paddr + PAGE - 1) // PAGE
        last = (paddr + filesz) // PAGE
        for pfn in range(first, last):
            pages[pfn] = off + pfn * PAGE - paddr
    return pages


def readable(path, pfns, digest=False):
    """pfn -> page bytes (or their md5 with digest=True) for every page libkdumpfile can read."""
    k = kdumpfile.kdumpfile(path)
    k.attr["addrxlat.ostype"] = "linux"
    got = {}
    for pfn in pfns:
        try:
            data = k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn * PAGE, PAGE)
        except kdumpfile.exceptions.NoDataException:
            continue
        got[pfn] = hashlib.md5(data).digest() if digest else data
    return k, got


ZERO_MD5 = hashlib.md5(bytes(PAGE)).digest()


def main():
    env = lab_paths(sys.argv[1])
    vmcore = os.path.join(env["LAB_DIR"], "vmcore")
    salvage = os.environ.get("SALVAGE", os.path.join(ROOT, "salvage"))
    pages = ram_pfns(vmcore)
    pfns = sorted(pages)
    src = open(vmcore, "rb")
    fails = passes = 0
    work = tempfile.mkdtemp(prefix="salvage-lkdf.")
    oracle = {}
    variants = [("kdump-zlib", 31, ["-c"]), ("kdump-lzo", 31, ["-l"]), ("kdump-snappy", 31, ["-p"]),
                ("kdump-zstd", 31, ["-z"]), ("kdump-raw", 31, []), ("elf", 31, ["-E"]),
                ("kdump-zlib-d0", 0, ["-c"]), ("elf-d1", 1, ["-E"])]
    for name, level, flags in variants:
        out = os.path.join(work, name)
        r = subprocess.run([salvage, "convert", "-d", str(level)] + flags + [vmcore, out],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"  FAIL {name}: convert: {r.stderr.strip().splitlines()[-1:]}")
            fails += 1
            continue
        k, got = readable(out, pfns)
        fmt = k.attr["file.format"]
        key = (level, "elf" if "-E" in flags else "kdump")
        if key not in oracle:
            mdf = os.path.join(work, "mdf")
            subprocess.run(["makedumpfile", "-d", str(level)] + (["-E"] if "-E" in flags else []) + [vmcore, mdf],
                           check=True, capture_output=True)
            oracle[key] = readable(mdf, pfns, digest=True)[1]
            os.unlink(mdf)
        bad = 0
        for pfn, data in got.items():
            src.seek(pages[pfn])
            if src.read(PAGE) == data:
                continue
            # An excluded page in an ELF PT_LOAD's p_memsz tail reads as zeros,
            # exactly as in makedumpfile -E's output: the format says so.
            if hashlib.md5(data).digest() == ZERO_MD5 and oracle[key].get(pfn) == ZERO_MD5:
                continue
            bad += 1
            if bad <= 3:
                print(f"  {name}: pfn {pfn:#x} differs from the source vmcore")
        want = set(oracle[key])
        have = set(got)
        if bad or have != want:
            fails += 1
            print(f"  FAIL {name} ({fmt}): {bad} pages differ; readable {len(have)} vs makedumpfile {len(want)}; "
                  f"only salvage {sorted(have - want)[:5]} only makedumpfile {sorted(want - have)[:5]}")
        else:
            passes += 1
            print(f"  ok   {name} ({fmt}): {len(have)} readable pages identical to the source, same set as makedumpfile -d {level}")
        os.unlink(out)
    os.rmdir(work)
    print(f"libkdumpfile-pages: {passes} passed, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
