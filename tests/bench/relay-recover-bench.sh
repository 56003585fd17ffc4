#!/bin/sh
# The agent's recovery time for a 64 MiB flight-recorder region (issue 5):
# `salvage trace extract` on a synthetic region image written by
# tests/tools/make-relayres.cc (the module's protocol, 4 CPUs, 64 KiB
# sub-buffers, every sub-buffer wrapped once), timed with /usr/bin/time for
# wall time and peak RSS. Recovery streams the region (one sub-buffer per
# CPU in memory, docs/formats/relayres.md "Memory"), so peak RSS must not
# grow with the region: over MAX_RSS_KIB (16 MiB) fails the bench.
# Usage: relay-recover-bench.sh SALVAGE MAKE-RELAYRES [SIZE_MIB]
set -eu
salvage=$1 gen=$2 mib=${3:-64}
max_rss_kib=${MAX_RSS_KIB:-16384}
tmp=$(mktemp -d /tmp/relay-recover-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
"$gen" --size $((mib << 20)) --cpus 4 "$tmp/region.img" >/dev/null
best=""
for run in 1 2 3; do
  rm -rf "$tmp/out"
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$salvage" trace extract "$tmp/region.img" --out "$tmp/out" >/dev/null
  read -r secs rss <"$tmp/time"
  echo "run $run: ${secs} s, peak RSS ${rss} KiB"
  if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs best_rss=$rss; fi
done
records=$("$salvage" trace check "$tmp/region.img" | sed -n 's/^records: *\([0-9]*\) retained/\1/p')
echo "relay-recover: ${mib} MiB region, ${records} records of 4 CPUs: best ${best} s (peak RSS ${best_rss} KiB)"
if [ "$best_rss" -gt "$max_rss_kib" ]; then
  echo "relay-recover: FAIL: peak RSS ${best_rss} KiB over ${max_rss_kib} KiB for a ${mib} MiB region" >&2
  exit 1
fi
