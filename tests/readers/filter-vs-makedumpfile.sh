#!/bin/bash
# salvage's page filter (agent/page-filter.cc) gives exactly makedumpfile
# 1.7.2's bitmaps on the lab vmcore: for -d 0,1,2,4,8,16,31 makedumpfile
# writes a kdump file and tests/tools/filter-compare checks its 1st bitmap,
# 2nd bitmap and shared-zero-page set against salvage's present/kept bitmaps
# and the kept pages that are all zero. Any difference fails and is printed
# with the pfn's struct page fields. Also runs on the 5-level-paging vmcore
# when the lab has one.
#   usage: filter-vs-makedumpfile.sh LAB_CACHE_DIR
# FILTER_COMPARE may name a prebuilt filter-compare; otherwise it is built
# in $BUILD (default build).
. "$(dirname "$0")/lib.sh" "$1"

TOOL=${FILTER_COMPARE:-}
if [ -z "$TOOL" ]; then
  B=${BUILD:-build}
  make -s -C "$ROOT" BUILD="$B" "$B/filter-compare" >&2 || { fail "building filter-compare"; finish; exit 1; }
  TOOL=$ROOT/$B/filter-compare
fi

cores=("$VMCORE")
[ -n "${LAB_VMCORE_LA57:-}" ] && [ -s "$LAB_VMCORE_LA57" ] && cores+=("$LAB_VMCORE_LA57")
for core in "${cores[@]}"; do
  name=$(basename "$core")
  for level in 0 1 2 4 8 16 31; do
    out=$WORK/mdf.$level
    # -c keeps the -d 0 file small; the compression does not touch the bitmaps.
    if ! makedumpfile -c -d "$level" "$core" "$out" > "$WORK/mdf.log" 2>&1; then
      fail "$name -d $level: makedumpfile failed: $(tail -2 "$WORK/mdf.log")"
      continue
    fi
    if "$TOOL" "$core" "$out" "$level" > "$WORK/cmp.log" 2>&1; then
      pass "$name -d $level: $(grep '^level' "$WORK/cmp.log")"
    else
      fail "$name -d $level: bitmaps differ"
      sed 's/^/       /' "$WORK/cmp.log"
    fi
    rm -f "$out"
  done
done
finish
