#!/bin/bash
# net-bench.sh LAB_CACHE SALVAGE [--append FILE]
# Network dump speed on loopback (issue 4), side by side in one run:
#  1. `salvage convert -d 31 -z` of the lab vmcore to a local file, against the
#     same conversion streamed to `salvage collector` over TLS 1.3 (median of 3
#     each, page cache warm); target: streaming >= 90% of the local-file rate.
#     Once single-threaded (-j1) and once on every CPU (-j$(nproc)): on
#     loopback the collector runs on the same CPUs, so with -jN the sender's
#     compression threads and the collector's TLS, checksum and fdatasync
#     work take turns on the cores; -j1 leaves it one, as a collector on
#     another host would have its own. The target is judged at -j1, where
#     what differs is the transport; the -jN row is shown as measured;
#  2. 16 concurrent senders (16 enrolled hosts) to one collector: aggregate
#     throughput and the collector's peak RSS.
# Prints a markdown table; --append FILE also appends it to FILE.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LAB_CACHE=${1:?usage: $0 LAB_CACHE SALVAGE [--append FILE]}
SALVAGE=$(realpath "${2:?usage: $0 LAB_CACHE SALVAGE [--append FILE]}")
APPEND=
[ "${3:-}" = --append ] && APPEND=${4:?--append needs a file}
eval "$("$ROOT/tests/vm/lab-paths.sh" "$LAB_CACHE")"
VMCORE=$LAB_DIR/vmcore
WORK=$(mktemp -d "${TMPDIR:-/tmp}/salvage-net-bench.XXXXXX")
CPID=
trap '[ -n "$CPID" ] && kill "$CPID" 2>/dev/null; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
start_collector() {  # cred-dir root
  rm -f "$WORK/port"
  "$SALVAGE" collector --listen 127.0.0.1:0 --port-file "$WORK/port" --cred-dir "$1" --root "$2" 2>>"$WORK/collector.log" &
  CPID=$!
  for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
  PORT=$(cat "$WORK/port")
}

"$SALVAGE" collector enroll bench --cred-dir "$WORK/cred" --out "$WORK/bench.bundle" 2>/dev/null
start_collector "$WORK/cred" "$WORK/root"
cat "$VMCORE" > /dev/null  # warm the page cache for both sides alike

# side_by_side JOBS: median local and streamed wall times -> LT, NT
side_by_side() {
  local local_t=() net_t=() i t0 t1
  for i in 1 2 3; do
    t0=$(now); "$SALVAGE" convert -d 31 -z -j"$1" "$VMCORE" "$WORK/local.vmcore" 2>/dev/null; t1=$(now)
    local_t+=("$(awk "BEGIN {print $t1 - $t0}")")
    t0=$(now)
    "$SALVAGE" convert -d 31 -z -j"$1" "$VMCORE" --to-collector "127.0.0.1:$PORT" --bundle "$WORK/bench.bundle" \
      --dump-id "run-$1-$i" 2>/dev/null
    t1=$(now)
    net_t+=("$(awk "BEGIN {print $t1 - $t0}")")
  done
  LT=$(median3 "${local_t[@]}") NT=$(median3 "${net_t[@]}")
}
NCPU=$(nproc)
side_by_side 1; lt=$LT nt=$NT
side_by_side "$NCPU"; ltn=$LT ntn=$NT
out_bytes=$(stat -c %s "$WORK/local.vmcore")
for d in "$WORK"/root/bench/2*/; do
  cmp -s "$WORK/local.vmcore" "$d/vmcore" || { echo "net-bench: streamed vmcore $d differs" >&2; exit 1; }
done
in_mib=$(awk "BEGIN {print $(stat -c %s "$VMCORE") / 1048576}")
kill "$CPID"; wait "$CPID" 2>/dev/null || true; CPID=

# 16 concurrent senders.
for i in $(seq -w 1 16); do "$SALVAGE" collector enroll h$i --cred-dir "$WORK/cred16" --out "$WORK/h$i.bundle" 2>/dev/null; done
start_collector "$WORK/cred16" "$WORK/root16"
t0=$(now)
pids=()
for i in $(seq -w 1 16); do
  "$SALVAGE" convert -d 31 -z -j1 "$VMCORE" --to-collector "127.0.0.1:$PORT" --bundle "$WORK/h$i.bundle" --dump-id c 2>/dev/null &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
t1=$(now)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$CPID/status")
t16=$(awk "BEGIN {print $t1 - $t0}")
stored=$(du -sb "$WORK/root16" | cut -f1)

{
  echo
  echo "### Network dump on loopback"
  echo
  echo "\`tests/bench/net-bench.sh .cache/lab ./salvage\` (also run by \`make bench\`), $(nproc) CPUs,"
  echo "lab vmcore ($(printf %.0f "$in_mib") MiB) converted \`-d 31 -z\` ($(( out_bytes / 1048576 )) MiB out); median of 3 runs, page cache warm."
  echo "Streaming: TLS 1.3 to \`salvage collector\` on 127.0.0.1, which fdatasyncs before every ACK. $(date -u +%F):"
  echo
  echo "| | local file | streamed over TLS | streaming / local |"
  echo "|---|---:|---:|---:|"
  for row in "1|$lt|$nt" "$NCPU|$ltn|$ntn"; do
    IFS='|' read -r j l n <<< "$row"
    printf '| -j%s: wall time (s) | %.2f | %.2f | |\n' "$j" "$l" "$n"
    printf '| -j%s: input rate (MiB/s) | %.1f | %.1f | %.0f%%%s |\n' "$j" "$(awk "BEGIN {print $in_mib / $l}")" \
      "$(awk "BEGIN {print $in_mib / $n}")" "$(awk "BEGIN {print 100 * $l / $n}")" \
      "$([ "$j" = 1 ] && awk -v l="$l" -v n="$n" 'BEGIN { exit !(l / n >= 0.9) }' && echo ' (target 90%: met)' || { [ "$j" = 1 ] && echo ' (target 90%: NOT met)'; })"
  done
  echo
  echo "Every streamed vmcore is byte-identical to the local file. At -j$NCPU the collector shares the CPUs with the sender's compression threads (loopback), which the -j1 row leaves it."
  echo
  printf '16 concurrent senders (-j1 each, 16 hosts): %.2f s for 16 dumps, %.1f MiB/s stored, %.1f MiB/s of input converted; collector peak RSS %d MiB.\n' \
    "$t16" "$(awk "BEGIN {print $stored / 1048576 / $t16}")" "$(awk "BEGIN {print 16 * $in_mib / $t16}")" "$((hwm / 1024))"
} > "$WORK/table.md"
cat "$WORK/table.md"
[ -n "$APPEND" ] && cat "$WORK/table.md" >> "$APPEND"
exit 0
