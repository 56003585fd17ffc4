#!/bin/bash
# page-codec-bench.sh LAB_CACHE SALVAGE: the per-page deflate options on the
# pages `salvage convert -c -d 31` keeps from the lab vmcore (issue 2's
# `-d 31` 3x target). Pages are read back from that dump with
# python3-libkdumpfile (an independent reader); the all-zero ones, which
# the dump stores as one shared page, are left out. Prints a markdown table.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LAB_CACHE=${1:?usage: $0 LAB_CACHE SALVAGE}
SALVAGE=${2:?usage: $0 LAB_CACHE SALVAGE}
eval "$("$ROOT/tests/vm/lab-paths.sh" "$LAB_CACHE")"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/page-codec.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"$SALVAGE" convert -c -d 31 "$LAB_DIR/vmcore" "$WORK/d31.kdump" 2>/dev/null
/usr/bin/python3 - "$WORK/d31.kdump" "$WORK/pages" <<'PY'
import sys, kdumpfile
k = kdumpfile.kdumpfile(sys.argv[1])
k.attr['addrxlat.ostype'] = 'linux'
zero = bytes(4096)
with open(sys.argv[2], 'wb') as out:
    for pfn in range(int(k.attr['max_pfn'])):
        try:
            b = k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn * 4096, 4096)
        except Exception:
            continue  # excluded from the dump
        if b != zero:
            out.write(b)
PY
cc -O2 -o "$WORK/page-codec-bench" "$ROOT/tests/bench/page-codec-bench.c" -ldeflate -lz
"$WORK/page-codec-bench" "$WORK/pages"
