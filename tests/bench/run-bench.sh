#!/bin/bash
# make bench: salvage against makedumpfile on the lab vmcore, side by side in
# one run, and salvage's peak RSS on the lab vmcore and on a sparse 64 GiB
# synthetic vmcore. Writes docs/bench.md. Timings are never pass/fail.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LAB_CACHE=${1:?usage: $0 LAB_CACHE_DIR}
eval "$("$ROOT/tests/vm/lab-paths.sh" "$LAB_CACHE")"
VMCORE=$LAB_DIR/vmcore
SALVAGE=$ROOT/salvage
REPEAT=${REPEAT:-3}
OUTDIR=${BENCH_DIR:-$ROOT/.cache/bench}
mkdir -p "$OUTDIR"
OUT=$ROOT/docs/bench.md
cat /dev/null > "$OUTDIR/rows"
# Warm the cache once so every run reads from memory.
cat "$VMCORE" > /dev/null

# run NAME OUTFILE CMD...: best wall time of REPEAT runs, peak RSS, output size.
run() {
  local name=$1 outfile=$2; shift 2
  local best="" rss=0
  for _ in $(seq "$REPEAT"); do
    rm -f "$outfile"
    /usr/bin/time -f '%e %M' -o "$OUTDIR/time" "$@" > /dev/null 2> "$OUTDIR/stderr" || { cat "$OUTDIR/stderr"; exit 1; }
    read -r t m < "$OUTDIR/time"
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    [ "$m" -gt "$rss" ] && rss=$m
  done
  local size
  size=$(stat -c %s "$outfile")
  echo "$name|$best|$rss|$size" >> "$OUTDIR/rows"
  printf '%-40s %8.2f s %8d KiB %12d bytes\n' "$name" "$best" "$rss" "$size"
}

MDF=$OUTDIR/mdf.out
SLV=$OUTDIR/slv.out
run "makedumpfile -c -d 31"            "$MDF" makedumpfile -c -d 31 "$VMCORE" "$MDF"
run "salvage -c -d 31 -j1"             "$SLV" "$SALVAGE" convert -c -d 31 -j 1 "$VMCORE" "$SLV"
run "salvage -c -d 31 -j2"             "$SLV" "$SALVAGE" convert -c -d 31 -j 2 "$VMCORE" "$SLV"
run "makedumpfile -c -d 0"             "$MDF" makedumpfile -c -d 0 "$VMCORE" "$MDF"
run "salvage -c -d 0 -j1"              "$SLV" "$SALVAGE" convert -c -d 0 -j 1 "$VMCORE" "$SLV"
cp "$SLV" "$OUTDIR/slv-j1"
run "salvage -c -d 0 -j2"              "$SLV" "$SALVAGE" convert -c -d 0 -j 2 "$VMCORE" "$SLV"
cmp -s "$SLV" "$OUTDIR/slv-j1" && IDENTICAL=yes || IDENTICAL=NO
run "makedumpfile -l -d 31"            "$MDF" makedumpfile -l -d 31 "$VMCORE" "$MDF"
run "salvage -z -d 31 -j1"             "$SLV" "$SALVAGE" convert -z -d 31 -j 1 "$VMCORE" "$SLV"
run "makedumpfile -l -d 0"             "$MDF" makedumpfile -l -d 0 "$VMCORE" "$MDF"
run "salvage -z -d 0 -j1"              "$SLV" "$SALVAGE" convert -z -d 0 -j 1 "$VMCORE" "$SLV"
SPARSE=$OUTDIR/sparse-64g.vmcore
[ -e "$SPARSE" ] || python3 "$ROOT/tests/bench/make-sparse-vmcore.py" "$VMCORE" "$SPARSE" 64 > /dev/null
REPEAT=1 run "salvage -c -d 1 sparse 64 GiB (RSS)" "$SLV" "$SALVAGE" convert -c -d 1 -j 1 "$SPARSE" "$SLV"
rm -f "$MDF" "$SLV" "$OUTDIR/slv-j1"

get() { awk -F'|' -v n="$1" -v f="$2" '$1==n{print $f}' "$OUTDIR/rows"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` (tests/bench/run-bench.sh) on $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "lab vmcore of $LAB_KEY ($(( $(stat -c %s "$VMCORE") >> 20 )) MiB ELF, 1 GiB guest)."
  echo "Best of $REPEAT runs. The vmcore is read from the page cache (warm), as /proc/vmcore"
  echo "is read from memory in a capture kernel; a cold disk would time the disk, not the tools."
  echo "makedumpfile $(makedumpfile -v 2>&1 | head -1 | awk '{print $3}'), salvage $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')."
  echo "Numbers from one noisy machine: compare ratios within this run, not across runs."
  echo
  echo "| run | wall s | peak RSS KiB | output bytes |"
  echo "|---|---:|---:|---:|"
  awk -F'|' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$OUTDIR/rows"
  echo
  echo "| comparison | speedup | size ratio (salvage/makedumpfile) |"
  echo "|---|---:|---:|"
  for pair in "-c -d 31 -j1|makedumpfile -c -d 31|salvage -c -d 31 -j1" \
              "-c -d 31 -j2|makedumpfile -c -d 31|salvage -c -d 31 -j2" \
              "-c -d 0 -j1|makedumpfile -c -d 0|salvage -c -d 0 -j1" \
              "-c -d 0 -j2|makedumpfile -c -d 0|salvage -c -d 0 -j2" \
              "salvage -z vs makedumpfile -l, -d 31|makedumpfile -l -d 31|salvage -z -d 31 -j1" \
              "salvage -z vs makedumpfile -l, -d 0|makedumpfile -l -d 0|salvage -z -d 0 -j1"; do
    IFS='|' read -r label m s <<< "$pair"
    echo "| $label | $(ratio "$(get "$m" 2)" "$(get "$s" 2)")x | $(ratio "$(get "$s" 4)" "$(get "$m" 4)") |"
  done
  echo
  echo "Output of \`-c -d 0\` byte-identical for -j1 and -j2: $IDENTICAL."
  echo
  echo "### Per-page compressors on the pages a \`-d 31\` dump keeps"
  echo
  echo "\`tests/bench/page-codec-bench.sh\`: each page compressed as its own zlib stream, as the"
  echo "kdump format stores it; the compression alone, single-threaded, same run as above."
  echo
  "$ROOT/tests/bench/page-codec-bench.sh" "$LAB_CACHE" "$SALVAGE"
  echo
  cat "$ROOT/tests/bench/notes.md"
} > "$OUT"
cat "$OUT"
